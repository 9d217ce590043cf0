"""A conformance run: the checks of the selected clauses against one target, under one plan.

Before any check runs, the run fixes its plan: the profile's family-wise level α_F over the
profile's planned number of decisions m (STATS-4, STATS-6), which covers the decisions of every
registered check, so every decision is taken at α = α_F / m whichever clauses are selected. Each
clause's check gets a seed of its own, a pure function of the master seed and the clause ID. A
clause's verdict, p-values and figures are therefore the same whether it runs alone or with
others, and in any order; and a correct implementation fails a run with probability at most α_F.

Each check is handed the implementation behind a guard (refdropout.conformance.guard, spec/runner.md):
its calls are timed, their exceptions recorded and, where asked, their output captured. An exception
that escapes a check fails the clause only when the implementation raised it (RUNNER-5); anything
else that stops a check, a bug of the suite or memory running out, is "could not check", never a
FAIL. A run that SIGINT or SIGTERM stops (under guard.interruptible) ends with the clauses it
finished, marked incomplete (RUNNER-11).
"""

from __future__ import annotations

import hashlib
import math
import re
import signal
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from fnmatch import fnmatchcase
from pathlib import Path

from ..contract import Implementation
from ..contract.declarations import Declarations
from ..spec import load_clauses
from ..stats import PROFILES, DecisionPlan, ErrorBudget, decision_plan
from .guard import Call, CallFailed, Guard, Interrupted, Watch, described
from .registry import CHECKS, run_check
from .search import CASE_NOTE
from .verdict import Outcome, Suggestion, Verdict

__all__ = ["ClauseResult", "Run", "clause_seed", "escaped", "exhausted", "run_plan", "run_target", "select_clauses"]

SEED_BOUND = 2**64

# what running out of memory says: MemoryError (numpy's "Unable to allocate" too), torch's "DefaultCPUAllocator:
# not enough memory", "can't allocate memory" and "CUDA out of memory", TensorFlow's "OOM when allocating",
# XLA's RESOURCE_EXHAUSTED, onnxruntime's "Failed to allocate memory"
EXHAUSTION = re.compile(r"out of memory|not enough memory|(can't|cannot|unable to|failed to) allocate"
                        r"|OOM when allocating|resource.?exhausted", re.IGNORECASE)


@dataclass(frozen=True)
class ClauseResult:
    """One clause's verdict in a run, with its title, the seed its check got and its time; ``output``:
    what the implementation wrote meanwhile (where the run captured it); ``trace``: the Python
    traceback of what kept the suite from checking the clause; ``inside``: the seconds of ``seconds``
    spent inside the implementation's calls (the rest is the suite's)."""

    verdict: Verdict
    title: str
    seed: int
    seconds: float
    output: str = ""
    trace: str = ""
    inside: float = 0.0


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
    interrupted: signal.Signals | None = None  # the signal that stopped the run
    unfinished: tuple[str, ...] = ()  # the clauses it stopped before finishing, the one it stopped in first
    declarations: Declarations | None = None  # what the target was checked under, with each value's source
    suggestions: tuple[Suggestion, ...] | None = None  # what check --suggest found (None: not asked; RUNNER-17)

    def count(self, outcome: Outcome) -> int:
        return sum(result.verdict.outcome is outcome for result in self.results)

    @property
    def failed(self) -> bool:
        """True when some applicable clause failed."""
        return self.count(Outcome.FAIL) > 0

    @property
    def checked(self) -> int:
        """The clauses that got a verdict about the implementation: pass, FAIL or differs by declared policy."""
        return self.count(Outcome.PASS) + self.count(Outcome.POLICY) + self.count(Outcome.FAIL)

    @property
    def complete(self) -> bool:
        """True when every selected clause was run."""
        return self.interrupted is None

    @property
    def inside(self) -> float:
        """Seconds spent inside the implementation's calls, over every clause."""
        return math.fsum(result.inside for result in self.results)


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
               versions: dict | Callable[[set[str]], dict] | None = None,
               progress: Callable[[int, int, str], None] | None = None, budget: ErrorBudget | None = None,
               watch: Watch | None = None, declarations: Declarations | None = None) -> Run:
    """Run the checks of ``clauses`` against ``impl`` under one budget; ``progress(i, total, clause)``
    is told before each check, and ``progress(total, total, "")`` at the end. ``budget``: a budget at
    the profile's level to charge the decisions to (one shared by several runs); a fresh one if None.
    ``watch``: how the implementation's calls are watched (guard.Watch(): the default time limit).
    ``declarations``: what ``impl`` declares and where each value came from, for the reports only.
    ``versions``: what was checked, for the reports; a callable (adapters.LoadedTarget.versions) is
    asked once the checks have run, with the packages the target's calls imported (the guard's), since
    a target's calls may import its framework."""
    if not 0 <= seed < SEED_BOUND:
        raise ValueError(f"seed must be an int in [0, 2**64), got {seed}")
    titles = {clause.id: clause.title for clause in load_clauses()}
    plan = run_plan(profile)
    if budget is None:
        budget = plan.budget()
    elif budget.alpha != plan.alpha:
        raise ValueError(f"budget must decide at the plan's alpha {plan.alpha:g}, got {budget.alpha:g}")
    start = time.perf_counter()
    results: list[ClauseResult] = []
    interrupted = None
    try:
        with Guard(watch or Watch()) as guard:
            for i, clause in enumerate(clauses):
                if progress is not None:
                    progress(i, len(clauses), clause)
                own_seed = clause_seed(seed, clause)
                began, inside = time.perf_counter(), guard.inside
                verdict, trace = _verdict(clause, impl, guard, seed=own_seed, plan=plan, budget=budget)
                results.append(ClauseResult(verdict, titles.get(clause, ""), own_seed, time.perf_counter() - began,
                                            guard.output, trace, guard.inside - inside))
            if progress is not None:
                progress(len(clauses), len(clauses), "")
    except Interrupted as stop:
        interrupted = stop.signal
    versions = versions(guard.imports.appeared) if callable(versions) else versions
    return Run(name, versions or {}, device, seed, plan, tuple(results), time.perf_counter() - start, interrupted,
               tuple(clauses[len(results):]) if interrupted else (), declarations)


