"""Profiles: the plans a conformance run is made under (STATS-6).

A profile fixes, before any data is seen, the family-wise level α_F of the whole run, the power
every keep-rate decision must have, the keep-rate deviation it must detect with that power (its
minimum detectable effect), the number of decisions the run plans, and the number of cases
Hypothesis draws for each exact clause that searches generated cases (refdropout.conformance.search).
From these follow the level of each decision, α = α_F / m (STATS-4), and the sample size of each keep-rate decision,
n = samples_needed(1/2, MDE, α, power) (STATS-3): q = 1/2 maximizes q(1 − q) and so needs the
most samples of any q in [0.05, 0.95], and the same n detects the MDE at every such q.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from .arguments import check_count
from .budget import ErrorBudget
from .planning import samples_needed

# The keep probability that needs the most samples for a given deviation.
WORST_KEEP_PROB = 0.5


@dataclass(frozen=True)
class Profile:
    """A documented plan: family-wise α, power and keep-rate MDE, over planned decisions."""

    name: str
    purpose: str
    family_alpha: float
    power: float
    keep_rate_mde: float
    planned_decisions: int
    examples: int  # generated cases per exact clause that searches them (no statistics: no budget)


@dataclass(frozen=True)
class DecisionPlan:
    """What one keep-rate decision of a profile gets: its level α and its sample size n."""

    profile: str
    planned_decisions: int
    family_alpha: float
    alpha: float
    power: float
    keep_rate_mde: float
    n: int
    examples: int = 0  # generated cases per exact clause (0: the fixed cases alone)

    def budget(self) -> ErrorBudget:
        """A fresh error budget for this plan's decisions."""
        return ErrorBudget(self.family_alpha, self.planned_decisions)


QUICK = Profile(
    name="quick",
    purpose="refdropout's own CI: every clause, in minutes, on the pure-Python engine",
    family_alpha=1e-6,
    power=0.99,
    keep_rate_mde=0.01,
    planned_decisions=1_000,
    examples=25,
)
STANDARD = Profile(
    name="standard",
    purpose="the default when checking an implementation",
    family_alpha=1e-6,
    power=0.99,
    keep_rate_mde=0.002,
    planned_decisions=10_000,
    examples=100,
)
DEEP = Profile(
    name="deep",
    purpose="fast or GPU implementations, where hundreds of millions of draws are cheap",
    family_alpha=1e-6,
    power=0.99,
    keep_rate_mde=0.0002,
    planned_decisions=100_000,
    examples=400,
)
PROFILES = {p.name: p for p in (QUICK, STANDARD, DEEP)}


@cache
def _keep_rate_samples(mde: float, alpha: float, power: float) -> int:
    return samples_needed(WORST_KEEP_PROB, mde, alpha, power)


def decision_plan(profile: Profile | str, planned_decisions: int | None = None) -> DecisionPlan:
    """The per-decision α = α_F / m and keep-rate sample size n of ``profile`` when the run plans
    ``planned_decisions`` decisions (the profile's own count when omitted)."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"profile must be one of {sorted(PROFILES)}, got {profile!r}")
        profile = PROFILES[profile]
    m = profile.planned_decisions if planned_decisions is None else planned_decisions
    m = check_count("planned_decisions", m, minimum=1)
    alpha = profile.family_alpha / m
    return DecisionPlan(
        profile=profile.name,
        planned_decisions=m,
        family_alpha=profile.family_alpha,
        alpha=alpha,
        power=profile.power,
        keep_rate_mde=profile.keep_rate_mde,
        n=_keep_rate_samples(profile.keep_rate_mde, alpha, profile.power),
        examples=profile.examples,
    )
