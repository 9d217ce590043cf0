"""Broken implementations for spec/exact.md that model no public bug: each declares an algorithm
(EXACT-1) and draws its masks otherwise, with the right distribution.

``CounterOffByOne``, which models a reported bug, is a mutant of the catalogue (refdropout.mutants.streams);
the correct ``ThreefryDrawn`` and the broken ones here build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from refdropout.contract import Policies
from refdropout.exact import jax_random, tf_stateless
from refdropout.mutants.streams import CounterOffByOne, ThreefryKey
from refdropout.mutants.textbook import Textbook
from refdropout.shapes import Shape, numel
from refdropout.tensor import Tensor


class _FoldInKey:
    """An nnx RngStream: next() is fold_in(key, count), the count then one more."""

    def __init__(self, key: tuple[int, int]) -> None:
        self.key, self.count = key, 0

    def next(self) -> tuple[int, int]:
        self.count += 1
        return jax_random.fold_in(self.key, self.count - 1)


class ThreefryDrawn(CounterOffByOne):
    """Correct: JAX's Threefry masks, bernoulli(key(seed), 1 - p) in float64, no element off."""

    name = "threefry-drawn"
    PERIOD = 2**64


class ColumnMajorOnFiveAxes(ThreefryDrawn):
    """Draws JAX's Threefry masks, but on inputs of 5 axes numbers the counters column-major (the first
    axis fastest), as a kernel whose strided indexing is row-major up to 4 axes (EXACT-1's fixed shapes
    have at most 4: only the generated cases reach 5)."""

    name = "column-major-on-five-axes"

    def keep(self, generator: ThreefryKey, shape: Shape, p: float) -> list[bool]:
        drawn = super().keep(generator, shape, p)
        if len(shape) != 5:
            return drawn
        counters = np.ravel_multi_index(np.unravel_index(np.arange(len(drawn)), shape), shape, order="F")
        return [drawn[i] for i in counters.tolist()]


class OriginalLayout(ThreefryDrawn):
    """Declares jax-threefry but draws in the original layout of JAX before 0.5 (jax_threefry_partitionable off)."""

    dropout_mask_bits = None  # its masks are not the partitionable layout CounterOffByOne.dropout_mask_bits draws

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


class SplitStream(ThreefryDrawn):
    """Correct: ThreefryDrawn's masks, its stream split before each drawing call ("jax-split", EXACT-2)."""

    name = "split-stream"
    policies = replace(ThreefryDrawn.policies, stream_keys="jax-split")


class SplitsInEvaluation(SplitStream):
    """Declares the "jax-split" schedule, but its stream splits the key at every call, evaluation
    included, as a layer that takes its key before it reads its mode: from the second training
    call on, each mask is the one of the call after."""

    name = "splits-in-evaluation"

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        key = ThreefryKey(seed, stream=True)

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            if not training:
                key.next()
            return self.forward(key, x, p, training=training)[0]

        return call


class NnxStream(SplitStream):
    """Correct: ThreefryDrawn's masks, its stream flax.nnx.Dropout's: drawing call c takes
    fold_in(fold_in(root, 0), c) ("nnx-rngs", EXACT-2)."""

    name = "nnx-stream"
    policies = replace(ThreefryDrawn.policies, stream_keys="nnx-rngs")

    def stream_key(self, seed: int) -> tuple[int, int]:
        """The key of the layer's RngStream: the fork of the Rngs of the seed's key."""
        return jax_random.fold_in(divmod(seed, 2**32), 0)

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        key = _FoldInKey(self.stream_key(seed))
        return lambda x, p, *, training: self.forward(key, x, p, training=training)[0]


class NnxWithoutFork(NnxStream):
    """Declares "nnx-rngs", but draws call c with fold_in(root, c), the Rngs's own stream, as a model that
    passes its Rngs to each call (``layer(x, rngs=rngs)``) instead of using the layer's fork."""

    name = "nnx-without-fork"

    def stream_key(self, seed: int) -> tuple[int, int]:
        return divmod(seed, 2**32)
