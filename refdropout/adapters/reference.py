"""The reference implementation as a conformance target: refdropout's own engine.

It has every capability of the protocol (refdropout.conformance.protocol), so every clause
applies to it; it is the first user of the checks and must pass them all.
"""

from __future__ import annotations

from typing import Callable, Sequence

from ..conformance.protocol import Policies
from ..dropout import dropout
from ..random import Generator
from ..tensor import Tensor

__all__ = ["ReferenceDropout"]


class ReferenceDropout:
    """``refdropout.dropout.dropout`` behind the conformance protocol."""

    name = "reference"

    def __init__(self, scaling: str = "inverted", nonfinite: str = "multiply") -> None:
        self.policies = Policies(scaling=scaling, nonfinite=nonfinite)

    def _options(self) -> dict:
        return {"scaling": self.policies.scaling, "nonfinite": self.policies.nonfinite}

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return dropout(x, p, training=training, seed=seed, **self._options())

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        return dropout(x, p, training=True, seed=seed, return_mask=True, **self._options())

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        leaf = Tensor._make(x.data, x.shape, x.dtype)
        leaf.requires_grad = True
        y = dropout(leaf, p, training=training, seed=seed, **self._options())
        if not y.requires_grad:  # an identity that returned its input: the gradient is g
            return y, g
        y.backward(g)
        return y, leaf.grad

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        generator = Generator(seed)

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            return dropout(x, p, training=training, generator=generator, **self._options())

        return call

    def dropout_noise_shape(
        self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool, seed: int
    ) -> Tensor:
        return dropout(x, p, training=training, seed=seed, noise_shape=noise_shape, **self._options())
