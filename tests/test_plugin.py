"""The pytest plugin (refdropout.pytest_plugin, refdropout.conformance.plugin): the conformance suite as
one pytest test per clause.

Each test runs pytest on the packaged suite, ``pytest --pyargs refdropout.conformance --refdropout-impl
TARGET``, through the ``pytester`` fixture. Runs against the reference select exact clauses only, so
they charge no statistical decision to the suite's budget; statistical clauses run against a broken
plain function, where rejections are the expected outcome.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

# numpy and ml_dtypes register C types once per process. They are imported here, outside the
# in-process pytester runs, whose restoring of sys.modules would otherwise make each run import
# them anew (ml_dtypes then raises "appears already registered").
import refdropout.contract.arrays  # noqa: F401  (imported for that side effect alone)
from helpers import REPO, run_plugin
from refdropout.conformance.deviations import matches
from refdropout.conformance.runner import clause_seed

pytest_plugins = ["pytester"]

NO_RESCALE = '''
import numpy as np

def no_rescale(x, p, *, training, seed):
    """Dropout that forgets to divide the kept values by q = 1 - p."""
    if isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"p must be a real number in [0, 1], got {p!r}")
    if not training:
        return x
    keep = np.random.default_rng(seed).random(x.shape) >= p
    return x * keep.astype(x.dtype)
'''


def exactly(*clauses: str) -> str:
    """A ``-k`` expression selecting exactly these clauses' tests (DROPOUT-1 and not DROPOUT-10)."""
    return " or ".join(f"{clause}]" for clause in clauses)


@pytest.mark.parametrize(("prefix", "test_id", "expected"), [
    ("DROPOUT-1", "DROPOUT-1", True),
    ("DROPOUT-1", "DROPOUT-10", False),
    ("DROPOUT", "DROPOUT-10", True),
    ("DROP", "DROPOUT-10", False),
    ("DROPOUT-1", "DROPOUT-1[case]", True),
    ("GRADIENTS-1", "DROPOUT-1", False),
])
def test_a_prefix_matches_whole_parts_of_a_test_id(prefix: str, test_id: str, expected: bool) -> None:
    assert matches(prefix, test_id) is expected


def test_the_plugin_does_nothing_without_a_target(pytester: pytest.Pytester) -> None:
    result = run_plugin(pytester)
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "refdropout:" not in result.stdout.str()


def test_one_passing_test_per_selected_clause_of_the_reference(pytester: pytest.Pytester) -> None:
    result = run_plugin(pytester, "--refdropout-impl", "reference", "--refdropout-profile", "quick",
                         "-v", "-k", exactly("DROPOUT-3", "DROPOUT-5", "GRADIENTS-1"))
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["refdropout: target reference on cpu, * clauses, profile quick *, seed 0",
                                 "*test_clause?DROPOUT-3? PASSED*"])


def test_a_broken_function_fails_and_known_deviations_are_expected_failures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(unscaled_dropout=NO_RESCALE)  # a name no test package uses
    deviations = pytester.makefile(".txt", deviations="\n".join([
        "# clause ID prefix, then why",
        "DROPOUT-21  the variance is x^2 p, the kept values not being rescaled",
        "DROPOUT-5\tfixed since: this one shows as XPASS",
        "NOSUCH-7    a stale entry",
    ]))
    result = run_plugin(pytester, "--refdropout-impl", "unscaled_dropout:no_rescale", "--refdropout-profile", "quick",
                         "--refdropout-known-deviations", str(deviations),
                         "-k", exactly("DROPOUT-2", "DROPOUT-5", "DROPOUT-20", "DROPOUT-21"))
    result.assert_outcomes(failed=1, xfailed=1, xpassed=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*DROPOUT-20 (*) fails for unscaled_dropout:no_rescale*",
        "reproduce: refdropout check unscaled_dropout:no_rescale --clause DROPOUT-20 --profile quick --seed 0",
        "*refdropout: known deviations that match no clause*",
        "*deviations.txt:4: 'NOSUCH-7' matches no clause with a check (a stale entry)",
        "SKIPPED * not applicable: needs *",
        "XFAIL *test_clause?DROPOUT-21? - known deviation: the variance is x^2 p*",
    ])
    assert result.ret == pytest.ExitCode.TESTS_FAILED


