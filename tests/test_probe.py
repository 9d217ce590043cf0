"""Tests of ``refdropout probe`` (spec/runner.md, RUNNER-16) and ``refdropout check --suggest`` (RUNNER-17).

The probed targets are the reference, the numpy target, the built-in adapters whose framework is
installed, and the plain functions of tests/probed.py, each following one allowed value other than
the reference's, or a behaviour no value allows, or failing as a target can. A value found is then
declared and checked: probing is right only if ``check`` passes what it found.
"""

from __future__ import annotations

import importlib.util
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import fields
from pathlib import Path

import pytest

from helpers import SPEC_DIR, run_command
from refdropout.adapters import TARGETS, load_target
from refdropout.conformance import CHECKS
from refdropout.conformance import probe as probing
from refdropout.conformance.guard import Watch
from refdropout.conformance.probe import PROBES, Probe, Status, probe_target
from refdropout.conformance.runner import run_target
from refdropout.contract import Policies
from refdropout.contract.policies import POLICY_VALUES, RELAXES


def probed(target: str, timeout: float = 60) -> Probe:
    loaded = load_target(target)
    return probe_target(target, loaded.impl, watch=Watch(timeout))


def findings(probe: Probe) -> dict[str, probing.Finding]:
    return {finding.name: finding for finding in probe.findings}


