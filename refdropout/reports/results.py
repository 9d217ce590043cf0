"""The seed sweep's results file: one JSON line per run, appended whole, read back line by line.

A record is one run of some clauses against a target under a master seed (:func:`record_of`):

    {"target": ..., "seed": ..., "profile": ..., "seconds": ..., "versions": {...},
     "known_deviations": [...], "clauses": {"DROPOUT-3": {"outcome": ..., "min_p": ..., "decisions": ...}, ...},
     "declared": {"policies": [["nonfinite", "select"]], "dtypes": ["float64"]}}
``declared``, there only when the sweep was given ``--policy`` or ``--dtypes``, is what the command line
declared on top of the target's own declarations: runs of one target under other declarations are
other runs (:func:`run_name`), never merged with these.

Sweeps may run for hours, be interrupted, and run two at a time on one file, so the file is
written and read defensively:

- :func:`append` writes a record as one line in one ``os.write`` on a descriptor opened with
  ``O_APPEND``, holding an exclusive ``flock`` on the file: two sweeps never interleave their
  lines. A record never continues a line cut off by an interrupted write: where the file does not
  end with a newline, one is written first, so the cut-off line stays a line of its own.
- :func:`read_results` reads under a shared ``flock`` (it never sees half of a line being
  written) and keeps each line that is a valid record. Every other line (bytes that are not UTF-8,
  text that is not JSON, the cut-off last line of an interrupted write, JSON of another shape, a
  ``seed`` stored as a string) is skipped, with why (:meth:`Results.notes`: ``FILE:LINE: why``);
  never fatal, never dropped without a word. Blank lines hold no record and are passed over.
- :func:`merge` counts each (target, seed, clause) once: two sweeps started together both run what
  the file lacked when they started, and both record it. The first record of a clause is the one
  counted; a record's seconds count in the proportion of its clauses that were new, so a run
  recorded twice does not double the time reported.

``flock`` is POSIX: the sweep runs where the suite's CI does.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..conformance.runner import Run
from ..conformance.verdict import Outcome
from ..options import PROFILE, SEED_BOUND
from ..textfiles import Line, read_lines
from .command import ReportError

__all__ = ["Results", "append", "merge", "problem_of", "read_results", "record_of", "run_name"]

CLAUSE_ID = re.compile(r"[A-Z][A-Z0-9_]*-[1-9][0-9]*")  # the form of a clause ID (spec/README.md)
DECISIONS_BOUND = 2**63  # decisions per clause and run: far above any plan, small enough to sum and print
SHOWN = 60  # a wrong value is shown up to this many characters in a note
OUTCOMES = tuple(outcome.value for outcome in Outcome)


def record_of(run: Run, known: dict[str, str], declared: dict | None = None) -> dict:
    """One run as a JSON-ready record: the outcome and smallest p-value of every clause; ``declared``:
    the command line's declarations it ran under (refdropout.reports.units.declared_by), kept when any."""
    clauses = {}
    for result in run.results:
        p_values = [r.p_value for r in result.verdict.records]
        clauses[result.verdict.clause] = {"outcome": result.verdict.outcome.value,
                                          "min_p": min(p_values) if p_values else None,
                                          "decisions": len(p_values)}
    return {"target": run.target, "seed": run.seed, "profile": run.plan.profile, "seconds": round(run.seconds, 2),
            "versions": run.versions, "known_deviations": sorted(known), "clauses": clauses,
            **({"declared": declared} if declared else {})}


def run_name(record: dict) -> str:
    """The name a record's runs go by in the report: its target, and what the command line declared
    for it where it declared anything, e.g. ``numpy --policy nonfinite=select --dtypes float64``."""
    declared = record.get("declared", {})
    options = [f"--policy {name}={value}" for name, value in declared.get("policies", ())]
    options += [f"--dtypes {','.join(declared['dtypes'])}"] if declared.get("dtypes") else []
    return " ".join([record["target"], *options])


# ---- what a record is ---------------------------------------------------------------------------


