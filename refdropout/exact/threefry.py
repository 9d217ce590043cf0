"""Threefry-2x32: the counter-based function JAX's default generator runs on (spec/exact.md).

Threefry-2xW-R (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC'11; the Threefish round of the Skein hash without tweak) maps a counter ``(x0, x1)`` and a key
``(k0, k1)`` of 32-bit words to two words. The key schedule adds a third word
``k2 = k0 ^ k1 ^ 0x1BD11BDA``. The function is

    (x0, x1) <- (x0 + k0, x1 + k1)
    for r = 0 .. R - 1:
        x0 <- x0 + x1;  x1 <- rotl(x1, ROT[r mod 8]) ^ x0
        after round r = 4 s - 1:  (x0, x1) <- (x0 + k[s mod 3], x1 + k[(s + 1) mod 3] + s)

all sums modulo 2^32, ``ROT = (13, 15, 26, 6, 17, 29, 16, 24)``. JAX uses R = 20.

The batched core packs each lane's word in its own 64-bit slot of one Python integer, as
``refdropout.random`` does for Philox: a sum of two words (< 2^33) stays in its slot, a left
shift by r < 32 of a word stays in it, and a right shift by 32 - r brings the next slot's bits
down only into the upper half of this one, which the mask clears. So each step of a round is
one big-integer operation over every lane.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..random import WORD, _integer, _ones, _pack, _unpack, _words
from ..values import shown

__all__ = ["threefry2x32", "threefry2x32_lanes", "THREEFRY_ROTATIONS", "THREEFRY_PARITY"]

THREEFRY_ROTATIONS = (13, 15, 26, 6, 17, 29, 16, 24)  # Random123's R_32x2_0_0 .. R_32x2_7_0
THREEFRY_PARITY = 0x1BD11BDA  # SKEIN_KS_PARITY32: makes k2 = k0 ^ k1 ^ parity never all-zero with k0, k1
_MASK = WORD - 1


def _schedule(key: tuple[int, int]) -> tuple[int, int, int]:
    k0, k1 = key
    return k0, k1, k0 ^ k1 ^ THREEFRY_PARITY


def threefry2x32(counter: Sequence[int], key: Sequence[int], rounds: int = 20) -> tuple[int, int]:
    """Threefry-2x32-``rounds`` of one counter under one key, as published with Random123.

    ``counter`` and ``key``: 2 words each, ints in [0, 2^32). Returns 2 words.
    """
    x0, x1 = _words(counter, 2, "threefry2x32: counter")
    ks = _schedule(_words(key, 2, "threefry2x32: key"))
    rounds = _integer(rounds, "threefry2x32: rounds", 1)
    x0, x1 = (x0 + ks[0]) & _MASK, (x1 + ks[1]) & _MASK
    for r in range(rounds):
        rot = THREEFRY_ROTATIONS[r % 8]
        x0 = (x0 + x1) & _MASK
        x1 = (((x1 << rot) | (x1 >> (32 - rot))) & _MASK) ^ x0
        if r % 4 == 3:
            s = (r + 1) // 4
            x0, x1 = (x0 + ks[s % 3]) & _MASK, (x1 + ks[(s + 1) % 3] + s) & _MASK
    return x0, x1


def _threefry_packed(x0: int, x1: int, key: tuple[int, int], rounds: int, n: int) -> tuple[int, int]:
    """The rounds of ``threefry2x32`` on n packed counters (same key for all).

    x1 is kept clean (each slot < 2^32), since its rotation reads the slot's upper half; x0 may
    carry up to 5 bits above bit 32 of its slot between key injections, which only sums reach
    and the masks after each xor and each injection clear.
    """
    ones = _ones(n)
    low = _MASK * ones
    ks = _schedule(key)
    x0 = x0 + ks[0] * ones
    x1 = (x1 + ks[1] * ones) & low
    for r in range(rounds):
        rot = THREEFRY_ROTATIONS[r % 8]
        x0 += x1
        x1 = ((x1 << rot | x1 >> (32 - rot)) ^ x0) & low  # x1 >> (32 - rot) lands the next slot in the upper half
        if r % 4 == 3:
            s = (r + 1) // 4
            x0 = (x0 + ks[s % 3] * ones) & low
            x1 = (x1 + (ks[(s + 1) % 3] + s) * ones) & low
    return x0 & low, x1


def threefry_words(x0: Sequence[int] | range, x1: Sequence[int] | range, key: tuple[int, int],
                   rounds: int = 20) -> tuple[list[int], list[int]]:
    """``threefry2x32`` of counters ``(x0[i], x1[i])`` under ``key``, unchecked: the engine's own
    callers hand it words they made. Returns the two output words of every counter as two lists."""
    n = len(x0)
    if n == 0:
        return [], []
    y0, y1 = _threefry_packed(_pack(x0), _pack(x1), key, rounds, n)
    return _unpack(y0, n), _unpack(y1, n)


def threefry2x32_lanes(counters: Sequence[Sequence[int]], key: Sequence[int], rounds: int = 20
                       ) -> tuple[list[int], list[int]]:
    """``threefry2x32`` of many counters under one key, word by word.

    ``counters`` holds two equally long sequences: ``counters[j][i]`` is word j of counter i.
    The result has the same layout: ``result[j][i] == threefry2x32(counter i, key)[j]``.
    """
    if (not isinstance(counters, Sequence) or isinstance(counters, (str, bytes)) or len(counters) != 2
            or not all(isinstance(lane, Sequence) and not isinstance(lane, (str, bytes)) for lane in counters)):
        raise TypeError(f"threefry2x32_lanes: counters must be 2 sequences of words (one per counter word), "
                        f"got {shown(counters)}")
    n = len(counters[0])
    if len(counters[1]) != n:
        raise ValueError(f"threefry2x32_lanes: counters must be 2 sequences of one length, "
                         f"but counters[0] has {n} words and counters[1] has {len(counters[1])}")
    for j, lane in enumerate(counters):
        for i, w in enumerate(lane):
            _integer(w, f"threefry2x32_lanes: counters[{j}][{i}]", 0, WORD)
    key = _words(key, 2, "threefry2x32_lanes: key")
    rounds = _integer(rounds, "threefry2x32_lanes: rounds", 1)
    return threefry_words(counters[0], counters[1], key, rounds)
