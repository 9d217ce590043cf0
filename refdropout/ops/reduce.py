"""Reductions over axes: sum, mean, max (spec/tensor.md, TENSOR-8, TENSOR-10, TENSOR-11).

Sums use ``math.fsum``: correctly rounded, so a reduction gives the same bits on every
Python version and for every order of the summands.
"""

from __future__ import annotations

import builtins
import math
from functools import lru_cache

from .. import autograd
from ..shapes import Shape, broadcast_index, normalize_axes, numel, reduced_shape
from ..tensor import Tensor
from ..values import shown
from . import ieee
from .common import require_floating

__all__ = ["sum", "mean", "max"]


@lru_cache(maxsize=1024)
def _groups(shape: Shape, axes: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """For each output position (keepdims layout), the input positions reduced into it."""
    kept = reduced_shape(shape, axes)
    groups: list[list[int]] = [[] for _ in range(numel(kept))]
    for i, o in enumerate(broadcast_index(kept, shape)):
        groups[o].append(i)
    return tuple(tuple(g) for g in groups)


def _reduce(name: str, x: Tensor, axis, keepdims: bool) -> tuple[Shape, Shape, tuple, list[list]]:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    require_floating(x, name)
    if not isinstance(keepdims, bool):
        raise TypeError(f"{name}: keepdims must be a bool, got {shown(keepdims)}")
    axes = normalize_axes(axis, x.ndim, name)
    kept = reduced_shape(x.shape, axes)
    out_shape = kept if keepdims else tuple(n for j, n in enumerate(x.shape) if j not in axes)
    groups = _groups(x.shape, axes)
    data = x.data
    return kept, out_shape, broadcast_index(kept, x.shape), [[data[i] for i in g] for g in groups]


def sum(x: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    _, out_shape, spread, values = _reduce("sum", x, axis, keepdims)
    out = Tensor.from_flat(ieee.fsums(values), out_shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: ([g[o] for o in spread],))


def mean(x: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    _, out_shape, spread, values = _reduce("mean", x, axis, keepdims)
    count = x.size // builtins.max(len(values), 1)
    out = Tensor.from_flat([s / count if count else math.nan for s in ieee.fsums(values)], out_shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: ([g[o] / count for o in spread],))


def _group_max(values: list) -> float:
    """The largest value; NaN if any value is NaN (NumPy's ``max``)."""
    return math.nan if any(v != v for v in values) else builtins.max(values)


def _is_argmax(v: float, m: float) -> bool:
    return v == m or (m != m and v != v)


def max(x: Tensor, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Tensor:
    """Largest value over ``axis``; the gradient is shared equally among tied maxima (TENSOR-10)."""
    _, out_shape, spread, values = _reduce("max", x, axis, keepdims)
    if any(not v for v in values):
        raise ValueError(f"max: cannot reduce a zero-size axis of shape {x.shape}: max has no identity")
    maxima = [_group_max(v) for v in values]
    ties = [builtins.sum(_is_argmax(v, m) for v in group) for group, m in zip(values, maxima)]
    xd = x.data
    out = Tensor.from_flat(maxima, out_shape, x.dtype)

    def max_vjp(g: list) -> tuple[list]:
        return ([g[o] / ties[o] if _is_argmax(v, maxima[o]) else 0.0 for v, o in zip(xd, spread)],)

    return autograd.attach(out, (x,), max_vjp)
