"""Broken implementations for spec/exact.md that model no public bug: each declares an algorithm
(EXACT-1) and draws its masks otherwise, with the right distribution.

``CounterOffByOne`` models a reported bug (uxlfoundation/oneDPL#1905) and belongs in the catalogue
of refdropout.mutants once the published detection matrix is regenerated with it.
"""

from __future__ import annotations

from collections.abc import Callable

from refdropout.contract import Policies
from refdropout.exact import jax_random, tf_stateless
from refdropout.mutants.textbook import Textbook
from refdropout.shapes import Shape, numel
from refdropout.tensor import Tensor


class _ThreefryKey:
    """A JAX key as a draw's state: a single call draws with it, a stream splits it before each draw."""

    def __init__(self, seed: int, *, stream: bool) -> None:
        self.key, self.stream = divmod(seed, 2**32), stream

    def next(self) -> tuple[int, int]:
        if not self.stream:
            return self.key
        self.key, sub = jax_random.split(self.key)
        return sub


class CounterOffByOne(Textbook):
    """Draws JAX's Threefry masks, but element i with i mod 10^6 = 10^6 - 1 reads counter i + 1: one bit in 10^6 wrong.

    Modelled on uxlfoundation/oneDPL#1905 (a Philox engine's counter increment fixed). A witness here
    until docs/detection-matrix.md is regenerated, when it joins the catalogue (refdropout.mutants).

    It declares the algorithm "jax-threefry" with the default key (hi, lo) of the seed, as the jax
    target does; the mask is bernoulli(key, 1 - p) in float64, except that every millionth element
    is decided by its neighbour's counter, as an increment off by one at a block boundary would
    (the report fixes a Philox engine's counter increment). The distribution of every mask is
    untouched, so only the exact clause can see it.
    """

    name = "counter-off-by-one"
    policies = Policies(scaling="inverted", nonfinite="multiply", algorithm="jax-threefry")
    PERIOD = 10**6

    def generator(self, seed: int) -> _ThreefryKey:
        return _ThreefryKey(seed, stream=False)

    def keep(self, generator: _ThreefryKey, shape: Shape, p: float) -> list[bool]:
        n = numel(shape)
        drawn = jax_random.bernoulli(generator.next(), 1.0 - p, n + 1, "float64").data
        return [drawn[i + 1 if i % self.PERIOD == self.PERIOD - 1 else i] == 1.0 for i in range(n)]

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        key = _ThreefryKey(seed, stream=True)
        return lambda x, p, *, training: self.forward(key, x, p, training=training)[0]


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
