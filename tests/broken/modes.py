"""Broken networks (spec/modes.md) that model no public bug: each gets one thing about modes wrong.

Each is the reference with one module replaced, reached through the capabilities
``dropout_module`` and ``sequential`` that the checks of refdropout.conformance.modes build from.
The networks that model public bugs are mutants of refdropout.mutants.mode.
"""

from __future__ import annotations

from refdropout.adapters.reference import ReferenceDropout
from refdropout.nn import Dropout


class _ZeroRateInEval(Dropout):
    def __init__(self, p: float, **options) -> None:
        super().__init__(p, **options)
        self.saved_p = self.p

    def train(self, mode: bool = True) -> Dropout:
        if mode:
            self.p = self.saved_p
        else:
            self.saved_p, self.p = self.p, 0.0  # a second eval() saves the 0
        return super().train(mode)


class DoubleEvalLosesRate(ReferenceDropout):
    """eval() zeroes the rate and train() restores a saved copy, which a second eval() overwrote."""

    name = "double-eval-loses-rate"

    def dropout_module(self, p: float, *, seed: int):
        return _ZeroRateInEval(p, seed=seed, **self.policy_options())
