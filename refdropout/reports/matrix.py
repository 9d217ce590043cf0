"""The published conformance matrix: every clause against every target, in one markdown document.

    refdropout report matrix [--profile quick|standard|deep] [--seed N]
        [--clause PATTERN] [--policy NAME=VALUE ...] [--dtypes LIST] [--out docs/conformance-matrix.md]
        [--workers N | --tx SPEC ...] [--records DIR] [--allow-partial] [TARGET ...]

runs each target through :func:`refdropout.conformance.runner.run_target` under one plan and one
master seed, so every cell is the verdict ``refdropout check TARGET`` gives with the same profile
and seed (each clause's seed depends only on the master seed and the clause ID) and the same
``--policy`` and ``--dtypes``, which declare for every target on top of its own declarations. The document
says how it was made (the command, date, profile, seed, the versions of Python and each
framework); table 1 has the clauses down the side, grouped by chapter, and the targets across
the top; table 2 the policies each target declares (DROPOUT-2, DROPOUT-10, RECURRENT-6) and the
floating formats it is checked in; then one line per FAIL saying why. A built-in target whose
framework is not installed is a column of "not installed", with the command that installs it.

With ``--workers N`` (N > 1) or ``--tx SPEC`` each target is a unit run through pytest-xdist
(refdropout.reports.units, ``--records DIR``, by default ``--out`` with the suffix ``.units``): its
column is recorded as JSON (:func:`run_unit`) and read back (:func:`column_of`), the columns in the
order of the targets, so the document is the one the serial path writes. A target whose unit left
no record stops the document, named, unless ``--allow-partial``: it is then a column of "no record".
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TextIO

from .. import tables
from ..adapters import TARGETS, TargetError, load_target
from ..conformance.runner import ClauseResult, Run, run_plan, run_target
from ..conformance.verdict import Outcome, Verdict
from ..contract import POLICY_VALUES, Policies, dtypes_of, policies_of
from ..contract.declarations import DTYPES, POLICY
from ..options import CLAUSE, PROFILE, SEED, TARGET
from ..spec import load_clauses
from .command import Report, main, out
from .document import cut, generated_by, plan_text
from .units import ALLOW_PARTIAL, RECORDS, TX, WORKERS, Plan, Unit, declared_by, discard, execute, incomplete, parallel

__all__ = ["CELLS", "REPORT", "Column", "column_of", "matrix", "run_columns", "run_unit"]

# how each verdict reads in a cell of table 1
CELLS = {Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.NOT_APPLICABLE: "n/a", Outcome.POLICY: "policy",
         Outcome.ERROR: "error"}


@dataclass(frozen=True)
class Column:
    """One target of the matrix: its run, or why it has none (``missing``, e.g. "not installed")."""

    target: str
    run: Run | None = None
    policies: Policies | None = None
    dtypes: tuple[str, ...] = ()
    missing: str = ""
    footnote: str = ""
    sources: dict[str, str] = field(default_factory=dict)  # a declaration -> where its value came from


def run_columns(targets: Sequence[str], clauses: Sequence[str], *, profile: str, seed: int,
                log: TextIO | None = None, **declared: Any) -> list[Column]:
    """Each target run on ``clauses``; a target that cannot be loaded is a column saying why.
    ``declared``: the command line's ``policies`` and ``dtypes`` (refdropout.adapters.load_target)."""
    log = sys.stderr if log is None else log  # the stream of the moment, not the one at import
    return [_column(name, clauses, profile=profile, seed=seed, log=log, **declared) for name in targets]


def _column(name: str, clauses: Sequence[str], *, profile: str, seed: int, log: TextIO, **declared: Any) -> Column:
    """The target ``name`` run on ``clauses``, or the column saying why it cannot be loaded."""
    try:
        loaded = load_target(name, **declared)
    except TargetError as error:
        column = _unavailable(name, error)
        print(f"{name}: {column.missing}: {error}", file=log)
        return column
    run = run_target(name, loaded.impl, clauses, profile=profile, seed=seed, versions=loaded.versions,
                     declarations=loaded.declarations)
    print(f"{name}: " + ", ".join(f"{run.count(o)} {CELLS[o]}" for o in Outcome) + f"; {run.seconds:.1f} s",
          file=log)
    return Column(name, run, policies_of(loaded.impl), tuple(d.name for d in dtypes_of(loaded.impl)),
                  sources=dict(loaded.declarations.sources) if loaded.declarations is not None else {})


