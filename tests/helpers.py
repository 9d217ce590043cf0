"""The suite's test vocabulary: settings, strategies, builders and assertions every test file shares.

Modelled on array-api-tests' ``pytest_helpers.py``: each ``assert_*`` says what was expected,
what came, and the clause, in one wording, e.g.
``DROPOUT-2: expected pass for reference (scaling='classic'), got FAIL: <detail>``.

Hypothesis settings come in two kinds, named once here:

- :func:`exact` for a property test that makes no statistical decision (a check that decides
  exactly, or a property of the reference): Hypothesis may shrink and replay its failures.
- :func:`statistical` for a test whose every example takes statistical decisions, charged to the
  suite's one error budget (tests/conftest.py): never shrunk, never replayed, since a rejection is
  a finding about that seed and a replay would decide again. Its example count is part of the
  budget's plan: change it only with the plan.

Importing this module imports :mod:`refdropout.conformance`, which registers every check.
"""

from __future__ import annotations

import json
import math
import os
import re
import shlex
import struct
import subprocess
import sys
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from refdropout.cli import main
from refdropout.conformance import CHECKS, Outcome, Verdict, cases, run_check
from refdropout.conformance.runner import Run
from refdropout.contract import Implementation, Policies, policies_of
from refdropout.contract.protocol import FLOATING_FORMATS
from refdropout.stats import DecisionPlan
from refdropout.tensor import Tensor

REPO = Path(__file__).resolve().parents[1]
SPEC_DIR = REPO / "spec"
TESTS_DIR = REPO / "tests"

# ---- Hypothesis settings ------------------------------------------------------------------------

NEVER_SHRUNK = (Phase.explicit, Phase.generate)


def exact(examples: int, *, phases: Sequence[Phase] | None = None, tolerate: Sequence[HealthCheck] = ()) -> settings:
    """``examples`` examples of a test that makes no statistical decision (no per-example deadline).

    ``phases``: the phases to run where not the profile's, e.g. :data:`NEVER_SHRUNK` for a test whose
    examples each run a framework, too slow to shrink. ``tolerate``: health checks that do not apply,
    e.g. ``HealthCheck.function_scoped_fixture`` for a test whose examples all write one ``tmp_path``
    (besides those the profile suppresses).
    """
    return settings(max_examples=examples, deadline=None, **({} if phases is None else {"phases": list(phases)}),
                    **({"suppress_health_check": [*settings().suppress_health_check, *tolerate]} if tolerate else {}))


def statistical(examples: int, *, keep_database: bool = False, phases: Sequence[Phase] = NEVER_SHRUNK) -> settings:
    """``examples`` examples of a test whose every example charges statistical decisions to the
    suite's budget: never shrunk, never replayed (no shrink or reuse phase), failures not saved.

    ``keep_database``: save failing examples in the profile's example database all the same (they
    are never replayed); ``phases``: the phases to run. Both keep a file's settings as they were.
    """
    database = {} if keep_database else {"database": None}
    return settings(max_examples=examples, deadline=None, phases=list(phases), **database)


# ---- strategies ---------------------------------------------------------------------------------

# the conformance suite's own (refdropout.conformance.cases): every seed an implementation must accept,
# special ones often; every p in (0, 1), the extremes often; every floating format; shapes from 0-d to 5 axes
seeds, rates = cases.seeds, cases.rates
shapes = cases.shapes(max_elements=64)  # 0-d to 5 axes, few enough elements for a test that draws each value
dtype_names = st.sampled_from(FLOATING_FORMATS)  # every floating format

# ---- Philox known answers (spec/random.md, RANDOM-1) ---------------------------------------------

KAT_FILE = TESTS_DIR / "data" / "philox4x32_10_kat.txt"  # the vectors published with Random123


def known_answers(path: Path, name: str, counter_words: int, key_words: int
                  ) -> list[tuple[int, list[int], list[int], list[int]]]:
    """The vectors of a known-answer file in Random123's format (``name rounds counter key output``,
    words in hex; ``#`` starts a comment): (rounds, counter, key, expected output) per line."""
    vectors = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found, rounds, *hex_words = line.split()
        assert found == name and len(hex_words) == 2 * counter_words + key_words, f"malformed line: {line!r}"
        values = [int(h, 16) for h in hex_words]
        vectors.append((int(rounds), values[:counter_words], values[counter_words:counter_words + key_words],
                        values[counter_words + key_words:]))
    return vectors


