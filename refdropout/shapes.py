"""Shapes, row-major layout and NumPy broadcasting (spec/tensor.md, TENSOR-1 to TENSOR-3).

A tensor of shape (d0, ..., d(k-1)) stores element (i0, ..., i(k-1)) at flat position
sum_j i_j * s_j with row-major strides s_j = d(j+1) * ... * d(k-1). The index maps below
depend only on shapes, so they are computed once per shape and cached (a broadcast map only up to
CACHED_POSITIONS positions, so that no map of millions is kept).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from itertools import product

from .values import shown

__all__ = [
    "Shape",
    "numel",
    "strides",
    "broadcast_shapes",
    "broadcast_index",
    "normalize_axis",
    "normalize_axes",
    "reduced_shape",
    "permute_index",
]

Shape = tuple[int, ...]


def numel(shape: Shape) -> int:
    return math.prod(shape)


def strides(shape: Shape) -> Shape:
    """Row-major strides, in elements (TENSOR-1)."""
    out = [1] * len(shape)
    for j in range(len(shape) - 2, -1, -1):
        out[j] = out[j + 1] * shape[j + 1]
    return tuple(out)


def broadcast_shapes(*shapes: Shape, op: str = "broadcast") -> Shape:
    """NumPy broadcasting (TENSOR-3): align shapes at the right; sizes agree or one is 1."""
    ndim = max(len(s) for s in shapes)
    out = []
    for j in range(-ndim, 0):
        sizes = {s[j] for s in shapes if len(s) >= -j} - {1}
        if len(sizes) > 1:
            listed = " and ".join(str(s) for s in shapes)
            raise ValueError(f"{op}: shapes {listed} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# maps of more positions than this are made at each call, not cached: a cached map of n positions holds
# a tuple of n ints (about 40 n bytes), and a few of millions would be held for the rest of a run
CACHED_POSITIONS = 1 << 16


def broadcast_index(src: Shape, dst: Shape) -> Sequence[int]:
    """For each flat position of ``dst``, the flat position of ``src`` broadcast to it: ``range(n)``
    when ``src`` is ``dst`` (nothing is broadcast); a map of at most CACHED_POSITIONS positions is
    computed once and cached."""
    if src == dst:
        return range(numel(dst))
    if numel(dst) > CACHED_POSITIONS:
        return _broadcast_index(src, dst)
    return _cached_broadcast_index(src, dst)


def _broadcast_index(src: Shape, dst: Shape) -> tuple[int, ...]:
    lead = len(dst) - len(src)
    src_strides = strides(src)
    # a broadcast axis (size 1 in src, or absent) contributes stride 0
    axis_strides = [0] * lead + [0 if n == 1 else s for n, s in zip(src, src_strides)]
    index = [0]
    for size, stride in zip(dst, axis_strides):
        index = [base + i * stride for base in index for i in range(size)]
    return tuple(index)


_cached_broadcast_index = lru_cache(maxsize=4096)(_broadcast_index)


def normalize_axis(axis: int, ndim: int, op: str, name: str = "axis") -> int:
    """``axis`` of a tensor of ``ndim`` axes counted from 0 (negative: from the end); ``name`` is
    how the caller's argument is called in a message."""
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{op}: {name} must be an int, got {shown(axis)}")
    if not -ndim <= axis < ndim:
        allowed = f"allowed [{-ndim}, {ndim - 1}]" if ndim else "a 0-d tensor has no axis"
        given = "" if name == "axis" else f" ({name})"
        raise ValueError(f"{op}: axis {shown(axis)}{given} is out of range for a tensor of {ndim} dimensions;"
                         f" {allowed}")
    return axis % ndim


def normalize_axes(axis: int | tuple[int, ...] | None, ndim: int, op: str) -> tuple[int, ...]:
    """Axes of a reduction, sorted; None means all axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    out = tuple(sorted(normalize_axis(a, ndim, op) for a in axes))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {shown(axis)}")
    return out


def reduced_shape(shape: Shape, axes: tuple[int, ...]) -> Shape:
    """The shape of a reduction over ``axes`` with keepdims=True."""
    return tuple(1 if j in axes else n for j, n in enumerate(shape))


@lru_cache(maxsize=1024)
def permute_index(shape: Shape, axes: tuple[int, ...]) -> tuple[int, ...]:
    """For each flat position of the permuted tensor, the flat position it reads."""
    src_strides = strides(shape)
    new_strides = [src_strides[a] for a in axes]
    return tuple(
        sum(i * s for i, s in zip(idx, new_strides)) for idx in product(*(range(shape[a]) for a in axes))
    )
