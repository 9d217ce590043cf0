"""Exact tests of the mean and the variance of a two-point sample (STATS-15).

A sample whose values are 0 and one value v ≠ 0 is v·m with m ~ Bernoulli(π) i.i.d.: its
moments are functions of π alone, E = v π and Var = v² π (1 − π), and its one free statistic is
the count K ~ Binomial(n, π) of the values v. A hypothesis about the mean or the variance is
therefore a hypothesis about π, judged by the exact binomial test of K (STATS-2), whose size is at
most α at every n: no normal approximation, no moment beyond the one tested.

The ratios y / y_eval of dropout of x = 1 are such a sample, m / q (DROPOUT-20, DROPOUT-21).
"""

from __future__ import annotations

import math

from .arguments import check_finite, check_open_unit, check_positive, check_successes
from .binomial import two_sided_p_value
from .decision import Decision

__all__ = ["two_point_mean_test", "two_point_variance_test", "variance_roots"]


def _checked(k: int, n: int, value: float, alpha: float) -> tuple[int, int, float, float]:
    k, n = check_successes(k, n)
    v = check_finite("value", value)
    if v == 0.0:
        raise ValueError(f"value must be a nonzero real number, got {value!r}")
    return k, n, v, check_open_unit("alpha", alpha)


def _p_value(k: int, n: int, rate: float) -> float:
    """The exact two-sided binomial p-value of k of n against ``rate``, 0 where no rate in [0, 1] is
    the null's (an impossible hypothesis is contradicted by every sample)."""
    return two_sided_p_value(k, n, rate) if 0.0 <= rate <= 1.0 else 0.0


def two_point_mean_test(k: int, n: int, value: float, mean: float, *, alpha: float) -> Decision:
    """Exact test of H₀: E X = ``mean`` for n i.i.d. values of which k equal ``value`` (v) and the
    rest 0: X = v m, m ~ Bernoulli(π), so H₀ is π = μ₀ / v and p is the exact binomial p-value of k
    against it (p = 0 where μ₀ / v is outside [0, 1]). P₀(p ≤ α) ≤ α at every n (STATS-2)."""
    k, n, v, alpha = _checked(k, n, value, alpha)
    mu0 = check_finite("mean", mean)
    rate = mu0 / v
    return Decision(test="two-point mean", statistic=float(k), p_value=_p_value(k, n, rate), n=n,
                    observed=v * k / n, expected=mu0, alpha=alpha)


def variance_roots(value: float, variance: float) -> tuple[float, float] | None:
    """The rates π with v² π (1 − π) = σ₀², the smaller first; None where σ₀² / v² > 1/4 (no rate has
    that variance)."""
    c = variance / (value * value)
    if c > 0.25:
        return None
    half_width = math.sqrt(1.0 - 4.0 * c) / 2.0
    return 0.5 - half_width, 0.5 + half_width


def two_point_variance_test(k: int, n: int, value: float, variance: float, *, alpha: float) -> Decision:
    """Exact test of H₀: Var X = σ₀² = ``variance`` for n ≥ 2 i.i.d. values of which k equal ``value``
    (v) and the rest 0. H₀ is π ∈ {π₋, π₊}, the roots of v² π (1 − π) = σ₀², and

        p = max(p(k; π₋), p(k; π₊))

    with p(k; π) the exact binomial p-value: under H₀ at either root, P(p ≤ α) ≤ P(p(K; π) ≤ α) ≤ α
    (STATS-2). p = 0 where no rate has the variance (σ₀² > v²/4). The observed value is the sample
    variance v² k (n − k) / (n (n − 1))."""
    k, n, v, alpha = _checked(k, n, value, alpha)
    if n < 2:
        raise ValueError(f"n must be at least 2 for a variance, got {n}")
    s0 = check_positive("variance", variance)
    roots = variance_roots(v, s0)
    p = 0.0 if roots is None else max(_p_value(k, n, rate) for rate in roots)
    return Decision(test="two-point variance", statistic=float(k), p_value=p, n=n,
                    observed=v * v * k * (n - k) / (n * (n - 1)), expected=s0, alpha=alpha)
