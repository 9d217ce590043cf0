"""A conformance run: the checks of the selected clauses against one target, under one plan.

Before any check runs, the run fixes its plan: the profile's family-wise level α_F over the
profile's planned number of decisions m (STATS-4, STATS-6), which covers the decisions of every
registered check, so every decision is taken at α = α_F / m whichever clauses are selected. Each
clause's check gets a seed of its own, a pure function of the master seed and the clause ID. A
clause's verdict, p-values and figures are therefore the same whether it runs alone or with
others, and in any order; and a correct implementation fails a run with probability at most α_F.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase

from ..contract import Implementation
from ..spec import load_clauses
from ..stats import PROFILES, BudgetExhausted, DecisionPlan, ErrorBudget, decision_plan
from .registry import CHECKS, run_check
from .verdict import Outcome, Verdict

__all__ = ["ClauseResult", "Run", "clause_seed", "run_plan", "run_target", "select_clauses"]

SEED_BOUND = 2**64


@dataclass(frozen=True)
class ClauseResult:
    """One clause's verdict in a run, with its title, the seed its check got and its time."""

    verdict: Verdict
    title: str
    seed: int
    seconds: float


@dataclass(frozen=True)
class Run:
    """A target's results under one plan and master seed."""

    target: str
    versions: dict
    device: str
    seed: int
    plan: DecisionPlan
    results: tuple[ClauseResult, ...]
    seconds: float

    def count(self, outcome: Outcome) -> int:
        return sum(result.verdict.outcome is outcome for result in self.results)

    @property
    def failed(self) -> bool:
        """True when some applicable clause failed."""
        return self.count(Outcome.FAIL) > 0


def clause_seed(master: int, clause: str) -> int:
    """The seed of ``clause``'s check: the first 8 bytes of BLAKE2b("master:clause"), little-endian."""
    digest = hashlib.blake2b(f"{master}:{clause}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def run_plan(profile: str) -> DecisionPlan:
    """The plan of every run under ``profile``: its own planned m, or every registered decision if more."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)}, got {profile!r}")
    registered = sum(entry.decisions for entry in CHECKS.values())
    return decision_plan(profile, max(PROFILES[profile].planned_decisions, registered))


def select_clauses(patterns: Sequence[str] | None = None) -> list[str]:
    """The clauses with a check that match any of ``patterns``, in spec order; every one without.

    A pattern is a clause ID, a glob on clause IDs (``DROPOUT-1?``) or a chapter (``dropout``),
    in either case. A pattern that matches no checked clause raises ValueError.
    """
    checked = [clause.id for clause in load_clauses() if clause.id in CHECKS]
    checked += sorted(set(CHECKS) - set(checked))  # a check whose clause the spec lacks still runs
    if not patterns:
        return checked
    chosen: set[str] = set()
    for pattern in patterns:
        matched = {c for c in checked if fnmatchcase(c, pattern.upper()) or fnmatchcase(c, f"{pattern.upper()}-*")}
        if not matched:
            raise ValueError(f"--clause {pattern!r} matches no clause with a check (try `refdropout spec`)")
        chosen |= matched
    return [c for c in checked if c in chosen]


def run_target(name: str, impl: Implementation, clauses: Sequence[str], *, profile: str, seed: int, device: str = "cpu",
               versions: dict | None = None, progress: Callable[[int, int, str], None] | None = None,
               budget: ErrorBudget | None = None) -> Run:
    """Run the checks of ``clauses`` against ``impl`` under one budget; ``progress(i, total, clause)``
    is told before each check, and ``progress(total, total, "")`` at the end. ``budget``: a budget at
    the profile's level to charge the decisions to (one shared by several runs); a fresh one if None."""
    if not 0 <= seed < SEED_BOUND:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed}")
    titles = {clause.id: clause.title for clause in load_clauses()}
    plan = run_plan(profile)
    if budget is None:
        budget = plan.budget()
    elif budget.alpha != plan.alpha:
        raise ValueError(f"budget must decide at the plan's alpha {plan.alpha:g}, got {budget.alpha:g}")
    start = time.perf_counter()
    results = []
    for i, clause in enumerate(clauses):
        if progress is not None:
            progress(i, len(clauses), clause)
        own_seed = clause_seed(seed, clause)
        began = time.perf_counter()
        verdict = _verdict(clause, impl, seed=own_seed, plan=plan, budget=budget)
        results.append(ClauseResult(verdict, titles.get(clause, ""), own_seed, time.perf_counter() - began))
    if progress is not None:
        progress(len(clauses), len(clauses), "")
    return Run(name, versions or {}, device, seed, plan, tuple(results), time.perf_counter() - start)


def _verdict(clause: str, impl: Implementation, **run: object) -> Verdict:
    """The check's verdict; an implementation that raises fails the clause; a pass under a
    declared policy other than the reference's, one the check relied on, differs by that policy."""
    try:
        verdict = run_check(clause, impl, **run)
    except BudgetExhausted:  # a check that makes more decisions than it registered: a bug of the suite
        raise
    except Exception as error:  # noqa: BLE001  (whatever a foreign implementation raises)
        return Verdict(clause, Outcome.FAIL, f"raised {type(error).__name__}: {error}")
    if verdict.passed and verdict.policies:
        return replace(verdict, outcome=Outcome.POLICY, detail="; ".join(verdict.policies))
    return verdict
