"""Tests of spec/dropout.md: standard dropout.

Every check of refdropout.conformance.dropout passes on correct implementations and fails on a
broken one, a mutant of refdropout.mutants or a witness of tests/broken/dropout.py (section "Every
check can fail" of the issue). The exact checks run against the reference under both policy
pairs and against Textbook, a correct kernel written as frameworks write it (y = x ⊙ m · fl(1/q)
in x's dtype); they charge nothing to the suite's budget. The statistical checks run against the
reference (inverted; the moment clauses under classic scaling too; DROPOUT-13 for a witness of
32-bit seeds and for the numpy target too) on two seeds drawn by Hypothesis, never shrunk or replayed,
and charge their decisions to the suite's quick budget: 2 × (240 + 2 + 2 + 10) = 508 decisions, 528 counted in a
run of this file. A broken implementation is judged at the same level with a fresh budget. The reference's own
API is tested directly.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import random
import re
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import refdropout.conformance.dropout as checks
from broken.dropout import (
    ActiveInEval,
    ActiveInEvalAtSeedZero,
    BatchSharedMaskInFloat16,
    BiasedFirstLane,
    BiasedFirstLaneInBfloat16,
    BiasedLaneOf64,
    BoolsAsNumbers,
    ChainersValidation,
    ChannelSharedMaskOnFourAxes,
    ClaimsRefusalGivesZeros,
    DividesByQInInputFormat,
    EvaluationIgnoresRate,
    ExactCountInFloat32,
    FlushesSubnormals,
    HighSeedBitsIgnoredInBulk,
    HighSeedBitsIgnoredInFloat16,
    HighSeedBitsIgnoredWhenTiny,
    Keeps32SeedBits,
    LaneReusesItsNeighbour,
    LaneReusesItsNeighbourInFloat16,
    NoiseShapeIgnoredOnManyAxes,
    RaisesOnFiveAxes,
    ReciprocalInInputFormat,
    RefusesPOne,
    RoundsAtRateZeroOnManyAxes,
    SameMaskEveryCallIn16Bit,
    SaturatesAtLargest,
    ScaleByFloat32Reciprocal,
    ScaleInFloat32,
    ScaleInInputFormat,
    SeedZeroUnseeded,
    SelectsOnManyAxes,
    SkipsRescaleForTinyRates,
    TailAlwaysKept,
    TailAlwaysKeptInFloat16,
    TailDividesByZeroAtRateOne,
    TailScaledByRate,
    UniformsInInputFormat,
)
from helpers import (
    REPO,
    assert_fails,
    assert_generated_cases_catch,
    assert_passes,
    assert_same_bits,
    bit_pattern,
    declaring,
    dtype_names,
    exact,
    filled,
    rates,
    seeds,
    shapes,
    statistical,
)
from refdropout.adapters.numpy import NumpyDropout
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import CHECKS, Context, Outcome, run_check
from refdropout.conformance.cases import (
    EXTREME_RATES,
    MAX_ELEMENTS,
    SEED_CASE_RATE,
    SHAPE_SPREAD,
    SPECIAL_SEEDS,
    cases,
    overflow_corners,
    probabilities,
)
from refdropout.conformance.exact import rates_below_one
from refdropout.conformance.inputs import BINADES, _Stream, spread
from refdropout.conformance.runner import run_target
from refdropout.conformance.search import CASE_NOTE, search, stratum
from refdropout.dtypes import bfloat16, float16, float32, get_dtype, within_one_ulp
from refdropout.functional import dropout
from refdropout.mutants.edges import AcceptsAnyRate, NaNAtPOne, StrictComparison
from refdropout.mutants.randomness import (
    BatchSharedMask,
    CorrelatedNeighbours,
    ExactCount,
    NoiseShapeIgnored,
    SameMaskEveryCall,
    SeedIgnored,
)
from refdropout.mutants.rate import SwappedRate
from refdropout.mutants.scale import NoRescale, OneOverP
from refdropout.mutants.textbook import Textbook
from refdropout.mutants.values import IntegerScaleCrashes, IntegerScaleTruncates, MultipliesDespiteSelect, WrongPolicy
from refdropout.random import Generator
from refdropout.stats import correlation_power, decision_plan, detectable_delta, homogeneity_power
from refdropout.tensor import Tensor

REFERENCE = ReferenceDropout()
CLASSIC = ReferenceDropout(scaling="classic", nonfinite="select")
CORRECT = (REFERENCE, CLASSIC, Textbook())

def test_the_chapter_plans_its_decisions() -> None:
    """The decision count the spec and this file's budget rest on: 240 per run of the chapter (DROPOUT-16's
    five in each of the four floating formats, DROPOUT-13's two and two more in each format, DROPOUT-19's
    32, DROPOUT-22's ten and DROPOUT-23's seven in each format, one in each format for DROPOUT-14, -17 and
    -18, one each for DROPOUT-20 and -21)."""
    assert sum(c.decisions for clause, c in CHECKS.items() if clause.startswith("DROPOUT-")) == 240


# --- DROPOUT-1: the reference operator ----------------------------------------------------------------


@pytest.mark.clause("DROPOUT-1")
def test_reference_signature() -> None:
    parameters = inspect.signature(dropout).parameters
    assert [(name, parameter.kind.name, parameter.default) for name, parameter in parameters.items()] == [
        ("x", "POSITIONAL_OR_KEYWORD", inspect.Parameter.empty),
        ("p", "POSITIONAL_OR_KEYWORD", 0.5),
        ("training", "KEYWORD_ONLY", True),
        ("seed", "KEYWORD_ONLY", None),
        ("generator", "KEYWORD_ONLY", None),
        ("noise_shape", "KEYWORD_ONLY", None),
        ("broadcast_dims", "KEYWORD_ONLY", None),
        ("scaling", "KEYWORD_ONLY", "inverted"),
        ("nonfinite", "KEYWORD_ONLY", "multiply"),
        ("return_mask", "KEYWORD_ONLY", False),
    ]
    x = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match="needs seed= or generator="):
        dropout(x)
    with pytest.raises(ValueError, match="not both"):
        dropout(x, seed=1, generator=Generator(1))
    for not_a_generator in (1, x):  # a tensor too: it is refused, not compared with None elementwise
        with pytest.raises(TypeError, match="generator must be a refdropout.random.Generator"):
            dropout(x, generator=not_a_generator)
    with pytest.raises(ValueError, match="scaling must be one of"):
        dropout(x, seed=1, scaling="Inverted")
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        dropout(x, seed=1, nonfinite="zero")
    with pytest.raises(TypeError, match="training must be a bool"):
        dropout(x, seed=1, training=1)
    with pytest.raises(TypeError, match="return_mask must be a bool"):
        dropout(x, seed=1, return_mask=None)
    for p, training in ((0.5, False), (0.0, True), (1.0, True)):  # no source needed
        dropout(x, p, training=training)


@pytest.mark.clause("DROPOUT-1")
@exact(25)
@given(seed=seeds, p=rates, shape=shapes)
def test_reference_draws_from_its_seed_or_generator(seed: int, p: float, shape: tuple[int, ...]) -> None:
    x = filled(shape, 1.0)
    generator = Generator(seed)
    first, first_mask = dropout(x, p, generator=generator, return_mask=True)
    assert generator.state.draws == 1  # one draw per training call
    assert_same_bits(first, dropout(x, p, seed=seed))  # seed=s draws as Generator(s) does
    assert first_mask.dtype.name == "bool" and first_mask.shape == x.shape
    assert first_mask.data == [v != 0.0 for v in first.data]
    second = dropout(x, p, generator=generator)  # the generator's next draw: draw index 1
    after_one_draw = Generator(seed)
    after_one_draw.uniform(0)  # any draw takes one draw index (RANDOM-4)
    assert_same_bits(second, dropout(x, p, generator=after_one_draw))


# --- DROPOUT-2: inverted and classic scaling ----------------------------------------------------------


@pytest.mark.clause("DROPOUT-2")
@exact(2)
@given(seed=seeds)
def test_output_is_the_scaled_mask(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-2", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-2", (NoRescale(), OneOverP()), seed)


@pytest.mark.clause("DROPOUT-2")
@exact(25)
@given(seed=seeds, p=rates, dtype=dtype_names, shape=shapes, data=st.data())
def test_reference_scalings_share_one_mask(seed: int, p: float, dtype: str, shape: tuple[int, ...], data) -> None:
    values = data.draw(st.lists(st.floats(-1e3, 1e3), min_size=math.prod(shape), max_size=math.prod(shape)))
    x = Tensor.from_flat(values, shape, dtype)
    inverted, keep = dropout(x, p, seed=seed, return_mask=True)
    classic, same = dropout(x, p, seed=seed, scaling="classic", return_mask=True)
    q = 1.0 - p
    assert same.data == keep.data
    assert inverted.data == [x.dtype.round(v / q) if k else 0.0 for v, k in zip(x.data, keep.data)]
    assert classic.data == [v if k else 0.0 for v, k in zip(x.data, keep.data)]
    evaluated = dropout(x, p, training=False, scaling="classic")
    assert all(within_one_ulp(got, q * v, x.dtype) for got, v in zip(evaluated.data, x.data))


@pytest.mark.clause("DROPOUT-2")
def test_a_float16_scale_that_overflows_is_caught(check_broken) -> None:
    """x · fl16(1/q), PyTorch's CPU float16 kernel, is right wherever 1/q fits float16; the case of an
    overflowing scale (p = 1 - 2^-16, overflow_size(0.99) = 301,803 elements, one kept at least with
    probability 0.99) sees a kept 2^-14 give inf, not 4."""
    assert checks.overflow_size(0.99) == 301_803
    verdict = assert_fails(check_broken, "DROPOUT-2", ReciprocalInInputFormat(), 0)
    assert "float16, p = 1 - 2^-16, 301803 elements" in verdict.detail
    assert "gave inf, kept, not x/q = 4.0" in verdict.detail


@pytest.mark.clause("DROPOUT-2")
def test_generated_cases_catch_a_rescale_skipped_for_tiny_rates(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "DROPOUT-2", SkipsRescaleForTinyRates())
    assert "kept, not x/q" in verdict.detail


@pytest.mark.clause("DROPOUT-2", "RUNNER-18")
def test_generated_cases_are_reproducible_from_the_clause_seed(quick_plan) -> None:
    """The same seed draws the same cases and gives the same verdict; another seed draws others."""
    def drawn(seed: int) -> list:
        seen: list = []
        search(Context(seed, quick_plan, quick_plan.budget()), cases(REFERENCE), lambda case: seen.append(case) or [])
        return seen

    first = drawn(11)
    assert len(first) == len(stratum(11, cases(REFERENCE))) + quick_plan.examples
    assert first == drawn(11) and first != drawn(12)
    broken = SkipsRescaleForTinyRates()
    verdicts = [run_check("DROPOUT-2", broken, seed=3, plan=replace(quick_plan, examples=100),
                          budget=quick_plan.budget()) for _ in range(2)]
    assert verdicts[0] == verdicts[1] and verdicts[0].failed


# A process draws DROPOUT-2's generated cases for the reference at seed 3, 100 of them, after importing
# the modules its arguments name, and prints their digest.
DRAW_CASES = """
import hashlib, importlib, sys
from dataclasses import replace
for name in sys.argv[2:]:
    importlib.import_module(name)
