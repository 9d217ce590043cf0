"""The output of one conformance run: a table for people, JSON for programs, JUnit XML for CI systems.

Every clause is reported with its verdict and, for a statistical check, the figures of its
decisive decision (the one of least p-value): p-value, sample size n, observed against expected
value and the smallest deviation from the expected value the decision could detect at the plan's
power (refdropout.conformance.detectable). The JSON report holds every decision of every clause, and
all the output the implementation wrote during each (the notes show the first lines).

A report file is opened before the checks run, as a temporary file beside it, and moved onto its
name when written (:class:`ReportFile`, RUNNER-10): a path that cannot be written is refused before
any work is done, and nobody ever reads half a report. A run that was interrupted is reported with
what it finished, marked incomplete (RUNNER-11).
"""

from __future__ import annotations

import json
import math
import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from .. import tables
from ..contract.declarations import Declarations
from ..stats import DecisionPlan, Record
from .detectable import detectable
from .runner import ClauseResult, Run
from .verdict import Outcome, Suggestion

__all__ = ["ReportError", "ReportFile", "checked", "decisive", "described_target", "json_text", "junit_text", "notes",
           "plan_summary", "progress_on", "summary", "table", "to_json", "to_junit"]

EXCERPT = 3  # lines of a clause's captured output the notes show


def decisive(result: ClauseResult) -> Record | None:
    """The decision a statistical verdict turns on: the one of least p-value (None for an exact check)."""
    records = result.verdict.records
    return min(records, key=lambda r: r.p_value) if records else None


def _figures(result: ClauseResult, power: float) -> tuple[str, str, str, str]:
    """(p-value, n, observed vs expected, detectable deviation) as the table prints them."""
    record = decisive(result)
    if record is None:
        return ("exact" if result.verdict.outcome in (Outcome.PASS, Outcome.FAIL, Outcome.POLICY) else "", "", "", "")
    mde = detectable(record, power)
    return (f"{record.p_value:.3g}", f"{record.n:,}", f"{record.observed:.6g} vs {record.expected:.6g}",
            "" if mde is None else f"±{mde:.3g}")


def table(run: Run) -> str:
    """One aligned row per clause: ID, verdict, p-value, n, observed vs expected, detectable, title."""
    rows = [("CLAUSE", "VERDICT", "P-VALUE", "N", "OBSERVED VS EXPECTED", "DETECTS", "TITLE")]
    rows += [(r.verdict.clause, r.verdict.outcome.value, *_figures(r, run.plan.power), r.title) for r in run.results]
    return tables.aligned(rows, right={2, 3, 5})  # numbers align right


def summary(run: Run) -> str:
    """One line: the target, the count of each verdict, the plan, the seed and the time; and, for a run
    that was interrupted, that it is incomplete."""
    counts = ", ".join(f"{run.count(outcome)} {outcome.value}" for outcome in Outcome)
    line = (f"{run.target}: {len(run.results)} clauses: {counts}; {plan_summary(run.plan)}, seed {run.seed},"
            f" {run.seconds:.1f} s")
    line = line if run.complete else f"{line}; {incompleteness(run)}"
    return "\n".join([line, *described_target(run.target, run.declarations, run.versions)])


def described_target(target: str, declarations: Declarations | None, versions: dict) -> list[str]:
    """The lines that say what was checked: what ``target`` declared, each value with its source, and
    the frameworks its module imports, with their versions."""
    lines = [] if declarations is None else [f"{target}: {declarations.shown()}"]
    imported = versions.get("imported")
    if imported:
        lines.append(f"{target}: imports " + ", ".join(f"{module} {version or '(version unknown)'}"
                                                       for module, version in imported.items()))
    return lines


def incompleteness(run: Run) -> str:
    """``INCOMPLETE: interrupted by SIGINT in DROPOUT-5, 7 of 10 clauses not finished`` ("" for a complete run)."""
    if run.complete:
        return ""
    where = f" in {run.unfinished[0]}" if run.unfinished else ""
    total = len(run.results) + len(run.unfinished)
    return (f"INCOMPLETE: interrupted by {run.interrupted.name}{where}, {len(run.unfinished)} of {total} clauses not"
            " finished")


def plan_summary(plan: DecisionPlan) -> str:
    """The plan in words: ``profile quick (family-wise alpha 1e-06, alpha 1e-09 per decision, power 0.99)``."""
    return (f"profile {plan.profile} (family-wise alpha {plan.family_alpha:g}, alpha {plan.alpha:.3g} per decision, "
            f"power {plan.power:g})")


