"""The ``refdropout`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

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
    return parser


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
