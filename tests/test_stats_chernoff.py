"""Unit tests of the Chernoff tests of refdropout.stats (STATS-16: VARIANTS-5).

The p-values are checked against the closed form for normal terms, the tests' level by Monte Carlo
on alpha dropout's outputs from numpy's generator (fixed seed, the frequency judged by an exact
binomial test at 1e-4), and their power on a shifted mean and a scaled variance.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import refdropout.stats as S
from refdropout.conformance.variants import ALPHA_P, alpha_dropped_value, alpha_log_mgfs
from refdropout.functional.alpha import alpha_constants

NORMAL = (lambda lam: lam * lam / 2, 50.0, 50.0)  # log E e^{λ Z}, Z ~ N(0, 1)


def alpha_outputs(rng: np.random.Generator, shape) -> np.ndarray:
    """Alpha dropout of N(0, 1) inputs at ALPHA_P, from numpy: a x + b kept (probability q), else d."""
    (a, b), q = alpha_constants(ALPHA_P), 1 - ALPHA_P
    return np.where(rng.random(shape) < q, a * rng.standard_normal(shape) + b, alpha_dropped_value(ALPHA_P))


@pytest.mark.clause("STATS-16")
def test_mean_p_value_is_the_normal_chernoff_bound() -> None:
    """For N(0, 1) terms the bound is 2 exp(-n d^2 / 2)."""
    decision = S.chernoff_mean_test(0.1, 1000, 0.0, NORMAL, alpha=1e-3)
    assert decision.p_value == pytest.approx(2 * math.exp(-1000 * 0.01 / 2), rel=1e-6)
    assert (decision.test, decision.n, decision.observed, decision.expected) == ("chernoff", 1000, 0.1, 0.0)
    assert S.chernoff_mean_test(0.0, 1000, 0.0, NORMAL, alpha=1e-3).p_value == 1.0


@pytest.mark.clause("STATS-16")
@pytest.mark.parametrize("moment", ["mean", "variance"])
def test_alpha_dropout_outputs_hold_the_level(moment: str) -> None:
    """600 samples of 300 outputs tested at 0.05: the number rejected is judged by the exact one-sided
    binomial test of P(reject) <= 0.05 at 1e-4 (a declared decision)."""
    of_y, of_square = alpha_log_mgfs(ALPHA_P)
    samples = alpha_outputs(np.random.default_rng(5), (600, 300))
    if moment == "mean":
        rejected = sum(S.chernoff_mean_test(float(y.mean()), y.size, 0.0, of_y, alpha=0.05).reject for y in samples)
    else:
        rejected = sum(S.chernoff_variance_test(float(y.var()), y.size, 0.0, 1.0, of_y, of_square, alpha=0.05).reject
                       for y in samples)
    assert not S.binomial_test(rejected, 600, 0.05, alpha=1e-4, alternative="greater").reject, rejected


@pytest.mark.clause("STATS-16")
def test_wrong_moments_are_rejected() -> None:
    """At 20,000 outputs and alpha = 1e-9: a mean shifted by 0.1 and a variance scaled by 1.2 are rejected,
    the right moments are not."""
    of_y, of_square = alpha_log_mgfs(ALPHA_P)
    y = alpha_outputs(np.random.default_rng(6), 20_000)
    assert not S.chernoff_mean_test(float(y.mean()), y.size, 0.0, of_y, alpha=1e-9).reject
    assert S.chernoff_mean_test(float(y.mean()) + 0.1, y.size, 0.0, of_y, alpha=1e-9).reject
    assert not S.chernoff_variance_test(float(y.var()), y.size, 0.0, 1.0, of_y, of_square, alpha=1e-9).reject
    scaled = y * math.sqrt(1.2)
    assert S.chernoff_variance_test(float(scaled.var()), y.size, 0.0, 1.0, of_y, of_square, alpha=1e-9).reject


@pytest.mark.clause("STATS-16")
def test_power_grows_with_n() -> None:
    of_y, _ = alpha_log_mgfs(ALPHA_P)
    powers = [S.chernoff_mean_power(0.02, n, 0.0, 1.0, of_y, 1e-9) for n in (50_000, 200_000)]
    assert powers[0] < 0.5 < 0.99 < powers[1]
