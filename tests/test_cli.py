"""Tests of ``refdropout check``: targets, exit status, the table, the JSON and JUnit reports; of the
options it shares with the pytest plugin and the reports; and of ``refdropout report``.

Every run here is at the quick profile on a few clauses, most of them exact. A run plans its own
family-wise budget (refdropout.conformance.runner), so the statistical decisions made here against
correct implementations are not charged to the suite's quick budget: each run is a family of its
own at α_F = 1e-6, as a user's run would be.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
import shlex
import subprocess
import sys
import textwrap
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from helpers import REPO, run_command
from refdropout.adapters import TARGETS, BuiltinTarget, TargetError, import_framework, load_target
from refdropout.adapters.numpy import NumpyDropout
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import CHECKS, Outcome
from refdropout.conformance.runner import clause_seed, run_plan, run_target, select_clauses
from refdropout.options import PROFILE, TARGET
from refdropout.reports import REPORTS
from refdropout.reports.command import parser_of
from refdropout.reports.published import MATRIX, read_matrix
from refdropout.spec import Clause, load_clauses
from refdropout.stats import PROFILES

EXACT = ["--clause", "DROPOUT-3", "--clause", "DROPOUT-5", "--clause", "DROPOUT-8"]
STATISTICAL = "DROPOUT-16"  # the keep count: an exact binomial decision per keep rate and declared format
CLAUSE_ID = re.compile(r"[A-Z]+-[0-9]+")

# a module in the current directory holding plain functions and adapter classes, correct and broken
USER_MODULE = textwrap.dedent('''
    import numpy as np
    from refdropout.adapters.reference import ReferenceDropout
    from refdropout.contract import target

    def _checked(p):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        return 1.0 - p

    def good(x, p, *, training, seed):
        """Correct inverted dropout."""
        q = _checked(p)
        if not training or q == 1.0:
            return x
        keep = np.random.default_rng(seed).random(x.shape) < q
        with np.errstate(invalid="ignore", over="ignore"):
            return x * keep / q if q > 0.0 else x * keep

    def flips_a_bulk_bit(x, p, *, training, seed):
        """good, but its path for tensors of over 65,536 elements inverts the first mask bit."""
        y = good(x, p, training=training, seed=seed)
        if training and x.size > 65536 and 0.0 < p < 1.0:
            y.reshape(-1)[0] = 0 if y.reshape(-1)[0] else x.reshape(-1)[0] / (1.0 - p)
        return y

    def no_rescale(x, p, *, training, seed):
        """Broken: forgets to divide by q."""
        q = _checked(p)
        return x * (np.random.default_rng(seed).random(x.shape) < q) if training else x

    def crashes(x, p, *, training, seed):
        """Broken: raises on every call."""
        raise RuntimeError("not implemented yet")

    def select_nan(x, p, *, training, seed):
        """Inverted dropout in which a dropped element becomes 0 whatever it was, NaN and inf too."""
        q = _checked(p)
        if not training or q == 1.0:
            return x
        keep = np.random.default_rng(seed).random(x.shape) < q
        return np.where(keep, x / q if q > 0.0 else x, 0).astype(x.dtype)

    @target(policies={"nonfinite": "select"}, name="select-nan")
    def select_declared(x, p, *, training, seed):
        return select_nan(x, p, training=training, seed=seed)

    @target(policies={"nonfinite": "multiply"}, dtypes=("float32",))
    def multiply_declared(x, p, *, training, seed):
        return select_nan(x, p, training=training, seed=seed)

    def signed_seed(x, p, *, training, seed):
        """Broken: takes the seed as a C long, which seeds >= 2**63 overflow."""
        np.int64(seed)
        return good(x, p, training=training, seed=seed)

    class SelectReference(ReferenceDropout):
        """The reference under the other non-finite policy: a dropped NaN or inf becomes 0."""
        def __init__(self):
            super().__init__(nonfinite="select")
''')


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of USER_MODULE, written under a fresh name to a fresh current directory."""
    name = f"user_dropout_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def check(argv: list[str], capsys: pytest.CaptureFixture[str], status: int = 0) -> tuple[str, str]:
    """``refdropout check`` at the quick profile, which must exit with ``status``: (stdout, stderr)."""
    return run_command(capsys, "check", "--profile", "quick", *argv, status=status)


def rows(out: str) -> dict[str, list[str]]:
    """The table's rows by clause ID, each split into its words."""
    return {words[0]: words for words in map(str.split, out.splitlines()) if words and CLAUSE_ID.fullmatch(words[0])}


# ---- exit status and the table ------------------------------------------------------------------


