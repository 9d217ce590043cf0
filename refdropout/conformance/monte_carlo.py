"""Checks of spec/ensemble.md for Monte Carlo dropout: an implementation's predictive mean and
variance (capability ``mc_predict``) against the exact ensemble of a small network, and which layers
a prediction switches (ENSEMBLE-10, capability ``mc_predict_normalised``).

The network is the table's 6-6-3 tanh network whose inputs and hidden units are both dropped
(ENSEMBLE-5): 12 droppable units, 4,096 sub-networks, enumerated by ``refdropout.theory``. For
the probability f_k of class k the enumeration gives the exact ensemble mean A_k = E_m[f_k], the
variance sigma_k^2, the fourth central moment mu4_k and the range c_k = max_m |f_k(m) - A_k|.

The statistical decisions use Bernstein's inequality (stats.bernstein_mean_test and
stats.bernstein_variance_test), which holds at every number of passes S with no normal
approximation.
"""

from __future__ import annotations

import math
from dataclasses import replace
from functools import cache
from typing import NamedTuple

from .. import ops
from ..contract import Implementation, policies_of
from ..random import Generator
from ..stats import bernstein_mean_test, bernstein_variance_test
from ..tensor import Tensor
from ..theory import TABLE_NETWORKS, Distribution, Network, ensemble_outputs, table_input
from .kit import child_seed
from .registry import Context, check
from .verdict import Verdict

__all__ = ["Moments", "MC_NETWORK", "MC_RATES", "MC_PASSES", "ZERO_RATE_TOLERANCE", "NORM_MEAN", "NORM_VAR",
           "NORM_EPS", "inference_network"]

MC_NETWORK = TABLE_NETWORKS["6-6-3, tanh, inputs and hidden dropped"]
MC_RATES = (0.2, 0.5)
MC_PASSES = (64, 1024)  # S: 16 times the passes, a radius about 4 times smaller
CLASSES = 3
ZERO_RATE_PASSES, ZERO_RATE_INPUTS = 16, 4
ZERO_RATE_TOLERANCE = 1e-6  # |mean - s| and sqrt(variance) at p = 0: float32 rounding, averaged


class Moments(NamedTuple):
    """One class probability f over the ensemble: A = E_m[f], sigma2 = Var_m[f], mu4 = E_m[(f - A)^4],
    spread = max_m |f(m) - A|."""

    mean: float
    sigma2: float
    mu4: float
    spread: float


@cache
def _exact(p: float, scaling: str) -> tuple[Moments, ...]:
    """The moments of every class probability at the table input, from the enumeration: A_k
    exact and rounded once, the central moments summed in float64 (math.fsum) about it."""
    x = table_input(MC_NETWORK)
    log_outputs, probabilities = ensemble_outputs(MC_NETWORK, x, p, scaling)
    weights = [float(w) for w in probabilities]
    moments = []
    for k in range(CLASSES):
        f = Distribution.of(probabilities, [math.exp(v) for v in log_outputs.data[k::CLASSES]])
        a = float(f.mean)
        deviations = [float(v) - a for v in f.values]
        sigma2, mu4 = (math.fsum(w * d**order for w, d in zip(weights, deviations)) for order in (2, 4))
        moments.append(Moments(a, sigma2, mu4, max(abs(d) for d in deviations)))
    return tuple(moments)


