"""Tests of spec/runner.md: a run never passes by accident (issue 14).

Each case is run as a user would meet it: ``refdropout check`` in a fresh interpreter
(helpers.run_as_user), in a temporary directory holding a module of hostile targets, or the plugin
through pytester; a case that needs the suite itself changed (a check with a bug) runs the
command line in this process. Every run selects one to three exact clauses at the quick profile,
so a fresh interpreter's run takes about two seconds, and none makes a statistical decision.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import re
import signal
import string
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

# numpy and ml_dtypes register C types once per process: imported here, outside pytester's runs
import refdropout.contract.arrays  # noqa: F401  (imported for that side effect alone)
from helpers import REPO, exact, filled, run_as_user, run_command, run_plugin, summaries
from refdropout.adapters.reference import ReferenceDropout
from refdropout.cli import main
from refdropout.conformance import CHECKS, Check, Outcome
from refdropout.conformance.guard import DEFAULT_TIMEOUT, Guard, Watch
from refdropout.conformance.runner import run_target
from refdropout.nn import Module
from refdropout.options import TIMEOUT

pytest_plugins = ["pytester"]

EXACT = ("--profile", "quick", "--clause", "DROPOUT-3", "--clause", "DROPOUT-5")
CALL = r"dropout\(x: float64 \(8, 16, 32\), p=1\.0, training=True, seed=[0-9]+\)"  # DROPOUT-5's first call

HOSTILE = '''
import ctypes, os, sys, time
import numpy as np

def good(x, p, *, training, seed):
    """Correct inverted dropout."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    q = 1.0 - p
    if not training or q == 1.0:
        return x
    keep = np.random.default_rng(seed).random(x.shape) < q
    with np.errstate(invalid="ignore", over="ignore"):
        return (x * keep / q if q > 0.0 else x * keep).astype(x.dtype)

def crashes(x, p, *, training, seed):
    raise RuntimeError("not implemented yet")

def ignores_p_one(x, p, *, training, seed):
    """Wrong at p = 1 only: x, where DROPOUT-5 expects zeros."""
    return x if p == 1.0 else good(x, p, training=training, seed=seed)

def exits(x, p, *, training, seed):
    sys.exit(0)

def interrupts(x, p, *, training, seed):
    raise KeyboardInterrupt

def sleeps(x, p, *, training, seed):
    time.sleep(1000)

def spins(x, p, *, training, seed):
    while True:
        pass

def swallows(x, p, *, training, seed):
    """Catches whatever interrupts it, and goes on: only the backstop ends it."""
    while True:
        try:
            time.sleep(1000)
        except BaseException:
            pass

def enormous(x, p, *, training, seed):
    return np.zeros(10**9, dtype=np.int8)

def out_of_memory(x, p, *, training, seed):
    raise MemoryError("Unable to allocate 7.45 GiB")

def allocation_refused(x, p, *, training, seed):
    """Out of memory where the check reads an exception as a refusal (DROPOUT-3), as torch words it."""
    if not 0.0 <= p <= 1.0:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:114] DefaultCPUAllocator: can't allocate memory")
    return good(x, p, training=training, seed=seed)

def chatty(x, p, *, training, seed):
    print("hello from print")
    os.write(1, b"hello from file descriptor 1\\n")
    ctypes.CDLL(None).printf(b"hello from C\\n")
    print("hello from stderr", file=sys.stderr)
    return good(x, p, training=training, seed=seed)

def hangs_after_p_one(x, p, *, training, seed):
    """Correct at p = 1 (all DROPOUT-5 asks); at any other p it says so in a file and hangs."""
    if p != 1.0:
        open("hanging", "w").close()
        time.sleep(1000)
    return good(x, p, training=training, seed=seed)

class ExitsWhenMade:
    def __init__(self):
        sys.exit(0)

    def dropout(self, x, p, *, training, seed):
        return x

class NoDropout:
    name = "nothing"

class DropoutNotCallable:
    dropout = 3
