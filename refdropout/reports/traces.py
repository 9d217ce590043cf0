"""Where a clause is checked and tested: its check's function and source line, its tests' files and lines.

A clause's check is the function registered for it in refdropout.conformance.CHECKS (importing the
suite registers them, and loads scipy); its tests are the functions its ``Tests:`` line names
(spec/README.md: tests/test_traceability.py keeps that line equal to the tests that carry its
``@pytest.mark.clause`` marker), found by reading the repository's tests/ with ``ast``. The tests
are not installed with the package: where tests/ is absent, :func:`tests_dir` is None and a reader
says so.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..conformance import CHECKS

__all__ = ["ROOT", "CheckSite", "Location", "check_site", "find_tests", "shown", "tests_dir"]

# the directory that holds the refdropout package: the repository's root in a source checkout
ROOT = Path(__file__).resolve().parents[2]


def shown(path: Path, line: int | None = None) -> str:
    """``path`` as a reader finds it, relative to :data:`ROOT` (``refdropout/conformance/dropout.py:460``)."""
    try:
        name = path.resolve().relative_to(ROOT).as_posix()
    except ValueError:
        name = str(path)
    return name if line is None else f"{name}:{line}"


@dataclass(frozen=True)
class CheckSite:
    """A clause's check: the function, where it is defined (the line of its ``@check``), what it needs
    of an implementation and the statistical decisions it registers."""

    clause: str
    module: str
    function: str
    path: Path
    line: int
    needs: tuple[str, ...]
    decisions: int

    @property
    def name(self) -> str:
        return f"{self.module}:{self.function}"


def check_site(clause: str) -> CheckSite | None:
    """Where the check of ``clause`` lives; None when no check is registered for it."""
    entry = CHECKS.get(clause)
    if entry is None:
        return None
    function = inspect.unwrap(entry.run)
    source = inspect.getsourcefile(function)
    if source is None:
        raise ValueError(f"the check of {clause} ({function.__qualname__}) has no source file")
    _, line = inspect.getsourcelines(function)
    return CheckSite(clause, function.__module__, function.__qualname__, Path(source), line, entry.needs,
                     entry.decisions)


@dataclass(frozen=True)
class Location:
    """A test function of the repository's tests/: its name, file and line (of its first decorator)."""

    name: str
    path: Path
    line: int


def tests_dir() -> Path | None:
    """The repository's tests/, or None where refdropout is installed without it (from a wheel)."""
    directory = ROOT / "tests"
    return directory if (ROOT / "spec").is_dir() and directory.is_dir() else None


def find_tests(directory: Path, names: Iterable[str] | None = None) -> dict[str, list[Location]]:
    """The test functions of ``directory``'s ``test_*.py`` files (at module level or in a ``Test*``
    class), by name; only those of ``names`` when given."""
    wanted = None if names is None else set(names)
    found: dict[str, list[Location]] = {}
    for path in sorted(directory.glob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _test_functions(tree.body):
            if wanted is None or node.name in wanted:
                line = min((decorator.lineno for decorator in node.decorator_list), default=node.lineno)
                found.setdefault(node.name, []).append(Location(node.name, path, line))
    return found


def _test_functions(body: list[ast.stmt]) -> Iterable[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            yield node
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            yield from _test_functions(node.body)
