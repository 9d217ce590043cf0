"""The seed sweep, ``refdropout report sweep``: runs recorded, resumed and reported, each counted once
(also when two sweeps write one results file at once).

The reference is swept over exact clauses only (no statistical decision is charged anywhere), and
a broken plain function shows that a failure under some seed reaches the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from helpers import REPO, results_line, run_sweep, sweep_record
from refdropout import __version__
from refdropout.conformance import Outcome
from refdropout.reports.results import merge, problem_of

BROKEN = textwrap.dedent('''
    def never_drops(x, p, *, training, seed):
        """Broken: returns x in training as in evaluation, never dropping anything."""
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        return x
''')


def sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str], *targets: str, seeds: int = 2,
          clauses: tuple[str, ...] = ("DROPOUT-3", "DROPOUT-5")) -> tuple[list[dict], str]:
    results = tmp_path / "sweep.jsonl"
    _, text = run_sweep(capsys, results, *targets, seeds=seeds, clauses=clauses)
    return [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()], text


def test_each_target_and_seed_is_one_record_and_a_rerun_resumes(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    records, text = sweep(tmp_path, capsys, "reference")
    assert [(r["target"], r["seed"]) for r in records] == [("reference", 0), ("reference", 1)]
    assert all(set(r["clauses"]) == {"DROPOUT-3", "DROPOUT-5"} for r in records)
    assert all(c["outcome"] == "pass" for r in records for c in r["clauses"].values())
    again, _ = sweep(tmp_path, capsys, "reference", seeds=3)  # seeds 0 and 1 are done: only seed 2 runs
    assert [r["seed"] for r in again] == [0, 1, 2]
    assert "| reference |" in text and "| none |" in text


def test_a_clause_added_later_is_filled_in_for_every_recorded_run(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    sweep(tmp_path, capsys, "reference", clauses=("DROPOUT-3",))
    records, text = sweep(tmp_path, capsys, "reference")  # DROPOUT-3 is done under seeds 0 and 1: only DROPOUT-5 runs
    assert [(r["seed"], set(r["clauses"])) for r in records] == [
        (0, {"DROPOUT-3"}), (1, {"DROPOUT-3"}), (0, {"DROPOUT-5"}), (1, {"DROPOUT-5"})]
    assert "| reference | " in text and " | 2 | " in text  # two runs of two clauses each, not four


def test_runs_under_declarations_of_the_command_line_are_runs_of_their_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--policy`` and ``--dtypes`` reach the runs and their records; the same target and seed under
    other declarations is not taken as done, and is reported on a row of its own, named by its options."""
    results = tmp_path / "sweep.jsonl"
    run_sweep(capsys, results, "reference", clauses=("DROPOUT-10",))
    declared = ("--policy", "nonfinite=select", "--dtypes", "float64,float32")
    _, text = run_sweep(capsys, results, "reference", clauses=("DROPOUT-10",), options=declared)
    plain, selected = (json.loads(line) for line in results.read_text(encoding="utf-8").splitlines())
    assert "declared" not in plain and plain["clauses"]["DROPOUT-10"]["outcome"] == "pass"
    assert selected["declared"] == {"policies": [["nonfinite", "select"]], "dtypes": ["float64", "float32"]}
    assert selected["clauses"]["DROPOUT-10"]["outcome"] == "FAIL"  # the reference multiplies: the declaration is wrong
    assert problem_of(selected) == ""
    assert "| reference |" in text and "| reference --policy nonfinite=select --dtypes float64,float32 |" in text
    _, again = run_sweep(capsys, results, "reference", clauses=("DROPOUT-10",), options=declared)
    assert len(results.read_text(encoding="utf-8").splitlines()) == 2  # both runs are recorded: nothing ran
    assert again.partition(" UTC ")[2] == text.partition(" UTC ")[2]  # the same report (its minute apart)


def test_a_record_whose_declarations_are_malformed_is_skipped() -> None:
    for wrong in ({"policies": [["nonfinite"]]}, {"dtypes": "float64"}, {"seeds": [1]}, ["select"]):
        assert "declared must be" in problem_of(sweep_record() | {"declared": wrong})


def test_a_failure_under_a_seed_reaches_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    name = f"sweep_broken_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    records, text = sweep(tmp_path, capsys, f"{name}:never_drops")
    assert all(r["clauses"]["DROPOUT-5"]["outcome"] == "FAIL" for r in records)
    assert "DROPOUT-5 (2)" in text


def test_every_record_a_sweep_writes_is_one_it_reads() -> None:
    """Known deviations are whatever an adapter declares, e.g. a chapter; the outcomes are every Outcome."""
    assert problem_of(sweep_record() | {"known_deviations": ["DROPOUT", "GRADIENTS-2"]}) == ""
    assert all(problem_of(sweep_record(outcome=outcome.value)) == "" for outcome in Outcome)


def test_a_run_recorded_twice_is_counted_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results = tmp_path / "sweep.jsonl"
    results.write_bytes(results_line(sweep_record(seconds=3.0)) * 2 + results_line(sweep_record(seed=1, seconds=5.0)))
    _, text = run_sweep(capsys, results, "reference", seeds=2)  # both seeds are recorded: nothing runs
    assert f"| reference | {__version__} | 2 | 4.0 |" in text  # two runs of 3 s and 5 s, not three
    assert "Seeds: reference: 0, 1." in text and "each counted once: 1." in text


def test_overlapping_records_keep_the_first_result_and_share_their_seconds() -> None:
    first = sweep_record(clauses=("DROPOUT-3", "DROPOUT-4"), seconds=2.0)
    second = sweep_record(clauses=("DROPOUT-4", "DROPOUT-5"), seconds=4.0, outcome="FAIL")
    runs, repeated = merge([first, second], "quick")
    assert repeated == 1 and len(runs) == 1
    assert {c: r["outcome"] for c, r in runs[0]["clauses"].items()} == {
        "DROPOUT-3": "pass", "DROPOUT-4": "pass", "DROPOUT-5": "FAIL"}
    assert runs[0]["seconds"] == 2.0 + 4.0 / 2  # the second record's one new clause of two


def test_two_sweeps_writing_one_file_count_each_target_and_seed_once(tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Two sweeps started together on one results file: every line they write is a whole record, and
    each report counts each seed once, its seconds those of the first record of it."""
    results, seeds = tmp_path / "sweep.jsonl", 12
    command = [sys.executable, "-m", "refdropout", "report", "sweep", "reference", "--profile", "quick",
               "--clause", "DROPOUT-4", "--seeds", str(seeds), "--results", str(results)]
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    sweeps = [subprocess.Popen([*command, "--out", str(tmp_path / f"{name}.md")], cwd=tmp_path, env=environment,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    for process in sweeps:
        _, err = process.communicate(timeout=600)
        assert process.returncode == 0 and "Traceback" not in err, err
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    assert all(problem_of(record) == "" for record in records)
    first = {}
    for record in records:
        first.setdefault(record["seed"], record["seconds"])
    assert sorted(first) == list(range(seeds))
    mean = sum(first.values()) / seeds
    _, again = run_sweep(capsys, results, "reference", seeds=seeds)  # every seed is recorded: nothing runs
    for text in [(tmp_path / f"{name}.md").read_text(encoding="utf-8") for name in ("a", "b")] + [again]:
        assert f"| reference | {__version__} | {seeds} | {mean:.1f} |" in text, text
        assert f"Seeds: reference: {', '.join(map(str, range(seeds)))}." in text
    assert (f"each counted once: {len(records) - seeds}." in again) == (len(records) > seeds)
