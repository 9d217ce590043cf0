"""Suite-wide settings: Hypothesis profiles and the check that clause markers name real clauses."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

import refdropout.conformance as conformance  # importing the package registers every check

# PaddlePaddle 3.3.1 crashes (SIGSEGV) a process that imported tensorflow before it, and the paddle
# adapter refuses to start there (refdropout.adapters.paddle); the suite checks both in one session, so
# paddle, where installed, is imported first, before any test module imports tensorflow.
if importlib.util.find_spec("paddle") is not None:
    import paddle  # noqa: F401
from helpers import REPO, SPEC_DIR, TESTS_DIR, QuickRun, RunCheck
from refdropout.adapters import TARGETS, load_target
from refdropout.conformance.runner import Run, run_target, select_clauses
from refdropout.contract import Implementation
from refdropout.spec import load_clauses
from refdropout.stats import DecisionPlan, ErrorBudget, decision_plan
from shared_runs import computed_once, hand_to_worker

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


def pytest_collection_finish(session: pytest.Session) -> None:
    """The targets whose quick run the selected tests ask for, in the order they first ask (see quick_run)."""
    asked = (_quick_run_target(item) for item in session.items if "quick_run" in getattr(item, "fixturenames", ()))
    session.config.stash[QUICK_RUN_ORDER] = list(dict.fromkeys(name for name in asked if name is not None))


def _quick_run_target(item: pytest.Item) -> str | None:
    """The built-in target whose quick run a test asks for: its ``target`` (test_targets) or its QuickRun
    ``subset``'s (the adapter tests); None where its parameters do not say."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    named = params["subset"].target if isinstance(params.get("subset"), QuickRun) else params.get("target")
    return named if named in TARGETS else None


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
WORKER_DECISIONS = pytest.StashKey[int]()  # pytest-xdist's controller: the decisions its workers' budgets made

# The decisions a whole-suite run makes about correct implementations: the quick profile plans 1,000 for
# ONE `refdropout check` run, but the suite makes the quick run of every built-in target besides its
# property tests. Planned from the registry: a quick run makes at most the decisions its checks register
# (316 since DROPOUT-14, -17, -18 and -23 decide in every format, as DROPOUT-13, -16, -19 and -22 did; 286
# before), so the built-in targets' quick runs make at most len(TARGETS) x that (14 x 316 = 4,424); they made
# 3,138 at e6b7f88 (seed 0, each target's run counted) and make 396 more since (3,534; at most 400 by the
# targets' declared formats). The property tests about correct implementations get PROPERTY_DECISIONS:
# they made 807 at e6b7f88 (the whole suite's 3,945 less the quick runs' 3,138), 867 since (60 more in
# tests/test_dropout.py, which charges 528, counted), so 1,000 leaves them 133 (15%) of headroom. Each
# decision keeps the quick plan's level alpha = 1e-9 (so its sample sizes are the quick profile's): the
# suite as a whole cries wolf with probability at most SUITE_DECISIONS x alpha = 5.4e-6.
PROPERTY_DECISIONS = 1_000
SUITE_DECISIONS = len(TARGETS) * sum(entry.decisions for entry in conformance.CHECKS.values()) + PROPERTY_DECISIONS


@pytest.fixture(scope="session")
def suite_budget(quick_plan: DecisionPlan, pytestconfig: pytest.Config) -> ErrorBudget:
    """The one budget every decision about a correct implementation is charged to: SUITE_DECISIONS
    decisions, each at the quick plan's level."""
    budget = ErrorBudget(quick_plan.alpha * SUITE_DECISIONS, SUITE_DECISIONS)
    assert budget.alpha == quick_plan.alpha, (budget.alpha, quick_plan.alpha)
    return pytestconfig.stash.setdefault(SUITE_BUDGET, budget)


@pytest.fixture(scope="session")
def check_correct(quick_plan: DecisionPlan, suite_budget: ErrorBudget) -> RunCheck:
    """``check_correct(clause, impl, seed) -> Verdict`` under the suite's shared budget."""

    def run(clause: str, impl: Implementation, seed: int) -> conformance.Verdict:
        return conformance.run_check(clause, impl, seed=seed, plan=quick_plan, budget=suite_budget)

    return run


