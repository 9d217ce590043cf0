"""Broken implementations for spec/exact.md that model no public bug: each declares an algorithm
(EXACT-1) and draws its masks otherwise, with the right distribution.

``CounterOffByOne``, which models a reported bug, is a mutant of the catalogue (refdropout.mutants.streams);
the correct ``ThreefryDrawn`` and the broken ones here build on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from refdropout.contract import Policies
from refdropout.exact import jax_random, tf_stateless, torch_cuda
from refdropout.exact.streams import keras_seed_pair
from refdropout.mutants.streams import CounterOffByOne, ThreefryKey
from refdropout.mutants.textbook import Textbook
from refdropout.random import Generator
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


class _GeneratorCounter:
    """A ``tf.random.Generator.from_seed(seed)``'s Philox state: the key (0, 0) and a counter that starts
    at the seed and moves ``stride`` per element drawn."""

    def __init__(self, seed: int, stride: int) -> None:
        (self.key, self.counter), self.stride = tf_stateless.generator_state(seed), stride

    def draw(self, p: float, shape: Shape) -> list[bool]:
        mask = tf_stateless.philox_dropout_mask(self.key, self.counter, p, shape).data
        self.counter = (self.counter + self.stride * numel(shape)) % 2**128
        return [m == 1.0 for m in mask]


class GeneratorStream(Textbook):
    """Correct: TensorFlow's masks in float32, stateless_dropout's of the seed pair [lo, hi] for one call,
    and a stream that draws as general_dropout on tf.random.Generator.from_seed(seed) ("tf-generator",
    EXACT-2)."""

    name = "generator-stream"
    policies = Policies(scaling="inverted", nonfinite="multiply", algorithm="tf-stateless-philox",
                        stream_keys="tf-generator")
    dtypes = ("float32",)  # the uniforms below are float32's
    STRIDE = tf_stateless.GENERATOR_STRIDE

    def generator(self, seed: int) -> tuple[int, int]:
        return seed % 2**32, seed >> 32

    def keep(self, generator: tuple[int, int] | _GeneratorCounter, shape: Shape, p: float) -> list[bool]:
        if isinstance(generator, _GeneratorCounter):
            return generator.draw(p, shape)
        return [m == 1.0 for m in tf_stateless.stateless_dropout_mask(generator, p, numel(shape)).data]

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        counter = _GeneratorCounter(seed, self.STRIDE)
        return lambda x, p, *, training: self.forward(counter, x, p, training=training)[0]


class GeneratorPerBlock(GeneratorStream):
    """Declares "tf-generator", but its counter moves 256 per Philox block of 4 elements, not 256 per
    element, as a reading of the kernel's Skip(256 n) in words rather than blocks: from the second
    drawing call on, every mask comes from a counter 4 times too near the seed."""

    name = "generator-per-block"
    STRIDE = tf_stateless.GENERATOR_STRIDE // 4


class _CudaGenerator:
    """PyTorch's CUDA generator seeded with a seed: its offset starts at 0 and a drawing call on n
    elements moves it on by ``advance(n)``."""

    def __init__(self, seed: int, advance: Callable[[int], int]) -> None:
        self.seed, self.offset, self.advance = seed, 0, advance

    def take(self, n: int) -> int:
        offset, self.offset = self.offset, self.offset + self.advance(n)
        return offset


class TorchCudaDrawn(Textbook):
    """Correct: the masks torch-cuda-philox predicts for a CUDA device of 2 multiprocessors of 1024 threads
    (a launch of at most 8 blocks), the generator seeded with the seed at offset 0, and a stream whose
    offset moves on per call as "torch-cuda-offset" says: PyTorch's fused dropout kernel as spec/exact.md
    derives it (unverified against hardware), drawn by the engine."""

    name = "torch-cuda-drawn"
    policies = Policies(scaling="inverted", nonfinite="multiply", algorithm="torch-cuda-philox",
                        stream_keys="torch-cuda-offset")
    GEOMETRY = (2, 1024)

    def cuda_geometry(self) -> tuple[int, int]:
        return self.GEOMETRY

    def advance(self, n: int) -> int:
        """The offset a call on n elements moves on (none on an empty x: torch_cuda.stream_offsets)."""
        return torch_cuda.offset_increment(n, torch_cuda.launch_grid(n, *self.GEOMETRY)) if n else 0

    def generator(self, seed: int) -> _CudaGenerator:
        return _CudaGenerator(seed, self.advance)

    def keep_mask(self, seed: int, offset: int, shape: Shape, dtype, p: float) -> list[bool]:
        sms, threads = self.GEOMETRY
        return [m == 1.0 for m in torch_cuda.dropout_mask(seed, offset, p, shape, dtype, multiprocessors=sms,
                                                          threads_per_multiprocessor=threads).data]

    def forward(self, generator: _CudaGenerator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        p = self.rate(p)
        if not self.draws(p, training) or noise_shape is not None or not x.size:
            return super().forward(Generator(generator.seed), x, p, training=training, noise_shape=noise_shape)
        offset = generator.take(x.size)
        keep = Tensor.from_flat(self.keep_mask(generator.seed, offset, x.shape, x.dtype, p), x.shape, "bool")
        return self.scale(x, keep, p), keep


class OffsetPerElement(TorchCudaDrawn):
    """Declares "torch-cuda-offset", but its generator's offset moves on by a uniform per element (n rounded
    up to a multiple of 4), as a kernel of one thread per element would reserve, not by the 4 uniforms per
    pass of each thread that the fused kernel reserves: from the second drawing call on, masks differ."""

    name = "offset-per-element"

    def advance(self, n: int) -> int:
        return -(-n // 4) * 4


class VecTwoReusesWords(TorchCudaDrawn):
    """Declares torch-cuda-philox, but at vector width 2 (float64 of even n, the other formats of n = 2 mod 4)
    a thread draws a fresh curand_uniform4 every second pass only and takes the last two words of the
    previous draw in between, as the kernel's comment intends (pytorch/pytorch#50110; the reuse never
    happens in the kernel, pytorch/pytorch#68909): from a thread's second pass on, the masks differ."""

    name = "vec-two-reuses-words"

    def keep_mask(self, seed: int, offset: int, shape: Shape, dtype, p: float) -> list[bool]:
        n = numel(shape)
        if n == 0 or torch_cuda.vector_width(n, dtype.itemsize) != 2:
            return super().keep_mask(seed, offset, shape, dtype, p)
        threads = torch_cuda.BLOCK * torch_cuda.launch_grid(n, *self.GEOMETRY)
        passes = -(-n // (2 * threads))  # of the thread that runs the most
        draws = -(-passes // 2)  # two passes a draw
        words = torch_cuda._words((seed % 2**32, seed >> 32),
                                  [(offset // 4 + k, t) for k in range(draws) for t in range(threads)])
        threshold = torch_cuda.keep_threshold(torch_cuda._keep_prob(p, dtype))
        keep = []
        for i in range(n):
            t, j = (i // 2) % threads, (i // 2) // threads
            keep.append(words[((j // 2) * threads + t) * 4 + 2 * (j % 2) + i % 2] < threshold)
        return keep


class KerasStream(GeneratorStream):
    """Correct: TensorFlow's stateless masks in float32 under Keras's seed pairs: a call of a fresh layer
    [int64(s) mod (2^31 - 2), 0] (its algorithm_key), a stream's drawing call c the pair of [s, c] reduced
    alike ("keras-seed-generator", EXACT-2)."""

    name = "keras-stream"
    policies = Policies(scaling="inverted", nonfinite="multiply", algorithm="tf-stateless-philox",
                        stream_keys="keras-seed-generator")
    COUNTS_EVALUATION = False

    def algorithm_key(self, seed: int) -> tuple[int, int]:
        return keras_seed_pair(seed)

    def generator(self, seed: int) -> tuple[int, int]:
        return keras_seed_pair(seed)

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        counter = [0]

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            pair = keras_seed_pair(seed, counter[0])
            counter[0] += self.draws(p, training) or self.COUNTS_EVALUATION
            return self.forward(pair, x, p, training=training)[0]

        return call


class KerasCountsEveryCall(KerasStream):
    """Declares "keras-seed-generator", but its SeedGenerator's counter moves at every call, evaluation
    included, as a layer that draws its seed before it reads its mode: from the call after an evaluation
    call on, each mask is drawn with the next call's seed pair."""

    name = "keras-counts-every-call"
    COUNTS_EVALUATION = True
