"""The files refdropout reads from its users, handed over bad, as a user would meet them.

Two files come from users: the seed sweep's results file (``refdropout report sweep --results``,
refdropout.reports.results), written by sweeps that may be interrupted or run two at a time, and
the pytest plugin's known-deviations file (``--refdropout-known-deviations``,
refdropout.conformance.deviations), written by people in any editor. A bad line of the results
file is named (FILE:LINE and why, on stderr and in the report) and skipped, never fatal; a
known-deviations file that is not UTF-8 is a usage error naming the file and line, and a UTF-8
byte-order mark is accepted. The files a report writes are checked before any run: one that
cannot be written is exit 2 naming it. Hypothesis throws random bytes at both files.
"""

from __future__ import annotations

import codecs
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from helpers import REPO, exact, results_line, run_command, run_plugin, run_sweep, sweep_record
from refdropout.conformance.deviations import read_deviations
from refdropout.reports.document import cut
from refdropout.reports.results import read_results

pytest_plugins = ["pytester"]

RECORD = results_line(sweep_record())  # reference, seed 0, DROPOUT-4, quick: what the sweeps below ask for


def permissions_bind() -> bool:
    """Whether a file's permissions bind this process: not so for root (CAP_DAC_OVERRIDE)."""
    with tempfile.TemporaryDirectory() as directory:
        probe = Path(directory) / "probe"
        probe.touch(mode=0o400)
        return not os.access(probe, os.W_OK)


UNBOUND = not permissions_bind()
TRACEBACK = re.compile(r"Traceback|INTERNALERROR")


def skipped_notes(err: str) -> list[str]:
    """The lines of the results file a sweep said it skipped (``FILE:LINE: why``), from its stderr."""
    return [line.removeprefix("skipped ") for line in err.splitlines() if line.startswith("skipped ")]


# ---- the sweep's results file -------------------------------------------------------------------


