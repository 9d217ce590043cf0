"""Tests of a mean and a variance by Bernstein's inequality, valid at every sample size (ENSEMBLE-9).

For the mean of S independent terms with mean μ, variance at most v and |term − μ| ≤ b,

    P(|mean − μ| ≥ δ) ≤ 2 exp(−S δ² / (2 v + 2 b δ / 3)).

The bound holds at every S with no normal approximation, so a p-value read off it is valid (never
too small) however few the terms: the price is power, the bound being loose. Both tests take the
null's moments and range from an exact computation (in refdropout, the enumeration of a network's
2^n sub-networks) rather than from the data.
"""

from __future__ import annotations

import math
from typing import Any

from scipy.stats import norm

from .arguments import check_count, check_finite, check_open_unit
from .decision import Decision

__all__ = ["bernstein_mean_power", "bernstein_mean_test", "bernstein_variance_power", "bernstein_variance_test",
           "shifted_power"]


def _check_nonnegative(name: str, value: Any) -> float:
    """A finite real number ≥ 0 (a variance, a fourth moment, a range)."""
    x = check_finite(name, value)
    if x < 0.0:
        raise ValueError(f"{name} must be in [0, inf), got {value!r}")
    return x


def _shared(observed: Any, n: Any, bound: Any, alpha: Any) -> tuple[float, int, float, float]:
    """The arguments both tests take, checked: the observed statistic, n ≥ 1 terms, their range, α."""
    return (check_finite("observed", observed), check_count("n", n, minimum=1), _check_nonnegative("bound", bound),
            check_open_unit("alpha", alpha))


def _tail(delta: float, variance: float, bound: float, samples: int) -> float:
    """Bernstein's bound on P(|mean of S terms − μ| ≥ δ), capped at 1 (1 for δ ≤ 0)."""
    if delta <= 0.0:
        return 1.0
    spread = 2.0 * variance + 2.0 * bound * delta / 3.0
    return 0.0 if spread == 0.0 else min(1.0, 2.0 * math.exp(-samples * delta * delta / spread))


def _radius(alpha: float, variance: float, bound: float, samples: int) -> float:
    """The δ at which ``_tail`` is α: the root of S δ² = L (2 v + 2 b δ / 3), L = ln(2 / α);
    about √(2 v L / S) for large S, so it shrinks like 1/√S."""
    log_term = math.log(2.0 / alpha)
    linear = 2.0 * bound * log_term / 3.0
    return (linear + math.sqrt(linear * linear + 8.0 * samples * variance * log_term)) / (2.0 * samples)


def bernstein_mean_test(observed: float, n: int, mean: float, variance: float, bound: float, *,
                        alpha: float) -> Decision:
    """Test of H₀: ``observed`` is the mean of n independent terms with mean ``mean``, variance at
    most ``variance`` and |term − mean| ≤ ``bound``.

    The p-value is Bernstein's bound on P(|X̄ − μ| ≥ |observed − μ|), so P₀(p ≤ α) ≤ α at every n.
    """
    observed, n, bound, alpha = _shared(observed, n, bound, alpha)
    mean, variance = check_finite("mean", mean), _check_nonnegative("variance", variance)
    deviation = abs(observed - mean)
    return Decision(test="bernstein", statistic=deviation, p_value=_tail(deviation, variance, bound, n), n=n,
                    observed=observed, expected=mean, alpha=alpha)


def bernstein_variance_test(observed: float, n: int, variance: float, fourth_moment: float, bound: float, *,
                            alpha: float) -> Decision:
    """Test of H₀: ``observed`` = (1/n) Σ (f_s − f̄)² for n independent terms f_s with mean A,
    variance ``variance`` (σ²), fourth central moment ``fourth_moment`` (μ₄) and |f_s − A| ≤ ``bound``.

    observed = w − (f̄ − A)² with w = (1/n) Σ (f_s − A)², whose terms lie in [0, bound²] with mean
    σ² and variance μ₄ − σ⁴. With r the mean's Bernstein radius at α/2, |observed − σ²| can exceed
    r² + δ only if |f̄ − A| > r or |w − σ²| > δ; the p-value α/2 + P(|w − σ²| ≥ |observed − σ²| − r²)
    is therefore at most α with probability at most α.
    """
    observed, n, bound, alpha = _shared(observed, n, bound, alpha)
    variance = _check_nonnegative("variance", variance)
    fourth_moment = _check_nonnegative("fourth_moment", fourth_moment)
    deviation = abs(observed - variance)
    squared_radius = _radius(alpha / 2, variance, bound, n) ** 2
    w_range = max(variance, bound**2 - variance)
    tail = _tail(deviation - squared_radius, fourth_moment - variance**2, w_range, n)
    return Decision(test="bernstein", statistic=deviation, p_value=min(1.0, alpha / 2 + tail), n=n,
                    observed=observed, expected=variance, alpha=alpha)


def shifted_power(threshold: float, effect: float, spread: float, n: int) -> float:
    """P(|statistic - null| >= threshold) for a statistic about N(null + effect, spread / n): the power
    of a test that rejects beyond ``threshold``, by the normal approximation at the alternative (the
    planning approximation of the Bernstein and Chernoff tests)."""
    sd, effect = math.sqrt(spread / n), abs(effect)
    return float(norm.sf((threshold - effect) / sd) + norm.cdf((-threshold - effect) / sd))


def bernstein_mean_power(effect: float, n: int, variance: float, bound: float, alpha: float) -> float:
    """Power of :func:`bernstein_mean_test` on n terms whose mean is ``effect`` away from the null's:
    it rejects where |mean − μ| reaches Bernstein's radius at α, and the mean is taken as normal with
    the null's variance (the planning approximation of the z-tests, STATS-3)."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    return shifted_power(_radius(alpha, variance, bound, n), effect, variance, n)


def bernstein_variance_power(effect: float, n: int, variance: float, fourth_moment: float, bound: float,
                             alpha: float) -> float:
    """Power of :func:`bernstein_variance_test` on n terms whose variance is ``effect`` away from the
    null's: it rejects where |observed − σ²| reaches r² + δ, r the mean's radius at α/2 and δ that of
    w at α/2, and the observed variance is taken as normal with variance (μ₄ − σ⁴)/n (STATS-3)."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    spread = fourth_moment - variance**2
    threshold = _radius(alpha / 2, variance, bound, n) ** 2 + _radius(alpha / 2, spread,
                                                                      max(variance, bound**2 - variance), n)
    return shifted_power(threshold, effect, spread, n)
