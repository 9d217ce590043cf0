"""Tests of the published matrix, ``refdropout report matrix``.

The matrix is generated for the reference, two plain functions from a module in a temporary
directory (one correct, one that raises) and a built-in target whose framework
is not installed, on two exact clauses at the quick profile: no framework is needed, and the
document's structure is checked, not the suite's verdicts (tests/test_cli.py checks those).
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import numpy as np
import pytest

from helpers import run_command
from refdropout.adapters import TARGETS, BuiltinTarget

CLAUSES = ["--clause", "DROPOUT-2", "--clause", "DROPOUT-3", "--clause", "DROPOUT-5"]  # exact checks

USER_MODULE = textwrap.dedent('''
    import numpy as np

    def good(x, p, *, training, seed):
        """Correct inverted dropout."""
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        q = 1.0 - p
        if not training or q == 1.0:
            return x
        keep = np.random.default_rng(seed).random(x.shape) < q
        return x * keep / q if q > 0.0 else x * keep

    def crashes(x, p, *, training, seed):
        """Broken: raises in training mode, its message coloured for a terminal, with a | and a *."""
        if training:
            raise RuntimeError("\\x1b[1mnot | implemented\\x1b[0m *yet*")
        return x
''')


@pytest.fixture
def document(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> tuple[str, list[str]]:
    """(the matrix's text, the arguments it was generated with)."""
    name = f"matrix_dropout_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(TARGETS, "absentframe", BuiltinTarget("absentframe_adapter:Dropout", "absentframe_xyz",
                                                              "pip install absentframe-xyz"))
    (tmp_path / "out").mkdir()  # a report writes into a directory that exists; it creates none
    argv = ["--profile", "quick", "--seed", "7", *CLAUSES, "--out", "out/matrix.md",
            "reference", f"{name}:good", f"{name}:crashes", "absentframe"]
    run_command(capsys, "report", "matrix", *argv)
    return (tmp_path / "out" / "matrix.md").read_text(encoding="utf-8"), argv


def tables(text: str) -> list[list[list[str]]]:
    """Every markdown table of ``text``: its rows, each a list of cells (header first, rule dropped)."""
    found, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append([cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]])
        elif current:
            found.append([row for row in current if not set("".join(row)) <= {"-"}])
            current = []
    return found


def test_header_gives_the_command_profile_seed_and_versions(document: tuple[str, list[str]]) -> None:
    text, argv = document
    assert "refdropout report matrix " + " ".join(argv) in text
    assert "profile `quick`" in text and "master seed 7" in text
    assert re.search(r"Python 3\.\d+\.\d+", text)
    versions = tables(text)[0]
    assert versions[0] == ["target", "framework", "version", "seconds", "imported"]
    assert [row[0] for row in versions[1:]] == ["reference", *(a for a in argv[-3:])]
    assert versions[4][2] == "not installed"
    assert versions[1][4] == "" and versions[2][4] == f"numpy {np.__version__}"  # what the user's module imports


def test_verdict_table_has_clauses_down_the_side_and_targets_across(document: tuple[str, list[str]]) -> None:
    text, argv = document
    verdicts = tables(text)[1]
    assert verdicts[0] == ["clause", "title", "reference", argv[-3], argv[-2], "absentframe[^absentframe]"]
    assert verdicts[1][0] == "**dropout**"  # the chapter, then its clauses
    rows = {row[0]: row for row in verdicts[2:]}
    assert rows["DROPOUT-2"][2:5] == ["pass", "n/a", "n/a"]  # it needs dropout_with_mask
    assert rows["DROPOUT-5"][2:5] == ["pass", "pass", "FAIL"]
    assert all(row[5] == "not installed" for row in verdicts[2:])
    assert all(rows[clause][1] for clause in ("DROPOUT-2", "DROPOUT-3", "DROPOUT-5"))  # titles
    assert rows["**total**"][2:5] == ["3 pass", "2 pass, 1 n/a", "2 FAIL, 1 n/a"]


