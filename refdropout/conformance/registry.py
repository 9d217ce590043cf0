"""Checks, one per clause, registered under the clause they implement.

A check is a function ``check(impl, ctx) -> Verdict`` of an implementation (refdropout.contract)
and the context it runs in. ``@check(clause, needs=..., decisions=...)`` registers it with the
capabilities it needs and the number of statistical decisions it makes, so that a run can plan
its error budget before any data is seen (STATS-4). Runs are planned and made by
refdropout.conformance.runner; :func:`run_check` runs one check under a plan given to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..contract import Implementation, Policies, missing_capabilities, policies_of
from ..stats import Decision, DecisionPlan, ErrorBudget, Record
from .verdict import Outcome, Verdict

__all__ = ["Check", "CheckFunction", "Context", "CHECKS", "check", "run_check"]


@dataclass
class Context:
    """What a check runs under: a seed, the profile's plan and the run's error budget."""

    seed: int
    plan: DecisionPlan
    budget: ErrorBudget
    records: list[Record] = field(default_factory=list)
    relied: dict[str, object] = field(default_factory=dict)  # policy -> the declared value other than the reference's

    @property
    def alpha(self) -> float:
        """The level every statistical decision of this run is taken at."""
        return self.budget.alpha

    def decide(self, name: str, decision: Decision) -> bool:
        """Record a decision in the run's budget; True when it rejected."""
        record = self.budget.decide(name, decision)
        self.records.append(record)
        return record.reject

    def policy(self, impl: Implementation, name: str) -> object:
        """The value of policy ``name`` that ``impl`` declares, remembered when it is not the
        reference's: a pass that relied on it differs by declared policy."""
        value = getattr(policies_of(impl), name)
        if value != getattr(Policies(), name):
            self.relied[name] = value
        return value

    def verdict(self, clause: str, failures: list[str]) -> Verdict:
        """PASS, or FAIL naming what failed, with the decisions this check recorded and the
        policies it relied on."""
        outcome = Outcome.FAIL if failures else Outcome.PASS
        relied = tuple(f"{name} = {value!r} (the reference: {getattr(Policies(), name)!r})"
                       for name, value in self.relied.items())
        return Verdict(clause, outcome, "; ".join(failures), tuple(self.records), relied)


# a check: the verdict on one clause for an implementation, in a context
CheckFunction = Callable[[Implementation, Context], Verdict]


@dataclass(frozen=True)
class Check:
    """A registered check: its clause, the function, the capabilities it needs and its decisions."""

    clause: str
    run: CheckFunction
    needs: tuple[str, ...]
    decisions: int


CHECKS: dict[str, Check] = {}


def check(clause: str, *, needs: tuple[str, ...] = ("dropout",),
          decisions: int = 0) -> Callable[[CheckFunction], CheckFunction]:
    """Register the decorated function as the check of ``clause``."""

    def register(run: CheckFunction) -> CheckFunction:
        if clause in CHECKS:
            raise ValueError(f"clause {clause} already has a check: {CHECKS[clause].run.__qualname__}")
        CHECKS[clause] = Check(clause, run, needs, decisions)
        return run

    return register


def run_check(clause: str, impl: Implementation, *, seed: int, plan: DecisionPlan, budget: ErrorBudget) -> Verdict:
    """Run one clause's check; "not applicable" when ``impl`` lacks a capability it needs."""
    entry = CHECKS[clause]
    missing = missing_capabilities(impl, entry.needs)
    if missing:
        return Verdict(clause, Outcome.NOT_APPLICABLE, f"needs {', '.join(missing)}")
    return entry.run(impl, Context(seed, plan, budget))
