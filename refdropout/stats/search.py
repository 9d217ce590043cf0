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


def least_integer_near(holds: Callable[[int], bool], lo: int, hi: int, guess: int) -> int:
    """``least_integer(holds, lo, hi)``, found by probing outward from ``guess``: steps of 1, 2, 4, ...
    until the answer is bracketed, then bisection inside the bracket. For ``holds`` false then true
    on [lo, hi] the answer is the same as least_integer's whatever the guess; a guess within a few
    of it costs a few calls of ``holds`` instead of log2(hi - lo).
    """
    if lo > hi:
        return hi + 1
    probe = min(max(guess, lo), hi)
    step = 1
    if holds(probe):
        while probe - step >= lo and holds(probe - step):  # probe - step is true: move down
            probe -= step
            step *= 2
        return least_integer(holds, max(lo, probe - step + 1), probe - 1)  # probe - step false (or < lo)
    while probe + step <= hi and not holds(probe + step):  # probe + step is false: move up
        probe += step
        step *= 2
    return least_integer(holds, probe + 1, min(hi, probe + step))


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
