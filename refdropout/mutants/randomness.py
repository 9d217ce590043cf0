"""Mutants of the kind "randomness" (refdropout.mutants.registry.KINDS): the masks are not independent Bernoulli(q).

Each derives from :class:`~refdropout.mutants.textbook.Textbook` and overrides how it seeds, draws
or thresholds its uniforms (spec/dropout.md, DROPOUT-11 to DROPOUT-19). The module also holds the
one Textbook mutant of the kind "structure", a noise_shape that is ignored (DROPOUT-11).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence

from ..adapters.array_tensor import BulkGenerator
from ..dtypes import DType, bfloat16, float16
from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = [
    "SameMaskEveryCall", "StreamNotAdvanced", "SeedIgnored", "SeedZeroUnseeded", "SeedTruncatedTo32Bits",
    "HighSeedBitsIgnoredIn16BitKernel", "BatchSharedMask", "MaskBroadcastOverChannels",
    "CorrelatedNeighbours", "ShortPeriod", "KeepThresholdIn8Bits", "UniformsInBfloat16", "UniformsInFloat16",
    "ExactCount", "NoiseShapeIgnored",
]


@mutant("randomness", models="PaddlePaddle/Paddle#7796: dropout always uses the same random seed.",
        caught_by=("DROPOUT-13", "DROPOUT-14", "DROPOUT-17"))
class SameMaskEveryCall(Textbook):
    """Draws every mask from Generator(0): the seed and the stream's state are ignored."""

    name = "same-mask-every-call"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return super().keep(BulkGenerator(0), shape, p)


@mutant("randomness", models="Dao-AILab/flash-attention#2088: Why philox_seed and philox_offset be constant?",
        caught_by=("DROPOUT-14",))
class StreamNotAdvanced(Textbook):
    """Restarts its stream's generator from the seed at every call: one stream gives one mask over and over."""

    name = "stream-not-advanced"

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        return lambda x, p, *, training: self.forward(self.generator(seed), x, p, training=training)[0]


@mutant("randomness", models="facebookresearch/xformers#173: Dropout uses the *memory address* of seeds "
        "instead of reading seeds from memory", caught_by=("DROPOUT-12",))
class SeedIgnored(Textbook):
    """Draws from one hidden generator of its own, whatever seed it is given."""

    name = "seed-ignored"

    def __init__(self) -> None:
        self.hidden = BulkGenerator(0)

    def generator(self, seed: int) -> Generator:
        return self.hidden


@mutant("randomness", models="PaddlePaddle/Paddle#7979: fix the bug that dropout always use a fixed seed.",
        caught_by=("DROPOUT-12",))
class SeedZeroUnseeded(Textbook):
    """Takes seed 0 for "no seed" and draws from a fresh random seed: two calls with seed 0 differ.

    The report's dropout operator read seed = 0 as "use a random seed" (the fix adds a flag
    ``fix_seed``, since 0 is a seed too); TensorFlow's random ops read the seed pair (0, 0) so
    (tensorflow/tensorflow#17284). Every other seed is kept.
    """

    name = "seed-zero-unseeded"

    def generator(self, seed: int) -> Generator:
        return super().generator(secrets.randbits(64) if seed == 0 else seed)


@mutant("randomness", models="flagos-ai/FlagGems#27: Dropout using Philox cuda state", caught_by=("DROPOUT-13",))
class SeedTruncatedTo32Bits(Textbook):
    """Keeps only the low 32 bits of the seed, so seeds s and s ^ 2^32 (two replicas) draw the same mask.

    The report downcasts the Philox seed to uint32 in the kernel; data-parallel replicas whose
    seeds differ in the high word (tenstorrent/tt-metal#16823 saw one mask on every device) then
    drop the same elements.
    """

    name = "seed-truncated-to-32-bits"

    def generator(self, seed: int) -> Generator:
        return super().generator(seed % 2**32)


@mutant("randomness", models="keras-team/keras#22293: [BUG] Fixes random seed integer overflow bug in OpenVINO and "
        "Torch backend", caught_by=("DROPOUT-13",))
class HighSeedBitsIgnoredIn16BitKernel(Textbook):
    """Its 16-bit kernel keeps only the low 32 bits of the seed: float16 and bfloat16 masks of seeds s and
    s ^ 2^32 are the same, float64 and float32 ones independent.

    The report's Torch backend wrapped seeds of 2^31 and more to int32, so that distinct seeds collided on
    that backend alone; here the narrowing lives on one path of one implementation, its kernel for the
    16-bit formats (the plain, masked and noise_shape calls; a stream keeps the whole seed). DROPOUT-13's
    float64 decisions pass it, its decisions in a 16-bit format do not.
    """

    name = "high-seed-bits-ignored-in-16-bit-kernel"

    def seed_for(self, x: Tensor, seed: int) -> int:
        return seed % 2**32 if x.dtype.itemsize == 2 else seed

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return super().dropout(x, p, training=training, seed=self.seed_for(x, seed))

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        return super().dropout_with_mask(x, p, seed=self.seed_for(x, seed))

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        return super().dropout_noise_shape(x, p, noise_shape, training=training, seed=self.seed_for(x, seed))


@mutant("randomness", models="clab/dynet#812: draw LSTM dropout masks per sentence, not per minibatch",
        caught_by=("ENSEMBLE-3", "DROPOUT-23"))
class BatchSharedMask(Textbook):
    """Draws one mask for the first row of a batch and gives it to every row: x[b] ⊙ m for one m.

    A tensor of rank 1 is one sample and gets a mask of its own, so only a check that drops a
    batch of two or more rows can see the rows agree (DROPOUT-23: its columns are all kept or all
    dropped; no other clause of spec/dropout.md sees it).
    """

    name = "batch-shared-mask"

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        drawn = super().mask_shape(shape, noise_shape)
        return (1, *drawn[1:]) if len(drawn) >= 2 else drawn


