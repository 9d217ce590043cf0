"""Traceability: every clause of spec/ is implemented by tests, and every test names real clauses.

The test files are read statically (with ``ast``), so the checks see the whole suite whatever
pytest was asked to select. A clause's ``Tests:`` line and the ``@pytest.mark.clause`` markers
must agree in both directions. The second half tests the spec parser itself.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import SPEC_DIR, TESTS_DIR
from refdropout.spec import Clause, chapter_files, load_clauses

RFC_2119_KEYWORD = re.compile(r"\b(MUST|REQUIRED|SHALL|SHOULD|RECOMMENDED|MAY|OPTIONAL)\b")


@dataclass(frozen=True)
class MarkedTest:
    """A test function and the clause IDs its markers name."""

    file: str
    name: str
    clause_ids: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.file}::{self.name}"


def clause_ids_of(node: ast.expr) -> list[str]:
    """The IDs named by ``pytest.mark.clause(...)`` calls in a decorator or ``pytestmark`` value."""
    if isinstance(node, (ast.List, ast.Tuple)):
        return [id_ for element in node.elts for id_ in clause_ids_of(element)]
    is_clause_mark = (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "clause"
        and ast.unparse(node.func.value).split(".")[-1] == "mark"
    )
    if not is_clause_mark:
        return []
    # A non-literal argument is kept as its source text, which names no clause and so is reported.
    return [arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else ast.unparse(arg)
            for arg in node.args]


def marked_tests(source: str, file: str) -> Iterator[MarkedTest]:
    """Every test function of a test module with the clause IDs of its own, class and module markers."""

    def decorators(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> list[str]:
        return [id_ for decorator in node.decorator_list for id_ in clause_ids_of(decorator)]

    def pytestmark(body: list[ast.stmt]) -> list[str]:
        return [id_ for statement in body if isinstance(statement, ast.Assign)
                and any(isinstance(target, ast.Name) and target.id == "pytestmark" for target in statement.targets)
                for id_ in clause_ids_of(statement.value)]

    def walk(body: list[ast.stmt], inherited: list[str]) -> Iterator[MarkedTest]:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                yield MarkedTest(file, node.name, tuple(inherited + decorators(node)))
            elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                yield from walk(node.body, inherited + decorators(node) + pytestmark(node.body))

    tree = ast.parse(source, filename=file)
    yield from walk(tree.body, pytestmark(tree.body))


@pytest.fixture(scope="module")
def clauses() -> list[Clause]:
    return load_clauses(SPEC_DIR)


@pytest.fixture(scope="module")
def tests() -> list[MarkedTest]:
    """Every test of the suite, read statically."""
    return [test for path in sorted(TESTS_DIR.glob("test_*.py"))
            for test in marked_tests(path.read_text(encoding="utf-8"), f"tests/{path.name}")]


def report(problems: list[str]) -> str:
    return f"{len(problems)} traceability problem(s):\n" + "\n".join(problems)


# --- the spec and the suite agree ----------------------------------------------------------


def test_every_spec_heading_parses() -> None:
    assert chapter_files(SPEC_DIR), f"{SPEC_DIR} holds no chapter"
    load_clauses(SPEC_DIR)  # raises ValueError naming file and line


def test_every_clause_is_named_by_a_test(clauses: list[Clause], tests: list[MarkedTest]) -> None:
    marked = {id_ for test in tests for id_ in test.clause_ids}
    problems = [f"{clause.id} ({clause.title}): no test carries @pytest.mark.clause({clause.id!r})"
                for clause in clauses if not clause.withdrawn and clause.id not in marked]
    assert not problems, report(problems)


def test_every_marker_names_a_live_clause(clauses: list[Clause], tests: list[MarkedTest]) -> None:
    by_id = {clause.id: clause for clause in clauses}
    problems = [
        f"{test}: @pytest.mark.clause({id_!r}) names "
        + ("no clause of spec/" if id_ not in by_id else f"withdrawn clause {id_} ({by_id[id_].title})")
        for test in tests
        for id_ in test.clause_ids
        if id_ not in by_id or by_id[id_].withdrawn
    ]
    assert not problems, report(problems)


def test_withdrawn_clauses_have_no_check(clauses: list[Clause]) -> None:
    """A withdrawn clause binds nothing: no check of refdropout.conformance is registered under it."""
    from refdropout.conformance import CHECKS

    withdrawn = {clause.id for clause in clauses if clause.withdrawn}
    assert not withdrawn & set(CHECKS), f"withdrawn clauses with a check: {sorted(withdrawn & set(CHECKS))}"


def test_tests_lines_match_markers(clauses: list[Clause], tests: list[MarkedTest]) -> None:
    by_name: dict[str, list[MarkedTest]] = {}
    for test in tests:
        by_name.setdefault(test.name, []).append(test)
    problems = []
    for clause in clauses:
        carriers = [test for test in tests if clause.id in test.clause_ids]
        for name in clause.tests:
            if name not in by_name:
                problems.append(f"{clause.id}: its Tests: line names {name}, but no test of that name exists "
                                f"(expected in tests/test_{clause.chapter}.py)")
            elif not any(test.name == name for test in carriers):
                where = ", ".join(str(test) for test in by_name[name])
                problems.append(f"{clause.id}: its Tests: line names {where}, "
                                f"which lacks @pytest.mark.clause({clause.id!r})")
        problems += [f"{clause.id}: {test} carries @pytest.mark.clause({clause.id!r}), "
                     f"but the clause's Tests: line does not name {test.name}"
                     for test in carriers if test.name not in clause.tests]
    assert not problems, report(problems)


def test_clauses_have_the_conventional_form(clauses: list[Clause]) -> None:
    problems = []
    for clause in (clause for clause in clauses if not clause.withdrawn):
        lines = clause.text.splitlines()
        if not RFC_2119_KEYWORD.search(clause.text):
            problems.append(f"{clause.id}: states no requirement (no RFC 2119 keyword such as MUST, SHOULD, MAY)")
        if not any(line.startswith("Rationale:") for line in lines):
            problems.append(f"{clause.id}: has no 'Rationale:' line")
        if not lines or not lines[-1].startswith("Tests:"):
            problems.append(f"{clause.id}: its last line must be 'Tests: test_a, test_b'")
        problems += [f"{clause.id}: its Tests: line names {name!r}, which is not a test function name"
                     for name in clause.tests if not (name.isidentifier() and name.startswith("test"))]
    assert not problems, report(problems)


def test_conventions_list_every_chapter() -> None:
    conventions = (SPEC_DIR / "README.md").read_text(encoding="utf-8")
    missing = [path.name for path in chapter_files(SPEC_DIR) if f"`{path.name}`" not in conventions]
    assert not missing, f"spec/README.md's list of chapters lacks {missing}"


def test_clause_numbers_leave_no_gaps(clauses: list[Clause]) -> None:
    problems = []
    for chapter in sorted({clause.chapter for clause in clauses}):
        numbers = sorted(int(clause.id.rsplit("-", 1)[1]) for clause in clauses if clause.chapter == chapter)
        missing = sorted(set(range(1, max(numbers) + 1)) - set(numbers))
        if missing:
            problems.append(f"{chapter}: no clause numbered {missing}; IDs are never reused, "
                            "so a withdrawn clause keeps its heading")
    assert not problems, report(problems)


# --- the scanner of test files ------------------------------------------------------------


def test_marked_tests_reads_decorators_class_and_module_markers() -> None:
    source = '''
import pytest
from pytest import mark

pytestmark = [pytest.mark.slow, pytest.mark.clause("A-1")]

@pytest.mark.clause("A-2", "A-3")
@pytest.mark.parametrize("x", [1])
def test_one(x): ...

@mark.clause(CLAUSE_ID)
def test_two(): ...

def helper(): ...

@pytest.mark.clause("A-4")
class TestGroup:
    pytestmark = pytest.mark.clause("A-5")
    def test_three(self): ...
'''
    assert list(marked_tests(source, "tests/test_a.py")) == [
        MarkedTest("tests/test_a.py", "test_one", ("A-1", "A-2", "A-3")),
        MarkedTest("tests/test_a.py", "test_two", ("A-1", "CLAUSE_ID")),
        MarkedTest("tests/test_a.py", "test_three", ("A-1", "A-4", "A-5")),
    ]


# --- the spec parser ----------------------------------------------------------------------

ALPHA = """\
# Alpha

