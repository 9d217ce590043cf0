"""TensorFlow's stateless Philox stream, recomputed: stateless_uniform and stateless_dropout (spec/exact.md).

What ``tf.random.stateless_uniform(shape, seed=[s0, s1])`` and
``tf.nn.experimental.stateless_dropout(x, rate, seed)`` compute on the CPU with the algorithm
"auto_select" (there: Philox) or "philox", as TensorFlow 2.21 does it
(tensorflow/python/ops/random_ops_util.py ``_philox_scramble_seed``, core/kernels/
stateless_random_ops.cc ``GenerateKey``, tsl/lib/random/philox_random.h and
random_distributions*.h, tensorflow/python/ops/nn_ops.py ``_dropout``):

1. the seed pair, each taken as a 64-bit word (an int32 seed sign-extended), is the counter
   (lo(s0), hi(s0), lo(s1), hi(s1)) of one Philox4x32-10 call under the fixed key
   (0x3EC8F720, 0x02461E29); its output (m0, m1, m2, m3) gives the key (m0, m1) and the first
   counter (0, 0, m2, m3) of the draw;
2. block g of the draw is Philox4x32-10 of that counter plus g (a 128-bit little-endian sum);
3. a float32, float16 or bfloat16 element j is the low mantissa bits of word j mod 4 of block
   floor(j / 4), OR'd into the bits of 1.0, minus 1: (w mod 2^t) / 2^t with t = 23, 10, 7; a
   float64 element j takes words (2i, 2i + 1), i = j mod 2, of block floor(j / 2):
   ((w_2i mod 2^20) 2^32 + w_2i+1) / 2^52;
4. stateless_dropout keeps element j where that uniform is >= rate (rate rounded to x's dtype).

A ``tf.random.Generator`` (Philox, ``from_seed``) draws with steps 2 to 4 from the key and counter of
its state instead of step 1's: ``from_seed(s)``, s in [0, 2^64), holds the state [s, 0, 0], the
128-bit counter s and the key (0, 0), and each op that draws n elements takes the counter as it is
and advances it by 256 n (tensorflow/python/ops/stateful_random_ops.py ``_make_1d_state``;
core/kernels/stateful_random_ops.cc ``UpdateVariableAndFill_Philox``, stateful_random_ops_cpu_gpu.h
``UpdateMemWithPhiloxRandom``): ``generator_state``, ``generator_advance``, ``philox_dropout_mask``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from ..dtypes import DType, get_dtype
from ..random import WORD, _integer, _interleave, _ones, _pack, _philox_packed, _shape, _unpack, _words, philox4x32
from ..shapes import Shape, numel
from ..tensor import Tensor
from ..values import shown

__all__ = ["SCRAMBLE_KEY", "GENERATOR_STRIDE", "key_counter", "stateless_uniform", "stateless_dropout_mask",
           "generator_state", "generator_advance", "philox_dropout_mask"]

SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)  # GenerateKey's fixed key, 0x02461E293EC8F720 as one uint64
_MASK = WORD - 1
_CHUNK = 4096  # Philox blocks per packed evaluation
COUNTER = 2**128  # a Philox counter is 128 bits; block g of a draw is its first counter plus g, modulo COUNTER
GENERATOR_STRIDE = 256  # how far a tf.random.Generator's counter moves per element drawn, in every format


def key_counter(seed: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """The Philox key and first counter TensorFlow derives from a seed pair (step 1 above)."""
    if not isinstance(seed, Sequence) or isinstance(seed, (str, bytes)) or len(seed) != 2:
        raise TypeError(f"key_counter: seed must be a pair of ints in [-2**63, 2**63), got {shown(seed)}")
    s0, s1 = (_integer(s, f"key_counter: seed[{i}]", -2**63, 2**63) % 2**64 for i, s in enumerate(seed))
    m0, m1, m2, m3 = philox4x32((s0 & _MASK, s0 >> 32, s1 & _MASK, s1 >> 32), SCRAMBLE_KEY)
    return (m0, m1), (0, 0, m2, m3)


def _blocks(seed: Sequence[int], count: int, op: str) -> list[tuple[tuple[int, int, int, int], int]]:
    """The packed Philox output of blocks 0 .. count - 1 of the stateless draw of a seed pair."""
    key, (_, _, c2, c3) = key_counter(seed)
    return _philox_blocks(key, (c2 << 64) | (c3 << 96), count, op)


def _philox_blocks(key: tuple[int, int], counter: int, count: int, op: str
                   ) -> list[tuple[tuple[int, int, int, int], int]]:
    """The packed Philox output of blocks 0 .. count - 1 of a draw under ``key`` whose block g is the
    128-bit ``counter`` plus g, a chunk at a time, with its size; no chunk wraps the counter's low word."""
    if count > WORD:
        raise ValueError(f"{op}: a draw is recomputed for at most 2**32 Philox blocks, got {shown(count)}")
    chunks, start = [], 0
    while start < count:
        first = (counter + start) % COUNTER
        low = first & _MASK
        n = min(_CHUNK, count - start, WORD - low)
        ones = _ones(n)
        c1, c2, c3 = ((first >> shift) & _MASK for shift in (32, 64, 96))
        chunks.append((_philox_packed(_pack(range(low, low + n)), c1 * ones, c2 * ones, c3 * ones, key, 10, n), n))
        start += n
    return chunks


