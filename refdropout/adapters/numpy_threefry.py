"""JAX's float64 Bernoulli draw, vectorised with numpy (spec/exact.md, EXACT-1).

``threefry_bernoulli_float64(key, keep_prob, n)`` is ``refdropout.exact.jax_random.bernoulli(key,
keep_prob, n, "float64")`` in the partitionable layout as a numpy bool array, bit for bit: Threefry-2x32
with 20 rounds of the counters (0, i) on uint32 words, which wrap as the engine's words do, the top 52 of
each element's 64 bits compared with ceil(keep_prob 2^52). It exists for speed only (a mutant's masks for
the statistical clauses); the engine stays the definition, and tests hold the two equal.
"""

from __future__ import annotations

import math

import numpy as np

from ..exact.threefry import THREEFRY_PARITY, THREEFRY_ROTATIONS

__all__ = ["packed", "threefry_bernoulli_float64"]


def threefry_bernoulli_float64(key: tuple[int, int], keep_prob: float, n: int) -> np.ndarray:
    """The keep mask of jax_random.bernoulli(key, keep_prob, n, "float64"), bit for bit, as numpy bools."""
    k0, k1 = key
    schedule = (k0, k1, k0 ^ k1 ^ THREEFRY_PARITY)
    x0 = np.full(n, schedule[0], dtype=np.uint32)
    x1 = np.arange(n, dtype=np.uint32) + np.uint32(schedule[1])
    for r in range(20):
        rot = THREEFRY_ROTATIONS[r % 8]
        x0 += x1
        x1 = ((x1 << np.uint32(rot)) | (x1 >> np.uint32(32 - rot))) ^ x0
        if r % 4 == 3:
            s = (r + 1) // 4
            x0 += np.uint32(schedule[s % 3])
            x1 += np.uint32((schedule[(s + 1) % 3] + s) % 2**32)
    mantissas = ((x0.astype(np.uint64) << np.uint64(32)) | x1) >> np.uint64(12)
    return mantissas < math.ceil(keep_prob * 2**52)


def packed(keep: np.ndarray) -> np.ndarray:
    """A bool mask packed as the capability ``dropout_mask_bits`` answers (np.packbits, bitorder="little")."""
    return np.packbits(keep, bitorder="little")
