"""JAX's threefry2x32 random stream, recomputed: keys, bits, uniforms and bernoulli (spec/exact.md).

What ``jax.random`` computes with its default implementation ("threefry2x32"), step by step, as
the installed JAX 0.10.2 does it (jax/_src/random/threefry2x32.py, prng.py, core.py). A key is
a pair of 32-bit words. Two layouts map the elements of a draw to Threefry counters, chosen in
JAX by the flag ``jax_threefry_partitionable`` (default True since JAX 0.5.0; False before):

- partitionable: element i (row-major) is the counter (hi(i), lo(i)) of the 64-bit index i;
  its 32 random bits are y0 ^ y1 of the output (y0, y1), its 64 bits y0 * 2^32 + y1;
- original: the words 0 .. m - 1 of a draw of m words are the outputs for the counters
  (j, h + j), j < h = ceil(m / 2) (the last one (h - 1, 0) when m is odd), word j being y0 of
  counter j and word h + j its y1. 8- and 16-bit values are the pieces of the words, low piece first.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

from ..dtypes import DType, get_dtype
from ..random import WORD, _integer, _ones, _pack, _shape, _unpack, _words
from ..shapes import Shape, numel
from ..tensor import Tensor
from ..values import shown
from .threefry import _threefry_packed, threefry_words

__all__ = ["prng_key", "split", "fold_in", "random_bits", "uniform", "bernoulli", "BIT_WIDTHS"]

Key = tuple[int, int]
BIT_WIDTHS = (8, 16, 32, 64)
_CHUNK = 4096  # counters per packed evaluation
_MASK = WORD - 1


def prng_key(seed: int, *, x64: bool = False) -> Key:
    """``jax.random.PRNGKey(seed)``'s two words (its ``key_data`` for ``jax.random.key(seed)``).

    JAX takes a Python int seed as an int64 (OverflowError outside [-2^63, 2^63)). With
    ``jax_enable_x64`` the key is that int64's bits, (high word, low word); without it the seed
    is first narrowed to int32, so the key is (0, seed mod 2^32).
    """
    seed = _integer(seed, "prng_key: seed", -2**63, 2**63)
    bits = seed % 2**64
    return (bits >> 32, bits & _MASK) if x64 else (0, bits & _MASK)


def _key(key: object, op: str) -> Key:
    return _words(key, 2, f"{op}: key")


def _partitionable(key: Key, count: int, op: str, combine: Callable[[int, int, int], list]) -> list:
    """``combine(y0, y1, n)`` of the packed outputs for the counters (hi(i), lo(i)) = (0, i) of
    elements 0 .. count - 1 (the partitionable layout), a chunk of n at a time, concatenated."""
    if count > WORD:
        raise ValueError(f"{op}: the partitionable layout is recomputed for at most 2**32 elements, got {shown(count)}")
    out: list = []
    for start in range(0, count, _CHUNK):
        n = min(_CHUNK, count - start)
        out += combine(*_threefry_packed(0, _pack(range(start, start + n)), key, 20, n), n)
    return out


def _packed_bits(bit_width: int, drop: int = 0) -> Callable[[int, int, int], list[int]]:
    """The combination giving bits [drop, bit_width) of each element's random bits: of y0 ^ y1 for
    8, 16 or 32 bits, of y0 2^32 + y1 for 64 -- computed in the packed slots, then unpacked."""
    def combine(y0: int, y1: int, n: int) -> list[int]:
        bits = (y0 << 32 | y1) if bit_width == 64 else y0 ^ y1
        # >> drop pulls the next slot's lowest bits into this slot's top bits, which the mask clears
        return _unpack((bits >> drop) & ((1 << (bit_width - drop)) - 1) * _ones(n), n)
    return combine


def _key_pairs(y0: int, y1: int, n: int) -> list[Key]:
    return list(zip(_unpack(y0, n), _unpack(y1, n)))


def _original_words(key: Key, count: int, op: str) -> list[int]:
    """Words 0 .. count - 1 of ``threefry_2x32(key, iota(count))``, the original layout."""
    if count >= WORD - 1:  # JAX then splits the key into blocks of 2^32 - 1 words; not recomputed here
        raise ValueError(f"{op}: the original (non-partitionable) layout is recomputed for fewer than "
                         f"2**32 - 1 words, got {shown(count)}")
    half = -(-count // 2)
    y0: list[int] = []
    y1: list[int] = []
    for start in range(0, half, _CHUNK):
        stop = min(start + _CHUNK, half)
        upper = [half + j if half + j < count else 0 for j in range(start, stop)]
        a, b = threefry_words(range(start, stop), upper, key)
        y0 += a
        y1 += b
    return (y0 + y1)[:count]


def split(key: Sequence[int], num: int = 2, *, partitionable: bool = True) -> list[Key]:
    """``jax.random.split(key, num)``: num new keys, in order (a shape's keys are these, row-major).

    Partitionable: key i is threefry(key, (hi(i), lo(i))). Original: the 2 num words of
    threefry_2x32(key, iota(2 num)), key i being words 2i and 2i + 1.
    """
    key = _key(key, "split")
    num = _integer(num, "split: num")
    if partitionable:
        return _partitionable(key, num, "split", _key_pairs)
    words = _original_words(key, 2 * num, "split")
    return list(zip(words[0::2], words[1::2]))


def fold_in(key: Sequence[int], data: int) -> Key:
    """``jax.random.fold_in(key, data)``, data an int in [0, 2^32) (JAX's uint32): the output of
    threefry(key, (0, data)), in either layout."""
    key = _key(key, "fold_in")
    data = _integer(data, "fold_in: data", 0, WORD)
    a, b = threefry_words([0], [data], key)
    return a[0], b[0]


def random_bits(key: Sequence[int], bit_width: int, shape: Shape | int, *, partitionable: bool = True) -> list[int]:
    """``jax.random.bits(key, shape, uint<bit_width>)`` as a flat row-major list of ints."""
    key = _key(key, "random_bits")
    if bit_width not in BIT_WIDTHS:
        raise ValueError(f"random_bits: bit_width must be one of {BIT_WIDTHS}, got {shown(bit_width)}")
    count = numel(_shape(shape, "random_bits"))
    if partitionable:
        return _partitionable(key, count, "random_bits", _packed_bits(bit_width))
    if bit_width == 64:
        words = _original_words(key, 2 * count, "random_bits")
        return [(a << 32) | b for a, b in zip(words[:count], words[count:])]
    per_word = 32 // bit_width
    words = _original_words(key, -(-count * bit_width // 32), "random_bits")
    mask = (1 << bit_width) - 1
    return [(words[j // per_word] >> (bit_width * (j % per_word))) & mask for j in range(count)]


def _format(dtype: DType | str, op: str) -> tuple[DType, int, int]:
    """(dtype, bits drawn per element, mantissa bits): JAX draws 8 bits for a mantissa under 8 bits."""
    dtype = get_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"{op}: dtype must be a floating format (float64, float32, float16, bfloat16), "
                         f"got {dtype.name}")
    mantissa = dtype.precision - 1
    return dtype, (8 if mantissa < 8 else 8 * dtype.itemsize), mantissa


def _mantissas(key: Sequence[int], shape: Shape | int, dtype: DType | str, partitionable: bool, op: str
               ) -> tuple[list[int], Shape, DType, int]:
    """The integers m with u = m / 2^mantissa: the top ``mantissa`` of the drawn bits."""
    key = _key(key, op)
    dtype, width, mantissa = _format(dtype, op)
    shape = _shape(shape, op)
    drop = width - mantissa
    if partitionable:
        return _partitionable(key, numel(shape), op, _packed_bits(width, drop)), shape, dtype, mantissa
    return [b >> drop for b in random_bits(key, width, shape, partitionable=False)], shape, dtype, mantissa


def uniform(key: Sequence[int], shape: Shape | int = (), dtype: DType | str = "float32", *,
            partitionable: bool = True) -> Tensor:
    """``jax.random.uniform(key, shape, dtype)`` on [0, 1): the top mantissa bits of each element's
    random bits OR'd into the bits of 1.0, as a float of ``dtype``, minus 1 -- exactly m / 2^mantissa."""
    mantissas, shape, dtype, mantissa = _mantissas(key, shape, dtype, partitionable, "uniform")
    scale = 2.0 ** -mantissa
    return Tensor.from_flat([m * scale for m in mantissas], shape, dtype, rounded=True)


def bernoulli(key: Sequence[int], p: float, shape: Shape | int = (), dtype: DType | str = "float32", *,
              partitionable: bool = True) -> Tensor:
    """``jax.random.bernoulli(key, p, shape)`` (mode "low") as a keep mask of 1.0 and 0.0:
    ``uniform(key, shape, dtype) < p``, with p first rounded to ``dtype`` (p's dtype in JAX:
    float32 for a Python float)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"bernoulli: p must be a real number in [0, 1], got {shown(p)} of type {type(p).__name__}")
    if not 0 <= p <= 1:
        raise ValueError(f"bernoulli: p must be in [0, 1], got {shown(p)}")
    mantissas, shape, dtype, mantissa = _mantissas(key, shape, dtype, partitionable, "bernoulli")
    threshold = math.ceil(dtype.round(float(p)) * 2**mantissa)  # m / 2^t < p  <=>  m < ceil(p 2^t)
    return Tensor.from_flat([1.0 if m < threshold else 0.0 for m in mantissas], shape, rounded=True)