def test_policy_table_and_failures(document: tuple[str, list[str]]) -> None:
    text, argv = document
    policies = tables(text)[2]
    assert policies[0] == ["target", "scaling", "nonfinite", "gate_masks", "p_one", "p_validation", "seed_bits",
                           "subnormals", "scale_format", "algorithm", "stream_keys", "reproducible_across", "dtypes"]
    defaults = ["inverted", "multiply", "shared", "zeros", "strict", "64", "kept", "exact", "None", "None", "None"]
    assert policies[1] == ["reference", *defaults, "float64, float32, float16, bfloat16"]
    assert policies[2][1:] == [*defaults, "float64, float32"]
    assert policies[4][1] == "not installed"
    failures = text.split("## What failed and why", 1)[1]
    line = (rf"^- {re.escape(argv[-2])} DROPOUT-5: dropout\(x: float64 \(8, 16, 32\), p=1\.0, training=True, "
            rf"seed=[0-9]+\) raised RuntimeError: not \| implemented \\\*yet\\\*$")
    assert re.search(line, failures, re.M)  # one line, colour codes dropped, markdown escaped
    assert "[^absentframe]: absentframe not installed: `pip install absentframe-xyz`" in text


def test_a_bad_clause_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_command(capsys, "report", "matrix", "--clause", "NOSUCH-1", "--out", str(tmp_path / "m.md"), "reference")
    assert exit_.value.code == 2
    assert not (tmp_path / "m.md").exists()


def test_policy_values_other_than_the_reference_s_are_bold() -> None:
    from refdropout.contract import Policies
    from refdropout.reports.matrix import Column, _policies

    table = _policies([Column("x", policies=Policies(p_one="refused", seed_bits=32), dtypes=("float64",))])
    assert ("| x | inverted | multiply | shared | **refused** | strict | **32** | kept | exact | None | None | None "
            "| float64 |" in table)


def test_the_policy_note_names_what_the_command_line_declared() -> None:
    from refdropout.contract import Policies
    from refdropout.reports.matrix import Column, _policy_note

    sources = {"nonfinite": "command line", "seed_bits": "target", "dtypes": "command line", "name": "default"}
    declared = Column("m:f", policies=Policies(nonfinite="select", seed_bits=32), dtypes=("float32",), sources=sources)
    note = _policy_note([Column("reference", policies=Policies(), sources={"nonfinite": "default"}), declared])
    assert note.endswith("Declared on the command line (`--policy`, `--dtypes`), over the target's own: m:f "
                         "nonfinite=select, dtypes float32.")
    assert "command line" not in _policy_note([Column("reference", policies=Policies())])


def test_a_matrix_in_two_workers_is_the_serial_matrix(document: tuple[str, list[str]], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Each target a unit with its column recorded: the same document, timings and the command apart; the
    column of a target that does not load is recorded too. (The workers do not see the fixture's
    monkeypatched target "absentframe": a module that does not exist stands for it.)"""
    _, argv = document
    for name, workers in (("serial", []), ("workers", ["--workers", "2"])):
        run_command(capsys, "report", "matrix", *argv[:-6], "--out", f"out/{name}.md", *workers, *argv[-4:-1],
                    "absent_module_xyz:dropout")
    serial, workers = ((tmp_path / "out" / f"{name}.md").read_text(encoding="utf-8") for name in ("serial", "workers"))

    def timeless(document: str) -> str:
        """The document without its timings: each target's seconds, and the minute it was generated in (the
        two runs may straddle a minute)."""
        document = re.sub(r"^on \d{4}-\d\d-\d\d \d\d:\d\d UTC", "on DATE", document.split("```", 2)[2], flags=re.M)
        return re.sub(r"\| [0-9.]+ \|([^|\n]*\|)$", r"| s |\1", document, flags=re.M)  # seconds

    assert timeless(workers) == timeless(serial) and "--workers 2" in workers
    assert "absent_module_xyz:dropout did not load" in workers and "FAIL" in workers
    assert not (tmp_path / "out" / "workers.units").exists()
