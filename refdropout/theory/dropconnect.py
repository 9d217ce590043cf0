"""Dropping a unit is dropping its outgoing weights (ENSEMBLE-1).

A linear layer y = W x (W of shape (k, n): W_ij connects input unit j to output i) whose input
units are dropped with the keep mask m computes W (x * m / q). The same output comes from keeping
every input and masking the weights instead, DropConnect (Wan et al. 2013) under the spec's 1/q
convention (VARIANTS-9; Wan et al. leave M ⊙ W unscaled), with the column-structured weight mask
M_ij = m_j:

    W (x * m / q) = (W * M / q) x.

In exact arithmetic the two are one sum of the same products. In floating point they differ only in
where 1/q is rounded: x_j / q on the left, W_ij / q on the right. Without that division they agree
bit for bit: W (x * m) = (W * M) x, since each product W_ij x_j (or a signed zero) is the same and
the engine's matmul rounds each sum once (math.fsum), whatever the order of its terms.
"""

from __future__ import annotations

import math

from .. import ops
from ..tensor import Tensor
from ..values import shown

__all__ = ["column_mask", "dropconnect", "dropconnect_gap_bound", "GAP_ROUNDOFFS"]

# The gap between the two sides is at most GAP_ROUNDOFFS unit roundoffs of sum_j |W_ij x_j| m_j / d.
GAP_ROUNDOFFS = 8


def column_mask(keep: Tensor, rows: int) -> Tensor:
    """The weight mask M_ij = m_j of a (rows, n) weight matrix: column j is dropped with unit j."""
    if not isinstance(keep, Tensor):
        raise TypeError(f"column_mask: keep must be a Tensor, got {type(keep).__name__}")
    if keep.ndim != 1:
        raise ValueError(f"column_mask: keep must be a 1-d mask over the input units, got shape {keep.shape}")
    if isinstance(rows, bool) or not isinstance(rows, int):
        raise TypeError(f"column_mask: rows must be an int, got {shown(rows)}")
    if rows < 0:
        raise ValueError(f"column_mask: rows must be >= 0, got {shown(rows)}")
    return ops.broadcast_to(keep.astype("float64").reshape(1, keep.size), (rows, keep.size))


def dropconnect(weight: Tensor, mask: Tensor, x: Tensor, divisor: float) -> Tensor:
    """DropConnect with a given weight mask: (W * M / d) x, d = q (inverted scaling) or 1 (classic)."""
    return (weight * mask / divisor) @ x


def dropconnect_gap_bound(weight: Tensor, x: Tensor, keep: Tensor, divisor: float, unit_roundoff: float) -> list[float]:
    """How far apart rounding lets the two sides be: |W (x * m / d) - (W * M / d) x|_i <= 8 u S_i,
    S_i = sum_j |W_ij x_j| m_j / d, for unit roundoff u, barring overflow and underflow.

    Each product is W_ij x_j / d rounded: on the left the kept value x_j / d may be one ulp off
    (2u, as spec/dropout.md allows) and the product adds u, on the right W_ij / d and the product
    add u each, so the two sums differ by at most 5u S_i; rounding each sum once adds u S_i per
    side. That is 7u S_i; the eighth u covers the terms in u^2 (ENSEMBLE-1).
    """
    k, n = weight.shape
    w, xd, m = weight.data, x.data, keep.data
    return [
        GAP_ROUNDOFFS * unit_roundoff * math.fsum(abs(w[i * n + j] * xd[j]) for j in range(n) if m[j]) / divisor
        for i in range(k)
    ]
