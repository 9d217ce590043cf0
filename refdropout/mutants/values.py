"""Mutants of the kind "values" (refdropout.mutants.registry.KINDS): non-finite inputs against the declared policy.

Each derives from :class:`~refdropout.mutants.textbook.Textbook` (spec/dropout.md, DROPOUT-10).
"""

from __future__ import annotations

from ..conformance.protocol import Policies
from ..ops import where
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["WrongPolicy", "MultipliesDespiteSelect"]

DIFFERS = "pytorch/pytorch#59421: Dropout(inf) result differs on CPU vs CUDA"


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
