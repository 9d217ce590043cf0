"""Broken implementations for spec/ensemble.md: each gets one thing about the ensemble wrong.

Each is the reference with one method or one declaration changed, so a failing check names
exactly that fault.
"""

from __future__ import annotations

from typing import Callable

from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import Policies
from refdropout.dropout import dropout
from refdropout.tensor import Tensor


class NoRescale(ReferenceDropout):
    """Training forgets the 1/q (y = x m) while evaluation stays the identity: the ensemble mean is q x."""

    name = "no-rescale"

    def _options(self) -> dict:
        return {"scaling": "classic", "nonfinite": self.policies.nonfinite}

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return super().dropout(x, p, training=True, seed=seed) if training else x


class ClassicMisdeclared(ReferenceDropout):
    """Declares classic scaling (train x m, eval q x) but runs inverted scaling (train x m / q, eval x)."""

    name = "classic-misdeclared"

    def __init__(self) -> None:
        super().__init__(scaling="inverted")
        self.policies = Policies(scaling="classic")

    def _options(self) -> dict:
        return {"scaling": "inverted", "nonfinite": self.policies.nonfinite}


class StaleMask(ReferenceDropout):
    """Returns the mask of the previous draw (seed - 1) with this draw's output."""

    name = "stale-mask"

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = super().dropout_with_mask(x, p, seed=seed)
        return y, super().dropout_with_mask(x, p, seed=(seed - 1) % 2**64)[1]


class SameMaskEveryCall(ReferenceDropout):
    """A stream that reseeds itself on every call: every forward pass runs the same sub-network."""

    name = "same-mask-every-call"

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            return dropout(x, p, training=training, seed=seed, **self._options())

        return call


class AlternatingMasks(ReferenceDropout):
    """A stream whose even calls redo the previous call's draw: pairs of passes share one sub-network."""

    name = "alternating-masks"

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        draw = super().dropout_stream(seed)
        previous: list[Tensor] = []

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            if previous:
                return previous.pop()
            y = draw(x, p, training=training)
            previous.append(y)
            return y

        return call
