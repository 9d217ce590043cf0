"""Conformance tests of the statistics layer, refdropout.stats (spec/stats.md).

Two kinds of test live here. Unit and Hypothesis property tests check each procedure against its
definition (an exact p-value against a direct sum, a runs distribution against enumeration, Holm
against its textbook statement). The calibration tests (STATS-13, STATS-14) check that the
procedures do what they claim on data from an independent source, numpy's generator, with fixed
explicit seeds: under the null their p-values are uniform (or, for exact discrete tests, never
below their level), and at the planned effect their power reaches the plan. ``benchmarks/
calibration.py`` runs the same scenarios at a larger size and prints the table.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

import refdropout.stats as S
from helpers import exact
from refdropout.stats.arguments import as_mask, as_masks
from refdropout.stats.binomial import clopper_pearson, region_power, two_sided_p_value
from refdropout.stats.search import least_integer, least_integer_near

# --------------------------------------------------------------------------------------------
# Calibration: scenarios shared with benchmarks/calibration.py
# --------------------------------------------------------------------------------------------

PLAN_ALPHA = 1e-3  # the small plan each calibrated test is run under
PLAN_POWER = 0.99
CHECK_ALPHA = 1e-4  # the level of every calibration check
LEVEL_GRID = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5)  # levels a at which P(p <= a) <= a is checked
NULL_REPLICATES = 1000
POWER_REPLICATES = 200
CALIBRATION_SEED = 20240917  # fixed before the first run; never changed to make a check pass

Q = 0.3  # the keep probability of every calibration scenario
Sampler = Callable[[np.random.Generator], S.Decision]


def bernoulli(rng: np.random.Generator, shape, q: float) -> np.ndarray:
    return rng.random(shape) < q


def copy_chain(rng: np.random.Generator, size: int, q: float, rho: float, lag: int = 1) -> np.ndarray:
    """x_i = x_{i-lag} with probability rho, else a fresh Bernoulli(q): every element is
    Bernoulli(q) and corr(x_i, x_{i+lag}) = rho (a Markov chain along each residue class)."""
    rows = -(-size // lag)
    fresh = rng.random((rows, lag)) < q
    copy = rng.random((rows, lag)) < rho
    copy[0] = False
    source = np.maximum.accumulate(np.where(copy, 0, np.arange(rows)[:, None]), axis=0)
    return np.take_along_axis(fresh, source, axis=0).reshape(-1)[:size]


def exact_count_masks(rng: np.random.Generator, masks: int, size: int, q: float) -> np.ndarray:
    """The non-Bernoulli sampler STATS-10 must catch: every mask keeps exactly round(q*n)."""
    return np.argsort(rng.random((masks, size)), axis=1) < round(q * size)


@dataclass(frozen=True)
class Scenario:
    """One calibrated test: a null sampler, and an alternative at the plan's effect."""

    name: str
    plan: str  # the sample size and the effect the plan detects
    exact: bool  # an exact test of a discrete statistic: checked by P(p <= a) <= a, not by KS
    null: Sampler | None
    alternative: Sampler | None
    planned_power: float | None


