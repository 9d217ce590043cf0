"""The ``refdropout`` command line: ``spec`` lists the clauses, ``check`` checks implementations
against them, ``report`` writes a generated document (refdropout.reports).

The options ``check`` and the reports share with the pytest plugin are defined once, in
refdropout.options. Listing the clauses needs only the standard library; the conformance suite
(and scipy) is imported when something is checked.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from refdropout import tables
from refdropout.options import CLAUSE, DEVICE, PROFILE, SEED, TARGET, Option, add_argument
from refdropout.reports import REPORTS
from refdropout.spec import chapter_files, load_clauses

JSON = Option("json", "write the full report as JSON", parse=Path, metavar="FILE")
JUNIT = Option("junit", "write JUnit XML, one testcase per clause", parse=Path, metavar="FILE")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; argparse exits with status 2 on a usage error."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:  # a malformed spec: name the file and line, no traceback
        print(f"refdropout: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refdropout", description="The executable specification of dropout.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    spec = commands.add_parser("spec", help="list the clauses of the specification")
    spec.add_argument("--chapter", metavar="NAME", help="list only this chapter's clauses (e.g. tensor)")
    spec.set_defaults(run=_spec, usage_error=spec.error)
    check = commands.add_parser(
        "check", help="check implementations of dropout against the spec, clause by clause",
        description="Exit status: 0 every applicable clause passes, 1 some clause fails, 2 a usage or setup error.")
    for option in (replace(TARGET, default=("reference",)), PROFILE, CLAUSE, SEED, DEVICE, JSON, JUNIT):
        add_argument(check, option)
    check.set_defaults(run=_check, usage_error=check.error)
    report = commands.add_parser(
        "report", help="write a generated document: " + ", ".join(REPORTS),
        description="Write a generated document; `refdropout report REPORT --help` lists its options.\n\n"
                    + "\n".join(f"  {name:<12} {what}" for name, what in REPORTS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("report", choices=tuple(REPORTS), metavar="REPORT", help="the document to write (listed above)")
    report.add_argument("options", nargs=argparse.REMAINDER, metavar="...", help="the report's options")
    report.set_defaults(run=_report)
    return parser


def _spec(args: argparse.Namespace) -> int:
    """``refdropout spec``: one aligned row per clause, ID, chapter and title."""
    chapters = [path.stem for path in chapter_files()]
    if args.chapter is not None and args.chapter not in chapters:
        args.usage_error(f"argument --chapter: unknown chapter {args.chapter!r} (chapters: {', '.join(chapters)})")
    clauses = [clause for clause in load_clauses() if args.chapter in (None, clause.chapter)]
    rows = [("ID", "CHAPTER", "TITLE"), *((clause.id, clause.chapter, clause.title) for clause in clauses)]
    print(tables.aligned(rows))
    return 0


def _check(args: argparse.Namespace) -> int:
    """``refdropout check``: every target's table, notes and summary; the reports; the exit status."""
    from refdropout.adapters import TargetError, load_target  # the suite imports scipy: only when checking
    from refdropout.conformance import output, runner

    try:
        clauses = runner.select_clauses(args.clause)
    except ValueError as error:
        args.usage_error(str(error))
    try:
        targets = [load_target(name, device=args.device) for name in args.targets]
    except TargetError as error:
        print(f"refdropout: {error}", file=sys.stderr)
        return 2
    runs = []
    for target in targets:
        run = runner.run_target(target.name, target.impl, clauses, profile=args.profile, seed=args.seed,
                                device=args.device, versions=target.versions(), progress=output.progress_on(sys.stderr))
        print("\n".join(part for part in (output.table(run), output.notes(run), output.summary(run)) if part) + "\n")
        runs.append(run)
    if args.json is not None:
        output.write_json(runs, args.json)
    if args.junit is not None:
        output.write_junit(runs, args.junit)
    return 1 if any(run.failed for run in runs) else 0


def _report(args: argparse.Namespace) -> int:
    """``refdropout report REPORT``: the report's own parser takes the rest of the command line."""
    from refdropout.reports.command import main as write  # the reports run checks: only when asked for

    return write(importlib.import_module(f"refdropout.reports.{args.report}").REPORT, args.options)