from refdropout.conformance import run_check
from refdropout.conformance.cases import MAX_ELEMENTS, SHAPE_SPREAD, cases
from refdropout.conformance.exact import rates_below_one
from refdropout.conformance.registry import Context
from refdropout.conformance.search import search
from refdropout.adapters.reference import ReferenceDropout
from refdropout.stats import decision_plan
if sys.argv[1] == "after-a-check":  # another clause's search first
    quick = decision_plan("quick")
    run_check("DROPOUT-4", ReferenceDropout(), seed=5, plan=quick, budget=quick.budget())
plan = decision_plan("quick")
plan = replace(plan, examples=100)
seen = []
search(Context(3, plan, plan.budget()), cases(ReferenceDropout(), capability="dropout_with_mask"),
       lambda case: seen.append(repr(case)) or [])
print(len(seen), hashlib.sha256("\\n".join(seen).encode()).hexdigest())
"""
# A module of the project's kind, full of constants Hypothesis would collect: seeds and rates.
CONSTANTS_MODULE = "SEEDS = (123456789, 2**40 + 3, 987654321987)\nRATES = (0.123456, 0.654321, 1e-5, 0.99999)\n"


@pytest.mark.clause("RUNNER-18")
def test_generated_cases_do_not_depend_on_what_the_process_imported(tmp_path) -> None:
    """A clause's generated cases are a function of its seed and the number of cases alone: drawn in a
    fresh interpreter, in one that imported every module of the suite and a module of constants (which
    Hypothesis would mix into its draws, spec/runner.md) and ran another clause's search first, and in
    this test session, they are the same cases."""
    (tmp_path / "constants_here.py").write_text(CONSTANTS_MODULE, encoding="utf-8")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path)])}

    def drawn(*argv: str) -> str:
        result = subprocess.run([sys.executable, "-c", DRAW_CASES, *argv], capture_output=True, text=True,
                                check=True, cwd=REPO, env=environment)
        return result.stdout.strip()

    fresh = drawn("fresh")
    assert fresh.startswith(f"{len(stratum(3, cases(REFERENCE, capability='dropout_with_mask'))) + 100} ")
    assert drawn("after-a-check", "constants_here", "refdropout.cli", "refdropout.reports.command",
                 "refdropout.mutants", "refdropout.adapters.torch") == fresh
    here: dict = {"__name__": "here"}
    argv, sys.argv = sys.argv, ["-c", "after-a-check"]
    try:
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            exec(DRAW_CASES, here)
    finally:
        sys.argv = argv
    assert printed.getvalue().strip() == fresh


@pytest.mark.clause("RUNNER-18")
@pytest.mark.parametrize("strategy", ["DROPOUT-2", "EXACT-1"])
def test_generated_shapes_spread_over_every_rank(quick_plan, strategy) -> None:
    """Over the random cases a search draws (DROPOUT-2's, and EXACT-1's of x = 1: 20 clause seeds x 100
    cases, its stratum after them left out), each rank from 0 to 5 is drawn at least cases.SHAPE_SPREAD of
    the time, most 5-axis shapes are neither empty nor a line (two axes above 1), and no case passes
    MAX_ELEMENTS elements."""
    strategy = (cases(REFERENCE, capability="dropout_with_mask") if strategy == "DROPOUT-2" else
                cases(REFERENCE, p=rates_below_one, ones=True, capability="dropout_with_mask"))
    plan, drawn = replace(quick_plan, examples=100), []
    for seed in range(1000, 1020):
        shapes: list = []
        search(Context(seed, plan, plan.budget()), strategy, lambda case: shapes.append(case.shape) or [])
        drawn += shapes[:plan.examples]
    ranks = Counter(map(len, drawn))
    assert {rank: ranks[rank] / len(drawn) >= least for rank, least in SHAPE_SPREAD.items()} == dict.fromkeys(
        range(6), True), sorted(ranks.items())
    five = [shape for shape in drawn if len(shape) == 5]
    assert sum(0 not in shape and sum(n > 1 for n in shape) >= 2 for shape in five) > len(five) / 2
    assert max(map(math.prod, drawn)) <= MAX_ELEMENTS


@pytest.mark.clause("RUNNER-18")
@pytest.mark.parametrize("clause_seed", [0, 1, 2, 3, 4])
def test_every_search_tries_every_special_seed_and_every_extreme_rate_in_every_format(quick_plan, clause_seed) -> None:
    """After its random case (one here), DROPOUT-7's search (p in [0, 1], evaluation) tries its stratum,
    the same for the same clause seed: every special seed on an ordinary case at p = 1/3, then every
    extreme rate in every format the reference declares, on ordinary cases."""
    strategy, plan, tried = cases(REFERENCE, p=probabilities, training=False), replace(quick_plan, examples=1), []
    search(Context(clause_seed, plan, plan.budget()), strategy, lambda case: tried.append(case) or [])
    seeded, extreme = tried[1:1 + len(SPECIAL_SEEDS)], tried[1 + len(SPECIAL_SEEDS):]
    assert [case.seed for case in seeded] == list(SPECIAL_SEEDS)
    assert all(case.ordinary and case.p == SEED_CASE_RATE for case in seeded)
    assert sorted((case.dtype.name, case.p) for case in extreme if case.ordinary) == sorted(
        (dtype, p) for dtype in REFERENCE.dtypes for p in EXTREME_RATES)
    assert tried[1:] == stratum(clause_seed, strategy)


@pytest.mark.clause("RUNNER-18")
@pytest.mark.parametrize("clause_seed", [1, 2, 5, 8, 13])
def test_the_stratum_catches_a_bug_at_a_special_seed_or_rate_whatever_the_clause_seed(quick_plan, clause_seed) -> None:
    """A dropout active in evaluation at seed 0 (DROPOUT-7) and one that skips the rescale below p = 1e-6
    (DROPOUT-2) pass the fixed cases and fail with one random case, at any clause seed: their special
    seed and rates are tried every time."""
    for clause, broken in (("DROPOUT-7", ActiveInEvalAtSeedZero()), ("DROPOUT-2", SkipsRescaleForTinyRates())):
        assert_generated_cases_catch(quick_plan, clause, broken, seed=clause_seed, examples=1)


@pytest.mark.clause("DROPOUT-2", "RUNNER-18")
def test_a_generated_case_is_a_runnable_snippet(quick_plan) -> None:
    """The snippet of the minimal case, run with impl bound, makes the failing call again: it returns
    what the verdict says came back, where a correct implementation with the same mask does not."""
    broken = SkipsRescaleForTinyRates()
    verdict = assert_generated_cases_catch(quick_plan, "DROPOUT-2", broken)
    snippet = re.search(r"`([^`]+)`", verdict.detail)[1]
    index, got = re.search(r"element ([0-9]+): x = \S+ gave (\S+),", verdict.detail).groups()
    run: dict = {"impl": broken}
    exec(snippet, run)
    assert repr(run["y"].data[int(index)]) == got
    correct: dict = {"impl": Textbook()}
    exec(snippet, correct)
    assert correct["keep"].data == run["keep"].data and correct["y"].data != run["y"].data


@pytest.mark.clause("DROPOUT-8", "RUNNER-18")
def test_an_exception_in_a_generated_case_fails_the_clause_naming_the_case() -> None:
    """The implementation's exception in a generated case fails the clause, naming the call and the case;
    the fixed cases (at most 3 axes) never raise."""
    run = run_target("raises-on-five-axes", RaisesOnFiveAxes(), ["DROPOUT-8"], profile="standard", seed=2)
    (result,) = run.results
    assert result.verdict.outcome is Outcome.FAIL, result.verdict.detail
    assert "raised NotImplementedError: raises-on-five-axes: at most 4 axes" in result.verdict.detail
    assert f"{CASE_NOTE} from refdropout.tensor import Tensor;" in result.verdict.detail
    assert re.search(r"Tensor.from_flat\(.*, \(1, 1, 1, 1, 1\), 'float[0-9]+'\)", result.verdict.detail)


# --- DROPOUT-3 to DROPOUT-7: the domain of p ----------------------------------------------------------


@pytest.mark.clause("DROPOUT-3")
@exact(2)
@given(seed=seeds)
def test_rates_outside_the_unit_interval_raise(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-3", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-3", (AcceptsAnyRate(),), seed)


@pytest.mark.clause("DROPOUT-3")
@pytest.mark.parametrize("p, error, message", [
    (-0.1, ValueError, r"p must be in \[0, 1\], got -0.1"),
    (1.0000000000000002, ValueError, r"p must be in \[0, 1\], got 1.0000000000000002"),
    (math.inf, ValueError, r"p must be in \[0, 1\], got inf"),
    (math.nan, ValueError, r"p must be in \[0, 1\], got nan"),
    (True, TypeError, r"p must be a real number in \[0, 1\], got True of type bool"),
    ("0.5", TypeError, r"p must be a real number in \[0, 1\], got '0.5' of type str"),
    (0.5j, TypeError, r"p must be a real number in \[0, 1\], got 0.5j of type complex"),
    (None, TypeError, r"p must be a real number in \[0, 1\], got None of type NoneType"),
])
@pytest.mark.parametrize("training", [True, False])
def test_reference_rate_errors_name_the_value(p: object, error: type, message: str, training: bool) -> None:
    with pytest.raises(error, match=r"^dropout: " + message):
        dropout(Tensor([1.0]), p, training=training, seed=0)


@pytest.mark.clause("DROPOUT-3")
@pytest.mark.parametrize("p", [0, 1, Fraction(1, 3), 0.25, 5e-324])
def test_reference_accepts_every_real_rate_in_the_unit_interval(p: object) -> None:
    y = dropout(Tensor([1.0] * 64), p, seed=0)
    assert set(y.data) <= ({0.0} if p == 1 else {0.0, 1.0 / (1.0 - float(p))})


@pytest.mark.clause("DROPOUT-4")
@exact(2)
@given(seed=seeds)
def test_p_zero_is_the_identity(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-4", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-4", (StrictComparison(),), seed)


@pytest.mark.clause("DROPOUT-4")
def test_generated_cases_catch_an_identity_lost_on_many_axes(quick_plan) -> None:
    assert_generated_cases_catch(quick_plan, "DROPOUT-4", RoundsAtRateZeroOnManyAxes())


@pytest.mark.clause("DROPOUT-4")
@exact(50)
@given(seed=seeds, dtype=dtype_names, shape=shapes, data=st.data(),
       scaling=st.sampled_from(["inverted", "classic"]), nonfinite=st.sampled_from(["multiply", "select"]))
def test_reference_p_zero_is_the_identity_for_any_input(seed: int, dtype: str, shape: tuple[int, ...], data,
                                                        scaling: str, nonfinite: str) -> None:
    values = data.draw(st.lists(st.floats(), min_size=math.prod(shape), max_size=math.prod(shape)))
    x = Tensor(values, dtype=dtype).reshape(shape) if values else Tensor.from_flat([], shape, dtype)
    y = dropout(x, 0.0, seed=seed, scaling=scaling, nonfinite=nonfinite)
    assert (y.shape, y.dtype) == (x.shape, x.dtype)
    assert_same_bits(y, x)


@pytest.mark.clause("DROPOUT-5")
@exact(20)
@given(seed=seeds, dtype=dtype_names, n=st.integers(2000, 3000))
def test_value_inputs_span_25_binades_in_their_format(seed: int, dtype: str, n: int) -> None:
    values = spread(seed, n, get_dtype(dtype))
    assert len(values) == n and all(get_dtype(dtype).round(v) == v for v in values)
    assert [v > 0 for v in values] == [i % 2 == 0 for i in range(n)]
    # every binade of BINADES is drawn: a given one is missed with probability (24/25)^2000 < 1e-35
    assert {math.frexp(v)[1] - 1 for v in values} == set(BINADES)


@pytest.mark.clause("DROPOUT-5")
@given(key=st.text(max_size=8), sizes=st.lists(st.integers(0, 70), max_size=8))
def test_value_inputs_are_drawn_from_random_randbytes_stream(key: str, sizes: list[int]) -> None:
    """The inputs' random bytes are those of random.Random(key).randbytes, call after call, of every length
    (a last partial word included), drawn at C speed by numpy's MT19937 (inputs._Stream)."""
    rng, stream = random.Random(key), _Stream(key)
    for n in [*sizes, 4099]:
        assert stream.randbytes(n) == rng.randbytes(n)


