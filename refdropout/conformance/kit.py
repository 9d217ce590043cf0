"""What the checks of every spec chapter share: inputs, seeds, comparisons and judging a decision.

A check reads like its clause because the vocabulary lives here, once, with one meaning each:

* inputs — ``ones``, ``constant``, ``distinct``, ``nonzero``, ``eighths``, ``edged`` (values spread
  over 25 binades, led by the format's edge values; :mod:`.inputs` builds them in bulk);
* seeds — ``successive_seeds``, ``drawn_seeds``, ``child_seed`` for an implementation's calls,
  ``input_seed`` for inputs drawn by scipy: each a scheme of its own, kept apart because every
  scheme fixes the data of the verdicts a seed reproduces;
* comparisons, each returning the failures it finds (empty when there are none) —
  ``tensor_like`` (a tensor of x's shape and dtype), ``tensor_of_shape`` (a tensor of a shape),
  ``mismatch`` (the first element a rule rejects), ``identical`` (bit for bit: signed zeros and
  NaN payloads included, so NaN matches the same NaN) over ``same_bits``;
* ``keep_mask`` — a mask read off the output of x = 1; ``kept_value_of`` — what a kept element
  becomes under the declared policies;
* arrays — ``ones_array``, ``edged_array``, ``keep_mask_array`` and ``identical_array``: the same
  inputs and comparisons on numpy arrays, for checks of millions of elements, which hand
  implementations numpy arrays and get numpy arrays back (contract: answers in kind);
* ``judge`` — record a statistical decision in the run's budget, and name it when it rejects
  (STATS-1).
"""

from __future__ import annotations

import math
import random
import struct
from array import array
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from ..contract import Implementation, kept_value, policies_of
from ..contract.arrays import NUMPY_FORMATS, as_array
from ..dtypes import DType, float64
from ..random import Generator
from ..stats import Decision
from ..tensor import Tensor
from .inputs import spread, spread_array, wrap
from .registry import Context

__all__ = [
    "ones", "constant", "distinct", "nonzero", "eighths", "edges", "edged",
    "successive_seeds", "drawn_seeds", "child_seed", "input_seed",
    "tensor_like", "tensor_of_shape", "mismatch", "same_bits", "identical", "keep_mask", "kept_value_of", "judge",
    "ones_array", "edged_array", "array_like", "array_of_shape", "identical_array", "keep_mask_array",
]


# --- inputs ---------------------------------------------------------------------------------------


def constant(shape: tuple[int, ...] | int, value: float, dtype: DType = float64) -> Tensor:
    """A tensor of ``shape`` (an int: a vector) with every element ``value``; built without
    per-element validation, so it can hold millions."""
    shape = (shape,) if isinstance(shape, int) else shape
    return Tensor.from_flat([value] * math.prod(shape), shape, dtype)


def ones(shape: tuple[int, ...] | int, dtype: DType = float64) -> Tensor:
    """x = 1: the input whose outputs show the mask (kept nonzero, dropped 0)."""
    return constant(shape, 1.0, dtype)


def distinct(shape: tuple[int, ...]) -> Tensor:
    """Distinct nonzero float64 values of both signs, (-1)^i (1 + i / 64): an identity shows in them."""
    return Tensor.from_flat([(-1.0) ** i * (1.0 + i / 64) for i in range(math.prod(shape))], shape)