def _format(dtype: DType | str, op: str) -> tuple[DType, int]:
    dtype = get_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{op}: dtype must be a floating format (float64, float32, float16, bfloat16), "
                         f"got {dtype.name}")
    return dtype, dtype.precision - 1


def _mantissas(blocks: list[tuple[tuple[int, int, int, int], int]], count: int, mantissa: int) -> list[int]:
    """The integers m with u = m / 2^mantissa of elements 0 .. count - 1 of a draw's ``blocks`` (step 3
    above); ``blocks`` holds ceil(count / 2) blocks for float64, ceil(count / 4) for the others."""
    out: list[int] = []
    if mantissa == 52:  # two elements a block, each from two words
        for (w0, w1, w2, w3), n in blocks:
            top = (2**20 - 1) * _ones(n)
            out += _interleave([_unpack((w0 & top) << 32 | w1, n), _unpack((w2 & top) << 32 | w3, n)])
    else:
        for block, n in blocks:
            low = (2**mantissa - 1) * _ones(n)
            out += _interleave([_unpack(w & low, n) for w in block])
    return out[:count]


def _block_count(count: int, mantissa: int) -> int:
    """How many Philox blocks a draw of ``count`` elements takes: 2 elements a block in float64, else 4."""
    return -(-count // (2 if mantissa == 52 else 4))


def stateless_uniform(seed: Sequence[int], shape: Shape | int, dtype: DType | str = "float32") -> Tensor:
    """``tf.random.stateless_uniform(shape, seed, dtype=dtype)`` on [0, 1), Philox on the CPU."""
    dtype, mantissa = _format(dtype, "stateless_uniform")
    shape = _shape(shape, "stateless_uniform")
    scale = 2.0 ** -mantissa
    count = numel(shape)
    values = [m * scale for m in _mantissas(_blocks(seed, _block_count(count, mantissa), "stateless_uniform"),
                                            count, mantissa)]
    return Tensor.from_flat(values, shape, dtype, rounded=True)


def stateless_dropout_mask(seed: Sequence[int], rate: float, shape: Shape | int, dtype: DType | str = "float32"
                           ) -> Tensor:
    """The keep mask of ``tf.nn.experimental.stateless_dropout(x, rate, seed)`` for x of ``shape``
    (its noise_shape) and ``dtype``, as 1.0 and 0.0: element j is kept where the uniform of
    ``stateless_uniform(seed, shape, dtype)`` is >= rate, rate rounded to ``dtype``."""
    key, (_, _, c2, c3) = key_counter(seed)
    return _dropout_mask(key, (c2 << 64) | (c3 << 96), rate, shape, dtype, "stateless_dropout_mask")


def philox_dropout_mask(key: Sequence[int], counter: int, rate: float, shape: Shape | int,
                        dtype: DType | str = "float32") -> Tensor:
    """The keep mask of TensorFlow's dropout (``_dropout`` in nn_ops.py) whose uniforms are drawn from
    Philox4x32-10 under ``key`` (two words) from the 128-bit ``counter`` on (steps 2 to 4 above): what
    ``general_dropout(x, rate, generator.uniform)`` draws from a ``tf.random.Generator`` in that state."""
    key = _words(key, 2, "philox_dropout_mask: key")
    counter = _integer(counter, "philox_dropout_mask: counter", 0, COUNTER)
    return _dropout_mask(key, counter, rate, shape, dtype, "philox_dropout_mask")


def _dropout_mask(key: tuple[int, int], counter: int, rate: float, shape: Shape | int, dtype: DType | str,
                  op: str) -> Tensor:
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"{op}: rate must be a real number in [0, 1), got {shown(rate)} of type {type(rate).__name__}")
    if not 0 <= rate < 1:
        raise ValueError(f"{op}: rate must be in [0, 1), got {shown(rate)}")
    dtype, mantissa = _format(dtype, op)
    shape = _shape(shape, op)
    count = numel(shape)
    threshold = dtype.round(float(rate)) * 2**mantissa  # m / 2^t >= rate  <=>  m >= rate 2^t, exact
    mantissas = _mantissas(_philox_blocks(key, counter, _block_count(count, mantissa), op), count, mantissa)
    return Tensor.from_flat([1.0 if m >= threshold else 0.0 for m in mantissas], shape, rounded=True)


def generator_state(seed: int) -> tuple[tuple[int, int], int]:
    """The Philox key and 128-bit counter of ``tf.random.Generator.from_seed(seed)``, seed in [0, 2^64):
    the state [seed, 0, 0], so the key (0, 0) and the counter ``seed``."""
    return (0, 0), _integer(seed, "generator_state: seed", 0, 2**64)


def generator_advance(counter: int, count: int) -> int:
    """A ``tf.random.Generator``'s counter after an op that draws ``count`` elements from ``counter``:
    256 per element, whatever the format, modulo 2^128."""
    counter = _integer(counter, "generator_advance: counter", 0, COUNTER)
    return (counter + GENERATOR_STRIDE * _integer(count, "generator_advance: count")) % COUNTER
