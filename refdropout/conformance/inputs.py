"""Inputs of the value checks, built in bulk at C speed (spec/dropout.md, DROPOUT-2 to DROPOUT-8).

The values are ±(1 + f) 2^k with k uniform in [-20, 4] (25 binades) and f uniform on the
format's grid in that binade (its P - 1 fraction bits, fewer where the binade lies below 2^emin),
signs alternating, so every value already lies in its format and nothing is rounded. Each is
written as the bits of a float64, assembled from random bytes with whole-array operations on
64-bit words: no Python code runs per element, so DROPOUT-4's
inputs of the plan's n elements (millions at the standard profile) take under a second per format.
"""

from __future__ import annotations

import math
import random
from functools import lru_cache

import numpy as np

from ..dtypes import DType
from ..tensor import Tensor

__all__ = ["BINADES", "spread", "spread_array", "wrap"]

BINADES = range(-20, 5)  # k of 2^k; every floating format holds all of them, normal or subnormal
_BIAS = 1023  # float64's exponent bias
_BLOCK = 2**20  # words assembled at once by spread_array: 8 MiB temporaries


class _Stream:
    """The bytes ``random.Random(key).randbytes`` gives, drawn by numpy's MT19937 from the same state: the
    same Mersenne Twister, its 32-bit words at C speed (randbytes builds one Python integer of them); over the
    whole range of uint32, ``integers`` hands out each word as drawn."""

    def __init__(self, key: str) -> None:
        *words, position = random.Random(key).getstate()[1]
        bits = np.random.MT19937()
        bits.state = {"bit_generator": "MT19937", "state": {"key": np.array(words, dtype=np.uint32), "pos": position}}
        self.words = np.random.Generator(bits)

    def randbytes(self, n: int) -> bytes:
        """As random.Random.randbytes(n), getrandbits(8 n) little-endian: whole words in order, and of a
        last word's 32 bits only its top 8 (n mod 4) (getrandbits drops the low ones)."""
        whole, part = divmod(n, 4)
        words = self.words.integers(0, 2**32, whole + (part > 0), dtype=np.uint32).astype("<u4", copy=False).tobytes()
        return words[: 4 * whole] + words[len(words) - part :] if part else words


def _binade_bytes(rng: _Stream, n: int) -> bytes:
    """n bytes, each an index into BINADES drawn uniformly: bytes past the last multiple of
    len(BINADES) are rejected (deleted), the rest reduced modulo len(BINADES)."""
    span = len(BINADES)
    limit = 256 - 256 % span
    reduce, rejected = bytes(b % span for b in range(256)), bytes(range(limit, 256))
    out = b""
    while len(out) < n:
        out += rng.randbytes(n - len(out) + n // 32 + 16).translate(reduce, rejected)
    return out[:n]


def _fraction_mask(dtype: DType, k: int) -> int:
    """The float64 fraction bits that a value of ``dtype`` in binade 2^k can set: its top
    P - 1 - max(0, emin - k)."""
    kept = dtype.precision - 1 - max(0, dtype.emin - k)
    return ((1 << kept) - 1) << (52 - kept)


# the formats checked in turn draw the same bytes (of one size, and of the small sizes): two draws are kept,
# at most 9 x sampling.CHUNK bytes (DROPOUT-4 at the deep profile), no more
@lru_cache(maxsize=2)
def _draw(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """n binade indices and n random 64-bit words (little-endian), from a stream of their own
    (apart from the implementation's)."""
    rng = _Stream(f"refdropout inputs {seed}")
    binades = np.frombuffer(_binade_bytes(rng, n), dtype=np.uint8)
    return binades, np.frombuffer(rng.randbytes(8 * n), dtype="<u8")


def spread(seed: int, n: int, dtype: DType) -> list[float]:
    """n values ±(1 + f) 2^k of ``dtype``, + at even and - at odd positions (see the module)."""
    return spread_array(seed, n, dtype).tolist()


def spread_array(seed: int, n: int, dtype: DType, out: np.ndarray | None = None) -> np.ndarray:
    """:func:`spread`'s values as a float64 numpy array (written into ``out``, n float64s, where given):
    each value's random bits masked to the fraction bits its binade holds in ``dtype``, then its
    exponent and sign set (whole-array operations on 64-bit words)."""
    binades, bits = _draw(seed, n)
    masks = np.array([_fraction_mask(dtype, k) for k in BINADES], dtype=np.uint64)
    exponents = np.array([(_BIAS + k) << 52 for k in BINADES], dtype=np.uint64)
    words = out.view(np.uint64) if out is not None else np.empty(n, dtype=np.uint64)
    uniform = (masks == masks[0]).all()  # float64, float32, bfloat16: every binade keeps the same fraction bits
    # in place from here, a block at a time: the gathered masks and exponents of a block are small
    # temporaries that the allocator reuses, not n-word arrays mapped afresh for every format and call
    for start in range(0, n, _BLOCK):
        block, which = words[start:start + _BLOCK], binades[start:start + _BLOCK]
        np.bitwise_and(bits[start:start + _BLOCK], masks[0] if uniform else masks[which], out=block)
        block |= exponents[which]
    words[1::2] |= np.uint64(1 << 63)  # - at odd positions
    return words.view(np.float64)


def wrap(values: list[float], shape: tuple[int, ...], dtype: DType) -> Tensor:
    """An engine tensor of values that already lie in ``dtype``: nothing rounded, nothing copied."""
    if len(values) != math.prod(shape):
        raise ValueError(f"values must hold {math.prod(shape)} values for shape {shape}, got {len(values)}")
    return Tensor.from_flat(values, shape, dtype, rounded=True)
