"""Mutants of the kind "values" (refdropout.mutants.registry.KINDS): non-finite inputs against the
declared policy (DROPOUT-10) and integer inputs that reach the arithmetic (DROPOUT-9).

Each derives from :class:`~refdropout.mutants.textbook.Textbook` (spec/dropout.md).
"""

from __future__ import annotations

from ..contract import Policies
from ..ops import where
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["WrongPolicy", "MultipliesDespiteSelect", "IntegerScaleCrashes", "IntegerScaleTruncates"]

DIFFERS = "pytorch/pytorch#59421: Dropout(inf) result differs on CPU vs CUDA"
LONG_TENSOR = "pytorch/pytorch#25245: F.dropout crashes with LongTensor"


@mutant("values", models=DIFFERS, caught_by=("DROPOUT-10",))
class WrongPolicy(Textbook):
    """Declares the "multiply" policy but selects: a dropped NaN or inf becomes 0, as the report's CUDA kernel did."""

    name = "wrong-policy"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return where(keep, x * (0.0 if p == 1.0 else 1.0 / (1.0 - p)), 0.0)


@mutant("values", models=DIFFERS, caught_by=("DROPOUT-10",))
class MultipliesDespiteSelect(Textbook):
    """Declares the "select" policy but multiplies: a dropped inf becomes NaN, as the report's CPU kernel did."""

    name = "multiplies-despite-select"
    policies = Policies(scaling="inverted", nonfinite="select")


class _IntegerKernel(Textbook):
    """Runs the training kernel on integers instead of refusing them; ``scaled`` is a kept v as it comes out."""

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        p = self.rate(p)
        if not self.draws(p, training):
            return list(values)
        keep = self.keep(self.generator(seed), (len(values),), p)
        return [self.scaled(v, p) if kept else 0 for v, kept in zip(values, keep)]

    def scaled(self, v: int, p: float) -> int:
        raise NotImplementedError


@mutant("values", models=LONG_TENSOR, caught_by=("DROPOUT-9",))
class IntegerScaleCrashes(_IntegerKernel):
    """Divides integer input by q cast to its integer type, 0: it dies in a division by zero, as the
    report's CPU kernel did."""

    name = "integer-scale-crashes"

    def scaled(self, v: int, p: float) -> int:
        return v // int(1.0 - p)


@mutant("values", models=LONG_TENSOR, caught_by=("DROPOUT-9",))
class IntegerScaleTruncates(_IntegerKernel):
    """Scales integer input and truncates back to integers: a kept 1 stays 1 at q = 0.9, wrong values
    as on the report's CUDA kernel."""

    name = "integer-scale-truncates"

    def scaled(self, v: int, p: float) -> int:
        return int(v / (1.0 - p))