## Section

### ALPHA-1: First rule
The output MUST equal the input.

    y = x

#### A detail inside the clause
```python
# not a heading
### ALPHA-9: not a heading either
```
Rationale: because.
Tests: test_first, test_first_again

## Next section ends the clause
Prose that belongs to no clause.

### ALPHA-2: Withdrawn (was "Second rule")
Replaced by ALPHA-1.
"""

BETA = """\
### BETA-1: Only rule
Each x MAY be dropped.
Rationale: none.
Tests: test_only
"""


def write_spec(directory: Path, chapters: dict[str, str]) -> Path:
    for name, text in chapters.items():
        (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_load_clauses_reads_chapters_in_file_then_document_order(tmp_path: Path) -> None:
    readme = "### NOT-A-CHAPTER-1: the conventions document is skipped\n"
    spec = write_spec(tmp_path, {"beta.md": BETA, "alpha.md": ALPHA, "README.md": readme})
    clauses = load_clauses(spec)
    assert [(clause.id, clause.chapter, clause.title) for clause in clauses] == [
        ("ALPHA-1", "alpha", "First rule"),
        ("ALPHA-2", "alpha", 'Withdrawn (was "Second rule")'),
        ("BETA-1", "beta", "Only rule"),
    ]
    first = clauses[0]
    assert first.tests == ("test_first", "test_first_again")
    assert first.text.startswith("The output MUST equal the input.")
    assert "#### A detail inside the clause" in first.text and "### ALPHA-9" in first.text
    assert first.text.endswith("Tests: test_first, test_first_again")
    assert "Prose" not in first.text
    assert [clause.withdrawn for clause in clauses] == [False, True, False]
    assert clauses[1].tests == ()


@pytest.mark.parametrize("heading", [
    "### ALPHA-3 Missing colon",
    "### ALPHA-3:No space",
    "### ALPHA-03: Leading zero",
    "### ALPHA-0: Counts from one",
    "### alpha-3: Lower case",
    "### ALPHA3: No hyphen",
    "### ALPHA-3:",
    "## ALPHA-3: Level two",
    "#### ALPHA-3: Level four",
])
def test_malformed_clause_heading_is_rejected_with_file_and_line(tmp_path: Path, heading: str) -> None:
    spec = write_spec(tmp_path, {"alpha.md": ALPHA.replace("## Next section ends the clause", heading)})
    with pytest.raises(ValueError, match=r"alpha\.md:18: malformed clause heading"):
        load_clauses(spec)


def test_duplicate_clause_id_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {"alpha.md": ALPHA.replace("ALPHA-2:", "ALPHA-1:")})
    with pytest.raises(ValueError, match=r"alpha\.md:21: duplicate clause ID ALPHA-1 \(first at .*alpha\.md:5\)"):
        load_clauses(spec)


def test_clause_id_of_another_chapter_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {"alpha.md": ALPHA, "beta.md": BETA.replace("BETA-1", "ALPHA-3")})
    with pytest.raises(ValueError, match=r"beta\.md:1: clause ALPHA-3 is in chapter 'beta'; its ID must start"):
        load_clauses(spec)


def test_chapter_file_name_must_be_a_lower_case_word(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {"Alpha-Notes.md": ALPHA})
    with pytest.raises(ValueError, match=r"Alpha-Notes\.md: a chapter file name must match"):
        load_clauses(spec)
