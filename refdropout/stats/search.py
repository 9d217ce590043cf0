"""Bisection for monotone predicates: the root-finder behind planning (STATS-3)."""

from __future__ import annotations

from collections.abc import Callable


def least_integer(holds: Callable[[int], bool], lo: int, hi: int) -> int:
    """The least n in [lo, hi] with ``holds(n)``, for ``holds`` false then true on [lo, hi].

    Returns ``hi + 1`` when ``holds`` is false on the whole range.
    """
    hi += 1  # invariant: holds(hi) (a virtual true past the range), and every n < lo is false
    while lo < hi:
        mid = (lo + hi) // 2
        if holds(mid):
            hi = mid
        else:
            lo = mid + 1
    return hi


def least_real(holds: Callable[[float], bool], lo: float, hi: float, steps: int = 60) -> float:
    """The least x in (lo, hi] with ``holds(x)`` to within (hi - lo) / 2**steps, rounded up.

    ``holds`` must be false then true on [lo, hi] and true at ``hi``.
    """
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if holds(mid):
            hi = mid
        else:
            lo = mid
    return hi
