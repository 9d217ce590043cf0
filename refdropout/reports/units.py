"""A report's runs as units of work, run in parallel through pytest-xdist, each leaving its own record.

A unit is one run a report is made of: a target (or mutant) under a master seed on some clauses at a
profile (:class:`Unit`). ``refdropout report sweep|matrix --workers N`` (N > 1), or ``--tx SPEC``,
writes the units into a plan file, ``units.json``, in the records directory and runs
``python -m pytest -p refdropout.reports.units_plugin -n N units.json``: each unit is one pytest item
(refdropout.reports.units_plugin), calls its report's ``run_unit`` and writes its record, a JSON
file of its own written whole (a temporary file, then ``os.replace``). A unit whose record is
already there is skipped, saying so, so an interrupted run resumes where it stopped. The report
is then assembled from the records in the order of the units, by the writers the serial path uses,
so it is the document the serial path writes for the same options (timings and the command line
apart). A unit that failed or whose worker crashed has no record: :func:`incomplete` names each one,
with the error the unit left (``NAME-SEED.error``), and the report refuses to be written without
it unless ``--allow-partial`` is given.

Under ``--tx`` (pytest-xdist's gateways, e.g. ``ssh=host//python=python3``) the workers write the
records where they run: the records directory must be the same path on every machine (a shared
file system).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..options import Option, integer

__all__ = ["ALLOW_PARTIAL", "PLAN", "RECORDS", "TX", "WORKERS", "Executed", "Plan", "Unit", "declared_by", "discard",
           "execute", "incomplete", "parallel", "read_plan", "record_path", "recorded", "write_json"]

PLAN = "units.json"  # the plan file's name, which the plugin collects

WORKERS = Option("workers", "run the units (target, seed) in N pytest-xdist workers; 1: one after another in this "
                 "process", parse=integer(1), default=1, metavar="N")
TX = Option("tx", "run the units on this pytest-xdist gateway (e.g. 2*popen, ssh=host//python=python3) instead of "
            "--workers; repeatable; the records directory must be the same path there", metavar="SPEC",
            repeatable=True)
RECORDS = Option("records", "the directory of the units' records under --workers/--tx (default: beside --out)",
                 parse=Path, metavar="DIR")
ALLOW_PARTIAL = Option("allow-partial", "write the report even when some units left no record (they are named)",
                       flag=True)


@dataclass(frozen=True)
class Unit:
    """One run: ``name`` (a target or a mutant) under master seed ``seed`` on ``clauses``."""

    name: str
    seed: int
    clauses: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.name} seed {self.seed}"


@dataclass(frozen=True)
class Plan:
    """The units of one report (a module of refdropout.reports with a ``run_unit``) at ``profile``;
    ``declared``: the command line's declarations, the keyword arguments ``policies`` (pairs NAME,
    VALUE) and ``dtypes`` its ``run_unit`` takes (empty when none was given)."""

    report: str
    profile: str
    units: tuple[Unit, ...]
    declared: dict = field(default_factory=dict)

    def key(self, unit: Unit) -> dict:
        """What a record says it is the run of: a record is the unit's only when its key is this."""
        key = {"report": self.report, "profile": self.profile, "name": unit.name, "seed": unit.seed,
               "clauses": list(unit.clauses)}
        return {**key, "declared": self.declared} if self.declared else key


@dataclass(frozen=True)
class Executed:
    """The records of a plan's units, by unit, and why each unit without one has none."""

    records: dict[Unit, Any]
    missing: dict[Unit, str]


def declared_by(policies: Sequence[Sequence] | None, dtypes: Sequence[str] | None) -> dict:
    """A report's ``--policy`` pairs and ``--dtypes`` as load_target's keyword arguments (JSON-ready:
    lists), those given only: what a :class:`Plan` carries to its units and a sweep's record keeps."""
    given = {"policies": [list(pair) for pair in policies or ()], "dtypes": dtypes and list(dtypes)}
    return {key: value for key, value in given.items() if value}


def parallel(args: Any) -> bool:
    """Whether a report's parsed options ask for its units to run through pytest-xdist."""
    return args.workers > 1 or bool(args.tx)


def write_json(path: Path, value: Any) -> None:
    """Write ``value`` as JSON at ``path`` whole: into a temporary file beside it, then renamed over it."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            json.dump(value, file)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def record_path(directory: Path, unit: Unit, suffix: str = ".json") -> Path:
    """Where ``unit``'s record is kept (``suffix`` ".error": what it raised): a name of its own per
    target and seed, the target's characters a file name cannot hold %-escaped."""
    return directory / f"{quote(unit.name, safe='')}-{unit.seed}{suffix}"


