"""What every op shares: turning operands into tensors, broadcasting data, summing gradients back."""

from __future__ import annotations

import numbers
from functools import lru_cache

from ..dtypes import DType, float64
from ..shapes import Shape, broadcast_index, numel
from ..tensor import Tensor
from ..values import to_float
from .ieee import fsums

__all__ = ["as_tensor", "expand_data", "unbroadcast", "require_floating"]


def as_tensor(x: object, like: DType = float64, op: str = "op") -> Tensor:
    """A tensor as is; a Python number as a 0-d tensor of ``like`` (a weak scalar, TENSOR-7). A number
    beyond the float64 range raises ValueError (TENSOR-18)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, numbers.Real):
        return Tensor.from_flat([to_float(x, f"{op}: operand")], (), like if like.is_floating else float64)
    raise TypeError(f"{op}: operand must be a Tensor or a real number, got {type(x).__name__}")


def require_floating(t: Tensor, op: str) -> None:
    if not t.dtype.is_floating:
        raise TypeError(f"{op}: needs a floating-point tensor, got dtype {t.dtype.name}; use astype('float64') first")


def expand_data(t: Tensor, shape: Shape) -> list:
    """The values of ``t`` broadcast to ``shape``, as a flat list."""
    if t.shape == shape:
        return t.data
    data = t.data
    return [data[i] for i in broadcast_index(t.shape, shape)]


@lru_cache(maxsize=4096)
def _groups(small: Shape, full: Shape) -> tuple[tuple[int, ...], ...]:
    """For each flat position of ``small``, the positions of ``full`` broadcast from it."""
    groups: list[list[int]] = [[] for _ in range(numel(small))]
    for j, i in enumerate(broadcast_index(small, full)):
        groups[i].append(j)
    return tuple(tuple(g) for g in groups)


def unbroadcast(g: list, full: Shape, small: Shape) -> list:
    """Sum a gradient of shape ``full`` over the axes broadcasting added to ``small`` (exact, fsum)."""
    if full == small:
        return g
    return fsums([[g[j] for j in group] for group in _groups(small, full)])
