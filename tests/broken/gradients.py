"""Broken backward passes of dropout (spec/gradients.md): each gets one thing about dL/dx wrong.

Each keeps the reference forward pass and replaces ``dropout_vjp`` by a hand-written backward,
computed with the engine's ops in the dtype of x, as a framework kernel would. The backward
passes that model public bugs are mutants of refdropout.mutants.gradients.
"""

from __future__ import annotations

import math
import struct

from refdropout.adapters.reference import ReferenceDropout
from refdropout.contract import Policies
from refdropout.dtypes import float32
from refdropout.functional import dropout
from refdropout.tensor import Tensor

PADDLE_BFLOAT16_NAN = struct.unpack(">d", bytes.fromhex("7fffe00000000000"))[0]  # the bfloat16 NaN 0x7FFF, as a float64


def forward(x: Tensor, p: float, training: bool, seed: int) -> tuple[Tensor, Tensor]:
    """The reference output and its keep mask m as 0s and 1s in x's dtype."""
    y, keep = dropout(x, p, training=training, seed=seed, return_mask=True)
    return y, keep.astype(x.dtype)


class MaskedInEval(ReferenceDropout):
    """In eval mode the backward still applies a mask and 1/q, though the forward is the identity."""

    name = "masked-in-eval"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = forward(x, p, training, seed)
        return y, super().dropout_vjp(x, p, g, training=True, seed=seed)[1]


class FalsyRate(ReferenceDropout):
    """The backward reads p = 0 as "no rate given" and drops at the default 0.5 (``p or 0.5``)."""

    name = "falsy-rate"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = forward(x, p, training, seed)
        return y, super().dropout_vjp(x, p or 0.5, g, training=training, seed=seed)[1]


class Float32ScaleInBackward(ReferenceDropout):
    """The backward scales g by 1 / q32, q32 = fl32(1 - fl32(p)), in every format, as PaddlePaddle's
    float64 kernel does (measured: 1.24999998 for 1.25 at p = 0.2), and is 0 where fl32(p) = 1, as its
    `p == 1.0f` branch is (p = 1 - 2^-25: g m / q32 would be 0 / 0 = NaN at every dropped element):
    right only under a declared scale_format = "float32" (GRADIENTS-1, GRADIENTS-5); the forward pass
    is the reference's."""

    name = "float32-scale-in-backward"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = forward(x, p, training, seed)
        if not training or p == 0.0:
            return super().dropout_vjp(x, p, g, training=training, seed=seed)
        if float32.round(p) == 1.0:  # PaddlePaddle holds p in binary32 and zeroes the gradient where it is 1
            return y, g * 0.0
        return y, g * keep / float32.round(1.0 - float32.round(p))


class DeclaredFloat32ScaleInBackward(Float32ScaleInBackward):
    """The same backward, declared: scale_format = "float32"."""

    name = "declared-float32-scale-in-backward"

    def __init__(self) -> None:
        super().__init__()
        self.policies = Policies(scale_format="float32")


class AccumulatesAtRateZero(ReferenceDropout):
    """At p = 0 the backward adds g into a zeroed buffer (dL/dx = 0 + g), which turns -0 into +0: right
    bit for bit on every other value (the fixed cases' g has |g_i| in [1, 2), never -0)."""

    name = "accumulates-at-rate-zero"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, dx = super().dropout_vjp(x, p, g, training=training, seed=seed)
        if training and p == 0.0:
            return y, Tensor.from_flat([0.0 + v for v in dx.data], dx.shape, dx.dtype, rounded=True)
        return y, dx


class MaskedInEvalAtSeedZero(ReferenceDropout):
    """In eval mode with seed 0 the backward applies the training mask and scale, as one that takes seed 0
    for "no seed given" and then reads its mode from a global flag (the fixed cases' seeds are hashes)."""

    name = "masked-in-eval-at-seed-zero"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = forward(x, p, training, seed)
        return y, super().dropout_vjp(x, p, g, training=training or seed == 0, seed=seed)[1]


class RedrawsOnManyAxes(ReferenceDropout):
    """On inputs of 3 or more axes the backward draws its own mask (seed ^ 1), as a kernel that flattens
    such inputs and reseeds (the fixed cases' inputs are 1-axis)."""

    name = "redraws-on-many-axes"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, dx = super().dropout_vjp(x, p, g, training=training, seed=seed)
        if training and x.ndim >= 3:
            return y, super().dropout_vjp(x, p, g, training=training, seed=seed ^ 1)[1]
        return y, dx


class ScaleOverflowsInBackward(ReferenceDropout):
    """The backward is g m fl_T(1/q), the scale rounded to x's format T, as MLX's forward pass computes
    `(mask * x) * (1 / q)`: in float16 at q below 1/65520 fl_T(1/q) = inf, so a dropped element is
    0 * inf = NaN, not 0 (GRADIENTS-1's case of an overflowing scale, p = 1 - 2^-16, and its first
    generated case, p = 1 - 2^-25; the 64-element cases' 1/q is at most 1000); elsewhere within one ulp
    of g m / q."""

    name = "scale-overflows-in-backward"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = forward(x, p, training, seed)
        if not training or p in (0.0, 1.0):
            return super().dropout_vjp(x, p, g, training=training, seed=seed)
        return y, g * keep * (1.0 / (1.0 - p))  # the scalar is rounded to g's format


class NoiseInInputFormatInBackward(ReferenceDropout):
    """The backward is g · n with the noise n = m / q made in g's format T, as PyTorch's CPU kernel makes
    it (bernoulli(q).div_(q) in float32 arithmetic for a 16-bit T, torch 2.13): fl_T(1/q) where kept, 0 where
    dropped. Within one ulp of
    g m / q wherever 1/q fits T; in float16 at q < 1/65520 a kept g gives inf where g / q is finite, and
    a dropped one 0 (so the generated cases at p = 1 - 2^-25, which keep nothing, pass it): only
    GRADIENTS-1's case of an overflowing scale keeps an element there. The forward is the reference's."""

    name = "noise-in-input-format-in-backward"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = forward(x, p, training, seed)
        if not training or p in (0.0, 1.0):
            return super().dropout_vjp(x, p, g, training=training, seed=seed)
        compute = float32 if g.dtype.itemsize < 4 else g.dtype  # ATen's opmath type of a 16-bit format
        noise = (keep.astype(compute) / (1.0 - p)).astype(g.dtype)  # 0 / q = 0 where dropped
        return y, g * noise


class NaNBitsLostInEvalBackward(ReferenceDropout):
    """In eval mode at p > 0 the backward computes g · 1 in binary32 and rounds it to bfloat16 by a rule that
    maps every NaN to 0x7FFF, as PaddlePaddle 3.3.1's CPU backward does (cpu_float_to_bfloat16): every
    value keeps its bits but a NaN, whose sign and payload are lost (the same NaN as a number, not the same
    bits); float64, float32 and float16 are right."""

    name = "nan-bits-lost-in-eval-backward"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, dx = super().dropout_vjp(x, p, g, training=training, seed=seed)
        if training or p == 0.0 or g.dtype.name != "bfloat16":
            return y, dx
        return y, Tensor.from_flat([PADDLE_BFLOAT16_NAN if math.isnan(v) else v for v in dx.data], dx.shape, dx.dtype,
                                   rounded=True)
