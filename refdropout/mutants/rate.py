"""Mutants of the kind "rate" (refdropout.mutants.registry.KINDS): the drop probability p is read wrongly.

Each derives from :class:`~refdropout.mutants.textbook.Textbook` (spec/dropout.md, DROPOUT-2,
DROPOUT-4, DROPOUT-5, DROPOUT-16).
"""

from __future__ import annotations

from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["SwappedRate", "DefaultRate", "FirstRateSticks"]


@mutant("rate", models="google-research/electra#61: Fix dropout layer.",
        caught_by=("DROPOUT-2", "DROPOUT-8", "DROPOUT-16"))
class SwappedRate(Textbook):
    """Takes p for the keep probability: keeps with probability p and scales by 1/p (E[y] = x still)."""

    name = "swapped-rate"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < p for u in generator.uniform(shape).data]

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) * (1.0 / p)


@mutant("rate", models="dimitymiller/cac-openset#1: Dropout parameter unused",
        caught_by=("DROPOUT-2", "DROPOUT-4", "DROPOUT-5", "DROPOUT-16"))
class DefaultRate(Textbook):
    """Checks the p it is given, then drops at its default rate 0.5 instead.

    The report is a rate that never reaches the layer, which then runs at its default; 0.5 is
    the default of torch.nn.Dropout.
    """

    name = "default-rate"

    def rate(self, p: object) -> float:
        super().rate(p)
        return 0.5


@mutant("rate", models="mlcommons/algorithmic-efficiency#875: Dropout support",
        caught_by=("DROPOUT-2", "DROPOUT-8", "DROPOUT-16"))
class FirstRateSticks(Textbook):
    """Fixes p at its first call and keeps dropping at that rate whatever p later calls pass.

    The report moves the rate from model construction to the call, because a rate fixed at
    construction cannot follow a schedule; this mutant fixes it at the first call instead.
    """

    name = "first-rate-sticks"

    def __init__(self) -> None:
        self.fixed: float | None = None

    def rate(self, p: object) -> float:
        if self.fixed is None:
            self.fixed = super().rate(p)
        return self.fixed
