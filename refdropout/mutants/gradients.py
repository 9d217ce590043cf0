"""Mutants of the kind "gradients": a correct forward pass with a backward that gets dL/dx wrong
(spec/gradients.md). Each replaces Textbook's ``dropout_vjp`` by a hand-written backward in the
dtype of x, as a framework kernel would.
"""

from __future__ import annotations

from ..dtypes import bfloat16
from ..ops import not_equal
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["BackwardRedrawsMask", "BackwardScaledByP", "BackwardNaNAtPOne", "MaskFromOutput", "BackwardInBfloat16",
           "BackwardScaleOverflows"]


@mutant("gradients", models="pytorch/pytorch#14253: Option to preserve bitwise accuracy of gradient checkpointed vs "
        "non-checkpointed dropout", caught_by=("GRADIENTS-1", "GRADIENTS-6"))
class BackwardRedrawsMask(Textbook):
    """The backward draws a fresh mask (from the next seed) instead of reusing the forward's.

    Checkpointing recomputes the forward pass during the backward; without the generator's
    state restored, that recomputation draws other masks than the loss was taken with.
    """

    name = "backward-redraws-mask"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        return self.dropout(x, p, training=training, seed=seed), self.dropout(g, p, training=training, seed=seed ^ 1)


@mutant("gradients", models="kaldi-asr/kaldi#2814: Should this be a bug for GeneralDropoutComponent?",
        caught_by=("GRADIENTS-1", "GRADIENTS-6"))
class BackwardScaledByP(Textbook):
    """The backward scales kept gradients by p instead of 1/q.

    Generalises the report, a component scaled by 1/p instead of 1/(1 - p), to a backward whose
    scale is written from the wrong one of p and q while the forward stays correct.
    """

    name = "backward-scaled-by-p"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = self.forward(self.generator(seed), x, p, training=training)
        return y, g * keep.astype(g.dtype) * self.rate(p) if training else g


@mutant("gradients", models="gorgonia/gorgonia#399: Dropout fix 2", caught_by=("GRADIENTS-4",))
class BackwardNaNAtPOne(Textbook):
    """The backward divides by q even at p = 1, where g m / q is 0 / 0 = NaN.

    The report's dropout divides by the keep probability in a graph node, so at p = 1 both the
    output and the gradient are 0 / 0; here the forward handles p = 1 and only the backward does not.
    """

    name = "backward-nan-at-p-one"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = self.forward(self.generator(seed), x, p, training=training)
        return y, g * keep.astype(g.dtype) / (1.0 - self.rate(p)) if training else g


@mutant("gradients", models="ROCm/tensorflow-upstream#1012: Passing the dropout mask from forward to backward pass",
        caught_by=("GRADIENTS-5",))
class MaskFromOutput(Textbook):
    """The backward reads the mask off the output (y != 0), so a kept zero of x gets no gradient."""

    name = "mask-from-output"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        p = self.rate(p)
        if not self.draws(p, training) or p == 1.0:
            return super().dropout_vjp(x, p, g, training=training, seed=seed)
        y = self.dropout(x, p, training=training, seed=seed)
        return y, g * not_equal(y, 0.0).astype(g.dtype) * (1.0 / (1.0 - p))


@mutant("gradients", models="pytorch/pytorch#105682: `torch.autocast(bfloat16)` runs bwd matmuls in fp16",
        caught_by=("GRADIENTS-1",))
class BackwardInBfloat16(Textbook):
    """The backward rounds dL/dx through bfloat16 whatever the dtype of x.

    Generalises the report, a backward run in another precision than its forward, to a dropout
    backward computed in bfloat16 under a float32 or float64 forward.
    """

    name = "backward-in-bfloat16"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, dx = super().dropout_vjp(x, p, g, training=training, seed=seed)
        return y, dx.astype(bfloat16).astype(x.dtype)


@mutant("gradients", models="fastino-ai/GLiNER2#155: Fix NaN gradients from marginal_pair_consistency_loss in half "
        "precision", caught_by=("GRADIENTS-1",))
class BackwardScaleOverflows(Textbook):
    """The backward is g ⊙ m · fl_T(1/q), the scale rounded to g's format T: in float16 at q < 2^-16 a dropped
    element's gradient is 0 · inf = NaN.

    There fl_T(1/q) is inf, so a kept g gives inf too, where g / q is finite.

    The report's half-precision backward multiplies a masked entry's zero gradient by a factor -1/(1 - p)
    that is -inf there (0 · inf = NaN), and one backward pass put non-finite gradients on 225 parameters;
    here the factor is dropout's own 1/q. GRADIENTS-1's 64-element cases (1/q at most 1000) pass it in every
    format; the forward pass is Textbook's.
    """

    name = "backward-scale-overflows"

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, keep = self.forward(self.generator(seed), x, p, training=training)
        q = 1.0 - self.rate(p)
        if not training or q in (0.0, 1.0):
            return super().dropout_vjp(x, p, g, training=training, seed=seed)
        return y, g * keep.astype(g.dtype) * g.dtype.round(1.0 / q)
