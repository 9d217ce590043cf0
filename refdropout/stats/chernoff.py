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

from scipy.stats import norm

from .arguments import check_count, check_finite, check_open_unit, check_positive
from .bernstein import shifted_power
from .decision import Decision

__all__ = [
    "LogMGF", "chernoff_mean_power", "chernoff_mean_test", "chernoff_thresholds", "chernoff_variance_power",
    "chernoff_variance_test", "log_add_exp", "thresholds_power",
]

LogMGF = tuple[Callable[[float], float], float, float]  # Λ, and the reach: Λ(λ) is finite for -low < λ < high

_LOG_2 = math.log(2.0)


def log_add_exp(x: float, y: float) -> float:
    """log(e^x + e^y) without overflow, in plain floats: numpy.logaddexp(x, y) bit for bit (numpy's
    npy_logaddexp: x + log 2 where x = y, else the larger plus log1p(exp(-|x - y|)), with the C library's
    exp and log1p, which math's are), at a fifth of the cost of a numpy scalar call; a log moment
    generating function is evaluated thousands of times per plan (tests/test_stats.py compares the two)."""
    if x == y:  # infinities of one sign too
        return x + _LOG_2
    difference = x - y
    if difference > 0.0:
        return x + math.log1p(math.exp(-difference))
    if difference <= 0.0:
        return y + math.log1p(math.exp(difference))
    return difference  # NaN


def _rate(log_mgf: LogMGF, x: float, side: int) -> float:
    """sup over 0 ≤ λ < reach of (side λ x − Λ(side λ)), side = 1 (upper tail) or −1 (lower), found
    numerically: a value at or below the supremum."""
    cgf, low, high = log_mgf
    reach = high if side > 0 else low
    least = bounded_minimum(lambda lam: cgf(side * lam) - side * lam * x, reach, 1e-10 * reach)
    return max(0.0, -float(least))


_SQRT_EPS = math.sqrt(2.2e-16)
_GOLDEN = 0.5 * (3.0 - math.sqrt(5.0))


def bounded_minimum(f: Callable[[float], float], high: float, xatol: float, maxfun: int = 500) -> float:
    """The least value of f that Brent's bounded method finds on [0, high] (golden sections and parabolic
    steps, as Forsythe, Malcolm and Moler's fminbnd): step for step scipy.optimize.minimize_scalar(f,
    bounds=(0, high), method="bounded", options={"xatol": xatol}).fun, bit for bit, in plain floats
    without its per-step numpy scalars (tests/test_stats.py compares the two)."""
    a, b = 0.0, high
    fulc = a + _GOLDEN * (b - a)
    nfc = xf = fulc
    rat = e = 0.0
    fx = f(xf)
    num = 1
    ffulc = fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = _SQRT_EPS * abs(xf) + xatol / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > tol2 - 0.5 * (b - a):
        golden = True
        if abs(e) > tol1:  # try a parabola through the three best points
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r, e = e, rat
            if abs(p) < abs(0.5 * q * r) and q * (a - xf) < p < q * (b - xf):
                rat = (p + 0.0) / q
                x = xf + rat
                if (x - a) < tol2 or (b - x) < tol2:
                    rat = -tol1 if xm < xf else tol1
            else:
                golden = True
        if golden:
            e = (a - xf) if xf >= xm else (b - xf)
            rat = _GOLDEN * e
        step = max(abs(rat), tol1)  # rat and tol1 are finite: f's NaNs only ever refuse a parabola
        x = xf - step if rat < 0.0 else xf + step
        fu = f(x)
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if fu <= fnfc or nfc == xf:
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif fu <= ffulc or fulc == xf or fulc == nfc:
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = _SQRT_EPS * abs(xf) + xatol / 3.0
        tol2 = 2.0 * tol1
        if num >= maxfun:
            break
    return fx


def _tail(log_mgf: LogMGF, mean: float, deviation: float, n: int, side: int = 0) -> float:
    """Chernoff's bound on P(|X̄ − mean| ≥ deviation) (side 0: the sum of the two one-sided bounds), or twice
    the one-sided bound on P(side (X̄ − mean) ≥ deviation) (side ±1: split tails), capped at 1 (1 for
    deviation ≤ 0)."""
    if deviation <= 0.0:
        return 1.0
    if side:  # the one side's bound once, doubled: e + e is 2 e exactly
        return min(1.0, 2.0 * math.exp(-n * _rate(log_mgf, mean + side * deviation, side)))
    return min(1.0, sum(math.exp(-n * _rate(log_mgf, mean + s * deviation, s)) for s in (1, -1)))


def _beyond(log_mgf: LogMGF, mean: float, deviation: float, n: int, alpha: float, side: int = 0) -> bool:
    """``_tail(log_mgf, mean, deviation, n, side) > alpha`` for α in (0, 1), the lower tail left uncomputed where
    the upper alone exceeds α (a sum of nonnegative floats is at least each term, so the answer is the same)."""
    if deviation <= 0.0:
        return True
    if side:
        return _tail(log_mgf, mean, deviation, n, side) > alpha
    upper = math.exp(-n * _rate(log_mgf, mean + deviation, 1))
    return upper > alpha or min(1.0, upper + math.exp(-n * _rate(log_mgf, mean - deviation, -1))) > alpha