@pytest.mark.clause("DROPOUT-5")
@exact(2)
@given(seed=seeds)
def test_p_one_gives_finite_zeros(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-5", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-5", (NaNAtPOne(), SwappedRate()), seed)


@pytest.mark.clause("DROPOUT-5")
def test_generated_cases_catch_a_remainder_loop_dividing_by_zero(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "DROPOUT-5", TailDividesByZeroAtRateOne())
    assert "gave nan, not 0" in verdict.detail


@pytest.mark.clause("DROPOUT-7")
@exact(2)
@given(seed=seeds)
def test_eval_is_the_identity(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-7", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-7", (ActiveInEval(),), seed)


@pytest.mark.clause("DROPOUT-7")
def test_generated_cases_catch_seed_zero_read_as_training(quick_plan) -> None:
    assert "seed=0)" in assert_generated_cases_catch(quick_plan, "DROPOUT-7", ActiveInEvalAtSeedZero()).detail


# --- DROPOUT-8 to DROPOUT-10: values ------------------------------------------------------------------


@pytest.mark.clause("DROPOUT-8")
@exact(2)
@given(seed=seeds)
def test_every_element_is_zero_or_the_kept_value(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-8", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-8", (NoRescale(), OneOverP(), SwappedRate()), seed)


FORMAT_NAMES = ["float64", "float32", "float16", "bfloat16"]
MOVES = [1, -1, 2, -2, "zero", "nan", "inf"]  # steps of the format from the kept value, or a value