@check("ENSEMBLE-8", needs=("mc_predict",))
def check_zero_rate_has_zero_variance(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-8: at p = 0 the variance is 0 and the mean the network's output, up to rounding."""
    x = Generator(ctx.seed).uniform((ZERO_RATE_INPUTS, 6)) * 4.0 - 2.0
    mean, variance = impl.mc_predict(MC_NETWORK, 0.0, x, ZERO_RATE_PASSES, seed=ctx.seed)
    output = ops.softmax(MC_NETWORK.logits(x)).data
    if mean.shape != x.shape[:1] + (CLASSES,) or variance.shape != mean.shape:
        return ctx.verdict("ENSEMBLE-8", [f"mean of shape {mean.shape}, variance of shape {variance.shape}, "
                                          f"expected {(ZERO_RATE_INPUTS, CLASSES)}"])
    failures = []
    for i, (m, v, s) in enumerate(zip(mean.data, variance.data, output)):
        if not 0.0 <= v <= ZERO_RATE_TOLERANCE**2:
            failures.append(f"element {i}: variance {v!r} at p = 0, expected 0")
        if not abs(m - s) <= ZERO_RATE_TOLERANCE:
            failures.append(f"element {i}: mean {m!r} at p = 0, the network's output is {s!r}")
    return ctx.verdict("ENSEMBLE-8", failures[:3])


@check("ENSEMBLE-9", needs=("mc_predict",), decisions=len(MC_RATES) * CLASSES * (len(MC_PASSES) + 1))
def check_mc_converges_to_the_ensemble(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-9: the mean near A_k at every S, the variance near sigma_k^2 at the largest S (Bernstein)."""
    x = table_input(MC_NETWORK).reshape(1, 6)
    scaling = policies_of(impl).scaling
    failures = []
    for i, p in enumerate(MC_RATES):
        for j, samples in enumerate(MC_PASSES):
            seed = child_seed(ctx.seed, len(MC_PASSES) * i + j)
            mean, variance = impl.mc_predict(MC_NETWORK, p, x, samples, seed=seed)
            for k, f in enumerate(_exact(p, scaling)):
                case = f"p = {p}, S = {samples}, class {k}"
                m = mean.data[k]
                decision = bernstein_mean_test(m, samples, f.mean, f.sigma2, f.spread, alpha=ctx.alpha)
                if ctx.decide(f"ENSEMBLE-9 mean, {case}", decision):
                    failures.append(f"{case}: mean {m:.5f}, ensemble mean {f.mean:.5f}")
                if samples == MC_PASSES[-1]:
                    v = variance.data[k]
                    decision = bernstein_variance_test(v, samples, f.sigma2, f.mu4, f.spread, alpha=ctx.alpha)
                    if ctx.decide(f"ENSEMBLE-9 variance, {case}", decision):
                        failures.append(f"{case}: variance {v:.5f}, ensemble variance {f.sigma2:.5f}")
    return ctx.verdict("ENSEMBLE-9", failures)


# ENSEMBLE-10: a batch normalisation of the first layer's pre-activations, running statistics no batch has
NORM_MEAN = tuple((c - 2.5) / 2 for c in range(6))
NORM_VAR = tuple((c + 1) / 4 for c in range(6))
NORM_EPS = 1e-3
NORM_PASSES = {0.0: 4, 0.5: 16}  # p -> S: at p = 0 the inference output; at 0.5 the passes must differ
STATISTICS_TOLERANCE = 1e-12


def inference_network(network: Network, mean: tuple[float, ...], var: tuple[float, ...], eps: float) -> Network:
    """``network`` with its first layer's pre-activations normalised by the running statistics, folded into
    that layer: W_c / sqrt(var_c + eps) and (b_c - mean_c) / sqrt(var_c + eps), as inference runs it."""
    first = network.layers[0]
    rows, cols = first.weight.shape
    scale = [1.0 / math.sqrt(v + eps) for v in var]
    weight = Tensor.from_flat([w * scale[i // cols] for i, w in enumerate(first.weight.data)], (rows, cols))
    bias = Tensor.from_flat([(b - m) * s for b, m, s in zip(first.bias.data, mean, scale)], (rows,))
    return Network((replace(first, weight=weight, bias=bias), *network.layers[1:]))


def _statistics_moved(case: str, got: object, given: tuple[float, ...], name: str) -> list[str]:
    values = list(got)
    if len(values) == len(given) and all(abs(g - v) <= STATISTICS_TOLERANCE for g, v in zip(values, given)):
        return []
    return [f"{case}: the running {name} became {[round(v, 6) for v in values]}, it was {list(given)}: the "
            f"normalisation ran in training mode"]


@check("ENSEMBLE-10", needs=("mc_predict_normalised",))
def check_mc_switches_on_the_dropout_layers_only(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-10: at p = 0 the prediction is the inference output (running statistics) with variance 0,
    at p = 0.5 the passes differ, and the running statistics never move."""
    x = Generator(ctx.seed).uniform((ZERO_RATE_INPUTS, 6)) * 4.0 - 2.0
    output = ops.softmax(inference_network(MC_NETWORK, NORM_MEAN, NORM_VAR, NORM_EPS).logits(x)).data
    failures: list[str] = []
    for p, samples in NORM_PASSES.items():
        case = f"p = {p}, S = {samples}"
        mean, variance, running_mean, running_var = impl.mc_predict_normalised(
            MC_NETWORK, p, x, samples, seed=ctx.seed, running_mean=list(NORM_MEAN), running_var=list(NORM_VAR))
        failures += _statistics_moved(case, running_mean, NORM_MEAN, "mean")
        failures += _statistics_moved(case, running_var, NORM_VAR, "variance")
        if p == 0.0:
            wrong = [i for i, (m, v, s) in enumerate(zip(mean.data, variance.data, output))
                     if not (abs(m - s) <= ZERO_RATE_TOLERANCE and 0.0 <= v <= ZERO_RATE_TOLERANCE**2)]
            if wrong:
                i = wrong[0]
                failures.append(f"{case}: element {i}: mean {mean.data[i]!r}, variance {variance.data[i]!r}; the "
                                f"network in inference mode gives {output[i]!r} ({len(wrong)} of {len(output)} "
                                f"elements differ)")
        elif not any(v > 0.0 for v in variance.data):
            failures.append(f"{case}: every variance is 0: the passes did not drop (dropout switched off)")
    return ctx.verdict("ENSEMBLE-10", failures)
