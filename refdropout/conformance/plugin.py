"""The conformance suite as pytest tests: one test per clause with a check.

    pytest --pyargs refdropout.conformance --refdropout-impl TARGET [--refdropout-profile quick|standard|deep]
           [--refdropout-seed N] [--refdropout-clause PATTERN] [--refdropout-device cpu|cuda]
           [--refdropout-timeout SECONDS] [--refdropout-policy NAME=VALUE ...] [--refdropout-dtypes LIST]
           [--refdropout-known-deviations FILE]

runs the checks ``refdropout check`` runs (refdropout.conformance.runner), with the same options
(refdropout.options and refdropout.contract.declarations: the same values accepted and refused,
``--refdropout-policy`` and ``--refdropout-dtypes`` declaring on top of the target's own
declarations as ``--policy`` and ``--dtypes`` do) and the same verdicts: a
clause passes, fails, or is skipped as not applicable. The same things keep a session from passing
(spec/runner.md, RUNNER-13): a target that cannot be loaded or declares what it may not is a usage
error; a clause the suite could not check is an error of its test (raised in its fixture); a call
that exceeds the time limit fails its clause; and a session in which no clause applied fails,
saying what the target lacks. Each check gets the seed
``clause_seed(master seed, clause ID)`` and takes its decisions at the level α_F / m of the
profile's plan, which counts every registered check; so a verdict depends on the clause alone,
never on which tests are selected (``-k``) or how pytest-xdist distributes them (``-n auto``).

A file of known deviations lets a project adopt the suite before it conforms fully. Each line is

    TEST-ID-PREFIX  reason

(blank lines and lines starting with ``#`` aside). A test's ID is its clause ID, e.g. ``DROPOUT-10``;
a prefix matches the IDs it equals or that continue it after a non-alphanumeric character, so
``DROPOUT`` matches every DROPOUT clause and ``DROPOUT-1`` matches DROPOUT-1 but not DROPOUT-10.
Matched tests are expected to fail (``xfail``, not strict: a fixed deviation shows as XPASS);
a prefix that matches no clause with a check is warned about at the end of the run.

The ``pytest11`` entry point (under the name ``refdropout``) is refdropout.pytest_plugin, which adds
the options above and registers this module only when ``--refdropout-impl`` is given, so that a
pytest run that does not ask for the suite never imports it (nor scipy); from a checkout that is not
installed, load it with ``-p refdropout.pytest_plugin``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ..adapters import LoadedTarget, TargetError, load_target
from ..contract.declarations import DTYPES, POLICY
from ..options import CLAUSE, DEVICE, KNOWN_DEVIATIONS, PROFILE, SEED, TARGET, TIMEOUT
from .deviations import Deviation, matches, read_deviations
from .guard import Watch, interruptible
from .output import checked, described_target, plan_summary
from .runner import Run, run_plan, run_target, select_clauses
from .verdict import Outcome

__all__ = ["Settings", "Reporter"]


@dataclass(frozen=True)
class Settings:
    """What one pytest session checks: the target, the clauses, the plan and the known deviations."""

    target: LoadedTarget
    profile: str
    seed: int
    device: str
    timeout: float
    clauses: list[str]
    deviations: list[Deviation]
    unmatched: list[Deviation]


SETTINGS = pytest.StashKey[Settings]()


def pytest_configure(config: pytest.Config) -> None:
    """Load the target and fix the clauses before collection; a bad option is a usage error."""
    try:
        clauses = select_clauses(config.getoption(CLAUSE.pytest_dest))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from error
    device = config.getoption(DEVICE.pytest_dest)
    try:
        target = load_target(config.getoption(TARGET.pytest_dest), device=device,
                             policies=config.getoption(POLICY.pytest_dest) or (),
                             dtypes=config.getoption(DTYPES.pytest_dest))
    except TargetError as error:
        raise pytest.UsageError(f"--refdropout-impl: {error}") from error
    path = config.getoption(KNOWN_DEVIATIONS.pytest_dest)
    deviations = [] if path is None else read_deviations(path)
    checked = select_clauses()
    unmatched = [d for d in deviations if not any(matches(d.prefix, clause) for clause in checked)]
    settings = Settings(target, config.getoption(PROFILE.pytest_dest), config.getoption(SEED.pytest_dest), device,
                        config.getoption(TIMEOUT.pytest_dest), clauses, deviations, unmatched)
    config.stash[SETTINGS] = settings
    config.pluginmanager.register(Reporter(settings, path), "refdropout-reporter")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One test per selected clause, its ID the clause ID."""
    if "refdropout_clause" in metafunc.fixturenames:
        clauses = metafunc.config.stash[SETTINGS].clauses
        metafunc.parametrize("refdropout_clause", clauses, ids=clauses)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests a known deviation names as expected to fail, with its reason."""
    if SETTINGS not in config.stash:
        return
    deviations = config.stash[SETTINGS].deviations
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "refdropout_clause" not in callspec.params:
            continue
        reasons = [d.reason for d in deviations if matches(d.prefix, callspec.params["refdropout_clause"])]
        if reasons:
            item.add_marker(pytest.mark.xfail(reason="known deviation: " + "; ".join(reasons), strict=False))


@pytest.fixture(scope="session")
def refdropout_settings(pytestconfig: pytest.Config) -> Settings:
    """The session's target, plan and seed."""
    return pytestconfig.stash[SETTINGS]


