"""Unit tests of the Bernstein tests of refdropout.stats (the decisions of ENSEMBLE-9).

The p-values are checked against Bernstein's bound written out by hand, the tests' validity and
power on bounded data from numpy's generator (fixed seeds), and their refusal of bad arguments.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

import refdropout.stats as S

# terms uniform on [0, 1]: mean 1/2, variance 1/12, |term - 1/2| <= 1/2, fourth central moment 1/80
UNIFORM = {"mean": 0.5, "variance": 1 / 12, "fourth_moment": 1 / 80, "bound": 0.5}


def bernstein_bound(delta: float, n: int, variance: float, bound: float) -> float:
    """2 exp(-n delta^2 / (2 v + 2 b delta / 3)), capped at 1: the inequality as textbooks state it."""
    return min(1.0, 2 * math.exp(-n * delta**2 / (2 * variance + 2 * bound * delta / 3)))


def test_mean_p_value_is_bernsteins_bound_at_a_known_value() -> None:
    decision = S.bernstein_mean_test(0.6, 100, 0.5, 0.04, 0.5, alpha=1e-3)
    # delta = 0.1: 2 exp(-100 * 0.01 / (0.08 + 0.1 / 3)) = 2 exp(-8.82353) = 2.94456e-4
    assert decision.p_value == pytest.approx(bernstein_bound(0.1, 100, 0.04, 0.5), rel=1e-12)
    assert decision.p_value == pytest.approx(2.94456e-4, rel=1e-5)
    assert decision.reject  # p <= alpha = 1e-3
    assert (decision.test, decision.n, decision.observed, decision.expected) == ("bernstein", 100, 0.6, 0.5)
    assert decision.statistic == pytest.approx(0.1, rel=1e-12)
    assert not S.bernstein_mean_test(0.6, 100, 0.5, 0.04, 0.5, alpha=1e-4).reject


def test_mean_p_value_is_one_at_the_null_mean_and_never_above_one() -> None:
    assert S.bernstein_mean_test(0.5, 10, 0.5, 0.04, 0.5, alpha=0.01).p_value == 1.0
    assert S.bernstein_mean_test(0.51, 10, 0.5, 0.04, 0.5, alpha=0.01).p_value == 1.0  # the bound exceeds 1


def test_mean_of_constant_terms_rejects_any_deviation() -> None:
    """With variance 0 and range 0 every term is the mean: any other observed mean has p = 0."""
    assert S.bernstein_mean_test(0.5 + 1e-12, 5, 0.5, 0.0, 0.0, alpha=1e-9).p_value == 0.0


def test_variance_p_value_at_the_null_variance_is_one() -> None:
    decision = S.bernstein_variance_test(UNIFORM["variance"], 1000, UNIFORM["variance"], UNIFORM["fourth_moment"],
                                         UNIFORM["bound"], alpha=1e-6)
    assert decision.p_value == 1.0
    assert (decision.test, decision.n, decision.expected) == ("bernstein", 1000, UNIFORM["variance"])


def test_variance_p_value_is_never_below_half_alpha() -> None:
    """The p-value charges alpha / 2 to the mean's radius, so it is at least that."""
    decision = S.bernstein_variance_test(0.0, 100_000, UNIFORM["variance"], UNIFORM["fourth_moment"],
                                         UNIFORM["bound"], alpha=1e-6)
    assert decision.p_value == pytest.approx(5e-7, rel=1e-12)
    assert decision.reject


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rejects_a_clearly_wrong_mean(seed: int) -> None:
    """Terms uniform on [0.1, 1.1] (mean 0.6) tested against mean 0.5: rejected at alpha = 1e-6."""
    terms = np.random.default_rng(seed).uniform(0.1, 1.1, size=10_000)
    decision = S.bernstein_mean_test(float(terms.mean()), terms.size, UNIFORM["mean"], UNIFORM["variance"],
                                     UNIFORM["bound"], alpha=1e-6)
    assert decision.reject, decision


def test_rejects_a_clearly_wrong_variance() -> None:
    """Terms uniform on [0.25, 0.75] (variance 1/48) tested against the variance 1/12 of U(0, 1)."""
    terms = np.random.default_rng(3).uniform(0.25, 0.75, size=10_000)
    decision = S.bernstein_variance_test(float(terms.var()), terms.size, UNIFORM["variance"],
                                         UNIFORM["fourth_moment"], UNIFORM["bound"], alpha=1e-6)
    assert decision.reject, decision


def test_holds_its_level_on_bounded_data() -> None:
    """Under the null (uniform terms) each test rejects at most alpha = 0.05 of 200 samples of 50."""
    rng = np.random.default_rng(4)
    rejections = {"mean": 0, "variance": 0}
    for _ in range(200):
        terms = rng.uniform(0.0, 1.0, size=50)
        rejections["mean"] += S.bernstein_mean_test(float(terms.mean()), 50, UNIFORM["mean"], UNIFORM["variance"],
                                                    UNIFORM["bound"], alpha=0.05).reject
        rejections["variance"] += S.bernstein_variance_test(float(terms.var()), 50, UNIFORM["variance"],
                                                            UNIFORM["fourth_moment"], UNIFORM["bound"],
                                                            alpha=0.05).reject
    assert max(rejections.values()) <= 0.05 * 200, rejections


