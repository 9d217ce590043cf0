"""Checks of spec/ensemble.md for Monte Carlo dropout: an implementation's predictive mean and
variance (capability ``mc_predict``) against the exact ensemble of a small network.

The network is the table's 6-6-3 tanh network whose inputs and hidden units are both dropped
(ENSEMBLE-5): 12 droppable units, 4,096 sub-networks, enumerated by ``refdropout.theory``. For
the probability f_k of class k the enumeration gives the exact ensemble mean A_k = E_m[f_k], the
variance sigma_k^2, the fourth central moment mu4_k and the range c_k = max_m |f_k(m) - A_k|.

The statistical decisions use Bernstein's inequality, which holds at every number of passes S
with no normal approximation: for the mean of S independent terms with mean mu, variance at
most v and |term - mu| <= b,

    P(|mean - mu| >= delta) <= 2 exp(-S delta^2 / (2 v + 2 b delta / 3)).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

from .. import ops
from ..random import Generator
from ..stats import Decision
from ..theory import TABLE_NETWORKS, Distribution, ensemble_outputs, table_input
from ..contract import policies_of
from .registry import Context, check
from .verdict import Verdict

__all__ = [
    "Moments", "bernstein_tail", "bernstein_radius", "mean_p_value", "variance_p_value", "MC_NETWORK", "MC_RATES",
    "MC_PASSES", "ZERO_RATE_TOLERANCE",
]

MC_NETWORK = TABLE_NETWORKS["6-6-3, tanh, inputs and hidden dropped"]
MC_RATES = (0.2, 0.5)
MC_PASSES = (64, 1024)  # S: 16 times the passes, a radius about 4 times smaller
CLASSES = 3
ZERO_RATE_PASSES, ZERO_RATE_INPUTS = 16, 4
ZERO_RATE_TOLERANCE = 1e-6  # |mean - s| and sqrt(variance) at p = 0: float32 rounding, averaged


def bernstein_tail(delta: float, variance: float, bound: float, samples: int) -> float:
    """Bernstein's bound on P(|mean of S terms - mu| >= delta), capped at 1."""
    if delta <= 0.0:
        return 1.0
    spread = 2.0 * variance + 2.0 * bound * delta / 3.0
    return 0.0 if spread == 0.0 else min(1.0, 2.0 * math.exp(-samples * delta * delta / spread))


def bernstein_radius(alpha: float, variance: float, bound: float, samples: int) -> float:
    """The delta at which ``bernstein_tail`` is alpha: the root of S delta^2 = L (2 v + 2 b delta / 3),
    L = ln(2 / alpha); about sqrt(2 v L / S) for large S, so it shrinks like 1/sqrt(S)."""
    log_term = math.log(2.0 / alpha)
    linear = 2.0 * bound * log_term / 3.0
    return (linear + math.sqrt(linear * linear + 8.0 * samples * variance * log_term)) / (2.0 * samples)


class Moments(NamedTuple):
    """One class probability f over the ensemble: A = E_m[f], sigma2 = Var_m[f], mu4 = E_m[(f - A)^4],
    spread = max_m |f(m) - A|."""

    mean: float
    sigma2: float
    mu4: float
    spread: float


@lru_cache(maxsize=None)
def _exact(p: float, scaling: str) -> tuple[Moments, ...]:
    """The moments of every class probability at the table input, from the enumeration: A_k
    exact and rounded once, the central moments summed in float64 (math.fsum) about it."""
    x = table_input(MC_NETWORK)
    log_outputs, probabilities = ensemble_outputs(MC_NETWORK, x, p, scaling)
    weights = [float(w) for w in probabilities]
    moments = []
    for k in range(CLASSES):
        f = Distribution.of(probabilities, [math.exp(v) for v in log_outputs.data[k::CLASSES]])
        a = float(f.mean)
        deviations = [float(v) - a for v in f.values]
        sigma2, mu4 = (math.fsum(w * d**order for w, d in zip(weights, deviations)) for order in (2, 4))
        moments.append(Moments(a, sigma2, mu4, max(abs(d) for d in deviations)))
    return tuple(moments)


def mean_p_value(mean: float, f: Moments, samples: int) -> float:
    """Bernstein's bound on P(|mean of S passes - A| >= |mean - A|): terms f(m_s), variance sigma2, range spread."""
    return bernstein_tail(abs(mean - f.mean), f.sigma2, f.spread, samples)


