"""Broken backward passes of dropout (spec/gradients.md): each gets one thing about dL/dx wrong.

Each keeps the reference forward pass and replaces ``dropout_vjp`` by a hand-written backward,
computed with the engine's ops in the dtype of x, as a framework kernel would.
"""

from __future__ import annotations

from refdropout.adapters.reference import ReferenceDropout
from refdropout.dropout import dropout
from refdropout.dtypes import bfloat16
from refdropout.ops import not_equal
from refdropout.tensor import Tensor


def forward(x: Tensor, p: float, training: bool, seed: int) -> tuple[Tensor, Tensor]:
    """The reference output and its keep mask m as 0s and 1s in x's dtype."""
    y, keep = dropout(x, p, training=training, seed=seed, return_mask=True)
    return y, keep.astype(x.dtype)


class RedrawnMask(ReferenceDropout):
    """The backward draws a fresh mask (from another seed) instead of reusing the forward's."""

    name = "redrawn-mask"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = forward(x, p, training, seed)
        return y, super().dropout_vjp(x, p, g, training=training, seed=seed ^ 1)[1]


class BackwardScaledByP(ReferenceDropout):
    """The backward scales kept gradients by p instead of 1/q."""

    name = "backward-scaled-by-p"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = forward(x, p, training, seed)
        return y, g * keep * p if training else g


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


class NaNAtPOne(ReferenceDropout):
    """The backward divides by q even at p = 1, where g m / q is 0 / 0 = NaN."""

    name = "nan-at-p-one"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = forward(x, p, training, seed)
        return y, g * keep / (1.0 - p) if training else g


class MaskFromOutput(ReferenceDropout):
    """The backward reads the mask off the output (y != 0), so a kept zero of x gets no gradient."""

    name = "mask-from-output"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = forward(x, p, training, seed)
        if not training or p in (0.0, 1.0):
            return super().dropout_vjp(x, p, g, training=training, seed=seed)
        return y, g * not_equal(y, 0.0).astype(g.dtype) / (1.0 - p)


class HalfPrecisionBackward(ReferenceDropout):
    """The backward rounds dL/dx through bfloat16 whatever the dtype of x."""

    name = "half-precision-backward"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, dx = super().dropout_vjp(x, p, g, training=training, seed=seed)
        return y, dx.astype(bfloat16).astype(x.dtype)