def kat_vectors() -> list[tuple[int, list[int], list[int], list[int]]]:
    """The Philox4x32 vectors of KAT_FILE."""
    return known_answers(KAT_FILE, "philox4x32", 4, 2)


# ---- tensors built for a test -------------------------------------------------------------------


def filled(shape: tuple[int, ...], value: float, dtype: str = "float64") -> Tensor:
    """A tensor of ``shape`` holding ``value`` everywhere."""
    return Tensor.from_flat([value] * math.prod(shape), shape, dtype)


def distinct(shape: tuple[int, ...]) -> Tensor:
    """A float64 tensor of ``shape`` whose values all differ: ±(1 + i / 16), alternating in sign."""
    return Tensor.from_flat([(-1.0) ** i * (1.0 + i / 16) for i in range(math.prod(shape))], shape)


# ---- bit-level comparison -----------------------------------------------------------------------


def bit_pattern(value: float) -> bytes:
    """The binary64 bit pattern of ``value``: tells -0.0 from 0.0 and one NaN from another."""
    return struct.pack("<d", value)


def _shown(value: float) -> str:
    """A value with its bit pattern, most significant byte first: 0x8000000000000000 for -0.0."""
    return f"{value!r} (0x{bit_pattern(value)[::-1].hex()})"


def assert_same_bits(got: Tensor | Iterable[float], expected: Tensor | Iterable[float], what: str = "values") -> None:
    """The same values, element by element, bit for bit (the shapes are not compared)."""
    got_values = list(got.data if isinstance(got, Tensor) else got)
    expected_values = list(expected.data if isinstance(expected, Tensor) else expected)
    assert len(got_values) == len(expected_values), (
        f"{what}: expected {len(expected_values)} values, got {len(got_values)}")
    differing = [i for i, (g, e) in enumerate(zip(got_values, expected_values)) if bit_pattern(g) != bit_pattern(e)]
    if differing:
        i = differing[0]
        raise AssertionError(f"{what}: expected the same bits, got {len(differing)} of {len(got_values)} differing,"
                             f" first at {i}: {_shown(got_values[i])}, expected {_shown(expected_values[i])}")


# ---- implementations and verdicts ---------------------------------------------------------------

# check_correct and check_broken (tests/conftest.py): (clause, implementation, seed) -> Verdict
RunCheck = Callable[[str, Implementation, int], Verdict]
Impls = Implementation | Sequence[Implementation]


def declaring(impl: Implementation, **policies: Any) -> Implementation:
    """``impl`` with its behaviour, declaring ``policies`` instead (the rest the reference's)."""
    return type(f"Declares{type(impl).__name__}", (type(impl),), {"policies": Policies(**policies)})()


def described(impl: Implementation) -> str:
    """An implementation's name, with the policies it declares other than the reference's."""
    declared, reference = policies_of(impl), Policies()
    different = [f"{f.name}={getattr(declared, f.name)!r}" for f in fields(Policies)
                 if getattr(declared, f.name) != getattr(reference, f.name)]
    return f"{impl.name} ({', '.join(different)})" if different else impl.name


def misdeclaring(impl: Implementation, policy: str) -> Implementation:
    """``impl`` with its behaviour, declaring the reference's value of ``policy`` and its other
    policies as it declares them: a clause that relies on ``policy`` should then fail."""
    declared = {f.name: getattr(policies_of(impl), f.name) for f in fields(Policies)}
    return declaring(impl, **{**declared, policy: getattr(Policies(), policy)})


