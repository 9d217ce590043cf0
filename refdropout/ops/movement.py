"""Ops that move values without arithmetic: reshape, permute, broadcast, join, index, astype.

Each gathers the input's flat data through an index map that depends only on shapes
(spec/tensor.md, TENSOR-1 to TENSOR-4); its VJP scatters the gradient back through the
same map.
"""

from __future__ import annotations

import math
from functools import lru_cache

from .. import autograd
from ..dtypes import DType, get_dtype, promote
from ..shapes import Shape, broadcast_index, normalize_axis, numel, permute_index, strides
from ..tensor import Tensor
from ..values import shown
from .common import unbroadcast

__all__ = ["reshape", "permute", "transpose", "broadcast_to", "expand", "concatenate", "stack", "getitem", "astype"]


def _check_tensor(x: object, op: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def _check_shape(shape: object, op: str) -> Shape:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not all(isinstance(n, int) and not isinstance(n, bool) for n in shape):
        raise TypeError(f"{op}: shape must be a tuple of ints, got {shown(shape)}")
    return tuple(shape)


def _scatter(g: list, index: tuple[int, ...], size: int) -> list:
    """The VJP of a gather ``y[j] = x[index[j]]`` with distinct indices."""
    out = [0.0] * size
    for j, i in enumerate(index):
        out[i] = g[j]
    return out


def _gather(x: Tensor, index: tuple[int, ...], shape: Shape) -> Tensor:
    data = x.data
    out = Tensor.from_flat([data[i] for i in index], shape, x.dtype)
    size = x.size
    return autograd.attach(out, (x,), lambda g: (_scatter(g, index, size),))


def reshape(x: Tensor, shape: Shape | int) -> Tensor:
    """Same values in the same row-major order under a new shape; one entry may be -1 (inferred)."""
    _check_tensor(x, "reshape")
    shape = _check_shape(shape, "reshape")
    if shape.count(-1) > 1 or any(n < -1 for n in shape):
        raise ValueError(f"reshape: invalid target shape {shown(shape)}: sizes must be >= 0 with at most one -1")
    if -1 in shape:
        known = math.prod(n for n in shape if n != -1)
        if known == 0 or x.size % known:
            raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} into {shown(shape)}")
        shape = tuple(x.size // known if n == -1 else n for n in shape)
    if numel(shape) != x.size:
        raise ValueError(f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into"
                         f" {shown(shape)}")
    out = Tensor.from_flat(x.data, shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: (g,))


def permute(x: Tensor, axes: tuple[int, ...]) -> Tensor:
    """Reorder the axes: output axis j is input axis ``axes[j]``."""
    _check_tensor(x, "permute")
    axes = tuple(normalize_axis(a, x.ndim, "permute") for a in _check_shape(axes, "permute"))
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"permute: axes {axes} are not a permutation of the {x.ndim} axes of shape {x.shape}")
    return _gather(x, permute_index(x.shape, axes), tuple(x.shape[a] for a in axes))


def transpose(x: Tensor, axis0: int = -2, axis1: int = -1) -> Tensor:
    """Swap two axes (by default the last two, as matrix transposition)."""
    _check_tensor(x, "transpose")
    if x.ndim < 2:
        return permute(x, tuple(range(x.ndim)))
    axes = list(range(x.ndim))
    i, j = normalize_axis(axis0, x.ndim, "transpose"), normalize_axis(axis1, x.ndim, "transpose")
    axes[i], axes[j] = axes[j], axes[i]
    return permute(x, tuple(axes))


def broadcast_to(x: Tensor, shape: Shape) -> Tensor:
    """The tensor repeated along new and size-1 axes (TENSOR-3); the gradient is summed back."""
    _check_tensor(x, "broadcast_to")
    shape = _check_shape(shape, "broadcast_to")
    if any(n < 0 for n in shape):
        raise ValueError(f"broadcast_to: sizes must be >= 0, got shape {shown(shape)}")
    ok = len(shape) >= x.ndim and all(n in (1, m) for n, m in zip(reversed(x.shape), reversed(shape)))
    if not ok:
        raise ValueError(f"broadcast_to: shape {x.shape} cannot be broadcast to {shown(shape)}")
    data, source = x.data, x.shape
    out = Tensor.from_flat([data[i] for i in broadcast_index(source, shape)], shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: (unbroadcast(g, shape, source),))