@pytest.mark.parametrize(("arguments", "error", "name"), [
    ((math.nan, 10, 0.5, 0.1, 0.5), ValueError, "observed"),
    (("0.5", 10, 0.5, 0.1, 0.5), TypeError, "observed"),
    ((0.5, 0, 0.5, 0.1, 0.5), ValueError, "n"),
    ((0.5, 2.5, 0.5, 0.1, 0.5), TypeError, "n"),
    ((0.5, True, 0.5, 0.1, 0.5), TypeError, "n"),
    ((0.5, 10, math.inf, 0.1, 0.5), ValueError, "mean"),
    ((0.5, 10, 0.5, -0.1, 0.5), ValueError, "variance"),
    ((0.5, 10, 0.5, 0.1, math.inf), ValueError, "bound"),
    ((0.5, 10, 0.5, 0.1, -1.0), ValueError, "bound"),
])
def test_mean_test_refuses_bad_arguments(arguments: tuple, error: type, name: str) -> None:
    with pytest.raises(error, match=f"^{name} must"):
        S.bernstein_mean_test(*arguments, alpha=0.01)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, math.nan, "0.01"])
def test_both_tests_refuse_a_level_outside_the_unit_interval(alpha: object) -> None:
    with pytest.raises((ValueError, TypeError), match="^alpha must"):
        S.bernstein_mean_test(0.5, 10, 0.5, 0.1, 0.5, alpha=alpha)
    with pytest.raises((ValueError, TypeError), match="^alpha must"):
        S.bernstein_variance_test(0.1, 10, 0.1, 0.02, 0.5, alpha=alpha)


@pytest.mark.parametrize(("arguments", "name"), [
    ((math.inf, 10, 0.1, 0.02, 0.5), "observed"),
    ((0.1, -1, 0.1, 0.02, 0.5), "n"),
    ((0.1, 10, -0.1, 0.02, 0.5), "variance"),
    ((0.1, 10, 0.1, -0.02, 0.5), "fourth_moment"),
    ((0.1, 10, 0.1, 0.02, math.nan), "bound"),
])
def test_variance_test_refuses_bad_arguments(arguments: tuple, name: str) -> None:
    with pytest.raises(ValueError, match=f"^{name} must"):
        S.bernstein_variance_test(*arguments, alpha=0.01)


def test_power_is_the_normal_tail_beyond_the_rejection_threshold() -> None:
    """The mean test rejects beyond Bernstein's radius r at alpha (where the bound is alpha); its planned
    power is P(|N(effect, v / n)| >= r), growing with n and with the effect."""
    n, v, b, alpha = 5000, UNIFORM["variance"], UNIFORM["bound"], 1e-6
    radius = next(d for d in np.linspace(0.0, 0.2, 200_001) if bernstein_bound(d, n, v, b) <= alpha)
    sd = math.sqrt(v / n)
    expected = sps.norm.sf((radius - 0.05) / sd) + sps.norm.cdf((-radius - 0.05) / sd)
    assert S.bernstein_mean_power(0.05, n, v, b, alpha) == pytest.approx(expected, abs=1e-4)
    assert S.bernstein_mean_power(0.05, 2 * n, v, b, alpha) > S.bernstein_mean_power(0.05, n, v, b, alpha)
    variance_powers = [S.bernstein_variance_power(e, n, v, UNIFORM["fourth_moment"], b, alpha) for e in (0.005, 0.02)]
    assert variance_powers[0] < variance_powers[1]


@pytest.mark.parametrize("moment", ["mean", "variance"])
def test_attention_row_sums_hold_the_level(moment: str) -> None:
    """VARIANTS-16's tests on 2000 replicates of 400 row sums sum_j A_j m_j / q of numpy masks (q = 0.7):
    the number rejected at 0.05 is judged by the exact one-sided binomial test of P(reject) <= 0.05 at 1e-4."""
    row, q, replicates, rows, alpha = np.arange(1, 9) / 36, 0.7, 2000, 400, 0.05
    variance = (1 - q) / q * float(np.sum(row**2))
    fourth = (1 - q) * ((1 - q) ** 3 + q**3) / q**3 * float(np.sum(row**4)) + 3 * ((1 - q) / q) ** 2 * (
        float(np.sum(row**2)) ** 2 - float(np.sum(row**4)))
    sums = (np.random.default_rng(16).random((replicates, rows, row.size)) < q) @ row / q
    if moment == "mean":
        rejected = sum(S.bernstein_mean_test(float(s.mean()), rows, 1.0, variance, 1.0, alpha=alpha).reject
                       for s in sums)
    else:
        rejected = sum(S.bernstein_variance_test(float(s.var()), rows, variance, fourth, 1.0, alpha=alpha).reject
                       for s in sums)
    assert not S.binomial_test(rejected, replicates, alpha, alpha=1e-4, alternative="greater").reject, rejected
