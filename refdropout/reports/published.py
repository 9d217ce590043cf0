"""The published documents of docs/, found and read back: the conformance matrix as data.

``refdropout report matrix`` (and ``detection``, ``sweep``, ``sensitivity``) publish their documents
in the repository's docs/; the wheel carries them in ``refdropout/_docs`` (pyproject.toml's
force-include), as it carries the spec, so that an installed refdropout can say what its own
release found: ``refdropout spec CLAUSE`` prints each built-in target's verdict, the site renders
them. Only the documents are shipped, not the seed sweep's raw results.

:func:`read_matrix` reads the conformance matrix back from its markdown (refdropout.reports.matrix
writes it): the verdict of every clause for every target, why each FAIL failed, the policies
each target declares, and how the document was made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .markdown import cells

__all__ = ["DOCUMENTS", "MATRIX", "PublishedMatrix", "find_docs_dir", "read_matrix"]

MATRIX = "conformance-matrix.md"
# every published document an installation carries (and the site renders)
DOCUMENTS = (MATRIX, "detection-matrix.md", "seed-sweep.md", "sensitivity.md", "sensitivity.png")

_CLAUSE_ID = re.compile(r"^[A-Z][A-Z0-9_]*-[1-9][0-9]*$")
_NOTE = re.compile(r"\[\^[^\]]*\]")
_FAILURE = re.compile(r"^- (?P<target>\S+) (?P<clause>[A-Z][A-Z0-9_]*-[1-9][0-9]*): (?P<why>.*)$")
_ESCAPED = re.compile(r"\\([\\`*_<\[\]])")


def find_docs_dir() -> Path | None:
    """The published documents: the copy packaged in the wheel, else the source tree's ``docs/``;
    None when neither exists (an installation built without them)."""
    package = Path(__file__).resolve().parents[1]
    return next((path for path in (package / "_docs", package.parent / "docs") if path.is_dir()), None)


@dataclass(frozen=True)
class PublishedMatrix:
    """The conformance matrix as published: ``verdicts[clause][target]`` is a cell of its table 1
    (``pass``, ``FAIL``, ``n/a``, ``policy``, ..., or why the target has no run, e.g. "not
    installed"); ``failures[(target, clause)]`` says why a FAIL failed; ``policies[target]`` maps
    each column of table 2 (the policies, ``dtypes``) to its value; ``frameworks[target]`` is the
    framework and version it ran on (the header's table); ``notes[target]`` is the footnote of a
    target that had no run."""

    path: Path
    command: str
    date: str
    profile: str
    seed: str
    targets: tuple[str, ...]
    verdicts: dict[str, dict[str, str]]
    failures: dict[tuple[str, str], str]
    policies: dict[str, dict[str, str]]
    frameworks: dict[str, tuple[str, str]]
    notes: dict[str, str]

    @property
    def made(self) -> str:
        """How it was made, in a few words: ``profile standard, master seed 0, 2026-12-05 13:16 UTC``."""
        return ", ".join(part for part in (self.profile and f"profile {self.profile}",
                                           self.seed and f"master seed {self.seed}", self.date) if part)


def read_matrix(path: Path) -> PublishedMatrix:
    """The conformance matrix published at ``path``; ValueError naming the file when it is not one."""
    text = path.read_text(encoding="utf-8")
    verdict_rows = _table(text, "Verdicts")
    if not verdict_rows or verdict_rows[0][:2] != ["clause", "title"]:
        raise ValueError(f"{path}: not a conformance matrix: no '## Verdicts' table with columns clause, title, ...")
    targets = tuple(_plain(cell) for cell in verdict_rows[0][2:])
    verdicts = {row[0]: dict(zip(targets, row[2:])) for row in verdict_rows[1:] if _CLAUSE_ID.match(row[0])}
    policy_rows = _table(text, "Declared policies")
    columns = policy_rows[0][1:] if policy_rows else []
    policies = {_plain(row[0]): {column: _plain(value) for column, value in zip(columns, row[1:])}
                for row in policy_rows[1:]}
    header = _table(text.partition("\n## ")[0], "")
    frameworks = {_plain(row[0]): (row[1], row[2]) for row in header[1:] if len(row) > 2}
    failures = {(m["target"], m["clause"]): _unescaped(m["why"])
                for m in map(_FAILURE.match, _section(text, "What failed and why").splitlines()) if m}
    notes = {m[1]: _unescaped(m[2]) for m in re.finditer(r"^\[\^([^\]]+)\]: (.*)$", text, re.MULTILINE)}
    command = re.search(r"```\n(.*?)\n```", text, re.DOTALL)
    date = re.search(r"\bon (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", text)
    profile = re.search(r"profile `(\w+)`", text)
    seed = re.search(r"master seed (\d+)", text)
    return PublishedMatrix(path, command[1].strip() if command else "", date[1] if date else "",
                           profile[1] if profile else "", seed[1] if seed else "", targets, verdicts, failures,
                           policies, frameworks, notes)


def _section(text: str, heading: str) -> str:
    """The body of the level-2 section ``heading`` ("" when the document has none)."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    return match[1] if match else ""


def _table(text: str, heading: str) -> list[list[str]]:
    """The rows of the first pipe table of section ``heading`` (of ``text`` itself when ``heading`` is
    ""), header first, the rule left out."""
    lines = (_section(text, heading) if heading else text).splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return [cells(line) for index, line in enumerate(lines[start:end]) if index != 1]


def _plain(cell: str) -> str:
    """A cell without its footnote reference and bold: ``torch[^torch]`` is ``torch``."""
    return _NOTE.sub("", cell).replace("**", "").strip()


def _unescaped(detail: str) -> str:
    """A detail as refdropout.reports.document.cut wrote it, its markdown escapes undone."""
    return _ESCAPED.sub(r"\1", detail)
