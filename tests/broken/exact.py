"""Broken implementations for spec/exact.md that model no public bug: each declares an algorithm
(EXACT-1) and draws its masks otherwise, with the right distribution; and the correct ThreefryDrawn.

``CounterOffByOne``, which models a reported bug, is a mutant of the catalogue
(refdropout.mutants.streams).
"""

from __future__ import annotations

from refdropout.contract import Policies
from refdropout.exact import jax_random, tf_stateless
from refdropout.mutants.streams import CounterOffByOne
from refdropout.mutants.textbook import Textbook
from refdropout.shapes import Shape, numel


class ThreefryDrawn(CounterOffByOne):
    """Correct: JAX's Threefry masks, bernoulli(key(seed), 1 - p) in float64, no element off."""

    name = "threefry-drawn"
    PERIOD = 2**64


class OriginalLayout(ThreefryDrawn):
    """Declares jax-threefry but draws in the original layout of JAX before 0.5 (jax_threefry_partitionable off)."""

    name = "original-layout"

    def keep(self, generator, shape: Shape, p: float) -> list[bool]:
        return [m == 1.0 for m in jax_random.bernoulli(generator.next(), 1.0 - p, shape, "float64",
                                                      partitionable=False).data]


class SeedPairSwapped(Textbook):
    """Declares tf-stateless-philox but keys Philox with the seed pair [hi, lo], not [lo, hi]."""

    name = "seed-pair-swapped"
    policies = Policies(scaling="inverted", nonfinite="multiply", algorithm="tf-stateless-philox")
    dtypes = ("float32",)  # the uniforms below are float32's

    def generator(self, seed: int) -> tuple[int, int]:
        return divmod(seed, 2**32)

    def keep(self, generator: tuple[int, int], shape: Shape, p: float) -> list[bool]:
        return [m == 1.0 for m in tf_stateless.stateless_dropout_mask(generator, p, numel(shape)).data]