@pytest.fixture
def refdropout_run(refdropout_clause: str, refdropout_settings: Settings, request: pytest.FixtureRequest) -> Run:
    """The run of this one clause, as ``refdropout check`` makes it (its output left to pytest's capture);
    its verdict, detail and seed are recorded in the test's ``user_properties`` (JUnit XML shows them), and
    what was checked: the target's declared name, its declarations and the frameworks it imported.
    A clause the suite could not check is an error of this fixture, so of the test; SIGINT and SIGTERM
    stop the session."""
    s = refdropout_settings
    with interruptible():
        run = run_target(s.target.name, s.target.impl, [refdropout_clause], profile=s.profile, seed=s.seed,
                         device=s.device, versions=s.target.versions, watch=Watch(s.timeout),
                         declarations=s.target.declarations)
    if run.interrupted is not None:
        pytest.exit(f"refdropout: interrupted by {run.interrupted.name} in {refdropout_clause}",
                    returncode=128 + run.interrupted)
    result = run.results[0]
    request.node.user_properties += [("refdropout_verdict", result.verdict.outcome.value),
                                     ("refdropout_detail", result.verdict.detail), ("refdropout_seed", result.seed),
                                     *((f"refdropout_{name}", value) for name, value in checked(run))]
    if result.verdict.outcome is Outcome.ERROR:
        pytest.fail(f"the suite could not check {refdropout_clause}: {result.verdict.detail} (an error of the suite "
                    f"or its machine, not a failure of {run.target})\n\n{result.trace}", pytrace=False)
    return run


class Reporter:
    """The run's header and its closing notes; registered only when ``--refdropout-impl`` is given."""

    def __init__(self, settings: Settings, deviations_file: Path | None) -> None:
        self.settings = settings
        self.deviations_file = deviations_file
        self.policies: list[tuple[str, str]] = []
        self.verdicts: dict[str, tuple[str, str]] = {}  # test -> (verdict, detail)

    def pytest_report_header(self) -> list[str]:
        s = self.settings
        versions = s.target.versions()
        framework = f" ({versions['framework']} {versions['framework_version']})" if versions["framework"] else ""
        lines = [f"refdropout: target {s.target.name}{framework} on {s.device}, {len(s.clauses)} clauses, "
                 f"{plan_summary(run_plan(s.profile))}, seed {s.seed}"]
        lines += [f"refdropout: {line}" for line in described_target(s.target.name, s.target.declarations, versions)]
        if s.deviations:
            lines.append(f"refdropout: {len(s.deviations)} known deviations from {self.deviations_file}")
        return lines

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Remember each clause's verdict, and each clause that passes by a declared policy (xdist
        workers' reports included)."""
        properties = dict(report.user_properties)
        verdict = properties.get("refdropout_verdict")
        if verdict is not None:
            self.verdicts[report.nodeid.rpartition("::")[2]] = (verdict, properties["refdropout_detail"])
        if report.when == "call" and verdict == Outcome.POLICY.value:
            self.policies.append((report.nodeid.rpartition("::")[2], properties["refdropout_detail"]))

    def nothing_checked(self) -> bool:
        """True when clauses ran and none applied to the target (RUNNER-4)."""
        return bool(self.verdicts) and {verdict for verdict, _ in self.verdicts.values()} == {
            Outcome.NOT_APPLICABLE.value}

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """A session in which no clause applied does not pass (on the controller, where xdist distributes)."""
        if self.nothing_checked() and not hasattr(session.config, "workerinput") and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter) -> None:
        """The clauses that differ by declared policy, the known deviations that match no clause, and
        why a session in which no clause applied fails."""
        if self.nothing_checked():
            terminalreporter.write_sep("=", "refdropout: nothing was checked", red=True)
            needs = "; ".join(sorted({detail for _, detail in self.verdicts.values()}))
            terminalreporter.write_line(f"no selected clause applies to {self.settings.target.name} ({needs}): every"
                                        " one was skipped as not applicable, so the session fails", red=True)
        if self.policies:
            terminalreporter.write_sep("=", "refdropout: differs by declared policy")
            for test, detail in sorted(self.policies):
                terminalreporter.write_line(f"{test}: {detail}")
        if self.settings.unmatched:
            terminalreporter.write_sep("=", "refdropout: known deviations that match no clause", yellow=True)
            for d in self.settings.unmatched:
                terminalreporter.write_line(
                    f"{self.deviations_file}:{d.line}: {d.prefix!r} matches no clause with a check ({d.reason})",
                    yellow=True)
