"""Packaging: the wheel carries the spec, the command line works, the engine needs only the stdlib."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import refdropout.spec
from helpers import REPO, SPEC_DIR
from refdropout.cli import main
from refdropout.reports.published import DOCUMENTS
from refdropout.spec import chapter_files, load_clauses

# The directory that holds the refdropout package these tests import (the repository root
# for an editable install).
PACKAGE_ROOT = Path(refdropout.spec.__file__).resolve().parents[1]


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run a command and return its stdout; a non-zero exit fails the test with the command's stderr."""
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr}"
    return result.stdout


def test_wheel_ships_the_spec_and_its_cli_lists_every_clause(tmp_path: Path) -> None:
    pytest.importorskip("hatchling", reason="the wheel is built by hatchling: pip install -e '.[test]'")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", tmp_path / "dist", ".",
        cwd=REPO)
    [wheel] = (tmp_path / "dist").glob("refdropout-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    expected = {f"refdropout/_spec/{path.name}" for path in [*chapter_files(SPEC_DIR), SPEC_DIR / "README.md"]}
    expected |= {f"refdropout/_docs/{name}" for name in DOCUMENTS} | {"refdropout/reports/site.css"}
    assert expected <= names, f"missing from {wheel.name}: {sorted(expected - names)}"

    target = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--no-deps", "--target", target, wheel, cwd=tmp_path)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # -S keeps site-packages, and with them an editable install of the checkout, off sys.path:
    # only the installed copy (and its packaged spec) can answer.
    listing = run(sys.executable, "-S", "-m", "refdropout", "spec", cwd=outside,
                  env={**os.environ, "PYTHONPATH": str(target)})
    missing = [clause.id for clause in load_clauses(SPEC_DIR) if clause.id not in listing.split()]
    assert not missing, f"the installed wheel's `refdropout spec` does not list {missing}"


def test_cli_spec_lists_every_clause(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["spec"]) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [[clause.id, clause.chapter] for clause in load_clauses()]
    assert rows, "the spec lists no clause"


def test_cli_spec_chapter_lists_only_that_chapter(capsys: pytest.CaptureFixture[str]) -> None:
    clauses = load_clauses()
    chapter = clauses[-1].chapter
    assert main(["spec", "--chapter", chapter]) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert ids == [clause.id for clause in clauses if clause.chapter == chapter]


@pytest.mark.parametrize("argv", [[], ["bogus"], ["spec", "--chapter", "no_such_chapter"], ["spec", "--bogus"]])
def test_cli_usage_error_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert "usage: refdropout" in capsys.readouterr().err


# Run in a fresh interpreter (-S: no site-packages beyond PYTHONPATH). Third-party imports
# are refused outright, so even a guarded `try: import numpy` cannot pull one in.
ENGINE_IMPORT_CHECK = textwrap.dedent('''
    import importlib, pkgutil, sys

    THIRD_PARTY = {"numpy", "scipy", "hypothesis", "pytest", "torch", "jax", "tensorflow"}
    NOT_ENGINE = {"refdropout.__main__", "refdropout.stats", "refdropout.conformance", "refdropout.adapters",
                  "refdropout.mutants", "refdropout.pytest_plugin", "refdropout.contract.arrays",
                  "refdropout.reports"}

    class RefuseThirdParty:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in THIRD_PARTY:
                raise ImportError(f"the engine imported {name}; engine modules use the standard library only")
            return None

    sys.meta_path.insert(0, RefuseThirdParty())

    def engine_modules(package):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            if info.name not in NOT_ENGINE:
                module = importlib.import_module(info.name)
                yield info.name
                if info.ispkg:
                    yield from engine_modules(module)

    import refdropout
    imported = list(engine_modules(refdropout))
    assert {"refdropout.spec", "refdropout.cli"} <= set(imported), imported
    if "refdropout.tensor" in imported:  # a computation, so lazy imports inside ops are caught too
        from refdropout.tensor import tensor
        x = tensor([[1.0, -2.0], [0.5, 4.0]], requires_grad=True)
        (x * x).sum().backward()
        assert x.grad.tolist() == [[2.0, -4.0], [1.0, 8.0]], x.grad.tolist()
    foreign = sorted({name.partition(".")[0] for name in sys.modules} - set(sys.stdlib_module_names)
                     - {"refdropout", "__main__"})
    assert not foreign, f"non-stdlib modules loaded: {foreign}"
    print("\\n".join(imported))
''')


@pytest.mark.clause("TENSOR-19")
def test_engine_imports_only_stdlib(tmp_path: Path) -> None:
    script = tmp_path / "engine_import_check.py"
    script.write_text(ENGINE_IMPORT_CHECK, encoding="utf-8")
    imported = run(sys.executable, "-S", script, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(PACKAGE_ROOT)})
    assert "refdropout.spec" in imported.split()