def test_a_pass_by_a_declared_policy_is_reported_as_such(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(selecting='''
from refdropout.adapters.reference import ReferenceDropout

class Selecting(ReferenceDropout):
    """The reference, declaring that a dropped NaN or inf becomes 0."""

    def __init__(self):
        super().__init__(nonfinite="select")
''')
    result = run_plugin(pytester, "--refdropout-impl", "selecting:Selecting", "--refdropout-profile", "quick",
                         "--refdropout-clause", "DROPOUT-10", "--refdropout-clause", "DROPOUT-3")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*refdropout: differs by declared policy*",
                                 "test_clause[[]DROPOUT-10[]]: nonfinite = 'select' (the reference: 'multiply')"])


def test_the_junit_report_names_what_each_test_checked(pytester: pytest.Pytester) -> None:
    """Each test's JUnit properties name the class's declared name, its declarations and the frameworks
    the target imported, with their versions (what a CI owner keeps is the JUnit file)."""
    import numpy as np

    pytester.makepyfile(selecting='''
import numpy as np
from refdropout.adapters.reference import ReferenceDropout

class Selecting(ReferenceDropout):
    name = "selecting-reference"

    def __init__(self):
        super().__init__(nonfinite="select")
''')
    run_plugin(pytester, "--refdropout-impl", "selecting:Selecting", "--refdropout-profile", "quick",
               "--refdropout-clause", "DROPOUT-3", "--junitxml=checked.xml")
    [case] = ET.parse(pytester.path / "checked.xml").getroot().iter("testcase")
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["refdropout_name"] == "selecting-reference"
    assert "nonfinite=select (target)" in properties["refdropout_declared"]
    assert properties["refdropout_imported"] == f"numpy {np.__version__}"


SELECT_NAN = '''
import numpy as np

def select_nan(x, p, *, training, seed):
    """Inverted dropout in which a dropped element becomes 0 whatever it was, NaN and inf too."""
    if isinstance(p, bool) or not 0 <= p <= 1:
        raise ValueError(f"p must be a real number in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    keep = np.random.default_rng(seed).random(x.shape) >= p
    return np.where(keep, x / (1 - p) if p < 1 else x, 0).astype(x.dtype)
'''


@pytest.mark.clause("RUNNER-14")
def test_the_plugin_declares_with_its_own_options(pytester: pytest.Pytester) -> None:
    """--refdropout-policy and --refdropout-dtypes declare as refdropout check's --policy and --dtypes do."""
    pytester.makepyfile(selecting=SELECT_NAN)
    args = ["--refdropout-impl", "selecting:select_nan", "--refdropout-profile", "quick", "--refdropout-clause",
            "DROPOUT-10"]
    run_plugin(pytester, *args).assert_outcomes(failed=1)
    result = run_plugin(pytester, *args, "--refdropout-policy", "nonfinite=select", "--refdropout-dtypes", "float32")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "refdropout: selecting:select_nan: declared: dtypes float32 (command line); nonfinite=select (command line)",
        "refdropout: selecting:select_nan: imports numpy *",
        "test_clause[[]DROPOUT-10[]]: nonfinite = 'select' (the reference: 'multiply')"])


