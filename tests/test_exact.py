"""Exact masks: Threefry-2x32 and JAX's random stream, TensorFlow's stateless Philox (spec/exact.md).

Known-answer tests from published vectors run with the standard library only; the comparisons
with the frameworks themselves run where JAX or TensorFlow is installed and skip elsewhere.
"""

from __future__ import annotations

import ast
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broken.exact import (
    ColumnMajorOnFiveAxes,
    CounterOffByOne,
    NnxStream,
    NnxWithoutFork,
    OriginalLayout,
    SeedPairSwapped,
    SplitsInEvaluation,
    SplitStream,
    ThreefryDrawn,
)
from helpers import (
    TESTS_DIR,
    assert_fails,
    assert_generated_cases_catch,
    assert_mask_bits_are_the_mask,
    assert_passes,
    exact,
    known_answers,
    run_command,
)
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import CHECKS, Outcome
from refdropout.conformance import exact as exact_check
from refdropout.conformance.cases import Case
from refdropout.contract import policies_of
from refdropout.contract.declarations import policy_assignment
from refdropout.dtypes import get_dtype
from refdropout.exact import jax_random, tf_stateless
from refdropout.exact.streams import stream_keys
from refdropout.exact.threefry import threefry2x32, threefry2x32_lanes
from refdropout.random import philox4x32

THREEFRY_KAT = TESTS_DIR / "data" / "threefry2x32_kat.txt"

words = st.integers(0, 2**32 - 1)


def threefry_vectors() -> list[tuple[int, list[int], list[int], list[int]]]:
    return known_answers(THREEFRY_KAT, "threefry2x32", 2, 2)


# --- Threefry-2x32 ---------------------------------------------------------------------------


def test_threefry2x32_known_answers() -> None:
    vectors = threefry_vectors()
    assert {rounds for rounds, *_ in vectors} == {13, 20, 32}
    for rounds, counter, key, expected in vectors:
        assert threefry2x32(counter, key, rounds) == tuple(expected), (rounds, counter, key)
        lanes = threefry2x32_lanes([[counter[0]] * 3, [counter[1]] * 3], key, rounds)
        assert lanes == ([expected[0]] * 3, [expected[1]] * 3), (rounds, counter, key)


@exact(50)
@given(counters=st.lists(st.tuples(words, words), min_size=1, max_size=40),
       key=st.tuples(words, words), rounds=st.integers(1, 40))
