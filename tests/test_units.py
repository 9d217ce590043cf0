"""The units of a report run through pytest-xdist (refdropout.reports.units and its plugin): a record per
unit written whole, done units skipped, a failing or crashing unit named, never a silent gap, and the
sweep assembled from the records the document the serial sweep writes.

Exact clauses only, at the quick profile: no statistical decision is charged anywhere. Each test starts
pytest-xdist workers (a few seconds each), so there are few of them.
"""

from __future__ import annotations

import datetime
import json
import re
import textwrap
from pathlib import Path

import pytest

from helpers import run_command, run_sweep, sweep_record
from refdropout.reports.command import ReportError
from refdropout.reports.results import read_results
from refdropout.reports.sweep import report
from refdropout.reports.units import PLAN, Plan, Unit, execute, incomplete, read_plan, record_path, recorded, write_json

CLAUSES = ("DROPOUT-3", "DROPOUT-5")
DATE = datetime.datetime(2026, 1, 2, 3, 4, tzinfo=datetime.UTC)

CRASHING = textwrap.dedent('''
    import os

    def crashes(x, p, *, training, seed):
        """Broken beyond a verdict: ends its process (a segmentation fault, an abort) when it trains."""
        if training:
            os._exit(3)
        return x
''')


def records_of(path: Path) -> list[dict]:
    """The results file's records, their timings set to 1 s (the one thing two runs never share)."""
    return [record | {"seconds": 1.0} for record in read_results(path).records]


def test_a_sweep_in_two_workers_is_the_serial_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    serial, workers = tmp_path / "serial.jsonl", tmp_path / "workers.jsonl"
    run_sweep(capsys, serial, "reference", "numpy", seeds=2, clauses=CLAUSES)
    err, text = run_sweep(capsys, workers, "reference", "numpy", seeds=2, clauses=CLAUSES, options=("--workers", "2"))
    assert "running 4 units in -n 2" in err and "4 passed" in err
    assert records_of(workers) == records_of(serial)  # the same runs, appended in the same order
    assert [(r["target"], r["seed"]) for r in records_of(serial)] == [
        ("reference", 0), ("reference", 1), ("numpy", 0), ("numpy", 1)]
    for path in (serial, workers):
        path.write_text("".join(json.dumps(r) + "\n" for r in records_of(path)), encoding="utf-8")
    documents = {report(read_results(path), profile="quick", command="c", date=DATE) for path in (serial, workers)}
    assert len(documents) == 1  # byte for byte, once the timings agree
    assert "--workers 2" in text and "| reference |" in text and "| numpy |" in text
    assert not (tmp_path / "workers.units").exists()  # every record appended: the directory is removed
    err, _ = run_sweep(capsys, workers, "reference", "numpy", seeds=2, clauses=CLAUSES, options=("--workers", "2"))
    assert "no unit to run: every run is recorded" in err and "passed" not in err  # no pytest started


def test_a_unit_whose_record_exists_is_skipped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    results, directory = tmp_path / "sweep.jsonl", tmp_path / "records"
    plan = Plan("sweep", "quick", (Unit("reference", 0, CLAUSES),))
    directory.mkdir()
    write_json(record_path(directory, plan.units[0]),
               {"unit": plan.key(plan.units[0]), "record": sweep_record(clauses=CLAUSES, seconds=7.0)})
    err, _ = run_sweep(capsys, results, "reference", seeds=2, clauses=CLAUSES,
                       options=("--workers", "2", "--records", str(directory)))
    assert re.search(r"SKIPPED .*reference seed 0: done already, \S+reference-0\.json holds its record", err), err
    assert [(r["seed"], r["seconds"]) for r in read_results(results).records][0] == (0, 7.0)  # not run again
    assert not directory.exists()


def test_a_record_of_another_unit_is_not_taken(tmp_path: Path) -> None:
    plan = Plan("sweep", "quick", (Unit("reference", 0, CLAUSES),))
    other = Plan("sweep", "standard", plan.units)
    write_json(record_path(tmp_path, plan.units[0]), {"unit": other.key(plan.units[0]), "record": {}})
    assert recorded(plan, tmp_path, plan.units[0]) is None and recorded(other, tmp_path, plan.units[0]) == {}
    record_path(tmp_path, plan.units[0]).write_text('{"unit": ', encoding="utf-8")  # not whole
    assert recorded(other, tmp_path, plan.units[0]) is None
    assert record_path(tmp_path, Unit("my.module:Dropout", 3, CLAUSES)).name == "my.module%3ADropout-3.json"


