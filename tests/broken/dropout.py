"""Broken implementations of standard dropout (spec/dropout.md) that model no public bug.

The broken implementations that model a reported bug are mutants of the catalogue,
refdropout.mutants (scale, rate, edges, randomness, values); the ones here are witnesses only,
each showing that one check can fail. Each derives from
:class:`~refdropout.mutants.textbook.Textbook` and overrides one of its steps; a witness of some formats
only (``_InSomeFormats``) runs such a step, or a catalogue mutant's, on inputs of those formats alone,
so that only a clause's decisions in every declared format see it. The seed witnesses of
DROPOUT-12 and DROPOUT-13 (the last section) wrap the reference instead; they name the public report
they model, but live here: a mutant of the catalogue would mean regenerating the detection matrix.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence

import numpy as np

from refdropout.adapters.reference import ReferenceDropout
from refdropout.contract import Policies
from refdropout.dtypes import float32
from refdropout.mutants.randomness import BatchSharedMask, ExactCount, SameMaskEveryCall
from refdropout.mutants.textbook import Textbook
from refdropout.random import Generator
from refdropout.shapes import Shape
from refdropout.tensor import Tensor


class ActiveInEval(Textbook):
    """Draws and applies a mask in eval mode too."""

    name = "active-in-eval"

    def draws(self, p: float, training: bool) -> bool:
        return p > 0.0


class BiasedFirstLane(Textbook):
    """Keeps element 0 of every 16 (one lane of a 16-wide vector unit) with probability q - 0.2."""

    name = "biased-first-lane"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < 1.0 - p - (0.2 if i % 16 == 0 else 0.0) for i, u in enumerate(generator.uniform(shape).data)]


class BiasedLaneOf64(Textbook):
    """Keeps element 63 of every 64 (the last lane of a 64-wide unit) with probability q - 0.2: a lane
    that DROPOUT-18's calls of 16 elements never reach."""

    name = "biased-lane-of-64"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < 1.0 - p - (0.2 if i % 64 == 63 else 0.0) for i, u in enumerate(generator.uniform(shape).data)]


class LaneReusesItsNeighbour(Textbook):
    """Element 64 k + 32 takes the keep decision of element 64 k + 31, as a 64-wide kernel whose second
    half-vector starts from the last random word of the first: every element keeps at q, and the pooled
    pairs of DROPOUT-19 never pair 31 with 32 (their lag-1 pairs are 2 j with 2 j + 1): a correlation
    of 1 at one position class of 64, which only the pairs by position class see."""

    name = "lane-reuses-its-neighbour"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        drawn = super().keep(generator, shape, p)
        for i in range(32, len(drawn), 64):
            drawn[i] = drawn[i - 1]
        return drawn


class ChannelSharedMaskOnFourAxes(Textbook):
    """On a 4-axis input (batch, channels, height, width) draws one mask value per (batch, height, width)
    and shares it across the channels, as an NCHW kernel that broadcasts its mask over C by mistake:
    right on 1- and 2-axis inputs, so DROPOUT-23's square input passes it; every element keeps at q."""

    name = "channel-shared-mask-on-four-axes"

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        drawn = super().mask_shape(shape, noise_shape)
        return (drawn[0], 1, *drawn[2:]) if len(drawn) == 4 else drawn


class TailAlwaysKept(Textbook):
    """Keeps every element past the last multiple of 8, as a vectorized kernel whose scalar remainder
    loop copies x instead of drawing (the overall rate moves by at most 7 / n)."""

    name = "tail-always-kept"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        drawn = super().keep(generator, shape, p)
        whole = len(drawn) // 8 * 8
        return drawn[:whole] + [True] * (len(drawn) - whole)


