"""Monte Carlo dropout: a network's predictive mean and variance with dropout left on at
prediction time (Gal and Ghahramani 2016; spec/ensemble.md, ENSEMBLE-7 to ENSEMBLE-10).

With S forward passes y_1, ..., y_S, each with fresh dropout masks,

    mean      = (1/S) sum_s y_s
    variance  = (1/S) sum_s (y_s - mean)^2,

elementwise: the Monte Carlo estimates of the ensemble mean E_m[y] and variance Var_m[y]
(the predictive variance of Gal and Ghahramani without their observation noise 1/tau).

Which modules drop: those whose randomness is a ``generator`` (the dropout modules) run in training
mode, every other module in inference mode (a normalisation layer keeps its running statistics,
ENSEMBLE-10).

How the seed reaches the layers: a module's randomness is the Generator in its ``generator``
attribute. For the call, the j-th such module in ``model.modules()`` order draws from
``Generator(seed).fold_in(j)``, and each pass advances it by one draw; afterwards every module
gets its own generator back, in the state it was in. So the prediction is a function of
(model, x, samples, seed) alone, and it leaves the model's own random streams untouched.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ..autograd import no_grad
from ..random import Generator
from ..tensor import Tensor
from ..values import shown
from .modes import own_flags
from .module import Module

__all__ = ["MCPrediction", "mc_predict", "mc_moments"]


class MCPrediction(NamedTuple):
    """The predictive mean and variance, float64 tensors of the shape of the model's output."""

    mean: Tensor
    variance: Tensor


def mc_predict(model: Module, x: Tensor, samples: int, seed: int) -> MCPrediction:
    """Mean and variance of ``samples`` forward passes of ``model`` on ``x`` with its dropout on.

    The dropout modules (those whose randomness is a ``generator``) run in training mode and every
    other module in inference mode, whatever the modules' flags or the learning phase: a
    normalisation layer uses its running statistics and does not update them (ENSEMBLE-10). Each
    pass is ``model(x)`` with the flags set so, under ``own_flags`` (MODES-5, step 4); afterwards
    every flag is what it was. No autograd graph is recorded.
    """
    if not isinstance(model, Module):
        raise TypeError(f"mc_predict: model must be a refdropout.nn.Module, got {type(model).__name__}")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"mc_predict: samples must be an int >= 1, got {shown(samples)}")
    root = Generator(seed)
    random = [m for m in model.modules() if isinstance(getattr(m, "generator", None), Generator)]
    own = [m.generator for m in random]
    flags = [(m, m.training) for m in model.modules()]
    try:
        for j, module in enumerate(random):
            module.generator = root.fold_in(j)
        dropping = {id(m) for m in random}
        for module, _ in flags:
            object.__setattr__(module, "training", id(module) in dropping)
        with no_grad(), own_flags():
            passes = [model(x) for _ in range(samples)]
    finally:
        for module, generator in zip(random, own):
            module.generator = generator
        for module, flag in flags:
            object.__setattr__(module, "training", flag)
    return mc_moments(passes)


def mc_moments(passes: list[Tensor]) -> MCPrediction:
    """Elementwise mean and variance (1/S) sum (y_s - mean)^2, computed about the first pass:
    with d_s = y_s - y_1, mean = y_1 + (1/S) sum d_s, so that S equal passes give their own
    value and a variance of exactly 0 (a plain fsum(y)/S would not: 0.1 * 3 / 3 != 0.1)."""
    shape = passes[0].shape
    if any(not isinstance(y, Tensor) or y.shape != shape for y in passes):
        raise TypeError(f"mc_predict: every pass must return a Tensor of one shape, the first was {shape}")
    count = len(passes)
    means, variances = [], []
    for values in zip(*(y.data for y in passes)):
        shifts = [v - values[0] for v in values]
        shift_mean = math.fsum(shifts) / count
        means.append(values[0] + shift_mean)
        variances.append(math.fsum((d - shift_mean) ** 2 for d in shifts) / count)
    return MCPrediction(Tensor.from_flat(means, shape), Tensor.from_flat(variances, shape))
