"""Softmax, log-softmax and the two losses the examples train with (spec/tensor.md, TENSOR-8, TENSOR-13).

Each is a single graph node with a closed-form VJP, evaluated stably: softmax subtracts the
row maximum before exponentiating, and log-softmax is x - max - log(sum(exp(x - max))).
"""

from __future__ import annotations

import math
import numbers
import operator

from .. import autograd
from ..shapes import broadcast_index, normalize_axis, reduced_shape
from ..tensor import Tensor
from ..values import shown
from . import ieee
from .common import require_floating
from .reduce import _groups

__all__ = ["softmax", "log_softmax", "mse_loss", "cross_entropy"]

_REDUCTIONS = ("mean", "sum", "none")


def _rows_along(x: Tensor, axis: int, op: str) -> tuple[tuple[tuple[int, ...], ...], list[list]]:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    require_floating(x, op)
    if x.ndim == 0:
        raise ValueError(f"{op}: needs at least one dimension, got shape ()")
    groups = _groups(x.shape, (normalize_axis(axis, x.ndim, op),))
    return groups, [[x.data[i] for i in g] for g in groups]


def _log_softmax_row(row: list) -> list:
    """x - max(x) - log sum exp(x - max(x)): no overflow; an infinite maximum gives NaN, as in PyTorch."""
    if not row:
        return []
    top = max(row)
    shifted = [v - top for v in row]
    log_norm = ieee.log(ieee.fsum(ieee.map_ieee(math.exp, ieee.exp, shifted)))
    return [v - log_norm for v in shifted]


def _scatter_rows(groups: tuple, rows: list[list], size: int) -> list:
    out = [0.0] * size
    for group, row in zip(groups, rows):
        for i, v in zip(group, row):
            out[i] = v
    return out


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log softmax(x)_i = x_i - log sum_j exp(x_j), along ``axis``."""
    groups, rows = _rows_along(x, axis, "log_softmax")
    log_p = [_log_softmax_row(r) for r in rows]
    out = Tensor.from_flat(_scatter_rows(groups, log_p, x.size), x.shape, x.dtype)
    p = [[math.exp(v) for v in r] for r in log_p]

    def log_softmax_vjp(g: list) -> tuple[list]:
        # dx_i = g_i - p_i * sum_j g_j
        rows_g = [[g[i] for i in group] for group in groups]
        rows_dx = [[gi - pi * sg for gi, pi in zip(rg, rp)] for rg, rp, sg in zip(rows_g, p, ieee.fsums(rows_g))]
        return (_scatter_rows(groups, rows_dx, x.size),)

    return autograd.attach(out, (x,), log_softmax_vjp)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x), along ``axis``."""
    groups, rows = _rows_along(x, axis, "softmax")
    p = [[math.exp(v) for v in _log_softmax_row(r)] for r in rows]
    out = Tensor.from_flat(_scatter_rows(groups, p, x.size), x.shape, x.dtype)

    def softmax_vjp(g: list) -> tuple[list]:
        # dx_i = p_i (g_i - sum_j g_j p_j)
        rows_g = [[g[i] for i in group] for group in groups]
        dots = ieee.fsums([list(map(operator.mul, rg, rp)) for rg, rp in zip(rows_g, p)])
        rows_dx = [[pi * (gi - d) for gi, pi in zip(rg, rp)] for rg, rp, d in zip(rows_g, p, dots)]
        return (_scatter_rows(groups, rows_dx, x.size),)

    return autograd.attach(out, (x,), softmax_vjp)


def _check_reduction(reduction: str, op: str) -> None:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {shown(reduction)}")


def _reduce_loss(losses: list, shape: tuple, dtype, reduction: str) -> tuple[Tensor, float]:
    """The loss tensor and the weight d(loss)/d(loss_i) of each element under ``reduction``."""
    if reduction == "none":
        return Tensor.from_flat(losses, shape, dtype), 1.0
    total = ieee.fsum(losses)
    if reduction == "sum":
        return Tensor.from_flat([total], (), dtype), 1.0
    n = len(losses)
    return Tensor.from_flat([total / n if n else math.nan], (), dtype), 1.0 / n if n else math.nan


