"""NumpyGenerator makes the reference Generator's draws bit for bit (spec/random.md, Part A).

Every counter layout the engine uses is compared: offsets inside and across blocks and chunks,
odd counts, successive draws, children of spawn and fold_in, states handed either way; and
the shared Philox known-answer vectors, placed among other counters in one vectorised call.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, seed
from hypothesis import strategies as st

from helpers import KAT_FILE, exact, kat_vectors, seeds
from refdropout.adapters.numpy_philox import NumpyGenerator, philox4x32_arrays
from refdropout.random import MAX_DRAWS, Generator, GeneratorState, philox4x32

offsets = st.integers(0, 40)
counts = st.integers(0, 37)
shapes = st.lists(st.integers(0, 5), max_size=3).map(tuple)
# 0, 1, the smallest positive thresholds, below the 2^-53 grid, just under 1, and anything between
keep_probs = st.one_of(
    st.sampled_from([0.0, 1.0, 0, 1, 2.0**-53, 5e-324, 2.2250738585072014e-308, 1e-300, 1 - 2.0**-53,
                     Fraction(1, 3), np.float32(0.7), np.float64(0.25)]),
    st.floats(0.0, 1.0),
)
calls = st.lists(st.tuples(st.sampled_from(["random_words", "uniform", "bernoulli"]), counts, offsets, keep_probs),
                 max_size=6)


def same_draw(engine: Generator, bulk: NumpyGenerator, call: str, count: int, offset: int, keep_prob: object) -> None:
    """One draw call on each generator: equal values, and the same state after."""
    if call == "random_words":
        got, expected = bulk.random_words(count, offset=offset), engine.random_words(count, offset=offset)
        assert got.dtype == np.uint32
        assert got.tolist() == expected
    elif call == "uniform":
        got, expected = bulk.uniform((count,), offset=offset), engine.uniform((count,), offset=offset)
        assert got.dtype == np.float64
        assert got.tobytes() == np.array(expected.data, dtype=np.float64).tobytes()
    else:
        got = bulk.bernoulli(count, keep_prob, offset=offset)
        expected = engine.bernoulli(count, keep_prob, offset=offset)
        assert got.dtype == np.bool_
        assert got.tolist() == [v == 1.0 for v in expected.data]
    assert bulk.state == engine.state


@seed(15_001)
@exact(60)
@given(s=seeds, calls=calls)
def test_successive_draws_are_the_engines(s: int, calls: list) -> None:
    engine, bulk = Generator(s), NumpyGenerator(s)
    assert bulk.state == engine.state
    for call in calls:
        same_draw(engine, bulk, *call)


@seed(15_002)
@exact(40)
@given(s=seeds, shape=shapes, offset=offsets, keep_prob=keep_probs)
def test_shapes_are_laid_out_row_major_as_the_engine_does(s: int, shape: tuple, offset: int, keep_prob: object) -> None:
    engine, bulk = Generator(s), NumpyGenerator(s)
    uniform = bulk.uniform(shape, offset=offset)
    assert uniform.shape == shape
    assert uniform.ravel().tolist() == engine.uniform(shape, offset=offset).data
    mask = bulk.bernoulli(shape, keep_prob, offset=offset)
    assert mask.shape == shape
    assert mask.ravel().tolist() == [v == 1.0 for v in engine.bernoulli(shape, keep_prob, offset=offset).data]


@seed(15_003)
@exact(25)
@given(s=seeds, chunk=st.integers(1, 5), offset=st.integers(0, 60), count=st.integers(0, 60),
       draws=st.integers(0, MAX_DRAWS - 1))
def test_offsets_across_blocks_and_chunks(s: int, chunk: int, offset: int, count: int, draws: int) -> None:
    small_chunks = type("SmallChunks", (NumpyGenerator,), {"__slots__": (), "CHUNK": chunk})
    state = GeneratorState(Generator(s).state.key, (s % 7, s % 2**32), draws)
    for call in ("random_words", "uniform", "bernoulli"):
        same_draw(Generator.from_state(state), small_chunks.from_state(state), call, count, offset, 0.5)


def test_the_last_blocks_of_a_draw() -> None:
    end = 2**32 * 4
    engine, bulk = Generator(7), NumpyGenerator(7)
    same_draw(engine, bulk, "random_words", 9, end - 9, None)
    same_draw(engine, bulk, "uniform", 5, 2**33 - 5, None)


def test_a_large_draw_spans_many_chunks() -> None:
    engine, bulk = Generator(2**63 + 5), NumpyGenerator(2**63 + 5)
    same_draw(engine, bulk, "bernoulli", 3 * NumpyGenerator.CHUNK + 3, 1, 0.9)


@seed(15_004)
@exact(30)
@given(s=seeds, data=st.integers(0, 2**32 - 1), n=st.integers(1, 4), before=st.integers(0, 3), calls=calls)
def test_children_draw_as_the_engines_children(s: int, data: int, n: int, before: int, calls: list) -> None:
    engine, bulk = Generator(s), NumpyGenerator(s)
    engine.spawn(before)
    bulk.spawn(before)
    engine_children, bulk_children = engine.spawn(n), bulk.spawn(n)
    assert bulk.state == engine.state and len(bulk_children) == n
    assert bulk_children[-1] is bulk_children[n - 1]  # made once, as a list holds it
    assert bulk_children[n - 1:][0] is bulk_children[n - 1]  # a slice shares the children made
    pairs = [*zip(engine_children, bulk_children), (engine.fold_in(data), bulk.fold_in(data))]
    assert bulk.state == engine.state  # fold_in consumed nothing
    for engine_child, bulk_child in pairs:
        assert bulk_child.state == engine_child.state
        for call in calls:
            same_draw(engine_child, bulk_child, *call)


@seed(15_005)
@exact(30)
@given(s=seeds, first=calls, second=calls)
def test_states_hand_the_stream_over_either_way(s: int, first: list, second: list) -> None:
    engine = Generator(s)
    bulk = NumpyGenerator.from_state(engine.state)
    for call in first:
        same_draw(engine, bulk, *call)
    engine_again, bulk_again = Generator.from_state(bulk.state), NumpyGenerator.from_state(engine.state)
    copy = bulk_again.copy()
    for call in second:
        same_draw(engine_again, bulk_again, *call)
    assert copy.state == NumpyGenerator.from_state(engine.state).state  # the copy was not advanced


def test_known_answers_in_a_middle_lane() -> None:
    vectors = kat_vectors()
    assert len(vectors) >= 3, f"{KAT_FILE} holds only {len(vectors)} vectors"
    for rounds, counter, key, expected in vectors:
        others = [(i * 0x9E3779B9 % 2**32, i, 2**32 - 1 - i, i * i) for i in range(7)]
        lanes = [*others[:3], tuple(counter), *others[3:]]  # the answer in a middle lane of eight
        out = philox4x32_arrays([np.array(word) for word in zip(*lanes)], key, rounds)
        assert all(o.dtype == np.uint64 for o in out)
        got = list(zip(*(o.tolist() for o in out)))
        assert list(got[3]) == expected, (counter, key)
        assert got == [philox4x32(lane, key, rounds) for lane in lanes]


def refusal(call) -> tuple[type, str]:
    try:
        call()
    except (TypeError, ValueError, OverflowError) as error:
        return type(error), str(error)
    raise AssertionError("expected a refusal")


BAD_CALLS = [
    ("random_words", (-1,), {}), ("random_words", (1.0,), {}), ("random_words", (True,), {}),
    ("random_words", (4,), {"offset": -1}), ("random_words", (4,), {"offset": 2.0}),
    ("random_words", (5,), {"offset": 2**34 - 4}), ("uniform", ((2, -1),), {}), ("uniform", ("3",), {}),
    ("uniform", ((1.5,),), {}), ("uniform", (3,), {"offset": 2**33 - 2}), ("bernoulli", (3, 1.5), {}),
    ("bernoulli", (3, float("nan")), {}), ("bernoulli", (3, True), {}), ("bernoulli", (3, "0.5"), {}),
    ("bernoulli", (3, -0.1), {}), ("spawn", (-1,), {}), ("spawn", (2**32 + 1,), {}), ("spawn", (1.0,), {}),
    ("fold_in", (2**32,), {}), ("fold_in", (-1,), {}), ("fold_in", (None,), {}),
]


@pytest.mark.parametrize(("method", "args", "kwargs"), BAD_CALLS, ids=lambda v: repr(v)[:30])
def test_bad_arguments_are_refused_as_the_engine_refuses_them(method: str, args: tuple, kwargs: dict) -> None:
    engine, bulk = Generator(3), NumpyGenerator(3)
    assert refusal(lambda: getattr(bulk, method)(*args, **kwargs)) == refusal(
        lambda: getattr(engine, method)(*args, **kwargs))
    assert bulk.state == engine.state == Generator(3).state  # a refused call consumes nothing


def test_bad_seeds_and_states_are_refused() -> None:
    for bad in (-1, 2**64, 1.0, True, "1"):
        error, message = refusal(lambda: Generator(bad))
        assert refusal(lambda: NumpyGenerator(bad)) == (error, message)
    with pytest.raises(TypeError, match="from_state: state must be a GeneratorState"):
        NumpyGenerator.from_state(Generator(1))


def test_an_exhausted_generator_refuses_to_draw() -> None:
    state = GeneratorState((1, 2), (3, 4), MAX_DRAWS)
    assert refusal(lambda: NumpyGenerator.from_state(state).bernoulli(2, 0.5)) == refusal(
        lambda: Generator.from_state(state).bernoulli(2, 0.5))