'''

# modules that cannot be imported: (file name, source)
UNIMPORTABLE = {
    "syntax_error": "def dropout(x, p:\n    return x\n",
    "raises_at_import": "raise RuntimeError('no GPU here')\n",
    "exits_at_import": "import sys\nsys.exit(0)\n",
}


@pytest.fixture
def targets(tmp_path: Path) -> Path:
    """A directory holding the module ``hostile`` (HOSTILE) and the modules of UNIMPORTABLE."""
    (tmp_path / "hostile.py").write_text(HOSTILE, encoding="utf-8")
    for name, source in UNIMPORTABLE.items():
        (tmp_path / f"{name}.py").write_text(source, encoding="utf-8")
    return tmp_path


def one_line(stderr: str) -> str:
    """The one line a setup error writes to stderr."""
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refdropout: "), stderr
    return lines[0]


# ---- RUNNER-1, RUNNER-2: 0 means checked and conforming; a FAIL is 1 --------------------------------


@pytest.mark.clause("RUNNER-1")
def test_exit_0_needs_a_checked_clause_and_every_checked_clause_passing(targets: Path) -> None:
    result = run_as_user(targets, "check", "reference", "hostile:good", *EXACT, status=0)
    counts = summaries(result.stdout)
    assert counts["reference"]["pass"] == counts["hostile:good"]["pass"] == 2
    run_as_user(targets, "check", "reference", "hostile:good", "--profile", "quick", "--clause", "DROPOUT-2", status=2)



# checks with a bug of the suite's own, put in place of DROPOUT-3's for a test (replace_check)


def divides_by_zero(impl: object, ctx: object) -> None:
    """Calls the implementation, which answers, and then divides by zero."""
    impl.dropout(filled((4,), 1.0), 0.5, training=True, seed=ctx.seed)
    return 1 / 0


def exhausts_memory(impl: object, ctx: object) -> None:
    """Calls the implementation, which answers, and then runs out of memory itself."""
    impl.dropout(filled((4,), 1.0), 0.5, training=True, seed=ctx.seed)
    raise MemoryError


def rewords(impl: object, ctx: object) -> None:
    """Raises its own exception from the implementation's."""
    try:
        impl.dropout(filled((4,), 1.0), 0.5, training=True, seed=ctx.seed)
    except RuntimeError as error:
        raise ValueError("the check's own words") from error


def replace_check(monkeypatch: pytest.MonkeyPatch, clause: str, function: object) -> None:
    monkeypatch.setitem(CHECKS, clause, Check(clause, function, ("dropout",), 0))


@pytest.fixture
def in_targets(targets: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The targets' directory as the current one, its modules importable in this process."""
    monkeypatch.chdir(targets)
    monkeypatch.syspath_prepend(str(targets))
    return targets


@pytest.mark.clause("RUNNER-2")
def test_a_fail_exits_1_even_beside_an_error_of_the_suite(in_targets: Path, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    replace_check(monkeypatch, "DROPOUT-3", divides_by_zero)
    out, err = run_command(capsys, "check", "hostile:ignores_p_one", *EXACT, status=1)
    assert summaries(out)["hostile:ignores_p_one"] == {"pass": 0, "FAIL": 1, "not applicable": 0,
                                                       "differs by declared policy": 0, "could not check": 1}
    assert "the suite could not check DROPOUT-3 for hostile:ignores_p_one" in err


# ---- RUNNER-3: usage and setup errors, one line, exit 2 -------------------------------------------


@pytest.mark.clause("RUNNER-3")
@pytest.mark.parametrize("target, message", [
    ("..:x", "target '..:x' is not package.module:attribute"),
    ("./foo.py:dropout", "target './foo.py:dropout' is not package.module:attribute"),
    ("builtins:int", "target 'builtins:int': int has no method dropout; an implementation needs dropout(x, p, *,"
                     " training, seed) -> y"),
    ("syntax_error:dropout", "target 'syntax_error:dropout': importing syntax_error raised SyntaxError: '(' was never"
                             " closed (syntax_error.py, line 1)"),
    ("raises_at_import:dropout", "importing raises_at_import raised RuntimeError: no GPU here"),
    ("exits_at_import:dropout", "target 'exits_at_import:dropout': importing exits_at_import called sys.exit(0)"),
    ("hostile:ExitsWhenMade", "target 'hostile:ExitsWhenMade' failed to start: ExitsWhenMade() called sys.exit(0)"),
    ("hostile:NoDropout", "target 'hostile:NoDropout': NoDropout has no method dropout"),
    ("hostile:DropoutNotCallable", "target 'hostile:DropoutNotCallable': dropout must be a method, dropout(x, p, *,"
                                   " training, seed) -> y; got 3"),
])
def test_a_target_that_cannot_load_is_a_one_line_setup_error(targets: Path, target: str, message: str) -> None:
    """Alone, and after the reference in the same command: nothing runs when any target cannot load."""
    for names in ([target], ["reference", target]):
        result = run_as_user(targets, "check", *names, *EXACT, status=2)
        assert result.stdout == ""
        assert message in one_line(result.stderr)


@pytest.mark.clause("RUNNER-3")
def test_traceback_shows_why_a_target_failed_to_load(targets: Path) -> None:
    result = run_as_user(targets, "check", "syntax_error:dropout", *EXACT, "--traceback", status=2, traceback=True)
    assert "Traceback (most recent call last)" in result.stderr and 'syntax_error.py", line 1' in result.stderr
    assert result.stderr.splitlines()[-1].startswith("refdropout: target 'syntax_error:dropout': importing")


@pytest.mark.clause("RUNNER-3")
@pytest.mark.parametrize("argv, message", [
    (["--timeout", "-1"], "argument --timeout: must be a number of seconds >= 0, got '-1'"),
    (["--timeout", "nan"], "argument --timeout: must be a number of seconds >= 0, got 'nan'"),
    (["--timeout", "soon"], "argument --timeout: must be a number of seconds >= 0, got 'soon'"),
    (["--seed", "x"], "argument --seed: must be an integer in [0, 2**64), got 'x'"),
    (["--clause", "NOPE-1"], "--clause 'NOPE-1' matches no clause with a check"),
    (["--profile", "huge"], "argument --profile: invalid choice: 'huge'"),
    (["--bogus"], "unrecognized arguments: --bogus"),
])
def test_usage_errors_name_the_bad_value(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["check", *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert re.match(r"refdropout( check)?: error: ", err.splitlines()[-1]) and message in err, err


# ---- RUNNER-4: a run that checks nothing ------------------------------------------------------------


@pytest.mark.clause("RUNNER-4")
def test_a_run_that_checks_nothing_exits_2_saying_what_the_target_lacks(targets: Path) -> None:
    result = run_as_user(targets, "check", "hostile:good", "--profile", "quick", "--clause", "DROPOUT-2", "--clause",
                         "DROPOUT-11", status=2)
    assert summaries(result.stdout)["hostile:good"]["not applicable"] == 2
    assert one_line(result.stderr) == ("refdropout: nothing was checked for hostile:good: no selected clause applies to"
                                       " it (needs dropout_noise_shape; needs dropout_with_mask)")


# ---- RUNNER-5: the suite's errors are not the target's failures ----------------------------------


@pytest.mark.clause("RUNNER-5")
def test_a_bug_in_a_check_is_an_error_of_the_suite_not_a_fail(in_targets: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    replace_check(monkeypatch, "DROPOUT-3", divides_by_zero)
    report, junit = in_targets / "report.json", in_targets / "report.xml"
    out, err = run_command(capsys, "check", "hostile:good", *EXACT, "--json", str(report), "--junit", str(junit),
                           status=2)
    assert re.search(r"(?m)^DROPOUT-3 +could not check", out) and "FAIL" not in out.replace(" 0 FAIL", "")
    assert re.search(r"the suite could not check DROPOUT-3: ZeroDivisionError: division by zero "
                     r"\(at test_run_integrity\.py:[0-9]+\)", out), out
    assert "refdropout: the suite could not check DROPOUT-3 for hostile:good" in err and "Traceback" not in err
    [clause, _] = json.loads(report.read_text(encoding="utf-8"))["runs"][0]["clauses"]
    assert clause["verdict"] == "could not check" and "1 / 0" in clause["traceback"]
    [suite] = ET.parse(junit).getroot()
    assert (suite.get("errors"), suite.get("failures")) == ("1", "0")
    [error] = suite.iter("error")
    assert error.get("message").startswith("the suite could not check DROPOUT-3: ZeroDivisionError")
    _, err = run_command(capsys, "check", "hostile:good", *EXACT, "--traceback", status=2)
    assert "Traceback (most recent call last)" in err and "return 1 / 0" in err


@pytest.mark.clause("RUNNER-5")
def test_memory_running_out_is_an_error_of_the_suite(targets: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """In the implementation's call, in the check's own code, and where a check read it as a refusal."""
    result = run_as_user(targets, "check", "hostile:out_of_memory", *EXACT, status=2)
    assert summaries(result.stdout)["hostile:out_of_memory"]["could not check"] == 2
    assert re.search(rf"the suite could not check DROPOUT-5: out of memory: {CALL} raised MemoryError: Unable to"
                     r" allocate 7\.45 GiB", result.stdout), result.stdout
    result = run_as_user(targets, "check", "hostile:allocation_refused", *EXACT, status=2)
    assert re.search(r"the suite could not check DROPOUT-3: out of memory: dropout\(x: float64 \(4,\), p=-0\.1, "
                     r".*can't allocate memory", result.stdout), result.stdout
    replace_check(monkeypatch, "DROPOUT-5", exhausts_memory)
    out, _ = run_command(capsys, "check", "reference", *EXACT, status=2)
    assert "the suite could not check DROPOUT-5: out of memory: MemoryError" in out


@pytest.mark.clause("RUNNER-5")
def test_an_exception_from_the_implementation_fails_the_clause_naming_the_call(
        in_targets: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_as_user(in_targets, "check", "hostile:crashes", *EXACT, status=1)
    assert re.search(rf"FAIL DROPOUT-5: {CALL} raised RuntimeError: not implemented yet", result.stdout)
    replace_check(monkeypatch, "DROPOUT-3", rewords)  # raised from the implementation's exception: still its FAIL
    out, _ = run_command(capsys, "check", "hostile:crashes", "--profile", "quick", "--clause", "DROPOUT-3", status=1)
    assert re.search(r"FAIL DROPOUT-3: dropout\(x: float64 \(4,\), p=0\.5, training=True, seed=[0-9]+\) raised "
                     r"RuntimeError: not implemented yet", out), out


# ---- RUNNER-6: time limits --------------------------------------------------------------------------


@pytest.mark.clause("RUNNER-6")
@pytest.mark.parametrize("target", ["hostile:sleeps", "hostile:spins"])
def test_a_call_that_never_returns_fails_its_clause_and_the_run_goes_on(targets: Path, target: str) -> None:
    began = time.monotonic()
    result = run_as_user(targets, "check", target, *EXACT, "--timeout", "1", status=1)
    assert time.monotonic() - began < 30
    assert summaries(result.stdout)[target]["FAIL"] == 2  # both clauses ran, each stopped at its first call
    assert re.search(r"FAIL DROPOUT-3: dropout\(x: float64 \(4,\), p=-0\.1, training=True, seed=[0-9]+\) did not "
                     r"return within 1 s", result.stdout), result.stdout
    assert re.search(rf"FAIL DROPOUT-5: {CALL} did not return within 1 s", result.stdout)


class SlowStream(ReferenceDropout):
    """The reference, whose streams never return."""

    def dropout_stream(self, seed: int) -> object:
        return lambda x, p, *, training: time.sleep(1000)


class SlowSteps(ReferenceDropout):
    """The reference, whose checkpointed steps and stateful streams never return."""

    def checkpointed_dropout(self, seed: int) -> object:
        return lambda x, w, p, *, checkpoint: time.sleep(1000)

    def dropout_stream_state(self, seed: int) -> object:
        return lambda x, p, *, training: time.sleep(1000)


class OwnModules(ReferenceDropout):
    """The reference, refusing to contain anything but its own modules (never a guarded view of one)."""

    def sequential(self, *modules: object) -> object:
        if not all(type(module).__module__.startswith("refdropout.nn") for module in modules):
            raise TypeError(f"sequential got {modules}")
        return super().sequential(*modules)


@pytest.mark.clause("RUNNER-6")
def test_calls_on_what_capabilities_return_are_watched_too() -> None:
    [result] = run_target("slow", SlowStream(), ["DROPOUT-15"], profile="quick", seed=0, watch=Watch(0.2)).results
    assert result.verdict.outcome is Outcome.FAIL
    assert re.fullmatch(r"dropout_stream\(seed=[0-9]+\)\(float64 \(1024,\), 0\.3, training=True\) did not return "
                        r"within 0\.2 s", result.verdict.detail), result.verdict.detail
    run = run_target("own", OwnModules(), ["MODES-4", "MODES-7"], profile="quick", seed=0)
    assert [r.verdict.outcome for r in run.results] == [Outcome.PASS, Outcome.PASS], run.results
    assert isinstance(OwnModules().dropout_module(0.5, seed=0), Module)


class _Shown:
    """An argument that counts how often a message showed it."""

    times = 0

    def __repr__(self) -> str:
        _Shown.times += 1
        return "shown"


class _Streams:
    def dropout_stream(self, seed: object) -> object:
        return lambda x, p, *, training: x


def test_a_live_objects_label_is_shown_only_when_a_message_needs_it() -> None:
    """The label of a stream (the call that returned it, its arguments shown) is made the first time a
    message shows it, not at each of its calls, and once."""
    with Guard(Watch()) as guard:
        stream = guard.view(_Streams()).dropout_stream(_Shown())
        assert [stream(1.0, 0.5, training=True) for _ in range(3)] == [1.0] * 3
        assert _Shown.times == 0
        assert repr(stream) == repr(stream) == "<guarded dropout_stream(seed=shown)>"
        assert _Shown.times == 1


@pytest.mark.clause("RUNNER-6")
def test_checkpointed_steps_and_stateful_streams_are_watched_too() -> None:
    """The steps of checkpointed_dropout and the streams of dropout_stream_state are the implementation's
    calls: under the time limit, and their seconds counted inside the implementation."""
    run = run_target("slow", SlowSteps(), ["TRAINING-1", "TRAINING-3"], profile="quick", seed=0, watch=Watch(0.2))
    for result, call in zip(run.results, ("checkpointed_dropout", "dropout_stream_state")):
        assert result.verdict.outcome is Outcome.FAIL
        assert re.match(rf"{call}\(seed=[0-9]+\)\(.*\) did not return within 0\.2 s", result.verdict.detail), \
            result.verdict.detail
        assert result.inside >= 0.2


@pytest.mark.clause("RUNNER-6")
def test_the_guard_holds_no_argument_of_a_call_that_returned() -> None:
    """The call being watched is named by the guard while it runs, and forgotten when it returns: an
    input of millions of elements is freed when the check lets go of it, not at the next call."""
    import gc
    import weakref

    from refdropout.conformance.guard import Guard
    from refdropout.tensor import Tensor

    x = Tensor.from_flat([1.0] * 8, (8,))
    with Guard(Watch()) as guard:
        guard.view(ReferenceDropout()).dropout(x, 0.3, training=True, seed=1)
        assert guard.current is None
        gone = weakref.ref(x)
        del x
        gc.collect()
        assert gone() is None


BACKSTOP = """
from refdropout.adapters import load_target
from refdropout.conformance.guard import Watch
from refdropout.conformance.runner import run_target
run_target("swallows", load_target("hostile:swallows").impl, ["DROPOUT-5"], profile="quick", seed=0,
           watch=Watch(0.2, capture=True, backstop=2.0))
print("the run ended")
"""


@pytest.mark.clause("RUNNER-6")
def test_the_backstop_ends_a_run_stuck_beyond_the_reach_of_signals(targets: Path) -> None:
    """A call that swallows every alarm is beyond the time limit; the backstop ends the process."""
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-c", BACKSTOP], cwd=targets, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join((str(targets), str(REPO)))})
    assert result.returncode == 1 and "the run ended" not in result.stdout
    assert result.stderr.startswith("Timeout (0:00:02)!") and 'hostile.py", line' in result.stderr, result.stderr
    assert time.monotonic() - began < 30


@pytest.mark.clause("RUNNER-6")
def test_the_time_limit_is_one_option_with_one_default() -> None:
    assert TIMEOUT.default == DEFAULT_TIMEOUT == Watch().timeout == 600
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timeout must be a number of seconds >= 0"):
            Watch(bad)


# ---- RUNNER-7: an implementation that exits --------------------------------------------------------


@pytest.mark.clause("RUNNER-7")
def test_sys_exit_in_the_implementation_fails_the_clause(targets: Path) -> None:
    """Alone, and after the reference in the same command, whose table is printed as it should be."""
    result = run_as_user(targets, "check", "hostile:exits", *EXACT, status=1)
    assert summaries(result.stdout)["hostile:exits"]["FAIL"] == 2
    assert re.search(rf"FAIL DROPOUT-5: {CALL} called sys.exit\(0\)", result.stdout)
    result = run_as_user(targets, "check", "reference", "hostile:exits", *EXACT, status=1)
    counts = summaries(result.stdout)
    assert counts["reference"]["pass"] == 2 and counts["hostile:exits"]["FAIL"] == 2


@pytest.mark.clause("RUNNER-7")
def test_a_keyboard_interrupt_of_the_implementation_fails_the_clause(targets: Path) -> None:
    result = run_as_user(targets, "check", "hostile:interrupts", *EXACT, status=1)
    assert re.search(rf"FAIL DROPOUT-5: {CALL} raised KeyboardInterrupt", result.stdout)


# ---- RUNNER-8: a result of the wrong size ---------------------------------------------------------


@pytest.mark.clause("RUNNER-8")
def test_an_enormous_result_is_refused_before_it_is_converted(targets: Path) -> None:
    """Never read as a refusal either: DROPOUT-3 expects its calls to raise, and fails."""
    result = run_as_user(targets, "check", "hostile:enormous", *EXACT, status=1)
    assert summaries(result.stdout)["hostile:enormous"]["FAIL"] == 2
    assert re.search(rf"FAIL DROPOUT-5: {CALL} returned shape \(1000000000,\) for x of shape \(8, 16, 32\)",
                     result.stdout)
    assert re.search(r"FAIL DROPOUT-3: dropout\(x: float64 \(4,\), p=-0\.1, .*\) returned shape \(1000000000,\)",
                     result.stdout)


# ---- RUNNER-9: declarations -------------------------------------------------------------------------

ALLOWED_DTYPES = ("dtypes must be a non-empty tuple of distinct floating formats from float64, float32, float16,"
                  " bfloat16")


@pytest.mark.clause("RUNNER-9")
@pytest.mark.parametrize("declaration, message", [
    ("dtypes = ()", f"{ALLOWED_DTYPES}, got ()"),
    ("dtypes = 'float64'", f"{ALLOWED_DTYPES}, got 'float64'"),
    ("dtypes = ('int32',)", f"{ALLOWED_DTYPES}, got ('int32',): 'int32' is not one"),
    ("dtypes = ['float32', 'float32']", f"{ALLOWED_DTYPES}, got ['float32', 'float32']: a format given twice"),
    ("policies = {'scaling': 'classic'}",
     "policies must be a refdropout.contract.Policies, got a dict: {'scaling': 'classic'}"),
    ("name = 7", "name must be a str, got 7"),
    ("dropout_vjp = 'yes'", "dropout_vjp must be a method, dropout_vjp(x, p, g, *, training, seed) -> (y, dL/dx for"
                            " upstream gradient g); got 'yes'"),
    ("policies = Policies(scaling='bogus')",
     "importing declares raised ValueError: scaling must be one of 'inverted', 'classic', got 'bogus'"),
    ("policies = Policies(bogus=1)",
     "importing declares raised TypeError: Policies.__init__() got an unexpected keyword argument 'bogus'"),
])
def test_declarations_are_validated_before_any_check_runs(tmp_path: Path, declaration: str, message: str) -> None:
    (tmp_path / "declares.py").write_text(textwrap.dedent(f"""
        from refdropout.contract import Policies

        class Target:
            {declaration}

            def dropout(self, x, p, *, training, seed):
                return x
        """), encoding="utf-8")
    result = run_as_user(tmp_path, "check", "declares:Target", *EXACT, status=2)
    assert result.stdout == ""
    assert one_line(result.stderr) == f"refdropout: target 'declares:Target': {message}"


# ---- RUNNER-10: report files -----------------------------------------------------------------------


@pytest.mark.clause("RUNNER-10")
@pytest.mark.parametrize("option", ["--json", "--junit"])
def test_a_report_file_that_cannot_be_written_is_refused_before_any_check(targets: Path, option: str) -> None:
    (targets / "a_file").write_text("", encoding="utf-8")
    for path, message in ((targets, "is a directory"),
                          (targets / "missing" / "r", f"the directory {targets / 'missing'} does not exist"),
                          (targets / "a_file" / "r", f"{targets / 'a_file'} is not a directory"),
                          (Path("/proc/refdropout-report"), "cannot write in /proc: ")):
        result = run_as_user(targets, "check", "hostile:exits", *EXACT, option, str(path), status=2)
        assert result.stdout == ""  # no check ran: the target would have failed them
        assert one_line(result.stderr).startswith(f"refdropout: {option} {path}: {message}"), result.stderr
    assert sorted(p.name for p in targets.iterdir() if p.name.startswith(".")) == []  # no temporary file left


@pytest.mark.clause("RUNNER-10")
def test_a_report_that_fails_to_write_at_the_end_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The tables are printed, the report keeps what it held (written whole or not at all), nothing is left over."""
    report = tmp_path / "report.json"
    report.write_text("the last run's report\n", encoding="utf-8")

    def disk_full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", disk_full)
    out, err = run_command(capsys, "check", *EXACT, "--json", str(report), status=2)
    assert summaries(out)["reference"]["pass"] == 2
    assert err == f"refdropout: could not write --json {report}: No space left on device\n"
    assert report.read_text(encoding="utf-8") == "the last run's report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
    monkeypatch.undo()
    run_command(capsys, "check", *EXACT, "--json", str(report), status=0)
    assert json.loads(report.read_text(encoding="utf-8"))["complete"] is True


@pytest.mark.clause("RUNNER-10")
def test_a_report_can_go_to_a_link_or_to_stdout(tmp_path: Path) -> None:
    """A symbolic link stays one (the file it names is replaced); /dev/stdout, no file, is written in place."""
    (tmp_path / "reports").mkdir()
    (tmp_path / "latest.json").symlink_to(tmp_path / "reports" / "r.json")
    run_as_user(tmp_path, "check", *EXACT, "--json", "latest.json", status=0)
    assert (tmp_path / "latest.json").is_symlink() and json.loads((tmp_path / "reports" / "r.json").read_text())
    result = run_as_user(tmp_path, "check", *EXACT, "--json", "/dev/stdout", status=0)
    table, report = result.stdout.split("\n\n", 1)
    assert table.startswith("CLAUSE") and json.loads(report)["runs"][0]["target"] == "reference"
    assert Path("/dev/stdout").is_symlink() or Path("/dev/stdout").is_char_device()


# ---- RUNNER-11: interrupted runs --------------------------------------------------------------------


@pytest.mark.clause("RUNNER-11")
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_writes_what_it_finished_marked_incomplete(targets: Path, signum: int,
                                                                      status: int) -> None:
    """DROPOUT-5 finishes; DROPOUT-8 hangs until the signal comes."""
    command = [sys.executable, "-m", "refdropout", "check", "hostile:hangs_after_p_one", "--profile", "quick",
               "--clause", "DROPOUT-5", "--clause", "DROPOUT-8", "--json", "r.json", "--junit", "r.xml"]
    process = subprocess.Popen(command, cwd=targets, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": os.pathsep.join((str(targets), str(REPO)))})
    deadline = time.monotonic() + 60
    while not (targets / "hanging").exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert "Traceback" not in err
    assert err.splitlines()[-1] == (f"refdropout: interrupted by {signal.Signals(signum).name}; clauses finished: 1;"
                                    " the reports hold them, marked incomplete")
    assert re.findall(r"(?m)^(DROPOUT-[0-9]+) +(\w+)", out) == [("DROPOUT-5", "pass")]
    name = signal.Signals(signum).name
    assert f"INCOMPLETE: interrupted by {name} in DROPOUT-8, 1 of 2 clauses not finished" in out
    report = json.loads((targets / "r.json").read_text(encoding="utf-8"))
    [run] = report["runs"]
    assert report["complete"] is False and run["complete"] is False and run["interrupted"] == name
    assert [c["clause"] for c in run["clauses"]] == ["DROPOUT-5"] and run["unfinished"] == ["DROPOUT-8"]
    properties = {p.get("name"): p.get("value") for p in ET.parse(targets / "r.xml").getroot().iter("property")}
    assert properties["complete"] == "false" and "INCOMPLETE" in properties["incomplete"]


# ---- RUNNER-12: the implementation's output -------------------------------------------------------


@pytest.mark.clause("RUNNER-12")
def test_the_implementations_output_is_captured_per_clause(targets: Path) -> None:
    result = run_as_user(targets, "check", "hostile:chatty", *EXACT, "--json", "r.json", status=0)
    assert "hello" not in result.stderr
    table, notes = result.stdout.split("\n", 3)[:3], result.stdout.splitlines()[3:]
    assert [row.split()[0] for row in table] == ["CLAUSE", "DROPOUT-3", "DROPOUT-5"]
    notes = [line for line in notes[:-2] if not line.startswith("hostile:chatty: ")]  # the summary's lines aside
    assert all(line.startswith(("output of DROPOUT-", "  | hello from ")) for line in notes), notes
    headers = [re.fullmatch(r"output of DROPOUT-5: ([0-9]+) lines from hostile:chatty, the first 3 \(--json keeps "
                            r"all\):", line) for line in notes]
    [lines] = [int(match[1]) for match in headers if match]
    [run] = json.loads((targets / "r.json").read_text(encoding="utf-8"))["runs"]
    written = run["clauses"][1]["output"]
    # four lines a call: the fixed calls (float64 and float32) and those of the generated cases (RUNNER-18)
    assert lines % 4 == 0 and lines >= 8
    assert written.splitlines() == ["hello from print", "hello from file descriptor 1", "hello from C",
                                    "hello from stderr"] * (lines // 4)


# ---- RUNNER-13: the plugin --------------------------------------------------------------------------


@pytest.mark.clause("RUNNER-13")
def test_the_plugin_fails_a_session_that_checked_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hostile=HOSTILE)
    result = run_plugin(pytester, "--refdropout-impl", "hostile:good", "--refdropout-profile", "quick",
                        "--refdropout-clause", "DROPOUT-2")
    result.assert_outcomes(skipped=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*refdropout: nothing was checked*", "no selected clause applies to hostile:good "
                                 "(needs dropout_with_mask): every one was skipped as not applicable, so the session"
                                 " fails"])


@pytest.mark.clause("RUNNER-13")
@pytest.mark.parametrize("target, message", [
    ("hostile:NoDropout", "*target 'hostile:NoDropout': NoDropout has no method dropout*"),
    ("hostile:DropoutNotCallable", "*target 'hostile:DropoutNotCallable': dropout must be a method*"),
    ("syntax_error:dropout", "*importing syntax_error raised SyntaxError*"),
    ("exits_at_import:dropout", "*importing exits_at_import called sys.exit(0)"),
    ("hostile:ExitsWhenMade", "*ExitsWhenMade() called sys.exit(0)"),
    ("..:x", "*target '..:x' is not package.module:attribute*"),
])
def test_the_plugin_refuses_unloadable_targets_as_usage_errors(pytester: pytest.Pytester, target: str,
                                                               message: str) -> None:
    pytester.makepyfile(hostile=HOSTILE, **UNIMPORTABLE)
    result = run_plugin(pytester, "--refdropout-impl", target)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --refdropout-impl: {message}"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


@pytest.mark.clause("RUNNER-13")
def test_the_plugin_reports_an_error_of_the_suite_as_an_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hostile=HOSTILE)
    result = run_plugin(pytester, "--refdropout-impl", "hostile:out_of_memory", "--refdropout-profile", "quick",
                        "--refdropout-clause", "DROPOUT-5")
    result.assert_outcomes(errors=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*the suite could not check DROPOUT-5: out of memory: dropout(*) raised MemoryError*"])


@pytest.mark.clause("RUNNER-13")
def test_the_plugin_applies_the_time_limit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(hostile=HOSTILE)
    result = run_plugin(pytester, "--refdropout-impl", "hostile:sleeps", "--refdropout-profile", "quick",
                        "--refdropout-timeout", "0.5", "--refdropout-clause", "DROPOUT-3",
                        "--refdropout-clause", "DROPOUT-5")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*DROPOUT-5 (*) fails for hostile:sleeps: dropout(*) did not return within 0.5 s"])


# ---- RUNNER-1: random command lines -------------------------------------------------------------

FAST_CLAUSES = ("DROPOUT-2", "DROPOUT-3", "DROPOUT-5", "DROPOUT-8", "dropout-3", "NOPE-1", "")
FUZZ_TARGETS = ("reference", "hostile:good", "hostile:crashes", "hostile:exits", "hostile:interrupts",
                "hostile:enormous", "hostile:out_of_memory", "hostile:chatty", "hostile:NoDropout",
                "hostile:DropoutNotCallable", "hostile:ExitsWhenMade", "exits_at_import:dropout",
                "syntax_error:dropout", "..:x", "builtins:int", "nosuch", "numpy")
words = st.text(string.ascii_letters + string.digits + "-_:./", max_size=12)  # no glob can match many clauses


def option_values(directory: Path) -> st.SearchStrategy[list[str]]:
    paths = st.sampled_from([str(directory / "r.json"), str(directory), str(directory / "no" / "r"),
                             "/proc/refdropout-report", ""])
    numbers = st.one_of(st.integers(-5, 2**65).map(str), st.floats(allow_nan=True).map(str), words)
    pairs = st.one_of(
        st.tuples(st.just("--clause"), st.sampled_from(FAST_CLAUSES) | words),
        st.tuples(st.sampled_from(["--seed", "--timeout"]), numbers),
        st.tuples(st.sampled_from(["--json", "--junit"]), paths),
        st.tuples(st.just("--device"), st.sampled_from(["cpu", "cuda", "tpu"])),
        st.tuples(st.just("--profile"), st.sampled_from(["quick", "deep", "huge"])))
    return st.lists(st.one_of(pairs.map(list), st.sampled_from(FUZZ_TARGETS).map(lambda t: [t]),
                              st.sampled_from(["--traceback", "-", "--", "--bogus"]).map(lambda w: [w]),
                              words.map(lambda w: [w])), max_size=6).map(lambda parts: sum(parts, []))


def assert_never_passes_by_accident(argv: list[str], status: int, out: str, err: str) -> None:
    """Exit status 0, 1 or 2; no traceback unless --traceback asked for one; 0 only where every summary shows a
    check and nothing wrong."""
    event(f"exit status {status}")
    assert status in (0, 1, 2), (argv, status, err)
    assert "Traceback" not in err or "--traceback" in argv, (argv, err)
    if status == 0:
        counts = summaries(out)
        assert counts, (argv, out, err)
        for verdicts in counts.values():
            assert verdicts["pass"] + verdicts["differs by declared policy"] > 0, (argv, out)
            assert verdicts["FAIL"] == verdicts["could not check"] == 0, (argv, out)


@pytest.fixture(scope="module")
def fuzz_targets(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hostile modules, importable in this process for the module's tests."""
    directory = tmp_path_factory.mktemp("fuzz")
    (directory / "hostile.py").write_text(HOSTILE, encoding="utf-8")
    for name, source in UNIMPORTABLE.items():
        (directory / f"{name}.py").write_text(source, encoding="utf-8")
    sys.path.insert(0, str(directory))
    yield directory
    sys.path.remove(str(directory))


@pytest.mark.clause("RUNNER-1")
@exact(40)
@given(data=st.data())
def test_random_command_lines_never_pass_by_accident(fuzz_targets: Path, data: st.DataObject) -> None:
    """In this process (argparse's usage errors are SystemExit); each run is at the quick profile on fast clauses."""
    argv = ["check", *data.draw(option_values(fuzz_targets)), "--profile", "quick", "--clause", "DROPOUT-5"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(argv)
        except SystemExit as exit_:
            status = exit_.code
    assert_never_passes_by_accident(argv, status, out.getvalue(), err.getvalue())
    for leftover in fuzz_targets.glob(".*.tmp"):
        raise AssertionError(f"{argv}: a temporary report file was left behind: {leftover}")


@pytest.mark.clause("RUNNER-1")
@exact(4)
@given(data=st.data())
def test_random_command_lines_in_a_fresh_interpreter(fuzz_targets: Path, data: st.DataObject) -> None:
    argv = ["check", *data.draw(option_values(fuzz_targets)), "--profile", "quick", "--clause", "DROPOUT-3"]
    result = subprocess.run([sys.executable, "-m", "refdropout", *argv], cwd=fuzz_targets, capture_output=True,
                            text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join((str(fuzz_targets), str(REPO)))})
    assert_never_passes_by_accident(argv, result.returncode, result.stdout, result.stderr)
