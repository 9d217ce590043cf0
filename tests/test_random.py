"""Tests of spec/random.md: the Philox function, the reference Generator, and its statistics.

Part A (RANDOM-1 to RANDOM-9) checks what the reference generator promises, bit for bit.
Part B (RANDOM-10 onwards) runs the statistical clauses that any implementation must pass on
the reference generator itself, at the quick profile, charging its decisions to the suite's budget.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from fractions import Fraction
from functools import cache

import pytest
import scipy.stats
from hypothesis import Phase, given
from hypothesis import strategies as st

from helpers import TESTS_DIR, known_answers, seeds, statistical
from refdropout.random import (
    FOLD_IN_DRAW,
    MAX_DRAWS,
    SPAWN_DRAW,
    WORD,
    Generator,
    GeneratorState,
    philox4x32,
    philox4x32_lanes,
)
from refdropout.stats import (
    Decision,
    DecisionPlan,
    ErrorBudget,
    binomial_test,
    correlation_power,
    detectable_delta,
    dispersion_power,
    dispersion_test,
    homogeneity_power,
    homogeneity_test,
    ks_samples_needed,
    ks_test,
    lag_independence_test,
    runs_power,
    runs_test,
    samples_for_power,
    successive_independence_test,
)

KAT_FILE = TESTS_DIR / "data" / "philox4x32_10_kat.txt"

words = st.integers(0, 2**32 - 1)
keep_probs = st.floats(0.0, 1.0)


def seed_key(seed: int) -> tuple[int, int]:
    """RANDOM-3: the key of Generator(seed)."""
    return seed % 2**32, seed // 2**32


def identity(g: Generator) -> tuple[int, int, int, int]:
    """What a stream is: its key and its stream words (RANDOM-3)."""
    return (*g.state.key, *g.state.stream)


def kat_vectors() -> list[tuple[int, list[int], list[int], list[int]]]:
    return known_answers(KAT_FILE, "philox4x32", 4, 2)


# --- Part A: the reference generator ---------------------------------------------------------


@pytest.mark.clause("RANDOM-1", "RANDOM-2")
def test_philox4x32_known_answers() -> None:
    vectors = kat_vectors()
    assert len(vectors) >= 3, f"{KAT_FILE} holds only {len(vectors)} vectors"
    for rounds, counter, key, expected in vectors:
        assert philox4x32(counter, key, rounds) == tuple(expected), (counter, key)
        lanes = philox4x32_lanes([[w] for w in counter], key, rounds)
        assert [lane[0] for lane in lanes] == expected, (counter, key)


@pytest.mark.clause("RANDOM-2")
@given(counters=st.lists(st.tuples(words, words, words, words), min_size=1, max_size=40),
       key=st.tuples(words, words), rounds=st.integers(1, 16))
def test_lanes_agree_with_scalar(counters: list[tuple[int, ...]], key: tuple[int, int], rounds: int) -> None:
    lanes = philox4x32_lanes([list(word) for word in zip(*counters)], key, rounds)
    assert list(zip(*lanes)) == [philox4x32(c, key, rounds) for c in counters]


@pytest.mark.clause("RANDOM-3")
@given(seed=seeds, earlier=st.integers(0, 3), offset=st.integers(0, 40), count=st.integers(0, 12))
def test_words_follow_the_counter_layout(seed: int, earlier: int, offset: int, count: int) -> None:
    g = Generator(seed)
    for _ in range(earlier):
        g.random_words(1)
    got = g.random_words(count, offset=offset)
    expected = [philox4x32((j // 4, earlier, 0, 0), seed_key(seed))[j % 4] for j in range(offset, offset + count)]
    assert got == expected


@pytest.mark.clause("RANDOM-4")
@given(seed=seeds, calls=st.lists(st.one_of(
    st.tuples(st.just("words"), st.integers(0, 9)),
    st.tuples(st.just("uniform"), st.lists(st.integers(0, 4), max_size=3)),
    st.tuples(st.just("bernoulli"), st.lists(st.integers(0, 4), max_size=3), keep_probs),
), max_size=6))
def test_same_seed_same_draws(seed: int, calls: list[tuple]) -> None:
    def run(g: Generator) -> list:
        out = []
        for call in calls:
            if call[0] == "words":
                out.append(g.random_words(call[1]))
            elif call[0] == "uniform":
                out.append(g.uniform(tuple(call[1])).data)
            else:
                out.append(g.bernoulli(tuple(call[1]), call[2]).data)
        return out

    first, second = Generator(seed), Generator(seed)
    assert run(first) == run(second)
    assert first.state == second.state == GeneratorState(seed_key(seed), (0, 0), draws=len(calls))


@pytest.mark.clause("RANDOM-4")
@given(seed=seeds)
def test_successive_draws_and_seeds_differ(seed: int) -> None:
    g = Generator(seed)
    first, second = g.random_words(8), g.random_words(8)
    assert first != second
    assert Generator(seed ^ 1).random_words(8) != first
    assert Generator(seed ^ 2**63).random_words(8) != first


@pytest.mark.clause("RANDOM-4")
@given(seed=seeds, before=st.integers(0, 3), count=st.integers(0, 20))
def test_state_is_inspectable_and_replays(seed: int, before: int, count: int) -> None:
    g = Generator(seed)
    for _ in range(before):
        g.uniform((3,))
    state = g.state
    twin, restored = g.copy(), Generator.from_state(state)
    assert twin.state == restored.state == state
    drawn = g.uniform((count,)).data
    assert g.state == GeneratorState(state.key, state.stream, state.draws + 1, state.spawned)
    assert twin.state == state, "a copy is independent of the original"
    assert twin.uniform((count,)).data == restored.uniform((count,)).data == drawn
    g.fold_in(7)
    assert g.state.draws == state.draws + 1, "fold_in consumes no randomness"


@pytest.mark.clause("RANDOM-5")
@given(seed=seeds, n=st.integers(0, 60), data=st.data())
def test_offset_reproduces_any_slice(seed: int, n: int, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, n))
    stop = data.draw(st.integers(start, n))
    q = data.draw(keep_probs)
    g = Generator(seed)
    g.random_words(data.draw(st.integers(0, 2)))  # the draw index need not be 0
    state = g.state

    def replay() -> Generator:
        return Generator.from_state(state)

    for draw in (lambda g, n, k: g.random_words(n, offset=k),
                 lambda g, n, k: g.uniform((n,), offset=k).data,
                 lambda g, n, k: g.bernoulli((n,), q, offset=k).data):
        assert draw(replay(), stop - start, start) == draw(replay(), n, 0)[start:stop]


@pytest.mark.clause("RANDOM-5")
@given(seed=seeds, offset=st.integers(2 * Generator._CHUNK - 40, 2 * Generator._CHUNK + 40),
       count=st.integers(0, 80))
def test_slices_across_evaluation_chunks(seed: int, offset: int, count: int) -> None:
    # elements on both sides of the boundary between two packed evaluations (RANDOM-2)
    got = Generator(seed).uniform((count,), offset=offset).data
    assert [u * 2**53 for u in got] == [
        ((a >> 5) << 26) + (b >> 6)
        for a, b in zip(*[iter(Generator(seed).random_words(2 * count, offset=2 * offset))] * 2)
    ]


@pytest.mark.clause("RANDOM-5")
@given(seed=seeds, n=st.integers(1, 50), data=st.data())
def test_chunks_in_any_order_make_the_same_draw(seed: int, n: int, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(1, n - 1), max_size=5)) if n > 1 else set())
    bounds = list(zip([0, *cuts], [*cuts, n]))
    order = data.draw(st.permutations(range(len(bounds))))
    state = Generator(seed).state
    pieces = {}
    for i in order:
        start, stop = bounds[i]
        pieces[i] = Generator.from_state(state).uniform((stop - start,), offset=start).data
    assert [u for i in range(len(bounds)) for u in pieces[i]] == Generator.from_state(state).uniform((n,)).data


@pytest.mark.clause("RANDOM-5")
@given(seed=seeds, shape=st.lists(st.integers(0, 5), max_size=4), q=keep_probs)
def test_shape_does_not_change_values(seed: int, shape: list[int], q: float) -> None:
    n = math.prod(shape)
    shaped = Generator(seed).uniform(tuple(shape))
    assert shaped.shape == tuple(shape)
    assert shaped.data == Generator(seed).uniform((n,)).data
    assert Generator(seed).bernoulli(tuple(shape), q).data == Generator(seed).bernoulli(n, q).data


@pytest.mark.clause("RANDOM-6")
@given(seed=seeds, data=st.lists(words, min_size=2, max_size=5, unique=True), draws=st.integers(0, 3))
def test_fold_in_is_pure_and_follows_the_derivation(seed: int, data: list[int], draws: int) -> None:
    g = Generator(seed)
    children = [g.fold_in(x) for x in data]
    for _ in range(draws):
        g.random_words(1)
    assert [identity(g.fold_in(x)) for x in data] == [identity(c) for c in children], "fold_in is pure"
    assert g.state.draws == draws and g.state.spawned == 0
    for x, child in zip(data, children):
        assert identity(child) == philox4x32((x, FOLD_IN_DRAW, 0, 0), seed_key(seed))
        assert child.state.draws == child.state.spawned == 0
    grandchildren = [c.fold_in(x) for c in children for x in data]
    streams = [identity(g), *map(identity, children), *map(identity, grandchildren)]
    assert len(set(streams)) == len(streams)


@pytest.mark.clause("RANDOM-6")
@given(seed=seeds, sizes=st.lists(st.integers(0, 4), min_size=1, max_size=3))
def test_spawn_hands_out_fresh_children(seed: int, sizes: list[int]) -> None:
    g = Generator(seed)
    children = [child for n in sizes for child in g.spawn(n)]
    assert len(children) == sum(sizes) and g.state.spawned == sum(sizes) and g.state.draws == 0
    assert [identity(c) for c in children] == [
        philox4x32((j, SPAWN_DRAW, 0, 0), seed_key(seed)) for j in range(sum(sizes))
    ]
    streams = [identity(g), identity(g.fold_in(0)), *map(identity, children),
               *(identity(grandchild) for c in children for grandchild in c.spawn(2))]
    assert len(set(streams)) == len(streams)


@pytest.mark.clause("RANDOM-6")
@given(seed=seeds, spawned=st.integers(0, 2**32), data=st.data())
def test_spawn_derives_each_child_when_first_indexed(seed: int, spawned: int, data: st.DataObject) -> None:
    g = Generator.from_state(GeneratorState(seed_key(seed), (0, 0), spawned=spawned))
    n = WORD - spawned  # every child this generator has left, up to all 2^32 of them: a constant-time call
    children = g.spawn(n)
    assert isinstance(children, Sequence) and len(children) == n and g.state.spawned == WORD
    if n == 0:
        return
    i = data.draw(st.integers(-n, n - 1))
    j = i % n
    assert identity(children[i]) == philox4x32((spawned + j, SPAWN_DRAW, 0, 0), seed_key(seed))
    first = children[i]
    first.random_words(1)
    assert children[j] is first and first.state.draws == 1  # one generator per child, as in a list
    assert children[j:][0] is first and len(children[j:j + 3]) == min(3, n - j)
    with pytest.raises(IndexError):
        children[n]


@pytest.mark.clause("RANDOM-6")
@given(seed=seeds, x=words)
def test_child_streams_draw_from_their_own_counters(seed: int, x: int) -> None:
    child = Generator(seed).fold_in(x)
    k0, k1, s0, s1 = identity(child)
    assert child.random_words(6) == [philox4x32((j // 4, 0, s0, s1), (k0, k1))[j % 4] for j in range(6)]


@pytest.mark.clause("RANDOM-7")
@given(seed=seeds, n=st.integers(0, 30), offset=st.integers(0, 30))
def test_uniform_is_the_53_bit_construction(seed: int, n: int, offset: int) -> None:
    u = Generator(seed).uniform((n,), offset=offset)
    w = Generator(seed).random_words(2 * n, offset=2 * offset)
    assert u.dtype.name == "float64"
    assert u.data == [((w[2 * i] >> 5) * 2**26 + (w[2 * i + 1] >> 6)) / 2**53 for i in range(n)]
    assert all(0.0 <= x < 1.0 for x in u.data)


@pytest.mark.clause("RANDOM-7")
@given(seed=seeds)
def test_uniform_resolves_2_to_the_minus_53(seed: int) -> None:
    mantissas = [x * 2**53 for x in Generator(seed).uniform((2048,)).data]
    assert all(m.is_integer() and 0 <= m < 2**53 for m in mantissas)
    # a 52-bit construction would leave every m even; 2048 draws all even has probability 2**-2048
    assert any(m % 2 == 1 for m in mantissas)
    assert max(mantissas) >= 2**52, "the top bit is used"


@pytest.mark.clause("RANDOM-8")
@given(seed=seeds, n=st.integers(1, 40), data=st.data())
def test_bernoulli_keeps_exactly_where_u_is_below_keep_prob(seed: int, n: int, data: st.DataObject) -> None:
    u = Generator(seed).uniform((n,)).data
    # keep_prob on a drawn u (a tie: u < u is false), just above it, or anywhere in [0, 1]
    tied = data.draw(st.sampled_from(u))
    q = data.draw(st.sampled_from([tied, math.nextafter(tied, 1.0), Fraction(tied), data.draw(keep_probs)]))
    mask = Generator(seed).bernoulli((n,), q)
    assert mask.dtype.name == "float64"
    assert mask.data == [1.0 if x < q else 0.0 for x in u]


@pytest.mark.clause("RANDOM-8")
@given(seed=seeds, shape=st.lists(st.integers(0, 40), max_size=2))
def test_bernoulli_endpoints_are_exact(seed: int, shape: list[int]) -> None:
    shape = tuple(shape)
    n = math.prod(shape)
    for nothing in (0, 0.0, Fraction(0)):
        assert Generator(seed).bernoulli(shape, nothing).data == [0.0] * n
    for everything in (1, 1.0, Fraction(1)):
        assert Generator(seed).bernoulli(shape, everything).data == [1.0] * n
    # the largest uniform, m = 2^53 - 1, is still below 1, and keep_prob 1 - 2^-53 drops it alone
    assert (2**53 - 1) / 2**53 < 1.0
    below_one = Generator(seed).bernoulli(shape, 1 - 2**-53).data
    assert below_one == [1.0 if u < 1 - 2**-53 else 0.0 for u in Generator(seed).uniform(shape).data]


@pytest.mark.clause("RANDOM-9")
@pytest.mark.parametrize("seed, error", [
    (True, TypeError), (1.0, TypeError), ("1", TypeError), (None, TypeError),
    (-1, ValueError), (2**64, ValueError),
])
def test_bad_seed_is_refused(seed: object, error: type) -> None:
    with pytest.raises(error, match=r"seed .*2\*\*64"):
        Generator(seed)


@pytest.mark.clause("RANDOM-9")
@pytest.mark.parametrize("keep_prob, error", [
    (-0.001, ValueError), (1.001, ValueError), (math.nan, ValueError), (math.inf, ValueError),
    (Fraction(3, 2), ValueError), (True, TypeError), ("0.5", TypeError), (None, TypeError), (0.5j, TypeError),
])
def test_bad_keep_prob_is_refused(keep_prob: object, error: type) -> None:
    g = Generator(0)
    with pytest.raises(error, match=r"keep_prob .*\[0, 1\]"):
        g.bernoulli((3,), keep_prob)
    assert g.state.draws == 0, "a refused draw consumes no randomness"


@pytest.mark.clause("RANDOM-9")
@pytest.mark.parametrize("shape, error", [
    ((-1,), ValueError), ((2, -3), ValueError), (-2, ValueError),
    ((2.0,), TypeError), ((True,), TypeError), ("ab", TypeError), (None, TypeError), (1.5, TypeError),
])
@pytest.mark.parametrize("draw", ["uniform", "bernoulli"])
def test_bad_shape_is_refused(shape: object, error: type, draw: str) -> None:
    g = Generator(0)
    with pytest.raises(error, match=f"{draw}: shape"):
        g.uniform(shape) if draw == "uniform" else g.bernoulli(shape, 0.5)
    assert g.state.draws == 0, "a refused draw consumes no randomness"


@pytest.mark.clause("RANDOM-9")
@pytest.mark.parametrize("call, error, message", [
    (lambda: philox4x32((0, 0, 0), (0, 0)), TypeError, "counter must be a sequence of 4"),
    (lambda: philox4x32((0, 0, 0, 0, 0), (0, 0)), TypeError, "counter must be a sequence of 4"),
    (lambda: philox4x32((0, 0, 0, 2**32), (0, 0)), ValueError, r"counter\[3\] must be an int in \[0, 2\*\*32\)"),
    (lambda: philox4x32((0, -1, 0, 0), (0, 0)), ValueError, r"counter\[1\]"),
    (lambda: philox4x32((0, True, 0, 0), (0, 0)), TypeError, r"counter\[1\]"),
    (lambda: philox4x32((0, 0, 0, 0), (0, 1.0)), TypeError, r"key\[1\]"),
    (lambda: philox4x32((0, 0, 0, 0), 7), TypeError, "key must be a sequence of 2"),
    (lambda: philox4x32((0, 0, 0, 0), (0, 0), 0), ValueError, "rounds must be an int >= 1"),
    (lambda: philox4x32((0, 0, 0, 0), (0, 0), True), TypeError, "rounds"),
    (lambda: philox4x32_lanes([[0], [0], [0]], (0, 0)), TypeError, "4 sequences"),
    (lambda: philox4x32_lanes([[0], [0], [0, 1], [0]], (0, 0)), ValueError, "one length"),
    (lambda: philox4x32_lanes([[0], [0], [2**32], [0]], (0, 0)), ValueError, r"counters\[2\]\[0\]"),
])
def test_bad_philox_input_is_refused(call, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        call()


@pytest.mark.clause("RANDOM-9")
@pytest.mark.parametrize("call, error, message", [
    (lambda g: g.fold_in(-1), ValueError, r"fold_in: data must be an int in \[0, 2\*\*32\)"),
    (lambda g: g.fold_in(2**32), ValueError, "fold_in: data"),
    (lambda g: g.fold_in(1.0), TypeError, "fold_in: data"),
    (lambda g: g.spawn(-1), ValueError, "spawn: n"),
    (lambda g: g.spawn(True), TypeError, "spawn: n"),
    (lambda g: g.random_words(-1), ValueError, "random_words: count"),
    (lambda g: g.random_words(3, offset=-1), ValueError, "random_words: offset"),
    (lambda g: g.uniform((3,), offset=0.5), TypeError, "uniform: offset"),
    (lambda g: g.uniform((3,), offset=2**33 - 2), ValueError, "uniform: a draw holds 2\\*\\*32 blocks"),
    (lambda g: Generator.from_state((0, 0)), TypeError, "GeneratorState"),
])
def test_bad_draw_and_child_arguments_are_refused(call, error: type, message: str) -> None:
    g = Generator(0)
    with pytest.raises(error, match=message):
        call(g)
    assert g.state.draws == g.state.spawned == 0, "a refused call consumes no randomness"


@pytest.mark.clause("RANDOM-9")
def test_exhausted_generator_refuses_to_draw() -> None:
    last = Generator.from_state(GeneratorState((1, 2), (3, 4), draws=MAX_DRAWS - 1))
    assert len(last.random_words(4)) == 4
    with pytest.raises(OverflowError, match="all 2\\*\\*32 - 2 of its draws"):
        last.random_words(4)
    with pytest.raises(ValueError, match="GeneratorState: draws"):
        GeneratorState((1, 2), (3, 4), draws=MAX_DRAWS + 1)
    spawned_out = Generator.from_state(GeneratorState((1, 2), (3, 4), spawned=2**32 - 1))
    assert len(spawned_out.spawn(1)) == 1
    with pytest.raises(ValueError, match="spawn: n = 1 exceeds the 0 children"):
        spawned_out.spawn(1)


# --- Part B: the statistical clauses, run on the reference generator at the quick profile ------
#
# Every decision about the reference is charged to the budget the whole suite shares
# (`suite_budget`, tests/conftest.py): the quick profile, alpha = 1e-6 / 1000 = 1e-9 per decision
# (STATS-4). Every sample is sized by the plan (STATS-3) for the minimum detectable effect (MDE) its
# clause states, with power 0.99: keep rates on the profile's N = 177,969 draws, the other tests on
# the sizes below. Hypothesis draws two seeds per test, never shrunk or replayed, since a rejection
# is a finding and not a counterexample. This file plans 2 x 59 = 118 of the suite's 1000 decisions.

CORRELATION_MDE = 0.02  # pair tests and runs: |corr| between paired elements (RANDOM-14 to RANDOM-16)
MAX_LAG = 16  # lags 1..16 within a mask (RANDOM-14)
POSITIONS, POSITION_MDE = 16, 0.05  # one position of 16 keeping at q + 0.05 or q - 0.05 (RANDOM-13)
DISPERSION_SIZE, DISPERSION_MDE = 100, 0.7  # masks of 100; count variance at most 0.7 n q (1 - q) (RANDOM-11)
KS_MDE = 0.01  # sup |F - F_0| of the uniform's CDF (RANDOM-12)
# the profile's keep-rate MDE, 0.01, holds for q in [0.05, 0.95]; nearer 0 and 1 the same N detects less
KEEP_RATE_MDE_BEYOND = {0.001: 0.001, 0.01: 0.0025, 0.99: 0.0025, 0.999: 0.001}


@cache
def pairs_needed(plan: DecisionPlan, q: float) -> int:
    """Disjoint pairs for the pair test (STATS-8) to detect |corr| = CORRELATION_MDE at keep rate q."""
    return samples_for_power(lambda n: correlation_power(CORRELATION_MDE, n, plan.alpha, keep_prob=q), plan.power,
                             start=plan.n)


@cache
def runs_length(plan: DecisionPlan, q: float) -> int:
    """Elements for the runs test (STATS-9) to detect a lag-1 correlation CORRELATION_MDE at keep rate q."""
    return samples_for_power(lambda n: runs_power(CORRELATION_MDE, n, plan.alpha, keep_prob=q), plan.power,
                             start=plan.n)


# The exact powers of the homogeneity and dispersion tests are sawtooths in the number of masks;
# their searches start from the masks that hold the profile's N draws.


@cache
def homogeneity_masks(plan: DecisionPlan, q: float) -> int:
    """Masks of POSITIONS elements for the homogeneity test (STATS-7) to detect one position
    keeping at q + POSITION_MDE or q - POSITION_MDE."""

    def power_at(masks: int) -> float:
        return min(homogeneity_power([q + shift] + [q] * (POSITIONS - 1), masks, plan.alpha)
                   for shift in (POSITION_MDE, -POSITION_MDE))

    return samples_for_power(power_at, plan.power, start=math.ceil(plan.n / POSITIONS))


@cache
def dispersion_masks(plan: DecisionPlan, q: float) -> int:
    """Masks of DISPERSION_SIZE elements for the dispersion test (STATS-10) to detect keep counts
    of variance DISPERSION_MDE n q (1 - q)."""
    return samples_for_power(lambda m: dispersion_power(DISPERSION_MDE, m, DISPERSION_SIZE, q, plan.alpha),
                             plan.power, start=math.ceil(plan.n / DISPERSION_SIZE))


def judge(budget: ErrorBudget, name: str, decision: Decision) -> None:
    record = budget.decide(name, decision)
    assert not record.reject, (f"{name}: {decision.test} rejects at alpha = {decision.alpha:g}: "
                               f"p = {decision.p_value:.3g}, observed {decision.observed:.6g}, "
                               f"expected {decision.expected:.6g}, n = {decision.n}")


def keep_count(mask: list[float]) -> int:
    return int(sum(mask))


@pytest.mark.clause("RANDOM-11", "RANDOM-12", "RANDOM-13", "RANDOM-14", "RANDOM-15", "RANDOM-16")
def test_sample_sizes_come_from_the_plan(quick_plan: DecisionPlan) -> None:
    """The sample sizes the clauses state are the plan's, at alpha = 1e-9 and power 0.99."""
    alpha, power = quick_plan.alpha, quick_plan.power
    assert (alpha, power, quick_plan.n) == (1e-6 / 1000, 0.99, 177_969)
    assert {q: dispersion_masks(quick_plan, q) for q in (0.1, 0.5, 0.9)} == {0.1: 2_241, 0.5: 2_601, 0.9: 2_241}
    assert ks_samples_needed(KS_MDE, alpha, power) == 240_097
    assert {q: homogeneity_masks(quick_plan, q) for q in (0.5, 0.9)} == {0.5: 8_907, 0.9: 3_823}
    assert {q: pairs_needed(quick_plan, q) for q in (0.5, 0.9)} == {0.5: 178_086, 0.9: 185_053}
    assert {q: runs_length(quick_plan, q) for q in (0.1, 0.5, 0.9)} == {0.1: 184_776, 0.5: 177_986, 0.9: 184_776}


