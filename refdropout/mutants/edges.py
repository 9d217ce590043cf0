"""Mutants of the kind "edges" (refdropout.mutants.registry.KINDS): wrong at p = 0, at p = 1 or outside [0, 1].

Each derives from :class:`~refdropout.mutants.textbook.Textbook` (spec/dropout.md, DROPOUT-3,
DROPOUT-4, DROPOUT-5, GRADIENTS-4).
"""

from __future__ import annotations

from ..functional.arguments import check_rate
from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["NaNAtPOne", "IdentityAtPOne", "StrictComparison", "AcceptsAnyRate", "OnlyFloatRatesChecked"]


@mutant("edges", models="google/flax#2055: Handle edge-case of rate==1.0 in Dropout layer.",
        caught_by=("DROPOUT-5", "GRADIENTS-4"))
class NaNAtPOne(Textbook):
    """Computes x ⊙ m / q with no case for p = 1, where it is 0 / 0 = NaN."""

    name = "nan-at-p-one"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) / (1.0 - p)


@mutant("edges", models="tensorflow/tensorflow#24845: Different with keras.layers.Dropout and "
        "tensorflow.keras.layers.Dropout, rate argument", caught_by=("DROPOUT-5", "GRADIENTS-4"))
class IdentityAtPOne(Textbook):
    """Applies dropout only for 0 < p < 1, so p = 1 returns x unchanged instead of zeros.

    The report shows keras.layers.Dropout(rate=1.0) building fine where tf.keras refuses it: the
    Keras layer of the time guarded its mask with ``if 0. < self.rate < 1.``.
    """

    name = "identity-at-p-one"

    def draws(self, p: float, training: bool) -> bool:
        return training and 0.0 < p < 1.0


@mutant("edges", models="tensorflow/tensorflow#10845: Keras Dropout layer changes results with dropout=0.0",
        caught_by=("DROPOUT-4",))
class StrictComparison(Textbook):
    """Keeps where u > p with 8-bit uniforms u = k/255 that can be exactly 0, and draws at p = 0 too."""

    name = "strict-comparison"

    def draws(self, p: float, training: bool) -> bool:
        return training

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [int(256 * u) / 255 > p for u in generator.uniform(shape).data]


@mutant("edges", models="keras-team/keras#10630: Adding warning if dropout rate is outside the valid range",
        caught_by=("DROPOUT-3",))
class AcceptsAnyRate(Textbook):
    """Clamps p into [0, 1] (and reads "0.5" or True as numbers) instead of refusing it."""

    name = "accepts-any-rate"

    def rate(self, p: object) -> float:
        return min(max(float(p), 0.0), 1.0)


@mutant("edges", models="tensorflow/tensorflow#4015: Consider that arg keep_prob to dropout might be an int",
        caught_by=("DROPOUT-3",))
class OnlyFloatRatesChecked(Textbook):
    """Range-checks p only when it is a float: True, False or "0.5" pass unchecked into float(p).

    The report's guard was ``if isinstance(keep_prob, float) and not 0 < keep_prob <= 1``, which
    let an int (and so a bool) through.
    """

    name = "only-float-rates-checked"

    def rate(self, p: object) -> float:
        return check_rate(p, self.name) if isinstance(p, float) else float(p)
