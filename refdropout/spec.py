"""The normative specification as data: chapters of ``spec/`` parsed into clauses.

A chapter is ``spec/<chapter>.md``; ``spec/README.md`` holds the conventions and is no
chapter. A clause is a level-3 heading ``### CHAPTER-N: Title`` (``CHAPTER`` is the chapter
name upper-cased, ``N`` counts from 1) followed by its body, which ends at the next heading
of level 3 or above; the body's ``Tests:`` line names the tests that implement the clause.
See ``spec/README.md`` for the full conventions.

:func:`load_clauses` gives the clauses; :func:`load_chapters` gives each chapter whole, as the
sections its headings of level 3 or above open, for a reader that shows the chapter as written
(``refdropout spec CLAUSE``, ``refdropout report site``).
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
    line: int = 0  # the line of its heading in its chapter's file

    @property
    def withdrawn(self) -> bool:
        """A withdrawn clause keeps its heading (IDs are never reused) and needs no tests."""
        return self.title.startswith("Withdrawn")

    @property
    def statement(self) -> str:
        """The normative text: the body before its ``Rationale:`` and ``Tests:`` lines."""
        return "\n".join(self._lines()[:self._end_of_statement()]).strip()

    @property
    def rationale(self) -> str:
        """Why the clause is there: the text from its ``Rationale:`` line to its ``Tests:`` line ("" when
        it has none); with :attr:`statement` and :attr:`tests`, the whole clause."""
        lines = self._lines()
        start = self._end_of_statement()
        if start == len(lines) or not lines[start].startswith(RATIONALE):
            return ""
        end = next((i for i in range(start, len(lines)) if lines[i].startswith(TESTS)), len(lines))
        return "\n".join(lines[start:end]).removeprefix(RATIONALE).strip()

    def _lines(self) -> list[str]:
        return self.text.splitlines()

    def _end_of_statement(self) -> int:
        lines = self._lines()
        return next((i for i, line in enumerate(lines) if line.startswith((RATIONALE, TESTS))), len(lines))


@dataclass(frozen=True)
class Section:
    """A part of a chapter: a heading of level 3 or above and the text up to the next such heading
    (level 0 and no heading for the text before the first one); a clause's section holds it."""

    level: int
    heading: str
    line: int
    body: str
    clause: Clause | None = None


@dataclass(frozen=True)
class Chapter:
    """One chapter file, whole: its name, its title (the level-1 heading) and its sections in order."""

    name: str
    title: str
    path: Path
    sections: tuple[Section, ...]

    @property
    def clauses(self) -> list[Clause]:
        return [section.clause for section in self.sections if section.clause is not None]

    def section_of(self, clause: Clause) -> str:
        """The heading of the level-2 section that holds ``clause`` ("" when none does)."""
        heading = ""
        for section in self.sections:
            if section.clause == clause:
                return heading
            if section.level == 2:
                heading = section.heading
        raise ValueError(f"{clause.id} is not a clause of chapter {self.name!r}")

    @property
    def references(self) -> str:
        """The body of its ``References`` section, the works its clauses cite ("" when it has none)."""
        return next((section.body.strip() for section in self.sections
                     if section.level == 2 and section.heading == REFERENCES), "")


RATIONALE, TESTS, REFERENCES = "Rationale:", "Tests:", "References"


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
    return [clause for chapter in load_chapters(spec_dir) for clause in chapter.clauses]


def load_chapters(spec_dir: Path | str | None = None) -> list[Chapter]:
    """Every chapter, whole, in chapter file order; ValueError as :func:`load_clauses` raises it."""
    chapters: list[Chapter] = []
    seen: dict[str, str] = {}
    for path in chapter_files(spec_dir):
        chapter = _parse_chapter(path)
        for clause in chapter.clauses:
            where = f"{path}:{clause.line}"
            if clause.id in seen:
                raise ValueError(f"{where}: duplicate clause ID {clause.id} (first at {seen[clause.id]})")
            seen[clause.id] = where
        chapters.append(chapter)
    return chapters


def _parse_chapter(path: Path) -> Chapter:
    """One chapter file, its clause headings checked."""
    chapter = path.stem
    prefix = chapter.upper()
    id_like = re.compile(rf"^{prefix}\s*-?\s*\d", re.IGNORECASE)
    # Each section opens at a heading of level 3 or above: (level, heading, line, clause heading, body lines).
    sections: list[tuple[int, str, int, re.Match[str] | None, list[str]]] = [(0, "", 1, None, [])]
    title = ""
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            sections[-1][4].append(line)
            continue
        level, text, where = len(heading["hashes"]), heading["text"], f"{path}:{number}"
        clause = _CLAUSE.match(text)
        if level == 3 and clause:
            if clause["prefix"] != prefix:
                raise ValueError(
                    f"{where}: clause {clause['id']} is in chapter {chapter!r}; its ID must start with {prefix}-"
                )
            sections.append((level, text, number, clause, []))
        elif clause or _ID_LIKE.match(text) or id_like.match(text):
            raise ValueError(
                f"{where}: malformed clause heading {line.strip()!r}; expected '### {prefix}-N: Title' "
                "(level 3, N from 1 without leading zeros, a colon and a space before the title)"
            )
        elif level <= 3:
            title = title or (text if level == 1 else "")
            sections.append((level, text, number, None, []))
        else:
            sections[-1][4].append(line)
    return Chapter(chapter, title or chapter, path, tuple(
        Section(level, text, number, "\n".join(body), _clause(chapter, clause, body, number) if clause else None)
        for level, text, number, clause, body in sections))


def _clause(chapter: str, heading: re.Match[str], body: list[str], line: int) -> Clause:
    text = "\n".join(body).strip()
    tests_lines = [row for row in text.splitlines() if row.startswith(TESTS)]
    tests = tests_lines[-1].removeprefix(TESTS).split(",") if tests_lines else []
    return Clause(
        id=heading["id"],
        chapter=chapter,
        title=heading["title"],
        text=text,
        tests=tuple(name.strip() for name in tests if name.strip()),
        line=line,
    )