class _InSomeFormats:
    """A broken step (keep or mask_shape) run on inputs of ``formats`` only, as a kernel of its own for
    them (other vector widths, its own remainder loop, its own stream handling); every other format gets
    the textbook's."""

    formats: tuple[str, ...] = ("float16",)
    broken = False

    def forward(self, generator: Generator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        self.broken = x.dtype.name in self.formats
        return super().forward(generator, x, p, training=training, noise_shape=noise_shape)  # type: ignore[misc]

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return super().keep(generator, shape, p) if self.broken else Textbook.keep(self, generator, shape, p)  # type: ignore[misc,arg-type]

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        return (super().mask_shape(shape, noise_shape) if self.broken  # type: ignore[misc]
                else Textbook.mask_shape(self, shape, noise_shape))  # type: ignore[arg-type]


class TailAlwaysKeptInFloat16(_InSomeFormats, TailAlwaysKept):
    """TailAlwaysKept in the float16 kernel only: DROPOUT-22's float64 decisions pass it, its float16
    ones do not."""

    name = "tail-always-kept-in-float16"


class LaneReusesItsNeighbourInFloat16(_InSomeFormats, LaneReusesItsNeighbour):
    """LaneReusesItsNeighbour in the float16 kernel only: DROPOUT-19's float64 decisions pass it, its
    float16 ones by position class do not."""

    name = "lane-reuses-its-neighbour-in-float16"


class SameMaskEveryCallIn16Bit(_InSomeFormats, SameMaskEveryCall):
    """SameMaskEveryCall in the kernel of the 16-bit formats only, as one that restarts from a fixed state
    instead of advancing the stream: DROPOUT-14's float64 and float32 decisions pass it, its float16 one
    does not."""

    name = "same-mask-every-call-in-16-bit"
    formats = ("float16", "bfloat16")


class ExactCountInFloat32(_InSomeFormats, ExactCount):
    """ExactCount in the float32 kernel only: DROPOUT-17's float64 decision passes it, its float32 one does
    not (every call keeps round(q n))."""

    name = "exact-count-in-float32"
    formats = ("float32",)


class BiasedFirstLaneInBfloat16(_InSomeFormats, BiasedFirstLane):
    """BiasedFirstLane in the bfloat16 kernel only: DROPOUT-18's float64, float32 and float16 decisions pass
    it, its bfloat16 one does not."""

    name = "biased-first-lane-in-bfloat16"
    formats = ("bfloat16",)


class BatchSharedMaskInFloat16(_InSomeFormats, BatchSharedMask):
    """BatchSharedMask in the float16 kernel only: the rows of a float16 batch share one mask, so DROPOUT-23's
    float64 and float32 decisions pass it and its float16 columns do not."""

    name = "batch-shared-mask-in-float16"


class UniformsInInputFormat(Textbook):
    """Draws its uniforms on the grid of x's format (multiples of its eps: 1,024 values in float16, 128
    in bfloat16) and keeps u >= fl(p), as tf.nn.dropout does: right in float64, off in the 16-bit formats."""

    name = "uniforms-in-input-format"
    dtypes = ("float64", "bfloat16")

    def forward(self, generator: Generator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        self.format = x.dtype  # the format keep() rounds to
        return super().forward(generator, x, p, training=training, noise_shape=noise_shape)

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        eps, rate = self.format.eps, self.format.round(p)
        return [math.floor(u / eps) * eps >= rate for u in generator.uniform(shape).data]


# --- declared policies (protocol.Policies): each witness has the behaviour it declares; the same
# class declaring the reference's policy instead is the misdeclaration its check must fail


class RefusesPOne(Textbook):
    """Raises at p = 1 in training, as declared (p_one = "refused"); evaluation at p = 1 is x."""

    name = "refuses-p-one"
    policies = Policies(p_one="refused")

    def draws(self, p: float, training: bool) -> bool:
        if training and p == 1.0:
            raise ValueError(f"p must be in [0, 1), got {p!r}")
        return super().draws(p, training)


class ClaimsRefusalGivesZeros(Textbook):
    """Declares p_one = "refused" but returns zeros at p = 1: a misdeclared policy."""

    name = "claims-refusal-gives-zeros"
    policies = Policies(p_one="refused")


class BoolsAsNumbers(Textbook):
    """Takes True and False as the rates 1 and 0, as declared (p_validation = "bool_as_number")."""

    name = "bools-as-numbers"
    policies = Policies(p_validation="bool_as_number")

    def rate(self, p: object) -> float:
        return super().rate(float(p) if isinstance(p, bool) else p)


class EvaluationIgnoresRate(Textbook):
    """Returns x in evaluation without reading p, as declared (p_validation = "training_only")."""

    name = "evaluation-ignores-rate"
    policies = Policies(p_validation="training_only")

    def forward(self, generator: Generator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        if not training:
            return x, Tensor.from_flat([True] * x.size, x.shape, "bool")
        return super().forward(generator, x, p, training=training, noise_shape=noise_shape)


class ChainersValidation(EvaluationIgnoresRate, BoolsAsNumbers):
    """Takes True and False as 1 and 0 in training and reads no p in evaluation, as Chainer's dropout does,
    as declared (p_validation = "bool_as_number+training_only")."""

    name = "chainers-validation"
    policies = Policies(p_validation="bool_as_number+training_only")


class Keeps32SeedBits(Textbook):
    """Seeds its generator with the low 32 bits of the seed, as declared (seed_bits = 32)."""

    name = "keeps-32-seed-bits"
    policies = Policies(seed_bits=32)

    def generator(self, seed: int) -> Generator:
        return Generator(seed & 0xFFFF_FFFF)


class FlushesSubnormals(Textbook):
    """Writes a subnormal result as ±0 (flush to zero), as declared (subnormals = "flushed")."""

    name = "flushes-subnormals"
    policies = Policies(subnormals="flushed")

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return flush_subnormals(super().scale(x, keep, p))


def flush_subnormals(x: Tensor) -> Tensor:
    """x with each subnormal of its format made ±0 of its sign, as FTZ/DAZ do."""
    normal = math.ldexp(1.0, x.dtype.emin)
    return Tensor.from_flat([math.copysign(0.0, v) if abs(v) < normal else v for v in x.data], x.shape, x.dtype)


class ScaleInInputFormat(Textbook):
    """x · fl_T(1 / fl_T(q)): q rounded to x's format first, as XLA computes a weakly typed x / q, as
    declared (scale_format = "input"), within one ulp of fl_T(x / fl_T(q)); where that reciprocal
    overflows T (float16 at q < 1/65520), x / fl_T(q) itself, which "input" requires (DROPOUT-2; XLA
    gives inf there, flax's and equinox's known deviation). A dropped x gives x · 0."""

    name = "scale-in-input-format"
    policies = Policies(scale_format="input")

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        q = x.dtype.round(1.0 - p)  # 0 where p rounds to 1 in x's format: then the scale is inf
        scale = x.dtype.round(1.0 / q) if q else math.inf
        return Tensor.from_flat([(v * scale if math.isfinite(scale) or not q else v / q) if k else v * 0.0
                                 for v, k in zip(x.data, keep.data)], x.shape, x.dtype)


class DividesByQInInputFormat(Textbook):
    """y = x m / fl_T(q), q rounded to x's format T first, as declared (scale_format = "input"), computed as
    dm-haiku's ``keep * x / keep_rate`` is: right within one ulp wherever fl_T(q) > 0, but in float16 at
    q = 2^-25 (p = 1 - 2^-25), where fl16(q) = 0, a dropped element is 0 / 0 = NaN (jax 0.10.2's known
    deviation; the noise-shape search's first case, the fixed cases being at p = 0.3)."""

    name = "divides-by-q-in-input-format"
    policies = Policies(scale_format="input")

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) / x.dtype.round(1.0 - p)


class ReciprocalInInputFormat(Textbook):
    """y = x · fl_T(1/q): the noise m / q made in x's format T, as PyTorch's CPU kernel makes it
    (bernoulli(q).div_(q), torch 2.13). Right within one ulp wherever 1/q fits T; in float16 at
    q < 1/65520 the scale is inf, and a kept x gives inf (a kept 0 NaN) where x/q is finite."""

    name = "reciprocal-in-input-format"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        scale = 0.0 if p == 1.0 else x.dtype.round(1.0 / (1.0 - p))
        return Tensor.from_flat([v * scale if k else v * 0.0 for v, k in zip(x.data, keep.data)], x.shape, x.dtype)


class ScaleInFloat32(Textbook):
    """Reads p as a float32 and divides by q32 = fl32(1 - p), y = fl_T(x m / q32), as ONNX Runtime's
    CPU kernel does, as declared (scale_format = "float32")."""

    name = "scale-in-float32"
    policies = Policies(scale_format="float32")

    def rate(self, p: object) -> float:
        return super().rate(float32.round(p) if isinstance(p, float) else p)

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        q32 = float32.round(1.0 - p)
        return Tensor.from_flat([v * k * 0.0 if p == 1.0 else v * k / q32 for v, k in zip(x.data, keep.data)],
                            x.shape, x.dtype)


class ScaleByFloat32Reciprocal(ScaleInFloat32):
    """Reads p as a float32 and multiplies by the reciprocal of q32 taken in float32, then in x's format,
    y = fl_T(x m fl_T(fl32(1 / q32))), as MindSpore's CPU kernel does, as declared
    (scale_format = "float32_reciprocal")."""

    name = "scale-by-float32-reciprocal"
    policies = Policies(scale_format="float32_reciprocal")

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        q32 = float32.round(1.0 - p)
        scale = x.dtype.round(float32.round(1.0 / q32)) if q32 else math.inf
        return Tensor.from_flat([v * scale if k else v * 0.0 for v, k in zip(x.data, keep.data)], x.shape, x.dtype)


class SaturatesAtLargest(Textbook):
    """Writes a kept value past x's format's largest finite value M as ±M, not ±inf: a clamp against
    float16 overflow (Hugging Face's T5 clamps fp16 activations below finfo.max) or a saturating conversion
    (PTX's cvt.rn.satfinite). Wrong two steps past M and beyond (DROPOUT-8's third overflow corner)."""

    name = "saturates-at-largest"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        y, top = super().scale(x, keep, p), x.dtype.max
        return Tensor.from_flat([math.copysign(top, v) if abs(v) > top else v for v in y.data], y.shape, y.dtype)


# --- seeds (DROPOUT-12, DROPOUT-13): a special seed, or the high half of a 64-bit seed, mishandled on one
# path. Each hands the reference's dropout (its numpy path: the checks' bulk calls stay fast) a mishandled seed.

LOW_32_BITS = 0xFFFF_FFFF
BULK = 2**16  # the size from which HighSeedBitsIgnoredInBulk takes its bulk path


class _SeedHandling:
    """The reference's dropout, handed ``self.seed_for(x, seed)`` instead of the seed: the capability alone."""

    name = "seed-handling"
    dtypes: tuple[str, ...] = ("float64",)

    def __init__(self) -> None:
        self.reference = ReferenceDropout()

    def seed_for(self, x: Tensor | np.ndarray, seed: int) -> int:
        return seed

    def dropout(self, x: Tensor | np.ndarray, p: float, *, training: bool, seed: int) -> Tensor | np.ndarray:
        return self.reference.dropout(x, p, training=training, seed=self.seed_for(x, seed))


class SeedZeroUnseeded(_SeedHandling):
    """Takes seed 0 as "no seed" and draws from fresh entropy, so two calls with seed 0 differ, as the
    C++ random ops of TensorFlow take the seed pair (0, 0) (tensorflow/tensorflow#17284) and as
    crdoconnor/xeger#17 reports of Xeger(seed=0)."""

    name = "seed-zero-unseeded"

    def seed_for(self, x: Tensor | np.ndarray, seed: int) -> int:
        return secrets.randbits(64) if seed == 0 else seed


class HighSeedBitsIgnoredInBulk(_SeedHandling):
    """Seeds its bulk path (inputs of 2^16 elements or more) with the low 32 bits of the seed only, so seeds
    s and s ^ 2^32 draw one mask there: a 64-bit seed narrowed to an unsigned int on one code path, as
    mapequation/infomap#949 found in its parallel trials (and numpy/numpy#4676 in RandomState)."""

    name = "high-seed-bits-ignored-in-bulk"

    def seed_for(self, x: Tensor | np.ndarray, seed: int) -> int:
        return seed & LOW_32_BITS if x.size >= BULK else seed


class HighSeedBitsIgnoredInFloat16(_SeedHandling):
    """Seeds its float16 kernel with the low 32 bits of the seed only, so seeds s and s ^ 2^32 draw one
    float16 mask: a seed narrowed to 32 bits on one backend of several, as keras-team/keras#22293 found
    of Keras's Torch backend; float64 keeps all 64 bits."""

    name = "high-seed-bits-ignored-in-float16"
    dtypes = ("float64", "float16")

    def seed_for(self, x: Tensor | np.ndarray, seed: int) -> int:
        return seed & LOW_32_BITS if x.dtype.name == "float16" else seed


class HighSeedBitsIgnoredWhenTiny(_SeedHandling):
    """Seeds its path for tiny inputs (below 8 elements, a scalar loop short of one vector) with the low 32
    bits of the seed only: the bulk witness's defect on the other path, which DROPOUT-13's bulk calls never
    take."""

    name = "high-seed-bits-ignored-when-tiny"

    def seed_for(self, x: Tensor | np.ndarray, seed: int) -> int:
        return seed & LOW_32_BITS if x.size < 8 else seed


# --- wrong only outside the fixed cases' slice: each caught by its clause's generated cases alone


class SkipsRescaleForTinyRates(Textbook):
    """Returns x ⊙ m without the 1/q below p = 1e-6, as a fast path that takes a tiny rate for 0 would:
    off by a factor 1 + p, which binary64 shows (the fixed cases' rates are 0.1 to 0.999)."""

    name = "skips-rescale-for-tiny-rates"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        return x * keep.astype(x.dtype) if p < 1e-6 else super().scale(x, keep, p)


def _tail(size: int, width: int = 8) -> range:
    """The flat positions past the last multiple of ``width``: a vectorized kernel's remainder loop."""
    return range(size // width * width, size)


class RoundsAtRateZeroOnManyAxes(Textbook):
    """At p = 0 on inputs of 4 or more axes returns x rounded to float32, as a kernel that flattens
    such inputs through a float32 buffer (the fixed cases' inputs have at most 3 axes)."""

    name = "rounds-at-rate-zero-on-many-axes"
    dtypes = ("float64",)

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        if training and p == 0.0 and x.ndim >= 4:
            return Tensor.from_flat([float32.round(v) for v in x.data], x.shape, x.dtype)
        return super().dropout(x, p, training=training, seed=seed)


class TailDividesByZeroAtRateOne(Textbook):
    """At p = 1 its remainder loop computes x · 0 / q with q = 0: NaN past the last multiple of 8 (the
    fixed cases' 4,096 elements have no remainder)."""

    name = "tail-divides-by-zero-at-rate-one"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        y = super().scale(x, keep, p)
        if p < 1.0:
            return y
        tail = set(_tail(x.size))
        return Tensor.from_flat([math.nan if i in tail else v for i, v in enumerate(y.data)], y.shape, y.dtype)


class ActiveInEvalAtSeedZero(Textbook):
    """In evaluation with seed 0 drops as in training, as an implementation that takes seed 0 for
    "no seed given" and then reads its mode from a global flag (the fixed cases' seeds are hashes)."""

    name = "active-in-eval-at-seed-zero"

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return super().dropout(x, p, training=training or seed == 0, seed=seed)


class TailScaledByRate(Textbook):
    """Scales the kept elements past the last multiple of 8 by 1/p instead of 1/q, as a remainder loop
    written with the rate swapped (the fixed cases' 4,096 elements have no remainder)."""

    name = "tail-scaled-by-rate"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        y = super().scale(x, keep, p)
        tail = set(_tail(x.size))
        return Tensor.from_flat([x.dtype.round(x.data[i] / p) if i in tail and keep.data[i] else v
                                 for i, v in enumerate(y.data)], y.shape, y.dtype)


class SelectsOnManyAxes(Textbook):
    """Declares "multiply" but on inputs of 2 or more axes a dropped NaN or ±inf gives 0, as a kernel
    whose batched path selects (the fixed cases' non-finite inputs have one axis)."""

    name = "selects-on-many-axes"

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        y = super().scale(x, keep, p)
        if x.ndim < 2:
            return y
        return Tensor.from_flat([v if k else 0.0 for v, k in zip(y.data, keep.data)], y.shape, y.dtype)


class RaisesOnFiveAxes(Textbook):
    """Raises on inputs of 5 axes, as a kernel whose indexing supports at most 4."""

    name = "raises-on-five-axes"

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        if x.ndim == 5:
            raise NotImplementedError(f"{self.name}: at most 4 axes, got {x.ndim}")
        return super().dropout(x, p, training=training, seed=seed)


class NoiseShapeIgnoredOnManyAxes(Textbook):
    """Draws one mask value per element, ignoring noise_shape, on inputs of 4 or more axes, as a kernel
    whose broadcasting path handles at most 3 (the fixed cases' input has 3 axes)."""

    name = "noise-shape-ignored-on-many-axes"

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        return shape if len(shape) >= 4 else super().mask_shape(shape, noise_shape)