def test_reference_passes_with_a_table_and_a_summary(capsys: pytest.CaptureFixture[str]) -> None:
    out, err = check([*EXACT, "--clause", STATISTICAL], capsys)
    assert out.splitlines()[0].split()[:3] == ["CLAUSE", "VERDICT", "P-VALUE"]
    table = rows(out)
    assert sorted(table) == ["DROPOUT-16", "DROPOUT-3", "DROPOUT-5", "DROPOUT-8"]
    assert all(row[1] == "pass" for row in table.values())
    assert table["DROPOUT-3"][2] == "exact"
    statistical = table[STATISTICAL]  # p-value, n, observed vs expected, detectable, title
    assert 0.0 < float(statistical[2]) <= 1.0 and statistical[5] == "vs" and statistical[7].startswith("±")
    assert " ".join(statistical[8:]) == "The keep count is Binomial(n, q)"
    assert ("reference: 4 clauses: 4 pass, 0 FAIL, 0 not applicable, 0 differs by declared policy, 0 could not check;"
            in out)
    assert err == ""  # no progress where stderr is not a terminal


def test_a_failing_clause_exits_1_and_says_why(user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = check([f"{user_module}:no_rescale", *EXACT], capsys, status=1)
    assert rows(out)["DROPOUT-8"][1] == "FAIL" and rows(out)["DROPOUT-3"][1] == "pass"
    assert "FAIL DROPOUT-8: float64, p = 0.1: element" in out


def test_an_implementation_that_raises_fails(user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = check([f"{user_module}:crashes", "--clause", "DROPOUT-5"], capsys, status=1)
    assert re.search(r"FAIL DROPOUT-5: dropout\(x: float64 \(8, 16, 32\), p=1.0, training=True, seed=[0-9]+\) raised"
                     r" RuntimeError: not implemented yet", out), out


@pytest.mark.parametrize("target, message", [
    ("no_such_target", "unknown target 'no_such_target'"),
    ("no_such_module_xyz:f", "cannot import no_such_module_xyz"),
    ("refdropout.adapters.reference:NoSuchClass", "has no attribute 'NoSuchClass'"),
])
def test_unusable_targets_exit_2(target: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, err = check([target, *EXACT], capsys, status=2)
    assert out == ""
    assert message in err


def test_a_missing_framework_names_its_install_command(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(TARGETS, "absent", BuiltinTarget("absent_adapter:Absent", "refdropout_absent_framework",
                                                         "pip install refdropout-absent-framework"))
    _, err = check(["reference", "absent"], capsys, status=2)  # nothing runs when any target cannot load
    assert err.strip().endswith("needs refdropout_absent_framework, which is not installed: "
                                "pip install refdropout-absent-framework")


def test_every_builtin_names_its_framework_and_install_command() -> None:
    for name, target in TARGETS.items():
        assert (target.framework is None) == (target.install is None) == (name == "reference"), name
        if target.framework is not None:
            assert target.install.startswith("pip install ") and target.framework in target.install, name


# target -> what its install command must hold: a CPU build (PyPI's torch is CUDA's; tensorflow-cpu; mlx's cpu extra)
CPU_BUILDS = {"torch": "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
              "keras-torch": "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu",
              "tensorflow": "tensorflow-cpu", "keras": "tensorflow-cpu", "mlx": "'mlx[cpu]'"}


@pytest.mark.parametrize("name, missing", [(name, module) for name, target in TARGETS.items() if target.framework
                                           for module in (target.framework, *target.requires)])
def test_a_builtin_missing_any_module_it_needs_says_what_to_install(name: str, missing: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Each module a built-in target needs (Keras's backend too), missing, stops it before its adapter is
    imported with one line naming the module and the exact command, a CPU build where PyPI's default is not."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda module, *args: None if module == missing
                        else real(module, *args))
    with pytest.raises(TargetError) as raised:
        load_target(name)
    assert str(raised.value) == f"target {name!r} needs {missing}, which is not installed: {TARGETS[name].install}"
    assert CPU_BUILDS.get(name, "pip install ") in TARGETS[name].install


def test_a_framework_installed_without_what_it_loads_names_the_install_command(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """mlx without its CPU backend: ``import mlx.core`` raises ImportError (libmlx.so), not ModuleNotFoundError."""
    (tmp_path / "refdropout_half_installed.py").write_text("raise ImportError('libmlx.so: cannot open shared "
                                                           "object file')\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ImportError) as raised:
        import_framework("refdropout_half_installed", target="mlx", install=TARGETS["mlx"].install)
    assert str(raised.value) == ("the mlx target cannot import refdropout_half_installed (libmlx.so: cannot open "
                                 "shared object file); install it with: pip install 'mlx[cpu]'")


def test_device_cuda_needs_an_adapter_that_takes_a_device(capsys: pytest.CaptureFixture[str]) -> None:
    _, err = check(["--device", "cuda", *EXACT], capsys, status=2)
    assert "target 'reference' runs on the CPU only" in err


@pytest.mark.parametrize("argv", [["--clause", "NO-SUCH-*"], ["--seed", "-1"], ["--seed", str(2**64)],
                                  ["--profile", "huge"], ["--device", "tpu"]])
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        check(argv, capsys)
    assert exit_.value.code == 2
    assert "usage: refdropout check" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["-1", str(2**64), "seven"])
def test_a_bad_seed_is_refused_with_its_range(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The words pytest's --refdropout-seed uses too (tests/test_plugin.py): one parser, refdropout.options.SEED."""
    with pytest.raises(SystemExit) as exit_:
        check(["--seed", text], capsys)
    assert exit_.value.code == 2
    assert f"argument --seed: must be an integer in [0, 2**64), got '{text}'" in capsys.readouterr().err


def test_the_shared_options_name_every_profile_and_builtin_target() -> None:
    """refdropout.options is written without importing the suite: what it lists must be what the suite has."""
    assert PROFILE.choices == tuple(PROFILES)
    assert [name for name in TARGETS if name not in TARGET.help] == []


# ---- targets ---------------------------------------------------------------------------------------


def test_plain_function_passes_and_lacks_the_other_capabilities(user_module: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = check([f"{user_module}:good", "--clause", "DROPOUT-[2-8]", "--clause", STATISTICAL], capsys)
    verdicts = {clause: row[1] for clause, row in rows(out).items()}
    assert verdicts.pop("DROPOUT-2") == "not"  # "not applicable"
    assert set(verdicts.values()) == {"pass"} and len(verdicts) == 6
    assert "not applicable (needs dropout_with_mask): DROPOUT-2" in out


def test_an_adapter_class_is_used_as_it_is_and_its_policy_shown(user_module: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = check([f"{user_module}:SelectReference", "--clause", "DROPOUT-10"], capsys)
    assert "DROPOUT-10  differs by declared policy" in out
    assert "nonfinite = 'select' (the reference: 'multiply')" in out


# ---- declaring without a class (issue 17 §1) --------------------------------------------------------


@pytest.mark.clause("RUNNER-14")
def test_a_plain_function_declares_its_policy_on_the_command_line_or_with_the_decorator(
        user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A dropped NaN becoming 0 FAILs DROPOUT-10 undeclared, and differs by declared policy when
    ``--policy nonfinite=select`` or the decorator declares it; the summary says which."""
    out, _ = check([f"{user_module}:select_nan", "--clause", "DROPOUT-10"], capsys, status=1)
    assert "FAIL DROPOUT-10: float64, p = 0.3: declared 'multiply'" in out
    out, _ = check([f"{user_module}:select_nan", "--clause", "DROPOUT-10", "--policy", "nonfinite=select"], capsys)
    assert "DROPOUT-10  differs by declared policy" in out
    assert (f"{user_module}:select_nan: declared: dtypes float64, float32 (default); nonfinite=select"
            " (command line)") in out
    out, _ = check([f"{user_module}:select_declared", "--clause", "DROPOUT-10"], capsys)
    assert "DROPOUT-10  differs by declared policy" in out
    assert "declared: name 'select-nan' (decorator); dtypes float64, float32 (default); nonfinite=select (decorator)" \
        in out


@pytest.mark.clause("RUNNER-14")
def test_the_command_line_overrides_the_decorator_and_the_json_says_where_each_value_came_from(
        user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.json"
    target = f"{user_module}:multiply_declared"
    check([target, "--clause", "DROPOUT-10", "--json", str(path)], capsys, status=1)  # as declared: multiply
    [run] = json.loads(path.read_text(encoding="utf-8"))["runs"]
    declared = run["declarations"]
    assert declared["dtypes"] == {"value": ["float32"], "source": "decorator"}
    assert declared["policies"]["nonfinite"] == {"value": "multiply", "source": "decorator"}
    assert declared["policies"]["scaling"] == {"value": "inverted", "source": "default"}
    assert declared["name"] == {"value": target, "source": "default"}
    check([target, "--clause", "DROPOUT-10", "--policy", "nonfinite=select", "--policy", "seed_bits=32",
           "--dtypes", "float64,float16", "--json", str(path)], capsys)
    [run] = json.loads(path.read_text(encoding="utf-8"))["runs"]
    declared = run["declarations"]
    assert declared["dtypes"] == {"value": ["float64", "float16"], "source": "command line"}
    assert declared["policies"]["nonfinite"] == {"value": "select", "source": "command line"}
    assert declared["policies"]["seed_bits"] == {"value": 32, "source": "command line"}
    assert run["clauses"][0]["verdict"] == "differs by declared policy"


@pytest.mark.clause("RUNNER-14")
@pytest.mark.parametrize("argv, shown", [
    (["--policy", "nonfinite=zero"], "argument --policy: nonfinite must be one of multiply, select, got"
                                     " 'nonfinite=zero'"),
    (["--policy", "seed_bits=16"], "argument --policy: seed_bits must be one of 64, 32, got 'seed_bits=16'"),
    (["--policy", "speed=fast"], "argument --policy: must be NAME=VALUE with NAME one of scaling, nonfinite,"),
    (["--policy", "nonfinite"], "argument --policy: must be NAME=VALUE"),
    (["--dtypes", "float64,int8"], "argument --dtypes: must be distinct floating formats separated by commas, from "
                                   "float64, float32, float16, bfloat16; got 'float64,int8'"),
    (["--dtypes", "float32,float32"], "argument --dtypes: must be distinct floating formats"),
])
def test_bad_declarations_on_the_command_line_are_usage_errors(argv: list[str], shown: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        check(argv, capsys)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and shown in err and out == ""  # refused before any check ran


@pytest.mark.parametrize("declared, error, shown", [
    ({"policies": {"speed": "fast"}}, ValueError, "policies: unknown policy 'speed'"),
    ({"policies": {"nonfinite": "zero"}}, ValueError, "nonfinite must be one of 'multiply', 'select', got 'zero'"),
    ({"policies": [("nonfinite", "select")]}, TypeError, "policies must be a refdropout.contract.Policies or a"),
    ({"dtypes": "float64"}, TypeError, "dtypes must be a non-empty tuple"),
    ({"name": 7}, TypeError, "name must be a str, got 7"),
])
def test_the_decorator_refuses_bad_declarations_as_it_runs(declared: dict, error: type, shown: str) -> None:
    from refdropout.contract import target

    with pytest.raises(error, match=re.escape(shown)):
        target(**declared)


def test_the_decorator_takes_policies_too_and_returns_the_function_itself() -> None:
    from refdropout.adapters.function import FunctionDropout
    from refdropout.contract import Policies, target
    from refdropout.contract.declarations import declared

    def f(x, p, *, training, seed):
        return x

    assert target(policies=Policies(seed_bits=32), dtypes=["float32"])(f) is f
    wrapped = FunctionDropout(f, "m:f")
    assert (wrapped.name, wrapped.policies, wrapped.dtypes) == ("m:f", Policies(seed_bits=32), ("float32",))
    sources = declared(wrapped).sources
    assert (sources["seed_bits"], sources["scaling"], sources["dtypes"], sources["name"]) == (
        "decorator", "default", "decorator", "default")


def test_a_plain_function_failing_on_a_seed_beyond_2_63_is_told_the_contracts_range(
        user_module: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed = clause_seed(0, "DROPOUT-13")
    assert seed >= 2**63
    out, _ = check([f"{user_module}:signed_seed", "--clause", "DROPOUT-13"], capsys, status=1)
    assert (f"raised OverflowError: Python int too large to convert to C long (seed {seed} >= 2**63: the"
            " plain-function contract passes any seed in [0, 2**64), which needs 64 unsigned bits)") in out


def test_only_overflows_on_seeds_beyond_2_63_are_rewritten() -> None:
    import numpy as np

    from refdropout.adapters.function import FunctionDropout

    raised: list[Exception] = [OverflowError("no")]

    def refuses(x, p, *, training, seed):
        raise raised[0]

    impl = FunctionDropout(refuses, "m:refuses")
    with pytest.raises(OverflowError) as small:
        impl.dropout(np.ones(2), 0.5, training=True, seed=2**63 - 1)
    assert small.value is raised[0]
    with pytest.raises(OverflowError, match=r"^no \(seed 9223372036854775808 >= 2\*\*63") as large:
        impl.dropout(np.ones(2), 0.5, training=True, seed=2**63)
    assert large.value.__cause__ is raised[0]
    raised[0] = RuntimeError("not implemented")  # no overflow: not the seed's doing, left as it is
    with pytest.raises(RuntimeError) as other:
        impl.dropout(np.ones(2), 0.5, training=True, seed=2**63)
    assert other.value is raised[0]


def test_reports_record_the_frameworks_a_users_module_imports_and_a_class_name(user_module: str) -> None:
    import numpy as np

    function = load_target(f"{user_module}:good")
    assert function.framework is None and function.versions()["imported"] == {"numpy": np.__version__}
    cls = load_target(f"{user_module}:SelectReference")
    assert cls.versions()["imported"] == {"numpy": np.__version__}  # refdropout itself is no framework
    assert (cls.declarations.name, cls.declarations.sources["name"]) == ("reference", "target")


BODY_IMPORTS = {  # a target that imports its framework where it is used, and what names it
    "dropout": """
        def dropout(x, p, *, training, seed):
            import hatchling  # the framework, imported where it is used
            return x * 1
    """,
    "Lazy": """
        from refdropout.contract import Implementation

        class Lazy(Implementation):
            def dropout(self, x, p, *, training, seed):
                import hatchling  # the framework, imported where it is used
                return x
    """,
}


@pytest.mark.parametrize("attribute", BODY_IMPORTS)
def test_reports_record_a_framework_a_function_or_method_imports_in_its_body(
        attribute: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A function or a class's method that imports its framework when called (here hatchling, a
    distribution no test imports in this process) has it recorded, with its version, once the run has
    called it; the JSON and JUnit say so. What the checks import between calls is not the target's."""
    import importlib.metadata

    for module in [name for name in sys.modules if name.partition(".")[0] == "hatchling"]:
        monkeypatch.delitem(sys.modules, module)
    name = f"body_import_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(BODY_IMPORTS[attribute]), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    target = f"{name}:{attribute}"
    loaded = load_target(target)
    assert "hatchling" not in loaded.versions()["imported"]  # not called yet
    report, junit = tmp_path / "report.json", tmp_path / "report.xml"
    out, _ = check([target, "--clause", "DROPOUT-4", "--json", str(report), "--junit", str(junit)], capsys)
    version = importlib.metadata.version("hatchling")
    assert f"imports hatchling {version}" in out
    [run] = json.loads(report.read_text(encoding="utf-8"))["runs"]
    assert run["versions"]["imported"]["hatchling"] == version
    properties = {p.get("name"): p.get("value") for p in ET.parse(junit).getroot().iter("property")}
    assert f"hatchling {version}" in properties["imported"] and properties["name"] == target


def test_what_the_caller_imports_between_calls_is_not_the_callees() -> None:
    from refdropout.adapters.imported import CallImports

    for module in [name for name in sys.modules if name.partition(".")[0] == "hatchling"]:
        del sys.modules[module]
    calls = CallImports()
    calls.call(lambda: None)
    import hatchling  # noqa: F401  (the caller's import, between two calls)

    calls.call(lambda: None)
    assert "hatchling" not in calls.appeared


def test_junit_names_the_class_a_target_declares(user_module: str, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.xml"
    check([f"{user_module}:SelectReference", "--clause", "DROPOUT-4", "--junit", str(path)], capsys)
    [suite] = ET.parse(path).getroot()
    properties = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert suite.get("name") == f"{user_module}:SelectReference" and properties["name"] == "reference"
    assert properties["declared"].startswith("name 'reference' (target); ")
    assert "nonfinite=select (target)" in properties["declared"]


def test_numpy_is_an_independent_implementation_with_every_dropout_capability() -> None:
    target = load_target("numpy")
    assert isinstance(target.impl, NumpyDropout) and target.framework == "numpy"
    exact = ["DROPOUT-2", "DROPOUT-4", "DROPOUT-7", "DROPOUT-10", "DROPOUT-11", "DROPOUT-15", "GRADIENTS-1",
             "GRADIENTS-4"]
    run = run_target("numpy", target.impl, exact, profile="quick", seed=7)
    assert [r.verdict.outcome for r in run.results] == [Outcome.PASS] * len(exact), [r.verdict for r in run.results]
    assert "float16" in target.impl.dtypes


# ---- the reports ----------------------------------------------------------------------------------


def test_json_report_holds_every_figure(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.json"
    check(["--clause", "DROPOUT-3", "--clause", STATISTICAL, "--seed", "11", "--json", str(path)], capsys)
    [run] = json.loads(path.read_text(encoding="utf-8"))["runs"]
    assert run["target"] == "reference" and run["profile"] == "quick" and run["seed"] == 11
    assert set(run["versions"]) == {"python", "refdropout", "framework", "framework_version", "imported"}
    assert run["versions"]["imported"] == {}  # a built-in target names its framework instead
    assert run["declarations"]["name"] == {"value": "reference", "source": "target"}
    assert run["versions"]["python"] == sys.version.split()[0]
    assert run["family_alpha"] == 1e-6 and run["alpha"] == run_plan("quick").alpha
    assert run["counts"] == {"pass": 2, "FAIL": 0, "not applicable": 0, "differs by declared policy": 0,
                             "could not check": 0}
    assert run["complete"] and run["interrupted"] is None and run["unfinished"] == []
    exact, statistical = run["clauses"]
    assert (exact["clause"], exact["verdict"], exact["p_value"], exact["decisions"]) == ("DROPOUT-3", "pass", None, [])
    assert statistical["seed"] == clause_seed(11, STATISTICAL)
    assert len(statistical["decisions"]) == CHECKS[STATISTICAL].decisions  # 5 rates in 4 formats
    least = min(statistical["decisions"], key=lambda d: d["p_value"])
    for key in ("p_value", "n", "observed", "expected", "detectable"):
        assert statistical[key] == least[key], key
    assert all(d["test"] == "binomial" and 0 < d["detectable"] < 0.01 for d in statistical["decisions"])
    for clause in (exact, statistical):  # the implementation's share of each clause's time, in ms
        assert 0 <= clause["implementation_seconds"] <= clause["seconds"] + 1e-3, clause
    assert statistical["implementation_seconds"] > 0  # five calls on 177,969 elements each
    assert run["implementation_seconds"] == pytest.approx(exact["implementation_seconds"]
                                                          + statistical["implementation_seconds"], abs=2e-3)


class _Sleepy(ReferenceDropout):
    """The reference, sleeping SLEEP seconds in every call of dropout."""

    SLEEP = 0.05

    def dropout(self, x, p, *, training, seed):
        time.sleep(self.SLEEP)
        return super().dropout(x, p, training=training, seed=seed)


def test_a_run_counts_the_seconds_spent_inside_the_implementation() -> None:
    [result] = run_target("sleepy", _Sleepy(), ["DROPOUT-16"], profile="quick", seed=0).results
    calls = 20  # one call per keep rate of DROPOUT-16 in each of the reference's four formats
    assert calls * _Sleepy.SLEEP <= result.inside <= result.seconds


def test_junit_report_has_a_testcase_per_clause(user_module: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "report.xml"
    argv = [f"{user_module}:no_rescale", "--clause", "DROPOUT-[2-5]", "--clause", "DROPOUT-8", "--junit", str(path)]
    check(argv, capsys, status=1)
    [suite] = ET.parse(path).getroot()
    cases = {case.get("name").split(":")[0]: case for case in suite.iter("testcase")}
    assert sorted(cases) == ["DROPOUT-2", "DROPOUT-3", "DROPOUT-4", "DROPOUT-5", "DROPOUT-8"]
    assert cases["DROPOUT-2"].find("skipped") is not None  # no mask output: not applicable
    assert [c for c, case in cases.items() if case.find("failure") is not None] == ["DROPOUT-8"]
    assert "neither 0 nor the kept value" in cases["DROPOUT-8"].find("failure").text
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("5", "1", "1")


# ---- seeds, selection and order ----------------------------------------------------------------


def test_clause_selection_by_id_glob_and_chapter() -> None:
    assert select_clauses(["dropout-3"]) == ["DROPOUT-3"]
    chapter = select_clauses(["dropout"])
    assert chapter and all(c.startswith("DROPOUT-") for c in chapter)
    assert select_clauses(["DROPOUT-1?"]) == [c for c in chapter if re.fullmatch(r"DROPOUT-1[0-9]", c)]
    assert set(select_clauses(["gradients"])) == {c for c in select_clauses() if c.startswith("GRADIENTS-")}
    with pytest.raises(ValueError, match="matches no clause"):
        select_clauses(["DROPOUT-999"])


def test_clause_seeds_depend_on_the_master_seed_and_the_clause_only() -> None:
    assert clause_seed(0, "DROPOUT-16") == clause_seed(0, "DROPOUT-16")
    assert len({clause_seed(s, c) for s in (0, 1) for c in ("DROPOUT-16", "DROPOUT-17")}) == 4
    assert all(0 <= clause_seed(s, "DROPOUT-16") < 2**64 for s in (0, 2**64 - 1))


def test_a_clause_gives_the_same_result_alone_or_with_others_in_any_order() -> None:
    impl = ReferenceDropout()

    def figures(clauses: list[str]) -> tuple:
        run = run_target("reference", impl, clauses, profile="quick", seed=3)
        [result] = [r for r in run.results if r.verdict.clause == STATISTICAL]
        return result.verdict.outcome, result.seed, result.verdict.records

    alone = figures([STATISTICAL])
    assert alone[0] is Outcome.PASS and len(alone[2]) == CHECKS[STATISTICAL].decisions
    assert figures(["DROPOUT-20", STATISTICAL, "DROPOUT-3"]) == alone
    assert figures([STATISTICAL, "DROPOUT-20"]) == alone


def test_command_line_entry_point() -> None:
    command = [sys.executable, "-m", "refdropout", "check", "--profile", "quick", "--clause", "DROPOUT-3"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "DROPOUT-3" in result.stdout and "1 pass" in result.stdout


# ---- refdropout report --------------------------------------------------------------------------


def test_report_lists_every_report(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_command(capsys, "report", "--help")
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert all(re.search(rf"(?m)^  {name} +the ", out) for name in REPORTS), out


@pytest.mark.parametrize("argv, usage", [
    (["report"], "usage: refdropout report"),
    (["report", "nosuch"], "usage: refdropout report"),
    (["report", "matrix", "--seed", "-1"], "usage: refdropout report matrix"),
    (["report", "matrix", "--clause", "NOSUCH-1"], "usage: refdropout report matrix"),
    (["report", "detection", "--mutant", "nosuch"], "usage: refdropout report detection"),
    (["report", "sweep", "--seeds", "0"], "usage: refdropout report sweep"),
    (["report", "sweep", "--workers", "0"], "usage: refdropout report sweep"),
    (["report", "matrix", "--workers", "two"], "usage: refdropout report matrix"),
    (["report", "sensitivity", "--seed", str(2**32)], "usage: refdropout report sensitivity"),
])
def test_report_usage_errors_exit_2(argv: list[str], usage: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_command(capsys, *([*argv, "--out", str(tmp_path / "r.md")] if len(argv) > 2 else argv))
    assert exit_.value.code == 2
    assert usage in capsys.readouterr().err
    assert not (tmp_path / "r.md").exists()


@pytest.mark.parametrize("document", sorted((REPO / "docs").glob("*.md")), ids=lambda path: path.name)
def test_the_command_each_document_was_made_by_is_a_refdropout_report_command(document: Path) -> None:
    """The command a generated document's header states parses, so it can be run again as it stands."""
    command = re.search(r"(?m)^Generated by\n\n```\n(.+)\n```$", document.read_text(encoding="utf-8")).group(1)
    words = shlex.split(command)
    assert words[:2] == ["refdropout", "report"] and words[2] in REPORTS, command
    parser_of(importlib.import_module(f"refdropout.reports.{words[2]}").REPORT).parse_args(words[3:])


# ---- refdropout spec CLAUSE -----------------------------------------------------------------------


def clause_of(clause_id: str) -> Clause:
    return next(clause for clause in load_clauses() if clause.id == clause_id)


def test_spec_clause_prints_the_clause_its_check_its_tests_and_its_published_verdicts(
        capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run_command(capsys, "spec", "DROPOUT-16")
    clause = clause_of("DROPOUT-16")
    assert out.startswith(f"DROPOUT-16: {clause.title}\n\nspec/dropout.md:{clause.line}, chapter dropout") and not err
    assert clause.statement in out and f"Rationale: {clause.rationale}" in out
    check = CHECKS["DROPOUT-16"].run
    line = inspect.getsourcelines(check)[1]
    assert f"Check: refdropout.conformance.dropout:{check.__name__}\n  refdropout/conformance/dropout.py:{line}; " \
           f"needs dropout; {CHECKS['DROPOUT-16'].decisions} statistical decisions" in out
    assert '@check("DROPOUT-16"' in (REPO / "refdropout/conformance/dropout.py").read_text().splitlines()[line - 1]
    assert all(re.search(rf"(?m)^  {name}  tests/test_dropout\.py:[0-9]+$", out) for name in clause.tests), out
    matrix = read_matrix(REPO / "docs" / MATRIX)
    assert f"from docs/{MATRIX} (profile {matrix.profile}, master seed {matrix.seed}" in out
    assert all(re.search(rf"(?m)^  {target} +{re.escape(verdict)}(  .+)?$", out)  # a FAIL shows its detail after it
               for target, verdict in matrix.verdicts["DROPOUT-16"].items()), out


def test_spec_clause_says_why_each_published_fail_failed(capsys: pytest.CaptureFixture[str]) -> None:
    matrix = read_matrix(REPO / "docs" / MATRIX)
    failed = [(target, clause) for target, clause in matrix.failures if clause.startswith("DROPOUT-")]
    assert failed, "the published matrix has no FAIL of a dropout clause to show"
    target, clause = failed[0]
    out, _ = run_command(capsys, "spec", clause.lower())  # an ID in either case
    assert re.search(rf"(?m)^  {target} +FAIL +{re.escape(matrix.failures[target, clause])}$", out), out


@pytest.mark.parametrize("name, close", [("DROPOUT-99", "DROPOUT-9"), ("DROPUT-16", "DROPOUT-16"), ("nonsense", None)])
def test_spec_of_an_unknown_clause_is_one_line_naming_it_and_exits_2(name: str, close: str | None,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    out, err = run_command(capsys, "spec", name, status=2)
    assert not out and err.count("\n") == 1, err
    assert err.startswith(f"refdropout spec: error: unknown clause {name!r} (")
    assert (f"did you mean {close}" in err) if close else "`refdropout spec` lists them" in err


def test_spec_of_a_clause_without_a_check_or_withdrawn(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_command(capsys, "spec", "TENSOR-3")
    assert "Check: none registered in refdropout.conformance" in out
    assert f"Verdicts: none in docs/{MATRIX}, which has a row for each clause with a check" in out
    out, _ = run_command(capsys, "spec", "DROPOUT-6")
    assert clause_of("DROPOUT-6").withdrawn and out.rstrip().endswith("the clause is withdrawn.")


def test_spec_of_a_clause_installed_without_tests_or_published_documents(monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("refdropout.reports.traces.tests_dir", lambda: None)
    monkeypatch.setattr("refdropout.reports.published.find_docs_dir", lambda: None)
    out, _ = run_command(capsys, "spec", "DROPOUT-16")
    assert "Tests: test_kept_count_is_binomial (tests are not installed with the package: see the repository)" in out
    assert f"Verdicts: no published conformance matrix in this installation (docs/{MATRIX})" in out


def test_spec_takes_a_clause_or_a_chapter_not_both(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        run_command(capsys, "spec", "DROPOUT-16", "--chapter", "dropout")
    assert exit_.value.code == 2
    assert "give a CLAUSE or --chapter, not both" in capsys.readouterr().err


def test_a_reader_that_leaves_early_ends_the_listing_quietly(tmp_path: Path) -> None:
    """`refdropout spec | head -1`: the pipe closes after one line; the listing stops with status 0 and
    no BrokenPipeError traceback."""
    listing = subprocess.Popen([sys.executable, "-m", "refdropout", "spec"], cwd=tmp_path, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert listing.stdout is not None and listing.stderr is not None
    first = listing.stdout.readline()
    listing.stdout.close()  # the reader leaves, as head does
    status = listing.wait(timeout=120)
    errors = listing.stderr.read().decode()
    assert first.startswith(b"ID"), first
    assert status == 0 and "Traceback" not in errors, f"exit status {status}, stderr:\n{errors}"


# ---- refdropout fingerprint (RUNNER-15) -----------------------------------------------------------


@pytest.mark.clause("RUNNER-15")
def test_a_fingerprint_is_the_same_each_time_and_a_comparison_with_itself_finds_nothing(
        user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    out, _ = run_command(capsys, "fingerprint", f"{user_module}:good", "--seed", "7", "--out", str(first))
    run_command(capsys, "fingerprint", f"{user_module}:good", "--seed", "7", "--out", str(second))
    drawn = json.loads(first.read_text(encoding="utf-8"))
    assert drawn["cases"] == json.loads(second.read_text(encoding="utf-8"))["cases"]
    dtypes = {case.split()[0] for case in drawn["cases"]}  # a plain function declares float64 and float32
    assert drawn["seed"] == 7 and dtypes == {"float64", "float32"} and len(drawn["cases"]) == 7 * 3 * 4 * 2
    assert f"{user_module}:good: {len(drawn['cases'])} cases, seed 7; written to {first}" in out
    out, _ = run_command(capsys, "fingerprint", f"{user_module}:good", "--compare", str(first))
    assert f"0 of {len(drawn['cases'])} cases of {first} differ (seed 7)" in out


@pytest.mark.clause("RUNNER-15")
def test_a_comparison_names_exactly_the_cases_whose_masks_changed(
        user_module: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One mask bit changed on the bulk path is found, in the bulk cases only, with exit status 1; a case
    the file lacks or only the file has is named too."""
    recorded = tmp_path / "good.json"
    run_command(capsys, "fingerprint", f"{user_module}:good", "--out", str(recorded))
    out, _ = run_command(capsys, "fingerprint", f"{user_module}:flips_a_bulk_bit", "--compare", str(recorded),
                         status=1)
    changed = [line for line in out.splitlines() if " -> " in line]
    assert len(changed) == 2 * 3 * 4 and all(line.startswith(("float64 (65537,)", "float32 (65537,)"))
                                             for line in changed)
    content = json.loads(recorded.read_text(encoding="utf-8"))
    case = next(iter(content["cases"]))
    content["cases"]["float64 (2,) p=0.5 seed=0"] = content["cases"].pop(case)
    recorded.write_text(json.dumps(content), encoding="utf-8")
    out, _ = run_command(capsys, "fingerprint", f"{user_module}:good", "--compare", str(recorded), status=1)
    assert f"{case}: not drawn -> " in out and "float64 (2,) p=0.5 seed=0: " in out and " -> not drawn" in out


@pytest.mark.clause("RUNNER-15")
def test_a_fingerprint_that_cannot_be_read_or_written_is_a_setup_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "wrong.json").write_text('{"cases": {}}', encoding="utf-8")
    _, err = run_command(capsys, "fingerprint", "reference", "--compare", str(tmp_path / "wrong.json"), status=2)
    assert "is not a fingerprint file" in err
    _, err = run_command(capsys, "fingerprint", "reference", "--compare", str(tmp_path / "none.json"), status=2)
    assert "cannot read --compare" in err
    _, err = run_command(capsys, "fingerprint", "reference", "--out", str(tmp_path / "no" / "f.json"), status=2)
    assert "cannot write --out" in err
