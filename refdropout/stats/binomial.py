"""The exact binomial test of a keep rate (STATS-2) and its exact power (STATS-3).

A mask of n independent Bernoulli(q) elements keeps K ~ Binomial(n, q) of them. The test is
``scipy.stats.binomtest``: the two-sided p-value sums the probability of every outcome no more
likely than the observed one,

    p(k) = Σ_{j : f(j) ≤ f(k)} f(j),   f(j) = C(n, j) q^j (1 − q)^(n − j),

so it holds its level exactly, P₀(p ≤ α) ≤ α, at every n and q.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from scipy.stats import beta, binom, binomtest

from .arguments import check_count, check_keep_prob, check_open_unit, check_successes
from .decision import Decision
from .search import least_integer_near

ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True, kw_only=True)
class BinomialDecision(Decision):
    """An exact binomial test of ``k`` successes out of ``n`` against probability ``expected``.

    ``observed`` is the rate k/n; ``ci_low``/``ci_high`` bound the probability by Clopper–Pearson
    at confidence 1 − α, the decision's own α (one-sided for a one-sided ``alternative``).
    """

    k: int
    alternative: str
    ci_low: float
    ci_high: float


def binomial_test(
    k: int, n: int, keep_prob: float, *, alpha: float, alternative: str = "two-sided"
) -> BinomialDecision:
    """Exact test of H₀: K ~ Binomial(n, keep_prob), with a Clopper–Pearson interval.

    Two-sided by default; ``alternative="greater"`` (``"less"``) tests H₀: the probability is at
    most (at least) ``keep_prob``, with p = P₀(K ≥ k) (p = P₀(K ≤ k)).
    """
    k, n = check_successes(k, n)
    q = check_keep_prob("keep_prob", keep_prob)
    alpha = check_open_unit("alpha", alpha)
    if alternative not in ALTERNATIVES:
        raise ValueError(f"alternative must be one of {ALTERNATIVES}, got {alternative!r}")
    low, high = clopper_pearson(k, n, alpha, alternative)
    return BinomialDecision(
        test="binomial",
        statistic=float(k),
        p_value=float(binomtest(k, n, q, alternative=alternative).pvalue),
        n=n,
        observed=k / n,
        expected=q,
        alpha=alpha,
        k=k,
        alternative=alternative,
        ci_low=low,
        ci_high=high,
    )


def clopper_pearson(k: int, n: int, alpha: float, alternative: str = "two-sided") -> tuple[float, float]:
    """The Clopper–Pearson interval for a binomial probability at confidence 1 − α:

        low = B⁻¹(α/2; k, n − k + 1),   high = B⁻¹(1 − α/2; k + 1, n − k),

    B⁻¹ the beta quantile, with low = 0 at k = 0 and high = 1 at k = n; a one-sided
    ``alternative`` keeps one bound at level α and opens the other.
    """
    tail = alpha / 2 if alternative == "two-sided" else alpha
    low = float(beta.ppf(tail, k, n - k + 1)) if k > 0 and alternative != "less" else 0.0
    high = float(beta.isf(tail, k + 1, n - k)) if k < n and alternative != "greater" else 1.0
    return low, high


@lru_cache(maxsize=1 << 16)
def two_sided_p_value(k: int, n: int, q: float) -> float:
    """scipy's exact two-sided binomial p-value, ``binomtest(k, n, q).pvalue``, bit for bit, remembered:
    the tests and plans that scan many counts of one (n, q) ask for the same p-values again and again.

    scipy's two-sided branch step for step: the probability d of k, a bisection on the other side of
    n q for the last count at most as likely (d (1 + 1e-7)), the two tails summed. Its probabilities
    come from the distribution's own functions (``binom._pmf``, ``_cdf``, ``_sf``) clipped to [0, 1],
    as ``binom.pmf``, ``cdf`` and ``sf`` compute them for counts in [0, n], without their per-call
    argument handling, 100 times the cost of the value (tests/test_stats.py compares with binomtest)."""
    d = _pmf(k, n, q)
    rerr = 1 + 1e-7
    centre = q * n
    if k == centre:
        return 1.0
    if k < centre:
        ix = _bisect(lambda x: -_pmf(x, n, q), -d * rerr, math.ceil(centre), n)
        y = n - ix + int(d * rerr == _pmf(ix, n, q))
        p = _cdf(k, n, q) + _sf(n - y, n, q)
    else:
        ix = _bisect(lambda x: _pmf(x, n, q), d * rerr, 0, math.floor(centre))
        p = _cdf(ix, n, q) + _sf(k - 1, n, q)
    return min(1.0, p)


def _pmf(k: int, n: int, q: float) -> float:
    """binom.pmf(k, n, q) for a count k in [0, n]."""
    return min(max(float(binom._pmf(float(k), float(n), q)), 0.0), 1.0)


def _cdf(k: int, n: int, q: float) -> float:
    """binom.cdf(k, n, q): 0 below the support, 1 from n on."""
    return 0.0 if k < 0 else 1.0 if k >= n else min(max(float(binom._cdf(float(k), float(n), q)), 0.0), 1.0)


def _sf(k: int, n: int, q: float) -> float:
    """binom.sf(k, n, q): 1 below the support, 0 from n on."""
    return 1.0 if k < 0 else 0.0 if k >= n else min(max(float(binom._sf(float(k), float(n), q)), 0.0), 1.0)


def _bisect(a: Callable[[int], float], d: float, lo: int, hi: int) -> int:
    """scipy's search for binomtest (``_binary_search_for_binom_tst``), probe for probe: i in [lo - 1, hi]
    with a(i) <= d < a(i + 1), for a ascending on [lo, hi]."""
    while lo < hi:
        mid = lo + (hi - lo) // 2
        midval = a(mid)
        if midval < d:
            lo = mid + 1
        elif midval > d:
            hi = mid - 1
        else:
            return mid
    return lo if a(lo) <= d else lo - 1


def rejection_region(n: int, keep_prob: float, alpha: float) -> tuple[int, int]:
    """The exact two-sided test's rejection region at level α: reject when K ≤ k_lo or K ≥ k_hi.

    Below n·q the p-value grows with k and above n·q it falls, so each cut-off is the least k at
    which scipy's own p-value crosses α, searched outward from the one-sided quantiles at α/2
    (within a count or two of the cut-offs, so a few p-values decide each side).
    k_lo = −1 and k_hi = n + 1 stand for an empty side.
    """
    n = check_count("n", n, minimum=1)
    q = check_keep_prob("keep_prob", keep_prob)
    alpha = check_open_unit("alpha", alpha)
    return _rejection_region(n, q, alpha)


@lru_cache(maxsize=1 << 12)
def _rejection_region(n: int, q: float, alpha: float) -> tuple[int, int]:
    """rejection_region of checked arguments, remembered: a plan asks for one (n, q) under several
    alternatives."""
    centre = n * q
    below = math.ceil(centre) - 1  # every k ≤ below has k < n·q
    above = math.floor(centre) + 1  # every k ≥ above has k > n·q
    k_lo = least_integer_near(lambda k: two_sided_p_value(k, n, q) > alpha, 0, below,
                              _guess(binom.ppf(alpha / 2, n, q), n)) - 1
    k_hi = least_integer_near(lambda k: two_sided_p_value(k, n, q) <= alpha, above, n,
                              _guess(binom.isf(alpha / 2, n, q), n) + 1)
    return k_lo, k_hi


def _guess(quantile: float, n: int) -> int:
    """A one-sided quantile as a count in [0, n] to start a search from (any count will do)."""
    return int(min(max(quantile, 0.0), float(n))) if math.isfinite(quantile) else 0


@lru_cache(maxsize=1 << 12)
def region_power(region: tuple[int, int], n: int, true_keep_prob: float) -> float:
    """P(K ≤ k_lo or K ≥ k_hi) for K ~ Binomial(n, true_keep_prob): a rejection region's power
    (remembered: a homogeneity plan asks for one rate at many positions)."""
    k_lo, k_hi = region
    if not 0.0 <= true_keep_prob <= 1.0:  # scipy's answer for a rate that is none (NaN)
        return float(binom.cdf(k_lo, n, true_keep_prob) + binom.sf(k_hi - 1, n, true_keep_prob))
    return _cdf(k_lo, n, true_keep_prob) + _sf(k_hi - 1, n, true_keep_prob)


def binomial_power(n: int, keep_prob: float, true_keep_prob: float, alpha: float) -> float:
    """P(the exact two-sided test at level α rejects) when K ~ Binomial(n, true_keep_prob).

    At ``true_keep_prob == keep_prob`` this is the test's exact size, which is ≤ α.
    """
    q_true = check_keep_prob("true_keep_prob", true_keep_prob)
    return region_power(rejection_region(n, keep_prob, alpha), n, q_true)