@cache
def scenarios() -> tuple[Scenario, ...]:
    """The calibration scenarios, each planned at level PLAN_ALPHA for power PLAN_POWER."""
    a = PLAN_ALPHA

    # keep rate: exact plan for a deviation of 0.05 from q = 0.3
    delta = 0.05
    n_rate = S.samples_needed(Q, delta, a, PLAN_POWER)

    def rate(q_true: float) -> Sampler:
        return lambda rng: S.binomial_test(int(bernoulli(rng, n_rate, q_true).sum()), n_rate, Q, alpha=a)

    # homogeneity: L = 32 positions, alternately q - 0.1 and q + 0.1
    positions = 32
    biased = np.array([Q + (0.1 if j % 2 else -0.1) for j in range(positions)])
    r_masks = S.samples_for_power(lambda r: S.homogeneity_power(biased, r, a), PLAN_POWER, start=100)

    # pairs and runs: correlation 0.1 at lag 3 within masks, lag 1 between masks and for runs
    rho, lag, width = 0.1, 3, 64
    pairs = S.samples_for_power(lambda n: S.correlation_power(rho, n, a, keep_prob=Q), PLAN_POWER, start=1000)
    n_lag = 2 * pairs  # disjoint pairs use each element once
    t_masks = 2 * -(-pairs // width)
    n_runs = S.samples_for_power(lambda n: S.runs_power(rho, max(n, 2), a, keep_prob=Q), PLAN_POWER, start=1000)

    # dispersion: counts drawn without replacement from a pool of 133 (30% kept) have variance
    # c n q (1 - q) with c = (pool - n) / (pool - 1) = 1/4
    size, pool = 100, 133
    good = round(Q * pool)
    ratio_pool = (pool - size) / (pool - 1)
    m_masks = S.samples_for_power(lambda m: S.dispersion_power(ratio_pool, m, size, Q, a), PLAN_POWER, start=50)

    def pooled_masks(rng: np.random.Generator) -> np.ndarray:
        kept = rng.hypergeometric(good, pool - good, size, size=m_masks)
        return np.arange(size)[None, :] < kept[:, None]

    # KS: a normal shifted so that sup |F - F0| = 0.1; mean: a shift of 0.2 sigma; variance x 1.5
    distance = 0.1
    shift = 2 * sps.norm.ppf(0.5 + distance / 2)
    n_ks = S.ks_samples_needed(distance, a, PLAN_POWER)
    sigma, mean_shift = 2.0, 0.4
    n_mean = S.samples_for_power(lambda n: S.z_power(mean_shift * math.sqrt(n) / sigma, a), PLAN_POWER)
    ratio = 1.5
    n_var = S.samples_for_power(lambda n: S.variance_power(ratio, max(n, 2), a), PLAN_POWER, start=100)
    # scaled dropout outputs m/q: mean 1, variance (1 - q)/q, fourth central moment below
    n_scaled = 4000

    # two-point variance (DROPOUT-21's ratios m / q): the keep rate q + 0.05 changes the variance
    n_two = S.samples_for_power(lambda n: S.binomial_power(n, Q, Q + delta, a), PLAN_POWER, start=1000)

    def two_point_variance(q_true: float) -> Sampler:
        return lambda rng: S.two_point_variance_test(int(bernoulli(rng, n_two, q_true).sum()), n_two, 1 / Q,
                                                     variance0, alpha=a)

    # Bernstein mean of attention row sums (VARIANTS-16): rows of A_j = (j + 1) / 36, |S - 1| <= 1 / Q - 1
    row, mean_shift_rows = np.arange(1, 9) / 36, 0.05
    row_variance, row_bound = (1 - Q) / Q * float(np.sum(row**2)), 1 / Q - 1
    n_rows = S.samples_for_power(lambda n: S.bernstein_mean_power(mean_shift_rows, n, row_variance, row_bound, a),
                                 PLAN_POWER, start=1000)

    def row_sums(shift: float) -> Sampler:
        return lambda rng: S.bernstein_mean_test(float((bernoulli(rng, (n_rows, row.size), Q) @ row).mean() / Q)
                                                 + shift, n_rows, 1.0, row_variance, row_bound, alpha=a)
    variance0 = (1 - Q) / Q
    fourth = Q * (1 / Q - 1) ** 4 + (1 - Q)

    return (
        Scenario(
            "binomial, q + delta",
            f"n={n_rate}, q+{delta}",
            True,
            rate(Q),
            rate(Q + delta),
            S.binomial_power(n_rate, Q, Q + delta, a),
        ),
        Scenario(
            "binomial, q - delta",
            f"n={n_rate}, q-{delta}",
            True,
            None,
            rate(Q - delta),
            S.binomial_power(n_rate, Q, Q - delta, a),
        ),
        Scenario(
            "homogeneity",
            f"{r_masks}x{positions} masks, q-+0.1",
            True,
            lambda rng: S.homogeneity_test(bernoulli(rng, (r_masks, positions), Q), alpha=a),
            lambda rng: S.homogeneity_test(rng.random((r_masks, positions)) < biased, alpha=a),
            S.homogeneity_power(biased, r_masks, a),
        ),
        Scenario(
            "lag independence",
            f"{n_lag} elements, lag {lag}, rho={rho}",
            True,
            lambda rng: S.lag_independence_test(bernoulli(rng, n_lag, Q), lag, alpha=a),
            lambda rng: S.lag_independence_test(copy_chain(rng, n_lag, Q, rho, lag), lag, alpha=a),
            S.correlation_power(rho, pairs, a, keep_prob=Q),
        ),
        Scenario(
            "successive independence",
            f"{t_masks}x{width} masks, rho={rho}",
            True,
            lambda rng: S.successive_independence_test(bernoulli(rng, (t_masks, width), Q), alpha=a),
            lambda rng: S.successive_independence_test(
                copy_chain(rng, t_masks * width, Q, rho, width).reshape(t_masks, width), alpha=a
            ),
            S.correlation_power(rho, t_masks // 2 * width, a, keep_prob=Q),
        ),
        Scenario(
            "runs",
            f"{n_runs} elements, rho={rho}",
            True,
            lambda rng: S.runs_test(bernoulli(rng, n_runs, Q), alpha=a),
            lambda rng: S.runs_test(copy_chain(rng, n_runs, Q, rho), alpha=a),
            S.runs_power(rho, n_runs, a, keep_prob=Q),
        ),
        Scenario(
            "dispersion, finite pool",
            f"{m_masks}x{size} masks, c={ratio_pool:.2f}",
            True,
            lambda rng: S.dispersion_test(bernoulli(rng, (m_masks, size), Q), Q, alpha=a),
            lambda rng: S.dispersion_test(pooled_masks(rng), Q, alpha=a),
            S.dispersion_power(ratio_pool, m_masks, size, Q, a),
        ),
        Scenario(
            "dispersion, exact count",
            f"{m_masks}x{size} masks, c=0",
            True,
            None,
            lambda rng: S.dispersion_test(exact_count_masks(rng, m_masks, size, Q), Q, alpha=a),
            S.dispersion_power(0.0, m_masks, size, Q, a),
        ),
        Scenario(
            "kolmogorov-smirnov",
            f"n={n_ks}, D={distance}",
            False,
            lambda rng: S.ks_test(rng.standard_normal(n_ks), sps.norm(0, 1), alpha=a),
            lambda rng: S.ks_test(rng.standard_normal(n_ks) + shift, sps.norm(0, 1), alpha=a),
            PLAN_POWER,  # a lower bound (DKW), not an estimate
        ),
        Scenario(
            "mean z",
            f"n={n_mean}, shift={mean_shift / sigma} sigma",
            False,
            lambda rng: S.mean_z_test(rng.normal(1.0, sigma, n_mean), 1.0, sigma, alpha=a),
            lambda rng: S.mean_z_test(rng.normal(1.0 + mean_shift, sigma, n_mean), 1.0, sigma, alpha=a),
            S.z_power(mean_shift * math.sqrt(n_mean) / sigma, a),
        ),
        Scenario(
            "variance chi2",
            f"n={n_var}, ratio={ratio}",
            False,
            lambda rng: S.variance_test(rng.normal(0.0, 1.0, n_var), 1.0, alpha=a),
            lambda rng: S.variance_test(rng.normal(0.0, math.sqrt(ratio), n_var), 1.0, alpha=a),
            S.variance_power(ratio, n_var, a),
        ),
        Scenario(
            "variance z, dropout outputs",
            f"n={n_scaled}, null only",
            False,
            lambda rng: S.variance_test(bernoulli(rng, n_scaled, Q) / Q, variance0, alpha=a, fourth_moment=fourth),
            None,
            None,
        ),
        Scenario(
            "two-point variance",
            f"n={n_two}, q+{delta}",
            True,
            two_point_variance(Q),
            two_point_variance(Q + delta),
            S.binomial_power(n_two, Q, Q + delta, a),
        ),
        Scenario(
            "bernstein mean, row sums",
            f"{n_rows} rows, shift={mean_shift_rows}",
            True,  # conservative: checked by P(p <= a) <= a
            row_sums(0.0),
            row_sums(mean_shift_rows),
            S.bernstein_mean_power(mean_shift_rows, n_rows, row_variance, row_bound, a),
        ),
    )


def scenario_rng(scenario: Scenario, purpose: str, base_seed: int) -> np.random.Generator:
    index = [s.name for s in scenarios()].index(scenario.name)
    return np.random.default_rng([base_seed, index, ["null", "alternative"].index(purpose)])


def null_p_values(scenario: Scenario, replicates: int, base_seed: int = CALIBRATION_SEED) -> np.ndarray:
    rng = scenario_rng(scenario, "null", base_seed)
    return np.array([scenario.null(rng).p_value for _ in range(replicates)])


def null_check(scenario: Scenario, p_values: np.ndarray) -> S.Decision:
    """The calibration check of STATS-13 at level CHECK_ALPHA.

    Continuous statistics: Kolmogorov-Smirnov test of the p-values against Uniform(0, 1).
    Exact discrete tests, whose p-values are only super-uniform: at every a of LEVEL_GRID an exact
    one-sided binomial test of H0: P(p <= a) <= a at CHECK_ALPHA / len(LEVEL_GRID) (Bonferroni);
    the returned decision is the most extreme one, its p-value Bonferroni-adjusted.
    """
    if not scenario.exact:
        return S.ks_test(p_values, sps.uniform(0, 1), alpha=CHECK_ALPHA)
    share = CHECK_ALPHA / len(LEVEL_GRID)
    checks = [
        S.binomial_test(int((p_values <= level).sum()), len(p_values), level, alpha=share, alternative="greater")
        for level in LEVEL_GRID
    ]
    worst = min(checks, key=lambda d: d.p_value)
    return S.Decision(
        test="level grid",
        statistic=worst.statistic,
        p_value=min(1.0, worst.p_value * len(LEVEL_GRID)),
        n=worst.n,
        observed=worst.observed,
        expected=worst.expected,
        alpha=CHECK_ALPHA,
    )


def measured_power(scenario: Scenario, replicates: int, base_seed: int = CALIBRATION_SEED) -> int:
    rng = scenario_rng(scenario, "alternative", base_seed)
    return sum(scenario.alternative(rng).reject for _ in range(replicates))


def power_check(scenario: Scenario, rejections: int, replicates: int) -> S.Decision:
    """The calibration check of STATS-14: an exact one-sided binomial test, at CHECK_ALPHA, of
    H0: the miss rate is at most 1 - planned power (so it rejects too many misses)."""
    misses = replicates - rejections
    return S.binomial_test(misses, replicates, 1 - scenario.planned_power, alpha=CHECK_ALPHA, alternative="greater")


NULL_SCENARIOS = [s for s in scenarios() if s.null is not None]
POWER_SCENARIOS = [s for s in scenarios() if s.alternative is not None]


@pytest.mark.clause("STATS-13")
@pytest.mark.parametrize("scenario", [s for s in NULL_SCENARIOS if not s.exact], ids=lambda s: s.name)
def test_null_p_values_are_uniform(scenario):
    p_values = null_p_values(scenario, NULL_REPLICATES)
    check = null_check(scenario, p_values)
    assert not check.reject, check


@pytest.mark.clause("STATS-13")
@pytest.mark.parametrize("scenario", [s for s in NULL_SCENARIOS if s.exact], ids=lambda s: s.name)
def test_exact_tests_hold_their_level(scenario):
    p_values = null_p_values(scenario, NULL_REPLICATES)
    check = null_check(scenario, p_values)
    assert not check.reject, check


@pytest.mark.clause("STATS-14")
@pytest.mark.parametrize("scenario", POWER_SCENARIOS, ids=lambda s: s.name)
def test_power_reaches_the_plan(scenario):
    assert scenario.planned_power >= PLAN_POWER
    rejections = measured_power(scenario, POWER_REPLICATES)
    check = power_check(scenario, rejections, POWER_REPLICATES)
    assert not check.reject, (rejections, check)


@pytest.mark.clause("STATS-13")
def test_level_check_catches_an_anticonservative_test():
    """The grid check can fail: p-values that are uniform on [0, 1/2] double every level."""
    exact = next(s for s in NULL_SCENARIOS if s.exact)
    p_values = np.random.default_rng(CALIBRATION_SEED).random(NULL_REPLICATES) / 2
    assert null_check(exact, p_values).reject


@pytest.mark.clause("STATS-14")
def test_power_check_catches_a_weak_test():
    """The power check can fail: 20 misses in 200 is far more than a planned power of 0.99 allows."""
    scenario = POWER_SCENARIOS[0]
    assert power_check(scenario, POWER_REPLICATES - 20, POWER_REPLICATES).reject


# --------------------------------------------------------------------------------------------
# STATS-1: decisions
# --------------------------------------------------------------------------------------------

levels = st.floats(min_value=1e-12, max_value=0.5)
# scipy's binomial distribution overflows for some keep probabilities below 3e-299 (STATS-12)
probabilities = st.one_of(st.just(0.0), st.floats(min_value=S.SMALLEST_KEEP_PROB, max_value=1.0))


@st.composite
def binomial_cases(draw, max_n: int = 2000):
    n = draw(st.integers(1, max_n))
    return draw(st.integers(0, n)), n, draw(probabilities)


@pytest.mark.clause("STATS-1")
@exact(50)
@given(binomial_cases(), levels)
def test_decision_rejects_iff_p_at_most_alpha(case, alpha):
    k, n, q = case
    d = S.binomial_test(k, n, q, alpha=alpha)
    assert 0.0 <= d.p_value <= 1.0
    assert d.reject == (d.p_value <= alpha)
    assert (d.test, d.n, d.alpha, d.observed, d.expected, d.statistic) == ("binomial", n, alpha, k / n, q, k)


# --------------------------------------------------------------------------------------------
# STATS-2: the exact binomial test
# --------------------------------------------------------------------------------------------


def direct_two_sided_p(k: int, n: int, q: float) -> float:
    f = sps.binom.pmf(np.arange(n + 1), n, q)
    return min(1.0, float(f[f <= f[k] * (1 + 1e-7)].sum()))


@pytest.mark.clause("STATS-2")
@exact(60)
@given(binomial_cases(max_n=500))
def test_binomial_p_value_sums_outcomes_no_more_likely(case):
    k, n, q = case
    expected = direct_two_sided_p(k, n, q)
    assert S.binomial_test(k, n, q, alpha=0.01).p_value == pytest.approx(expected, rel=1e-6, abs=1e-300)


@pytest.mark.clause("STATS-2")
@exact(40)
@given(binomial_cases(max_n=300), st.sampled_from(["two-sided", "greater", "less"]), levels)
def test_binomial_interval_is_clopper_pearson(case, alternative, alpha):
    k, n, q = case
    d = S.binomial_test(k, n, q, alpha=alpha, alternative=alternative)
    ci = sps.binomtest(k, n, q, alternative=alternative).proportion_ci(1 - alpha, method="exact")
    assert (d.ci_low, d.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-6)  # scipy root-finds
    assert d.ci_low <= k / n <= d.ci_high


@pytest.mark.clause("STATS-2")
@exact(40)
@given(st.integers(1, 3000), probabilities, levels)
def test_binomial_size_never_exceeds_alpha(n, q, alpha):
    assert S.binomial_power(n, q, q, alpha) <= alpha * (1 + 1e-9)


@pytest.mark.clause("STATS-2")
@exact(40)
@given(st.integers(1, 3000), probabilities, levels)
def test_rejection_region_matches_p_values(n, q, alpha):
    k_lo, k_hi = S.rejection_region(n, q, alpha)

    def p(k: int) -> float:
        return S.binomial_test(k, n, q, alpha=alpha).p_value

    if k_lo >= 0:
        assert p(k_lo) <= alpha
    if k_lo + 1 < n * q:
        assert p(k_lo + 1) > alpha
    if k_hi <= n:
        assert p(k_hi) <= alpha
    if k_hi - 1 > n * q:
        assert p(k_hi - 1) > alpha


@pytest.mark.clause("STATS-3")
@exact(200)
@given(st.integers(-50, 50), st.integers(0, 100), st.data())
def test_least_integer_near_finds_least_integers_answer_from_any_guess(lo, width, data):
    hi = lo + width - 1  # width 0: an empty range
    threshold = data.draw(st.integers(lo, hi + 1))  # hi + 1: false on the whole range
    guess = data.draw(st.integers(lo - 200, hi + 200))

    def holds(k: int) -> bool:
        assert lo <= k <= hi  # never probed outside the range
        return k >= threshold

    assert least_integer_near(holds, lo, hi, guess) == least_integer(holds, lo, hi) == threshold


@pytest.mark.clause("STATS-3")
@pytest.mark.parametrize(("n", "q", "alpha"), [(340_662, 0.7, 1e-10), (159_246, 0.7 / 0.99, 1e-9), (8_412, 0.3, 1e-6)])
def test_rejection_region_is_the_bisection_from_scratch_at_plan_sizes(n, q, alpha):
    def p(k: int) -> float:
        return float(sps.binomtest(k, n, q).pvalue)

    k_lo = least_integer(lambda k: p(k) > alpha, 0, math.ceil(n * q) - 1) - 1
    k_hi = least_integer(lambda k: p(k) <= alpha, math.floor(n * q) + 1, n)
    assert S.rejection_region(n, q, alpha) == (k_lo, k_hi)


@pytest.mark.clause("STATS-2")
@exact(300)
@given(st.sampled_from([1, 2, 3, 7, 30, 1000, 8_412, 340_662, 4_833_271]),
       st.one_of(st.sampled_from([0.0, 1.0, 0.5, 0.7, 1e-3, 0.999]), probabilities), st.floats(-60.0, 60.0))
def test_two_sided_p_value_is_binomtests_bit_for_bit(n, q, z):
    k = min(n, max(0, round(n * q + z * math.sqrt(n * q * (1 - q) + 1))))  # the tails, the centre and between
    theirs = float(sps.binomtest(k, n, q).pvalue)
    ours = two_sided_p_value(k, n, q)
    assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))


