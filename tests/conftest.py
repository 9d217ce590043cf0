"""Suite-wide settings: Hypothesis profiles and the check that clause markers name real clauses."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import refdropout.conformance as conformance  # importing the package registers every check

# PaddlePaddle 3.3.1 crashes (SIGSEGV) a process that imported tensorflow before it, and the paddle
# adapter refuses to start there (refdropout.adapters.paddle); the suite checks both in one session, so
# paddle, where installed, is imported first, before any test module imports tensorflow.
if importlib.util.find_spec("paddle") is not None:
    import paddle  # noqa: F401
from helpers import REPO, SPEC_DIR, TESTS_DIR, RunCheck
from refdropout.contract import Implementation
from refdropout.spec import load_clauses
from refdropout.stats import DecisionPlan, ErrorBudget, decision_plan

# Pure Python is slow and its timing noisy, so no profile has a per-example deadline. Each
# profile derives from Hypothesis's defaults, not from whatever it auto-loaded on seeing `CI`.
# An exact check searches generated cases with a @given of its own (refdropout.conformance.search),
# and our @given tests call checks: Hypothesis refuses the nesting by the outer test's nested_given
# health check, which every profile suppresses. The inner search draws the quick profile's
# examples (25), a known factor per outer example, and sets all its own settings.
NESTED = [HealthCheck.nested_given]
BASE = settings.get_profile("default")
settings.register_profile("dev", BASE, max_examples=50, deadline=None, suppress_health_check=NESTED)
# CI is derandomized and reproducible; its verdict must not hang on machine load, hence no too_slow.
settings.register_profile(
    "ci", BASE, derandomize=True, deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, *NESTED],
)
settings.register_profile("deep", BASE, max_examples=1000, deadline=None, suppress_health_check=NESTED)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE") or "dev")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run when a ``@pytest.mark.clause`` names no clause of spec/."""
    try:
        known = {clause.id for clause in load_clauses(SPEC_DIR)}
    except ValueError as error:
        raise pytest.UsageError(f"the spec does not parse: {error}") from error
    problems = [
        f"{item.nodeid}: @pytest.mark.clause({', '.join(map(repr, marker.args))}) "
        f"{'names no clause' if marker.args else 'needs at least one clause ID'}"
        for item in items
        for marker in item.iter_markers(name="clause")
        if not marker.args or any(id_ not in known for id_ in marker.args)
    ]
    if problems:
        raise pytest.UsageError(f"clause markers that name no clause of {SPEC_DIR}:\n" + "\n".join(problems))


# ---- the suite's statistical plan (STATS-4) ---------------------------------------------------
#
# Every statistical decision our tests make about a *correct* implementation (the reference, or a
# generator under test) is taken from ONE family-wise budget at the quick profile, shared by the
# whole session, so the suite as a whole cries wolf with probability at most QUICK.family_alpha.
# A decision beyond the plan raises BudgetExhausted: plan first, never retry. Runs against a
# deliberately broken implementation show the power of a check at the same per-decision level;
# they get a fresh budget each, since their rejections are the expected outcome.


@pytest.fixture(scope="session")
def quick_plan() -> DecisionPlan:
    """The quick profile's plan: per-decision level and keep-rate sample size."""
    return decision_plan("quick")


SUITE_BUDGET = pytest.StashKey[ErrorBudget]()


@pytest.fixture(scope="session")
def suite_budget(quick_plan: DecisionPlan, pytestconfig: pytest.Config) -> ErrorBudget:
    """The one budget every decision about a correct implementation is charged to."""
    return pytestconfig.stash.setdefault(SUITE_BUDGET, quick_plan.budget())


@pytest.fixture(scope="session")
def check_correct(quick_plan: DecisionPlan, suite_budget: ErrorBudget) -> RunCheck:
    """``check_correct(clause, impl, seed) -> Verdict`` under the suite's shared budget."""

    def run(clause: str, impl: Implementation, seed: int) -> conformance.Verdict:
        return conformance.run_check(clause, impl, seed=seed, plan=quick_plan, budget=suite_budget)

    return run


# Clauses whose check has rejected a broken implementation in this session (see pytest_sessionfinish).
REJECTING = pytest.StashKey[set]()


@pytest.fixture(scope="session")
def check_broken(quick_plan: DecisionPlan, pytestconfig: pytest.Config) -> RunCheck:
    """``check_broken(clause, impl, seed) -> Verdict`` at the same level, with a fresh budget."""
    rejecting = pytestconfig.stash.setdefault(REJECTING, set())

    def run(clause: str, impl: Implementation, seed: int) -> conformance.Verdict:
        verdict = conformance.run_check(clause, impl, seed=seed, plan=quick_plan, budget=quick_plan.budget())
        if verdict.failed:
            rejecting.add(clause)
        return verdict

    return run


def _whole_suite(session: pytest.Session) -> bool:
    """True when pytest ran every test of tests/: no selection by path, keyword, marker or deselection."""
    option = session.config.option
    selected = (option.keyword or option.markexpr or getattr(option, "deselect", None) or getattr(option, "lf", False)
                or option.maxfail)
    paths = [Path(a.split("::")[0]).resolve() for a in session.config.args]
    return not selected and all(p in (TESTS_DIR, REPO) for p in paths)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A test must be able to fail: in a run of the whole suite, every registered check must have
    rejected at least one deliberately broken implementation, else the run fails."""
    if exitstatus != 0 or not _whole_suite(session):
        return
    silent = sorted(set(conformance.CHECKS) - session.config.stash.get(REJECTING, set()))
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if silent:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        message = f"checks never shown to reject a broken implementation: {', '.join(silent)}"
    else:
        message = f"each of the {len(conformance.CHECKS)} registered checks rejected a broken implementation"
    budget = session.config.stash.get(SUITE_BUDGET, None)
    if budget is not None:
        message += (f"; {len(budget.records)} of the {budget.planned_decisions} planned decisions about correct"
                    f" implementations made, each at alpha {budget.alpha:.0e}")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=bool(silent))
