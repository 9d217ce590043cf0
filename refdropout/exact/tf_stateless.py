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
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from ..dtypes import DType, get_dtype
from ..random import WORD, _integer, _interleave, _ones, _pack, _philox_packed, _shape, _unpack, philox4x32
from ..shapes import Shape, numel
from ..tensor import Tensor
from ..values import shown

__all__ = ["SCRAMBLE_KEY", "key_counter", "stateless_uniform", "stateless_dropout_mask"]

SCRAMBLE_KEY = (0x3EC8F720, 0x02461E29)  # GenerateKey's fixed key, 0x02461E293EC8F720 as one uint64
_MASK = WORD - 1
_CHUNK = 4096  # Philox blocks per packed evaluation


def key_counter(seed: Sequence[int]) -> tuple[tuple[int, int], tuple[int, int, int, int]]:
    """The Philox key and first counter TensorFlow derives from a seed pair (step 1 above)."""
    if not isinstance(seed, Sequence) or isinstance(seed, (str, bytes)) or len(seed) != 2:
        raise TypeError(f"key_counter: seed must be a pair of ints in [-2**63, 2**63), got {shown(seed)}")
    s0, s1 = (_integer(s, f"key_counter: seed[{i}]", -2**63, 2**63) % 2**64 for i, s in enumerate(seed))
    m0, m1, m2, m3 = philox4x32((s0 & _MASK, s0 >> 32, s1 & _MASK, s1 >> 32), SCRAMBLE_KEY)
    return (m0, m1), (0, 0, m2, m3)


def _blocks(seed: Sequence[int], count: int, op: str) -> list[tuple[tuple[int, int, int, int], int]]:
    """The packed Philox output of blocks 0 .. count - 1 of the draw, a chunk at a time, with its size.
    Block g's counter is (g, 0, m2, m3) while g < 2^32, the blocks recomputed here."""
    if count > WORD:
        raise ValueError(f"{op}: a draw is recomputed for at most 2**32 Philox blocks, got {shown(count)}")
    key, (_, _, c2, c3) = key_counter(seed)
    chunks = []
    for start in range(0, count, _CHUNK):
        n = min(_CHUNK, count - start)
        ones = _ones(n)
        chunks.append((_philox_packed(_pack(range(start, start + n)), 0, c2 * ones, c3 * ones, key, 10, n), n))
    return chunks


def _format(dtype: DType | str, op: str) -> tuple[DType, int]:
    dtype = get_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{op}: dtype must be a floating format (float64, float32, float16, bfloat16), "
                         f"got {dtype.name}")
    return dtype, dtype.precision - 1


def _mantissas(seed: Sequence[int], count: int, mantissa: int, op: str) -> list[int]:
    """The integers m with u = m / 2^mantissa of elements 0 .. count - 1 (step 3 above)."""
    out: list[int] = []
    if mantissa == 52:  # two elements a block, each from two words
        for (w0, w1, w2, w3), n in _blocks(seed, -(-count // 2), op):
            top = (2**20 - 1) * _ones(n)
            out += _interleave([_unpack((w0 & top) << 32 | w1, n), _unpack((w2 & top) << 32 | w3, n)])
    else:
        for block, n in _blocks(seed, -(-count // 4), op):
            low = (2**mantissa - 1) * _ones(n)
            out += _interleave([_unpack(w & low, n) for w in block])
    return out[:count]


def stateless_uniform(seed: Sequence[int], shape: Shape | int, dtype: DType | str = "float32") -> Tensor:
    """``tf.random.stateless_uniform(shape, seed, dtype=dtype)`` on [0, 1), Philox on the CPU."""
    dtype, mantissa = _format(dtype, "stateless_uniform")
    shape = _shape(shape, "stateless_uniform")
    scale = 2.0 ** -mantissa
    values = [m * scale for m in _mantissas(seed, numel(shape), mantissa, "stateless_uniform")]
    return Tensor.from_flat(values, shape, dtype, rounded=True)


def stateless_dropout_mask(seed: Sequence[int], rate: float, shape: Shape | int, dtype: DType | str = "float32"
                           ) -> Tensor:
    """The keep mask of ``tf.nn.experimental.stateless_dropout(x, rate, seed)`` for x of ``shape``
    (its noise_shape) and ``dtype``, as 1.0 and 0.0: element j is kept where the uniform of
    ``stateless_uniform(seed, shape, dtype)`` is >= rate, rate rounded to ``dtype``."""
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
        raise TypeError(f"stateless_dropout_mask: rate must be a real number in [0, 1), "
                        f"got {shown(rate)} of type {type(rate).__name__}")
    if not 0 <= rate < 1:
        raise ValueError(f"stateless_dropout_mask: rate must be in [0, 1), got {shown(rate)}")
    dtype, mantissa = _format(dtype, "stateless_dropout_mask")
    shape = _shape(shape, "stateless_dropout_mask")
    threshold = dtype.round(float(rate)) * 2**mantissa  # m / 2^t >= rate  <=>  m >= rate 2^t, exact
    keep = [1.0 if m >= threshold else 0.0 for m in _mantissas(seed, numel(shape), mantissa, "stateless_dropout_mask")]
    return Tensor.from_flat(keep, shape, rounded=True)