@pytest.mark.clause("STATS-3")
@exact(200)
@given(st.sampled_from([1, 2, 5, 40, 8_412, 340_662]), probabilities, st.data())
def test_region_power_is_scipys_tails_bit_for_bit(n, q, data):
    k_lo = data.draw(st.integers(-1, n))
    k_hi = data.draw(st.integers(k_lo + 1, n + 1))
    assert region_power((k_lo, k_hi), n, q) == float(sps.binom.cdf(k_lo, n, q) + sps.binom.sf(k_hi - 1, n, q))


@pytest.mark.clause("STATS-2")
def test_clopper_pearson_is_the_beta_quantile_formula():
    low, high = clopper_pearson(3, 10, 0.05)
    assert (low, high) == pytest.approx((sps.beta.ppf(0.025, 3, 8), sps.beta.isf(0.025, 4, 7)))
    assert clopper_pearson(0, 10, 0.05)[0] == 0.0 and clopper_pearson(10, 10, 0.05)[1] == 1.0
    # at k = 0 the upper bound solves (1 - high)^n = alpha/2 in closed form
    assert clopper_pearson(0, 5, 1e-12)[1] == pytest.approx(1 - 0.5e-12 ** (1 / 5), rel=1e-14)


# --------------------------------------------------------------------------------------------
# STATS-3: planning
# --------------------------------------------------------------------------------------------