def run_unit(name: str, seed: int, *, profile: str, clauses: list[str], **declared: Any) -> dict:
    """The column of target ``name`` as JSON: what the matrix shows of its run (refdropout.reports.units_plugin
    calls it in a pytest-xdist worker, with the plan's ``declared``); :func:`column_of` reads it back."""
    column = _column(name, clauses, profile=profile, seed=seed, log=sys.stderr, **declared)
    if column.run is None:
        return {"target": name, "missing": column.missing, "footnote": column.footnote}
    run = column.run
    return {"target": name, "versions": run.versions, "device": run.device, "seed": run.seed,
            "profile": run.plan.profile, "seconds": run.seconds, "policies": asdict(column.policies),
            "dtypes": list(column.dtypes), "sources": column.sources,
            "results": [{"clause": r.verdict.clause, "outcome": r.verdict.outcome.value, "detail": r.verdict.detail,
                         "title": r.title, "seed": r.seed, "seconds": r.seconds} for r in run.results]}


def column_of(record: dict) -> Column:
    """The column :func:`run_unit` recorded: its run holds what the matrix shows (no decision records,
    output or traces)."""
    if "missing" in record:
        return Column(record["target"], missing=record["missing"], footnote=record["footnote"])
    results = tuple(ClauseResult(Verdict(r["clause"], Outcome(r["outcome"]), r["detail"]), r["title"], r["seed"],
                                 r["seconds"]) for r in record["results"])
    run = Run(record["target"], record["versions"], record["device"], record["seed"], run_plan(record["profile"]),
              results, record["seconds"])
    return Column(record["target"], run, Policies(**record["policies"]), tuple(record["dtypes"]),
                  sources=record.get("sources", {}))


def _unavailable(name: str, error: TargetError) -> Column:
    """The column of a target that did not load: "not installed" with the command that installs its
    framework, or "did not load" with the reason."""
    builtin = TARGETS.get(name)
    if builtin is not None and builtin.missing():
        return Column(name, missing="not installed", footnote=f"`{builtin.install}`")
    return Column(name, missing="did not load", footnote=cut(str(error)))


def matrix(columns: Sequence[Column], clauses: Sequence[str], *, profile: str, seed: int, command: str,
           date: datetime.datetime) -> str:
    """The markdown document: how it was generated, the verdicts, the policies, the failures."""
    return "\n\n".join(part for part in (
        "# Conformance matrix",
        _header(columns, profile=profile, seed=seed, command=command, date=date),
        "## Verdicts\n\n" + _legend() + "\n\n" + _verdicts(columns, clauses),
        "## Declared policies\n\n" + _policies(columns) + "\n\n" + _policy_note(columns),
        "## What failed and why\n\n" + _failures(columns),
        _footnotes(columns),
    ) if part) + "\n"


def _header(columns: Sequence[Column], *, profile: str, seed: int, command: str, date: datetime.datetime) -> str:
    plan = run_plan(profile)
    rows = [("target", "framework", "version", "seconds", "imported")]
    for column in columns:
        framework = TARGETS[column.target].framework if column.target in TARGETS else None
        imported = ""
        if column.run is not None:
            framework = column.run.versions.get("framework") or framework
            version = column.run.versions.get("framework_version") or ""
            seconds = f"{column.run.seconds:.1f}"
            imported = ", ".join(f"{module} {found or '?'}"
                                 for module, found in (column.run.versions.get("imported") or {}).items())
        else:
            version, seconds = column.missing, ""
        rows.append((column.target, framework or "(none)", version, seconds, imported))
    return "\n".join([
        (f"{generated_by(command, date)}: {plan_text(plan)}, master seed {seed}. A cell is the verdict "
         f"`refdropout check TARGET --profile {plan.profile} --seed {seed}` gives for that clause."),
        "",
        tables.markdown(rows),
    ])


def _legend() -> str:
    return ("`pass`; `FAIL` (see below); `n/a`: not applicable, the target lacks a capability the check needs "
            "(never counted as a pass); `policy`: passes under a declared policy the spec allows but the "
            "reference does not follow (table 2).")


def _verdicts(columns: Sequence[Column], clauses: Sequence[str]) -> str:
    """Clauses down the side, grouped by chapter; a cell per target; the counts at the foot."""
    chapter_of = {clause.id: clause.chapter for clause in load_clauses()}
    cells = {c.target: {r.verdict.clause: r for r in c.run.results} for c in columns if c.run is not None}
    titles = {clause: result.title for results in cells.values() for clause, result in results.items()}
    rows = [("clause", "title", *(_heading(c) for c in columns))]
    chapter = None
    for clause in clauses:
        own = chapter_of.get(clause, clause.rsplit("-", 1)[0].lower())
        if own != chapter:
            chapter = own
            rows.append((f"**{chapter}**", "", *("" for _ in columns)))
        rows.append((clause, titles.get(clause, ""),
                     *(CELLS[cells[c.target][clause].verdict.outcome] if c.run is not None else c.missing
                       for c in columns)))
    rows.append(("**total**", "", *(_counts(c.run) if c.run is not None else c.missing for c in columns)))
    return tables.markdown(rows)


