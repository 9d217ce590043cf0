"""Moment generating functions of finite distributions, for Chernoff's bound (STATS-16).

A term that takes finitely many values v_i with known probabilities P_i has the exact generating
function Λ(λ) = log Σ_i P_i e^{λ v_i} (:func:`finite_log_mgf`). The mean of T such terms has a
distribution of up to (number of values)^T points; the square W = (X̄_T − μ)² of its deviation is
bounded here on a lattice (:func:`average_square_log_mgf`): each value is rounded down to a
multiple of a step h, the sums of T rounded values are convolved exactly as integers, and each
lattice point K stands for the interval of X̄_T it covers, so that

    W ≤ W_up(K) (the larger square at the interval's ends),  W ≥ W_low(K) (0 when it holds μ),

and Λ_W(λ) ≤ log Σ_K P(K) e^{λ W_up(K)} for λ ≥ 0, ≤ log Σ_K P(K) e^{λ W_low(K)} for λ < 0: a
function at or above the true Λ_W everywhere, which keeps Chernoff's bound an upper bound.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from .arguments import check_count, check_positive
from .chernoff import LogMGF

__all__ = ["average_square_log_mgf", "finite_log_mgf"]

# Added to every Λ: covers the float64 rounding of the probabilities, of the convolution's sums of
# positive terms (relative error below 1e-12 for 256 values and T = 32) and of the log-sum-exp; it
# raises a Chernoff bound on n terms by the factor e^{n 1e-9}, 1.00003 at n = 30,000.
ROUNDING = 1e-9
REACH = 100.0  # λ is searched on [0, REACH / c], c the largest deviation of a term from its mean


def _log_sum_exp(log_weights: np.ndarray, exponents: np.ndarray) -> float:
    a = log_weights + exponents
    top = float(a.max())
    return top + math.log(float(np.exp(a - top).sum())) + ROUNDING


def _checked(values: Sequence[float], probabilities: Sequence[object]) -> tuple[list[Fraction], np.ndarray]:
    if len(values) != len(probabilities) or not values:
        raise ValueError(f"need one probability per value, and a value: {len(values)} values, "
                         f"{len(probabilities)} probabilities")
    exact = [Fraction(v) for v in values]  # a NaN or an infinity raises here, naming the float
    p = np.array([float(w) for w in probabilities])
    if not (p >= 0).all() or abs(float(p.sum()) - 1.0) > 1e-9:
        raise ValueError(f"probabilities must be non-negative and sum to 1, got a sum of {float(p.sum())!r}")
    return exact, p


def finite_log_mgf(values: Sequence[float], probabilities: Sequence[object]) -> LogMGF:
    """Λ(λ) = log Σ_i P_i e^{λ v_i} of a term equal to ``values[i]`` with probability ``probabilities[i]``,
    exact up to ROUNDING (above), computed about the mean for accuracy."""
    exact, p = _checked(values, probabilities)
    mean = float(sum((Fraction(w) * v for w, v in zip(probabilities, exact)), Fraction(0)))
    centred, log_p = np.array([float(v) for v in exact]) - mean, np.log(np.where(p > 0, p, 1.0))
    centred, log_p = centred[p > 0], log_p[p > 0]
    reach = REACH / max(float(np.abs(centred).max()), 1e-300)

    def cgf(lam: float) -> float:
        return _log_sum_exp(log_p, lam * centred) + lam * mean

    return cgf, reach, reach


def _lattice_sums(indices: list[int], p: np.ndarray, samples: int) -> np.ndarray:
    """P(K = k) for K the sum of ``samples`` independent draws of indices[i] (probability p[i])."""
    width = max(indices) + 1
    law = np.ones(1)
    for _ in range(samples):
        grown = np.zeros(len(law) + width - 1)
        for i, w in zip(indices, p):
            grown[i : i + len(law)] += w * law
        law = grown
    return law


def average_square_log_mgf(values: Sequence[float], probabilities: Sequence[object], mean: object, samples: int,
                           *, resolution: int = 100) -> LogMGF:
    """A function at or above Λ_W, W = (X̄_T − ``mean``)² for X̄_T the mean of T = ``samples`` independent
    terms of the finite law (``values``, ``probabilities``): on the lattice of step h = sd(X̄_T) /
    ``resolution``, T consecutive sums pooled into one point, whose interval of X̄_T is widened by one
    step at each end against the float rounding of its ends; W_up on the upper side, W_low on the lower."""
    exact, p = _checked(values, probabilities)
    samples = check_count("samples", samples, minimum=1)
    resolution = check_count("resolution", resolution, minimum=1)
    mu = Fraction(mean)
    variance = sum((Fraction(w) * (v - mu) ** 2 for w, v in zip(probabilities, exact)), Fraction(0))
    check_positive("the variance of the terms", float(variance))
    step = Fraction(math.sqrt(float(variance) / samples) / resolution)
    low = min(exact)
    law = _lattice_sums([math.floor((v - low) / step) for v in exact], p, samples)
    # the point K: sum of T terms in [T low + K h, T low + (K + T) h), so X̄_T - mu in [a, b]
    starts = np.arange(0, len(law), samples)
    h, base = float(step), float(low - mu)
    a = (starts - 1) * h / samples + base
    b = (starts + 2 * samples + 1) * h / samples + base  # pooled K in [start, start + T): up to start + 2T
    upper = np.maximum(a * a, b * b)
    lower = np.where((a <= 0) & (b >= 0), 0.0, np.minimum(a * a, b * b))
    pooled = np.add.reduceat(law, starts)
    held = pooled > 0
    log_p, upper, lower = np.log(pooled[held]), upper[held], lower[held]
    reach = REACH / float(upper.max())

    def cgf(lam: float) -> float:
        return _log_sum_exp(log_p, lam * (upper if lam >= 0 else lower))

    return cgf, reach, reach