def notes(run: Run) -> str:
    """What failed and why, what the suite could not check and why, the policies that differ, what
    each inapplicable clause needs, and the first lines of the output each check's calls wrote."""
    lines = [f"{r.verdict.outcome.value} {r.verdict.clause}: {r.verdict.detail}" for r in run.results
             if r.verdict.outcome in (Outcome.FAIL, Outcome.POLICY)]
    lines += [f"the suite could not check {r.verdict.clause}: {r.verdict.detail}" for r in run.results
              if r.verdict.outcome is Outcome.ERROR]
    needs: dict[str, list[str]] = {}
    for r in run.results:
        if r.verdict.outcome is Outcome.NOT_APPLICABLE:
            needs.setdefault(r.verdict.detail, []).append(r.verdict.clause)
    lines += [f"not applicable ({why}): {', '.join(clauses)}" for why, clauses in needs.items()]
    for r in run.results:
        if r.output:
            written = r.output.splitlines()
            lines.append(f"output of {r.verdict.clause}: {len(written):,} lines from {run.target}"
                         + (f", the first {EXCERPT} (--json keeps all):" if len(written) > EXCERPT else ":"))
            lines += [f"  | {line[:100]}" for line in written[:EXCERPT]]
    return "\n".join(lines)


# ---- JSON -----------------------------------------------------------------------------------


def _finite(value: object) -> object:
    """JSON has no inf or NaN: they are written as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _decision(record: Record, power: float) -> dict:
    return {key: _finite(value) for key, value in {**asdict(record), "detectable": detectable(record, power)}.items()}


def _clause(result: ClauseResult, power: float) -> dict:
    record = decisive(result)
    verdict = result.verdict
    return {
        "clause": verdict.clause,
        "title": result.title,
        "verdict": verdict.outcome.value,
        "detail": verdict.detail,
        "seed": result.seed,
        "seconds": round(result.seconds, 3),
        "implementation_seconds": round(result.inside, 3),
        "p_value": None if record is None else _finite(record.p_value),
        "n": None if record is None else record.n,
        "observed": None if record is None else _finite(record.observed),
        "expected": None if record is None else _finite(record.expected),
        "detectable": None if record is None else _finite(detectable(record, power)),
        "decisions": [_decision(r, power) for r in verdict.records],
        "output": result.output,
        "traceback": result.trace,
    }


def to_json(run: Run) -> dict:
    """A run as plain data: target, versions (the frameworks its module imports included), its
    declarations with the source of each value, device, plan, seed, counts, every clause's figures and
    what ``--suggest`` found (null where it was not asked)."""
    plan = run.plan
    return {
        "target": run.target,
        "versions": run.versions,
        "declarations": None if run.declarations is None else run.declarations.as_json(),
        "device": run.device,
        "profile": plan.profile,
        "family_alpha": plan.family_alpha,
        "alpha": plan.alpha,
        "planned_decisions": plan.planned_decisions,
        "power": plan.power,
        "keep_rate_mde": plan.keep_rate_mde,
        "keep_rate_n": plan.n,
        "examples": plan.examples,
        "seed": run.seed,
        "seconds": round(run.seconds, 3),
        "implementation_seconds": round(run.inside, 3),
        "complete": run.complete,
        "interrupted": None if run.interrupted is None else run.interrupted.name,
        "unfinished": list(run.unfinished),
        "counts": {outcome.value: run.count(outcome) for outcome in Outcome},
        "clauses": [_clause(result, plan.power) for result in run.results],
        "suggestions": None if run.suggestions is None else [suggestion.as_json() for suggestion in run.suggestions],
    }


def json_text(runs: list[Run], *, complete: bool = True) -> str:
    """``{"complete": ..., "runs": [...]}``, one entry per target checked; ``complete`` is false when
    the command was interrupted (before some target ran, or in a run)."""
    report = {"complete": complete and all(run.complete for run in runs), "runs": [to_json(run) for run in runs]}
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


# ---- JUnit XML ---------------------------------------------------------------------------------


def to_junit(runs: list[Run], *, complete: bool = True) -> ET.Element:
    """``<testsuites>`` with a ``<testsuite>`` per target and a ``<testcase>`` per clause: a
    ``<failure>`` for FAIL, an ``<error>`` for could not check, ``<skipped>`` for not applicable; the
    property ``complete`` is false for a run, or a command, that was interrupted; what ``--suggest``
    found for a clause is a property ``suggest`` of its testcase (the flags that pass it, or "none")
    and a line of its failure's text."""
    suites = ET.Element("testsuites", name="refdropout check")
    complete = complete and all(run.complete for run in runs)
    for run in runs:
        suite = ET.SubElement(suites, "testsuite", name=run.target, tests=str(len(run.results)),
                              failures=str(run.count(Outcome.FAIL)), errors=str(run.count(Outcome.ERROR)),
                              skipped=str(run.count(Outcome.NOT_APPLICABLE)), time=f"{run.seconds:.3f}")
        properties = ET.SubElement(suite, "properties")
        for key, value in (("profile", run.plan.profile), ("family_alpha", run.plan.family_alpha),
                           ("alpha", run.plan.alpha), ("seed", run.seed), ("device", run.device),
                           ("complete", str(complete and run.complete).lower()),
                           *(() if run.complete else (("incomplete", incompleteness(run)),)),
                           *((key, value) for key, value in run.versions.items() if key != "imported"), *checked(run)):
            ET.SubElement(properties, "property", name=key, value=_property(value))
        suggested = {suggestion.clause: suggestion for suggestion in run.suggestions or ()}
        for result in run.results:
            verdict = result.verdict
            case = ET.SubElement(suite, "testcase", classname=f"refdropout.{run.target}",
                                 name=f"{verdict.clause}: {result.title}", time=f"{result.seconds:.3f}")
            suggestion = suggested.get(verdict.clause)
            if suggestion is not None:
                _suggest_properties(case, suggestion)
            if verdict.outcome is Outcome.FAIL:
                ET.SubElement(case, "failure", message=verdict.detail[:200]).text = "\n".join(
                    [verdict.detail, *(suggestion.lines() if suggestion is not None else ())])
            elif verdict.outcome is Outcome.ERROR:
                ET.SubElement(case, "error", message=f"the suite could not check {verdict.clause}: "
                                                     f"{verdict.detail}"[:200]).text = result.trace or verdict.detail
            elif verdict.outcome is Outcome.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=f"not applicable: {verdict.detail}")
            elif verdict.outcome is Outcome.POLICY:
                ET.SubElement(case, "system-out").text = f"differs by declared policy: {verdict.detail}"
            if result.output:
                ET.SubElement(case, "system-err").text = result.output
    return suites