def nonzero(uniforms: list[float], period: int = 1) -> list[float]:
    """1 + u for each uniform u, the sign alternating every ``period`` elements: |v| in [1, 2), never 0,
    so a kept element of the output is nonzero."""
    return [(1.0 + u) * (-1.0) ** (i // period) for i, u in enumerate(uniforms)]


def eighths(generator: Generator, n: int) -> list[float]:
    """n nonzero multiples of 1/8 in [-4, 4], signs alternating: exact in every floating format the
    engine emulates."""
    return [(math.floor(u * 32) + 1) / 8 * (-1.0) ** i for i, u in enumerate(generator.uniform(n).data)]


def edges(dtype: DType) -> list[float]:
    """The finite values at the edges of ``dtype``: ±0, ±tiny (the least normal) and ±max."""
    return [0.0, -0.0, dtype.tiny, -dtype.tiny, dtype.max, -dtype.max]


@lru_cache(maxsize=32)  # the implementations checked with one seed share their inputs
def edged(seed: int, shape: tuple[int, ...], dtype: DType, *, nonfinite: bool = False) -> Tensor:
    """Values ±(1 + f) 2^k of ``dtype`` with k in [-20, 4] (inputs.spread), led by ``edges(dtype)``
    (and NaN, ±inf where ``nonfinite``)."""
    n = math.prod(shape)
    leading = edges(dtype) + ([math.nan, math.inf, -math.inf] if nonfinite else [])
    return wrap((leading + spread(seed, max(n - len(leading), 0), dtype))[:n], shape, dtype)


def ones_array(shape: tuple[int, ...] | int, dtype: DType = float64) -> np.ndarray:
    """x = 1 as a numpy array of ``dtype``."""
    return np.ones(shape, dtype=NUMPY_FORMATS[dtype.name])


def edged_array(seed: int, shape: tuple[int, ...], dtype: DType, *, nonfinite: bool = False) -> np.ndarray:
    """:func:`edged`'s values as a numpy array of ``dtype`` (exact: they lie in it), built without a
    Python float per element and not kept after the check (an array of the plan's n is large)."""
    n = math.prod(shape)
    leading = np.array(edges(dtype) + ([math.nan, math.inf, -math.inf] if nonfinite else []))
    values = np.empty(max(n, leading.size))
    values[:leading.size] = leading
    spread_array(seed, values.size - leading.size, dtype, out=values[leading.size:])
    return values[:n].astype(NUMPY_FORMATS[dtype.name], copy=False).reshape(shape)


# --- seeds ----------------------------------------------------------------------------------------


def _word64(low: int, high: int) -> int:
    return low | high << 32


def successive_seeds(seed: int, count: int) -> list[int]:
    """``count`` distinct seeds for the calls of one check: seed, seed + 1, ... (mod 2^64)."""
    return [(seed + i) % 2**64 for i in range(count)]


def drawn_seeds(seed: int, count: int) -> list[int]:
    """``count`` 64-bit seeds drawn from ``Generator(seed)``: two 32-bit words each, low word first."""
    words = Generator(seed).random_words(2 * count)
    return [_word64(words[2 * i], words[2 * i + 1]) for i in range(count)]


def child_seed(seed: int, index: int) -> int:
    """The 64-bit seed of child ``index`` of ``Generator(seed)`` (``fold_in``): its first two words."""
    return _word64(*Generator(seed).fold_in(index).random_words(2))


def input_seed(seed: int) -> int:
    """A 32-bit seed for inputs that scipy draws (at C speed): a stream apart from the implementation's."""
    return random.Random(seed).getrandbits(32)


# --- comparisons ----------------------------------------------------------------------------------


def _not_a_tensor(name: str, y: object) -> list[str]:
    return [] if isinstance(y, Tensor) else [f"{name}: returned {type(y).__name__}, not a Tensor"]


def tensor_like(name: str, y: object, x: Tensor) -> list[str]:
    """A failure unless y is a tensor of x's shape and dtype."""
    failures = _not_a_tensor(name, y)
    if not failures and (y.shape != x.shape or y.dtype is not x.dtype):
        failures.append(f"{name}: shape {y.shape} and dtype {y.dtype.name}, not {x.shape} and {x.dtype.name}")
    return failures


def tensor_of_shape(name: str, y: object, shape: tuple[int, ...]) -> list[str]:
    """A failure unless y is a tensor of ``shape`` (of any dtype)."""
    failures = _not_a_tensor(name, y)
    if not failures and y.shape != shape:
        failures.append(f"{name}: output shape {y.shape}, not {shape}")
    return failures


def mismatch(name: str, y: object, x: Tensor, wrong: Callable[[int, float, float], str | None]) -> list[str]:
    """The first failure of y against x: a wrong shape or dtype, or the first element i at which
    ``wrong(i, y_i, x_i)`` describes a fault."""
    failures = tensor_like(name, y, x)
    for i, (got, v) in enumerate(zip(y.data, x.data) if not failures else ()):
        fault = wrong(i, got, v)
        if fault is not None:
            return [f"{name}: element {i}: x = {v!r} gave {got!r}, {fault}"]
    return failures


def same_bits(a: list, b: list) -> bool:
    """True when two lists of floats are equal bit for bit as float64 (signed zeros and NaN payloads
    included), compared as buffers."""
    return len(a) == len(b) and array("d", a).tobytes() == array("d", b).tobytes()


def _not_the_bits(got: float, v: float) -> str:
    """Why ``got`` is not ``v`` bit for bit, naming both bit patterns (as float64) where both are NaN."""
    if math.isnan(got) and math.isnan(v):
        got_bits, v_bits = (struct.pack(">d", a).hex() for a in (got, v))
        return f"not x bit for bit (a NaN of the float64 bits 0x{got_bits}, not 0x{v_bits})"
    return "not x bit for bit"


def identical(name: str, y: object, x: Tensor, *, earlier: str = "") -> list[str]:
    """A failure unless y is x bit for bit, in x's shape and dtype (compared as buffers; element by
    element only to name the first difference). ``earlier``: what x is where it is not the input but
    an earlier call's output (e.g. "the first call"), which the message then names instead of x."""
    failures = tensor_like(name, y, x)
    if failures or same_bits(y.data, x.data):
        return failures
    if not earlier:
        return mismatch(name, y, x, lambda i, got, v: None if same_bits([got], [v]) else _not_the_bits(got, v))
    i = next(i for i, (got, v) in enumerate(zip(y.data, x.data)) if not same_bits([got], [v]))
    return [f"{name}: element {i}: {earlier} gave {x.data[i]!r}, this call {y.data[i]!r}: not the same bits"]


def array_like(name: str, y: object, x: np.ndarray) -> list[str]:
    """A failure unless y is a numpy array of x's shape and dtype."""
    if not isinstance(y, np.ndarray):
        return [f"{name}: returned {type(y).__name__}, not a numpy array"]
    if y.shape != x.shape or y.dtype != x.dtype:
        return [f"{name}: shape {y.shape} and dtype {y.dtype.name}, not {x.shape} and {x.dtype.name}"]
    return []


def array_of_shape(name: str, y: object, shape: tuple[int, ...]) -> list[str]:
    """A failure unless y is a numpy array of ``shape`` (of any dtype)."""
    if not isinstance(y, np.ndarray):
        return [f"{name}: returned {type(y).__name__}, not a numpy array"]
    return [] if y.shape == shape else [f"{name}: output shape {y.shape}, not {shape}"]


def identical_array(name: str, y: object, x: np.ndarray, *, earlier: str = "") -> list[str]:
    """A failure unless y is the numpy array x bit for bit, in x's shape and dtype (signed zeros and
    NaN payloads included), naming the first element that differs. ``earlier``: as for :func:`identical`."""
    failures = array_like(name, y, x)
    if failures:
        return failures
    bits = f"u{x.dtype.itemsize}"
    differ = np.flatnonzero(y.reshape(-1).view(bits) != x.reshape(-1).view(bits))
    if not differ.size:
        return []
    i = int(differ[0])
    got, v = float(y.reshape(-1)[i]), float(x.reshape(-1)[i])
    if earlier:
        return [f"{name}: element {i}: {earlier} gave {v!r}, this call {got!r}: not the same bits"]
    return [f"{name}: element {i}: x = {v!r} gave {got!r}, not x bit for bit"]


def keep_mask_array(y: object) -> np.ndarray:
    """The keep mask of an output of x = 1, a numpy array (an engine tensor is converted): True where
    y is nonzero, NaN included."""
    return as_array(y) != 0


def keep_mask(y: Tensor) -> list[bool]:
    """The keep mask of an output of x = 1: True where y is nonzero, NaN included."""
    return list(map((0.0).__ne__, y.data))


def kept_value_of(impl: Implementation, v: float, p: float, dtype: DType = float64) -> float:
    """What a kept element v becomes in training under the declared scaling and scale_format,
    before rounding to ``dtype`` (contract.kept_value)."""
    return kept_value(policies_of(impl), v, p, dtype)


# formats whose numpy cast from float64 rounds to nearest, ties to even, as DType.round does (IEEE
# casts; tests/test_dropout.py compares them): their elements may be accepted within one ulp at C speed
_CORRECTLY_ROUNDED = {"float64": np.uint64, "float32": np.uint32, "float16": np.uint16}


def plainly_zero_or_kept(impl: Implementation, y: object, x: Tensor, p: float, keep: list | None = None) -> bool:
    """True when every element of y is, at C speed, plainly right: 0 where ``keep`` says dropped (where
    it is 0, with no ``keep``), else within one ulp of the kept value of x (kept_value_of) rounded to x's
    dtype by numpy (an overflow: that infinity; for a format not in _CORRECTLY_ROUNDED: equal to it,
    below the format's largest value). Every element so accepted passes within_one_ulp; False (NaN,
    a flushed subnormal, a wrong element, a wrong shape or dtype) leaves y to the check's
    element-by-element reading, which decides and names the fault."""
    if not isinstance(y, Tensor) or y.shape != x.shape or y.dtype is not x.dtype or not x.dtype.is_floating:
        return False
    fmt = NUMPY_FORMATS[x.dtype.name]
    got = np.array(y.data, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        nearest = kept_value_of(impl, np.array(x.data, dtype=np.float64), p, x.dtype).astype(fmt)
    narrow = got.astype(fmt)
    if x.dtype.name in _CORRECTLY_ROUNDED and (narrow.astype(np.float64) == got).all():
        words, finite = _CORRECTLY_ROUNDED[x.dtype.name], np.isfinite(nearest)
        steps = np.abs(_ordinals(narrow, words) - _ordinals(nearest, words))
        right = np.where(finite, np.isfinite(narrow) & (steps <= 1), narrow == nearest)  # an overflow: inf itself
    else:  # a rounding that may be one step off: equal, and short of the largest value, where it cannot overflow
        right = (np.abs(nearest.astype(np.float64)) < float(np.finfo(fmt).max)) & (got == nearest.astype(np.float64))
    if keep is None:
        return bool((right | (got == 0.0)).all())
    return bool(np.where(np.array(keep, dtype=np.bool_), right, got == 0.0).all())


def _ordinals(values: np.ndarray, words: type) -> np.ndarray:
    """dtypes.ordinal of finite IEEE values, from their bits: the magnitude's bits count the format's
    steps from 0, negated below 0 (int64; float64's magnitudes are below 2^63); read for finite values
    only."""
    bits = values.view(words).astype(np.uint64)
    sign = np.uint64(1) << np.uint64(8 * np.dtype(words).itemsize - 1)
    magnitude = (bits & (sign - np.uint64(1))).astype(np.int64)
    return np.where(bits & sign, -magnitude, magnitude)


# --- decisions ------------------------------------------------------------------------------------


def judge(ctx: Context, name: str, decision: Decision, failures: list[str]) -> None:
    """Record ``decision`` in the run's budget under ``name``; when it rejects, add a failure that
    says which test rejected, at what level, and on what data."""
    if ctx.decide(name, decision):
        failures.append(f"{name}: {decision.test} rejects at alpha = {decision.alpha:.3g}: p = {decision.p_value:.3g}, "
                        f"observed {decision.observed:.6g}, expected {decision.expected:.6g}, n = {decision.n}")