@pytest.mark.clause("DROPOUT-2", "DROPOUT-8")
@exact(60)
@given(seed=seeds, p=st.sampled_from(checks.RATES), dtype=st.sampled_from(FORMAT_NAMES),
       moved_at=st.dictionaries(st.integers(0, 63), st.sampled_from(MOVES), max_size=3),
       dropped=st.sets(st.integers(0, 63), max_size=8))
def test_plainly_right_outputs_are_right_element_by_element(seed, p, dtype, moved_at, dropped) -> None:
    """kit.plainly_zero_or_kept accepts an output only where the element-by-element reading would (0
    where dropped, within one ulp of the kept value where kept), and accepts kept values within one
    step in the correctly rounded formats (an overflow as the infinity itself)."""
    import numpy as np

    from refdropout.conformance.kit import edges, kept_value_of, plainly_zero_or_kept
    from refdropout.contract.arrays import NUMPY_FORMATS

    first = edges(get_dtype(dtype))  # zeros, the least subnormals, the largest values (their kept values overflow)
    fmt = NUMPY_FORMATS[dtype]
    x = Tensor.from_flat(first + spread(seed, 64 - len(first), get_dtype(dtype)), (64,), dtype)
    exact = [kept_value_of(REFERENCE, v, p, x.dtype) for v in x.data]

    def moved(v: float, move: int | str) -> float:
        w = np.array(x.dtype.round(v), dtype=fmt)
        for _ in range(abs(move) if isinstance(move, int) else 0):
            w = np.nextafter(w, np.array(math.copysign(math.inf, move), dtype=fmt))
        return {"zero": 0.0, "nan": math.nan, "inf": math.inf}.get(move, float(w))

    moves = [moved_at.get(i, 0) for i in range(64)]
    keep = [i not in dropped for i in range(64)]
    values = [0.0 if i in dropped and i not in moved_at else moved(v, move)
              for i, (v, move) in enumerate(zip(exact, moves))]
    y = Tensor.from_flat(values, (64,), dtype, rounded=True)
    kept_right = [within_one_ulp(got, v, x.dtype) for got, v in zip(values, exact)]
    if plainly_zero_or_kept(REFERENCE, y, x, p, keep):
        assert all(r if k else got == 0.0 for r, got, k in zip(kept_right, values, keep))
    if plainly_zero_or_kept(REFERENCE, y, x, p):
        assert all(r or got == 0.0 for r, got in zip(kept_right, values))
    if dtype != "bfloat16":  # finite kept values moved by at most one step, or zeroed: accepted
        near = [moved(v, move if move in (0, 1, -1, "zero") and math.isfinite(x.dtype.round(v)) else 0)
                for v, move in zip(exact, moves)]  # an overflow's step from infinity is no ulp
        assert plainly_zero_or_kept(REFERENCE, Tensor.from_flat(near, (64,), dtype, rounded=True), x, p)


@pytest.mark.clause("DROPOUT-2", "DROPOUT-8")
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
@pytest.mark.parametrize("steps", [-2, -1, 1, 2])
def test_plainly_right_means_within_one_step(dtype: str, steps: int) -> None:
    """One kept value moved by one step of its format is plainly right; by two, it is not."""
    import numpy as np

    from refdropout.conformance.kit import kept_value_of, plainly_zero_or_kept
    from refdropout.contract.arrays import NUMPY_FORMATS

    fmt, x = NUMPY_FORMATS[dtype], Tensor.from_flat(spread(3, 32, get_dtype(dtype)), (32,), dtype)
    values = np.array([kept_value_of(REFERENCE, v, 0.3, x.dtype) for v in x.data]).astype(fmt)
    for _ in range(abs(steps)):
        values[7] = np.nextafter(values[7], np.array(math.copysign(math.inf, steps), dtype=fmt))
    y = Tensor.from_flat(values.astype(np.float64).tolist(), (32,), dtype, rounded=True)
    assert plainly_zero_or_kept(REFERENCE, y, x, 0.3) is (abs(steps) == 1)


@pytest.mark.clause("DROPOUT-2", "DROPOUT-8")
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16"])
def test_an_overflowing_kept_value_is_plainly_right_only_as_infinity(dtype: str) -> None:
    import numpy as np

    from refdropout.conformance.kit import plainly_zero_or_kept
    from refdropout.contract.arrays import NUMPY_FORMATS

    largest = float(np.finfo(NUMPY_FORMATS[dtype]).max)
    x = Tensor.from_flat([largest, -largest, 1.0], (3,), dtype)
    assert plainly_zero_or_kept(REFERENCE, Tensor.from_flat([math.inf, -math.inf, 2.0], (3,), dtype), x, 0.5)
    assert not plainly_zero_or_kept(REFERENCE, Tensor.from_flat([largest, -math.inf, 2.0], (3,), dtype), x, 0.5)
    top = Tensor.from_flat([largest], (1,), dtype)  # infinity for a finite kept value: read element by element
    assert not plainly_zero_or_kept(REFERENCE, Tensor.from_flat([math.inf], (1,), dtype), top, 0.0)


@pytest.mark.clause("DROPOUT-8")
def test_generated_cases_catch_a_remainder_loop_scaling_by_the_rate(quick_plan) -> None:
    assert "neither 0 nor the kept value" in assert_generated_cases_catch(quick_plan, "DROPOUT-8",
                                                                          TailScaledByRate()).detail


@pytest.mark.clause("DROPOUT-8")
@pytest.mark.parametrize("dtype, x, q", [  # found by scanning x in [1, 2) and q in (0.05, 0.96)
    (float16, 1.439453125, 0.44970703125),
    (bfloat16, 1.3515625, 0.37109375),
    (float32, 1.4794260263442993, 0.4858636260032654),
], ids=["float16", "bfloat16", "float32"])
def test_one_ulp_admits_rounding_the_scale_first(dtype, x: float, q: float) -> None:
    """fl(x · fl(1/q)), as frameworks compute it, lies more than one ulp from x/q, yet next to fl(x/q)."""
    assert dtype.round(x) == x and dtype.round(q) == q
    framework = dtype.round(x * dtype.round(1.0 / q))
    ulp = math.ldexp(dtype.eps, math.frexp(x / q)[1] - 1)  # the spacing of the binade that holds x/q
    assert abs(framework - x / q) > ulp
    assert within_one_ulp(framework, x / q, dtype)


@pytest.mark.clause("DROPOUT-8")
@pytest.mark.parametrize("dtype", [float16, bfloat16, float32], ids=["float16", "bfloat16", "float32"])
def test_a_non_finite_kept_value_is_matched_exactly(dtype) -> None:
    """x / fl_T(q) with q rounded to 0 is ±inf, or NaN for x = 0: matched by that value alone."""
    assert within_one_ulp(math.nan, math.nan, dtype) and within_one_ulp(math.inf, math.inf, dtype)
    assert not within_one_ulp(0.0, math.nan, dtype) and not within_one_ulp(math.nan, 0.0, dtype)
    assert not within_one_ulp(-math.inf, math.inf, dtype) and not within_one_ulp(dtype.max, math.inf, dtype)


@pytest.mark.clause("DROPOUT-8")
@pytest.mark.parametrize("dtype", [float16, bfloat16, float32], ids=["float16", "bfloat16", "float32"])
def test_one_ulp_meets_overflow_as_ieee_754_rounds(dtype) -> None:
    """x / q is rounded with no largest exponent, and ±inf stands for every value past ±M: it is one
    step from an x / q that rounds to ±M or past it; ±M is one step from one that rounds to the first
    value past M (2^(emax + 1)), not from one that rounds to the second (2^(emax + 1) + 2 ulp(M))."""
    top, ulp = dtype.max, math.ldexp(1.0, dtype.emax - dtype.precision + 1)
    for sign in (1.0, -1.0):
        inf = math.copysign(math.inf, sign)
        assert within_one_ulp(inf, sign * (top - ulp / 4), dtype) and within_one_ulp(inf, sign * top, dtype)
        assert not within_one_ulp(inf, sign * (top - ulp), dtype) and not within_one_ulp(-inf, sign * top, dtype)
        assert within_one_ulp(sign * top, sign * (top + ulp), dtype)  # rounds to 2^(emax + 1), one step past M
        assert not within_one_ulp(sign * top, sign * (top + 3 * ulp), dtype)  # to the second value past M
        assert not within_one_ulp(sign * (top - ulp), sign * (top + ulp), dtype)
        assert within_one_ulp(inf, sign * (top + 3 * ulp), dtype) and not within_one_ulp(math.nan, sign * top, dtype)


