"""Mutants of fused attention kernels (spec/variants.md, VARIANTS-20 to VARIANTS-22): a kernel that drops
attention weights inside the kernel, at the wrong rate or without the 1/q.

Each is the reference whose ``fused_attention`` keeps the weights that :meth:`FusedWithMask.keep` draws
and multiplies them by :meth:`FusedWithMask.scale`, on the checks' arrays as they come (their own
methods and operators: the catalogue imports no numpy).
"""

from __future__ import annotations

import math
from typing import Any

from ..adapters.numpy_philox import NumpyGenerator
from ..adapters.reference import ReferenceDropout
from .registry import mutant

__all__ = ["FusedEightBitThreshold", "FusedWithMask", "FusedWithoutRescale"]


class FusedWithMask(ReferenceDropout):
    """A fused kernel on the checks' inputs whose training calls keep the weights that ``keep`` draws and
    multiply them by ``scale(p)``; evaluation and p = 0 as the reference."""

    def keep(self, shape: tuple[int, ...], p: float, seed: int) -> Any:
        return NumpyGenerator(seed).bernoulli(shape, 1.0 - p)

    def scale(self, p: float) -> float:
        return 1.0 / (1.0 - p)

    def fused_attention(self, q, k, v, g, p, *, backend, training, seed):
        if not training or p == 0.0:
            return super().fused_attention(q, k, v, g, p, backend=backend, training=training, seed=seed)
        weights = self.keep(q.shape[:-1] + (k.shape[-2],), p, seed) * (self.scale(p) / q.shape[-1])
        return ((weights @ v.astype("float64")).astype(v.dtype),
                (weights.swapaxes(-1, -2) @ g.astype("float64")).astype(v.dtype))

    fused_attention.answers_in_kind = True  # takes the checks' numpy arrays as they are (contract.arrays)


@mutant("randomness", models="NVIDIA/apex#1614: Use 8bit comparison to generate dropout mask",
        caught_by=("VARIANTS-20",))
class FusedEightBitThreshold(FusedWithMask):
    """Keeps a weight when an 8-bit random value is at most floor(255 q), as FlashAttention's CUDA kernel
    and apex's fused attention do, so at (floor(255 q) + 1) / 256 (0.8984 at p = 0.1, 255/256 at
    p = 0.001), and scales by 1/q."""

    name = "fused-8-bit-threshold"

    def keep(self, shape, p, seed):
        return NumpyGenerator(seed).bernoulli(shape, (math.floor(255 * (1.0 - p)) + 1) / 256)


@mutant("scale", models="NVIDIA/apex#816: fix dropout scaling from p to 1/(1-p) in multihead attention",
        caught_by=("VARIANTS-21",))
class FusedWithoutRescale(FusedWithMask):
    """Drops the weights at the right rate but never divides the kept ones by q."""

    name = "fused-without-rescale"

    def scale(self, p):
        return 1.0
