"""Tests of the mutant catalogue, refdropout.mutants, and of its detection matrix (issue 7, sections 1 and 2).

Every registered mutant is rejected, at the quick profile, by one of the clauses it declares in
``caught_by`` (a mutant that declares why the quick profile cannot catch it is skipped with that
reason); each judgement gets a fresh budget, as every judgement of a broken implementation does
(conftest's check_broken). The catalogue's size, kinds, citations and docstrings are checked
statically, and docs/detection-matrix.md must list every registered mutant, so that the document
is regenerated whenever the catalogue changes.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given

from helpers import REPO, assert_answers_in_kind, run_command, seeds, statistical
from refdropout.conformance import CHECKS, Outcome, Verdict
from refdropout.contract import Implementation
from refdropout.mutants import KINDS, MUTANTS
from refdropout.reports.detection import JUSTIFICATIONS, cell
from refdropout.stats import Record

PACKAGE = REPO / "refdropout" / "mutants"
DOCUMENT = REPO / "docs" / "detection-matrix.md"
CITATION = re.compile(r"^\S+/\S+#\d+: .+")


def _quick_cases() -> list:
    return [pytest.param(name, marks=pytest.mark.skip(reason=entry.quick) if entry.quick else (), id=name)
            for name, entry in MUTANTS.items()]


@pytest.mark.parametrize("name", _quick_cases())
@statistical(1)  # one seed per mutant, judged at the quick level with a fresh budget
@given(seed=seeds)
def test_every_mutant_is_caught_by_a_clause_it_declares(check_broken, name: str, seed: int) -> None:
    entry = MUTANTS[name]
    verdicts = []
    for clause in entry.caught_by:
        verdict = check_broken(clause, entry.make(), seed)
        if verdict.failed:
            return
        verdicts.append(f"{clause}: {verdict.outcome.value} {verdict.detail}")
    pytest.fail(f"{', '.join(entry.caught_by)}: expected FAIL under one for {name} ({entry.wrong}), got "
                f"{'; '.join(verdicts)}")


def test_the_catalogue_holds_at_least_30_mutants() -> None:
    assert len(MUTANTS) >= 30, sorted(MUTANTS)


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_has_two_mutants_or_more(kind: str) -> None:
    # issue 7 lists at least two classes of defect in every kind
    assert sum(entry.kind == kind for entry in MUTANTS.values()) >= 2, kind


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_cites_a_report_and_says_what_is_wrong(name: str) -> None:
    entry = MUTANTS[name]
    assert CITATION.match(entry.models), entry.models
    assert entry.wrong.endswith("."), entry.wrong
    instance = entry.make()
    assert instance.name == name
    assert isinstance(instance, Implementation)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_declares_registered_checks(name: str) -> None:
    unknown = set(MUTANTS[name].caught_by) - set(CHECKS)
    assert not unknown, f"{name} declares clauses without a check: {sorted(unknown)}"


def test_mutants_import_no_framework() -> None:
    """Mutants import the standard library and refdropout only: never numpy, torch or another framework."""
    foreign = []
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            foreign += [f"{path.name}: {m}" for m in modules
                        if m.split(".")[0] not in sys.stdlib_module_names and m.split(".")[0] != "refdropout"]
    assert not foreign, foreign


def test_the_published_matrix_lists_every_mutant() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    listed = set(re.findall(rf"(?m)^\| ([a-z0-9-]+) \| (?:{'|'.join(KINDS)}) \| ", text))  # the catalogue's rows
    missing = sorted(set(MUTANTS) - listed)
    assert not missing, f"regenerate {DOCUMENT.relative_to(REPO)} (refdropout report detection): missing {missing}"


def test_justifications_name_registered_checks() -> None:
    assert set(JUSTIFICATIONS) <= set(CHECKS), sorted(set(JUSTIFICATIONS) - set(CHECKS))


@pytest.mark.parametrize("clause", sorted(JUSTIFICATIONS))
def test_justifications_name_witnesses_that_exist(clause: str) -> None:
    """A justification's witnesses are classes of the tests/broken module it names (not moved or renamed)."""
    cited = re.search(r"(tests/broken/\w+\.py) shows the check rejects (.+)\.$", JUSTIFICATIONS[clause])
    assert cited, JUSTIFICATIONS[clause]
    source = (REPO / cited.group(1)).read_text(encoding="utf-8")
    missing = [w for w in cited.group(2).split(", ") if f"class {w}(" not in source]
    assert not missing, f"{clause}: {cited.group(1)} has no class {missing}"


def _record(p_value: float, reject: bool) -> Record:
    return Record("case", "test", 0.0, p_value, 10, 1e-9, 0.0, 0.0, reject, False)


def test_a_cell_shows_the_least_rejecting_p_value() -> None:
    assert cell(Verdict("DROPOUT-16", Outcome.PASS)) == ""
    assert cell(Verdict("DROPOUT-16", Outcome.NOT_APPLICABLE)) == ""
    assert cell(Verdict("DROPOUT-2", Outcome.FAIL, "exact")) == "x"
    records = (_record(0.5, False), _record(3e-12, True), _record(2e-15, True))
    assert cell(Verdict("DROPOUT-16", Outcome.FAIL, "", records)) == "x 2e-15"
    assert cell(Verdict("DROPOUT-16", Outcome.FAIL, "", (_record(0.0, True),))) == "x <1e-300"


