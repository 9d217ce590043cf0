"""The outcome of one statistical test, judged at its α (STATS-1).

Every test of :mod:`refdropout.stats` returns a :class:`Decision`: what was computed (the statistic
and its p-value), on how much data, and the natural observed and expected values a reader compares
(a keep rate and q, a correlation and 0, a variance and its null value). The verdict is p ≤ α.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Decision:
    """A test's statistic and p-value, judged at level ``alpha``."""

    test: str
    statistic: float
    p_value: float
    n: int
    observed: float
    expected: float
    alpha: float

    @property
    def reject(self) -> bool:
        """True when the null hypothesis is rejected: p ≤ α."""
        return self.p_value <= self.alpha