@pytest.mark.clause("RANDOM-10")
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_other_generators_are_judged_by_distribution(quick_plan: DecisionPlan, suite_budget: ErrorBudget,
                                                      seed: int) -> None:
    # CPython's Mersenne Twister shares no bit with Philox, and conforms all the same
    q, alpha = 0.9, suite_budget.alpha
    n = runs_length(quick_plan, q)  # the runs plan (RANDOM-16), which also meets the keep-rate MDE
    assert detectable_delta(q, n, alpha, quick_plan.power) <= quick_plan.keep_rate_mde
    source = random.Random(seed)
    mask = [1.0 if source.random() < q else 0.0 for _ in range(n)]
    assert mask != Generator(seed).bernoulli((n,), q).data
    judge(suite_budget, f"RANDOM-10 Mersenne Twister keep rate q={q}", binomial_test(keep_count(mask), n, q,
                                                                                     alpha=alpha))
    judge(suite_budget, f"RANDOM-10 Mersenne Twister runs q={q}", runs_test(mask, alpha=alpha))


@pytest.mark.clause("RANDOM-11")
@pytest.mark.parametrize("q", [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999])
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_keep_count_is_binomial(quick_plan: DecisionPlan, suite_budget: ErrorBudget, q: float, seed: int) -> None:
    n = quick_plan.n
    assert detectable_delta(q, n, quick_plan.alpha, quick_plan.power) <= KEEP_RATE_MDE_BEYOND.get(
        q, quick_plan.keep_rate_mde)
    judge(suite_budget, f"RANDOM-11 keep rate q={q}", binomial_test(keep_count(Generator(seed).bernoulli((n,), q).data),
                                                                    n, q, alpha=suite_budget.alpha))


