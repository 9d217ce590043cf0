"""The smallest deviation a recorded decision could detect (STATS-1, STATS-3).

A record holds a decision's test, its sample size n, its level α and its observed and expected
values; with the plan's power these fix the least departure from the expected value that the test
detects with that power, in the units of observed and expected:

=============================== ===================================================================
test                            smallest detectable deviation
=============================== ===================================================================
binomial, dispersion            exact: ``detectable_delta(expected, n, α, power)`` (the dispersion
                                test is one-sided, so its own is smaller)
lag / successive / axis indep.  a correlation φ of (z_{α/2} + z_power) / √n, the large-sample
                                MDE (the null sd of √n φ is 1; a small φ barely changes it)
mean z, variance z              (z_{α/2} + z_power) · se, the standard error se = |observed −
                                expected| / |z| read off the record (none where z = 0)
variance chi2                   (r − 1) · expected, r > 1 the least variance ratio detected
two-point mean, variance        exact: the rate's ``detectable_delta`` at the null rate nearest k / n,
                                in the moment's units: v δ for the mean, the smaller change of
                                v² π (1 − π) at π ± δ for the variance (v = observed n / k; none at k = 0)
kolmogorov-smirnov              the DKW bound (√(ln(2/α)/2) + √(ln(2/(1 − power))/2)) / √n
homogeneity, runs, bernstein,   none: it depends on what the record does not hold (the pairs of
lag independence by class       each class, for the test by class)
=============================== ===================================================================
"""

from __future__ import annotations

import math

from scipy.stats import norm

from ..stats import Record, detectable_delta, variance_power, variance_roots
from ..stats.search import least_real

__all__ = ["detectable"]

_LARGEST_RATIO = 1e6  # a variance ratio no chi2 test in the suite fails to detect


def _z_sum(record: Record, power: float) -> float:
    return float(norm.isf(record.alpha / 2) + norm.isf(1 - power))


def _binomial(record: Record, power: float) -> float | None:
    if not 0.0 <= record.expected <= 1.0 or record.n < 1:
        return None
    return detectable_delta(record.expected, record.n, record.alpha, power)


def _correlation(record: Record, power: float) -> float | None:
    return _z_sum(record, power) / math.sqrt(record.n) if record.n > 0 else None


def _z_test(record: Record, power: float) -> float | None:
    if record.statistic == 0.0 or not math.isfinite(record.statistic):
        return None
    return _z_sum(record, power) * abs(record.observed - record.expected) / abs(record.statistic)


def _chi2(record: Record, power: float) -> float | None:
    def detected(ratio: float) -> bool:
        return variance_power(ratio, record.n, record.alpha) >= power

    if record.n < 2 or not detected(_LARGEST_RATIO):
        return None
    return (least_real(detected, 1.0, _LARGEST_RATIO, steps=80) - 1.0) * record.expected


def _two_point(record: Record, power: float) -> float | None:
    """The two-point tests' MDE (stats.twopoint): the statistic is the count k of the values v."""
    k, n = int(record.statistic), record.n
    if k == 0 or n < 2:
        return None
    if record.test == "two-point mean":
        v = record.observed * n / k
        rate = record.expected / v
        return v * detectable_delta(rate, n, record.alpha, power) if 0.0 <= rate <= 1.0 else None
    if k == n:
        return None
    v = math.sqrt(record.observed * n * (n - 1) / (k * (n - k)))
    roots = variance_roots(v, record.expected)
    if roots is None:
        return None
    rate = min(roots, key=lambda r: abs(r - k / n))
    delta = detectable_delta(rate, n, record.alpha, power)
    if not math.isfinite(delta):
        return delta
    return min(abs(v * v * (r * (1 - r) - rate * (1 - rate)))
               for r in (rate - delta, rate + delta) if 0.0 <= r <= 1.0)


def _kolmogorov_smirnov(record: Record, power: float) -> float:
    root = math.sqrt(math.log(2 / record.alpha) / 2) + math.sqrt(math.log(2 / (1 - power)) / 2)
    return root / math.sqrt(record.n)


_BY_TEST = {
    "binomial": _binomial,
    "dispersion": _binomial,
    "lag independence": _correlation,
    "successive independence": _correlation,
    "axis independence": _correlation,
    "mean z": _z_test,
    "variance z": _z_test,
    "variance chi2": _chi2,
    "two-point mean": _two_point,
    "two-point variance": _two_point,
    "kolmogorov-smirnov": _kolmogorov_smirnov,
}


def detectable(record: Record, power: float) -> float | None:
    """The least deviation from ``record.expected`` its test detects with probability ``power``
    (``math.inf`` when none is; None where the record does not determine it)."""
    rule = _BY_TEST.get(record.test)
    return None if rule is None else rule(record, power)
