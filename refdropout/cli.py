"""The ``refdropout`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from refdropout.spec import Clause, chapter_files, load_clauses


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
    check.add_argument("targets", nargs="*", metavar="TARGET",
                       help="reference (the default), numpy, torch, jax, flax, tensorflow, keras, onnxruntime, or package.module:function or :Class")
    check.add_argument("--profile", choices=("quick", "standard", "deep"), default="standard",
                       help="the statistical plan (default: standard)")
    check.add_argument("--clause", action="append", metavar="PATTERN",
                       help="only clauses matching an ID, a glob (DROPOUT-1?) or a chapter (dropout); repeatable")
    check.add_argument("--seed", type=_seed, default=0, metavar="N", help="the master seed, in [0, 2**64) (default: 0)")
    check.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where adapters that take a device run")
    check.add_argument("--json", type=Path, metavar="FILE", help="write the full report as JSON")
    check.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML, one testcase per clause")
    check.set_defaults(run=_check, usage_error=check.error)
    return parser


def _seed(text: str) -> int:
    seed = int(text)
    if not 0 <= seed < 2**64:
        raise ValueError(seed)  # argparse reports it as an invalid value
    return seed


def _spec(args: argparse.Namespace) -> int:
    """``refdropout spec``: one aligned row per clause, ID, chapter and title."""
    chapters = [path.stem for path in chapter_files()]
    if args.chapter is not None and args.chapter not in chapters:
        args.usage_error(f"argument --chapter: unknown chapter {args.chapter!r} (chapters: {', '.join(chapters)})")
    clauses = [clause for clause in load_clauses() if args.chapter in (None, clause.chapter)]
    print(_table(clauses))
    return 0


def _table(clauses: list[Clause]) -> str:
    rows = [("ID", "CHAPTER", "TITLE")] + [(clause.id, clause.chapter, clause.title) for clause in clauses]
    id_width = max(len(row[0]) for row in rows)
    chapter_width = max(len(row[1]) for row in rows)
    return "\n".join(f"{id_:<{id_width}}  {chapter:<{chapter_width}}  {title}" for id_, chapter, title in rows)


def _check(args: argparse.Namespace) -> int:
    """``refdropout check``: every target's table, notes and summary; the reports; the exit status."""
    from refdropout.adapters import TargetError, load_target  # the suite imports scipy: only when checking
    from refdropout.conformance import report, runner

    try:
        clauses = runner.select_clauses(args.clause)
    except ValueError as error:
        args.usage_error(str(error))
    try:
        targets = [load_target(name, device=args.device) for name in args.targets or ["reference"]]
    except TargetError as error:
        print(f"refdropout: {error}", file=sys.stderr)
        return 2
    runs = []
    for target in targets:
        run = runner.run_target(target.name, target.impl, clauses, profile=args.profile, seed=args.seed,
                                device=args.device, versions=target.versions(), progress=report.progress_on(sys.stderr))
        print("\n".join(part for part in (report.table(run), report.notes(run), report.summary(run)) if part) + "\n")
        runs.append(run)
    if args.json is not None:
        report.write_json(runs, args.json)
    if args.junit is not None:
        report.write_junit(runs, args.junit)
    return 1 if any(run.failed for run in runs) else 0