plan_probs = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.001, 0.999))


def worse_power(n: int, q: float, delta: float, alpha: float) -> float:
    alternatives = {min(1.0, q + delta), max(0.0, q - delta)} - {q}
    return min(S.binomial_power(n, q, a, alpha) for a in alternatives)


@pytest.mark.clause("STATS-3")
@exact(20)
@given(plan_probs, st.floats(0.02, 0.5), st.floats(1e-9, 0.05), st.floats(0.5, 0.999))
def test_samples_needed_is_least_n_meeting_power(q, delta, alpha, power):
    n = S.samples_needed(q, delta, alpha, power)
    assert worse_power(n, q, delta, alpha) >= power
    if n > 1:
        assert worse_power(n - 1, q, delta, alpha) < power


@pytest.mark.clause("STATS-3")
@exact(20)
@given(plan_probs, st.floats(0.02, 0.5), st.floats(1e-9, 0.05), st.floats(0.5, 0.999))
def test_detectable_delta_inverts_samples_needed(q, delta, alpha, power):
    n = S.samples_needed(q, delta, alpha, power)
    assert S.detectable_delta(q, n, alpha, power) <= delta * (1 + 1e-9)
    if n > 1:
        assert S.detectable_delta(q, n - 1, alpha, power) > delta


@pytest.mark.clause("STATS-3")
def test_undetectable_deviation_is_infinite():
    # 10 trials at alpha 1e-9 can never reject q = 1/2: no deviation is detectable
    assert S.detectable_delta(0.5, 10, 1e-9, 0.99) == math.inf
    # from q = 1e-290, the downward deviation to 0 needs K = 0 to be rare: about 1e290 trials
    with pytest.raises(ValueError, match="2\\*\\*53"):
        S.samples_needed(1e-290, 0.5, 0.01, 0.5)


@pytest.mark.clause("STATS-3")
def test_plans_at_the_edges_use_the_only_direction():
    # q = 0 can only deviate upwards: n is the least with 1 - (1 - delta)^n >= power
    n = S.samples_needed(0.0, 0.01, 1e-3, 0.99)
    assert n == math.ceil(math.log(0.01) / math.log(0.99))
    assert S.samples_needed(1.0, 0.01, 1e-3, 0.99) == n


@pytest.mark.clause("STATS-3")
@pytest.mark.parametrize("q, shift, positions, masks", [(0.7, 0.05, 64, 7_000), (0.7, -0.1, 300, 1_500),
                                                        (0.3, 0.2, 2, 50), (0.9, 0.0, 16, 100)])
def test_one_position_power_is_the_homogeneity_power(q, shift, positions, masks):
    """The two-rate form gives homogeneity_power's power of the same positions (to rounding)."""
    expected = S.homogeneity_power([q + shift] + [q] * (positions - 1), masks, 1e-9)
    assert S.one_position_power(q, shift, positions, masks, 1e-9) == pytest.approx(expected, rel=1e-12, abs=1e-300)


@pytest.mark.clause("STATS-3")
def test_power_functions_follow_their_formulas():
    assert S.z_power(0.0, 0.05) == pytest.approx(0.05)
    assert S.variance_power(1.0, 50, 0.01) == pytest.approx(0.01)
    assert S.correlation_power(0.0, 1000, 0.01, keep_prob=0.3) == pytest.approx(0.01)
    assert S.runs_power(0.0, 1000, 0.01, keep_prob=0.3) == pytest.approx(0.01)
    # the shift of the pair test's statistic is sqrt(N) rho less Yates's half count; at q = 1/2
    # its variance is 1 - rho^2
    n, rho, z = 10_000, 0.05, sps.norm.isf(0.005)
    shift = math.sqrt(n) * rho - 1 / (2 * math.sqrt(n) * 0.25)
    expected = sps.norm.cdf((shift - z) / math.sqrt(1 - rho**2)) + sps.norm.cdf((-shift - z) / math.sqrt(1 - rho**2))
    assert S.correlation_power(rho, n, 0.01, keep_prob=0.5) == pytest.approx(expected)
    assert S.homogeneity_power([0.3] * 8, 100, 0.01) <= 0.01
    assert S.homogeneity_power([0.3] * 7 + [0.9], 100, 0.01) > 0.999
    assert S.dispersion_power(0.5, 500, 100, 0.3, 0.01) > S.dispersion_power(0.9, 500, 100, 0.3, 0.01)
    d, a, b = 0.1, 1e-3, 0.99
    root = math.sqrt(math.log(2 / a) / 2) + math.sqrt(math.log(2 / (1 - b)) / 2)
    assert S.ks_samples_needed(d, a, b) == math.ceil(root**2 / d**2)


@pytest.mark.clause("STATS-3")
@exact(30)
@given(st.integers(2, 2000), st.floats(0.05, 0.95), st.floats(1e-9, 0.05))
def test_dispersion_power_at_zero_variance_is_exact(masks, q, alpha):
    """With every count at the mode (variance ratio 0) all m masks fall in the band: the power
    is 1 exactly when that outcome rejects, else 0."""
    _, _, band = S.central_band(100, q)
    all_in = S.binomial_test(masks, masks, band, alpha=alpha, alternative="greater").reject
    assert S.dispersion_power(0.0, masks, 100, q, alpha) == (1.0 if all_in else 0.0)


# --------------------------------------------------------------------------------------------
# STATS-4 and STATS-5: the error budget
# --------------------------------------------------------------------------------------------


def a_decision(p_value: float, alpha: float) -> S.Decision:
    return S.Decision(test="t", statistic=0.0, p_value=p_value, n=1, observed=0.0, expected=0.0, alpha=alpha)


@pytest.mark.clause("STATS-4")
@exact(50)
@given(st.floats(1e-12, 0.5), st.integers(1, 10**6))
def test_budget_hands_bonferroni_alpha(family, planned):
    assert S.ErrorBudget(family, planned).alpha == family / planned


@pytest.mark.clause("STATS-4")
def test_budget_refuses_unplanned_decisions():
    budget = S.ErrorBudget(1e-6, 2)
    for name in ("A-1", "A-2"):
        budget.decide(name, a_decision(0.5, budget.alpha))
    with pytest.raises(S.BudgetExhausted, match="2 planned"):
        budget.decide("A-3", a_decision(0.5, budget.alpha))