def probe_command(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> tuple[str, str]:
    """``refdropout probe ARGV``: (stdout with the evidence's wrapped lines joined, stderr)."""
    out, err = run_command(capsys, "probe", *argv, status=status)
    return re.sub(r"\n {4}(?=\S)", " ", out), err


DEFAULTS = {f.name: f.default for f in fields(Policies)}


@pytest.mark.clause("RUNNER-16")
@pytest.mark.parametrize("target", ["reference", "numpy"])
def test_probe_finds_what_the_reference_and_numpy_declare(target: str) -> None:
    probe = probed(target)
    assert [f.name for f in probe.findings] == list(PROBES)
    for finding in probe.findings:
        assert finding.status is Status.FOUND, f"{finding.name}: {finding.status.value}: {finding.evidence}"
        assert finding.value == finding.declared, f"{finding.name}: found {finding.value!r}: {finding.evidence}"


# (function of tests/probed.py, what it follows): the policy's value, or the formats it answers in kind
OTHER_VALUES = [
    ("select", "nonfinite", "select"),
    ("classic", "scaling", "classic"),
    ("bool_as_number", "p_validation", "bool_as_number"),
    ("training_only", "p_validation", "training_only"),
    ("both_validations", "p_validation", "bool_as_number+training_only"),
    ("seed_32", "seed_bits", 32),
    ("refuses_p_one", "p_one", "refused"),
    ("flushes", "subnormals", "flushed"),
    ("scale_in_input", "scale_format", "input"),
    ("scale_in_float32", "scale_format", "float32"),
    ("scale_by_float32_reciprocal", "scale_format", "float32_reciprocal"),
    ("float64_only", "dtypes", ("float64",)),
    ("computes_in_float64", "dtypes", ("float64",)),
]


@pytest.mark.clause("RUNNER-16")
@pytest.mark.parametrize("function, policy, value", OTHER_VALUES, ids=[case[0] for case in OTHER_VALUES])
def test_probe_finds_each_other_allowed_value(function: str, policy: str, value: object) -> None:
    """Probe finds the one value the function follows, the reference's everywhere else; declared, it
    passes every clause its policy relaxes that applies to a plain function."""
    found = findings(probed(f"probed:{function}"))
    for name, finding in found.items():
        expected = value if name == policy else DEFAULTS.get(name, finding.value)
        assert (finding.status, finding.value) == (Status.FOUND, expected), f"{name}: {finding.evidence}"
    declared = {"dtypes": value} if policy == "dtypes" else {"policies": [(policy, value)]}
    loaded = load_target(f"probed:{function}", **declared)
    clauses = ["DROPOUT-8"] if policy == "dtypes" else [c for c in RELAXES[policy] if c in CHECKS]
    run = run_target(function, loaded.impl, clauses, profile="quick", seed=0)
    assert not run.failed, [f"{r.verdict.clause}: {r.verdict.detail}" for r in run.results if r.verdict.failed]


@pytest.mark.clause("RUNNER-16")
def test_probe_reads_the_scale_format_of_classic_evaluation() -> None:
    """Under classic scaling the scale is q, in evaluation: probe finds its format there (PaddlePaddle's
    downscale_in_infer computes q in float32), and declared so the function passes DROPOUT-7."""
    found = findings(probed("probed:classic_in_float32"))
    assert (found["scaling"].value, found["scale_format"].value) == ("classic", "float32"), found["scale_format"]
    assert findings(probed("probed:classic"))["scale_format"].value == "exact"
    loaded = load_target("probed:classic_in_float32", policies=[("scaling", "classic"), ("scale_format", "float32")])
    run = run_target("classic_in_float32", loaded.impl, ["DROPOUT-7"], profile="quick", seed=0)
    assert not run.failed, run.results[0].verdict.detail


MATCHING_NONE = [
    ("mixed_nonfinite", "nonfinite", ["multiply: inf -> NaN at p = 0.3", "select: NaN -> 0 at p = 1"]),
    ("no_rescale", "scaling", ["evaluation of x gave x; training of ones kept 1"]),
    ("nan_rate_in_training", "p_validation", ["accepted in training: nan"]),
    ("nan_at_p_one", "p_one", ["training x = 0.0 gave nan"]),
    ("seed_ignored", "seed_bits", ["flipping bit 0, 31, 32 of s gave the same output"]),
]


@pytest.mark.clause("RUNNER-16")
@pytest.mark.parametrize("function, policy, shown", MATCHING_NONE, ids=[case[0] for case in MATCHING_NONE])
def test_a_behaviour_no_value_allows_is_reported_with_its_evidence(
        function: str, policy: str, shown: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    finding = findings(probed(f"probed:{function}"))[policy]
    assert finding.status is Status.NONE and finding.value is None
    assert all(part in finding.evidence for part in shown), finding.evidence
    out, _ = probe_command(capsys, f"probed:{function}", status=1)
    declare = out.split("declare what was found")[1].split("\n\n")[0]
    assert f"{policy}=" not in declare and f"{policy}:" not in declare  # nothing forced into a policy
    assert re.search(rf"^  {policy}: what was seen is allowed by no value of it, so {RELAXES[policy][0]}", out,
                     re.MULTILINE), out


@pytest.mark.clause("RUNNER-16")
def test_a_target_that_raises_or_hangs_is_reported_as_check_reports_it(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out, _ = probe_command(capsys, "probed:crashes", status=1)
    assert re.search(r"dtypes: no floating format was accepted: dropout\(x: float64 \(1, 64\), p=0\.3, training=True,"
                     r" seed=[0-9]+\) raised RuntimeError: not implemented yet", out), out
    checked, _ = run_command(capsys, "check", "probed:crashes", "--clause", "DROPOUT-5", "--profile", "quick", status=1)
    assert re.search(r"dropout\(x: float64 \(8, 16, 32\), p=1\.0, training=True, seed=[0-9]+\) raised RuntimeError: "
                     r"not implemented yet", checked)  # the same words as check's
    assert "scaling       not measured" in out and "declare: nothing was found to declare" in out
    out, _ = probe_command(capsys, "probed:hangs", "--timeout", "1", status=1)
    assert re.search(r"dtypes: dropout\(x: float64 \(1, 64\), p=0\.3, training=True, seed=[0-9]+\) did not return "
                     r"within 1 s", out), out
    out, _ = probe_command(capsys, "probed:exits", status=1)
    assert "called sys.exit(0)" in out
    # a bug of a probe is an error of the suite: could not probe, status 2, never blamed on the target

    def broken(impl: object, state: object) -> tuple[object, str]:
        return 1 / 0, ""

    monkeypatch.setitem(PROBES, "seed_bits", broken)
    out, err = probe_command(capsys, "numpy", status=2)
    assert "seed_bits     could not probe" in out
    assert "the suite could not probe seed_bits for numpy: ZeroDivisionError" in err


@pytest.mark.clause("RUNNER-16")
def test_probe_prints_the_declaration_and_writes_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "probe.json"
    out, _ = probe_command(capsys, "probed:declares_multiply_but_selects", "--json", str(path))
    assert re.search(r"^nonfinite +select +multiply  \(differs\)$", out, re.MULTILINE), out
    assert ("refdropout check probed:declares_multiply_but_selects --dtypes float64,float32,float16,bfloat16"
            " --policy nonfinite=select") in out
    assert "policies = Policies(nonfinite='select')" in out
    assert "@target(policies={'nonfinite': 'select'}, dtypes=('float64', 'float32', 'float16', 'bfloat16'))" in out
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["complete"] and report["target"] == "probed:declares_multiply_but_selects"
    nonfinite = next(f for f in report["findings"] if f["name"] == "nonfinite")
    assert (nonfinite["status"], nonfinite["value"], nonfinite["declared"]) == ("found", "select", "multiply")
    assert report["declare"]["options"][-1] == "--policy nonfinite=select"
    # usage and setup errors: before any call, one line, status 2
    _, err = probe_command(capsys, "probed:select", "--json", str(tmp_path / "absent" / "p.json"), status=2)
    assert "--json" in err and "does not exist" in err
    _, err = probe_command(capsys, "no_such_target", status=2)
    assert err.startswith("refdropout: unknown target 'no_such_target'")


@pytest.mark.clause("RUNNER-16")
def test_an_interrupted_probe_prints_and_writes_what_it_finished(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "probe.json"
    out, err = probe_command(capsys, "probed:interrupted_at_the_seed_probe", "--json", str(path), status=130)
    assert "INCOMPLETE: interrupted by SIGINT" in out and "probes finished: 7" in err
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["complete"] is False and [f["name"] for f in report["findings"]] == list(PROBES)[:-1]


FRAMEWORKS = [name for name, target in TARGETS.items() if target.framework not in (None, "numpy")]


@pytest.mark.clause("RUNNER-16")
@pytest.mark.parametrize("target", FRAMEWORKS)
def test_probe_agrees_with_the_frameworks_declarations(target: str) -> None:
    """Every value probe finds is the one the adapter declares; where it finds none, the adapter lists
    a known deviation of a clause that policy relaxes."""
    if importlib.util.find_spec(TARGETS[target].framework) is None:
        pytest.skip(f"{TARGETS[target].framework} is not installed: {TARGETS[target].install}")
    probe = probed(target)
    deviations = getattr(load_target(target).impl, "known_deviations", {})
    for finding in probe.findings:
        if finding.status is Status.NONE:
            assert set(RELAXES[finding.name]) & set(deviations), f"{finding.name}: {finding.evidence}"
        else:
            assert (finding.status, finding.value) == (Status.FOUND, finding.declared), \
                f"{finding.name}: {finding.evidence}"


# ---- check --suggest ---------------------------------------------------------------------------


def suggested(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("suggest: ")]


def verdicts(path: Path) -> list[tuple]:
    [run] = json.loads(path.read_text(encoding="utf-8"))["runs"]
    return [(c["clause"], c["verdict"], [d["p_value"] for d in c["decisions"]]) for c in run["clauses"]]


@pytest.mark.clause("RUNNER-17")
def test_suggest_names_the_declaration_that_passes_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["check", "probed:select", "--profile", "quick", "--clause", "DROPOUT-10", "--clause", "DROPOUT-16"]
    plain, _ = run_command(capsys, *argv, "--json", str(tmp_path / "plain.json"), status=1)
    out, _ = run_command(capsys, *argv, "--suggest", "--json", str(tmp_path / "suggest.json"), status=1)
    assert suggested(out) == ["suggest: DROPOUT-10 passes with --policy nonfinite=select"]
    assert suggested(plain) == []
    assert verdicts(tmp_path / "plain.json") == verdicts(tmp_path / "suggest.json")
    out, _ = run_command(capsys, "check", "probed:seed_32", "--profile", "quick", "--clause", "DROPOUT-13",
                         "--clause", "DROPOUT-5", "--suggest", status=1)
    assert suggested(out) == ["suggest: DROPOUT-13 passes with --policy seed_bits=32"]


@pytest.mark.clause("RUNNER-17")
def test_suggest_names_nonfinite_for_alpha_dropout_at_p_one(capsys: pytest.CaptureFixture[str]) -> None:
    """nonfinite relaxes VARIANTS-4 and VARIANTS-6 (alpha dropout at p = 1 follows it): a target whose alpha
    dropouts compute 0 · x while it declares "select" is told that "multiply" passes both."""
    out, _ = run_command(capsys, "check", "broken.variants:AlphaMultipliesUnderSelect", "--profile", "quick",
                         "--clause", "VARIANTS-4", "--clause", "VARIANTS-6", "--suggest", status=1)
    assert suggested(out) == [f"suggest: {clause} passes with --policy nonfinite=multiply"
                              for clause in ("VARIANTS-4", "VARIANTS-6")]


@pytest.mark.clause("RUNNER-17")
def test_suggest_says_when_no_declaration_helps(capsys: pytest.CaptureFixture[str]) -> None:
    out, _ = run_command(capsys, "check", "probed:mixed_nonfinite", "--profile", "quick", "--clause", "DROPOUT-10",
                         "--suggest", status=1)
    assert suggested(out) == ["suggest: DROPOUT-10 fails under every other declared value of nonfinite, p_one"]
    out, _ = run_command(capsys, "check", "probed:no_rescale", "--profile", "quick", "--clause", "DROPOUT-8",
                         "--suggest", status=1)
    assert suggested(out) == ["suggest: DROPOUT-8 fails under every other declared value of scale_format"]


@pytest.mark.clause("RUNNER-17")
def test_suggest_reaches_the_json_and_junit_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What --suggest printed is in the JSON report as data and in the JUnit report as each testcase's
    ``suggest`` properties and its failure's text; without --suggest the JSON says null."""
    reports = ["--json", str(tmp_path / "report.json"), "--junit", str(tmp_path / "report.xml")]
    out, _ = run_command(capsys, "check", "probed:select", "probed:mixed_nonfinite", "--profile", "quick",
                         "--clause", "DROPOUT-10", "--suggest", *reports, status=1)
    select, mixed = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["runs"]
    assert select["suggestions"] == [{"clause": "DROPOUT-10", "relaxing": ["nonfinite", "p_one"], "passes_with": [
        {"policies": {"nonfinite": "select"}, "flags": "--policy nonfinite=select"}]}]
    assert mixed["suggestions"] == [{"clause": "DROPOUT-10", "relaxing": ["nonfinite", "p_one"], "passes_with": []}]
    cases = {suite.get("name"): suite.find("testcase") for suite in ET.parse(tmp_path / "report.xml").iter("testsuite")}
    properties = {name: [(p.get("name"), p.get("value")) for p in case.iter("property")]
                  for name, case in cases.items()}
    assert properties == {"probed:select": [("suggest", "--policy nonfinite=select")],
                          "probed:mixed_nonfinite": [("suggest", "none")]}
    failures = {name: case.find("failure").text.splitlines()[-1] for name, case in cases.items()}
    assert sorted(failures.values()) == sorted(suggested(out))
    run_command(capsys, "check", "probed:select", "--profile", "quick", "--clause", "DROPOUT-10", *reports, status=1)
    [plain] = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["runs"]
    assert plain["suggestions"] is None
    assert [p for p in ET.parse(tmp_path / "report.xml").iter("property") if p.get("name") == "suggest"] == []


def test_relaxes_is_the_table_of_policies_in_the_spec() -> None:
    """contract.policies.RELAXES lists, for each policy, the clauses spec/dropout.md's table names."""
    text = (SPEC_DIR / "dropout.md").read_text(encoding="utf-8")
    rows = re.findall(r"^  \| `(\w+)` \| (.+?) \| (.+?) \|$", text, re.MULTILINE)
    table = {name: tuple(re.findall(r"[A-Z]+-[0-9]+", relaxed)) if not relaxed.startswith("none") else ()
             for name, _, relaxed in rows}
    assert table == RELAXES
    assert set(RELAXES) == set(POLICY_VALUES)
