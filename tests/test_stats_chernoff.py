"""Unit tests of the Chernoff tests of refdropout.stats (STATS-16: VARIANTS-5).

The p-values are checked against the closed form for normal terms, the tests' level by Monte Carlo
on alpha dropout's outputs from numpy's generator (fixed seed, the frequency judged by an exact
binomial test at 1e-4), and their power on a shifted mean and a scaled variance.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

import refdropout.stats as S
from helpers import exact
from refdropout.conformance.variants import ALPHA_P, alpha_dropped_value, alpha_log_mgfs
from refdropout.functional.alpha import alpha_constants
from refdropout.stats.chernoff import bounded_minimum

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


def _scipy_bounded_minimum(f: Callable[[float], float], high: float, xatol: float) -> float:
    return float(minimize_scalar(f, bounds=(0.0, high), method="bounded", options={"xatol": xatol}).fun)


@pytest.mark.clause("STATS-16")
@exact(150)
@given(st.sampled_from(["cos", "square", "kink", "line", "flat", "nan", "inf", "cgf y", "cgf y^2"]),
       st.floats(-60.0, 60.0), st.sampled_from([1, -1]))
def test_bounded_minimum_is_scipys_bounded_brent_bit_for_bit(shape, x, side):
    (of_y, low_y, high_y), (of_square, low_square, high_square) = alpha_log_mgfs(ALPHA_P)
    functions = {"cos": (lambda lam: math.cos(3 * lam), 5.0), "square": (lambda lam: (lam - 1.0) ** 2, 4.0),
                 "kink": (lambda lam: abs(lam - 0.3), 1.0), "line": (lambda lam: side * lam, 2.0),
                 "flat": (lambda lam: 0.0, 1.0), "nan": (lambda lam: math.nan if lam > 0.5 else lam, 1.0),
                 "inf": (lambda lam: math.inf if lam > 0.7 else -lam, 1.0),
                 "cgf y": (lambda lam: of_y(side * lam), high_y if side > 0 else low_y),
                 "cgf y^2": (lambda lam: of_square(side * lam), high_square if side > 0 else low_square)}
    g, reach = functions[shape]

    def f(lam: float) -> float:
        return g(lam) - side * lam * x

    ours, theirs = bounded_minimum(f, reach, 1e-10 * reach), _scipy_bounded_minimum(f, reach, 1e-10 * reach)
    assert ours == theirs or (math.isnan(ours) and math.isnan(theirs))
