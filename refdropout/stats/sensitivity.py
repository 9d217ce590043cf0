"""The measured power of the keep-rate decision of DROPOUT-16 (STATS-2, STATS-3, STATS-6, STATS-14).

A keep-rate decision under a plan (refdropout.stats.profiles.DecisionPlan) sees n elements kept
with probability q + δ and judges the count against q with the exact two-sided binomial test
(:func:`~refdropout.stats.binomial.binomial_test`) at the plan's α. The keep count of n
Bernoulli(q + δ) elements is Binomial(n, q + δ), and the exact test sees only the count, so a
replicate of the decision draws the count itself (``scipy.stats.binom.rvs`` with an explicit seed
per cell): this makes the deep profile's n = 521,309,129 feasible. :func:`measure` replicates the
decision and sets its detection rate beside its exact power (:func:`~refdropout.stats.binomial.region_power`
on the test's exact rejection region), the minimum detectable effect of n at q
(:func:`~refdropout.stats.planning.detectable_delta`) and the planned power that holds from it on;
:func:`misses_reject` is STATS-14's check that the misses do not exceed 1 - power.

refdropout.reports.sensitivity runs this over a grid of profiles, q and δ, beside the real check,
and writes docs/sensitivity.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from scipy.stats import binom

from .arguments import check_count, check_keep_prob, check_real
from .binomial import BinomialDecision, binomial_test, clopper_pearson, region_power, rejection_region
from .planning import detectable_delta
from .profiles import DecisionPlan

__all__ = ["CONFIDENCE", "Cell", "cell_seed", "check_replicates", "check_shift", "measure", "misses_reject",
           "planned_mde", "replicate_decisions"]

CONFIDENCE = 0.95  # of the interval around each measured rate
POWER_CHECK_ALPHA = 1e-4  # STATS-14's level for "the misses exceed 1 - planned power"
SEED_BOUND = 2**32  # scipy's random_state takes seeds below 2**32


@dataclass(frozen=True)
class Cell:
    """The detection rate of one (profile, q, δ) over ``replicates`` decisions, and what the plan says."""

    profile: str
    q: float
    delta: float
    n: int
    alpha: float
    seed: int
    replicates: int
    detected: int
    exact_power: float
    mde: float  # the least |δ| the plan's n detects at q with the planned power (both directions)
    power: float  # the planned power, promised from |δ| = mde on

    @property
    def rate(self) -> float:
        return self.detected / self.replicates

    @property
    def interval(self) -> tuple[float, float]:
        """The Clopper–Pearson interval of the detection rate at confidence CONFIDENCE."""
        return clopper_pearson(self.detected, self.replicates, 1.0 - CONFIDENCE)

    @property
    def planned(self) -> bool:
        """True when the plan promises the power here: |δ| ≥ the MDE of n at q."""
        return abs(self.delta) >= self.mde


def cell_seed(seed: int, *parts: object) -> int:
    """The seed of one cell: the first 4 bytes of BLAKE2b("seed:part:..."), little-endian."""
    digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def check_shift(q: float, delta: float) -> tuple[float, float]:
    """(q, δ) when q is a keep probability and q + δ is one too; ValueError naming the bad one otherwise."""
    q = check_keep_prob("q", q)
    delta = check_real("delta", delta)
    if not 0.0 <= q + delta <= 1.0:
        raise ValueError(f"delta must keep q + delta in [0, 1], i.e. delta in [{-q}, {1.0 - q}], got {delta!r}")
    return q, delta


def check_replicates(replicates: int, seed: int) -> tuple[int, int]:
    """(replicates, seed) when replicates ≥ 1 and the seed is one scipy takes, in [0, 2**32)."""
    replicates = check_count("replicates", replicates, minimum=1)
    seed = check_count("seed", seed)
    if seed >= SEED_BOUND:
        raise ValueError(f"seed must be in [0, 2**32), got {seed!r}")
    return replicates, seed


def replicate_decisions(plan: DecisionPlan, q: float, delta: float, replicates: int,
                        seed: int) -> list[BinomialDecision]:
    """``replicates`` keep-rate decisions as DROPOUT-16 takes them under ``plan`` (STATS-2): the keep
    count K ~ Binomial(plan.n, q + δ), drawn with ``random_state=seed``, judged against q at plan.alpha."""
    q, delta = check_shift(q, delta)
    replicates, seed = check_replicates(replicates, seed)
    counts = binom.rvs(plan.n, q + delta, size=replicates, random_state=seed).tolist()
    return [binomial_test(k, plan.n, q, alpha=plan.alpha) for k in counts]


@cache  # one per (plan, q), asked by every δ
def planned_mde(plan: DecisionPlan, q: float) -> float:
    """The least |δ| the plan's n detects at q with the planned power, in both directions (STATS-3)."""
    return detectable_delta(q, plan.n, plan.alpha, plan.power)


def measure(plan: DecisionPlan, q: float, delta: float, replicates: int, seed: int) -> Cell:
    """The detection rate of the keep-rate decision under ``plan`` at true keep probability q + δ,
    with its exact power and the plan's MDE at q (STATS-3, STATS-14); the replicates are drawn with
    the cell's own seed, ``cell_seed(seed, plan.profile, q, δ)``."""
    q, delta = check_shift(q, delta)
    replicates, seed = check_replicates(replicates, seed)
    own = cell_seed(seed, plan.profile, q, delta)
    decisions = replicate_decisions(plan, q, delta, replicates, own)
    return Cell(
        profile=plan.profile, q=q, delta=delta, n=plan.n, alpha=plan.alpha, seed=own, replicates=replicates,
        detected=sum(d.reject for d in decisions),
        exact_power=region_power(rejection_region(plan.n, q, plan.alpha), plan.n, q + delta),
        mde=planned_mde(plan, q), power=plan.power,
    )


def misses_reject(cell: Cell) -> bool:
    """STATS-14's check of a cell where the plan promises its power: with M misses in R replicates,
    the exact one-sided binomial test of H0: P(miss) <= 1 - power rejects at POWER_CHECK_ALPHA."""
    misses = cell.replicates - cell.detected
    return binomial_test(misses, cell.replicates, 1.0 - cell.power, alpha=POWER_CHECK_ALPHA,
                         alternative="greater").reject
