"""Tests of a mean and a variance by Chernoff's bound with the exact moment generating function (STATS-16).

For the mean X̄ of n i.i.d. terms whose log moment generating function Λ(λ) = log E e^{λX} is known,

    P(X̄ ≥ x) ≤ exp(−n sup_{λ ≥ 0} (λ x − Λ(λ))),   P(X̄ ≤ x) ≤ exp(−n sup_{λ ≥ 0} (−λ x − Λ(−λ)))

at every n (Markov's inequality on e^{λ n X̄}), for every λ at which Λ is finite: a λ found
numerically short of the supremum gives a larger bound, never a smaller one. A p-value read off
these bounds is valid (P₀(p ≤ α) ≤ α) with no normal approximation, for unbounded terms too, and
costs less power than Bernstein's inequality, whose bound it improves on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from scipy.optimize import minimize_scalar

from .arguments import check_count, check_finite, check_open_unit, check_positive
from .bernstein import shifted_power
from .decision import Decision

__all__ = ["LogMGF", "chernoff_mean_power", "chernoff_mean_test", "chernoff_variance_power", "chernoff_variance_test"]

LogMGF = tuple[Callable[[float], float], float, float]  # Λ, and the reach: Λ(λ) is finite for -low < λ < high


def _rate(log_mgf: LogMGF, x: float, side: int) -> float:
    """sup over 0 ≤ λ < reach of (side λ x − Λ(side λ)), side = 1 (upper tail) or −1 (lower), found
    numerically: a value at or below the supremum."""
    cgf, low, high = log_mgf
    reach = high if side > 0 else low
    result = minimize_scalar(lambda lam: cgf(side * lam) - side * lam * x, bounds=(0.0, reach), method="bounded",
                             options={"xatol": 1e-10 * reach})
    return max(0.0, -float(result.fun))


def _tail(log_mgf: LogMGF, mean: float, deviation: float, n: int) -> float:
    """Chernoff's bound on P(|X̄ − mean| ≥ deviation), capped at 1 (1 for deviation ≤ 0)."""
    if deviation <= 0.0:
        return 1.0
    bound = sum(math.exp(-n * _rate(log_mgf, mean + side * deviation, side)) for side in (1, -1))
    return min(1.0, bound)


def _radius(log_mgf: LogMGF, mean: float, scale: float, n: int, alpha: float) -> float:
    """A deviation at which _tail is at most α: bisection (60 steps) below a bracket found by doubling ``scale``."""
    high = scale
    while _tail(log_mgf, mean, high, n) > alpha:
        high *= 2.0
    low = 0.0
    for _ in range(60):
        middle = (low + high) / 2.0
        low, high = (low, middle) if _tail(log_mgf, mean, middle, n) <= alpha else (middle, high)
    return high


def chernoff_mean_test(observed: float, n: int, mean: float, log_mgf: LogMGF, *, alpha: float) -> Decision:
    """Test of H₀: ``observed`` is the mean of n i.i.d. terms whose log moment generating function is
    ``log_mgf`` (and whose mean is ``mean``). The p-value is Chernoff's bound on P(|X̄ − μ| ≥ |observed − μ|),
    so P₀(p ≤ α) ≤ α at every n."""
    observed, mean = check_finite("observed", observed), check_finite("mean", mean)
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    deviation = abs(observed - mean)
    return Decision(test="chernoff", statistic=deviation, p_value=_tail(log_mgf, mean, deviation, n), n=n,
                    observed=observed, expected=mean, alpha=alpha)


def chernoff_variance_test(observed: float, n: int, mean: float, variance: float, log_mgf: LogMGF,
                           square_log_mgf: LogMGF, *, alpha: float) -> Decision:
    """Test of H₀: ``observed`` = (1/n) Σ (x_i − x̄)² for n i.i.d. terms with mean μ, variance σ² and
    log moment generating functions ``log_mgf`` of x and ``square_log_mgf`` of w = (x − μ)².

    observed = w̄ − (x̄ − μ)²: with r a deviation at which the mean's bound is α/2, |observed − σ²| can
    reach D only if |x̄ − μ| ≥ r or |w̄ − σ²| ≥ D − r²; the p-value α/2 + (Chernoff's bound on
    P(|w̄ − σ²| ≥ |observed − σ²| − r²)) is therefore at most α with probability at most α.
    """
    observed, mean = check_finite("observed", observed), check_finite("mean", mean)
    variance = check_positive("variance", variance)
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    deviation = abs(observed - variance)
    squared_radius = _radius(log_mgf, mean, math.sqrt(variance / n), n, alpha / 2) ** 2
    tail = _tail(square_log_mgf, variance, deviation - squared_radius, n)
    return Decision(test="chernoff", statistic=deviation, p_value=min(1.0, alpha / 2 + tail), n=n,
                    observed=observed, expected=variance, alpha=alpha)


def chernoff_mean_power(effect: float, n: int, mean: float, variance: float, log_mgf: LogMGF, alpha: float) -> float:
    """Power of :func:`chernoff_mean_test` against a mean ``effect`` away: it rejects beyond the radius at α,
    the mean taken as normal with the null's variance (the planning approximation of the z-tests, STATS-3)."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    return shifted_power(_radius(log_mgf, mean, math.sqrt(variance / n), n, alpha), effect, variance, n)


def chernoff_variance_power(effect: float, n: int, mean: float, variance: float, fourth_moment: float,
                            log_mgf: LogMGF, square_log_mgf: LogMGF, alpha: float) -> float:
    """Power of :func:`chernoff_variance_test` against a variance ``effect`` away: it rejects beyond r² plus
    the radius of w̄ at α/2, the observed variance taken as normal with variance (μ₄ − σ⁴)/n (STATS-3)."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    spread = fourth_moment - variance**2
    threshold = (_radius(log_mgf, mean, math.sqrt(variance / n), n, alpha / 2) ** 2
                 + _radius(square_log_mgf, variance, math.sqrt(spread / n), n, alpha / 2))
    return shifted_power(threshold, effect, spread, n)