def recorded(plan: Plan, directory: Path, unit: Unit, suffix: str = ".json") -> Any:
    """The record (or error) ``unit`` left in ``directory``; None where there is none, or the file
    there is not this unit's (another profile, other clauses) or not whole."""
    try:
        content = json.loads(record_path(directory, unit, suffix).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(content, dict) or content.get("unit") != plan.key(unit):
        return None
    return content.get("record" if suffix == ".json" else "error")


def read_plan(path: Path) -> Plan:
    """The plan in the file ``path`` (written by :func:`execute`)."""
    content = json.loads(path.read_text(encoding="utf-8"))
    return Plan(content["report"], content["profile"],
                tuple(Unit(name, seed, tuple(clauses)) for name, seed, clauses in content["units"]),
                content.get("declared", {}))


def execute(plan: Plan, directory: Path, *, workers: int, tx: Sequence[str] = ()) -> Executed:
    """Run ``plan``'s units through pytest-xdist (``workers`` local processes, or the gateways ``tx``),
    its output on stderr line by line; the record of every unit, and why each unit without one has none."""
    from .command import ReportError  # here: the plugin imports this module in pytest, which needs no suite

    if not plan.units:
        print("no unit to run: every run is recorded", file=sys.stderr)
        return Executed({}, {})
    if importlib.util.find_spec("xdist") is None:
        raise ReportError("running units in parallel needs pytest-xdist, which is not installed: "
                          "pip install 'refdropout[parallel]'")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_json(directory / PLAN, {"report": plan.report, "profile": plan.profile,
                                      "units": [[u.name, u.seed, list(u.clauses)] for u in plan.units],
                                      **({"declared": plan.declared} if plan.declared else {})})
    except OSError as error:
        raise ReportError(f"cannot write the records directory {directory}: {error.strerror or error}") from error
    gateways = [arg for spec in tx for arg in ("--tx", spec)] or ["-n", str(workers)]
    # no plugin but these: a worker starts sooner, and none of the machine's plugins changes what a unit does
    command = [sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-p", "refdropout.reports.units_plugin",
               "-p", "no:cacheprovider",
               "-c", os.devnull, "--rootdir", str(directory), "-v", "-rfEs", *gateways, str(directory / PLAN)]
    # the workers import what this process imports: its path, the current directory first
    path = os.pathsep.join(dict.fromkeys(os.path.abspath(p or ".") for p in sys.path))
    print(f"running {len(plan.units)} units in {' '.join(gateways)}: records in {directory}", file=sys.stderr)
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PYTHONPATH": path, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}) as pytest:
        assert pytest.stdout is not None
        for line in pytest.stdout:
            print(line, end="", file=sys.stderr, flush=True)
    records, missing = {}, {}
    for unit in plan.units:
        record = recorded(plan, directory, unit)
        if record is not None:
            records[unit] = record
        else:
            error = recorded(plan, directory, unit, ".error")
            missing[unit] = (f"failed: {error} ({record_path(directory, unit, '.error')})" if error is not None else
                             f"no record: its worker crashed or was stopped (pytest exit status {pytest.returncode})")
    return Executed(records, missing)


def incomplete(executed: Executed, directory: Path, *, allow_partial: bool) -> None:
    """Say on stderr which units left no record, and why; ReportError unless ``allow_partial``."""
    from .command import ReportError

    if not executed.missing:
        return
    named = "; ".join(f"{unit}: {why}" for unit, why in executed.missing.items())
    if not allow_partial:
        raise ReportError(f"{len(executed.missing)} of {len(executed.missing) + len(executed.records)} units left no "
                          f"record ({named}); run again to retry them (the records in {directory} are kept), or "
                          "--allow-partial to write the report without them")
    print(f"left out, with no record: {named}", file=sys.stderr)


def discard(plan: Plan, directory: Path, units: Sequence[Unit]) -> None:
    """Remove the records (and errors) of ``units``, and the plan and the directory once nothing else is left."""
    for unit in units:
        for suffix in (".json", ".error"):
            record_path(directory, unit, suffix).unlink(missing_ok=True)
    if not any(record_path(directory, unit).exists() for unit in plan.units):
        (directory / PLAN).unlink(missing_ok=True)
        try:
            directory.rmdir()
        except OSError:  # something else lives there: it stays
            pass
