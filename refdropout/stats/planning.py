"""Planning: how much data a decision needs, and what it can detect (STATS-3).

The keep-rate plan is exact: the power of the exact binomial test is computed from its exact
rejection region (:func:`~refdropout.stats.binomial.rejection_region`), never from a normal
approximation. A deviation δ from q is judged in the worse of its two directions, q + δ and q − δ,
each clipped to [0, 1]; a direction that clipping maps back onto q (q = 0 downwards, q = 1 upwards)
is no alternative and is skipped.

The other plans use the power formulas stated in each function (some exact, some large-sample
approximations), and the calibration (STATS-14) measures that each test reaches its plan.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from scipy.stats import binom, chi2, norm

from .arguments import (
    check_correlation,
    check_count,
    check_keep_prob,
    check_open_unit,
    check_positive,
    check_probability,
)
from .binomial import region_power, rejection_region
from .search import least_integer, least_real
from .structure import central_band

# Plans beyond 2**53 elements are not representable exactly as floats; no test needs them.
_LARGEST_PLAN = 2**53


def samples_for_power(power_at: Callable[[int], float], power: float, start: int = 1) -> int:
    """The least n at which ``power_at(n) ≥ power``, for a power that grows with n.

    Brackets the answer from the guess ``start``, then bisects. A power that is only nearly
    monotone (the exact binomial power is a sawtooth in n) still yields an n that
    meets the target, with n − 1 falling short of it.
    """
    power = check_open_unit("power", power)

    def enough(n: int) -> bool:
        return power_at(n) >= power

    # Bracket the answer by geometric steps from the guess: 2% at first, the ratio squaring at
    # every step (1.02, 1.0404, 1.082, ...) up to doubling, so that a bad guess costs few steps.
    n = max(1, start)
    ratio = 1.02
    if enough(n):
        hi = n
        while hi > 1:
            lo = max(1, int(hi / ratio))
            if not enough(lo):
                break
            hi, ratio = lo, min(2.0, ratio * ratio)
        else:
            return 1
    else:
        lo = n
        while True:
            hi = int(lo * ratio) + 1
            if hi > _LARGEST_PLAN:
                raise ValueError(f"power {power} needs more than 2**53 samples")
            if enough(hi):
                break
            lo, ratio = hi, min(2.0, ratio * ratio)
    return least_integer(enough, lo + 1, hi)


def _alternatives(q: float, delta: float) -> list[float]:
    return [a for a in (min(1.0, q + delta), max(0.0, q - delta)) if a != q]


def _worse_power(region: tuple[int, int], n: int, q: float, delta: float) -> float:
    return min(region_power(region, n, a) for a in _alternatives(q, delta))


def samples_needed(q: float, delta: float, alpha: float, power: float) -> int:
    """The least n at which the exact binomial test at level α detects a keep-rate deviation δ
    from q with probability ≥ ``power`` in both directions (found by bisection, STATS-3).

    The normal approximation n ≈ ((z_{α/2}·√(q(1−q)) + z_β·√(q'(1−q')))/δ)² only seeds the search.
    """
    q = check_keep_prob("q", q)
    delta = check_positive("delta", delta)
    if delta > 1.0:
        raise ValueError(f"delta must be in (0, 1], got {delta!r}")
    alpha = check_open_unit("alpha", alpha)
    power = check_open_unit("power", power)
    z = max(norm.isf(alpha / 2) * math.sqrt(q * (1 - q)) + norm.isf(1 - power) * math.sqrt(a * (1 - a))
            for a in _alternatives(q, delta))
    guess = max(1, round((z / delta) ** 2))
    return samples_for_power(
        lambda n: _worse_power(rejection_region(n, q, alpha), n, q, delta), power, start=guess
    )


def detectable_delta(q: float, n: int, alpha: float, power: float) -> float:
    """The least deviation δ in (0, 1] that the exact binomial test at level α detects with
    probability ≥ ``power`` in both directions, from n samples (to 1e-15; STATS-3).

    ``math.inf`` when no deviation is detectable (n too small to ever reject at level α).
    """
    q = check_keep_prob("q", q)
    n = check_count("n", n, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    power = check_open_unit("power", power)
    region = rejection_region(n, q, alpha)

    def detected(delta: float) -> bool:
        return _worse_power(region, n, q, delta) >= power

    if not detected(1.0):
        return math.inf
    return least_real(detected, 0.0, 1.0, steps=50)


def homogeneity_power(keep_probs: Sequence[float], masks: int, alpha: float) -> float:
    """Approximate power of the homogeneity test (STATS-7) over R = ``masks`` masks whose L
    positions keep with probabilities q_j: the test is taken as rejecting when some count c_j
    falls in the exact binomial rejection region for the pooled rate q̄ at level α/L, so the power
    is 1 − Π_j (1 − P(c_j ∈ region)), c_j ~ Binomial(R, q_j). (The test conditions on the total;
    for large R the two agree, and the calibration, STATS-14, measures it.)"""
    qs = [check_keep_prob(f"keep_probs[{j}]", q) for j, q in enumerate(keep_probs)]
    if not qs:
        raise ValueError("keep_probs must hold at least 1 position, got 0")
    masks = check_count("masks", masks, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    region = rejection_region(masks, math.fsum(qs) / len(qs), alpha / len(qs))
    return 1.0 - math.prod(1.0 - region_power(region, masks, q) for q in qs)


def one_position_power(keep_prob: float, shift: float, positions: int, masks: int, alpha: float) -> float:
    """:func:`homogeneity_power` of ``positions`` positions that keep at ``keep_prob`` but one, which keeps
    at ``keep_prob + shift``: the same power from the two distinct rates, so that thousands of positions
    (the rows of a batch, DROPOUT-23) cost two binomial tails, not thousands."""
    q = check_keep_prob("keep_prob", keep_prob)
    shifted = check_keep_prob("keep_prob + shift", q + shift)
    positions = check_count("positions", positions, minimum=1)
    masks = check_count("masks", masks, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    region = rejection_region(masks, math.fsum([shifted] + [q] * (positions - 1)) / positions, alpha / positions)
    missed = (1.0 - region_power(region, masks, shifted)) * (1.0 - region_power(region, masks, q)) ** (positions - 1)
    return 1.0 - missed


def _correlated_power(rho: float, n: int, q: float, alpha: float, half_step: float) -> float:
    """Power of a two-sided test whose standardized statistic is about N(√N·ρ, σ²) (see below),
    less a continuity correction of ``half_step`` standard deviations."""
    s = (1 - 2 * q) ** 2 / (q * (1 - q))
    variance = 1 - rho * rho + abs(rho) * (1 + rho * rho / 2) * s - 1.5 * rho * rho * s
    shift = max(0.0, math.sqrt(n) * abs(rho) - half_step)
    z = norm.isf(alpha / 2)
    sigma = math.sqrt(variance)
    return float(norm.cdf((shift - z) / sigma) + norm.cdf((-shift - z) / sigma))


def correlation_power(correlation: float, pairs: int, alpha: float, *, keep_prob: float) -> float:
    """Approximate power of the pair tests (STATS-8) on N = ``pairs`` disjoint pairs whose
    elements keep with probability q and are correlated ρ = ``correlation``.

    The table's correlation φ̂ has √N(φ̂ − ρ) → N(0, σ²) with, for equal margins q (the
    delta-method variance of the φ coefficient),

        σ² = 1 − ρ² + ρ(1 + ρ²/2)·s − (3/2)ρ²·s,    s = (1 − 2q)² / (q(1 − q)),

    taken at |ρ|, which is conservative for a negative ρ; and Fisher's test, conditioning on the
    margins, loses about Yates's half count of n₁₁, whose null standard deviation is √N·q(1 − q).
    So the power is
    Φ((√N|ρ| − c − z_{α/2})/σ) + Φ((−√N|ρ| + c − z_{α/2})/σ), c = 1/(2√N·q(1 − q)).
    """
    rho = check_correlation("correlation", correlation)
    pairs = check_count("pairs", pairs, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    q = _inner_keep_prob(keep_prob)
    return _correlated_power(rho, pairs, q, alpha, 1 / (2 * math.sqrt(pairs) * q * (1 - q)))


def runs_power(correlation: float, length: int, alpha: float, *, keep_prob: float) -> float:
    """Approximate power of the runs test (STATS-9) on a sequence of N = ``length`` elements
    that keep with probability q and have lag-1 correlation ρ = ``correlation``.

    The runs count is a function of the lag-1 pair table, so its standardized value is about
    N(√N·ρ, σ²) with the σ² of :func:`correlation_power`; the continuity correction is half a
    run, whose null standard deviation is 2√N·q(1 − q): c = 1/(4√N·q(1 − q)).
    """
    rho = check_correlation("correlation", correlation)
    length = check_count("length", length, minimum=2)
    alpha = check_open_unit("alpha", alpha)
    q = _inner_keep_prob(keep_prob)
    return _correlated_power(rho, length, q, alpha, 1 / (4 * math.sqrt(length) * q * (1 - q)))


def _inner_keep_prob(keep_prob: float) -> float:
    q = check_keep_prob("keep_prob", keep_prob)
    if not 0.0 < q < 1.0:
        raise ValueError(f"keep_prob must be in (0, 1) for a correlation to exist, got {keep_prob!r}")
    return q


def dispersion_power(variance_ratio: float, masks: int, size: int, keep_prob: float, alpha: float) -> float:
    """Power of the under-dispersion test (STATS-10) on m = ``masks`` masks of n = ``size``
    elements whose keep counts have mean n·q and variance c·n·q(1 − q), c = ``variance_ratio``.

    The test rejects when X ≥ x_α, the least x with P(Binomial(m, π) ≥ x) ≤ α (exact). The
    counts fall in the band [lo, hi] with probability π₁, taken from the normal approximation
    π₁ = Φ((hi + ½ − nq)/σ₁) − Φ((lo − ½ − nq)/σ₁), σ₁² = c·nq(1 − q); c = 0 (every count at the
    mode) gives π₁ = 1. The power is P(Binomial(m, π₁) ≥ x_α).
    """
    c = check_probability("variance_ratio", variance_ratio)
    if c >= 1.0:
        raise ValueError(f"variance_ratio must be in [0, 1), got {variance_ratio!r}")
    masks = check_count("masks", masks, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    lo, hi, pi0 = central_band(size, keep_prob)
    centre = size * keep_prob
    if c == 0.0:
        pi1 = 1.0
    else:
        sigma = math.sqrt(c * centre * (1 - keep_prob))
        pi1 = float(norm.cdf((hi + 0.5 - centre) / sigma) - norm.cdf((lo - 0.5 - centre) / sigma))
    critical = least_integer(lambda x: binom.sf(x - 1, masks, pi0) <= alpha, 0, masks)
    return float(binom.sf(critical - 1, masks, pi1))


def ks_samples_needed(distance: float, alpha: float, power: float) -> int:
    """Samples that guarantee the KS test (STATS-11) at level α detects any distribution whose
    CDF is at sup-distance ≥ D from the null's with probability ≥ ``power``.

    By the Dvoretzky–Kiefer–Wolfowitz inequality with Massart's constant,
    P(sup|F_n − F| > ε) ≤ 2·exp(−2nε²): the KS critical value is at most √(ln(2/α)/(2n)) and the
    empirical CDF strays from the true one by more than √(ln(2/(1 − power))/(2n)) with probability
    at most 1 − power, so n = ⌈(√(ln(2/α)/2) + √(ln(2/(1 − power))/2))² / D²⌉ suffices.
    The bound is conservative: the measured power is higher.
    """
    d = check_positive("distance", distance)
    if d > 1.0:
        raise ValueError(f"distance must be in (0, 1], got {distance!r}")
    alpha = check_open_unit("alpha", alpha)
    power = check_open_unit("power", power)
    root = math.sqrt(math.log(2 / alpha) / 2) + math.sqrt(math.log(2 / (1 - power)) / 2)
    return math.ceil(root * root / (d * d))


def z_power(effect: float, alpha: float) -> float:
    """Power of a two-sided z-test at level α when the statistic is N(effect, 1): used for the
    mean (effect = δ√n/σ) and the large-sample variance test (STATS-11)."""
    alpha = check_open_unit("alpha", alpha)
    z = norm.isf(alpha / 2)
    return float(norm.sf(z - effect) + norm.cdf(-z - effect))


def variance_power(ratio: float, n: int, alpha: float) -> float:
    """Exact power of the two-sided χ² variance test (STATS-11) on n normal samples whose
    variance is ``ratio`` times the null value: (n − 1)s²/σ₀² ~ ratio·χ²(n − 1)."""
    r = check_positive("ratio", ratio)
    n = check_count("n", n, minimum=2)
    alpha = check_open_unit("alpha", alpha)
    df = n - 1
    return float(chi2.sf(chi2.isf(alpha / 2, df) / r, df) + chi2.cdf(chi2.ppf(alpha / 2, df) / r, df))