def checked(run: Run) -> tuple[tuple[str, str], ...]:
    """What a run checked, as (name, text) pairs for a JUnit property: the target's declared ``name`` (the
    target as named on the command line where it declares none), its ``declared`` values with their
    sources, and the frameworks it ``imported`` with their versions."""
    imported = ("imported", _property(run.versions.get("imported") or {}))
    if run.declarations is None:
        return (imported,)
    name = run.declarations.name if run.declarations.name is not None else run.target
    return ("name", name), ("declared", run.declarations.shown().removeprefix("declared: ")), imported


def _property(value: object) -> str:
    """A property's value as text: a mapping (the frameworks imported) as ``jax 0.10.2, keras 3.15.1``."""
    if isinstance(value, dict):
        return ", ".join(f"{key} {item}" for key, item in value.items())
    return str(value)


def _suggest_properties(case: ET.Element, suggestion: Suggestion) -> None:
    """A testcase's properties ``suggest``: one per declaration that passes its clause, or "none"."""
    properties = ET.SubElement(case, "properties")
    for value in [Suggestion.flags(change) for change in suggestion.passes_with] or ["none"]:
        ET.SubElement(properties, "property", name="suggest", value=value)


def junit_text(runs: list[Run], *, complete: bool = True) -> str:
    tree = ET.ElementTree(to_junit(runs, complete=complete))
    ET.indent(tree)
    return ET.tostring(tree.getroot(), encoding="unicode", xml_declaration=True) + "\n"


# ---- report files ----------------------------------------------------------------------------


class ReportError(ValueError):
    """A report file that cannot be written; its message names the option and the path."""


class ReportFile:
    """A report's file, opened before the run: a new temporary file beside ``path`` (which proves the
    directory writable), moved onto ``path`` by :meth:`write` (os.replace: readers see the old report
    or the new one, never half of one), removed by :meth:`discard`. A path that names something other
    than a file (``/dev/stdout``, a pipe) cannot be replaced: it is opened and written in place."""

    def __init__(self, option: str, path: Path) -> None:
        self.option, self.path = option, Path(path)
        where = f"{option} {self.path}"
        if self.path.is_dir():
            raise ReportError(f"{where}: is a directory; give a file name")
        self.temporary: Path | None = None
        if self.path.exists() and not self.path.is_file():
            self.fd = self._opened(where, self.path, os.O_WRONLY, f"cannot write {self.path}")
            return
        target = self.path.resolve()  # a symbolic link stays one: the file it names is replaced
        parent = target.parent
        if not parent.exists():
            raise ReportError(f"{where}: the directory {parent} does not exist")
        if not parent.is_dir():
            raise ReportError(f"{where}: {parent} is not a directory")
        self.target = target
        self.temporary = parent / f".{target.name}.{option.strip('-')}.{os.getpid()}.tmp"
        self.fd = self._opened(where, self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, f"cannot write in {parent}")

    @staticmethod
    def _opened(where: str, path: Path, flags: int, what: str) -> int:
        try:
            return os.open(path, flags, 0o666)
        except OSError as error:
            raise ReportError(f"{where}: {what}: {error.strerror}") from error

    def write(self, text: str) -> None:
        """The report, in full, at ``path``; OSError (a full disk...) leaves a file at ``path`` as it was."""
        try:
            with open(self.fd, "w", encoding="utf-8", closefd=True) as file:
                self.fd = -1
                file.write(text)
            if self.temporary is not None:
                os.replace(self.temporary, self.target)
        finally:
            self.discard()

    def discard(self) -> None:
        """Nothing more written: the file closed, the temporary file removed."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.temporary is not None:
            self.temporary.unlink(missing_ok=True)


# ---- progress --------------------------------------------------------------------------------


def progress_on(stream: TextIO = sys.stderr) -> Callable[[int, int, str], None] | None:
    """A progress line rewritten in place on ``stream`` when it is a terminal; None otherwise."""
    if not stream.isatty():
        return None

    def show(i: int, total: int, clause: str) -> None:
        stream.write(f"\r\033[K[{i + 1}/{total}] {clause}" if i < total else "\r\033[K")
        stream.flush()

    return show