@pytest.mark.parametrize(("args", "message"), [
    (["--refdropout-impl", "nosuch"], "*unknown target 'nosuch'*"),
    (["--refdropout-impl", "reference", "--refdropout-clause", "NOSUCH-1"], "*'NOSUCH-1' matches no clause*"),
    (["--refdropout-impl", "reference", "--refdropout-seed", "-1"],
     "*argument --refdropout-seed: must be an integer in [[]0, 2[*][*]64), got '-1'"),
    (["--refdropout-impl", "reference", "--refdropout-seed", str(2**64)],
     "*argument --refdropout-seed: must be an integer in [[]0, 2[*][*]64), got '18446744073709551616'"),
    (["--refdropout-impl", "reference", "--refdropout-timeout", "-1"],
     "*argument --refdropout-timeout: must be a number of seconds >= 0, got '-1'"),
    (["--refdropout-impl", "reference", "--refdropout-policy", "nonfinite=zero"],
     "*argument --refdropout-policy: nonfinite must be one of multiply, select, got 'nonfinite=zero'"),
    (["--refdropout-impl", "reference", "--refdropout-dtypes", "float64,int8"],
     "*argument --refdropout-dtypes: must be distinct floating formats separated by commas*got 'float64,int8'"),
])
def test_a_bad_option_is_a_usage_error(pytester: pytest.Pytester, args: list[str], message: str) -> None:
    result = run_plugin(pytester, *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_known_deviation_without_a_reason_is_a_usage_error(pytester: pytest.Pytester) -> None:
    deviations = pytester.makefile(".txt", deviations="DROPOUT-2\n")
    result = run_plugin(pytester, "--refdropout-impl", "reference", "--refdropout-known-deviations", str(deviations))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*deviations.txt:1: a known deviation needs a reason*"])


def test_xdist_workers_give_the_same_verdicts_and_seeds(pytester: pytest.Pytester,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers give each clause the verdict and the seed one process gives it: clause_seed(0, clause)."""
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the workers import refdropout and the broken function
    pytester.makepyfile(unscaled_dropout=NO_RESCALE)  # a name no test package uses
    args = ["--refdropout-impl", "unscaled_dropout:no_rescale", "--refdropout-profile", "quick",
            "-k", exactly("DROPOUT-2", "DROPOUT-3", "DROPOUT-5", "DROPOUT-13", "DROPOUT-20", "DROPOUT-21")]
    run_plugin(pytester, "--junitxml=alone.xml", *args)
    run_plugin(pytester, "--junitxml=distributed.xml", "-p", "xdist.plugin", "-n", "2", *args)
    alone, distributed = (verdicts(pytester.path / name) for name in ("alone.xml", "distributed.xml"))
    assert distributed == alone
    assert {verdict for verdict, _ in alone.values()} == {"pass", "FAIL", "not applicable"}
    assert all(seed == str(clause_seed(0, clause)) for clause, (_, seed) in alone.items())


def verdicts(junit: Path) -> dict[str, tuple[str, str]]:
    """Each clause's verdict and seed, from the properties the plugin records in its tests' JUnit XML."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        clause = re.fullmatch(r"test_clause\[(.+)\]", case.get("name")).group(1)
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        found[clause] = (properties["refdropout_verdict"], properties["refdropout_seed"])
    return found


@pytest.mark.clause("RUNNER-13")
def test_the_example_workflow_runs_the_plugin_with_options_it_has() -> None:
    """examples/github-actions.yml, which README offers CI owners, runs the plugin with JUnit output and
    only with options the plugin defines (each ``--refdropout-NAME`` is an option of refdropout.options)."""
    from refdropout.contract.declarations import DTYPES, POLICY
    from refdropout.options import CLAUSE, DEVICE, KNOWN_DEVIATIONS, PROFILE, SEED, TARGET, TIMEOUT

    workflow = (REPO / "examples" / "github-actions.yml").read_text(encoding="utf-8")
    defined = {f"--refdropout-{o.name}" for o in (TARGET, PROFILE, SEED, CLAUSE, DEVICE, TIMEOUT, POLICY, DTYPES,
                                                   KNOWN_DEVIATIONS)}
    used = set(re.findall(r"--refdropout-[a-z-]+", workflow))
    assert "--refdropout-impl" in used and used <= defined, used - defined
    assert "pytest --pyargs refdropout.conformance" in workflow and "--junitxml" in workflow
    assert "examples/github-actions.yml" in (REPO / "README.md").read_text(encoding="utf-8")
