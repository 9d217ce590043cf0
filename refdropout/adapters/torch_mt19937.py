"""PyTorch's CPU generator as a position: the 32-bit words its Mersenne Twister has output since seeding.

``torch.Generator.get_state()`` on the CPU is a byte tensor of 5,056 bytes: the legacy layout
``(uint64 seed, int32 left, int32 seeded, uint64 next, uint64 state[624], ...)`` of MT19937, whose
``left`` counts down to the next twist of the 624-word state. The words output since seeding are
``624 t - left + 1`` after t twists (``left`` is 1 at seeding, before the first); t is found by
twisting the seeded state until it is the current one. A helper of the torch adapter, no target.
"""

from __future__ import annotations

import numpy as np

__all__ = ["words_drawn", "twist"]

N, M = 624, 397
UPPER, LOWER, MATRIX_A = np.uint32(0x80000000), np.uint32(0x7FFFFFFF), np.uint32(0x9908B0DF)
LEFT_AT, STATE_AT = 8, 24  # byte offsets of ``left`` (int32) and ``state`` (624 uint64) in the legacy layout
MAX_TWISTS = 2**20  # 654 million words: beyond, the position is refused rather than searched for


def _mixed(high: np.ndarray, low: np.ndarray, far: np.ndarray) -> np.ndarray:
    y = (high & UPPER) | (low & LOWER)
    return far ^ (y >> np.uint32(1)) ^ np.where(y & np.uint32(1), MATRIX_A, np.uint32(0))


def twist(state: np.ndarray) -> np.ndarray:
    """MT19937's next 624-word state (Matsumoto and Nishimura, 1998), in blocks whose words depend only
    on words already twisted: [0, 227), [227, 454), [454, 623), 623."""
    mt = state.copy()
    for start, stop in ((0, N - M), (N - M, 2 * (N - M)), (2 * (N - M), N - 1)):
        mt[start:stop] = _mixed(mt[start:stop], mt[start + 1:stop + 1], mt[(start + M) % N:(stop + M - 1) % N + 1])
    mt[N - 1] = _mixed(mt[N - 1:], mt[:1], mt[M - 1:M])[0]
    return mt


def _parsed(state: bytes) -> tuple[int, np.ndarray]:
    left = int(np.frombuffer(state, np.int32, 1, LEFT_AT)[0])
    return left, np.frombuffer(state, np.uint64, N, STATE_AT).astype(np.uint32)


def words_drawn(seeded: bytes, current: bytes) -> int:
    """How many 32-bit words a CPU generator in state ``current`` has output since it was in state
    ``seeded`` (just seeded: left = 1)."""
    left, words = _parsed(current)
    mt = _parsed(seeded)[1]
    for twists in range(MAX_TWISTS):
        if np.array_equal(mt, words):
            return max(twists * N - left + 1, 0)
        mt = twist(mt)
    raise OverflowError(f"the generator is more than {MAX_TWISTS} twists from its seeded state")