def test_threefry_lanes_agree_with_scalar(counters: list[tuple[int, int]], key: tuple[int, int], rounds: int) -> None:
    lanes = threefry2x32_lanes([[c[0] for c in counters], [c[1] for c in counters]], key, rounds)
    assert list(zip(*lanes)) == [threefry2x32(c, key, rounds) for c in counters]


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: threefry2x32((0, 2**32), (0, 0)), ValueError, "counter[1]"),
    (lambda: threefry2x32((0,), (0, 0)), TypeError, "counter"),
    (lambda: threefry2x32((0, 0), (0, -1)), ValueError, "key[1]"),
    (lambda: threefry2x32((0, 0), (0, 0), 0), ValueError, "rounds"),
    (lambda: threefry2x32_lanes([[0, 1], [0]], (0, 0)), ValueError, "one length"),
    (lambda: threefry2x32_lanes([[0], [1.5]], (0, 0)), TypeError, "counters[1][0]"),
    (lambda: threefry2x32_lanes([[0]], (0, 0)), TypeError, "2 sequences"),
])
def test_threefry_refuses_bad_input(call, error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


# --- JAX's stream: stdlib known answers ------------------------------------------------------


def test_jax_bits_of_key_42_are_the_measured_ones() -> None:
    """``jax.random.bits(jax.random.PRNGKey(42), (65536,))[:4]``, measured with JAX 0.10.2 on the CPU."""
    bits = jax_random.random_bits(jax_random.prng_key(42), 32, (65536,))
    assert len(bits) == 65536
    assert bits[:4] == [2098992034, 2919706841, 2646866425, 2409546199]


def test_prng_key_of_python_ints() -> None:
    assert jax_random.prng_key(42) == (0, 42)
    assert jax_random.prng_key(-1) == (0, 2**32 - 1)
    assert jax_random.prng_key(2**32 + 5) == (0, 5)
    assert jax_random.prng_key(-1, x64=True) == (2**32 - 1, 2**32 - 1)
    assert jax_random.prng_key(2**32 + 5, x64=True) == (1, 5)
    for bad in (2**63, -2**63 - 1):
        with pytest.raises(ValueError, match="seed"):
            jax_random.prng_key(bad)


def test_partitionable_bits_do_not_depend_on_the_shape() -> None:
    """Element i's bits are a function of (key, i) alone in the partitionable layout."""
    key = jax_random.prng_key(7)
    flat = jax_random.random_bits(key, 32, (24,))
    assert jax_random.random_bits(key, 32, (2, 3, 4)) == flat
    assert jax_random.random_bits(key, 32, (5,)) == flat[:5]
    y0, y1 = threefry2x32_lanes([[0] * 24, list(range(24))], key)
    assert flat == [a ^ b for a, b in zip(y0, y1)]


def test_uniform_is_the_top_mantissa_bits() -> None:
    key = jax_random.prng_key(3)
    bits = jax_random.random_bits(key, 32, (50,))
    assert jax_random.uniform(key, (50,)).tolist() == [(b >> 9) / 2**23 for b in bits]
    bytes_ = jax_random.random_bits(key, 8, (50,))
    assert jax_random.uniform(key, (50,), "bfloat16").tolist() == [(b >> 1) / 2**7 for b in bytes_]


def test_bernoulli_endpoints_and_threshold() -> None:
    key = jax_random.prng_key(11)
    u = jax_random.uniform(key, (200,)).tolist()
    assert jax_random.bernoulli(key, 0.0, (200,)).tolist() == [0.0] * 200
    assert jax_random.bernoulli(key, 1.0, (200,)).tolist() == [1.0] * 200
    p = u[17]  # a value the uniforms take: that element must be dropped (strict <)
    mask = jax_random.bernoulli(key, p, (200,)).tolist()
    assert mask == [1.0 if x < p else 0.0 for x in u] and mask[17] == 0.0


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: jax_random.bernoulli((0, 0), 1.5, (3,)), ValueError, "p must be in"),
    (lambda: jax_random.bernoulli((0, 0), "0.5", (3,)), TypeError, "p must be a real"),
    (lambda: jax_random.random_bits((0, 0), 12, (3,)), ValueError, "bit_width"),
    (lambda: jax_random.uniform((0, 0), (3,), "bool"), ValueError, "floating"),
    (lambda: jax_random.split((0, 0), -1), ValueError, "num"),
    (lambda: jax_random.fold_in((0, 0), 2**32), ValueError, "data"),
    (lambda: jax_random.random_bits((0, 2**32), 32, (3,)), ValueError, "key"),
    (lambda: jax_random.random_bits((0, 0), 32, (2**33,)), ValueError, "at most 2\\*\\*32 elements"),
])
def test_jax_random_refuses_bad_input(call, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        call()


# --- JAX's stream: bit for bit against the installed JAX ---------------------------------------


@pytest.fixture(params=[True, False], ids=["partitionable", "original"])
def jax_layout(request: pytest.FixtureRequest):
    """JAX with ``jax_threefry_partitionable`` set as the parameter says, restored afterwards."""
    jax = pytest.importorskip("jax", reason="the comparison with JAX needs JAX: pip install jax")
    before = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", request.param)
    yield jax, request.param
    jax.config.update("jax_threefry_partitionable", before)


def test_the_installed_jax_defaults_to_the_partitionable_layout() -> None:
    jax = pytest.importorskip("jax", reason="needs JAX")
    assert jax.config.jax_threefry_partitionable is True


SHAPES = [(), (1,), (7,), (4, 5), (2, 3, 5), (0, 3), (4097,)]


@pytest.mark.parametrize("seed_value", [0, 42, -5, 2**40 + 3])
def test_keys_split_and_fold_in_match_jax(jax_layout, seed_value: int) -> None:
    jax, partitionable = jax_layout
    import numpy as np
    key = jax.random.PRNGKey(seed_value)
    ours = jax_random.prng_key(seed_value)
    assert tuple(np.asarray(key).tolist()) == ours
    for num in (1, 2, 3, 10):
        theirs = [tuple(k) for k in np.asarray(jax.random.split(key, num)).tolist()]
        assert jax_random.split(ours, num, partitionable=partitionable) == theirs
    for data in (0, 1, 12345, 2**32 - 1):
        assert tuple(np.asarray(jax.random.fold_in(key, data)).tolist()) == jax_random.fold_in(ours, data)


@pytest.mark.parametrize("shape", SHAPES)
def test_bits_match_jax(jax_layout, shape: tuple[int, ...]) -> None:
    jax, partitionable = jax_layout
    import numpy as np
    key = jax.random.PRNGKey(1234)
    for dtype, width in ((np.uint8, 8), (np.uint16, 16), (np.uint32, 32)):
        theirs = np.asarray(jax.random.bits(key, shape, dtype)).ravel().tolist()
        assert jax_random.random_bits((0, 1234), width, shape, partitionable=partitionable) == theirs, width


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("shape", [(7,), (3, 33), (1000,)])
def test_uniform_and_bernoulli_match_jax(jax_layout, dtype: str, shape: tuple[int, ...]) -> None:
    jax, partitionable = jax_layout
    import numpy as np
    jnp = jax.numpy
    key = jax.random.fold_in(jax.random.PRNGKey(99), 5)
    ours = tuple(np.asarray(key).tolist())
    theirs = np.asarray(jax.random.uniform(key, shape, getattr(jnp, dtype)), dtype=np.float64).ravel().tolist()
    assert jax_random.uniform(ours, shape, dtype, partitionable=partitionable).data == theirs
    for p in (0.1, 0.5, 0.7, 0.9):
        mask = np.asarray(jax.random.bernoulli(key, jnp.asarray(p, getattr(jnp, dtype)), shape))
        expected = mask.astype(np.float64).ravel().tolist()
        assert jax_random.bernoulli(ours, p, shape, dtype, partitionable=partitionable).data == expected, p


def test_float64_and_64_bit_words_match_jax_with_x64() -> None:
    """float64 needs ``jax_enable_x64``: compared in a fresh interpreter that enables it."""
    pytest.importorskip("jax", reason="needs JAX")
    import json
    import subprocess
    import sys
    script = ("import json, jax, numpy as np; jax.config.update('jax_enable_x64', True); "
              "k = jax.random.PRNGKey(-7); "
              "print(json.dumps([np.asarray(k).tolist(), np.asarray(jax.random.bits(k, (9,), np.uint64)).tolist(), "
              "np.asarray(jax.random.uniform(k, (9,), 'float64')).tolist(), "
              "np.asarray(jax.random.bernoulli(k, 0.3, (9,))).tolist()]))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    key, bits, uniforms, mask = json.loads(out.stdout.splitlines()[-1])
    assert tuple(key) == jax_random.prng_key(-7, x64=True)
    assert jax_random.random_bits(key, 64, (9,)) == bits
    assert jax_random.uniform(key, (9,), "float64").data == uniforms
    assert jax_random.bernoulli(key, 0.3, (9,), "float64").data == [float(m) for m in mask]


# --- TensorFlow's stateless Philox: stdlib properties -------------------------------------------


def test_tf_key_and_counter_come_from_one_philox_call() -> None:
    """GenerateKey: Philox4x32-10 of the seed words under the fixed key gives key and counter."""
    m = philox4x32((5, 0, 2**32 - 3, 2**32 - 1), (0x3EC8F720, 0x02461E29))
    assert tf_stateless.key_counter([5, -3]) == ((m[0], m[1]), (0, 0, m[2], m[3]))
    assert tf_stateless.key_counter([-1, 0]) == tf_stateless.key_counter([2**64 - 1 - 2**64, 0])


def test_tf_uniform_is_the_low_mantissa_bits_of_consecutive_blocks() -> None:
    (k0, k1), (_, _, c2, c3) = tf_stateless.key_counter([8, 9])
    blocks = [philox4x32((g, 0, c2, c3), (k0, k1)) for g in range(3)]
    words = [w for block in blocks for w in block]
    assert tf_stateless.stateless_uniform([8, 9], (10,)).data == [(w & (2**23 - 1)) / 2**23 for w in words[:10]]
    assert tf_stateless.stateless_uniform([8, 9], (2, 2), "bfloat16").data == [(w & 127) / 2**7 for w in words[:4]]
    assert tf_stateless.stateless_uniform([8, 9], (3,), "float64").data == [
        ((words[2 * i] & (2**20 - 1)) * 2**32 + words[2 * i + 1]) / 2**52 for i in range(3)]


def test_tf_dropout_mask_keeps_where_the_uniform_reaches_the_rate() -> None:
    u = tf_stateless.stateless_uniform([1, 2], (300,)).data
    rate = u[40]  # a value the uniforms take: that element is kept (>=)
    mask = tf_stateless.stateless_dropout_mask([1, 2], rate, (300,)).data
    assert mask == [1.0 if x >= rate else 0.0 for x in u] and mask[40] == 1.0
    assert tf_stateless.stateless_dropout_mask([1, 2], 0.0, (300,)).data == [1.0] * 300


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: tf_stateless.stateless_dropout_mask([1, 2], 1.0, (3,)), ValueError, "rate must be in"),
    (lambda: tf_stateless.stateless_dropout_mask([1, 2], None, (3,)), TypeError, "rate must be a real"),
    (lambda: tf_stateless.stateless_uniform([1], (3,)), TypeError, "pair"),
    (lambda: tf_stateless.stateless_uniform([1, 2**63], (3,)), ValueError, "seed"),
    (lambda: tf_stateless.stateless_uniform([1, 2], (3,), "bool"), ValueError, "floating"),
    (lambda: tf_stateless.stateless_uniform([1, 2], (2**35,)), ValueError, "2\\*\\*32 Philox blocks"),
])
def test_tf_stateless_refuses_bad_input(call, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        call()


# --- TensorFlow's stateless Philox: bit for bit against the installed TensorFlow -----------------


@pytest.fixture(scope="module")
def tf():
    return pytest.importorskip("tensorflow", reason="the comparison with TensorFlow needs TensorFlow")


TF_SEEDS = [[0, 0], [1, 2], [-1, 7], [2**40, -2**35], [2**31 - 1, -2**31]]


@pytest.mark.parametrize("seed_pair", TF_SEEDS)
@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_stateless_uniform_matches_tensorflow(tf, seed_pair: list[int], dtype: str) -> None:
    for shape in [(), (1,), (5,), (3, 7), (2, 3, 5), (1001,)]:
        for alg in ("auto_select", "philox"):
            drawn = tf.random.stateless_uniform(shape, seed=tf.constant(seed_pair, tf.int64), dtype=getattr(tf, dtype),
                                                alg=alg)
            theirs = tf.cast(drawn, tf.float64).numpy().ravel().tolist()
            assert tf_stateless.stateless_uniform(seed_pair, shape, dtype).data == theirs, (shape, alg)


def test_int32_seeds_are_sign_extended_as_tensorflow_does(tf) -> None:
    theirs = tf.random.stateless_uniform((9,), seed=tf.constant([-5, 3], tf.int32)).numpy().tolist()
    assert tf_stateless.stateless_uniform([-5, 3], (9,)).data == theirs


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
@pytest.mark.parametrize("rate", [0.1, 0.3, 0.5, 0.9])
def test_stateless_dropout_mask_matches_tensorflow(tf, dtype: str, rate: float) -> None:
    x = tf.ones((7, 37), dtype=getattr(tf, dtype))
    for seed_pair in TF_SEEDS[:3]:
        dropped = tf.nn.experimental.stateless_dropout(x, rate, seed=seed_pair)
        theirs = (dropped.numpy() != 0).astype(float).ravel().tolist()
        assert tf_stateless.stateless_dropout_mask(seed_pair, rate, (7, 37), dtype).data == theirs, seed_pair


# --- EXACT-1: masks are the declared algorithm's, bit for bit ------------------------------------


def _target(name: str):
    """The built-in target ``name``, skipped where its framework is not installed."""
    pytest.importorskip({"jax": "jax", "flax": "flax", "tensorflow": "tensorflow"}[name], reason=f"needs {name}")
    from refdropout.adapters import load_target
    return load_target(name).impl


@pytest.mark.clause("EXACT-1")
@pytest.mark.parametrize("name", ["jax", "flax", "tensorflow"])
def test_declared_algorithms_give_the_predicted_masks(check_correct, name: str) -> None:
    """The built-in targets' masks on the CPU, every declared format: Haiku's idiom and linen.Dropout
    (jax-threefry), stateless_dropout (tf-stateless-philox)."""
    assert policies_of(_target(name)).algorithm is not None
    assert_passes(check_correct, "EXACT-1", _target(name), 0)


@pytest.mark.clause("EXACT-1")
def test_no_algorithm_is_not_applicable(check_correct) -> None:
    verdict = check_correct("EXACT-1", ReferenceDropout(), 0)
    assert verdict.outcome is Outcome.NOT_APPLICABLE and "declares no algorithm" in verdict.detail


# the clauses that judge masks by statistical decisions, every chapter's
STATISTICAL = sorted(c for c, entry in CHECKS.items() if entry.decisions)


@pytest.mark.clause("EXACT-1")
def test_a_counter_off_by_one_is_caught_by_the_exact_clause_alone(check_correct, check_broken) -> None:
    """One element in 10^6 read from the next counter: EXACT-1 fails, the same stream without the
    off-by-one passes it, and no statistical clause fails at quick (those whose capabilities it has
    run: spec/dropout.md's, ENSEMBLE-3 and ENSEMBLE-6; the rest are not applicable)."""
    assert_passes(check_correct, "EXACT-1", ThreefryDrawn(), 0)
    assert_fails(check_broken, "EXACT-1", CounterOffByOne(), 0)
    verdicts = {clause: check_broken(clause, CounterOffByOne(), 0) for clause in STATISTICAL}
    ran = {c for c, v in verdicts.items() if v.outcome is not Outcome.NOT_APPLICABLE}
    assert {c for c in STATISTICAL if c.startswith("DROPOUT-")} | {"ENSEMBLE-3", "ENSEMBLE-6"} <= ran
    assert not [f"{c}: {v.detail}" for c, v in verdicts.items() if v.failed]


class OffEverySeventh(CounterOffByOne):
    """CounterOffByOne with its off-by-one at every 7th element, so that a few hundred elements show it."""

    PERIOD = 7


def test_the_off_by_one_s_numpy_masks_are_its_engine_masks() -> None:
    """CounterOffByOne's dropout_mask_bits (numpy, which the statistical clauses read) is the mask of its
    dropout (the engine's Threefry, which EXACT-1 reads), its off-by-one included."""
    assert_mask_bits_are_the_mask(OffEverySeventh())
    assert_mask_bits_are_the_mask(ThreefryDrawn())


@pytest.mark.clause("EXACT-1")
@pytest.mark.parametrize("impl", [OriginalLayout(), SeedPairSwapped()], ids=lambda impl: impl.name)
def test_a_wrong_layout_is_caught(check_broken, impl) -> None:
    assert_fails(check_broken, "EXACT-1", impl, 0)


@pytest.mark.clause("EXACT-1")
def test_generated_cases_catch_counters_out_of_order_on_five_axes(quick_plan) -> None:
    """Right on every fixed case (at most 4 axes), wrong on 5: the generated cases find it and name the
    first differing element and the seed that shows it, in a snippet that repeats the call. 100 cases, as at
    standard: the search draws the same cases in any process (search.constants_of_no_module), and 5-axis
    shapes are a tenth of them or more (cases.SHAPE_SPREAD); 16 clause seeds in 20 catch it (11 before)."""
    detail = assert_generated_cases_catch(quick_plan, "EXACT-1", ColumnMajorOnFiveAxes()).detail
    snippet = re.search(r"`(.*)`", detail).group(1)
    assert "impl.dropout_with_mask(" in snippet and re.search(r"element \(\d+, \d+, \d+, \d+, \d+\) of shape", detail)
    seed = int(re.search(r"seed=(\d+)\)", snippet).group(1))
    assert f"seed {seed} (key {divmod(seed, 2**32)})" in detail


FAILURE = re.compile(r"element (\(.*?\)) of shape (\(.*?\)), (\w+), p = (\S+), seed (\d+) \(key \((\d+), (\d+)\)\): "
                     r"(kept|dropped), jax-threefry predicts (?:kept|dropped); (\d+) of \d+ elements differ")


@pytest.mark.clause("EXACT-1")
def test_the_failure_names_element_seed_shape_dtype_and_rate(check_broken) -> None:
    """The named case is one of the check's, and the named element is its first that differs from the prediction."""
    impl = OriginalLayout()
    detail = assert_fails(check_broken, "EXACT-1", impl, 0).detail
    named = FAILURE.fullmatch(detail)
    assert named, detail
    index, shape, dtype, p, seed, k0, k1, kept, count = named.groups()
    case = Case(get_dtype(dtype), ast.literal_eval(shape), float(p), int(seed), capability="dropout_with_mask")
    assert case in exact_check.fixed_cases(impl, 0) and (int(k0), int(k1)) == divmod(case.seed, 2**32)
    keep = impl.dropout_with_mask(exact_check.ones_array(case.shape, case.dtype), case.p, seed=case.seed)[1]
    differing = np.argwhere(keep != exact_check.predicted_mask("jax-threefry", divmod(case.seed, 2**32), case))
    assert tuple(differing[0]) == ast.literal_eval(index) and len(differing) == int(count)
    assert bool(keep[ast.literal_eval(index)]) == (kept == "kept")


@pytest.mark.clause("EXACT-1")
def test_algorithm_is_declared_on_the_command_line(capsys) -> None:
    """--policy algorithm=NAME declares it (the reference's Philox is neither stream: FAIL); an unknown name is
    refused."""
    assert policy_assignment("algorithm=tf-stateless-philox") == ("algorithm", "tf-stateless-philox")
    out, _ = run_command(capsys, "check", "reference", "--clause", "EXACT-1", "--policy", "algorithm=jax-threefry",
                         status=1)
    assert "EXACT-1" in out and "FAIL" in out and "algorithm=jax-threefry (command line)" in out
    with pytest.raises(SystemExit):
        run_command(capsys, "check", "reference", "--policy", "algorithm=philox", status=2)
    assert "algorithm must be one of None, jax-threefry, tf-stateless-philox" in capsys.readouterr().err


def test_a_nan_of_x_one_reads_as_dropped() -> None:
    """x = 1 gives NaN only as 0 * inf or 0 / 0, of a dropped element; +-inf is a kept 1 / q that overflowed."""
    y = np.array([0.0, -0.0, 1.0, np.inf, np.nan, 2.0], dtype=np.float16)
    assert exact_check.kept(y).tolist() == [False, False, True, True, False, True]


def test_default_keys_are_the_adapters_seeds() -> None:
    assert exact_check.default_key("jax-threefry", 2**32 + 5) == (1, 5)
    assert exact_check.default_key("tf-stateless-philox", 2**32 + 5) == (5, 1)


def test_linen_folds_in_sha1_of_its_first_counter() -> None:
    """spec/exact.md: linen's first make_rng("dropout") folds in the first 4 bytes of SHA-1 of the byte 0x01."""
    import hashlib

    from refdropout.adapters.jax import LINEN_FIRST_RNG
    assert int.from_bytes(hashlib.sha1(b"\x01").digest()[:4], "big") == LINEN_FIRST_RNG == 0xBF8B4530


# --- EXACT-2: a stream's masks follow its declared key schedule ----------------------------------


def test_stream_keys_of_the_schedules() -> None:
    """jax-split: the second key of each split, the first carried on; nnx-rngs: the fork's count folded in."""
    root = (3, 2**32 - 1)
    first, sub0 = jax_random.split(root)
    assert stream_keys("jax-split", root, 2) == [sub0, jax_random.split(first)[1]]
    forked = jax_random.fold_in(root, 0)
    assert stream_keys("nnx-rngs", root, 3) == [jax_random.fold_in(forked, c) for c in range(3)]
    assert stream_keys("nnx-rngs", root, 0) == []


@pytest.mark.parametrize(("call", "words"), [
    (lambda: stream_keys("haiku", (0, 0), 1), "schedule must be one of jax-split, nnx-rngs"),
    (lambda: stream_keys("jax-split", (0, 0), -1), "calls must be an integer >= 0"),
    (lambda: stream_keys("nnx-rngs", (0, 2**32), 1), "root must be two 32-bit words"),
])
def test_stream_keys_refuse_bad_input(call, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        call()


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("seed", [0, 7, 2**31 - 1])
def test_stream_keys_match_the_installed_flax_and_jax(seed: int) -> None:
    """The keys themselves, read off JAX and Flax NNX: an nnx.Dropout's stream forked from the Rngs (its
    "dropout" stream, else its "default" one), advanced only by drawing calls; JAX's split idiom."""
    jax = pytest.importorskip("jax", reason="needs JAX")
    nnx = pytest.importorskip("flax.nnx", reason="needs Flax")
    import numpy as np

    def words(key) -> tuple[int, int]:
        return tuple(np.asarray(jax.random.key_data(key)).tolist())

    predicted = stream_keys("nnx-rngs", (0, seed), 3)
    for rngs in (nnx.Rngs(dropout=jax.random.key(seed)), nnx.Rngs(seed)):
        layer = nnx.Dropout(0.5, rngs=rngs)
        x = jax.numpy.ones((4,))
        layer(x, deterministic=True)  # evaluation takes no key
        layer.rate = 0.0
        layer(x)  # nor does p = 0
        assert [words(layer.rngs()) for _ in range(3)] == predicted
    key, subs = jax.random.key(seed), []
    for _ in range(3):
        key, sub = jax.random.split(key)
        subs.append(words(sub))
    assert subs == stream_keys("jax-split", (0, seed), 3)


def _stream_impl(name: str):
    engine = {"split-stream": SplitStream, "nnx-stream": NnxStream}
    return engine[name]() if name in engine else _target(name)


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("name", ["split-stream", "nnx-stream", "jax", "flax"])
def test_declared_schedules_give_the_predicted_stream_masks(check_correct, name: str) -> None:
    """The engine's witnesses of both schedules, and the targets on the CPU in every declared format: the
    Haiku idiom's split stream (jax) and one nnx.Dropout with its forked Rngs stream (flax)."""
    impl = _stream_impl(name)
    assert policies_of(impl).stream_keys is not None
    assert_passes(check_correct, "EXACT-2", impl, 0)


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("impl", [ThreefryDrawn(), ReferenceDropout()], ids=lambda impl: impl.name)
def test_no_schedule_is_not_applicable(check_correct, impl) -> None:
    verdict = check_correct("EXACT-2", impl, 0)
    assert verdict.outcome is Outcome.NOT_APPLICABLE and "declares no key schedule" in verdict.detail


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("impl", [SplitsInEvaluation(), NnxWithoutFork()], ids=lambda impl: impl.name)
def test_a_schedule_off_by_one_call_is_caught(check_broken, impl) -> None:
    """A stream that splits at an evaluation call, and an nnx stream without the layer's fork: both draw
    masks of the right distribution, and EXACT-2 names the first drawing call whose mask differs."""
    detail = assert_fails(check_broken, "EXACT-2", impl, 0).detail
    assert re.match(r"call \d \(training\) of dropout_stream\(x = 1\), drawing call \d of the stream "
                    rf"\({policies_of(impl).stream_keys}\): element", detail), detail
