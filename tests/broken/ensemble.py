"""Broken implementations for spec/ensemble.md: each gets one thing about the ensemble wrong.

Each is the reference with one method or one declaration changed, so a failing check names
exactly that fault. The suite also runs the ensemble checks on mutants of refdropout.mutants (the
broken implementations that model public bugs).
"""

from __future__ import annotations

from collections.abc import Callable

from refdropout.adapters.reference import ReferenceDropout, model_of
from refdropout.contract import Policies
from refdropout.mutants.mode import NormalisedWithPasses
from refdropout.nn.mc import mc_moments, mc_predict
from refdropout.tensor import Tensor


class ClassicMisdeclared(ReferenceDropout):
    """Declares classic scaling (train x m, eval q x) but runs inverted scaling (train x m / q, eval x)."""

    name = "classic-misdeclared"

    def __init__(self) -> None:
        super().__init__(scaling="inverted")
        self.policies = Policies(scaling="classic")

    def policy_options(self) -> dict[str, str]:
        return {"scaling": "inverted", "nonfinite": self.policies.nonfinite}


class StaleMask(ReferenceDropout):
    """Returns the mask of the previous draw (seed - 1) with this draw's output."""

    name = "stale-mask"

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        y, _ = super().dropout_with_mask(x, p, seed=seed)
        return y, super().dropout_with_mask(x, p, seed=(seed - 1) % 2**64)[1]


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


# ---- Monte Carlo dropout (ENSEMBLE-8, ENSEMBLE-9): mc_predict gone wrong ----------------------


class MCOneMaskForAllPasses(ReferenceDropout):
    """Every pass is seeded with the same seed (a random key reused): one sub-network, S times."""

    name = "mc-one-mask-for-all-passes"

    def mc_predict(self, network, p, x, samples, *, seed):
        model = model_of(network, p, **self.policy_options())
        return mc_moments([mc_predict(model, x, 1, seed).mean for _ in range(samples)])


class MCFalsyRate(ReferenceDropout):
    """p = 0 is read as "no rate given" and replaced by the default 0.5 (``p or 0.5``)."""

    name = "mc-falsy-rate"

    def mc_predict(self, network, p, x, samples, *, seed):
        return super().mc_predict(network, p or 0.5, x, samples, seed=seed)


class MCDropoutSwitchedOff(NormalisedWithPasses):
    """model.eval() and nothing more: the normalisation is right, but no pass drops a unit."""

    name = "mc-dropout-switched-off"

    def passes(self, model, x, samples, seed):
        return mc_moments([model(x, training=False) for _ in range(samples)])