@mutant("randomness", models="miguelvr/dropblock#26: same results as traditional dropout if block_size=1",
        caught_by=("DROPOUT-23",))
class MaskBroadcastOverChannels(Textbook):
    """On a 4-axis input (batch, channels, height, width) draws one mask value per (batch, height, width) and
    gives it to every channel.

    In the report, DropBlock with blocks of one element should be plain dropout, and its maintainer finds
    the difference: the mask is broadcast to all the channels, which dropout does not do. Here plain
    dropout does it on 4-axis inputs only: every element keeps at q and inputs of 1 to 3 axes are right,
    so DROPOUT-23's square input passes it; its 4-axis input's channels 2t and 2t + 1 agree everywhere.
    """

    name = "mask-broadcast-over-channels"

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        drawn = super().mask_shape(shape, noise_shape)
        return (drawn[0], 1, *drawn[2:]) if len(drawn) == 4 else drawn


@mutant("randomness", models="AMReX-Codes/amrex#5662: SYCL: give each device RNG engine its own window of "
        "the Philox stream", caught_by=("DROPOUT-19",))
class CorrelatedNeighbours(Textbook):
    """Copies each element's keep decision to the next one with probability 0.3 (a lag-1 correlation).

    In the report, neighbouring work-items drew overlapping windows of one stream, so their
    numbers were correlated; here neighbouring elements are.
    """

    name = "correlated-neighbours"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        u = generator.uniform(shape).data
        copy = generator.uniform(shape).data
        keep = [u[0] < 1.0 - p] if u else []
        for i in range(1, len(u)):
            keep.append(keep[-1] if copy[i] < 0.3 else u[i] < 1.0 - p)
        return keep


class _Cycle:
    """A generator whose uniforms repeat every len(block) elements, across calls as within one."""

    def __init__(self, block: list[float]) -> None:
        self.block, self.at = block, 0

    def uniform(self, shape: Shape) -> Tensor:
        n = math.prod(shape)
        data = [self.block[(self.at + i) % len(self.block)] for i in range(n)]
        self.at += n
        return Tensor.from_flat(data, shape)


@mutant("randomness", models="flagos-ai/FlagGems#23: Memory efficient dropout",
        caught_by=("DROPOUT-14", "DROPOUT-16", "DROPOUT-19"))
class ShortPeriod(Textbook):
    """Draws from a 12-bit counter: its uniforms repeat every 4096 elements, within a mask and across calls.

    The report finds that Triton's 32-bit Philox offsets lack randomness for large tensors; a
    narrower counter shows the same defect at sizes a pure-Python check can draw.
    """

    name = "short-period"
    PERIOD = 2**12

    def generator(self, seed: int) -> _Cycle:
        return _Cycle(Generator(seed).uniform(self.PERIOD).data)


@mutant("randomness", models="NVIDIA/apex#1614: Use 8bit comparison to generate dropout mask",
        caught_by=("DROPOUT-16",))
class KeepThresholdIn8Bits(Textbook):
    """Compares 8-bit uniforms with the 8-bit threshold floor(256 q): q is rounded down to k/256."""

    name = "keep-threshold-in-8-bits"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        threshold = math.floor(256 * (1.0 - p))
        return [math.floor(256 * u) < threshold for u in generator.uniform(shape).data]


class _LowPrecisionUniforms(Textbook):
    """Keeps where u < q with u rounded to ``uniform_dtype``: near 1 the effective q moves by half a spacing."""

    uniform_dtype: DType

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [self.uniform_dtype.round(u) < 1.0 - p for u in generator.uniform(shape).data]


@mutant("randomness", models="jwohlwend/boltz#554: Fix bf16 dropout", caught_by=("DROPOUT-16",))
class UniformsInBfloat16(_LowPrecisionUniforms):
    """Draws its uniforms in bfloat16: rounded to 8 significant bits near 1, q = 0.999 keeps 0.998."""

    name = "uniforms-in-bfloat16"
    uniform_dtype = bfloat16


@mutant("randomness", models="pytorch/xla#2429: Add fp16 support for dropout operator", caught_by=("DROPOUT-16",),
        quick="q moves by 2.2e-4 at p = 0.001 (z = 2.9 at the quick n = 177,969); the standard n detects it")
class UniformsInFloat16(_LowPrecisionUniforms):
    """Draws its uniforms in float16: rounded to 11 significant bits, q = 0.999 keeps 0.99878.

    The report adds float16 dropout by casting float32 uniforms; this mutant draws them in
    float16 instead, as bfloat16 dropout did in jwohlwend/boltz#554.
    """

    name = "uniforms-in-float16"
    uniform_dtype = float16


@mutant("randomness", models="Lab41/pelops#10: Fix `drop_percentage` testing", caught_by=("DROPOUT-17",))
class ExactCount(Textbook):
    """Keeps exactly round(q n) elements of every call, at random places: counts do not vary.

    No public report of an exact-count dropout kernel was found; the closest, in a data pipeline,
    replaces a fixed drop fraction by an independent draw per item, which is what dropout needs.
    """

    name = "exact-count"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        u = generator.uniform(shape).data
        kept = round((1.0 - p) * len(u))
        threshold = sorted(u)[kept - 1] if kept else -1.0
        return [v <= threshold for v in u]


@mutant("structure", models="keras-team/keras#9841: The noise_shape param in Dropout is strange",
        caught_by=("DROPOUT-11",))
class NoiseShapeIgnored(Textbook):
    """Draws one mask value per element whatever noise_shape says."""

    name = "noise-shape-ignored"

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        return shape