def variance_p_value(variance: float, f: Moments, samples: int, alpha: float) -> float:
    """A p-value, valid at level alpha, for H0: ``variance`` = (1/S) sum (f_s - mean)^2 of S independent passes.

    variance = w - (mean - A)^2 with w = (1/S) sum (f_s - A)^2, whose terms lie in [0, spread^2] with mean
    sigma2 and variance mu4 - sigma2^2. With r the mean's radius at alpha / 2, |variance - sigma2| can
    exceed r^2 + delta only if |mean - A| > r or |w - sigma2| > delta; the p-value alpha / 2 + P(|w - sigma2|
    >= |variance - sigma2| - r^2) is therefore at most alpha with probability at most alpha.
    """
    squared_radius = bernstein_radius(alpha / 2, f.sigma2, f.spread, samples) ** 2
    w_range = max(f.sigma2, f.spread**2 - f.sigma2)
    tail = bernstein_tail(abs(variance - f.sigma2) - squared_radius, f.mu4 - f.sigma2**2, w_range, samples)
    return min(1.0, alpha / 2 + tail)


def _seed(seed: int, index: int) -> int:
    low, high = Generator(seed).fold_in(index).random_words(2)
    return low | high << 32


def _decide(ctx: Context, name: str, p_value: float, observed: float, expected: float, samples: int) -> bool:
    decision = Decision(test="bernstein", statistic=abs(observed - expected), p_value=p_value, n=samples,
                        observed=observed, expected=expected, alpha=ctx.alpha)
    return ctx.decide(name, decision)


@check("ENSEMBLE-8", needs=("mc_predict",))
def check_zero_rate_has_zero_variance(impl: object, ctx: Context) -> Verdict:
    """ENSEMBLE-8: at p = 0 the variance is 0 and the mean the network's output, up to rounding."""
    x = Generator(ctx.seed).uniform((ZERO_RATE_INPUTS, 6)) * 4.0 - 2.0
    mean, variance = impl.mc_predict(MC_NETWORK, 0.0, x, ZERO_RATE_PASSES, seed=ctx.seed)
    output = ops.softmax(MC_NETWORK.logits(x)).data
    if mean.shape != x.shape[:1] + (CLASSES,) or variance.shape != mean.shape:
        return ctx.verdict("ENSEMBLE-8", [f"mean of shape {mean.shape}, variance of shape {variance.shape}, "
                                          f"expected {(ZERO_RATE_INPUTS, CLASSES)}"])
    failures = []
    for i, (m, v, s) in enumerate(zip(mean.data, variance.data, output)):
        if not 0.0 <= v <= ZERO_RATE_TOLERANCE**2:
            failures.append(f"element {i}: variance {v!r} at p = 0, expected 0")
        if not abs(m - s) <= ZERO_RATE_TOLERANCE:
            failures.append(f"element {i}: mean {m!r} at p = 0, the network's output is {s!r}")
    return ctx.verdict("ENSEMBLE-8", failures[:3])


@check("ENSEMBLE-9", needs=("mc_predict",), decisions=len(MC_RATES) * CLASSES * (len(MC_PASSES) + 1))
def check_mc_converges_to_the_ensemble(impl: object, ctx: Context) -> Verdict:
    """ENSEMBLE-9: the mean near A_k at every S, the variance near sigma_k^2 at the largest S (Bernstein)."""
    x = table_input(MC_NETWORK).reshape(1, 6)
    scaling = policies_of(impl).scaling
    failures = []
    for i, p in enumerate(MC_RATES):
        for j, samples in enumerate(MC_PASSES):
            mean, variance = impl.mc_predict(MC_NETWORK, p, x, samples, seed=_seed(ctx.seed, len(MC_PASSES) * i + j))
            for k, f in enumerate(_exact(p, scaling)):
                case = f"p = {p}, S = {samples}, class {k}"
                m = mean.data[k]
                if _decide(ctx, f"ENSEMBLE-9 mean, {case}", mean_p_value(m, f, samples), m, f.mean, samples):
                    failures.append(f"{case}: mean {m:.5f}, ensemble mean {f.mean:.5f}")
                if samples == MC_PASSES[-1]:
                    v = variance.data[k]
                    if _decide(ctx, f"ENSEMBLE-9 variance, {case}", variance_p_value(v, f, samples, ctx.alpha), v, f.sigma2, samples):
                        failures.append(f"{case}: variance {v:.5f}, ensemble variance {f.sigma2:.5f}")
    return ctx.verdict("ENSEMBLE-9", failures)