def _real(value: Any, low: float, high: float) -> bool:
    """A JSON number (not a boolean) in [low, high]; NaN and infinities are not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high


def _version(value: Any) -> bool:
    """A version as a record holds it: a printable string, or null where it is unknown."""
    return value is None or _text(value)


def _integer(value: Any, bound: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < bound


def _text(value: Any) -> bool:
    """A non-empty string of printable characters: safe in a markdown table cell."""
    return isinstance(value, str) and value != "" and value.isprintable()


# each field of a record: what it must be, and the test of it
FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "target": ("a non-empty printable string", _text),
    "seed": ("an integer in [0, 2**64)", lambda v: _integer(v, SEED_BOUND)),
    "profile": (f"one of {', '.join(PROFILE.choices)}", lambda v: isinstance(v, str) and v in PROFILE.choices),
    "seconds": ("a finite number >= 0", lambda v: _real(v, 0.0, sys.float_info.max)),
    "versions": ("an object of strings (or null), or of such objects (the frameworks a target imports)",
                 lambda v: isinstance(v, dict) and all(
                     _version(x) or isinstance(x, dict) and all(map(_version, x.values())) for x in v.values())),
    # what an adapter declares: clause IDs, or any prefix of them (a user's adapter may name a chapter)
    "known_deviations": ("a list of strings", lambda v: isinstance(v, list) and all(_text(x) for x in v)),
    "clauses": ("a non-empty object of clause IDs", lambda v: isinstance(v, dict) and v != {}),
}
# each field of a clause's result
CLAUSE_FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "outcome": (f"one of {', '.join(repr(o) for o in OUTCOMES)}", lambda v: isinstance(v, str) and v in OUTCOMES),
    "min_p": ("null or a number in [0, 1]", lambda v: v is None or _real(v, 0.0, 1.0)),
    "decisions": ("an integer in [0, 2**63)", lambda v: _integer(v, DECISIONS_BOUND)),
}


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= SHOWN else text[:SHOWN - 1] + "…"


def _wrong(value: Any, fields: dict[str, tuple[str, Callable[[Any], bool]]]) -> str:
    """Why ``value`` is not an object with ``fields`` ("" when it is), naming the first wrong field."""
    if not isinstance(value, dict):
        return f"a JSON object is expected, got {_shown(value)}"
    missing = [name for name in fields if name not in value]
    if missing:
        return f"no {', '.join(missing)}"
    for name, (expected, test) in fields.items():
        if not test(value[name]):
            return f"{name} must be {expected}, got {_shown(value[name])}"
    return ""


def _clauses_wrong(clauses: dict) -> str:
    for clause, result in clauses.items():
        if not CLAUSE_ID.fullmatch(clause):
            return f"clauses: {_shown(clause)} is not a clause ID"
        if wrong := _wrong(result, CLAUSE_FIELDS):
            return f"clauses: {clause}: {wrong}"
    return ""


def _declared_wrong(record: dict) -> str:
    """Why a record's optional ``declared`` is not what a sweep writes ("" when it is, or is absent)."""
    declared = record.get("declared", {})
    pairs = declared.get("policies", []) if isinstance(declared, dict) else None
    dtypes = declared.get("dtypes", []) if isinstance(declared, dict) else None
    if (not isinstance(declared, dict) or set(declared) - {"policies", "dtypes"}
            or not isinstance(pairs, list) or not all(isinstance(pair, list) and len(pair) == 2 and _text(pair[0])
                                                      and isinstance(pair[1], (str, int, float)) for pair in pairs)
            or not isinstance(dtypes, list) or not all(_text(dtype) for dtype in dtypes)):
        return f"declared must be an object of policies ([NAME, VALUE] pairs) and dtypes, got {_shown(declared)}"
    return ""


def problem_of(record: Any) -> str:
    """Why a decoded JSON line is not a sweep record ("" when it is one), naming the field."""
    problem = _wrong(record, FIELDS) or _clauses_wrong(record["clauses"]) or _declared_wrong(record)
    return f"not a sweep record ({problem})" if problem else ""


