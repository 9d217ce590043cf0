"""The published conformance matrix: every clause against every target, in one markdown document.

    python -m refdropout.reports.matrix [--profile quick|standard|deep] [--seed N]
        [--clause PATTERN] [--out docs/conformance-matrix.md] [TARGET ...]

runs each target through :func:`refdropout.conformance.runner.run_target` under one plan and one
master seed, so every cell is the verdict ``refdropout check TARGET`` gives with the same profile
and seed (each clause's seed depends only on the master seed and the clause ID). The document
says how it was made (the command, date, profile, seed, the versions of Python and each
framework); table 1 has the clauses down the side, grouped by chapter, and the targets across
the top; table 2 the policies each target declares (DROPOUT-2, DROPOUT-10, RECURRENT-6) and the
floating formats it is checked in; then one line per FAIL saying why. A built-in target whose
framework is not installed is a column of "not installed", with the command that installs it.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..adapters import TARGETS, TargetError, load_target
from ..spec import load_clauses
from ..stats import PROFILES
from ..contract import POLICY_VALUES, Policies, dtypes_of, policies_of
from ..conformance.runner import Run, run_plan, run_target, select_clauses
from ..conformance.verdict import Outcome

__all__ = ["Column", "CELLS", "main", "matrix", "run_columns"]

COMMAND = "python -m refdropout.reports.matrix"
DEFAULT_OUT = Path("docs/conformance-matrix.md")
DETAIL_WIDTH = 160  # a FAIL's detail is cut to this many characters in the list of failures

TERMINAL_CODE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # what frameworks colour their messages with
MARKDOWN_SPECIAL = re.compile(r"[\\`*_<\[\]]")

# how each verdict reads in a cell of table 1
CELLS = {Outcome.PASS: "pass", Outcome.FAIL: "FAIL", Outcome.NOT_APPLICABLE: "n/a", Outcome.POLICY: "policy"}


@dataclass(frozen=True)
class Column:
    """One target of the matrix: its run, or why it has none (``missing``, e.g. "not installed")."""

    target: str
    run: Run | None = None
    policies: Policies | None = None
    dtypes: tuple[str, ...] = ()
    missing: str = ""
    footnote: str = ""


def run_columns(targets: Sequence[str], clauses: Sequence[str], *, profile: str, seed: int,
                log: TextIO = sys.stderr) -> list[Column]:
    """Each target run on ``clauses``; a target that cannot be loaded is a column saying why."""
    columns = []
    for name in targets:
        try:
            loaded = load_target(name)
        except TargetError as error:
            columns.append(_unavailable(name, error))
            print(f"{name}: {columns[-1].missing}: {error}", file=log)
            continue
        run = run_target(name, loaded.impl, clauses, profile=profile, seed=seed, versions=loaded.versions())
        print(f"{name}: " + ", ".join(f"{run.count(o)} {CELLS[o]}" for o in Outcome) + f"; {run.seconds:.1f} s",
              file=log)
        columns.append(Column(name, run, policies_of(loaded.impl), tuple(d.name for d in dtypes_of(loaded.impl))))
    return columns


def _unavailable(name: str, error: TargetError) -> Column:
    """The column of a target that did not load: "not installed" with the command that installs its
    framework, or "did not load" with the reason."""
    builtin = TARGETS.get(name)
    if builtin is not None and builtin.framework is not None and importlib.util.find_spec(builtin.framework) is None:
        return Column(name, missing="not installed", footnote=f"`{builtin.install}`")
    return Column(name, missing="did not load", footnote=_cut(str(error)))


def matrix(columns: Sequence[Column], clauses: Sequence[str], *, profile: str, seed: int, command: str,
           date: datetime.datetime) -> str:
    """The markdown document: how it was generated, the verdicts, the policies, the failures."""
    return "\n\n".join(part for part in (
        "# Conformance matrix",
        _header(columns, profile=profile, seed=seed, command=command, date=date),
        "## Verdicts\n\n" + _legend() + "\n\n" + _verdicts(columns, clauses),
        "## Declared policies\n\n" + _policies(columns) + "\n\n" + _policy_note(),
        "## What failed and why\n\n" + _failures(columns),
        _footnotes(columns),
    ) if part) + "\n"


def _header(columns: Sequence[Column], *, profile: str, seed: int, command: str, date: datetime.datetime) -> str:
    plan = run_plan(profile)
    versions = next((c.run.versions for c in columns if c.run is not None), {})
    rows = [("target", "framework", "version", "seconds")]
    for column in columns:
        framework = TARGETS[column.target].framework if column.target in TARGETS else None
        if column.run is not None:
            framework = column.run.versions.get("framework") or framework
            version = column.run.versions.get("framework_version") or ""
            seconds = f"{column.run.seconds:.1f}"
        else:
            version, seconds = column.missing, ""
        rows.append((column.target, framework or "(none)", version, seconds))
    return "\n".join([
        "Generated by",
        "",
        "```",
        command,
        "```",
        "",
        f"on {date:%Y-%m-%d %H:%M} UTC with Python {versions.get('python', sys.version.split()[0])} and refdropout "
        f"{versions.get('refdropout', '')}: profile `{plan.profile}` (family-wise α {plan.family_alpha:g} over "
        f"{plan.planned_decisions:,} planned decisions, α {plan.alpha:.3g} per decision, power {plan.power:g}), "
        f"master seed {seed}. A cell is the verdict `refdropout check TARGET --profile {plan.profile} --seed {seed}` "
        "gives for that clause.",
        "",
        _table(rows),
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
    return _table(rows)


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
    return _table(rows)


def _policy_note() -> str:
    default = Policies()
    return ("The reference's policies are " + ", ".join(f"{name} {getattr(default, name)}" for name in POLICY_VALUES)
            + "; a value in bold differs from the reference's. A clause whose check passes only because of such a "
            "value gets `policy`. Each policy's values and the clauses it relaxes: spec/dropout.md, \"How the "
            "checks see an implementation\". dtypes are the floating formats a target is checked in.")


def _failures(columns: Sequence[Column]) -> str:
    lines = [f"- {column.target} {result.verdict.clause}: {_cut(result.verdict.detail)}"
             for column in columns if column.run is not None
             for result in column.run.results if result.verdict.outcome is Outcome.FAIL]
    return "\n".join(lines) if lines else "No clause failed."


def _footnotes(columns: Sequence[Column]) -> str:
    return "\n".join(f"[^{c.target}]: {c.target} {c.missing}: {c.footnote}" for c in columns if c.missing)


def _heading(column: Column) -> str:
    return f"{column.target}[^{column.target}]" if column.missing else column.target


def _cut(detail: str) -> str:
    """A detail as plain markdown text on one line, at most DETAIL_WIDTH characters: terminal
    colour codes dropped, markdown's emphasis and code characters escaped."""
    line = " ".join(TERMINAL_CODE.sub("", detail).split())
    line = line if len(line) <= DETAIL_WIDTH else line[:DETAIL_WIDTH - 1] + "…"
    return MARKDOWN_SPECIAL.sub(r"\\\g<0>", line)


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A markdown table, the first row its header; a ``|`` inside a cell is escaped."""
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND,
                                     description="Write the conformance matrix: every clause against every target.")
    parser.add_argument("targets", nargs="*", metavar="TARGET",
                        help=f"built-in targets or package.module:function or :Class (default: {' '.join(TARGETS)})")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="quick", help="the statistical plan (default: quick)")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="the master seed, in [0, 2**64) (default: 0)")
    parser.add_argument("--clause", action="append", metavar="PATTERN",
                        help="only clauses matching an ID, a glob or a chapter; repeatable (default: every clause with a check)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, metavar="FILE",
                        help=f"where to write the document (default: {DEFAULT_OUT})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the matrix; 0 once written (a FAIL is a finding to publish, not an error), 2 on a usage error."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    if not 0 <= args.seed < 2**64:
        parser.error(f"argument --seed: must be in [0, 2**64), got {args.seed}")
    try:
        clauses = select_clauses(args.clause)
    except ValueError as error:
        parser.error(str(error))
    columns = run_columns(args.targets or list(TARGETS), clauses, profile=args.profile, seed=args.seed)
    document = matrix(columns, clauses, profile=args.profile, seed=args.seed,
                      command=shlex.join([*COMMAND.split(), *argv]), date=datetime.datetime.now(datetime.timezone.utc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