def expand(x: Tensor, *sizes: int) -> Tensor:
    """PyTorch's spelling of broadcast_to: -1 keeps the size of an existing axis."""
    _check_tensor(x, "expand")
    sizes = _check_shape(sizes[0] if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes given for a tensor of {x.ndim} dimensions")
    return broadcast_to(x, tuple(x.shape[j - lead] if n == -1 and j >= lead else n for j, n in enumerate(sizes)))


@lru_cache(maxsize=1024)
def _join_index(shapes: tuple[Shape, ...], axis: int) -> tuple[tuple[int, int], ...]:
    """For each output position of the concatenation, (which input, its flat position)."""
    outer = math.prod(shapes[0][:axis])
    inner = [math.prod(s[axis:]) for s in shapes]  # one block of each input per outer index
    return tuple((k, o * inner[k] + i) for o in range(outer) for k in range(len(shapes)) for i in range(inner[k]))


def _join(tensors: list[Tensor], shapes: list[Shape], axis: int, out_shape: Shape) -> Tensor:
    index = _join_index(tuple(shapes), axis)
    datas = [t.data for t in tensors]
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = promote(dtype, t.dtype)
    out = Tensor.from_flat([datas[k][i] for k, i in index], out_shape, dtype)
    sizes = [t.size for t in tensors]

    def join_vjp(g: list) -> list[list]:
        grads = [[0.0] * n for n in sizes]
        for (k, i), gj in zip(index, g):
            grads[k][i] = gj
        return grads

    return autograd.attach(out, tuple(tensors), join_vjp)


def _check_sequence(tensors: object, op: str) -> list[Tensor]:
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise ValueError(f"{op}: expected a non-empty list of tensors, got {shown(tensors)}")
    for t in tensors:
        _check_tensor(t, op)
    return list(tensors)


def concatenate(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; all other sizes must agree."""
    tensors = _check_sequence(tensors, "concatenate")
    first = tensors[0].shape
    if not first:
        raise ValueError("concatenate: 0-d tensors cannot be concatenated")
    axis = normalize_axis(axis, len(first), "concatenate")
    for t in tensors:
        if t.ndim != len(first) or any(a != b for j, (a, b) in enumerate(zip(t.shape, first)) if j != axis):
            raise ValueError(f"concatenate: shapes {first} and {t.shape} differ off axis {axis}")
    out_shape = first[:axis] + (sum(t.shape[axis] for t in tensors),) + first[axis + 1 :]
    return _join(tensors, [t.shape for t in tensors], axis, out_shape)


def stack(tensors: list[Tensor], axis: int = 0) -> Tensor:
    """Join equal-shape tensors along a new axis."""
    tensors = _check_sequence(tensors, "stack")
    first = tensors[0].shape
    for t in tensors:
        if t.shape != first:
            raise ValueError(f"stack: shapes {first} and {t.shape} differ")
    axis = normalize_axis(axis, len(first) + 1, "stack")
    expanded = first[:axis] + (1,) + first[axis:]
    out_shape = first[:axis] + (len(tensors),) + first[axis:]
    return _join(tensors, [expanded] * len(tensors), axis, out_shape)


def _index_plan(shape: Shape, key: object) -> tuple[list[range | int], Shape]:
    """Per-axis positions selected by a basic index, and the result shape (TENSOR-4)."""
    key = key if isinstance(key, tuple) else (key,)
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis")
    consumed = sum(1 for k in key if k is not None and k is not Ellipsis)
    if consumed > len(shape):
        raise IndexError(f"too many indices for a tensor of shape {shape}: {consumed} given")
    if not any(k is Ellipsis for k in key):  # by identity: a tensor in the key compares elementwise
        key = key + (Ellipsis,)
    cut = next(j for j, k in enumerate(key) if k is Ellipsis)
    key = key[:cut] + (slice(None),) * (len(shape) - consumed) + key[cut + 1 :]
    picks: list[range | int] = []
    out_shape: list[int] = []
    axis = 0
    for k in key:
        if k is None:
            out_shape.append(1)
            continue
        n = shape[axis]
        if isinstance(k, slice):
            r = range(*k.indices(n))
            picks.append(r)
            out_shape.append(len(r))
        elif isinstance(k, int) and not isinstance(k, bool):
            if not -n <= k < n:
                raise IndexError(f"index {shown(k)} is out of bounds for axis {axis} with size {n}")
            picks.append(k % n)
        else:
            raise TypeError(f"index: only ints, slices, None and ... are supported, got {shown(k)}")
        axis += 1
    return picks, tuple(out_shape)


def getitem(x: Tensor, key: object) -> Tensor:
    """Basic indexing as in NumPy: ints, slices (with steps), None and Ellipsis."""
    _check_tensor(x, "getitem")
    picks, out_shape = _index_plan(x.shape, key)
    axis_strides = strides(x.shape)
    flat = [0]  # the offsets of the picked positions, row-major: one axis at a time, the last varying fastest
    for pick, stride in zip(picks, axis_strides):
        flat = [base + i * stride for base in flat for i in (pick if isinstance(pick, range) else (pick,))]
    return _gather(x, tuple(flat), out_shape)


def astype(x: Tensor, dtype: DType | str) -> Tensor:
    """The values rounded to ``dtype`` (TENSOR-6); differentiable between floating dtypes."""
    _check_tensor(x, "astype")
    dtype = get_dtype(dtype)
    if not dtype.is_floating:
        return Tensor.from_flat([bool(v) for v in x.data], x.shape, dtype)
    out = Tensor.from_flat([float(v) for v in x.data], x.shape, dtype)
    if not x.dtype.is_floating:
        return out
    return autograd.attach(out, (x,), lambda g: (g,))