def test_the_generator_writes_detections_silent_clauses_and_the_catalogue(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "matrix.md"
    argv = ["--profile", "quick", "--seed", "3", "--mutant", "wrong-policy", "--mutant", "keep-threshold-in-8-bits",
            "--clause", "DROPOUT-10", "--clause", "DROPOUT-16", "--clause", "ENSEMBLE-8", "--out", str(out)]
    run_command(capsys, "report", "detection", *argv)
    text = out.read_text(encoding="utf-8")
    assert "refdropout report detection " + " ".join(argv) in text
    assert "profile `quick`" in text and "master seed 3" in text
    assert "ENSEMBLE-8 |" not in text  # no column for a clause that applies to no mutant run
    assert re.search(r"(?m)^\| wrong-policy \| x \|  \| 1 \|$", text), text
    assert re.search(r"(?m)^\| keep-threshold-in-8-bits \|  \| x \de-\d+ \| 1 \|$", text), text
    assert f"- ENSEMBLE-8 (applies to no mutant): {JUSTIFICATIONS['ENSEMBLE-8']}" in text
    assert "- DROPOUT-10: wrong-policy" in text
    assert re.search(r"(?m)^\| wrong-policy \| values \| .+ \| pytorch/pytorch#59421: .+ \| DROPOUT-10 \| caught \|$",
                     text)


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_every_mutant_answers_numpy_arrays_in_kind(name: str) -> None:
    """Handed a numpy x, a mutant's dropout answers with a numpy array, what it answers for the engine
    tensor (fresh instances, so a mutant with a state of its own starts alike); one that refuses the
    tensor refuses the array."""
    import numpy as np

    from refdropout.conformance.kit import edged
    from refdropout.contract.arrays import to_numpy
    from refdropout.dtypes import float32

    x = edged(5, (4, 8), float32)
    try:
        want = to_numpy(MUTANTS[name].make().dropout(x, 0.3, training=True, seed=5))
    except Exception as error:  # noqa: BLE001  (a mutant may refuse anything its model refuses)
        with pytest.raises(type(error)):
            MUTANTS[name].make().dropout(to_numpy(x), 0.3, training=True, seed=5)
        return
    got = MUTANTS[name].make().dropout(to_numpy(x), 0.3, training=True, seed=5)
    assert isinstance(got, np.ndarray) and got.dtype == want.dtype and got.tobytes() == want.tobytes(), name


def test_the_textbook_base_answers_in_kind() -> None:
    from refdropout.mutants.textbook import Textbook

    assert_answers_in_kind(Textbook())


def _textbook_mutants() -> list[str]:
    from refdropout.mutants.textbook import Textbook

    return [name for name, entry in MUTANTS.items() if issubclass(entry.make, Textbook)]


def _outcome(call: Callable[[], object]) -> object:
    """What a call gave, every array as (dtype, shape, bytes); what it raised, as the exception's type."""
    from refdropout.contract.arrays import to_numpy
    from refdropout.tensor import Tensor

    try:
        result = call()
    except Exception as error:  # noqa: BLE001  (a mutant may refuse what its model refuses: both paths must)
        return type(error)
    items = result if isinstance(result, tuple) else (result,)
    arrays = [to_numpy(item) if isinstance(item, Tensor) else item for item in items]
    return [(a.dtype.str, a.shape, a.tobytes()) for a in arrays]


@pytest.mark.parametrize("name", _textbook_mutants())
def test_a_textbook_mutant_computes_arrays_as_its_engine_steps_do(name: str) -> None:
    """Handed numpy arrays, a mutant built on Textbook runs its steps on ArrayTensors (numpy's arithmetic,
    BulkGenerator's uniforms); handed engine tensors, on the engine's ops: outputs, masks and gradients agree
    bit for bit in every format, at p = 0, 1 and between, NaN, ±inf, ±0 and subnormals included, whichever
    step the mutant overrides (fresh instances: a mutant with a state of its own starts alike)."""
    from refdropout.conformance.kit import edged
    from refdropout.contract.arrays import to_numpy
    from refdropout.dtypes import bfloat16, float16, float32, float64

    make = MUTANTS[name].make
    calls = {
        "train": lambda impl, x, g, p: impl.dropout(x, p, training=True, seed=2**32 + 7),
        "eval": lambda impl, x, g, p: impl.dropout(x, p, training=False, seed=7),
        "mask": lambda impl, x, g, p: impl.dropout_with_mask(x, p, seed=7),
        "vjp": lambda impl, x, g, p: impl.dropout_vjp(x, p, g, training=True, seed=7),
        "noise": lambda impl, x, g, p: impl.dropout_noise_shape(x, p, (24, 1), training=True, seed=7),
        "stream": lambda impl, x, g, p: tuple(impl.dropout_stream(7)(x, p, training=t) for t in (True, False, True)),
    }
    for dtype in (float64, float32, float16, bfloat16):
        x, g = edged(3, (24, 25), dtype, nonfinite=True), edged(4, (24, 25), dtype)  # 600 elements: bulk draws
        for p in (0.0, 0.3, 1.0):
            for what, call in calls.items():
                engine = _outcome(lambda: call(make(), x, g, p))
                arrays = _outcome(lambda: call(make(), to_numpy(x), to_numpy(g), p))
                assert arrays == engine, f"{name} {what} in {dtype.name} at p = {p}"


def test_the_bulk_generator_draws_the_engines_uniforms() -> None:
    from refdropout.adapters.array_tensor import ArrayTensor, BulkGenerator
    from refdropout.random import Generator

    for size in (5, 511, 512, 3001):
        engine, bulk = Generator(2**40 + 9), BulkGenerator(2**40 + 9)
        for _ in range(2):
            got = bulk.uniform((size,))
            assert got.data == engine.uniform((size,)).data and bulk.state == engine.state
        assert isinstance(got, ArrayTensor) is (size >= 512)