@pytest.mark.clause("DROPOUT-8", "GRADIENTS-1")
@pytest.mark.parametrize("capability", ["dropout", "dropout_vjp"])
def test_overflow_corners_admit_a_scale_rounded_first_and_reject_saturation(capability: str) -> None:
    """On the overflow corners, x · fl_T(1/q) (PyTorch's and TensorFlow's kept values, and their VJPs)
    gives ±inf where fl(x / q) = ±M and ±M where x / q rounds past it, both within one ulp, on every
    seed; a saturating conversion's ±M two steps past M is not."""
    from refdropout.conformance.kit import kept_value_of

    def judged(impl) -> list[tuple[bool, list[float]]]:
        verdicts = []
        for case in overflow_corners(impl, 7, capability):
            got = case.called(impl)
            inputs, got = (case.x, got) if capability == "dropout" else (case.g, got[1])
            exact = [kept_value_of(impl, v, case.p, case.dtype) for v in inputs.data]
            verdicts.append((all(y == 0.0 or within_one_ulp(y, e, case.dtype) for y, e in zip(got.data, exact)),
                             [abs(y) for y in got.data if y != 0.0]))
        return verdicts

    framework, saturating = judged(ReciprocalInInputFormat()), judged(SaturatesAtLargest())
    assert len(framework) == 9 and all(right for right, _ in framework)
    for dtype, (over, back) in zip((float32, float16, bfloat16), zip(framework[::3], framework[1::3])):
        assert math.inf in over[1] and dtype.max in back[1], dtype  # both sides of the threshold reached
    assert [right for right, _ in saturating] == [True, True, False] * 3


@pytest.mark.clause("DROPOUT-9")
@pytest.mark.parametrize("x, named", [
    (Tensor([True, False]), "got dtype bool"),
    ([1.0, 2.0], "got list"),
    (1.0, "got float"),
    (3, "got int"),
    (None, "got NoneType"),
])
def test_reference_refuses_non_floating_input(x: object, named: str) -> None:
    with pytest.raises(TypeError, match=f"^dropout: x must be a floating-point Tensor, {named}$"):
        dropout(x, 0.3, seed=0)


@pytest.mark.clause("DROPOUT-9")
@exact(2)
@given(seed=seeds)
def test_integer_input_is_refused(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-9", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-9", (IntegerScaleCrashes(), IntegerScaleTruncates()), seed)
    assert "crashed on integers: ZeroDivisionError" in check_broken("DROPOUT-9", IntegerScaleCrashes(), seed).detail


@pytest.mark.clause("DROPOUT-10")
@exact(2)
@given(seed=seeds)
def test_nonfinite_inputs_follow_the_declared_policy(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-10", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-10", (WrongPolicy(), MultipliesDespiteSelect()), seed)
    assert "as select would" in check_broken("DROPOUT-10", WrongPolicy(), seed).detail


@pytest.mark.clause("DROPOUT-10")
def test_generated_cases_catch_a_policy_that_changes_with_the_axes(quick_plan) -> None:
    assert "as select would" in assert_generated_cases_catch(quick_plan, "DROPOUT-10", SelectsOnManyAxes()).detail


@pytest.mark.clause("DROPOUT-10")
@exact(25)
@given(seed=seeds, p=rates, dtype=dtype_names, nonfinite=st.sampled_from(["multiply", "select"]),
       values=st.lists(st.sampled_from([math.nan, math.inf, -math.inf, -1.5, 2.0]), min_size=1, max_size=40))
def test_reference_nonfinite_policies(seed: int, p: float, dtype: str, nonfinite: str, values: list[float]) -> None:
    x = Tensor(values, dtype=dtype)
    y, keep = dropout(x, p, seed=seed, nonfinite=nonfinite, return_mask=True)
    q = 1.0 - p
    for v, got, kept in zip(x.data, y.data, keep.data):
        if kept:  # NaN stays NaN, ±inf stays ±inf, a finite x becomes fl(x/q)
            assert bit_pattern(got) == bit_pattern(x.dtype.round(v / q))
        elif nonfinite == "multiply":  # x · 0: NaN for NaN and ±inf, -0.0 for a negative x
            assert bit_pattern(got) == bit_pattern(v * 0.0)
        else:
            assert bit_pattern(got) == bit_pattern(0.0)


# --- DROPOUT-11: noise_shape and broadcast_dims -------------------------------------------------------


@pytest.mark.clause("DROPOUT-11")
@exact(2)
@given(seed=seeds)
def test_noise_shape_shares_mask_values(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-11", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-11", (NoiseShapeIgnored(),), seed)


@pytest.mark.clause("DROPOUT-11")
def test_generated_cases_catch_a_noise_shape_ignored_on_many_axes(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "DROPOUT-11", NoiseShapeIgnoredOnManyAxes())
    assert "impl.dropout_noise_shape(x, " in verdict.detail and "sharing its mask value" in verdict.detail


@pytest.mark.clause("DROPOUT-11", "RUNNER-18")
@exact(5)
@given(seed=seeds)
def test_noise_shape_search_first_tries_a_q_that_rounds_to_zero(quick_plan, seed: int) -> None:
    """RUNNER-18's first p, 1 - 2^-25, with a noise shape: the search's first float16 case catches a divisor q
    rounded to float16 (0 there: a dropped element is 0 / 0) at every seed, which the fixed cases (p = 0.3) miss."""
    detail = assert_generated_cases_catch(quick_plan, "DROPOUT-11", DividesByQInInputFormat(), seed=seed,
                                          examples=1).detail
    assert "(2, 3), 'float16'" in detail and "0.9999999701976776, (2, 1)" in detail and "gave nan" in detail


@pytest.mark.clause("DROPOUT-11")
@exact(50)
@given(seed=seeds, p=rates, shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data())
def test_reference_broadcast_dims_is_noise_shape(seed: int, p: float, shape: tuple[int, ...], data) -> None:
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True), label="axes")
    negative = [a - len(shape) for a in axes]
    noise_shape = [1 if j in axes else data.draw(st.sampled_from([n, None])) for j, n in enumerate(shape)]
    x = filled(shape, 1.0)
    by_noise_shape = dropout(x, p, seed=seed, noise_shape=noise_shape)
    assert_same_bits(by_noise_shape, dropout(x, p, seed=seed, broadcast_dims=axes))
    assert_same_bits(by_noise_shape, dropout(x, p, seed=seed, broadcast_dims=negative))
    assert_same_bits(dropout(x, p, seed=seed, noise_shape=shape), dropout(x, p, seed=seed))


@pytest.mark.clause("DROPOUT-11")
@pytest.mark.parametrize("options, error, message", [
    ({"noise_shape": (2, 3)}, ValueError, r"noise_shape \(2, 3\) has 2 axes but the input shape \(2, 3, 4\) has 3"),
    ({"noise_shape": (2, 2, 4)}, ValueError, r"does not broadcast to the input shape \(2, 3, 4\): axis 1 must be 1"),
    ({"noise_shape": (2, 3, 0)}, ValueError, r"axis 2 must be 1 or 4"),
    ({"noise_shape": (2, 3, 4.0)}, ValueError, r"axis 2 must be 1 or 4 \(or None\), got 4.0"),
    ({"noise_shape": "234"}, TypeError, r"noise_shape must be a sequence of ints or None"),
    ({"broadcast_dims": (3,)}, ValueError, r"axis"),
    ({"broadcast_dims": 1}, TypeError, r"broadcast_dims must be a sequence of axes"),
    ({"noise_shape": (1, 3, 4), "broadcast_dims": (0,)}, ValueError, r"pass noise_shape= or broadcast_dims=, not both"),
])
def test_reference_refuses_shapes_that_do_not_broadcast(options: dict, error: type, message: str) -> None:
    x = filled((2, 3, 4), 1.0)
    for training in (True, False):  # refused in evaluation too, though no mask is drawn there
        with pytest.raises(error, match=message):
            dropout(x, 0.3, training=training, seed=0, **options)


# --- DROPOUT-12 to DROPOUT-15: randomness -------------------------------------------------------------


@pytest.mark.clause("DROPOUT-12")
@exact(2)
@given(seed=seeds)
def test_same_seed_same_mask(check_correct, check_broken, seed: int) -> None:
    """The reference, the numpy target and Textbook (in float64 only: its calls of 2^16 + 1 elements run
    in pure Python) give one output per seed, the special seeds included, at every size."""
    textbook64 = type("Textbook64", (Textbook,), {"dtypes": ("float64",)})()
    assert_passes(check_correct, "DROPOUT-12", (REFERENCE, CLASSIC, NumpyDropout(), textbook64), seed)
    assert_fails(check_broken, "DROPOUT-12", (SeedIgnored(),), seed)


