"""Continuous checks for the dropout variants (STATS-11).

Gaussian dropout, alpha dropout and the scaled outputs x·m/q of ordinary dropout are judged by
their distribution and their first two moments, each against a value stated by the clause:

* the Kolmogorov–Smirnov test against a fully specified continuous scipy distribution;
* a z-test for the mean with known σ;
* a test for the variance: exact χ² for normal data, or a large-sample z-test given the null
  fourth central moment μ₄ for any other data.

The mean and variance tests also read a sample that is not a list: any object with ``n`` and
``fsum(term)``, the exact sum of term(v) over its values rounded once, as ``math.fsum`` rounds. A
:class:`Tally` (distinct values and their counts) is one, which decides as the list of its values
does, bit for bit; a caller that draws a sample in bounded chunks can be another, summing each
chunk exactly with :func:`exact_sum` (there ``term`` is applied to numpy arrays, whose ``** 2`` is
x * x: Python's may differ from it in the last bit).

Anderson–Darling is not offered: scipy's ``anderson`` estimates the parameters and interpolates its
p-value from a table clipped to [0.01, 0.15], so it can neither decide at α ≤ 1e-6 nor be calibrated.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from scipy.stats import chi2, kstest, norm, rv_discrete

from .arguments import as_samples, check_count, check_finite, check_open_unit, check_positive
from .decision import Decision


def _sample_array(samples: Any) -> np.ndarray:
    """``samples`` as a flat float64 array: a floating numpy array of finite values taken at C speed,
    without a Python float per value; anything else through ``as_samples``, which names a bad value."""
    if isinstance(samples, np.ndarray) and samples.dtype.kind == "f" and samples.size:
        x = samples.astype(np.float64, copy=False).reshape(-1)
        if np.isfinite(x).all():
            return x
    return np.asarray(as_samples(samples), dtype=np.float64)


def ks_test(samples: Any, distribution: Any, *, alpha: float) -> Decision:
    """Two-sided Kolmogorov–Smirnov test of H₀: the samples are i.i.d. from ``distribution``.

    ``distribution`` is a frozen continuous scipy distribution with every parameter stated, e.g.
    ``scipy.stats.norm(0, 1)``; parameters estimated from the same samples void the test. The
    statistic is D = sup_x |F_n(x) − F₀(x)|; the p-value is scipy's exact one up to n = 10000.
    """
    x = _sample_array(samples)
    alpha = check_open_unit("alpha", alpha)
    cdf = getattr(distribution, "cdf", None)
    if cdf is None or isinstance(getattr(distribution, "dist", None), rv_discrete):
        raise TypeError(f"distribution must be a frozen continuous scipy distribution, got {distribution!r}")
    result = kstest(x, cdf)
    return Decision(
        test="kolmogorov-smirnov",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        n=len(x),
        observed=float(result.statistic),
        expected=0.0,
        alpha=alpha,
    )


@dataclass(frozen=True)
class Tally:
    """A sample as its distinct finite values and how often each occurs; tallies of disjoint parts of
    one sample add (``+``)."""

    counts: dict[float, int]

    def __post_init__(self) -> None:
        for value, count in self.counts.items():
            check_finite("a tallied value", value)
            check_count(f"the count of {value!r}", count, minimum=1)

    @classmethod
    def of(cls, values: Any) -> Tally:
        """The tally of ``values`` (a numpy array or any iterable of reals)."""
        distinct, counts = np.unique(np.asarray(values, dtype=np.float64), return_counts=True)
        return cls(dict(zip(distinct.tolist(), counts.tolist())))

    def __add__(self, other: Tally) -> Tally:
        return Tally(dict(Counter(self.counts) + Counter(other.counts)))

    @property
    def n(self) -> int:
        return sum(self.counts.values())

    def fsum(self, term: Callable[[float], float] | None = None) -> float:
        """``math.fsum(term(v) for v in the sample)`` (of v where term is None): the exact sum, rounded once."""
        return float(sum(Fraction(v if term is None else term(v)) * c for v, c in self.counts.items()))


# values summed at once by exact_sum: 26-bit halves of up to 2^27 values sum below 2^53, exactly; blocks of
# 2^18 keep its temporaries (2 MiB each) in cache and reused, twice as fast as one pass over millions
_BLOCK = 2**18
_FRACTION = 2**52 - 1  # the stored significand bits of a float64
_HALF = 2**26 - 1


def exact_sum(values: Any) -> Fraction:
    """The exact sum of finite float64 ``values`` (a numpy array), at C speed: each value is ±s 2^(e − 1075)
    with s an integer below 2^53 read off its bits (e the biased exponent, 1 for subnormals), ±s split
    into 26-bit halves that float64 sums exactly per exponent (``numpy.bincount``, no sort)."""
    flat = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    if not np.isfinite(flat).all():
        raise ValueError("values must be finite to be summed exactly")
    total = 0  # the sum in units of 2^-1074, the least subnormal
    for start in range(0, flat.size, _BLOCK):
        bits = flat[start:start + _BLOCK].view(np.int64)
        field = (bits >> 52) & 0x7FF
        significand = (bits & _FRACTION) | ((field != 0).astype(np.int64) << 52)  # a normal's leading bit
        signed = np.where(bits < 0, -significand, significand)  # = high 2^26 + low, 0 <= low < 2^26
        exponent = np.maximum(field, 1)
        high = np.bincount(exponent, weights=(signed >> 26).astype(np.float64))
        low = np.bincount(exponent, weights=(signed & _HALF).astype(np.float64))
        for e in np.flatnonzero((high != 0) | (low != 0)).tolist():
            total += (int(high[e]) * 2**26 + int(low[e])) << (e - 1)
    return Fraction(total, 2**1074)


def _size_and_sum(samples: Any, minimum: int = 1) -> tuple[Any, int, float]:
    """(the samples, n, fsum of the samples), the samples summable (n and fsum) or a checked list."""
    if hasattr(samples, "fsum") and hasattr(samples, "n"):
        if samples.n < minimum:
            raise ValueError(f"samples must hold at least {minimum} values, got {samples.n}")
        return samples, samples.n, samples.fsum()
    x = as_samples(samples, minimum=minimum)
    return x, len(x), math.fsum(x)


def _two_sided_z(z: float) -> float:
    return float(min(1.0, 2 * norm.sf(abs(z))))


def mean_z_test(samples: Any, mean: float, sigma: float, *, alpha: float) -> Decision:
    """Two-sided z-test of H₀: E X = ``mean`` for samples with known standard deviation σ.

    z = (x̄ − μ₀) / (σ/√n) is N(0, 1) exactly for normal data and asymptotically otherwise; being
    two-sided, its n^(−1/2) skewness error cancels and the first error term is O(1/n).
    """
    _, n, total = _size_and_sum(samples)
    mu0 = check_finite("mean", mean)
    sigma = check_positive("sigma", sigma)
    alpha = check_open_unit("alpha", alpha)
    xbar = total / n
    z = (xbar - mu0) / (sigma / math.sqrt(n))
    return Decision(
        test="mean z", statistic=z, p_value=_two_sided_z(z), n=n, observed=xbar, expected=mu0, alpha=alpha
    )


def variance_test(samples: Any, variance: float, *, alpha: float, fourth_moment: float | None = None) -> Decision:
    """Two-sided test of H₀: Var X = σ₀² = ``variance``, from n ≥ 2 samples.

    Without ``fourth_moment`` the data must be normal: (n − 1)s²/σ₀² ~ χ²(n − 1) exactly, and the
    p-value doubles the smaller tail. With the null fourth central moment μ₄ = E(X − μ)⁴ it is the
    large-sample z-test for any distribution:

        z = (s² − σ₀²) / √(Var s²),   Var s² = (μ₄ − σ₀⁴·(n − 3)/(n − 1)) / n.
    """
    x, n, total = _size_and_sum(samples, minimum=2)
    s0 = check_positive("variance", variance)
    alpha = check_open_unit("alpha", alpha)
    xbar = total / n
    squares = x.fsum(lambda v: (v - xbar) ** 2) if hasattr(x, "fsum") else math.fsum((v - xbar) ** 2 for v in x)
    s2 = squares / (n - 1)
    if fourth_moment is None:
        t = (n - 1) * s2 / s0
        p = min(1.0, 2 * min(chi2.cdf(t, n - 1), chi2.sf(t, n - 1)))
        statistic, test = t, "variance chi2"
    else:
        mu4 = check_positive("fourth_moment", fourth_moment)
        if mu4 < s0 * s0:
            raise ValueError(f"fourth_moment must be >= variance**2 = {s0 * s0!r}, got {fourth_moment!r}")
        var_s2 = (mu4 - s0 * s0 * (n - 3) / (n - 1)) / n
        statistic, test = (s2 - s0) / math.sqrt(var_s2), "variance z"
        p = _two_sided_z(statistic)
    return Decision(
        test=test, statistic=statistic, p_value=float(p), n=n, observed=s2, expected=s0, alpha=alpha
    )