def _counts(run: Run) -> str:
    return ", ".join(f"{run.count(outcome)} {CELLS[outcome]}" for outcome in Outcome if run.count(outcome))


def _policies(columns: Sequence[Column]) -> str:
    """A row per target: the value of every policy it declares (protocol.POLICY_VALUES), and its dtypes;
    a value other than the reference's in bold."""
    default = Policies()
    rows = [("target", *POLICY_VALUES, "dtypes")]
    for column in columns:
        if column.policies is None:
            rows.append((_heading(column), column.missing, *[""] * len(POLICY_VALUES)))
        else:
            values = [(getattr(column.policies, name), getattr(default, name)) for name in POLICY_VALUES]
            cells = (str(value) if value == reference else f"**{value}**" for value, reference in values)
            rows.append((column.target, *cells, ", ".join(column.dtypes)))
    return tables.markdown(rows)


def _policy_note(columns: Sequence[Column]) -> str:
    """What the policies table means, and which of its values the command line declared (the others are
    the target's own, or the reference's)."""
    default = Policies()
    given = [f"{column.target} " + ", ".join(
                f"dtypes {','.join(column.dtypes)}" if name == "dtypes" else f"{name}={getattr(column.policies, name)}"
                for name, source in column.sources.items() if source == "command line")
             for column in columns if "command line" in column.sources.values()]
    return ("The reference's policies are " + ", ".join(f"{name} {getattr(default, name)}" for name in POLICY_VALUES)
            + "; a value in bold differs from the reference's. A clause whose check passes only because of such a "
            "value gets `policy`. Each policy's values and the clauses it relaxes: spec/dropout.md, \"How the "
            "checks see an implementation\". dtypes are the floating formats a target is checked in."
            + (" Declared on the command line (`--policy`, `--dtypes`), over the target's own: " + "; ".join(given)
               + "." if given else ""))


def _failures(columns: Sequence[Column]) -> str:
    lines = [f"- {column.target} {result.verdict.clause}: {cut(result.verdict.detail)}"
             for column in columns if column.run is not None
             for result in column.run.results if result.verdict.outcome is Outcome.FAIL]
    return "\n".join(lines) if lines else "No clause failed."


def _footnotes(columns: Sequence[Column]) -> str:
    return "\n".join(f"[^{c.target}]: {c.target} {c.missing}: {c.footnote}" for c in columns if c.missing)


def _heading(column: Column) -> str:
    return f"{column.target}[^{column.target}]" if column.missing else column.target


def _write(args: argparse.Namespace, *, command: str, date: datetime.datetime) -> str:
    if parallel(args):
        columns = _unit_columns(args)
    else:
        columns = run_columns(args.targets, args.clauses, profile=args.profile, seed=args.seed,
                              **declared_by(args.policy, args.dtypes))
    return matrix(columns, args.clauses, profile=args.profile, seed=args.seed, command=command, date=date)


def _unit_columns(args: argparse.Namespace) -> list[Column]:
    """Each target a unit through pytest-xdist, its column read from its record; the records removed
    once the document has every column it will have."""
    plan = Plan("matrix", args.profile, tuple(Unit(name, args.seed, tuple(args.clauses)) for name in args.targets),
                declared_by(args.policy, args.dtypes))
    directory = args.records or args.out.with_suffix(".units")
    executed = execute(plan, directory, workers=args.workers, tx=args.tx or ())
    incomplete(executed, directory, allow_partial=args.allow_partial)
    discard(plan, directory, plan.units)
    return [column_of(executed.records[unit]) if unit in executed.records else
            Column(unit.name, missing="no record", footnote=cut(executed.missing[unit])) for unit in plan.units]


REPORT = Report("matrix", (replace(TARGET, default=tuple(TARGETS)), replace(PROFILE, default="quick"), SEED, CLAUSE,
                           POLICY, DTYPES, out("docs/conformance-matrix.md"), WORKERS, TX, RECORDS, ALLOW_PARTIAL),
                _write)

if __name__ == "__main__":  # python -m refdropout.reports.matrix: the same as refdropout report matrix
    raise SystemExit(main(REPORT))
