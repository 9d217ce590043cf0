"""One way to make every report: ``refdropout report NAME [OPTIONS]``.

A report module declares a :class:`Report`: its name (a key of refdropout.reports.REPORTS), its
options, defined once in refdropout.options (``--profile``, ``--seed``, ``--clause``, the targets,
as ``refdropout check`` takes them) or by the report itself, and the function that writes its
document. :func:`main` parses the options, turns ``--clause`` into the clauses with a check (a
pattern that matches none is a usage error, as in ``refdropout check``), writes the document to
``--out`` and says where. The command a document records is this ``refdropout report`` form.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..conformance.runner import select_clauses
from ..options import CLAUSE, Option, add_argument
from . import REPORTS

__all__ = ["PROG", "Report", "main", "out", "parser_of"]

PROG = "refdropout report"


def out(default: str) -> Option:
    """The ``--out`` option of a report published at ``default``."""
    return Option("out", "where to write the document", parse=Path, default=Path(default), metavar="FILE")


@dataclass(frozen=True)
class Report:
    """A report: ``write(args, command=..., date=...)`` makes its document from the parsed ``options``
    (with ``args.clauses``, the selected clauses, when ``--clause`` is one of them)."""

    name: str
    options: tuple[Option, ...]
    write: Callable[..., str]


def parser_of(report: Report) -> argparse.ArgumentParser:
    """The parser of ``refdropout report NAME``'s options."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {report.name}", description=f"Write {REPORTS[report.name]}.")
    for option in report.options:
        add_argument(parser, option)
    return parser


def main(report: Report, argv: Sequence[str] | None = None) -> int:
    """Write ``report``'s document; 0 once written (a FAIL in it is a finding to publish, not an
    error), 2 on a usage error (argparse exits)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = parser_of(report)
    args = parser.parse_args(argv)
    if CLAUSE in report.options:
        try:
            args.clauses = select_clauses(args.clause)
        except ValueError as error:
            parser.error(str(error))
    document = report.write(args, command=shlex.join([*PROG.split(), report.name, *argv]),
                            date=datetime.datetime.now(datetime.UTC))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document, encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