def _radius(log_mgf: LogMGF, mean: float, scale: float, n: int, alpha: float, side: int = 0, steps: int = 60) -> float:
    """A deviation at which _tail is at most α (α in (0, 1)): bisection (``steps`` steps) below a bracket found
    by doubling ``scale``. Once the middle of [low, high] is one of its ends, no later step moves them (high is
    within α, low is not), so the steps left are skipped: the same radius, bit for bit."""
    high = scale
    while _beyond(log_mgf, mean, high, n, alpha, side):
        high *= 2.0
    low = 0.0
    for _ in range(steps):
        middle = (low + high) / 2.0
        if middle == low or middle == high:
            break
        low, high = (middle, high) if _beyond(log_mgf, mean, middle, n, alpha, side) else (low, middle)
    return high


def chernoff_mean_test(observed: float, n: int, mean: float, log_mgf: LogMGF, *, alpha: float,
                       slack: float = 0.0, split: bool = False) -> Decision:
    """Test of H₀: ``observed`` is the mean of n i.i.d. terms whose log moment generating function is
    ``log_mgf`` (and whose mean is ``mean``), or lies within ``slack`` of such a mean (the rounding of the
    terms as they were computed). The p-value is Chernoff's bound on P(|X̄ − μ| ≥ |observed − μ| − slack)
    or, ``split``, twice the one-sided bound on the side ``observed`` lies on (each tail at α/2: the better
    test for skewed terms), so P₀(p ≤ α) ≤ α at every n."""
    observed, mean = check_finite("observed", observed), check_finite("mean", mean)
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    if not 0.0 <= slack < math.inf:
        raise ValueError(f"slack must be a finite number >= 0, got {slack!r}")
    deviation = abs(observed - mean)
    side = (1 if observed >= mean else -1) if split else 0
    return Decision(test="chernoff", statistic=deviation, p_value=_tail(log_mgf, mean, deviation - slack, n, side),
                    n=n, observed=observed, expected=mean, alpha=alpha)


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


def chernoff_thresholds(n: int, mean: float, variance: float, log_mgf: LogMGF, alpha: float,
                        split: bool = False, steps: int = 60) -> tuple[float, float]:
    """The deviations above and below ``mean`` beyond which :func:`chernoff_mean_test` rejects at α: one radius
    for both sides, or (``split``) each side's own at α/2; each to 2^-``steps`` of its bracket (a plan needs
    fewer than 60 steps: 30 fix it to a billionth)."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    steps = check_count("steps", steps, minimum=1)
    scale = math.sqrt(variance / n)
    if not split:
        radius = _radius(log_mgf, mean, scale, n, alpha, steps=steps)
        return radius, radius
    upper, lower = (_radius(log_mgf, mean, scale, n, alpha, side, steps) for side in (1, -1))
    return upper, lower


def thresholds_power(thresholds: tuple[float, float], effect: float, spread: float, n: int) -> float:
    """P(statistic − null ≥ upper) + P(statistic − null ≤ −lower) for a statistic about N(null + effect,
    spread / n): the power of a test that rejects beyond ``thresholds`` (upper, lower), by the normal
    approximation at the alternative (the planning approximation of STATS-16)."""
    (upper, lower), sd = thresholds, math.sqrt(spread / n)
    return float(norm.sf((upper - effect) / sd) + norm.cdf((-lower - effect) / sd))


def chernoff_mean_power(effect: float, n: int, mean: float, variance: float, log_mgf: LogMGF, alpha: float,
                        spread: float | None = None, split: bool = False) -> float:
    """Power of :func:`chernoff_mean_test` against a mean ``effect`` away: it rejects beyond the radius at α
    (``split``: beyond each side's own radius at α/2), the mean taken as normal with the null's variance (the
    planning approximation of the z-tests, STATS-3), or with the alternative's variance ``spread`` where given."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    spread = variance if spread is None else check_positive("spread", spread)
    if not split:
        return shifted_power(_radius(log_mgf, mean, math.sqrt(variance / n), n, alpha), effect, spread, n)
    return thresholds_power(chernoff_thresholds(n, mean, variance, log_mgf, alpha, split), effect, spread, n)


def chernoff_variance_power(effect: float, n: int, mean: float, variance: float, fourth_moment: float,
                            log_mgf: LogMGF, square_log_mgf: LogMGF, alpha: float) -> float:
    """Power of :func:`chernoff_variance_test` against a variance ``effect`` away: it rejects beyond r² plus
    the radius of w̄ at α/2, the observed variance taken as normal with variance (μ₄ − σ⁴)/n (STATS-3)."""
    n, alpha = check_count("n", n, minimum=1), check_open_unit("alpha", alpha)
    spread = fourth_moment - variance**2
    threshold = (_radius(log_mgf, mean, math.sqrt(variance / n), n, alpha / 2) ** 2
                 + _radius(square_log_mgf, variance, math.sqrt(spread / n), n, alpha / 2))
    return shifted_power(threshold, effect, spread, n)
