"""Unit tests of the exact two-point tests of refdropout.stats (STATS-15: DROPOUT-20, DROPOUT-21).

Their size is computed exactly from the binomial distribution of the count, measured by Monte Carlo
on two-point samples from numpy's generator (fixed seeds, the frequency judged by an exact binomial
test at 1e-4), and their power checked on broken samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom, binomtest

import refdropout.stats as S

Q = 0.7  # the keep rate of DROPOUT-20/21's ratios m / q
VALUE, MEAN, VARIANCE = 1 / Q, 1.0, (1 - Q) / Q  # m / q: mean 1, variance p / q


def exact_size(test, n: int, alpha: float) -> float:
    """P(p <= alpha) when k ~ Binomial(n, Q): every count's probability where the test rejects."""
    return sum(binom.pmf(k, n, Q) for k in range(n + 1) if test(k, n, alpha).p_value <= alpha)


def mean_test(k: int, n: int, alpha: float) -> S.Decision:
    return S.two_point_mean_test(k, n, VALUE, MEAN, alpha=alpha)


def variance_test(k: int, n: int, alpha: float) -> S.Decision:
    return S.two_point_variance_test(k, n, VALUE, VARIANCE, alpha=alpha)


@pytest.mark.clause("STATS-15")
def test_mean_p_value_is_the_binomial_p_value_at_the_rate_mean_over_value() -> None:
    decision = S.two_point_mean_test(60, 100, 2.0, 1.0, alpha=0.05)
    assert decision.p_value == binomtest(60, 100, 0.5).pvalue
    assert (decision.test, decision.statistic, decision.n, decision.observed, decision.expected) == (
        "two-point mean", 60.0, 100, 1.2, 1.0)
    assert S.two_point_mean_test(100, 100, 0.5, 1.0, alpha=0.05).p_value == 0.0  # mean <= v = 0.5 < 1


@pytest.mark.clause("STATS-15")
def test_variance_p_value_is_the_larger_at_the_two_roots() -> None:
    # v = 2, variance 0.64: 4 r (1 - r) = 0.64 at r = 0.2 and r = 0.8
    assert S.variance_roots(2.0, 0.64) == pytest.approx((0.2, 0.8), abs=1e-15)
    decision = S.two_point_variance_test(70, 100, 2.0, 0.64, alpha=0.05)
    roots = S.variance_roots(2.0, 0.64)
    assert decision.p_value == max(binomtest(70, 100, r).pvalue for r in roots)
    assert decision.observed == pytest.approx(4 * 70 * 30 / (100 * 99), rel=1e-15)
    assert S.variance_roots(1.0, 0.3) is None
    assert S.two_point_variance_test(50, 100, 1.0, 0.3, alpha=0.05).p_value == 0.0  # no rate has variance > v^2/4


@pytest.mark.clause("STATS-15")
@pytest.mark.parametrize("test", [mean_test, variance_test], ids=["mean", "variance"])
@pytest.mark.parametrize(("n", "alpha"), [(50, 0.05), (400, 0.01), (3000, 1e-3)])
def test_exact_size_never_exceeds_alpha(test, n: int, alpha: float) -> None:
    assert exact_size(test, n, alpha) <= alpha


@pytest.mark.clause("STATS-15")
@pytest.mark.parametrize("test", [mean_test, variance_test], ids=["mean", "variance"])
def test_null_rejection_rate_is_at_most_alpha(test) -> None:
    """4000 samples of 500 ratios m / q from numpy's generator, tested at 0.05: the number rejected is
    judged by the exact one-sided binomial test of P(reject) <= 0.05 at 1e-4 (a declared decision)."""
    rng = np.random.default_rng(20261206)
    replicates, n, alpha = 4000, 500, 0.05
    counts = (rng.random((replicates, n)) < Q).sum(axis=1)  # the keep counts of two-point samples
    rejected = sum(test(int(k), n, alpha).reject for k in counts)
    assert not S.binomial_test(rejected, replicates, alpha, alpha=1e-4, alternative="greater").reject, rejected


@pytest.mark.clause("STATS-15")
def test_broken_ratios_are_rejected() -> None:
    """A missing rescale (v = 1: mean q) fails the mean; a p/q swap (rate p, v = 1 / p) keeps the mean 1
    and fails the variance (q / p); both at n = 20,000 and alpha = 1e-9."""
    rng = np.random.default_rng(7)
    n, alpha = 20_000, 1e-9
    k_q, k_p = int((rng.random(n) < Q).sum()), int((rng.random(n) < 1 - Q).sum())
    assert S.two_point_mean_test(k_q, n, 1.0, MEAN, alpha=alpha).reject
    assert not S.two_point_mean_test(k_p, n, 1 / (1 - Q), MEAN, alpha=alpha).reject
    assert S.two_point_variance_test(k_p, n, 1 / (1 - Q), VARIANCE, alpha=alpha).reject


@pytest.mark.clause("STATS-12")
def test_two_point_tests_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="value"):
        S.two_point_mean_test(1, 10, 0.0, 1.0, alpha=0.05)
    with pytest.raises(ValueError, match="n must be at least 2"):
        S.two_point_variance_test(1, 1, 2.0, 0.5, alpha=0.05)
    with pytest.raises(ValueError, match="alpha"):
        S.two_point_mean_test(1, 10, 2.0, 1.0, alpha=1.0)