def test_a_failing_and_a_crashing_unit_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A unit that raises leaves its error for the report to name; one that ends its worker leaves none,
    and is named all the same; the other units' records are there."""
    name = f"units_crash_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(CRASHING, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    good, raises, crashes = Unit("reference", 0, CLAUSES), Unit("reference", 2**64, CLAUSES), Unit(
        f"{name}:crashes", 0, CLAUSES)
    plan = Plan("sweep", "quick", (good, raises, crashes))
    executed = execute(plan, tmp_path / "records", workers=2)
    assert read_plan(tmp_path / "records" / PLAN) == plan
    assert list(executed.records) == [good] and executed.records[good]["seed"] == 0
    assert executed.missing[raises].startswith("failed: ValueError: seed must be an int in [0, 2**64)")
    assert executed.missing[crashes].startswith("no record: its worker crashed")
    with pytest.raises(ReportError, match=rf"2 of 3 units left no record \(reference seed {2**64}: failed: .*; "
                                          rf"{name}:crashes seed 0: no record: .*--allow-partial"):
        incomplete(executed, tmp_path / "records", allow_partial=False)
    incomplete(executed, tmp_path / "records", allow_partial=True)
    assert f"left out, with no record: reference seed {2**64}" in capsys.readouterr().err


def test_a_sweep_with_a_missing_unit_is_not_written_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    name = f"units_sweep_crash_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(CRASHING, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    argv = ["report", "sweep", "--profile", "quick", "--seeds", "1", "--clause", "DROPOUT-5", "--workers", "2",
            "--results", "s.jsonl", "--out", "s.md", "reference", f"{name}:crashes"]
    _, err = run_command(capsys, *argv, status=2)
    assert f"1 of 2 units left no record ({name}:crashes seed 0: no record" in err
    assert not (tmp_path / "s.md").exists()
    assert [r["target"] for r in read_results(tmp_path / "s.jsonl").records] == ["reference"]  # kept
    _, err = run_command(capsys, *argv, "--allow-partial")
    assert "running 1 units" in err and f"left out, with no record: {name}:crashes seed 0" in err
    assert "Seeds: reference: 0." in (tmp_path / "s.md").read_text(encoding="utf-8")


def test_a_detection_matrix_in_two_workers_is_the_serial_one(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Each mutant a unit whose record holds its verdicts and their decisions, read back in the catalogue's
    order: the document, p-values of statistical cells included, is the serial one's, and an interrupted
    regeneration resumes from the records it left."""
    argv = ("report", "detection", "--profile", "quick", "--mutant", "wrong-policy", "--mutant",
            "keep-threshold-in-8-bits", "--clause", "DROPOUT-10", "--clause", "DROPOUT-16")
    serial, workers, directory = tmp_path / "serial.md", tmp_path / "workers.md", tmp_path / "records"
    run_command(capsys, *argv, "--out", str(serial))
    _, err = run_command(capsys, *argv, "--out", str(workers), "--workers", "2", "--records", str(directory))
    assert "running 2 units in -n 2" in err and "2 passed" in err
    documents = [path.read_text(encoding="utf-8") for path in (serial, workers)]
    assert documents[0].split("## Detections")[1] == documents[1].split("## Detections")[1]
    assert re.search(r"(?m)^\| keep-threshold-in-8-bits \|  \| x \de-\d+ \| 1 \|$", documents[1]), documents[1]
    assert "--workers 2" in documents[1] and "2 mutants in" in documents[1]
    assert not directory.exists()  # every record read: the directory is removed
    plan = Plan("detection", "quick", (Unit("wrong-policy", 0, ("DROPOUT-10", "DROPOUT-16")),))
    directory.mkdir()
    record = {"target": "wrong-policy", "versions": {}, "device": "cpu", "seed": 0, "profile": "quick", "seconds": 7.0,
              "results": [{"clause": c, "outcome": "pass", "detail": "", "records": [], "policies": [], "title": c,
                           "seed": 1, "seconds": 1.0} for c in ("DROPOUT-10", "DROPOUT-16")]}
    write_json(record_path(directory, plan.units[0]), {"unit": plan.key(plan.units[0]), "record": record})
    _, err = run_command(capsys, *argv[:6], "--clause", "DROPOUT-10", "--clause", "DROPOUT-16", "--out",
                         str(workers), "--workers", "2", "--records", str(directory))
    assert re.search(r"SKIPPED .*wrong-policy seed 0: done already", err), err
    assert re.search(r"(?m)^\| wrong-policy \|  \|  \| \*\*0\*\* \|$", workers.read_text(encoding="utf-8"))
