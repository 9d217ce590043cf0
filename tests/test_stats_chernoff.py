"""Unit tests of the Chernoff tests of refdropout.stats (STATS-16: VARIANTS-5).

The p-values are checked against the closed form for normal terms, the tests' level by Monte Carlo
on alpha dropout's outputs from numpy's generator (fixed seed, the frequency judged by an exact
binomial test at 1e-4), and their power on a shifted mean and a scaled variance.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

import refdropout.stats as S
from helpers import exact
from refdropout.conformance.variants import ALPHA_P, alpha_dropped_value, alpha_log_mgfs
from refdropout.functional.alpha import alpha_constants
from refdropout.stats import chernoff
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


# ---- finite laws, the lattice bound of a squared mean, split tails and slack (ENSEMBLE-3, ENSEMBLE-6) ----

SKEWED = ([0.1, 0.35, 0.9], [Fraction(1, 2), Fraction(3, 10), Fraction(1, 5)])  # a finite law, skewed to the right


def _law_of_means(values: list[float], probabilities: list[Fraction], samples: int) -> dict[Fraction, Fraction]:
    """The exact law of the mean of ``samples`` draws: every tuple enumerated, in Fractions."""
    law: dict[Fraction, Fraction] = {}
    for draws in itertools.product(range(len(values)), repeat=samples):
        mean = sum(Fraction(values[i]) for i in draws) / samples
        law[mean] = law.get(mean, Fraction(0)) + math.prod(probabilities[i] for i in draws)
    return law


def _exact_log_mgf(law: dict[Fraction, Fraction], lam: float) -> float:
    return float(logsumexp([lam * float(v) for v in law], b=[float(w) for w in law.values()]))


@pytest.mark.clause("STATS-16")
def test_finite_generating_function_is_exact_and_checks_its_law() -> None:
    of_x = S.finite_log_mgf(*SKEWED)
    for lam in (-50.0, -1.0, 0.0, 0.5, 3.0, 80.0):
        exact_value = _exact_log_mgf(dict(zip(map(Fraction, SKEWED[0]), SKEWED[1])), lam)
        assert exact_value <= of_x[0](lam) <= exact_value + 1e-8
    with pytest.raises(ValueError, match="sum to 1"):
        S.finite_log_mgf([0.0, 1.0], [0.5, 0.6])
    with pytest.raises(ValueError, match="one probability per value"):
        S.finite_log_mgf([0.0, 1.0], [1.0])
    with pytest.raises(ValueError):
        S.finite_log_mgf([0.0, math.nan], [0.5, 0.5])


@pytest.mark.clause("STATS-16")
@pytest.mark.parametrize("samples", [1, 2, 4])
def test_lattice_bound_lies_above_the_squares_generating_function(samples: int) -> None:
    """W = (mean of T draws - mu)^2: its exact generating function, from every tuple, is below the lattice
    bound on both sides of 0, and the bound is tight to a few percent of E W near 0."""
    values, probabilities = SKEWED
    mu = sum(Fraction(v) * w for v, w in zip(values, probabilities))
    squares: dict[Fraction, Fraction] = {}
    for mean, w in _law_of_means(values, probabilities, samples).items():
        squares[(mean - mu) ** 2] = squares.get((mean - mu) ** 2, Fraction(0)) + w
    bound = S.average_square_log_mgf(values, probabilities, mu, samples)[0]
    mse = float(sum(w * v for v, w in squares.items()))
    for lam in (-1e4, -300.0, -10.0, -0.1, 0.0, 0.1, 10.0, 100.0):
        assert _exact_log_mgf(squares, lam) <= bound(lam)
    h = 1e-4 / mse
    assert 1.0 <= (bound(h) - bound(0.0)) / h / mse <= 1.05
    assert 0.95 <= (bound(0.0) - bound(-h)) / h / mse <= 1.0


@pytest.mark.clause("STATS-16")
def test_split_tails_double_the_one_sided_bound() -> None:
    """A Bernoulli(0.2) term: the one-sided bound at x is exp(-n KL(x || 0.2)), in closed form."""
    def kl(x: float, q: float = 0.2) -> float:
        return x * math.log(x / q) + (1 - x) * math.log((1 - x) / (1 - q))

    of_x = S.finite_log_mgf([0.0, 1.0], [0.8, 0.2])
    both = S.chernoff_mean_test(0.35, 100, 0.2, of_x, alpha=1e-3)
    above = S.chernoff_mean_test(0.35, 100, 0.2, of_x, alpha=1e-3, split=True)
    below = S.chernoff_mean_test(0.05, 100, 0.2, of_x, alpha=1e-3, split=True)
    assert both.p_value == pytest.approx(math.exp(-100 * kl(0.35)) + math.exp(-100 * kl(0.05)), rel=1e-6)
    assert above.p_value == pytest.approx(2 * math.exp(-100 * kl(0.35)), rel=1e-6)
    assert below.p_value == pytest.approx(2 * math.exp(-100 * kl(0.05)), rel=1e-6)


@pytest.mark.clause("STATS-16")
def test_slack_is_taken_off_the_deviation() -> None:
    of_x = S.finite_log_mgf([0.0, 1.0], [0.8, 0.2])
    shrunk = S.chernoff_mean_test(0.35, 100, 0.2, of_x, alpha=1e-3, slack=0.05)
    assert shrunk.p_value == pytest.approx(S.chernoff_mean_test(0.3, 100, 0.2, of_x, alpha=1e-3).p_value, rel=1e-9)
    assert shrunk.observed == 0.35
    assert S.chernoff_mean_test(0.35, 100, 0.2, of_x, alpha=1e-3, slack=0.2).p_value == 1.0
    for bad in (-1e-3, math.nan, math.inf):
        with pytest.raises(ValueError, match="slack"):
            S.chernoff_mean_test(0.35, 100, 0.2, of_x, alpha=1e-3, slack=bad)


def _exact_size(law: dict[Fraction, Fraction], p_value: Callable[[float], float], level: float) -> Fraction:
    return sum((w for v, w in law.items() if p_value(float(v)) <= level), Fraction(0))


@pytest.mark.clause("STATS-16")
@pytest.mark.parametrize("split", [False, True])
def test_exact_size_on_a_finite_law_is_at_most_alpha(split: bool) -> None:
    """The size of each test, from the exact law of its statistic: the mean of 10 skewed terms, and the
    mean of R = 3 squares W of means of T = 2 terms, against the lattice bound."""
    values, probabilities = SKEWED
    mu = sum(Fraction(v) * w for v, w in zip(values, probabilities))
    squares: dict[Fraction, Fraction] = {}
    for mean, w in _law_of_means(values, probabilities, 2).items():
        squares[(mean - mu) ** 2] = squares.get((mean - mu) ** 2, Fraction(0)) + w
    mse = sum(w * v for v, w in squares.items())
    of_x, of_w = S.finite_log_mgf(values, probabilities), S.average_square_log_mgf(values, probabilities, mu, 2)
    means = _law_of_means(values, probabilities, 10)
    square_means = _law_of_means(list(squares), list(squares.values()), 3)
    for level in (0.5, 0.2, 0.1, 0.05, 0.01):
        size = _exact_size(means, lambda v: S.chernoff_mean_test(v, 10, float(mu), of_x, alpha=level,
                                                                 split=split).p_value, level)
        assert size <= level
        size = _exact_size(square_means, lambda v: S.chernoff_mean_test(v, 3, float(mse), of_w, alpha=level,
                                                                        split=split).p_value, level)
        assert size <= level


@pytest.mark.clause("STATS-16")
@exact(300)
@given(st.one_of(st.floats(allow_nan=True), st.sampled_from([0.0, -0.0, math.inf, -math.inf, 709.0, -745.0])),
       st.one_of(st.floats(allow_nan=True), st.sampled_from([0.0, math.inf, -math.inf])),
       st.floats(-1e-3, 1e-3))
def test_log_add_exp_is_numpys_logaddexp_bit_for_bit(x, y, nudge):
    """The log moment generating functions of VARIANTS-5 add exponentials in plain floats: the same bits as
    numpy.logaddexp, for x = y, for nearby and distant arguments, infinities and NaN."""
    for a, b in ((x, y), (y, x), (x, x), (x, x + nudge)):
        ours, theirs = S.log_add_exp(a, b), float(np.logaddexp(a, b))
        assert ours == theirs or (math.isnan(ours) and math.isnan(theirs)), (a, b, ours, theirs)


@pytest.mark.clause("STATS-16")
@exact(100)
@given(st.floats(-2.0, 2.0))
def test_alpha_log_mgfs_are_the_numpy_formulas_bit_for_bit(lam):
    """alpha_log_mgfs, in plain floats with its logarithms taken once, gives the bits of its formulas as
    written with numpy.logaddexp."""
    (of_y, _, _), (of_square, _, high) = alpha_log_mgfs(ALPHA_P)
    (a, b), d, p = alpha_constants(ALPHA_P), alpha_dropped_value(ALPHA_P), ALPHA_P
    q = 1.0 - p
    assert of_y(lam) == float(np.logaddexp(math.log(q) + lam * b + lam * lam * a * a / 2, math.log(p) + lam * d))
    lam = min(lam, high * 0.999)
    shrink = 1.0 - 2.0 * lam * a * a
    assert of_square(lam) == float(np.logaddexp(math.log(q) - math.log(shrink) / 2 + lam * b * b / shrink,
                                                math.log(p) + lam * d * d))


def _bisected_radius(log_mgf, mean: float, scale: float, n: int, alpha: float) -> float:
    """The radius as first written: a bracket by doubling, then 60 bisection steps, each computing both tails."""
    high = scale
    while chernoff._tail(log_mgf, mean, high, n) > alpha:
        high *= 2.0
    low = 0.0
    for _ in range(60):
        middle = (low + high) / 2.0
        low, high = (low, middle) if chernoff._tail(log_mgf, mean, middle, n) <= alpha else (middle, high)
    return high


@pytest.mark.clause("STATS-16")
@exact(40)
@given(st.sampled_from(["normal", "y", "y^2"]), st.integers(1, 10**9), st.sampled_from([1, -1]),
       st.floats(0.0, 3.0))
def test_a_split_tail_is_its_one_sided_bound_summed_twice_bit_for_bit(moment, n, side, deviation):
    """_tail on one side computes that side's bound once and doubles it: the bits of the sum of the bound
    computed twice, as first written."""
    of_y, of_square = alpha_log_mgfs(ALPHA_P)
    log_mgf, mean = {"normal": (NORMAL, 0.0), "y": (of_y, 0.0), "y^2": (of_square, 1.0)}[moment]
    deviation /= math.sqrt(n)
    twice = 1.0 if deviation <= 0.0 else min(1.0, sum(
        math.exp(-n * chernoff._rate(log_mgf, mean + s * deviation, s)) for s in (side, side)))
    assert chernoff._tail(log_mgf, mean, deviation, n, side) == twice


@pytest.mark.clause("STATS-16")
@exact(40)
@given(st.sampled_from(["normal", "y", "y^2"]), st.integers(1, 10**9), st.sampled_from([0.3, 1e-3, 1e-10, 5e-11]),
       st.floats(0.1, 10.0))
def test_radius_is_the_sixty_step_bisection_bit_for_bit(moment, n, alpha, spread):
    """_radius leaves the lower tail uncomputed where the upper exceeds α and stops once the bracket cannot
    move: the same radius, bit for bit, as the bisection that computes every step in full."""
    of_y, of_square = alpha_log_mgfs(ALPHA_P)
    log_mgf, mean = {"normal": (NORMAL, 0.0), "y": (of_y, 0.0), "y^2": (of_square, 1.0)}[moment]
    scale = math.sqrt(spread / n)
    assert chernoff._radius(log_mgf, mean, scale, n, alpha) == _bisected_radius(log_mgf, mean, scale, n, alpha)
