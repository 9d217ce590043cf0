"""One way to make every report: ``refdropout report NAME [OPTIONS]``.

A report module declares a :class:`Report`: its name (a key of refdropout.reports.REPORTS), its
options, defined once in refdropout.options (``--profile``, ``--seed``, ``--clause``, the targets,
as ``refdropout check`` takes them) or by the report itself, and the function that writes its
document. :func:`main` parses the options, turns ``--clause`` into the clauses with a check (a
pattern that matches none is a usage error, as in ``refdropout check``), checks that every file the
report writes (``--out``, and any other option parsed by :func:`written`) can be written, all
before any work runs, then writes the document to ``--out`` and says where. A report made of
many files (the site) names a directory instead (an option parsed by :func:`folder`) and returns
its files, which :func:`main` writes under it. The command a document records is this
``refdropout report`` form.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..conformance.runner import select_clauses
from ..options import CLAUSE, Option, add_argument
from . import REPORTS

__all__ = ["PROG", "Report", "ReportError", "folder", "main", "out", "parser_of", "unwritable", "unwritable_folder",
           "written"]

PROG = "refdropout report"


def written(text: str) -> Path:
    """The parse of an option naming a file the report writes: the path, which :func:`main` checks
    can be written before the report runs."""
    return Path(text)


def folder(text: str) -> Path:
    """The parse of an option naming the directory a report writes its files into: made when it does
    not exist, and checked by :func:`main` before the report runs."""
    return Path(text)


def out(default: str) -> Option:
    """The ``--out`` option of a report published at ``default``."""
    return Option("out", "where to write the document", parse=written, default=Path(default), metavar="FILE")


def unwritable(path: Path) -> str:
    """Why a file cannot be written at ``path`` ("" when it can): it is a directory, its directory
    does not exist, or it (or, for a new file, its directory) may not be written."""
    try:
        if path.is_dir():
            return "it is a directory"
        if not path.parent.is_dir():
            return f"its directory {path.parent} does not exist"
        if path.exists():
            return "" if os.access(path, os.W_OK) else "no permission to write it"
        return "" if os.access(path.parent, os.W_OK | os.X_OK) else f"no permission to create a file in {path.parent}"
    except OSError as error:
        return error.strerror or str(error)


def unwritable_folder(path: Path) -> str:
    """Why files cannot be written into the directory ``path`` ("" when they can): it is no directory,
    its parent does not exist, or it (or, for a new directory, its parent) may not be written."""
    try:
        if path.is_dir():
            return "" if os.access(path, os.W_OK | os.X_OK) else "no permission to write in it"
        if path.exists():
            return "it is not a directory"
        if not path.parent.is_dir():
            return f"its directory {path.parent} does not exist"
        return "" if os.access(path.parent, os.W_OK | os.X_OK) else f"no permission to create it in {path.parent}"
    except OSError as error:
        return error.strerror or str(error)


class ReportError(Exception):
    """A file that stops a report (e.g. a results file it cannot read or append to): :func:`main`
    says why in one line and exits 2."""


@dataclass(frozen=True)
class Report:
    """A report: ``write(args, command=..., date=...)`` makes its document from the parsed ``options``
    (with ``args.clauses``, the selected clauses, when ``--clause`` is one of them): the text written
    to ``--out``, or, for a report whose ``--out`` is a :func:`folder`, its files by their paths in it."""

    name: str
    options: tuple[Option, ...]
    write: Callable[..., str | Mapping[str, str | bytes]]


def parser_of(report: Report) -> argparse.ArgumentParser:
    """The parser of ``refdropout report NAME``'s options."""
    parser = argparse.ArgumentParser(prog=f"{PROG} {report.name}", description=f"Write {REPORTS[report.name]}.")
    for option in report.options:
        add_argument(parser, option)
    return parser


def main(report: Report, argv: Sequence[str] | None = None) -> int:
    """Write ``report``'s document; 0 once written (a FAIL in it is a finding to publish, not an
    error), 2 on a usage error (argparse exits), on a file the report cannot write (checked before
    any run) or on a :class:`ReportError`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = parser_of(report)
    args = parser.parse_args(argv)
    if CLAUSE in report.options:
        try:
            args.clauses = select_clauses(args.clause)
        except ValueError as error:
            parser.error(str(error))
    for option in report.options:
        problem_of = {written: unwritable, folder: unwritable_folder}.get(option.parse)
        if problem_of is None:
            continue
        path = getattr(args, option.name.replace("-", "_"))
        if problem := problem_of(path):
            parser.error(f"argument --{option.name}: cannot write {path}: {problem}")
    try:
        document = report.write(args, command=shlex.join([*PROG.split(), report.name, *argv]),
                                date=datetime.datetime.now(datetime.UTC))
    except ReportError as error:
        return _error(parser, str(error))
    try:
        if isinstance(document, str):
            args.out.write_text(document, encoding="utf-8")
        else:
            _write_files(args.out, document)
    except OSError as error:  # checked before the runs: its directory went away, or the device filled, since
        return _error(parser, f"cannot write {args.out}: {error.strerror or error}")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _write_files(directory: Path, files: Mapping[str, str | bytes]) -> None:
    """Write each of ``files`` at its path under ``directory``, making the directories it needs."""
    for name, content in files.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)


def _error(parser: argparse.ArgumentParser, message: str) -> int:
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2
