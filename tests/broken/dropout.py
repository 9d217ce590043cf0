"""Broken implementations of standard dropout (spec/dropout.md), each wrong in exactly one way.

Each derives from :class:`Textbook`, a correct dropout written as a framework kernel is written:
keep where a uniform u is below q, then y = x ⊙ m · fl(1/q) in x's dtype. Its forward pass is
made of steps (rate, draws, keep, scale, ...); a broken implementation overrides one of them.
"""

from __future__ import annotations

from typing import Callable, Sequence

from refdropout.conformance.protocol import Policies
from refdropout.dropout.arguments import check_rate, resolve_noise_shape
from refdropout.ops import where
from refdropout.random import Generator
from refdropout.shapes import Shape, broadcast_index
from refdropout.tensor import Tensor


class Textbook:
    """Correct: m_i = [u_i < q] on 53-bit uniforms, y = x ⊙ m · fl(1/q) in x's dtype, eval y = x."""

    name = "textbook"
    policies = Policies(scaling="inverted", nonfinite="multiply")
    dtypes = ("float64", "float32", "float16", "bfloat16")

    # --- the steps, each overridden by some broken implementation ---

    def rate(self, p: object) -> float:
        return check_rate(p, self.name)

    def generator(self, seed: int) -> Generator:
        return Generator(seed)

    def draws(self, p: float, training: bool) -> bool:
        """Whether the call draws a mask: only in training, and not at p = 0."""
        return training and p > 0.0

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < 1.0 - p for u in generator.uniform(shape).data]

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        """x ⊙ m · fl(1/q): a dropped NaN or inf gives NaN (the "multiply" policy)."""
        return x * keep.astype(x.dtype) * (0.0 if p == 1.0 else 1.0 / (1.0 - p))

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        return resolve_noise_shape(shape, noise_shape, None, self.name)

    # --- the forward pass and the protocol's capabilities ---

    def forward(self, generator: Generator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        """(y, keep mask of x's shape)."""
        p = self.rate(p)
        if not self.draws(p, training):
            return x, Tensor._make([True] * x.size, x.shape, "bool")
        shape = self.mask_shape(x.shape, noise_shape)
        drawn = self.keep(generator, shape, p)
        keep = Tensor._make([drawn[i] for i in broadcast_index(shape, x.shape)], x.shape, "bool")
        return self.scale(x, keep, p), keep

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self.forward(self.generator(seed), x, p, training=training)[0]

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        return self.forward(self.generator(seed), x, p, training=True)

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        # for a fixed mask dropout is linear, so dL/dx is dropout of g with the same seed
        return self.dropout(x, p, training=training, seed=seed), self.dropout(g, p, training=training, seed=seed)

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        generator = self.generator(seed)
        return lambda x, p, *, training: self.forward(generator, x, p, training=training)[0]

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        return self.forward(self.generator(seed), x, p, training=training, noise_shape=noise_shape)[0]


# --- wrong values ---------------------------------------------------------------------------------


class NoRescale(Textbook):
    """Declares inverted scaling but returns x ⊙ m: kept elements are not divided by q."""

    name = "no-rescale"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype)


class OneOverP(Textbook):
    """Scales kept elements by 1/p instead of 1/q."""

    name = "one-over-p"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) * (1.0 / p)


class SwappedRate(Textbook):
    """Takes p for the keep probability: keeps with probability p and scales by 1/p (E[y] = x still)."""

    name = "swapped-rate"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < p for u in generator.uniform(shape).data]

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) * (1.0 / p)


class NaNAtPOne(Textbook):
    """Computes x ⊙ m / q with no case for p = 1, where it is 0 / 0 = NaN."""

    name = "nan-at-p-one"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) / (1.0 - p)


class ActiveInEval(Textbook):
    """Draws and applies a mask in eval mode too."""

    name = "active-in-eval"

    def draws(self, p: float, training: bool) -> bool:
        return p > 0.0


class WrongPolicy(Textbook):
    """Declares the "multiply" policy but selects: a dropped NaN or inf becomes 0."""

    name = "wrong-policy"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return where(keep, x * (0.0 if p == 1.0 else 1.0 / (1.0 - p)), 0.0)


class AcceptsAnyRate(Textbook):
    """Clamps p into [0, 1] (and reads "0.5" or True as numbers) instead of refusing it."""

    name = "accepts-any-rate"

    def rate(self, p: object) -> float:
        return min(max(float(p), 0.0), 1.0)


# --- wrong randomness -----------------------------------------------------------------------------


class StrictComparison(Textbook):
    """Keeps where u > p with 8-bit uniforms u = k/255 that can be exactly 0, and draws at p = 0 too."""

    name = "strict-comparison"

    def draws(self, p: float, training: bool) -> bool:
        return training

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [int(256 * u) / 255 > p for u in generator.uniform(shape).data]


class SameMaskEveryCall(Textbook):
    """Draws every mask from Generator(0): the seed and the stream's state are ignored."""

    name = "same-mask-every-call"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return super().keep(Generator(0), shape, p)


class SeedIgnored(Textbook):
    """Draws from one hidden generator of its own, whatever seed it is given."""

    name = "seed-ignored"

    def __init__(self) -> None:
        self.hidden = Generator(0)

    def generator(self, seed: int) -> Generator:
        return self.hidden


class ExactCount(Textbook):
    """Keeps exactly round(q n) elements of every call, at random places: counts do not vary."""

    name = "exact-count"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        u = generator.uniform(shape).data
        kept = round((1.0 - p) * len(u))
        threshold = sorted(u)[kept - 1] if kept else -1.0
        return [v <= threshold for v in u]


class CorrelatedNeighbours(Textbook):
    """Copies each element's keep decision to the next one with probability 0.3 (a lag-1 correlation)."""

    name = "correlated-neighbours"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        u = generator.uniform(shape).data
        copy = generator.uniform(shape).data
        keep = [u[0] < 1.0 - p] if u else []
        for i in range(1, len(u)):
            keep.append(keep[-1] if copy[i] < 0.3 else u[i] < 1.0 - p)
        return keep


class BiasedFirstLane(Textbook):
    """Keeps element 0 of every 16 (one lane of a 16-wide vector unit) with probability q - 0.2."""

    name = "biased-first-lane"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < 1.0 - p - (0.2 if i % 16 == 0 else 0.0) for i, u in enumerate(generator.uniform(shape).data)]


class NoiseShapeIgnored(Textbook):
    """Draws one mask value per element whatever noise_shape says."""

    name = "noise-shape-ignored"

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        return shape
