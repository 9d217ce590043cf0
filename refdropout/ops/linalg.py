"""Matrix product with NumPy's ``matmul`` rules (spec/tensor.md, TENSOR-8, TENSOR-12).

(..., n, k) @ (..., k, m) -> (..., n, m) with the leading (batch) axes broadcast; a 1-d
left operand is a row (1, k) and a 1-d right operand a column (k, 1), the added axis
removed from the result. Each output element is a dot product summed with ``math.fsum``:
correctly rounded, so independent of summation order and Python version.
"""

from __future__ import annotations

import math
import operator

from .. import autograd
from ..dtypes import promote
from ..shapes import Shape, broadcast_index, broadcast_shapes, numel
from ..tensor import Tensor
from . import ieee
from .common import require_floating, unbroadcast

__all__ = ["matmul"]


def _rows(data: list, start: int, n: int, k: int) -> list[list]:
    return [data[start + i * k : start + (i + 1) * k] for i in range(n)]


def _matmul_2d(a_rows: list[list], b_cols: list[tuple], k: int) -> list:
    """Row-major (n, m) product from the rows of A and the columns of B."""
    if k == 1:  # an outer product: the sum of one product is that product (+ 0.0: fsum's zero is +0.0)
        return [r * c + 0.0 for (r,) in a_rows for (c,) in b_cols]
    fsum, mul = math.fsum, operator.mul
    try:
        return [fsum(map(mul, row, col)) for row in a_rows for col in b_cols]
    except (OverflowError, ValueError):  # inf - inf, or a partial sum past the float range
        return [ieee.fsum(list(map(mul, row, col))) for row in a_rows for col in b_cols]


def _batched(a: list, b: list, batch: Shape, a_batch: Shape, b_batch: Shape, n: int, k: int, m: int) -> list:
    """C[z] = A[z] @ B[z] for every batch index z, with broadcast batch axes."""
    out: list = []
    a_index, b_index = broadcast_index(a_batch, batch), broadcast_index(b_batch, batch)
    for ia, ib in zip(a_index, b_index):
        b_cols = list(zip(*_rows(b, ib * k * m, k, m))) if k else [()] * m
        out.extend(_matmul_2d(_rows(a, ia * n * k, n, k), b_cols, k))
    return out


def _transpose_last(data: list, batch: Shape, r: int, c: int) -> list:
    """Swap the last two axes of a (batch..., r, c) flat array."""
    out: list = []
    for z in range(numel(batch)):
        for column in zip(*_rows(data, z * r * c, r, c)):
            out.extend(column)
    return out


def matmul(a: Tensor, b: Tensor) -> Tensor:
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, Tensor):
            raise TypeError(f"matmul: {name} must be a Tensor, got {type(t).__name__}")
        require_floating(t, "matmul")
    for name, t in (("a", a), ("b", b)):
        if t.ndim == 0:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: operand {name} must have at least 1 dimension")
    a_shape = (1, *a.shape) if a.ndim == 1 else a.shape
    b_shape = (*b.shape, 1) if b.ndim == 1 else b.shape
    (n, k), (k2, m) = a_shape[-2:], b_shape[-2:]
    if k != k2:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: {k} (last axis of a) != {k2}")
    a_batch, b_batch = a_shape[:-2], b_shape[:-2]
    try:
        batch = broadcast_shapes(a_batch, b_batch, op="matmul")
    except ValueError:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape}: batch axes {a_batch} and {b_batch}"
                         " do not broadcast") from None
    ad, bd = a.data, b.data
    y = _batched(ad, bd, batch, a_batch, b_batch, n, k, m)
    out_shape = batch + ((n,) if a.ndim > 1 else ()) + ((m,) if b.ndim > 1 else ())
    out = Tensor.from_flat(y, out_shape, promote(a.dtype, b.dtype))
    full_a, full_b = batch + (n, k), batch + (k, m)

    def matmul_vjp(g: list) -> tuple[list | None, list | None]:
        # dA = G @ B^T and dB = A^T @ G, each summed over the batch axes it was broadcast along;
        # a side that needs no gradient is skipped (a matmul is the costly op)
        ga = gb = None
        if a.requires_grad:
            bt = _transpose_last(bd, b_batch, k, m)
            ga = unbroadcast(_batched(g, bt, batch, batch, b_batch, n, m, k), full_a, a_batch + (n, k))
        if b.requires_grad:
            at = _transpose_last(ad, a_batch, n, k)
            gb = unbroadcast(_batched(at, g, batch, a_batch, batch, k, n, m), full_b, b_batch + (k, m))
        return ga, gb

    return autograd.attach(out, (a, b), matmul_vjp)
