"""Broken networks (spec/modes.md): each gets one thing about modes wrong.

Each is the reference with one module replaced, reached through the capabilities
``dropout_module`` and ``sequential`` that the checks of refdropout.conformance.modes build from.
"""

from __future__ import annotations

from refdropout.adapters.reference import ReferenceDropout
from refdropout.nn import Dropout, Sequential
from refdropout.tensor import Tensor


class _ShallowSequential(Sequential):
    def train(self, mode: bool = True) -> Sequential:
        object.__setattr__(self, "training", mode)  # its own flag only
        return self


class ShallowContainer(ReferenceDropout):
    """train() and eval() of a container set its own flag and not its children's."""

    name = "shallow-container"

    def sequential(self, *modules):
        return _ShallowSequential(*modules)


class _TrainOnlyHere(Sequential):
    def train(self, mode: bool = True) -> Sequential:
        if not mode:
            return super().train(False)
        object.__setattr__(self, "training", True)
        return self


class TrainDoesNotRecurse(ReferenceDropout):
    """A container's eval() reaches its children, but its train() does not: dropout stays off."""

    name = "train-does-not-recurse"

    def sequential(self, *modules):
        return _TrainOnlyHere(*modules)


class _AlwaysTraining(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return super().forward(x, training=True)


class ActiveInEval(ReferenceDropout):
    """The dropout layer ignores its mode and drops in evaluation too."""

    name = "active-in-eval"

    def dropout_module(self, p: float, *, seed: int):
        return _AlwaysTraining(p, seed=seed, **self._options())


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
        return _ZeroRateInEval(p, seed=seed, **self._options())


class _DrawsInEval(Dropout):
    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        drawn = super().forward(x, training=True)  # computed whatever the mode, then discarded
        return drawn if training else super().forward(x, training=False)


class EvalAdvancesGenerator(ReferenceDropout):
    """An evaluation call draws a mask it does not use, shifting the training stream."""

    name = "eval-advances-generator"

    def dropout_module(self, p: float, *, seed: int):
        return _DrawsInEval(p, seed=seed, **self._options())