@pytest.mark.clause("RANDOM-11")
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_keep_counts_are_not_under_dispersed(quick_plan: DecisionPlan, suite_budget: ErrorBudget, q: float,
                                             seed: int) -> None:
    masks = Generator(seed).bernoulli((dispersion_masks(quick_plan, q), DISPERSION_SIZE), q)
    judge(suite_budget, f"RANDOM-11 dispersion q={q}", dispersion_test(masks, q, alpha=suite_budget.alpha))


@pytest.mark.clause("RANDOM-12")
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_uniform_is_uniform(quick_plan: DecisionPlan, suite_budget: ErrorBudget, seed: int) -> None:
    n = ks_samples_needed(KS_MDE, quick_plan.alpha, quick_plan.power)
    judge(suite_budget, "RANDOM-12 Kolmogorov-Smirnov", ks_test(Generator(seed).uniform((n,)),
                                                                scipy.stats.uniform(0, 1), alpha=suite_budget.alpha))


@pytest.mark.clause("RANDOM-13")
@pytest.mark.parametrize("q", [0.5, 0.9])
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_every_position_keeps_at_one_rate(quick_plan: DecisionPlan, suite_budget: ErrorBudget, q: float,
                                          seed: int) -> None:
    masks = Generator(seed).bernoulli((homogeneity_masks(quick_plan, q), POSITIONS), q)
    judge(suite_budget, f"RANDOM-13 homogeneity q={q}", homogeneity_test(masks, alpha=suite_budget.alpha))