def what_is_wrong(impl: Implementation) -> str:
    """The first line of a broken implementation's class docstring: what it gets wrong."""
    doc = (type(impl).__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


def assert_outcome(run: RunCheck, clause: str, impls: Impls, seed: int, expected: Outcome, *,
                   because: str | None = None) -> Verdict | list[Verdict]:
    """Run ``clause`` at ``seed`` with ``run`` on each implementation of ``impls`` (one, or a
    sequence) and assert the ``expected`` outcome; return the verdict, or the list of verdicts.

    ``because``: why that outcome is expected, for the message; where a FAIL is expected it
    defaults to what each implementation gets wrong (:func:`what_is_wrong`).
    """
    one = not isinstance(impls, (tuple, list))
    verdicts = []
    for impl in (impls,) if one else impls:
        verdict = run(clause, impl, seed)
        detail = f": {verdict.detail}" if verdict.detail else ""
        reason = because if because is not None else what_is_wrong(impl) if expected is Outcome.FAIL else ""
        assert verdict.outcome is expected, (f"{clause}: expected {expected.value} for {described(impl)}, got "
                                             f"{verdict.outcome.value}{detail}" + (f" ({reason})" if reason else ""))
        verdicts.append(verdict)
    return verdicts[0] if one else verdicts


def assert_passes(check_correct: RunCheck, clause: str, impls: Impls, seed: int, *,
                  because: str | None = None) -> Verdict | list[Verdict]:
    """Every implementation of ``impls`` (one, or a sequence) passes ``clause`` at ``seed``."""
    return assert_outcome(check_correct, clause, impls, seed, Outcome.PASS, because=because)


def assert_fails(check_broken: RunCheck, clause: str, impls: Impls, seed: int, *,
                 because: str | None = None) -> Verdict | list[Verdict]:
    """``clause``'s check rejects every implementation of ``impls`` (one, or a sequence) at ``seed``."""
    return assert_outcome(check_broken, clause, impls, seed, Outcome.FAIL, because=because)


def assert_generated_cases_catch(plan: DecisionPlan, clause: str, impl: Implementation, seed: int = 3,
                                 examples: int = 100) -> Verdict:
    """``impl`` passes ``clause``'s fixed cases (under ``plan`` drawing no generated case) and fails once
    ``examples`` generated cases are drawn, at ``seed``, on a minimal case shown as a snippet."""
    fixed = run_check(clause, impl, seed=seed, plan=replace(plan, examples=0), budget=plan.budget())
    assert fixed.outcome is Outcome.PASS, f"{clause}: the fixed cases alone should miss {impl.name}: {fixed.detail}"
    verdict = run_check(clause, impl, seed=seed, plan=replace(plan, examples=examples), budget=plan.budget())
    assert verdict.outcome is Outcome.FAIL and "generated case" in verdict.detail, (
        f"{clause}: expected the generated cases to catch {impl.name} ({what_is_wrong(impl)}), got "
        f"{verdict.outcome.value}: {verdict.detail}")
    return verdict


# ---- a target's quick run (tests/conftest.py's quick_run) ---------------------------------------


@dataclass(frozen=True)
class QuickRun:
    """What the quick run of the built-in ``target`` (tests/conftest.py's ``quick_run``) gives for a
    representative subset of its clauses, as the target's adapter test file states it: each clause of
    ``passes`` passes, relying on the declared policies ``relied`` names for it (by policy name) and on no
    other; each of ``not_applicable`` is not applicable (a capability the target lacks); each of
    ``deviations`` (clause: measured reason, the adapter's KNOWN_DEVIATIONS) fails."""

    target: str
    passes: Sequence[str]
    not_applicable: Sequence[str] = ()
    relied: Mapping[str, Collection[str]] = field(default_factory=dict)
    deviations: Mapping[str, str] = field(default_factory=dict)

    def expected(self, clause: str) -> Outcome:
        """The outcome the subset states for ``clause``: PASS (or POLICY, where it relies on a policy),
        NOT_APPLICABLE or FAIL."""
        if clause in self.deviations:
            return Outcome.FAIL
        return Outcome.NOT_APPLICABLE if clause in self.not_applicable else Outcome.PASS


def quick_run_cases(*subsets: QuickRun) -> list:
    """``(subset, clause)`` parameters, one for each clause a subset states, with ids ``target-clause``: for
    ``@pytest.mark.parametrize("subset, clause", quick_run_cases(...))``."""
    for subset in subsets:
        named = [*subset.passes, *subset.not_applicable, *subset.deviations]
        assert len(set(named)) == len(named), f"{subset.target}: a clause stated twice in {named}"
        assert set(named) <= set(CHECKS), f"{subset.target}: no check for {sorted(set(named) - set(CHECKS))}"
        assert set(subset.relied) <= set(subset.passes), f"{subset.target}: relied names clauses not in passes"
    return [pytest.param(subset, clause, id=f"{subset.target}-{clause}")
            for subset in subsets for clause in (*subset.passes, *subset.not_applicable, *sorted(subset.deviations))]


def assert_quick_run_gives(run: Run, subset: QuickRun, clause: str) -> Verdict:
    """``run`` (the quick run of ``subset.target``) gives ``clause`` the outcome ``subset`` states; a pass relies
    on exactly the policies it names. Returns the verdict."""
    verdict = next(result.verdict for result in run.results if result.verdict.clause == clause)
    expected = subset.expected(clause)
    relied = {policy.split(" = ")[0] for policy in verdict.policies}
    reason = f" (known deviation: {subset.deviations[clause]})" if clause in subset.deviations else ""
    got = Outcome.PASS if verdict.outcome is Outcome.POLICY else verdict.outcome
    assert got is expected, (f"{clause}: expected {expected.value} for {subset.target}, got {verdict.outcome.value}"
                             f": {verdict.detail}{reason}")
    if expected is Outcome.PASS:
        want = set(subset.relied.get(clause, ()))
        assert relied == want, (f"{clause}: expected {subset.target} to pass relying on {sorted(want) or 'no policy'}"
                                f", got {sorted(relied) or 'no policy'}")
    return verdict


# ---- the command line ---------------------------------------------------------------------------


def run_command(capsys: pytest.CaptureFixture[str], *argv: str, status: int = 0) -> tuple[str, str]:
    """Run ``refdropout ARGV`` in this process and assert that it exits with ``status``: returns
    (stdout, stderr). A usage error raises SystemExit, as argparse does."""
    got = main(list(argv))
    out, err = capsys.readouterr()
    assert got == status, f"refdropout {shlex.join(argv)}: expected exit status {status}, got {got}:\n{err or out}"
    return out, err


# ---- the seed sweep's results file --------------------------------------------------------------


def sweep_record(target: str = "reference", seed: int = 0, clauses: Sequence[str] = ("DROPOUT-4",), *,
                 profile: str = "quick", seconds: float = 1.0, outcome: str = "pass") -> dict:
    """A valid record of the sweep's results file: one run of ``clauses`` (each with ``outcome``, exact:
    no decision) against ``target`` under master seed ``seed``."""
    return {"target": target, "seed": seed, "profile": profile, "seconds": seconds,
            "versions": {"python": "3.11.7", "refdropout": "0.1.0", "framework": None, "framework_version": None},
            "known_deviations": [],
            "clauses": {clause: {"outcome": outcome, "min_p": None, "decisions": 0} for clause in clauses}}


def results_line(record: dict) -> bytes:
    """``record`` as a line of the results file."""
    return json.dumps(record).encode("utf-8") + b"\n"


def run_sweep(capsys: pytest.CaptureFixture[str], results: Path, *targets: str, seeds: int = 1,
              clauses: Sequence[str] = ("DROPOUT-4",), profile: str = "quick",
              options: Sequence[str] = ()) -> tuple[str, str]:
    """``refdropout report sweep TARGETS`` in this process over the results file ``results`` (with
    ``options``, e.g. ``--workers 2``), writing its report beside it (``.md``); asserts exit status 0;
    returns (stderr, the report)."""
    out = results.with_suffix(".md")
    chosen = [arg for clause in clauses for arg in ("--clause", clause)]
    _, err = run_command(capsys, "report", "sweep", "--profile", profile, "--seeds", str(seeds), *chosen,
                         "--results", str(results), "--out", str(out), *options, *targets)
    return err, out.read_text(encoding="utf-8")


def run_as_user(cwd: Path, *argv: str, status: int, timeout: float = 120,
                traceback: bool = False) -> subprocess.CompletedProcess[str]:
    """``refdropout ARGV`` as a user runs it: in a fresh interpreter, in ``cwd`` (whose modules are
    importable, this checkout after them). It must exit with ``status`` and, unless ``traceback``,
    print no Python traceback."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join((str(cwd), str(REPO)))}
    result = subprocess.run([sys.executable, "-m", "refdropout", *argv], cwd=cwd, env=environment,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == status, (f"refdropout {shlex.join(argv)}: expected exit status {status}, got "
                                         f"{result.returncode}:\n{result.stderr or result.stdout}")
    if not traceback:
        assert "Traceback (most recent call last)" not in result.stderr, result.stderr
    return result


SUMMARY = re.compile(r"^(?P<target>\S+): (?P<total>[0-9]+) clauses: (?P<counts>[^;]+);", re.MULTILINE)


def summaries(out: str) -> dict[str, dict[str, int]]:
    """The verdict counts of each summary line of ``refdropout check``'s output, by target:
    ``{"reference": {"pass": 4, "FAIL": 0, ...}}``."""
    return {match["target"]: {verdict: int(count) for count, verdict in
                              (part.split(" ", 1) for part in match["counts"].split(", "))}
            for match in SUMMARY.finditer(out)}


# ---- the pytest plugin ------------------------------------------------------------------------------


def run_plugin(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """``pytest --pyargs refdropout.conformance`` with ``args``, in pytester's fresh directory and in this process
    (where the plugin module is already imported and so cannot be assertion-rewritten again). The inner run loads
    the plugins it names and no others: once refdropout is installed its plugin is also an entry point, and loading
    a plugin twice, under two names, is an error."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        return pytester.runpytest("-p", "refdropout.pytest_plugin", "-p", "no:cacheprovider",
                                  "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                  "--pyargs", "refdropout.conformance", "-rsxX", *args)


# ---- numpy arrays in, numpy arrays out (contract: answers in kind) ------------------------------------


def assert_answers_in_kind(impl: Implementation, seed: int = 3, shape: tuple[int, ...] = (4, 8)) -> None:
    """Handed numpy arrays, ``impl``'s capabilities of standard dropout answer with numpy arrays of x's
    shape and dtype, bit for bit what they answer for engine tensors, in every format it declares,
    and leave the caller's arrays as they were."""
    import numpy as np

    from refdropout.conformance.kit import edged
    from refdropout.contract import dtypes_of, has_capability
    from refdropout.contract.arrays import to_numpy

    def same(got: object, expected: Tensor, what: str) -> None:
        assert isinstance(got, np.ndarray), f"{described(impl)}: {what} returned {type(got).__name__}, not an array"
        want = to_numpy(expected)
        assert (got.shape, got.dtype) == (want.shape, want.dtype), f"{described(impl)}: {what}: {got.dtype} {got.shape}"
        assert got.tobytes() == want.tobytes(), f"{described(impl)}: {what}: not the tensor path's values"

    for dtype in dtypes_of(impl):
        x = edged(seed, shape, dtype)
        a, g = to_numpy(x), to_numpy(edged(seed + 1, shape, dtype))
        before = a.tobytes()
        for training in (True, False):
            same(impl.dropout(a, 0.3, training=training, seed=seed),
                 impl.dropout(x, 0.3, training=training, seed=seed), f"{dtype.name} dropout, training={training}")
        if has_capability(impl, "dropout_with_mask"):
            y, keep = impl.dropout_with_mask(a, 0.3, seed=seed)
            ty, tkeep = impl.dropout_with_mask(x, 0.3, seed=seed)
            same(y, ty, f"{dtype.name} dropout_with_mask")
            same(keep, tkeep, f"{dtype.name} dropout_with_mask's mask")
        if has_capability(impl, "dropout_vjp"):
            (y, dx) = impl.dropout_vjp(a, 0.3, g, training=True, seed=seed)
            (ty, tdx) = impl.dropout_vjp(x, 0.3, edged(seed + 1, shape, dtype), training=True, seed=seed)
            same(y, ty, f"{dtype.name} dropout_vjp")
            same(dx, tdx, f"{dtype.name} dropout_vjp's gradient")
        if has_capability(impl, "dropout_stream"):
            arrays, tensors = impl.dropout_stream(seed), impl.dropout_stream(seed)
            for call in range(2):
                same(arrays(a, 0.3, training=True), tensors(x, 0.3, training=True), f"{dtype.name} stream call {call}")
        assert a.tobytes() == before, f"{described(impl)}: a {dtype.name} call changed the caller's array"


def assert_mask_bits_are_the_mask(impl: Implementation, seed: int = 3) -> None:
    """``impl.dropout_mask_bits(n, p, seed=s, dtype=d)`` is the keep mask of ``impl.dropout`` of n ones in
    d with seed s, packed as np.packbits(..., bitorder="little") packs it, in every format it declares,
    for n that fill whole bytes and n that do not."""
    import numpy as np

    from refdropout.conformance.kit import ones_array
    from refdropout.contract import dtypes_of

    for dtype in dtypes_of(impl):
        for n in (0, 13, 64, 1001):
            for p in (0.0, 0.3, 0.999):
                bits = impl.dropout_mask_bits(n, p, seed=seed, dtype=dtype.name)
                y = impl.dropout(ones_array(n, dtype), p, training=True, seed=seed)
                want = np.packbits(np.asarray(y) != 0, bitorder="little")
                assert isinstance(bits, np.ndarray) and bits.dtype == np.uint8, f"{described(impl)}: {type(bits)}"
                assert bits.tobytes() == want.tobytes(), f"{described(impl)}: {dtype.name}, n = {n}, p = {p}"


# x values of every kind a check hands dropout: ±0, ±1, ±inf, NaN, subnormals of each format, the largest
# finite values, and plain ones; rates from 2^-30 to 1 - 2^-53, where the scale 1 / q overflows float16
SPECIAL_VALUES = (float("nan"), float("inf"), float("-inf"), 0.0, -0.0, 1.0, -1.0, 5e-324, 1e-40, 6e-8, 2**-14,
                  1e-310, 65504.0, 3.0e38, 1.7e308, 0.1, 123.456, -7.25)
EXTREME_AND_ORDINARY_RATES = (2**-30, 1e-8, 0.1, 0.3, 0.5, 0.7123456789, 0.9, 0.999, 0.99999, 1 - 2**-16,
                              1 - 2**-25, 1 - 2**-53)


def special_array(shape: tuple[int, ...], dtype: str, shift: int = 0) -> Any:
    """SPECIAL_VALUES (rotated by ``shift``) repeated to ``shape`` in ``dtype`` (a numpy array)."""
    import numpy as np

    from refdropout.contract.arrays import NUMPY_FORMATS

    with np.errstate(over="ignore"):
        values = np.roll(np.array(SPECIAL_VALUES), shift)
        return np.resize(values, math.prod(shape)).astype(NUMPY_FORMATS[dtype]).reshape(shape)


def assert_quick_compiles_keep_the_bits(impl: Implementation, monkeypatch: pytest.MonkeyPatch, dtype: str) -> None:
    """A JAX target's small calls are compiled with XLA's backend optimisations off
    (``refdropout.adapters.jax.quick_compiles``, issue 15): their bits, NaN payloads included, are those of
    the same calls compiled as JAX compiles by default, in ``dtype`` on every special value and rate, for
    dropout, its VJP, a stream's calls and, where the target has one, its fused attention (forward and
    dL/dv). The caches are cleared before each pass: an executable is reused whichever way it was compiled."""
    import refdropout.adapters.jax as adapter_module

    flag = adapter_module.QUICK_COMPILE_FLAG
    with impl._x64(adapter_module.QUICK_COMPILE_ELEMENTS):
        assert impl.jax.config.values[flag], "a small call is not compiled quickly"
    with impl._x64(adapter_module.QUICK_COMPILE_ELEMENTS + 1):
        assert not impl.jax.config.values[flag], "a large call is compiled quickly"
    x, g = special_array((3, 2, 5), dtype), special_array((3, 2, 5), dtype, shift=5)
    attention = hasattr(impl, "fused_attention")
    # q and k finite and unequal, so that the weights are not all 1/L; v and g special
    qk = special_array((1, 2, 4, 4), "float64", shift=15).clip(-8, 8).astype(x.dtype)
    v, w = special_array((1, 2, 4, 4), dtype, shift=3), special_array((1, 2, 4, 4), dtype, shift=9)

    def results() -> list:
        impl.jax.clear_caches()
        out = []
        for p in EXTREME_AND_ORDINARY_RATES:
            seed = int(p * 2**40) % 2**64
            out.append(impl.dropout(x, p, training=True, seed=seed))
            out.extend(impl.dropout_vjp(x, p, g, training=True, seed=seed))
            stream = impl.dropout_stream(seed)
            out.extend(stream(x, p, training=True) for _ in range(2))
            if attention:
                out.extend(impl.fused_attention(qk, qk[::-1].copy(), v, w, p, backend="dot_product_attention",
                                                training=True, seed=seed))
        return out

    quick = results()
    monkeypatch.setattr(adapter_module, "QUICK_COMPILE_ELEMENTS", -1)
    with impl._x64(0):
        assert not impl.jax.config.values[flag]
    optimised = results()
    differing = [i for i, (a, b) in enumerate(zip(quick, optimised))
                 if a.dtype != b.dtype or a.tobytes() != b.tobytes()]
    assert not differing, f"{described(impl)}, {dtype}: quick and optimised compilations differ at results {differing}"
