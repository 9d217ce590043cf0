"""Checks, one per clause, registered under the clause they implement, and the runner.

A check is a function ``check(impl, ctx) -> Verdict``. ``@check(clause, needs=..., decisions=...)``
registers it with the capabilities it needs and the number of statistical decisions it makes, so
that a run can plan its error budget before any data is seen (STATS-4).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from ..stats import DecisionPlan, Decision, ErrorBudget, decision_plan
from ..contract import Policies, missing_capabilities, policies_of
from .verdict import Outcome, Verdict

__all__ = ["Check", "Context", "CHECKS", "check", "run_check", "run_checks", "plan_for"]


@dataclass
class Context:
    """What a check runs under: a seed, the profile's plan and the run's error budget."""

    seed: int
    plan: DecisionPlan
    budget: ErrorBudget
    records: list = field(default_factory=list)
    relied: dict = field(default_factory=dict)  # policy -> the declared value other than the reference's

    @property
    def alpha(self) -> float:
        """The level every statistical decision of this run is taken at."""
        return self.budget.alpha

    def decide(self, name: str, decision: Decision) -> bool:
        """Record a decision in the run's budget; True when it rejected."""
        record = self.budget.decide(name, decision)
        self.records.append(record)
        return record.reject

    def policy(self, impl: object, name: str) -> object:
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


@dataclass(frozen=True)
class Check:
    clause: str
    run: Callable[[object, Context], Verdict]
    needs: tuple[str, ...]
    decisions: int


CHECKS: dict[str, Check] = {}


def check(clause: str, *, needs: tuple[str, ...] = ("dropout",), decisions: int = 0):
    """Register the decorated function as the check of ``clause``."""

    def register(run: Callable[[object, Context], Verdict]) -> Callable[[object, Context], Verdict]:
        if clause in CHECKS:
            raise ValueError(f"clause {clause} already has a check: {CHECKS[clause].run.__qualname__}")
        CHECKS[clause] = Check(clause, run, needs, decisions)
        return run

    return register


def plan_for(clauses: list[str], profile: str, repeats: int = 1) -> DecisionPlan:
    """The plan of a run of ``clauses``, each run ``repeats`` times: its decisions counted upfront."""
    decisions = sum(CHECKS[c].decisions for c in clauses) * repeats
    return decision_plan(profile, max(decisions, 1))


def run_check(clause: str, impl: object, *, seed: int, plan: DecisionPlan, budget: ErrorBudget) -> Verdict:
    """Run one clause's check; "not applicable" when ``impl`` lacks a capability it needs."""
    entry = CHECKS[clause]
    missing = missing_capabilities(impl, entry.needs)
    if missing:
        return Verdict(clause, Outcome.NOT_APPLICABLE, f"needs {', '.join(missing)}")
    return entry.run(impl, Context(seed, plan, budget))


def run_checks(impl: object, clauses: list[str] | None = None, *, profile: str = "standard", seed: int = 0) -> list[Verdict]:
    """Every selected clause's verdict for ``impl``, under one budget planned for them all."""
    selected = sorted(CHECKS) if clauses is None else clauses
    plan = plan_for(selected, profile)
    budget = plan.budget()
    return [run_check(c, impl, seed=seed, plan=plan, budget=budget) for c in selected]