@pytest.mark.clause("STATS-4")
def test_budget_after_rejection_records_diagnostics():
    budget = S.ErrorBudget(1e-6, 1)
    first = budget.decide("A-1", a_decision(0.0, budget.alpha))
    replay = budget.decide("A-1", a_decision(0.0, budget.alpha))
    assert first.reject and budget.rejected
    assert (first.after_rejection, replay.after_rejection) == (False, True)


@pytest.mark.clause("STATS-4")
def test_budget_report_lists_every_decision():
    budget = S.ErrorBudget(0.01, 3)
    d = S.binomial_test(40, 100, 0.3, alpha=budget.alpha)
    budget.decide("DROPOUT-3", d)
    budget.decide("DROPOUT-4", a_decision(1e-9, budget.alpha))
    first, second = budget.report()
    assert {k: first[k] for k in ("name", "test", "statistic", "p_value", "n", "alpha", "observed", "expected")} == {
        "name": "DROPOUT-3",
        "test": "binomial",
        "statistic": 40.0,
        "p_value": d.p_value,
        "n": 100,
        "alpha": budget.alpha,
        "observed": 0.4,
        "expected": 0.3,
    }
    assert (first["reject"], first["after_rejection"]) == (d.reject, False)
    assert second["name"] == "DROPOUT-4" and second["reject"]
    assert second["holm_p_value"] == pytest.approx(3e-9) and second["holm_reject"]