@pytest.mark.clause("DROPOUT-12")
@exact(2)
@given(seed=seeds)
def test_seed_zero_is_a_seed(check_broken, seed: int) -> None:
    """Seed 0 taken as "unseeded" (fresh entropy) fails at every size but one element, where two fresh masks
    agree with probability 0.58, whatever the clause's seed."""
    verdict = assert_fails(check_broken, "DROPOUT-12", SeedZeroUnseeded(), seed)
    failed = {part.split(": ")[0].removesuffix(", the same seed again") for part in verdict.detail.split("; ")}
    assert {f"float64, {size} elements, seed 0" for size in (17, 33, 65, checks.BULK_SIZE)} <= failed
    assert all(name.endswith("seed 0") or (seed == 0 and name.startswith("p = ")) for name in failed)


@pytest.mark.clause("DROPOUT-13")
@statistical(2)
@given(seed=seeds)
def test_different_seeds_give_independent_masks(check_correct, check_broken, quick_plan, seed: int) -> None:
    assert checks.independence_pairs(quick_plan) == 178_847
    assert checks.high_bit_call_size(quick_plan) == 178_387
    assert checks.small_rounds(quick_plan) == {65: 6, 33: 12, 17: 23, 7: 54, 1: 377}
    assert_passes(check_correct, "DROPOUT-13", (REFERENCE, NumpyDropout()), seed)
    assert_fails(check_broken, "DROPOUT-13", (SameMaskEveryCall(),), seed)


@pytest.mark.clause("DROPOUT-13")
@statistical(2)
@given(seed=seeds)
def test_seeds_that_differ_above_bit_31_give_independent_masks(check_broken, seed: int) -> None:
    """High seed bits ignored on one path only, bulk calls, tiny calls or one dtype, fail that path's
    decision, which names the seeds of identical masks and the declaration that would allow them."""
    for broken, path in ((HighSeedBitsIgnoredInBulk(), "seeds differing above bit 31, bulk calls"),
                         (HighSeedBitsIgnoredWhenTiny(), "seeds differing above bit 31, small calls"),
                         (HighSeedBitsIgnoredInFloat16(), "float16 seeds differing above bit 31, small calls")):
        detail = assert_fails(check_broken, "DROPOUT-13", broken, seed).detail
        assert f"DROPOUT-13 {path}: high seed bits independence rejects" in detail
        assert "gave identical masks" in detail and "declare seed_bits=32" in detail
    assert "DROPOUT-13 seeds" not in detail  # the float16 witness: float64's decisions pass


@pytest.mark.clause("DROPOUT-13")
@pytest.mark.parametrize("profile", ["quick", "standard", "deep"])
def test_high_seed_bits_are_judged_on_every_path(profile: str) -> None:
    """DROPOUT-13's bulk calls are past 2^16 elements under every profile, and its small calls detect
    identical masks at any one of their sizes, whose share of the pooled pairs is then the correlation; the
    sizes around vector widths leave tails of 7, 1, 1, 1 past the multiples of 8, 16, 32, 64."""
    plan = decision_plan(profile)
    assert checks.high_bit_call_size(plan) >= 2**16
    rounds = checks.small_rounds(plan)
    pooled = sum(size * count for size, count in rounds.items())
    shares = [size * count / pooled for size, count in rounds.items()]
    assert min(correlation_power(share, pooled, plan.alpha, keep_prob=0.7) for share in shares) >= plan.power
    assert [size % width for size, width in zip(checks.SMALL_SIZES[1:], (8, 16, 32, 64))] == [7, 1, 1, 1]