@pytest.mark.clause("RANDOM-14")
@pytest.mark.parametrize("q", [0.5, 0.9])
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_elements_are_independent_at_lags_1_to_16(quick_plan: DecisionPlan, suite_budget: ErrorBudget, q: float,
                                                  seed: int) -> None:
    pairs = pairs_needed(quick_plan, q)
    # 2 (pairs + MAX_LAG) elements hold more than `pairs` disjoint pairs at every lag up to MAX_LAG
    mask = Generator(seed).bernoulli((2 * (pairs + MAX_LAG),), q).data
    for lag in range(1, MAX_LAG + 1):
        decision = lag_independence_test(mask, lag, alpha=suite_budget.alpha)
        assert decision.n >= pairs
        judge(suite_budget, f"RANDOM-14 lag {lag} q={q}", decision)


@pytest.mark.clause("RANDOM-15")
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_successive_masks_are_independent(quick_plan: DecisionPlan, suite_budget: ErrorBudget, seed: int) -> None:
    size, pairs = 100, pairs_needed(quick_plan, 0.5)
    draws = 2 * math.ceil(pairs / size)  # draws / 2 disjoint pairs of masks, `size` pairs of elements each
    g = Generator(seed)
    decision = successive_independence_test([g.bernoulli((size,), 0.5) for _ in range(draws)],
                                            alpha=suite_budget.alpha)
    assert decision.n >= pairs
    judge(suite_budget, "RANDOM-15 successive draws", decision)


