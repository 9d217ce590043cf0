"""The normative specification as data: chapters of ``spec/`` parsed into clauses.

A chapter is ``spec/<chapter>.md``; ``spec/README.md`` holds the conventions and is no
chapter. A clause is a level-3 heading ``### CHAPTER-N: Title`` (``CHAPTER`` is the chapter
name upper-cased, ``N`` counts from 1) followed by its body, which ends at the next heading
of level 3 or above; the body's ``Tests:`` line names the tests that implement the clause.
See ``spec/README.md`` for the full conventions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CONVENTIONS = "README.md"

_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*$")
_CLAUSE = re.compile(r"^(?P<id>(?P<prefix>[A-Z][A-Z0-9_]*)-(?P<n>[1-9][0-9]*)): (?P<title>\S.*)$")
_ID_LIKE = re.compile(r"^[A-Za-z]\w*\s*-\s*\d")
_CHAPTER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Clause:
    """One numbered requirement of the specification."""

    id: str
    chapter: str
    title: str
    text: str
    tests: tuple[str, ...]

    @property
    def withdrawn(self) -> bool:
        """A withdrawn clause keeps its heading (IDs are never reused) and needs no tests."""
        return self.title.startswith("Withdrawn")


def find_spec_dir() -> Path:
    """The spec directory: the copy packaged in the wheel, else the source tree's ``spec/``."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_spec", package.parent / "spec"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no spec directory: neither {package / '_spec'} nor {package.parent / 'spec'} exists")


def chapter_files(spec_dir: Path | str | None = None) -> list[Path]:
    """The chapter files of a spec directory, sorted by name (the conventions file excluded)."""
    directory = find_spec_dir() if spec_dir is None else Path(spec_dir)
    chapters = sorted(path for path in directory.glob("*.md") if path.name != CONVENTIONS)
    for path in chapters:
        if not _CHAPTER_NAME.match(path.stem):
            raise ValueError(f"{path}: a chapter file name must match [a-z][a-z0-9_]*.md")
    return chapters


def load_clauses(spec_dir: Path | str | None = None) -> list[Clause]:
    """Every clause of every chapter, in chapter file order, then in document order.

    Raises ValueError, naming file and line, for a malformed clause heading, an ID whose
    prefix is not its chapter's, or an ID given twice.
    """
    clauses: list[Clause] = []
    seen: dict[str, str] = {}
    for path in chapter_files(spec_dir):
        for clause, where in _parse_chapter(path):
            if clause.id in seen:
                raise ValueError(f"{where}: duplicate clause ID {clause.id} (first at {seen[clause.id]})")
            seen[clause.id] = where
            clauses.append(clause)
    return clauses


def _parse_chapter(path: Path) -> list[tuple[Clause, str]]:
    """The clauses of one chapter file, each with its ``file:line``."""
    chapter = path.stem
    prefix = chapter.upper()
    id_like = re.compile(rf"^{prefix}\s*-?\s*\d", re.IGNORECASE)
    # Each section opens at a heading of level 3 or above; only clause headings matter.
    sections: list[tuple[re.Match[str] | None, str, list[str]]] = [(None, str(path), [])]
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            sections[-1][2].append(line)
            continue
        level, text, where = len(heading["hashes"]), heading["text"], f"{path}:{number}"
        clause = _CLAUSE.match(text)
        if level == 3 and clause:
            if clause["prefix"] != prefix:
                raise ValueError(
                    f"{where}: clause {clause['id']} is in chapter {chapter!r}; its ID must start with {prefix}-"
                )
            sections.append((clause, where, []))
        elif clause or _ID_LIKE.match(text) or id_like.match(text):
            raise ValueError(
                f"{where}: malformed clause heading {line.strip()!r}; expected '### {prefix}-N: Title' "
                "(level 3, N from 1 without leading zeros, a colon and a space before the title)"
            )
        elif level <= 3:
            sections.append((None, where, []))
        else:
            sections[-1][2].append(line)
    return [(_clause(chapter, clause, body), where) for clause, where, body in sections if clause]


def _clause(chapter: str, heading: re.Match[str], body: list[str]) -> Clause:
    text = "\n".join(body).strip()
    tests_lines = [line for line in text.splitlines() if line.startswith("Tests:")]
    tests = tests_lines[-1].removeprefix("Tests:").split(",") if tests_lines else []
    return Clause(
        id=heading["id"],
        chapter=chapter,
        title=heading["title"],
        text=text,
        tests=tuple(name.strip() for name in tests if name.strip()),
    )