def textbook_holm(p_values: list[float], m: int, family: float) -> list[bool]:
    """Holm (1979): sort the m p-values; reject p_(1..i) while p_(j) <= family / (m - j + 1)."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    reject = [False] * len(p_values)
    for j, i in enumerate(order):
        if p_values[i] > family / (m - j):
            break
        reject[i] = True
    return reject


@pytest.mark.clause("STATS-4")
@exact(100)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20), st.integers(0, 5), st.floats(1e-6, 0.2))
def test_holm_is_step_down(p_values, unused, family):
    budget = S.ErrorBudget(family, len(p_values) + unused)
    for i, p in enumerate(p_values):
        budget.decide(f"C-{i}", a_decision(p, budget.alpha))
    verdicts = budget.holm()
    assert [v.reject for v in verdicts] == textbook_holm(p_values, len(p_values) + unused, family)
    assert all(v.reject or not r.reject for v, r in zip(verdicts, budget.records))  # Holm >= Bonferroni


@pytest.mark.clause("STATS-5")
def test_budget_refuses_a_widened_alpha():
    budget = S.ErrorBudget(1e-6, 10)
    with pytest.raises(ValueError, match="decision.alpha"):
        budget.decide("A-1", S.binomial_test(5, 10, 0.5, alpha=1e-3))


@pytest.mark.clause("STATS-5")
def test_retry_spends_budget():
    budget = S.ErrorBudget(1e-6, 3)
    for _ in range(3):
        budget.decide("A-1", a_decision(0.5, budget.alpha))
    with pytest.raises(S.BudgetExhausted):
        budget.decide("A-1", a_decision(0.5, budget.alpha))


# --------------------------------------------------------------------------------------------
# STATS-6: profiles
# --------------------------------------------------------------------------------------------


@pytest.mark.clause("STATS-6")
@pytest.mark.parametrize("profile", S.PROFILES.values(), ids=lambda p: p.name)
def test_profiles_meet_their_targets(profile):
    bound = {"quick": 0.01, "standard": 0.002, "deep": 0.0002}[profile.name]
    plan = S.decision_plan(profile)
    assert profile.family_alpha <= 1e-6 and profile.power == 0.99 and profile.keep_rate_mde <= bound
    assert plan.alpha == profile.family_alpha / profile.planned_decisions
    for q in (0.05, 0.2, 0.4, 0.5, 0.6, 0.8, 0.95):  # q = 0.5 is the worst (spec: a 0.01 grid)
        assert S.detectable_delta(q, plan.n, plan.alpha, plan.power) <= bound


@pytest.mark.clause("STATS-6")
def test_decision_plan_divides_family_alpha():
    plan = S.decision_plan("quick", 250)
    assert plan.alpha == S.QUICK.family_alpha / 250
    assert plan.n == S.samples_needed(0.5, S.QUICK.keep_rate_mde, plan.alpha, S.QUICK.power)
    assert plan.budget().alpha == plan.alpha
    assert S.decision_plan("quick", 250).n < S.decision_plan("quick", 25_000).n


# --------------------------------------------------------------------------------------------
# STATS-7: homogeneity
# --------------------------------------------------------------------------------------------


@pytest.mark.clause("STATS-7")
def test_homogeneity_catches_a_biased_position():
    rng = np.random.default_rng(7)
    masks = bernoulli(rng, (400, 16), 0.5)
    masks[:, 5] = True  # a layout bug: position 5 is always kept
    d = S.homogeneity_test(masks, alpha=1e-9)
    assert d.reject and d.observed == 1.0


@pytest.mark.clause("STATS-7")
@exact(30)
@given(st.integers(0, 2**32 - 1), st.integers(1, 60), st.integers(1, 20), st.floats(0.05, 0.95))
def test_homogeneity_is_bonferroni_over_fisher_tests(seed, r, positions, q):
    masks = bernoulli(np.random.default_rng(seed), (r, positions), q)
    d = S.homogeneity_test(masks, alpha=1e-6)
    counts, total, cells = masks.sum(axis=0), int(masks.sum()), r * positions
    p_min = min(
        sps.fisher_exact([[c, r - c], [total - c, cells - r - (total - c)]]).pvalue for c in counts.tolist()
    )
    assert d.statistic == pytest.approx(p_min, rel=1e-9, abs=1e-300)
    assert d.p_value == pytest.approx(min(1.0, positions * p_min), rel=1e-9, abs=1e-300)


# --------------------------------------------------------------------------------------------
# STATS-8: pairwise independence
# --------------------------------------------------------------------------------------------


@pytest.mark.clause("STATS-8")
@exact(50)
@given(st.integers(1, 200), st.integers(1, 20))
def test_lag_pairs_are_disjoint(length, lag):
    from refdropout.stats.structure import _disjoint_pairs

    firsts, seconds = _disjoint_pairs(list(range(length)), lag)
    assert all(b - a == lag for a, b in zip(firsts, seconds))
    assert len(set(firsts) | set(seconds)) == 2 * len(firsts)
    assert set(firsts) == {i for i in range(length - lag) if i // lag % 2 == 0}  # the first half of each block


@pytest.mark.clause("STATS-8")
@exact(30)
@given(st.integers(0, 2**32 - 1), st.integers(1, 8), st.floats(0.1, 0.9))
def test_pair_test_is_fisher_on_the_pair_table(seed, lag, q):
    mask = bernoulli(np.random.default_rng(seed), 500, q)
    d = S.lag_independence_test(mask, lag, alpha=1e-6)
    blocks = range(0, 500, 2 * lag)
    b = np.concatenate([mask[s + lag : s + 2 * lag] for s in blocks])
    a = np.concatenate([mask[s : s + lag] for s in blocks])[: len(b)]
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    assert d.n == len(b)
    assert d.p_value == pytest.approx(sps.fisher_exact(table).pvalue)
    # the table as running counts decides alike, bit for bit
    counts = S.PairCounts(len(b), int(a.sum()), int(b.sum()), int((a & b).sum()))
    assert S.pair_counts_test(counts, alpha=1e-6, test="lag independence") == d
    # successive masks of width lag pair exactly as lag pairs of their row-major flattening
    rows = mask[: 500 // lag * lag].reshape(-1, lag)
    successive = S.successive_independence_test(rows, alpha=1e-6)
    flat = S.lag_independence_test(rows.ravel(), lag, alpha=1e-6)
    assert (successive.n, successive.p_value, successive.observed) == (flat.n, flat.p_value, flat.observed)


@pytest.mark.clause("STATS-8")
@exact(30)
@given(st.integers(0, 2**32 - 1), st.integers(1, 64), st.floats(0.05, 0.95))
def test_the_test_by_class_is_bonferroni_over_fisher_tests(seed, classes, q):
    """Each class's p-value is Fisher's (scipy's, to rounding); the decision's p-value k min p_r, capped at 1."""
    rng = np.random.default_rng(seed)
    tables = []
    for _ in range(classes):
        a, b = (bernoulli(rng, int(rng.integers(1, 300)), q) for _ in range(2))
        a = a[:b.size] if a.size > b.size else a
        b = b[:a.size]
        tables.append(S.PairCounts(a.size, int(a.sum()), int(b.sum()), int((a & b).sum())))
    d = S.class_pair_counts_test(tables, alpha=1e-6)
    fisher = [S.pair_counts_test(t, alpha=1e-6).p_value for t in tables]
    assert d.statistic == pytest.approx(min(fisher), rel=1e-9)
    assert d.p_value == pytest.approx(min(1.0, classes * min(fisher)), rel=1e-9)
    assert d.n == sum(t.pairs for t in tables) and d.alpha == 1e-6


@pytest.mark.clause("STATS-8")
def test_the_test_by_class_holds_its_level_and_sees_one_class():
    """Under independence 64 classes of 200 pairs reject at alpha = 0.05 no more often than the exact
    binomial bound allows (300 sets of 64 tables); pairs identical in one class of 64, independent in the
    rest, are rejected at 1e-9, where the pooled table's p-value is far above it."""
    rng = np.random.default_rng(16)
    rejections = 0
    for _ in range(300):
        masks = rng.random((64, 2, 200)) < 0.7
        tables = [S.PairCounts(200, int(a.sum()), int(b.sum()), int((a & b).sum())) for a, b in masks]
        rejections += S.class_pair_counts_test(tables, alpha=0.05).reject
    assert sps.binomtest(rejections, 300, 0.05, alternative="greater").pvalue > 1e-6
    masks = rng.random((64, 2, 1_000)) < 0.7
    masks[0, 1] = masks[0, 0]
    tables = [S.PairCounts(1_000, int(a.sum()), int(b.sum()), int((a & b).sum())) for a, b in masks]
    pooled = sum(tables[1:], tables[0])
    assert S.class_pair_counts_test(tables, alpha=1e-9).reject
    assert not S.pair_counts_test(pooled, alpha=1e-9).reject


@pytest.mark.clause("STATS-8")
def test_lag_independence_catches_a_periodic_mask():
    rng = np.random.default_rng(11)
    block = bernoulli(rng, 8, 0.5)
    mask = np.tile(block, 200)  # a mask that repeats every 8 elements
    assert S.lag_independence_test(mask, 8, alpha=1e-9).reject
    assert not S.lag_independence_test(bernoulli(rng, 1600, 0.5), 8, alpha=1e-9).reject


@pytest.mark.clause("STATS-8")
def test_successive_independence_catches_a_reused_mask():
    rng = np.random.default_rng(12)
    masks = np.repeat(bernoulli(rng, (20, 50), 0.3), 2, axis=0)  # every mask drawn twice
    assert S.successive_independence_test(masks, alpha=1e-9).reject


# --------------------------------------------------------------------------------------------
# STATS-9: runs
# --------------------------------------------------------------------------------------------


def runs_of(bits) -> int:
    return 1 + sum(a != b for a, b in zip(bits, bits[1:]))


@pytest.mark.clause("STATS-9")
@exact(40)
@given(st.integers(1, 7), st.integers(1, 7))
def test_runs_distribution_matches_enumeration(ones, zeros):
    n = ones + zeros
    counts: dict[int, int] = {}
    for where in itertools.combinations(range(n), ones):
        bits = [int(i in where) for i in range(n)]
        counts[runs_of(bits)] = counts.get(runs_of(bits), 0) + 1
    r, f = S.runs_distribution(ones, zeros)
    total = math.comb(n, ones)
    assert dict(zip(r.tolist(), f.tolist())) == pytest.approx(
        {x: counts.get(x, 0) / total for x in r.tolist()}, rel=1e-9, abs=1e-15
    )
    assert set(counts) <= set(r.tolist())


@pytest.mark.clause("STATS-9")
@exact(30)
@given(st.lists(st.integers(0, 1), min_size=2, max_size=60).filter(lambda b: 0 < sum(b) < len(b)))
def test_runs_p_value_sums_arrangements_no_more_likely(bits):
    r, f = S.runs_distribution(sum(bits), len(bits) - sum(bits))
    d = S.runs_test(bits, alpha=0.01)
    observed = f[runs_of(bits) - 2]
    assert d.observed == runs_of(bits)
    assert d.p_value == pytest.approx(min(1.0, f[f <= observed * (1 + 1e-7)].sum()))


@pytest.mark.clause("STATS-9")
def test_runs_test_catches_alternation_and_clustering():
    alternating = [0, 1] * 200
    clustered = [0] * 280 + [1] * 120  # q = 0.3, one run each
    assert S.runs_test(alternating, alpha=1e-9).reject
    assert S.runs_test(clustered, alpha=1e-9).reject
    assert S.runs_test(clustered, alpha=1e-9).statistic < 0 < S.runs_test(alternating, alpha=1e-9).statistic


# --------------------------------------------------------------------------------------------
# STATS-10: dispersion
# --------------------------------------------------------------------------------------------


@pytest.mark.clause("STATS-10")
@exact(50)
@given(st.integers(1, 5000), st.floats(0.01, 0.99))
def test_central_band_is_the_most_likely_counts(size, q):
    lo, hi, band = S.central_band(size, q)
    f = sps.binom.pmf(np.arange(size + 1), size, q)
    assert band == pytest.approx(f[lo : hi + 1].sum()) and band >= 0.5
    outside = np.concatenate([f[:lo], f[hi + 1 :]])
    assert outside.size == 0 or outside.max() <= f[lo : hi + 1].min() * (1 + 1e-9)
    assert f[lo + 1 : hi + 1].sum() < 0.5 or f[lo:hi].sum() < 0.5  # no end can be dropped


@pytest.mark.clause("STATS-10")
@exact(20)
@given(st.integers(0, 2**32 - 1), st.sampled_from([0.05, 0.3, 0.5, 0.77]))
def test_dispersion_catches_the_exact_count_sampler(seed, q):
    masks = exact_count_masks(np.random.default_rng(seed), 80, 200, q)
    d = S.dispersion_test(masks, q, alpha=1e-12)
    assert d.reject and d.observed == 1.0


@pytest.mark.clause("STATS-10")
def test_dispersion_counts_masks_in_the_band():
    lo, hi, band = S.central_band(10, 0.5)
    masks = [[1] * k + [0] * (10 - k) for k in (lo, hi, lo - 1, hi + 1, 5)]
    d = S.dispersion_test(masks, 0.5, alpha=0.01)
    assert (d.statistic, d.n, d.expected) == (3, 5, band)
    over = S.dispersion_test(masks, 0.5, alpha=0.01, alternative="over")
    assert over.p_value == pytest.approx(sps.binom.cdf(3, 5, band))


# --------------------------------------------------------------------------------------------
# STATS-11: continuous checks
# --------------------------------------------------------------------------------------------


@pytest.mark.clause("STATS-11")
@exact(30)
@given(st.integers(0, 2**32 - 1), st.integers(5, 300))
def test_ks_test_is_scipy_kstest(seed, n):
    x = np.random.default_rng(seed).standard_normal(n)
    d = S.ks_test(x, sps.norm(0, 1), alpha=1e-6)
    reference = sps.kstest(x, sps.norm(0, 1).cdf)
    assert (d.statistic, d.p_value) == pytest.approx((reference.statistic, reference.pvalue))


@pytest.mark.clause("STATS-11")
@exact(50)
@given(st.lists(st.floats(-100, 100), min_size=2, max_size=50), st.floats(-10, 10), st.floats(0.1, 10))
def test_mean_and_variance_tests_follow_their_formulas(x, mean, sigma):
    n = len(x)
    z = (np.mean(x) - mean) / (sigma / math.sqrt(n))
    assert S.mean_z_test(x, mean, sigma, alpha=0.01).p_value == pytest.approx(2 * sps.norm.sf(abs(z)), abs=1e-12)
    s2 = np.var(x, ddof=1)
    t = (n - 1) * s2 / sigma**2
    chi = min(1.0, 2 * min(sps.chi2.cdf(t, n - 1), sps.chi2.sf(t, n - 1)))
    assert S.variance_test(x, sigma**2, alpha=0.01).p_value == pytest.approx(chi, abs=1e-12)
    mu4 = 3 * sigma**4
    zv = (s2 - sigma**2) / math.sqrt((mu4 - sigma**4 * (n - 3) / (n - 1)) / n)
    large = S.variance_test(x, sigma**2, alpha=0.01, fourth_moment=mu4)
    assert large.p_value == pytest.approx(2 * sps.norm.sf(abs(zv)), abs=1e-12)


@pytest.mark.clause("STATS-11")
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_ks_test_decides_an_array_as_its_list(dtype):
    """A numpy array is read without a Python float per value, and decided as the list of its values."""
    x = np.random.default_rng(15).standard_normal((40, 25)).astype(dtype)
    assert S.ks_test(x, sps.norm(0, 1), alpha=1e-6) == S.ks_test(x.ravel().tolist(), sps.norm(0, 1), alpha=1e-6)
    x[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"samples\[79\] must be finite"):
        S.ks_test(x, sps.norm(0, 1), alpha=1e-6)


@pytest.mark.clause("STATS-11")
def test_ks_refuses_a_discrete_distribution():
    with pytest.raises(TypeError, match="continuous"):
        S.ks_test([0, 1, 1], sps.binom(1, 0.5), alpha=0.01)


# --------------------------------------------------------------------------------------------
# STATS-12: bad input
# --------------------------------------------------------------------------------------------

BAD_INPUT = [
    (S.binomial_test, (3, 10, 1.5), {"alpha": 0.01}, "keep_prob", r"\[0, 1\]"),
    (S.binomial_test, (3, 10, float("nan")), {"alpha": 0.01}, "keep_prob", r"\[0, 1\]"),
    (S.binomial_test, (3, 10, 2.2250738585072014e-308), {"alpha": 0.01}, "keep_prob", r"\[1e-290, 1\]"),
    (S.binomial_test, (11, 10, 0.5), {"alpha": 0.01}, "k", r"\[0, 10\]"),
    (S.binomial_test, (-1, 10, 0.5), {"alpha": 0.01}, "k", r"\[0, inf\)"),
    (S.binomial_test, (0, -3, 0.5), {"alpha": 0.01}, "n", r"\[1, inf\)"),
    (S.binomial_test, (3, 10, 0.5), {"alpha": 0.0}, "alpha", r"\(0, 1\)"),
    (S.binomial_test, (3, 10, 0.5), {"alpha": 1.0}, "alpha", r"\(0, 1\)"),
    (S.samples_needed, (-0.1, 0.01, 1e-3, 0.99), {}, "q", r"\[0, 1\]"),
    (S.samples_needed, (0.5, 0.0, 1e-3, 0.99), {}, "delta", r"\(0, inf\)"),
    (S.samples_needed, (0.5, 1.5, 1e-3, 0.99), {}, "delta", r"\(0, 1\]"),
    (S.samples_needed, (0.5, 0.01, 2.0, 0.99), {}, "alpha", r"\(0, 1\)"),
    (S.samples_needed, (0.5, 0.01, 1e-3, 1.0), {}, "power", r"\(0, 1\)"),
    (S.detectable_delta, (0.5, -5, 1e-3, 0.99), {}, "n", r"\[1, inf\)"),
    (S.detectable_delta, (0.5, 100, 1e-3, 0.0), {}, "power", r"\(0, 1\)"),
    (S.ErrorBudget, (0.0, 10), {}, "family_alpha", r"\(0, 1\)"),
    (S.ErrorBudget, (1e-6, 0), {}, "planned_decisions", r"\[1, inf\)"),
    (S.decision_plan, ("quick", 0), {}, "planned_decisions", r"\[1, inf\)"),
    (S.decision_plan, ("fast",), {}, "profile", "deep"),
    (S.homogeneity_test, ([[0, 1], [1]],), {"alpha": 0.01}, "masks", "one length"),
    (S.homogeneity_power, ([0.5, 1.2], 10, 0.01), {}, r"keep_probs\[1\]", r"\[0, 1\]"),
    (S.one_position_power, (0.5, 0.6, 10, 100, 0.01), {}, r"keep_prob \+ shift", r"\[0, 1\]"),
    (S.dispersion_power, (1.0, 10, 100, 0.5, 0.01), {}, "variance_ratio", r"\[0, 1\)"),
    (S.lag_independence_test, ([0, 1, 1, 0], 0), {"alpha": 0.01}, "lag", r"\[1, inf\)"),
    (S.lag_independence_test, ([0, 1, 1, 0], 4), {"alpha": 0.01}, "lag", "shorter"),
    (S.successive_independence_test, ([[0, 1, 1]],), {"alpha": 0.01}, "masks", "at least 2"),
    (S.runs_test, ([1, 1, 1],), {"alpha": 0.01}, "runs", "one 1 and one 0"),
    (S.dispersion_test, ([[0, 1]] * 3, 0.0), {"alpha": 0.01}, "keep_prob", r"\(0, 1\)"),
    (S.dispersion_test, ([[0, 1]] * 3, 0.5), {"alpha": 0.01, "alternative": "less"}, "alternative", "under"),
    (S.variance_test, ([1.0, 2.0], 1.0), {"alpha": 0.01, "fourth_moment": 0.5}, "fourth_moment", "variance"),
    (S.variance_test, ([1.0], 1.0), {"alpha": 0.01}, "samples", "at least 2"),
    (S.mean_z_test, ([1.0, float("inf")], 0.0, 1.0), {"alpha": 0.01}, r"samples\[1\]", "finite"),
    (S.mean_z_test, ([1.0, 2.0], 0.0, -1.0), {"alpha": 0.01}, "sigma", r"\(0, inf\)"),
    (S.correlation_power, (1.0, 100, 0.01), {"keep_prob": 0.5}, "correlation", r"\(-1, 1\)"),
    (S.runs_power, (0.1, 100, 0.01), {"keep_prob": 1.0}, "keep_prob", r"\(0, 1\)"),
    (S.central_band, (0, 0.5), {}, "size", r"\[1, inf\)"),
]


@pytest.mark.clause("STATS-12")
@pytest.mark.parametrize("function, args, kwargs, name, allowed", BAD_INPUT)
def test_bad_input_names_argument_value_and_range(function, args, kwargs, name, allowed):
    with pytest.raises(ValueError) as error:
        function(*args, **kwargs)
    assert re.search(name, str(error.value)) and re.search(allowed, str(error.value))


@pytest.mark.clause("STATS-12")
@pytest.mark.parametrize(
    "function, args, kwargs",
    [
        (S.binomial_test, (3.0, 10, 0.5), {"alpha": 0.01}),
        (S.binomial_test, (3, True, 0.5), {"alpha": 0.01}),
        (S.samples_needed, ("0.5", 0.01, 1e-3, 0.99), {}),
        (S.ks_test, ([0.1, 0.2], "norm"), {"alpha": 0.01}),
        (S.runs_test, (None,), {"alpha": 0.01}),
    ],
)
def test_wrong_types_are_type_errors(function, args, kwargs):
    with pytest.raises(TypeError):
        function(*args, **kwargs)


class Tensorish:
    """An engine-tensor stand-in: anything with .tolist() is accepted and flattened."""

    def __init__(self, data):
        self.data = data

    def tolist(self):
        return self.data


@pytest.mark.clause("STATS-12")
@pytest.mark.parametrize(
    "mask",
    [
        [1, 0, 1, 1],
        [True, False, True, True],
        [1.0, 0.0, 1.0, 1.0],
        (1, 0, 1, 1),
        np.array([1, 0, 1, 1]),
        np.array([[1, 0], [1, 1]], dtype=bool),
        Tensorish([[1, 0], [1, 1]]),
        (b for b in [1, 0, 1, 1]),
        [np.int64(1), np.int64(0), 1, True],
    ],
)
def test_masks_accept_common_forms(mask):
    assert as_mask(mask) == [1, 0, 1, 1]


@pytest.mark.clause("STATS-12")
def test_nested_input_is_a_list_of_masks():
    assert as_masks(np.array([[1, 0], [0, 0]])) == [[1, 0], [0, 0]]
    masks = as_masks([[True, False], (1.0, 0), [np.int64(1), 1]])
    assert masks == [[1, 0], [1, 0], [1, 1]] and {type(b) for mask in masks for b in mask} == {int}
    assert as_masks([Tensorish([[1], [0]]), [1, 1]]) == [[1, 0], [1, 1]]
    assert as_masks([0, 1]) == [[0, 1]]


@pytest.mark.clause("STATS-12")
@pytest.mark.parametrize("bad", [[0, 1, 2], [0, 0.5], [1, float("nan")], [[0, 1], [1, "1"]], [0, -1]])
def test_masks_refuse_non_binary_values(bad):
    with pytest.raises(ValueError, match=r"mask\[\d+\] must be 0 or 1"):
        as_mask(bad)
    with pytest.raises(ValueError, match=r"masks\[1\]\[\d+\] must be 0 or 1"):  # among good masks too
        as_masks([[0, 1], bad, [1, 1]])


# --------------------------------------------------------------------------------------------
# Running counts: the forms a chunked sample is judged in decide as the masks and samples do
# --------------------------------------------------------------------------------------------


@pytest.mark.clause("STATS-7")
@exact(20)
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 0.9))
def test_homogeneity_counts_decide_as_the_masks_do(seed, q):
    masks = bernoulli(np.random.default_rng(seed), (300, 16), q)
    assert S.homogeneity_counts_test(masks.sum(axis=0), 300, alpha=1e-6) == S.homogeneity_test(masks, alpha=1e-6)