def sibling_streams(seed: int, kind: str) -> tuple[Generator, Generator]:
    g = Generator(seed)
    if kind == "parent and spawned child":
        return g, g.spawn(1)[0]
    if kind == "spawned siblings":
        return tuple(g.spawn(2))
    if kind == "fold_in 0 and 1":
        return g.fold_in(0), g.fold_in(1)
    return g, Generator(seed ^ 1)  # seeds one bit apart: keys one bit apart


@pytest.mark.clause("RANDOM-15")
@pytest.mark.parametrize("kind", ["parent and spawned child", "spawned siblings", "fold_in 0 and 1",
                                  "seeds one bit apart"])
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_streams_are_independent(quick_plan: DecisionPlan, suite_budget: ErrorBudget, kind: str, seed: int) -> None:
    pairs = pairs_needed(quick_plan, 0.5)
    first, second = (g.bernoulli((pairs,), 0.5).data for g in sibling_streams(seed, kind))
    # pairs (first_i, second_i): the same element position in the two streams
    decision = successive_independence_test([first, second], alpha=suite_budget.alpha)
    assert decision.n == pairs
    judge(suite_budget, f"RANDOM-15 streams: {kind}", decision)


@pytest.mark.clause("RANDOM-16")
@pytest.mark.parametrize("q", [0.1, 0.5, 0.9])
@statistical(2, phases=[Phase.generate])
@given(seed=seeds)
def test_runs_are_those_of_independent_draws(quick_plan: DecisionPlan, suite_budget: ErrorBudget, q: float,
                                             seed: int) -> None:
    mask = Generator(seed).bernoulli((runs_length(quick_plan, q),), q)
    judge(suite_budget, f"RANDOM-16 runs q={q}", runs_test(mask, alpha=suite_budget.alpha))