def _verdict(clause: str, impl: Implementation, guard: Guard, **run: object) -> tuple[Verdict, str]:
    """The check's verdict on the guarded ``impl``, and the traceback of what kept the suite from one.

    A call that failed under the guard fails the clause; an exception escaping the check fails it
    when the implementation raised it, and is an error of the suite otherwise; memory running out is
    an error of the suite wherever it happened, even where the check went on. A pass under a declared
    policy other than the reference's, one the check relied on, differs by that policy."""
    with guard.clause():
        try:
            verdict = run_check(clause, guard.view(impl), **run)
        except CallFailed as failure:
            return Verdict(clause, Outcome.FAIL, str(failure)), ""
        except Exception as error:  # noqa: BLE001  (whatever a foreign implementation or a check raises)
            return escaped(clause, error, guard.raised)
    for call, error in guard.raised:
        if exhausted(error):
            return Verdict(clause, Outcome.ERROR, f"out of memory: {call} raised {described(error)}"), ""
    if verdict.passed and verdict.policies:
        return replace(verdict, outcome=Outcome.POLICY, detail="; ".join(verdict.policies)), ""
    return verdict, ""


def exhausted(error: BaseException) -> bool:
    """True when ``error`` says that memory ran out (MemoryError, or a framework's words for it)."""
    return isinstance(error, MemoryError) or EXHAUSTION.search(described(error)) is not None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and the exceptions it was raised from or while handling, innermost last."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def escaped(clause: str, error: Exception, raised: list[tuple[Call, Exception]]) -> tuple[Verdict, str]:
    """The verdict on an exception that escaped a check: FAIL when a call of the implementation raised
    it (or it was raised from one), could not check otherwise or when memory ran out (RUNNER-5); an
    exception raised in a generated case names the case (search.CASE_NOTE)."""
    chain = list(_chain(error))
    trace = "".join(traceback.format_exception(error))
    for cause in chain:
        if exhausted(cause):
            call = next((str(call) for call, e in raised if e is cause), "")
            return Verdict(clause, Outcome.ERROR, f"out of memory: {call + ' raised ' if call else ''}"
                                                  f"{described(cause)}"), trace
    case = "".join(f" {note}" for note in getattr(error, "__notes__", ()) if note.startswith(CASE_NOTE))
    for call, recorded in raised:
        if any(cause is recorded for cause in chain):
            return Verdict(clause, Outcome.FAIL, f"{call} raised {described(recorded)}{case}"), ""
    frame = traceback.extract_tb(error.__traceback__)[-1]
    return (Verdict(clause, Outcome.ERROR, f"{described(error)} (at {Path(frame.filename).name}:{frame.lineno}){case}"),
            trace)
