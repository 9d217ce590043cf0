"""Broken networks (spec/modes.md) that model no public bug: each gets one thing about modes wrong.

Each is the reference with one module replaced, reached through the capabilities
``dropout_module`` and ``sequential`` that the checks of refdropout.conformance.modes build from.
The networks that model public bugs are mutants of refdropout.mutants.mode.
"""

from __future__ import annotations

from refdropout.adapters.reference import ReferenceDropout
from refdropout.functional import dropout
from refdropout.nn import Dropout
from refdropout.tensor import Tensor


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


class _HalfKernelIgnoresMode(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return super().forward(x, training=training or x.dtype.itemsize == 2)


class HalfKernelIgnoresMode(ReferenceDropout):
    """A 16-bit x goes through a fused kernel that reads no mode: after eval() the layer still drops and
    scales float16 and bfloat16 input (the fixed cases' x is float64)."""

    name = "half-kernel-ignores-mode"

    def dropout_module(self, p: float, *, seed: int):
        return _HalfKernelIgnoresMode(p, seed=seed, **self.policy_options())


class _DrawsInEvalOnManyAxes(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        if not training and x.ndim >= 2:
            dropout(x, self.p, training=True, generator=self.generator)  # the mask of a broadcast noise shape, unused
        return super().forward(x, training=training)


class DrawsInEvalOnManyAxes(ReferenceDropout):
    """In evaluation, an x of 2 or more axes has a mask drawn (for its noise shape) before the mode is
    read, and thrown away: the generator moves, and the next training call's mask is not the one an
    uninterrupted run draws (the fixed cases' x has one axis)."""

    name = "draws-in-eval-on-many-axes"

    def dropout_module(self, p: float, *, seed: int):
        return _DrawsInEvalOnManyAxes(p, seed=seed, **self.policy_options())