@pytest.mark.clause("DROPOUT-14")
@statistical(2)
@given(seed=seeds)
def test_successive_calls_give_independent_masks(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-14", (REFERENCE,), seed)
    assert_fails(check_broken, "DROPOUT-14", (SameMaskEveryCall(),), seed)


@pytest.mark.clause("DROPOUT-15")
@exact(2)
@given(seed=seeds)
def test_eval_and_p_zero_consume_no_randomness(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-15", CORRECT, seed)
    assert_fails(check_broken, "DROPOUT-15", (ActiveInEval(), StrictComparison()), seed)


@pytest.mark.clause("DROPOUT-15")
def test_a_mask_moved_by_an_eval_call_is_named_against_the_call_it_should_repeat(check_broken) -> None:
    """The message compares the call with the earlier call whose output it should repeat, not with x."""
    detail = assert_fails(check_broken, "DROPOUT-15", ActiveInEval(), 0).detail
    assert "the training call after an eval call: element " in detail
    assert "the second of two training calls in a row gave " in detail and ", this call " in detail
    assert "x = " not in detail


@pytest.mark.clause("DROPOUT-15")
@exact(25)
@given(seed=seeds, p=rates, shape=shapes, scaling=st.sampled_from(["inverted", "classic"]))
def test_reference_leaves_the_generator_untouched(seed: int, p: float, shape: tuple[int, ...], scaling: str) -> None:
    x = filled(shape, 1.0)
    generator = Generator(seed)
    before = generator.state
    dropout(x, p, training=False, generator=generator, scaling=scaling)
    dropout(x, 0.0, generator=generator, scaling=scaling)
    dropout(x, 1.0, generator=generator, scaling=scaling)
    assert generator.state == before


# --- DROPOUT-16 to DROPOUT-21: the distribution of the mask -------------------------------------------

# the MDE spec/dropout.md states for each p at the quick plan's n
KEEP_RATE_MDE = {0.001: 0.00072, 0.1: 0.0061, 0.3: 0.0092, 0.7: 0.0092, 0.999: 0.00072}


@pytest.mark.clause("DROPOUT-16")
@statistical(2)
@given(seed=seeds)
def test_kept_count_is_binomial(check_correct, check_broken, quick_plan, seed: int) -> None:
    assert quick_plan.n == 177_969
    for p in checks.KEEP_COUNT_RATES:
        assert detectable_delta(1.0 - p, quick_plan.n, quick_plan.alpha, quick_plan.power) <= KEEP_RATE_MDE[p]
    assert_passes(check_correct, "DROPOUT-16", (REFERENCE,), seed)
    assert_fails(check_broken, "DROPOUT-16", SwappedRate(), seed)
    verdict = assert_fails(check_broken, "DROPOUT-16", UniformsInInputFormat(), seed)
    assert "bfloat16 p=" in verdict.detail and "keep count p=" not in verdict.detail  # float64 is right


@pytest.mark.clause("DROPOUT-17")
@statistical(2)
@given(seed=seeds)
def test_kept_counts_are_not_under_dispersed(check_correct, check_broken, quick_plan, seed: int) -> None:
    assert checks.dispersion_masks(quick_plan) == 2_392
    assert_passes(check_correct, "DROPOUT-17", (REFERENCE,), seed)
    assert_fails(check_broken, "DROPOUT-17", (ExactCount(),), seed)


@pytest.mark.clause("DROPOUT-18")
@statistical(2)
@given(seed=seeds)
def test_every_position_is_kept_at_one_rate(check_correct, check_broken, quick_plan, seed: int) -> None:
    assert checks.homogeneity_masks(quick_plan) == 7_807
    assert_passes(check_correct, "DROPOUT-18", (REFERENCE,), seed)
    assert_fails(check_broken, "DROPOUT-18", (BiasedFirstLane(),), seed)


@pytest.mark.clause("DROPOUT-22")
@statistical(2)
@given(seed=seeds)
def test_every_position_class_is_kept_at_one_rate(check_correct, check_broken, quick_plan, seed: int) -> None:
    n = checks.class_mask_size(quick_plan)
    assert (n, n % 64, checks.tail_calls(quick_plan), checks.TAIL_SIZE) == (473_085, 61, 1_240, 317)
    q = 1.0 - checks.STRUCTURE_RATE
    for m in checks.CLASS_WIDTHS:  # every width detects one class at q ± 0.05 at the plan's power
        assert all(homogeneity_power([q + shift] + [q] * (m - 1), n // m, quick_plan.alpha) >= quick_plan.power
                   for shift in (checks.POSITION_MDE, -checks.POSITION_MDE))
    for m, mde in zip(checks.TAIL_WIDTHS, (0.050, 0.031, 0.021, 0.015)):  # the MDEs the spec states
        tail = checks.tail_calls(quick_plan) * (checks.TAIL_SIZE % m)
        assert detectable_delta(q, tail, quick_plan.alpha, quick_plan.power) <= mde
    assert_passes(check_correct, "DROPOUT-22", (REFERENCE,), seed)
    lane = assert_fails(check_broken, "DROPOUT-22", BiasedLaneOf64(), seed)
    assert "index mod 64" in lane.detail and "tail" not in lane.detail
    tail = assert_fails(check_broken, "DROPOUT-22", TailAlwaysKept(), seed)
    assert "tail past a multiple of 8" in tail.detail and "index mod" not in tail.detail


@pytest.mark.clause("DROPOUT-19", "DROPOUT-22")
def test_position_classes_and_lags_are_judged_in_every_declared_format(check_broken) -> None:
    """A remainder loop, or a lane reusing its neighbour's word, in the float16 kernel only passes every
    float64 decision and fails the float16 ones (decisions named with the format); float64's names and
    seeds are those of a float64-only run."""
    tail = assert_fails(check_broken, "DROPOUT-22", TailAlwaysKeptInFloat16(), 0)
    assert [r.name for r in tail.records if r.reject] == [  # the last 5 elements lie in every tail
        f"DROPOUT-22 float16 tail past a multiple of {m}" for m in checks.TAIL_WIDTHS]
    assert not any(r.reject for r in tail.records if r.name.startswith(("DROPOUT-22 index", "DROPOUT-22 tail")))
    lane = assert_fails(check_broken, "DROPOUT-19", LaneReusesItsNeighbourInFloat16(), 0)
    assert [r.name for r in lane.records if r.reject] == ["DROPOUT-19 float16 lag 1, index mod 64"]
    assert "bfloat16" not in " ".join(r.name for r in lane.records)  # the formats after a rejection are not drawn


@pytest.mark.clause("DROPOUT-14", "DROPOUT-17", "DROPOUT-18", "DROPOUT-23")
def test_streams_counts_positions_and_rows_are_judged_in_every_declared_format(check_broken) -> None:
    """A kernel of some formats only that shares one mask across a stream's calls (16-bit), keeps exactly
    round(q n) (float32), biases one lane (bfloat16) or shares one mask across a batch's rows (float16)
    passes every decision in the formats before it and fails its own (decisions named with the format);
    the formats after a rejection are not drawn."""
    cases = (("DROPOUT-14", SameMaskEveryCallIn16Bit(), "float16", ["DROPOUT-14 float16 successive calls"]),
             ("DROPOUT-17", ExactCountInFloat32(), "float32", ["DROPOUT-17 float32 dispersion"]),
             ("DROPOUT-18", BiasedFirstLaneInBfloat16(), "bfloat16", ["DROPOUT-18 bfloat16 homogeneity"]),
             ("DROPOUT-23", BatchSharedMaskInFloat16(), "float16", ["DROPOUT-23 float16 columns",
                                                                    "DROPOUT-23 float16 rows 2t and 2t + 1",
                                                                    "DROPOUT-23 float16 4-axis input, axis 0 entries"
                                                                    " 2t and 2t + 1"]))
    formats = ("float64", "float32", "float16", "bfloat16")
    for clause, broken, dtype, rejected in cases:
        verdict = assert_fails(check_broken, clause, broken, 0)
        assert [r.name for r in verdict.records if r.reject] == rejected, (clause, verdict.detail)
        drawn = formats[:formats.index(dtype) + 1]  # float64's names carry no format
        assert {r.name.split()[1] if r.name.split()[1] in formats else "float64" for r in verdict.records} == set(drawn)


@pytest.mark.clause("DROPOUT-23")
@statistical(2)
@given(seed=seeds)
def test_every_row_and_column_is_kept_at_one_rate(check_correct, check_broken, quick_plan, seed: int) -> None:
    side = checks.axis_size(quick_plan)
    assert side == 2_053
    q = 1.0 - checks.STRUCTURE_RATE
    for shift in (checks.AXIS_MDE, -checks.AXIS_MDE):  # the MDE the spec states, and s - 1 falls short of it
        assert homogeneity_power([q + shift] + [q] * (side - 1), side, quick_plan.alpha) >= quick_plan.power
    assert min(homogeneity_power([q + shift] + [q] * (side - 2), side - 1, quick_plan.alpha)
               for shift in (checks.AXIS_MDE, -checks.AXIS_MDE)) < quick_plan.power
    assert correlation_power(0.006, side // 2 * side, quick_plan.alpha, keep_prob=q) >= quick_plan.power
    assert_passes(check_correct, "DROPOUT-23", (REFERENCE,), seed)
    verdict = assert_fails(check_broken, "DROPOUT-23", BatchSharedMask(), seed)
    assert "columns" in verdict.detail and "DROPOUT-23 rows:" not in verdict.detail  # its rows keep at q


@pytest.mark.clause("DROPOUT-23")
def test_a_mask_shared_over_the_channels_of_a_4_axis_input_is_caught(check_broken, quick_plan) -> None:
    """A mask shared across axis 1 of 4-axis inputs only passes the square input and fails the 4-axis
    input's axis-1 pairs: a = 26 (a^4 / 2 = 228,488 pairs per axis, at least independence_pairs = 178,847,
    which detect |corr| = CORRELATION_MDE)."""
    assert checks.batch_side(quick_plan) == 26 and checks.independence_pairs(quick_plan) == 178_847
    verdict = assert_fails(check_broken, "DROPOUT-23", ChannelSharedMaskOnFourAxes(), 0)
    rejected = [record.name for record in verdict.records if record.reject]
    assert rejected == ["DROPOUT-23 4-axis input, axis 1 entries 2t and 2t + 1"], rejected


@pytest.mark.clause("DROPOUT-19")
@statistical(2)
@given(seed=seeds)
def test_mask_elements_are_independent_at_lags_1_to_16(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "DROPOUT-19", (REFERENCE,), seed)
    assert_fails(check_broken, "DROPOUT-19", (CorrelatedNeighbours(),), seed)


@pytest.mark.clause("DROPOUT-19")
def test_a_correlation_at_one_position_class_is_caught(check_broken, quick_plan) -> None:
    """Element 64 k + 32 copying element 64 k + 31 passes every pooled lag (those pairs are never
    formed) and fails the lag-1 pairs by index mod 64, whose one class of 5,589 pairs at quick
    detects |corr| = 0.15 (LAG_CLASS_MDE) at alpha / 64 with the plan's power."""
    assert checks.lag_mask_size(quick_plan) == 357_726
    verdict = assert_fails(check_broken, "DROPOUT-19", LaneReusesItsNeighbour(), 0)
    rejected = [record.name for record in verdict.records if record.reject]
    assert rejected == ["DROPOUT-19 lag 1, index mod 64"], rejected


@pytest.mark.clause("DROPOUT-20")
@statistical(2)
@given(seed=seeds)
def test_expectation_is_the_eval_output(check_correct, check_broken, quick_plan, seed: int) -> None:
    assert checks.mean_samples(quick_plan) == 313_523
    assert_passes(check_correct, "DROPOUT-20", (REFERENCE, CLASSIC), seed)
    assert_fails(check_broken, "DROPOUT-20", (NoRescale(),), seed)


@pytest.mark.clause("DROPOUT-21")
@statistical(2)
@given(seed=seeds)
def test_variance_is_x_squared_p_over_q(check_correct, check_broken, quick_plan, seed: int) -> None:
    assert checks.variance_samples(quick_plan) == 146_555
    assert_passes(check_correct, "DROPOUT-21", (REFERENCE, CLASSIC), seed)
    assert_fails(check_broken, "DROPOUT-21", (SwappedRate(),), seed)


# --- declared policies: each value passes the witness that has it and fails a misdeclaration --------


def assert_passes_by_policy(check_correct, clause: str, impl: object, seed: int, policy: str) -> None:
    """``impl`` passes ``clause``, and the pass relies on the ``policy`` it declares."""
    verdict = assert_passes(check_correct, clause, impl, seed)
    assert any(relied.startswith(f"{policy} = ") for relied in verdict.policies), (
        f"{clause}: expected a pass relying on {policy} for {impl.name}, got one relying on {verdict.policies}")


@pytest.mark.clause("DROPOUT-5", "DROPOUT-7", "DROPOUT-10")
@exact(2)
@given(seed=seeds)
def test_p_one_refused_must_raise(check_correct, check_broken, seed: int) -> None:
    for clause in ("DROPOUT-5", "DROPOUT-7", "DROPOUT-10"):
        assert_passes_by_policy(check_correct, clause, RefusesPOne(), seed, "p_one")
    for clause in ("DROPOUT-5", "DROPOUT-10"):
        assert_fails(check_broken, clause, (ClaimsRefusalGivesZeros(),), seed)
        with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):  # a run reports the raise as FAIL
            check_broken(clause, declaring(RefusesPOne()), seed)


@pytest.mark.clause("DROPOUT-3")
@exact(2)
@given(seed=seeds)
def test_declared_rate_validation(check_correct, check_broken, seed: int) -> None:
    assert_passes_by_policy(check_correct, "DROPOUT-3", BoolsAsNumbers(), seed, "p_validation")
    assert_passes_by_policy(check_correct, "DROPOUT-3", EvaluationIgnoresRate(), seed, "p_validation")
    assert_passes_by_policy(check_correct, "DROPOUT-3", ChainersValidation(), seed, "p_validation")
    assert_passes_by_policy(check_correct, "DROPOUT-3", ScaleInFloat32(), seed, "scale_format")
    assert_passes_by_policy(check_correct, "DROPOUT-3", ScaleByFloat32Reciprocal(), seed, "scale_format")
    assert_fails(check_broken, "DROPOUT-3", (
        declaring(BoolsAsNumbers()), declaring(EvaluationIgnoresRate()), declaring(ScaleInFloat32()),
        declaring(ChainersValidation()), declaring(ChainersValidation(), p_validation="training_only"),
        declaring(ChainersValidation(), p_validation="bool_as_number"),
        declaring(AcceptsAnyRate(), p_validation="bool_as_number+training_only"),
        declaring(EvaluationIgnoresRate(), p_validation="bool_as_number"),
        declaring(AcceptsAnyRate(), p_validation="bool_as_number"),
        declaring(AcceptsAnyRate(), p_validation="training_only"),
    ), seed)


@pytest.mark.clause("DROPOUT-2", "DROPOUT-8")
@exact(2)
@given(seed=seeds)
def test_declared_subnormals_and_scale_format(check_correct, check_broken, seed: int) -> None:
    assert_passes_by_policy(check_correct, "DROPOUT-2", FlushesSubnormals(), seed, "subnormals")
    for clause in ("DROPOUT-2", "DROPOUT-8"):
        for witness in (ScaleInInputFormat(), ScaleInFloat32(), ScaleByFloat32Reciprocal()):
            assert_passes_by_policy(check_correct, clause, witness, seed, "scale_format")
    assert_fails(check_broken, "DROPOUT-2", (declaring(FlushesSubnormals()),), seed)
    assert_fails(check_broken, "DROPOUT-8", (
        declaring(ScaleInInputFormat()), declaring(ScaleInFloat32()), declaring(ScaleByFloat32Reciprocal()),
        declaring(ScaleInFloat32(), scale_format="input"),
        declaring(ScaleByFloat32Reciprocal(), scale_format="float32"),
    ), seed)


@pytest.mark.clause("DROPOUT-13")
@statistical(2)
@given(seed=seeds)
def test_declared_seed_bits(check_correct, check_broken, seed: int) -> None:
    """32 declared: bits 0 and 31 are flipped, and pass; 64 declared: bit 32 is, and the same mask fails."""
    assert_passes_by_policy(check_correct, "DROPOUT-13", Keeps32SeedBits(), seed, "seed_bits")
    assert_fails(check_broken, "DROPOUT-13", (declaring(Keeps32SeedBits()),), seed)


# --- statistical samples in bounded chunks (conformance.sampling) -------------------------------------


def test_samples_up_to_a_chunk_are_one_call_with_the_checks_seed() -> None:
    from refdropout.conformance.kit import child_seed
    from refdropout.conformance.sampling import CHUNK, calls

    assert calls(CHUNK, 7) == [(CHUNK, 7)]
    assert calls(2 * CHUNK + 5, 7) == [(CHUNK, child_seed(7, 0)), (CHUNK, child_seed(7, 1)), (5, child_seed(7, 2))]


def test_counts_over_chunks_are_the_counts_of_their_masks(monkeypatch) -> None:
    """Keep counts and lag tables kept over chunks sum those of each chunk's mask, whether the masks come
    from dropout_mask_bits or from dropout on ones (the fallback)."""
    import numpy as np

    from refdropout.adapters.numpy import NumpyDropout
    from refdropout.conformance import sampling
    from refdropout.mutants.narrowed import reference_with
    from refdropout.stats import PairCounts
    from refdropout.stats.structure import _disjoint_pairs

    monkeypatch.setattr(sampling, "CHUNK", 1000)
    bits, plain = NumpyDropout(), type("Plain", (NumpyDropout,), {"dropout_mask_bits": None})()
    masks = [m for m in sampling.keep_masks(bits, 2500, 0.3, 11)]
    assert [m.size for m in masks] == [1000, 1000, 500]
    assert all((a == b).all() for a, b in zip(masks, sampling.keep_masks(plain, 2500, 0.3, 11)))
    assert sampling.keep_count(bits, 2500, 0.3, 11) == sum(int(m.sum()) for m in masks)
    for lag in (1, 3, 16, 300, 500, 999):  # whole blocks only, a partial block with partners, none
        firsts, seconds = _disjoint_pairs(masks[0].astype(int).tolist(), lag)
        both = sum(a & b for a, b in zip(firsts, seconds))
        assert sampling.lag_counts(masks[0], lag) == PairCounts(len(firsts), sum(firsts), sum(seconds), both)
    assert sampling.keep_count(reference_with()(), 2500, 0.3, 11) == sum(
        int(np.count_nonzero(y)) for y in sampling.outputs(reference_with()(), 2500, 0.3, 11))


def test_a_drawn_samples_plain_sum_is_drawn_once() -> None:
    """Drawn sums each term exactly over every draw; the plain sum, asked for by a mean and a variance
    alike, draws the calls once."""
    from fractions import Fraction

    import numpy as np

    from refdropout.conformance.sampling import Drawn

    parts = [np.array([0.1, 2.5, -3.0]), np.array([1e-300, 7.0])]
    draws = []
    sample = Drawn(5, lambda: draws.append(1) or iter(parts))
    exact = sum((Fraction(v) for a in parts for v in a.tolist()), Fraction(0))
    assert sample.fsum() == sample.fsum() == float(exact) and len(draws) == 1
    assert sample.fsum(np.negative) == -float(exact)  # a term: drawn again
    assert len(draws) == 2


def test_mask_bits_of_the_wrong_form_break_the_contract() -> None:
    import numpy as np

    from refdropout.adapters.numpy import NumpyDropout
    from refdropout.conformance.sampling import keep_count
    from refdropout.contract.protocol import ContractViolation

    class ShortBits(NumpyDropout):
        def dropout_mask_bits(self, n, p, *, seed, dtype):
            return np.zeros(n // 8 - 1, dtype=np.uint8)

    with pytest.raises(ContractViolation, match="packed bytes"):
        keep_count(ShortBits(), 64, 0.3, 0)


def test_keep_counts_read_off_packed_bits_ignore_the_padding() -> None:
    """keep_count counts dropout_mask_bits' set bits as packed, the bits past n in its last byte not
    counted: the count of the unpacked mask."""
    import numpy as np

    from refdropout.adapters.numpy import NumpyDropout
    from refdropout.conformance.sampling import keep_count, keep_masks

    class PaddedWithOnes(NumpyDropout):
        def dropout_mask_bits(self, n, p, *, seed, dtype):
            bits = super().dropout_mask_bits(n, p, seed=seed, dtype=dtype)
            bits[-1] |= np.uint8(0xFF << n % 8 & 0xFF) if n % 8 else 0
            return bits

    for n in (1, 7, 8, 13, 1001):
        unpacked = sum(int(m.sum()) for m in keep_masks(NumpyDropout(), n, 0.3, 5))
        assert keep_count(PaddedWithOnes(), n, 0.3, 5) == unpacked


@pytest.mark.parametrize("clause", ["DROPOUT-4", "DROPOUT-16"])
def test_the_plans_n_larger_than_a_chunk_is_drawn_in_calls(check_correct, monkeypatch, clause: str) -> None:
    """With calls of at most 2^16 elements (sampling.CHUNK, as the deep profile's n exceeds it) the
    identity and the keep counts are checked over several calls, and the numpy target passes."""
    from refdropout.adapters.numpy import NumpyDropout
    from refdropout.conformance import sampling

    monkeypatch.setattr(sampling, "CHUNK", 2**16)
    assert_passes(check_correct, clause, NumpyDropout(), 7)