def mse_loss(prediction: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error, (1/n) sum_i (prediction_i - target_i)^2."""
    _check_reduction(reduction, "mse_loss")
    for name, t in (("prediction", prediction), ("target", target)):
        if not isinstance(t, Tensor):
            raise TypeError(f"mse_loss: {name} must be a Tensor, got {type(t).__name__}")
        require_floating(t, "mse_loss")
    if prediction.shape != target.shape:
        raise ValueError(f"mse_loss: prediction shape {prediction.shape} and target shape {target.shape} differ")
    diff = list(map(operator.sub, prediction.data, target.data))
    out, weight = _reduce_loss([d * d for d in diff], prediction.shape, prediction.dtype, reduction)

    def mse_vjp(g: list) -> tuple[list, list]:
        scale = [2.0 * weight * g[0]] * len(diff) if reduction != "none" else [2.0 * gi for gi in g]
        g_prediction = list(map(operator.mul, scale, diff))
        return g_prediction, [-v for v in g_prediction]

    return autograd.attach(out, (prediction, target), mse_vjp)


def _class_probabilities(target: Tensor | list, logits_shape: tuple, op: str) -> list:
    """The target as flat per-row class probabilities: given as indices (shape[:-1]) or probabilities."""
    classes = logits_shape[-1]
    if isinstance(target, Tensor) and target.shape == logits_shape:
        return list(target.data)
    labels = target.data if isinstance(target, Tensor) else target
    shape = target.shape if isinstance(target, Tensor) else (len(labels),) if isinstance(labels, list) else None
    if shape != logits_shape[:-1]:
        raise ValueError(
            f"{op}: target must hold class indices of shape {logits_shape[:-1]} or probabilities of shape"
            f" {logits_shape}, got {shape}"
        )
    probs = [0.0] * (len(labels) * classes)
    for r, label in enumerate(labels):
        index = _class_index(label, classes)
        if index is None:
            raise ValueError(f"{op}: class index {shown(label)} at position {r} is not an integer in [0, {classes})")
        probs[r * classes + index] = 1.0
    return probs


def _class_index(label: object, classes: int) -> int | None:
    """``label`` as a class index in [0, classes): an int, or a real number of integral value (2.0);
    None for anything else (a bool, NaN, an infinity, 2.5, a string)."""
    if isinstance(label, bool) or not isinstance(label, numbers.Real):
        return None
    try:
        index = int(label)
    except (ValueError, OverflowError):  # NaN, infinities
        return None
    return index if index == label and 0 <= index < classes else None


def cross_entropy(logits: Tensor, target: Tensor | list, reduction: str = "mean") -> Tensor:
    """-sum_c t_c log softmax(logits)_c per row, the class axis last.

    ``target`` holds class indices (shape ``logits.shape[:-1]``, no gradient) or class
    probabilities (a tensor of the shape of ``logits``, differentiable).
    """
    _check_reduction(reduction, "cross_entropy")
    if not isinstance(logits, Tensor):
        raise TypeError(f"cross_entropy: logits must be a Tensor, got {type(logits).__name__}")
    require_floating(logits, "cross_entropy")
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits need a class axis, got shape ()")
    t = _class_probabilities(target, logits.shape, "cross_entropy")
    c = logits.shape[-1]
    rows = range(0, logits.size, c)
    log_p = [v for r in rows for v in _log_softmax_row(logits.data[r : r + c])]
    losses = [-s for s in ieee.fsums([[ti * lp for ti, lp in zip(t[r : r + c], log_p[r : r + c]) if ti] for r in rows])]
    out, weight = _reduce_loss(losses, logits.shape[:-1], logits.dtype, reduction)
    row_of = broadcast_index(reduced_shape(logits.shape, (logits.ndim - 1,)), logits.shape)

    def cross_entropy_vjp(g: list) -> tuple[list, list]:
        # d loss_r / d logit_rc = (sum_c t_rc) softmax_rc - t_rc;  d loss_r / d t_rc = -log softmax_rc
        row_g = [weight * g[0]] * len(losses) if reduction != "none" else g
        mass = ieee.fsums([t[r : r + c] for r in range(0, logits.size, c)])
        g_logits = [row_g[o] * (mass[o] * math.exp(lp) - ti) for o, lp, ti in zip(row_of, log_p, t)]
        return g_logits, [-row_g[o] * lp for o, lp in zip(row_of, log_p)]

    soft = isinstance(target, Tensor) and target.shape == logits.shape
    return autograd.attach(out, (logits, target) if soft else (logits,), cross_entropy_vjp)
