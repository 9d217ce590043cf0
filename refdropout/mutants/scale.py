"""Mutants of the kind "scale" (refdropout.mutants.registry.KINDS): the factor kept elements get is wrong.

Each derives from :class:`~refdropout.mutants.textbook.Textbook` and overrides its ``scale`` or
``evaluate`` step (spec/dropout.md, DROPOUT-2, DROPOUT-7, DROPOUT-8).
"""

from __future__ import annotations

from ..contract import Policies
from ..dtypes import bfloat16, float32
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["NoRescale", "OneOverP", "EvalScaledByQ", "ClassicEvalByP", "ScaleInBfloat16", "KeepProbInFloat32",
           "TinyRateTakenForZero"]


@mutant("scale", models="Cohere-Labs-Community/Targeted-Dropout#14: Target Dropout not scaled by keep_prob",
        caught_by=("DROPOUT-2", "DROPOUT-8", "DROPOUT-20"))
class NoRescale(Textbook):
    """Declares inverted scaling but returns x ⊙ m: kept elements are not divided by q."""

    name = "no-rescale"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype)


@mutant("scale", models="lmjohns3/theanets#123: Fix bug in BernoulliDropout",
        caught_by=("DROPOUT-2", "DROPOUT-8", "DROPOUT-20"))
class OneOverP(Textbook):
    """Scales kept elements by 1/p instead of 1/q."""

    name = "one-over-p"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) * (1.0 / p)


@mutant("scale", models="tensorflow/tensorflow#29800: Keras Dropout layer behaviour in test mode seems to be "
        "\"do nothing\" instead of weight scaling inference rule", caught_by=("DROPOUT-7",))
class EvalScaledByQ(Textbook):
    """Scales by 1/q in training and by q in evaluation too: the weight-scaling rule applied on top of inverted dropout.

    The report asks for the classic rule's q x at evaluation in a layer that already divides by q
    in training; this mutant is that layer, so E[y_train] = x while y_eval = q x.
    """

    name = "eval-scaled-by-q"

    def evaluate(self, x: Tensor, p: float) -> Tensor:
        return x * (1.0 - p)


@mutant("scale", models="karpathy/convnetjs#61: fix dropout prob", caught_by=("DROPOUT-7",))
class ClassicEvalByP(Textbook):
    """Declares classic scaling, trains with x ⊙ m, but evaluates p x instead of q x."""

    name = "classic-eval-by-p"
    policies = Policies(scaling="classic", nonfinite="multiply")

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype)

    def evaluate(self, x: Tensor, p: float) -> Tensor:
        return x * p


@mutant("scale", models="PaddlePaddle/Paddle#39501: Dropout use fp16->fp32->fp16 cast when calculating",
        caught_by=("DROPOUT-2", "DROPOUT-8"))
class ScaleInBfloat16(Textbook):
    """Rounds 1/q to bfloat16 before the multiply: kept values are off by up to 2^-9 relative in every format.

    The report moves a half-precision dropout's arithmetic to float32 for accuracy; this mutant is
    the coarse side of it, with the factor held in the coarsest 16-bit format.
    """

    name = "scale-in-bfloat16"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) * (0.0 if p == 1.0 else bfloat16.round(1.0 / (1.0 - p)))


@mutant("scale", models="flagos-ai/FlagGems#174: ensure scalars are float32 in test cases for dropout",
        caught_by=("DROPOUT-2", "DROPOUT-8"))
class KeepProbInFloat32(Textbook):
    """Computes q = 1 - p in float32 whatever x's format: float64 kept values are off by up to 2^-24 relative."""

    name = "keep-prob-in-float32"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) * (0.0 if p == 1.0 else 1.0 / float32.round(1.0 - p))


@mutant("scale", models="PaddlePaddle/Paddle#29553: Add fast path for p == 0 in dropout", caught_by=("DROPOUT-2",))
class TinyRateTakenForZero(Textbook):
    """Takes the fast path of p = 0, y = x, for every p below 1e-6: kept elements are x, not x / q, and
    nothing is dropped.

    Kept values are off by a factor 1 + p, which float64 shows. The report adds a fast path that returns x at p
    == 0; this mutant's guard compares p with a tolerance instead, as ``if p < eps`` would. DROPOUT-2's fixed
    rates are 0.1 to 0.999: only its generated cases, whose stratum tries the extreme rates (1e-7 among them),
    reach the tolerance.
    """

    name = "tiny-rate-taken-for-zero"
    TOLERANCE = 1e-6

    def draws(self, p: float, training: bool) -> bool:
        return training and p >= self.TOLERANCE
