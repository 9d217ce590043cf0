"""The seed sweep, ``refdropout report sweep``: runs recorded, resumed and reported.

The reference is swept over exact clauses only (no statistical decision is charged anywhere), and
a broken plain function shows that a failure under some seed reaches the report.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from helpers import run_command

BROKEN = textwrap.dedent('''
    def never_drops(x, p, *, training, seed):
        """Broken: returns x in training as in evaluation, never dropping anything."""
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        return x
''')


def sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str], *targets: str, seeds: int = 2,
          clauses: tuple[str, ...] = ("DROPOUT-3", "DROPOUT-5")) -> tuple[list[dict], str]:
    results, out = tmp_path / "sweep.jsonl", tmp_path / "sweep.md"
    chosen = [arg for clause in clauses for arg in ("--clause", clause)]
    run_command(capsys, "report", "sweep", "--profile", "quick", "--seeds", str(seeds), *chosen,
                "--results", str(results), "--out", str(out), *targets)
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    return records, out.read_text(encoding="utf-8")


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


def test_a_failure_under_a_seed_reaches_the_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    name = f"sweep_broken_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(BROKEN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    records, text = sweep(tmp_path, capsys, f"{name}:never_drops")
    assert all(r["clauses"]["DROPOUT-5"]["outcome"] == "FAIL" for r in records)
    assert "DROPOUT-5 (2)" in text