@pytest.mark.parametrize(("line", "why"), [
    pytest.param(RECORD[:40], "the last line is cut off (an interrupted write?): not JSON: Unterminated string "
                 "starting at (column 36)", id="truncated last line"),
    pytest.param(b'{"target": "reference", "seed": \xff}\n', "not UTF-8 text (byte 33 of the line is 0xff)",
                 id="invalid UTF-8"),
    pytest.param(results_line({**sweep_record(), "seed": "0"}),
                 'not a sweep record (seed must be an integer in [0, 2**64), got "0")', id="seed as a string"),
    pytest.param(results_line({**sweep_record(), "seed": True}),
                 "not a sweep record (seed must be an integer in [0, 2**64), got true)", id="seed as a boolean"),
    pytest.param(results_line({"tool": "another", "version": 3}),
                 "not a sweep record (no target, seed, profile, seconds, versions, known_deviations, clauses)",
                 id="foreign line"),
    pytest.param(b"[1, 2]\n", "not a sweep record (a JSON object is expected, got [1, 2])", id="not an object"),
    pytest.param(results_line({**sweep_record(), "seconds": float("nan")}),
                 "not a sweep record (seconds must be a finite number >= 0, got NaN)", id="NaN seconds"),
    pytest.param(results_line({**sweep_record(), "seed": 2**64}),
                 "not a sweep record (seed must be an integer in [0, 2**64), got 18446744073709551616)",
                 id="seed out of range"),
    pytest.param(results_line(sweep_record(outcome="maybe")),
                 "not a sweep record (clauses: DROPOUT-4: outcome must be one of 'pass', 'FAIL', 'not applicable', "
                 "'differs by declared policy', 'could not check', got \"maybe\")", id="unknown outcome"),
    pytest.param(results_line(sweep_record(clauses=("dropout 4",))),
                 'not a sweep record (clauses: "dropout 4" is not a clause ID)', id="not a clause ID"),
    pytest.param(b"1" * 5000 + b"\n", f"not JSON this reader takes: an integer of over {sys.get_int_max_str_digits()} "
                 "digits", id="huge number"),
    pytest.param(b"[" * 100_000 + b"\n", "not JSON this reader takes: arrays or objects nested deeper than the "
                 "interpreter's stack", id="deep nesting"),
    pytest.param(b"\x00\x00\n", "not JSON: Expecting value (column 1)", id="NUL bytes"),
])
def test_a_bad_line_of_the_results_file_is_named_and_skipped(line: bytes, why: str, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    results.write_bytes(RECORD + line)
    err, report = run_sweep(capsys, results, "reference")  # seed 0 is recorded on line 1: nothing runs
    assert skipped_notes(err) == [f"{results}:2: {why}"]
    assert f"- {cut(f'{results}:2: {why}')}" in report
    assert "Seeds: reference: 0." in report  # the good line is counted all the same
    assert results.read_bytes() == RECORD + line


def test_an_interrupted_write_leaves_one_cut_off_line_which_the_next_run_skips(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    results.write_bytes(RECORD + RECORD[:40])
    err, report = run_sweep(capsys, results, "reference", seeds=2)  # seed 1 runs, and its record is appended
    assert skipped_notes(err) == [f"{results}:2: the last line is cut off (an interrupted write?): not JSON: "
                                  "Unterminated string starting at (column 36)"]
    first, cut_off, appended, end = results.read_bytes().split(b"\n")
    assert (first + b"\n", cut_off, end) == (RECORD, RECORD[:40], b"")  # the new record did not continue line 2
    assert read_results(results).records[1]["seed"] == 1 and appended.startswith(b'{"target": "reference", "seed": 1')
    assert "Seeds: reference: 0, 1." in report
    assert cut(f"{results}:2: not JSON") in report  # no longer the last line, still skipped


def test_a_byte_order_mark_windows_line_ends_and_blank_lines_are_read(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    windows = RECORD.replace(b"\n", b"\r\n")
    results.write_bytes(codecs.BOM_UTF8 + windows + b"\n  \n" + results_line(sweep_record(seed=1)))
    err, report = run_sweep(capsys, results, "reference", seeds=2)  # both seeds are recorded: nothing runs
    assert skipped_notes(err) == [] and "Skipped" not in report
    assert "Seeds: reference: 0, 1." in report


def test_many_bad_lines_are_counted_past_the_first_twenty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    results.write_bytes(RECORD + b"oops\n" * 25)
    err, report = run_sweep(capsys, results, "reference")
    notes = skipped_notes(err)
    assert notes[:20] == [f"{results}:{n}: not JSON: Expecting value (column 1)" for n in range(2, 22)]
    assert notes[20:] == ["... and 5 more lines skipped"]
    assert "Skipped, holding no record (25 lines of the results file):" in report and "and 5 more" in report


@pytest.mark.skipif(UNBOUND, reason="file permissions do not bind this process (root)")
def test_a_results_file_that_cannot_be_read_is_exit_2_before_any_run(tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    results.write_bytes(RECORD)
    results.chmod(0o200)
    _, err = run_command(capsys, "report", "sweep", "reference", "--clause", "DROPOUT-4", "--seeds", "2",
                         "--results", str(results), "--out", str(tmp_path / "sweep.md"), status=2)
    assert err == (f"refdropout report sweep: error: cannot read the results file {results}: Permission denied\n")


# ---- the files a report writes ------------------------------------------------------------------

# each report asked for as little work as it takes, were it to run
REPORTS = {
    "matrix": ["reference", "--profile", "quick", "--clause", "DROPOUT-4"],
    "detection": ["--profile", "quick", "--mutant", "no-rescale", "--clause", "DROPOUT-4"],
    "sweep": ["reference", "--profile", "quick", "--clause", "DROPOUT-4", "--seeds", "1"],
    "sensitivity": ["--replicates", "1", "--end-to-end-replicates", "0"],
}


def refused(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run ``refdropout ARGV``, which must be a usage error (exit 2): its last line of stderr, once
    it is clear that nothing ran (no progress line, which ends in seconds)."""
    with pytest.raises(SystemExit) as exit_:
        run_command(capsys, *argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert not re.search(r"\d s$", err, re.MULTILINE), err
    return err.splitlines()[-1]


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize("where", ["a directory", "a missing directory", "a file as directory"])
def test_a_document_that_cannot_be_written_is_refused_before_any_run(report: str, where: str, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    out, why = {"a directory": (tmp_path, "it is a directory"),
                "a missing directory": (tmp_path / "missing" / "r.md", f"its directory {tmp_path / 'missing'} does "
                                        "not exist"),
                "a file as directory": (tmp_path / "file" / "r.md", f"its directory {tmp_path / 'file'} does not "
                                        "exist")}[where]
    others = {"sweep": ["--results", str(tmp_path / "r.jsonl")], "sensitivity": ["--plot", str(tmp_path / "r.png")]}
    line = refused(capsys, "report", report, *REPORTS[report], *others.get(report, []), "--out", str(out))
    assert line == f"refdropout report {report}: error: argument --out: cannot write {out}: {why}"
    assert not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize(("report", "option"), [("sweep", "--results"), ("sensitivity", "--plot")])
def test_every_file_a_report_writes_is_checked_before_any_run(report: str, option: str, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, "report", report, *REPORTS[report], option, str(tmp_path), "--out", str(tmp_path / "r.md"))
    assert line == f"refdropout report {report}: error: argument {option}: cannot write {tmp_path}: it is a directory"
    assert not (tmp_path / "r.md").exists()


@pytest.mark.skipif(UNBOUND, reason="file permissions do not bind this process (root)")
def test_a_document_without_write_permission_is_refused_before_any_run(tmp_path: Path,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.md"
    out.write_text("", encoding="utf-8")
    out.chmod(0o400)
    line = refused(capsys, "report", "matrix", *REPORTS["matrix"], "--out", str(out))
    assert line == f"refdropout report matrix: error: argument --out: cannot write {out}: no permission to write it"


@pytest.mark.parametrize("report", ["matrix", "detection", "sweep"])
def test_a_clause_pattern_that_matches_nothing_is_a_usage_error(report: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    line = refused(capsys, "report", report, "--clause", "NOPE", "--out", str(tmp_path / "r.md"))
    assert line == (f"refdropout report {report}: error: --clause 'NOPE' matches no clause with a check "
                    "(try `refdropout spec`)")


@pytest.mark.parametrize(("argv", "status", "last_line"), [
    (["--clause", "NOPE"], 2, "refdropout report sweep: error: --clause 'NOPE' matches no clause with a check "
                              "(try `refdropout spec`)"),
    (["--out", "."], 2, "refdropout report sweep: error: argument --out: cannot write .: it is a directory"),
    (["--clause", "DROPOUT-4"], 0, "wrote sweep.md"),
], ids=["unknown clause", "unwritable out", "bad lines"])
def test_the_sweep_as_a_process_exits_with_one_line_and_no_traceback(argv: list[str], status: int, last_line: str,
                                                                      tmp_path: Path) -> None:
    (tmp_path / "sweep.jsonl").write_bytes(RECORD + b"\xff\xfe\x00garbage\n" + RECORD[:50])
    command = [sys.executable, "-m", "refdropout", "report", "sweep", "reference", "--profile", "quick", "--seeds", "1",
               "--results", "sweep.jsonl", "--out", "sweep.md", *argv]
    result = subprocess.run(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == status and not TRACEBACK.search(result.stderr), result.stderr
    assert result.stderr.splitlines()[-1] == last_line


# ---- the known-deviations file of the pytest plugin ---------------------------------------------


def known_deviations(pytester: pytest.Pytester, content: bytes) -> pytest.RunResult:
    """The plugin run on DROPOUT-4 against the reference, with ``content`` as its known deviations."""
    path = pytester.path / "deviations.txt"
    path.write_bytes(content)
    return run_plugin(pytester, "--refdropout-impl", "reference", "--refdropout-profile", "quick",
                       "--refdropout-clause", "DROPOUT-4", "--refdropout-known-deviations", str(path))


@pytest.mark.parametrize(("content", "message"), [
    ("# ours\nDROPOUT-4  différent: p=True is accepted\n".encode("latin-1"),
     "*--refdropout-known-deviations: *deviations.txt:2: not UTF-8 text (byte 16 of the line is 0xe9)"),
    ("DROPOUT-4  p=True is accepted\n".encode("utf-16"),
     "*deviations.txt:1: not UTF-8 text (byte 1 of the line is 0xff); the file is UTF-16 (it starts with a "
     "UTF-16 byte-order mark): save it as UTF-8"),
    (b"DROPOUT-4\n", "*deviations.txt:1: a known deviation needs a reason*"),
], ids=["Latin-1", "UTF-16", "no reason"])
def test_a_known_deviations_file_that_is_not_utf8_is_a_usage_error(pytester: pytest.Pytester, content: bytes,
                                                                   message: str) -> None:
    result = known_deviations(pytester, content)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not TRACEBACK.search(result.stdout.str() + result.stderr.str())


@pytest.mark.parametrize("where", ["missing", "a directory"])
def test_a_known_deviations_file_that_cannot_be_read_is_a_usage_error(pytester: pytest.Pytester, where: str) -> None:
    path = pytester.path / "deviations.txt"
    if where == "a directory":
        path.mkdir()
    result = run_plugin(pytester, "--refdropout-impl", "reference", "--refdropout-clause", "DROPOUT-4",
                         "--refdropout-known-deviations", str(path))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--refdropout-known-deviations: cannot read {path}: *"])


def test_a_byte_order_mark_is_accepted_and_a_stale_prefix_still_reported(pytester: pytest.Pytester) -> None:
    result = known_deviations(pytester, codecs.BOM_UTF8 + b"DROPOUT-4  fixed since\r\nNOSUCH-1  a stale entry\r\n")
    result.assert_outcomes(xpassed=1)  # the reference passes DROPOUT-4: the first prefix matched it
    result.stdout.fnmatch_lines(["*refdropout: known deviations that match no clause*",
                                 "*deviations.txt:2: 'NOSUCH-1' matches no clause with a check (a stale entry)"])
    assert "'\\ufeff" not in result.stdout.str()


# ---- random bytes at both files -----------------------------------------------------------------

# lines as sweeps and people get them wrong; a line never holds a valid record
BAD_LINES = st.one_of(
    st.binary(max_size=60),
    st.integers(1, len(RECORD) - 2).map(lambda n: RECORD[:n]),  # cut off: a JSON object missing its end
    st.sampled_from([
        results_line({**sweep_record(), "seed": "0"}), results_line({**sweep_record(), "seed": -1}),
        results_line({**sweep_record(), "seconds": float("inf")}), results_line({**sweep_record(), "profile": "fast"}),
        results_line({**sweep_record(), "target": "a\nb"}), results_line({**sweep_record(), "clauses": {}}),
        results_line({**sweep_record(), "known_deviations": "DROPOUT-3"}),
        results_line(sweep_record(clauses=("DROPOUT-4",)) | {"versions": {"framework": 2}}),
        RECORD.replace(b'"decisions": 0', b'"decisions": 1e400'), RECORD.replace(b'"min_p": null', b'"min_p": 2'),
        b"1" * 5000, b"[" * 50_000, b"\x00" * 8, codecs.BOM_UTF8 + RECORD, "DROPOUT-4 x".encode("utf-16"),
    ]),
).map(lambda line: line.rstrip(b"\n"))
FILES = st.tuples(st.sampled_from([b"", codecs.BOM_UTF8]), st.lists(BAD_LINES, max_size=8), st.booleans()).map(
    lambda t: t[0] + RECORD + b"\n".join(t[1]) + (b"\n" if t[2] else b""))


def bad_lines(content: bytes) -> list[int]:
    """The numbers of the lines of a results file that are not blank (every line after the first is bad)."""
    lines = content.removeprefix(codecs.BOM_UTF8).split(b"\n")
    lines = lines[:-1] if lines[-1] == b"" else lines

    def blank(line: bytes) -> bool:
        try:
            return not line.decode("utf-8").strip()
        except UnicodeDecodeError:
            return False

    return [number for number, line in enumerate(lines, start=1) if number > 1 and not blank(line)]


@given(content=FILES)
@exact(40, tolerate=[HealthCheck.function_scoped_fixture])
def test_random_bytes_in_the_results_file_are_named_and_skipped(content: bytes, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    results.write_bytes(content)
    err, report = run_sweep(capsys, results, "reference")  # no traceback, exit 0; seed 0 is recorded: nothing runs
    bad = bad_lines(content)
    notes = skipped_notes(err)
    assert [note.partition(": ")[0] for note in notes[:20]] == [f"{results}:{n}" for n in bad[:20]], err
    assert notes[20:] == ([f"... and {len(bad) - 20} more lines skipped"] if len(bad) > 20 else [])
    assert "Seeds: reference: 0." in report
    assert (f"Skipped, holding no record ({len(bad)} lines" in report) == bool(bad)


@given(content=st.one_of(st.binary(max_size=200), FILES, st.text(max_size=100).map(lambda t: t.encode("utf-8"))))
@exact(150, tolerate=[HealthCheck.function_scoped_fixture])
def test_random_bytes_in_either_file_are_read_or_refused_by_line(content: bytes, tmp_path: Path) -> None:
    """The readers alone: every line of a results file is a record or skipped by number; a deviations
    file is read or refused as a usage error naming the file and line."""
    path = tmp_path / "file"
    path.write_bytes(content)
    results = read_results(path)
    lines = content.removeprefix(codecs.BOM_UTF8).split(b"\n")
    assert len(results.records) + len(results.skipped) <= len(lines)
    assert all(note.startswith(f"{path}:{n}: ") for n, note in zip(results.skipped, results.notes()))
    try:
        deviations = read_deviations(path)
    except pytest.UsageError as error:
        assert re.match(rf"--refdropout-known-deviations: {re.escape(str(path))}:\d+: ", str(error)), error
    else:
        assert all(d.prefix and d.reason and 1 <= d.line <= len(lines) for d in deviations)


@given(content=st.one_of(st.binary(max_size=120), st.text(max_size=80).map(lambda t: t.encode("utf-8")),
                         st.sampled_from([codecs.BOM_UTF8 + b"DROPOUT-4 why\n", b"DROPOUT-4\x00 why\n\xff"])))
@exact(25, tolerate=[HealthCheck.function_scoped_fixture])
def test_random_bytes_in_the_known_deviations_file_never_crash_the_plugin(pytester: pytest.Pytester,
                                                                          content: bytes) -> None:
    result = known_deviations(pytester, content)
    output = result.stdout.str() + result.stderr.str()
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.USAGE_ERROR) and not TRACEBACK.search(output), output
    if result.ret == pytest.ExitCode.USAGE_ERROR:
        result.stderr.fnmatch_lines(["*--refdropout-known-deviations: *deviations.txt:*: *"])