@pytest.mark.clause("STATS-10")
@exact(20)
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 0.9))
def test_dispersion_counts_decide_as_the_masks_do(seed, q):
    masks = bernoulli(np.random.default_rng(seed), (200, 50), q)
    assert S.dispersion_counts_test(masks.sum(axis=1), 50, q, alpha=1e-6) == S.dispersion_test(masks, q, alpha=1e-6)


@pytest.mark.clause("STATS-11")
@exact(30)
@given(st.integers(0, 2**32 - 1), st.integers(2, 3000), st.floats(0.05, 0.95))
def test_a_tally_decides_as_its_values_do(seed, n, q):
    """Sums over a tally are the exact sums rounded once, as math.fsum rounds: bit-identical decisions."""
    values = np.random.default_rng(seed).choice([0.0, 1.0 / q, -2.5, 1e-300, 3e10], size=n)
    tally = S.Tally.of(values[: n // 2]) + S.Tally.of(values[n // 2 :])
    assert tally.n == n
    assert S.mean_z_test(tally, 1.0, 0.7, alpha=1e-6) == S.mean_z_test(values, 1.0, 0.7, alpha=1e-6)
    for fourth in (None, 3.0):
        assert (S.variance_test(tally, 0.5, alpha=1e-6, fourth_moment=fourth)
                == S.variance_test(values, 0.5, alpha=1e-6, fourth_moment=fourth))


@pytest.mark.clause("STATS-12")
@pytest.mark.parametrize("call, message", [
    (lambda: S.pair_counts_test(S.PairCounts(10, 3, 4, 5), alpha=0.01), "2x2 table"),
    (lambda: S.pair_counts_test(S.PairCounts(), alpha=0.01), "at least one pair"),
    (lambda: S.homogeneity_counts_test([3, 11], 10, alpha=0.01), r"counts in \[0, masks = 10\]"),
    (lambda: S.dispersion_counts_test([3, -1], 10, 0.5, alpha=0.01), r"keep counts in \[0, size = 10\]"),
    (lambda: S.Tally({math.nan: 1}), "must be finite"),
    (lambda: S.Tally({1.0: 0}), "count of 1.0"),
    (lambda: S.variance_test(S.Tally({1.0: 1}), 1.0, alpha=0.01), "at least 2 values"),
])
def test_running_counts_are_checked(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.clause("STATS-11")
@exact(30)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2000), st.integers(-1074, 1000))
def test_exact_sum_is_the_sum_of_the_values_as_fractions(seed, n, scale):
    from fractions import Fraction

    rng = np.random.default_rng(seed)
    values = rng.standard_normal(n) * 2.0 ** scale if scale > -1022 else rng.integers(-9, 9, n) * 5e-324
    values = np.append(values, [5e-324, -0.0])
    assert float(S.exact_sum(values)) == math.fsum(values.tolist())  # the exact sum rounded once
    extremes = np.append(values, [1.7976931348623157e308, -1.7976931348623157e308])
    assert S.exact_sum(extremes) == sum(map(Fraction, extremes.tolist()), Fraction(0))
    with pytest.raises(ValueError, match="finite"):
        S.exact_sum(np.array([1.0, math.inf]))


@pytest.mark.clause("STATS-11")
def test_exact_sum_is_exact_across_its_blocks():
    """exact_sum works through blocks of values (continuous._BLOCK): over two and a half blocks, the largest
    and least values placed at their ends, it is the exact sum, so the sums of any split of it add up to it."""
    from refdropout.stats.continuous import _BLOCK

    values = np.random.default_rng(7).standard_normal(2 * _BLOCK + _BLOCK // 2) * 2.0**-30
    for i, v in zip((0, _BLOCK - 1, _BLOCK, 2 * _BLOCK - 1, 2 * _BLOCK, values.size - 1),
                    (1e300, -1e300, 5e-324, 3.5, -5e-324, 2.0**-1000)):
        values[i] = v
    total = S.exact_sum(values)
    assert float(total) == math.fsum(values.tolist())
    for split in (1, _BLOCK - 1, _BLOCK + 1, values.size - 3):
        assert S.exact_sum(values[:split]) + S.exact_sum(values[split:]) == total