# Clauses whose check has rejected a broken implementation in this session (see pytest_sessionfinish).
REJECTING = pytest.StashKey[set]()

# The master seed of every target's quick run: `refdropout check TARGET --profile quick --seed 0`.
QUICK_RUN_SEED = 0
QUICK_RUNS = pytest.StashKey[dict]()
QUICK_RUN_ORDER = pytest.StashKey[list]()  # the targets whose quick run the session's tests ask for, in order


@pytest.fixture(scope="session")
def quick_run(suite_budget: ErrorBudget, pytestconfig: pytest.Config) -> Callable[[str], Run]:
    """``quick_run(target) -> Run``: every clause against the built-in ``target`` at the quick profile and
    QUICK_RUN_SEED, made once a session under the suite's budget and kept, so test_targets and the adapter
    test files assert on one run (skips when the target's framework is not installed). A known deviation
    that fails in it counts as a check rejecting a broken implementation, as test_targets asserts it does.
    Under pytest-xdist the run is still made once a session: by the first worker that asks, the others
    reading it (tests/shared_runs.py), so its decisions are charged once, as in a serial session; a worker
    that asks while another makes it makes meanwhile a run the session's tests ask for later."""
    runs = pytestconfig.stash.setdefault(QUICK_RUNS, {})
    rejecting = pytestconfig.stash.setdefault(REJECTING, set())

    def make(name: str) -> tuple[Run, set[str]]:
        """The run, and the known deviations that failed in it."""
        impl = load_target(name).impl
        made = run_target(name, impl, select_clauses(), profile="quick", seed=QUICK_RUN_SEED, budget=suite_budget)
        deviations = getattr(impl, "known_deviations", {})
        return made, {r.verdict.clause for r in made.results if r.verdict.failed and r.verdict.clause in deviations}

    def installed(name: str) -> bool:
        return not TARGETS[name].missing()

    def run(name: str) -> Run:
        if not installed(name):
            pytest.skip(TARGETS[name].not_installed(name))
        if name not in runs:
            try:
                later = [(f"quick-run-{other}", lambda other=other: make(other))
                         for other in pytestconfig.stash.get(QUICK_RUN_ORDER, []) if other != name and installed(other)]
                runs[name], failed = computed_once(pytestconfig, f"quick-run-{name}", lambda: make(name), later)
            except Exception as error:  # noqa: BLE001  (kept, so the run is not made again for each test)
                runs[name] = error
            else:
                rejecting.update(failed)
        if isinstance(runs[name], Exception):
            raise runs[name]
        return runs[name]

    return run


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
    rejected at least one deliberately broken implementation, else the run fails. Under pytest-xdist
    each worker hands its rejecting checks to the controller (pytest_testnodedown), which judges."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker, which ran some of the tests
        workeroutput["refdropout_rejecting"] = sorted(session.config.stash.get(REJECTING, set()))
        budget = session.config.stash.get(SUITE_BUDGET, None)
        workeroutput["refdropout_decisions"] = 0 if budget is None else len(budget.records)
        return
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
    made = len(budget.records) if budget is not None else session.config.stash.get(WORKER_DECISIONS, None)
    if made is not None:  # under pytest-xdist, the decisions of every worker's budget, summed
        message += (f"; {made} of the {SUITE_DECISIONS} planned decisions about correct"
                    f" implementations made, each at alpha {decision_plan('quick').alpha:.0e}")
        if made > SUITE_DECISIONS:  # each worker's budget plans them all: only the sum can tell
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            message += ": more than planned, so the suite's family-wise alpha no longer holds (raise the plan)"
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_line(message, red=session.exitstatus != 0)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: object, error: object) -> None:
    """pytest-xdist's controller, as a worker finishes: the checks that rejected there, and the decisions made
    there, count here."""
    output, stash = getattr(node, "workeroutput", {}), node.config.stash  # type: ignore[attr-defined]
    stash.setdefault(REJECTING, set()).update(output.get("refdropout_rejecting", ()))
    stash[WORKER_DECISIONS] = stash.get(WORKER_DECISIONS, 0) + output.get("refdropout_decisions", 0)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: object) -> None:
    """pytest-xdist's controller, as it starts a worker: the directory where workers share the quick runs."""
    hand_to_worker(node)
