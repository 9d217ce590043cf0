"""Inputs of the value checks, built in bulk at C speed (spec/dropout.md, DROPOUT-2 to DROPOUT-8).

The values are ±(1 + f) 2^k with k uniform in [-20, 4] (25 binades) and f uniform on the
format's grid in that binade (its P - 1 fraction bits, fewer where the binade lies below 2^emin),
signs alternating, so every value already lies in its format and nothing is rounded. Each is
written as the bits of a float64, assembled from random bytes with ``bytes.translate``, slice
assignment and whole-buffer integer operations: no Python code runs per element, so DROPOUT-4's
inputs of the plan's n elements (millions at the standard profile) take under a second per format.
"""

from __future__ import annotations

import math
import random
import sys
from array import array
from functools import lru_cache

from ..dtypes import DType
from ..tensor import Tensor

__all__ = ["BINADES", "spread", "wrap"]

BINADES = range(-20, 5)  # k of 2^k; every floating format holds all of them, normal or subnormal
_BIAS = 1023  # float64's exponent bias


def _binade_bytes(rng: random.Random, n: int) -> bytes:
    """n bytes, each an index into BINADES drawn uniformly: bytes past the last multiple of
    len(BINADES) are rejected (deleted), the rest reduced modulo len(BINADES)."""
    span = len(BINADES)
    limit = 256 - 256 % span
    reduce, rejected = bytes(b % span for b in range(256)), bytes(range(limit, 256))
    out = b""
    while len(out) < n:
        out += rng.randbytes(n - len(out) + n // 32 + 16).translate(reduce, rejected)
    return out[:n]


def _per_binade(value: list[int]) -> bytes:
    """A translate table: binade index -> byte (zero past the last binade)."""
    return bytes(value) + bytes(256 - len(value))


def _fraction_mask(dtype: DType, k: int) -> int:
    """The float64 fraction bits that a value of ``dtype`` in binade 2^k can set: its top
    P - 1 - max(0, emin - k)."""
    kept = dtype.precision - 1 - max(0, dtype.emin - k)
    return ((1 << kept) - 1) << (52 - kept)


@lru_cache(maxsize=1)  # the formats checked in turn draw the same bytes
def _draw(seed: int, n: int) -> tuple[bytes, int]:
    """n binade indices and 64 n random bits, from a stream of their own (apart from the implementation's)."""
    rng = random.Random(f"refdropout inputs {seed}")
    return _binade_bytes(rng, n), int.from_bytes(rng.randbytes(8 * n), "little")


def spread(seed: int, n: int, dtype: DType) -> list[float]:
    """n values ±(1 + f) 2^k of ``dtype``, + at even and - at odd positions (see the module)."""
    binades, bits = _draw(seed, n)
    fixed, mask = bytearray(8 * n), bytearray(8 * n)
    for j in range(8):  # byte j (little-endian) of each value's fraction mask
        mask[j::8] = binades.translate(_per_binade([_fraction_mask(dtype, k) >> 8 * j & 0xFF for k in BINADES]))
    exponents = [_BIAS + k for k in BINADES]
    fixed[6::8] = binades.translate(_per_binade([(e & 0xF) << 4 for e in exponents]))
    fixed[7::16] = binades[0::2].translate(_per_binade([e >> 4 for e in exponents]))
    fixed[15::16] = binades[1::2].translate(_per_binade([0x80 | e >> 4 for e in exponents]))
    bits = bits & int.from_bytes(mask, "little") | int.from_bytes(fixed, "little")
    values = array("d", bits.to_bytes(8 * n, "little"))
    if sys.byteorder == "big":
        values.byteswap()
    return values.tolist()


def wrap(values: list[float], shape: tuple[int, ...], dtype: DType) -> Tensor:
    """An engine tensor of values that already lie in ``dtype``: nothing rounded, nothing copied."""
    if len(values) != math.prod(shape):
        raise ValueError(f"values must hold {math.prod(shape)} values for shape {shape}, got {len(values)}")
    return Tensor.from_flat(values, shape, dtype, rounded=True)