# ---- reading and writing the file ---------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """What the results file at ``path`` holds: its records, in file order, and why each line
    skipped holds none (by line number)."""

    path: Path
    records: list[dict] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)

    def notes(self, lines: Iterable[int] | None = None) -> list[str]:
        """``FILE:LINE: why`` for each line skipped (of ``lines``, when given)."""
        return [f"{self.path}:{number}: {why}" for number, why in self.skipped.items()
                if lines is None or number in lines]


@contextmanager
def _locked(path: Path, flags: int, lock: int) -> Iterator[int]:
    """The file at ``path`` opened with ``flags``, holding ``flock(lock)`` until closed."""
    descriptor = os.open(path, flags, 0o666)
    try:
        fcntl.flock(descriptor, lock)
        yield descriptor
    finally:
        os.close(descriptor)  # releases the lock


def read_results(path: Path) -> Results:
    """The records of the results file at ``path`` (none when there is no file yet) and a note for
    each line that is not one; ReportError when the file cannot be read."""
    try:
        with _locked(path, os.O_RDONLY, fcntl.LOCK_SH):
            lines = read_lines(path)
    except FileNotFoundError:
        return Results(path)
    except OSError as error:
        raise ReportError(f"cannot read the results file {path}: {error.strerror or error}") from error
    results = Results(path)
    for line in lines:
        if line.text is not None and not line.text.strip():
            continue
        record, problem = _record(line)
        if problem:
            results.skipped[line.number] = problem
        else:
            results.records.append(record)
    return results


def _record(line: Line) -> tuple[Any, str]:
    """The record ``line`` holds, or why it holds none."""
    record, problem = None, line.problem
    if line.text is not None:
        try:
            record = json.loads(line.text)
        except json.JSONDecodeError as error:
            problem = f"not JSON: {error.msg} (column {error.colno})"
        except ValueError:  # the one ValueError json.loads raises that is no JSONDecodeError: int() refuses
            problem = f"not JSON this reader takes: an integer of over {sys.get_int_max_str_digits()} digits"
        except RecursionError:
            problem = "not JSON this reader takes: arrays or objects nested deeper than the interpreter's stack"
        else:
            problem = problem_of(record)
    if problem and not line.ended:
        problem = f"the last line is cut off (an interrupted write?): {problem}"
    return record, problem


def append(path: Path, record: dict) -> None:
    """Append ``record`` to the results file at ``path`` as one line, atomically (see the module's
    docstring); ReportError when the file cannot be written."""
    line = (json.dumps(record) + "\n").encode("utf-8")
    try:
        with _locked(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, fcntl.LOCK_EX) as descriptor:
            size = os.fstat(descriptor).st_size
            if size and os.pread(descriptor, 1, size - 1) != b"\n":
                line = b"\n" + line  # the last line was cut off: it stays a line of its own
            while line:
                line = line[os.write(descriptor, line):]
    except OSError as error:
        raise ReportError(f"cannot append to the results file {path}: {error.strerror or error}") from error


def merge(records: Sequence[dict], profile: str) -> tuple[list[dict], int]:
    """The records of ``profile`` merged per run name (:func:`run_name`) and seed, in order of first
    appearance, and how many clause results were recorded again (and not counted). A run has the clauses of all its
    records, each from the first record of it; its seconds, each record's in the proportion of its
    clauses that were new; the versions and known deviations of the last record that added one."""
    runs: dict[tuple[str, int], dict] = {}
    repeated = 0
    for record in records:
        if record["profile"] != profile:
            continue
        run = runs.setdefault((run_name(record), record["seed"]), {**record, "clauses": {}, "seconds": 0.0})
        new = {clause: result for clause, result in record["clauses"].items() if clause not in run["clauses"]}
        repeated += len(record["clauses"]) - len(new)
        if not new:
            continue
        share = len(new) / len(record["clauses"])
        run["clauses"].update(new)
        run["seconds"] += record["seconds"] if share == 1 else record["seconds"] * share
        run["versions"], run["known_deviations"] = record["versions"], record["known_deviations"]
    return list(runs.values()), repeated
