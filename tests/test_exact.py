"""Exact masks: Threefry-2x32 and JAX's random stream, TensorFlow's stateless Philox (spec/exact.md).

Known-answer tests from published vectors run with the standard library only; the comparisons
with the frameworks themselves run where JAX or TensorFlow is installed and skip elsewhere.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broken.exact import (
    ColumnMajorOnFiveAxes,
    GeneratorPerBlock,
    GeneratorStream,
    KerasCountsEveryCall,
    KerasStream,
    NnxStream,
    NnxWithoutFork,
    OffsetPerElement,
    OriginalLayout,
    SeedPairSwapped,
    SplitsInEvaluation,
    SplitStream,
    ThreefryDrawn,
    TorchCudaDrawn,
    VecTwoReusesWords,
)
from helpers import (
    TESTS_DIR,
    assert_fails,
    assert_generated_cases_catch,
    assert_mask_bits_are_the_mask,
    assert_passes,
    exact,
    kat_vectors,
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
from refdropout.exact import jax_random, tf_stateless, torch_cuda
from refdropout.exact.streams import keras_seed_pair, keras_seed_pairs, stream_keys, tf_generator_states
from refdropout.exact.threefry import threefry2x32, threefry2x32_lanes
from refdropout.mutants.streams import CounterOffByOne
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
    pytest.importorskip({"jax": "jax", "flax": "flax", "tensorflow": "tensorflow", "equinox": "equinox",
                         "keras": "keras"}[name], reason=f"needs {name}")
    from refdropout.adapters import load_target
    return load_target(name).impl


@pytest.mark.clause("EXACT-1")
@pytest.mark.parametrize("name", ["jax", "flax", "tensorflow", "keras"])
def test_declared_algorithms_give_the_predicted_masks(check_correct, name: str) -> None:
    """The built-in targets' masks on the CPU, every declared format: Haiku's idiom and linen.Dropout
    (jax-threefry), stateless_dropout and Keras's Dropout layer (tf-stateless-philox)."""
    assert policies_of(_target(name)).algorithm is not None
    assert_passes(check_correct, "EXACT-1", _target(name), 0)


@pytest.mark.clause("EXACT-1")
def test_no_algorithm_is_not_applicable(check_correct) -> None:
    verdict = check_correct("EXACT-1", ReferenceDropout(), 0)
    assert verdict.outcome is Outcome.NOT_APPLICABLE and "declares no algorithm" in verdict.detail


# --- torch-cuda-philox: PyTorch's fused CUDA dropout kernel, recomputed (unverified against hardware) ---


def test_torch_cuda_philox_is_curands_on_the_published_vectors() -> None:
    """curand's Philox4x32-10 is Random123's: the engine's blocks of thread t's draw d (the counter
    (lo(d), hi(d), lo(t), hi(t))) give every published known answer."""
    for rounds, counter, key, expected in kat_vectors():
        if rounds == 10:
            draw, thread = counter[0] | counter[1] << 32, counter[2] | counter[3] << 32
            assert torch_cuda._words(tuple(key), [(draw, thread)]) == expected


def test_torch_cuda_first_draw_is_the_zero_vector() -> None:
    """Seed 0 at offset 0: thread 0's first curand_uniform4 is Philox of the zero counter and key, the
    published 6627e8d5 e169c58d bc57ac4c 9b00dbd8, which decide elements 0..3 of a float32 x of 4 elements
    (vector width 4) as u < q: u = 0.40, 0.88, 0.74, 0.61."""
    words = (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)
    u = [torch_cuda.curand_uniform(w) for w in words]
    for p in (0.1, 0.5, 0.7):
        mask = torch_cuda.dropout_mask(0, 0, p, (4,), "float32", multiprocessors=132, threads_per_multiprocessor=2048)
        assert mask.data == [1.0 if v < np.float32(1 - p) else 0.0 for v in u]
    assert torch_cuda.dropout_mask(0, 0, 0.5, (4,), "float32", multiprocessors=132, threads_per_multiprocessor=2048
                                   ).data == [1.0, 0.0, 0.0, 0.0]


def test_curand_uniform_is_in_zero_one_and_its_threshold_exact() -> None:
    """u = fl32(fl32(w) 2^-32 + 2^-33): 2^-33 at w = 0, 1 at w = 2^32 - 1, 1/2 at w = 2^31 (rounded), and a
    word keeps its element exactly when it is below keep_threshold(q)."""
    assert torch_cuda.curand_uniform(0) == 2.0**-33 and torch_cuda.curand_uniform(2**32 - 1) == 1.0
    assert torch_cuda.curand_uniform(2**31) == 0.5
    for q in (2.0**-40, 2.0**-33, 0.1, 0.5, float(np.float32(0.7)), 1 - 2.0**-24, 1.0):
        threshold = torch_cuda.keep_threshold(q)
        assert threshold == 0 or torch_cuda.curand_uniform(threshold - 1) < q
        assert threshold == 2**32 or torch_cuda.curand_uniform(threshold) >= q
    assert torch_cuda.keep_threshold(1.0) < 2**32  # u = 1 at the top words: never kept, even at q = 1


def _kernel_loops(seed: int, offset: int, p: float, n: int, dtype: str, geometry: tuple[int, int],
                  max_vec: int | None) -> list[bool]:
    """The fused kernels' loops, thread by thread, as Dropout.cu writes them: curand_init(seed, t, offset),
    a curand_uniform4 per pass (two at vector width 8), ``u < q`` per element."""
    threads = torch_cuda.BLOCK * torch_cuda.launch_grid(n, *geometry)
    width = torch_cuda.vector_width(n, get_dtype(dtype).itemsize, max_vec)
    q = 1.0 - p if dtype == "float64" else float(np.float32(1.0 - p))
    mask: list[bool | None] = [None] * n
    for t in range(threads):
        state = [offset // 4]

        def uniform4() -> list[bool]:
            d = state[0]
            state[0] += 1
            words = philox4x32((d % 2**32, d >> 32, t % 2**32, t >> 32), (seed % 2**32, seed >> 32))
            return [torch_cuda.curand_uniform(w) < q for w in words]

        if width == 1:
            for first in range(t, -(-n // (4 * threads)) * 4 * threads, 4 * threads):
                for r, keep in enumerate(uniform4()):
                    if first + threads * r < n:
                        mask[first + threads * r] = keep
        else:
            for first in range(t * width, n, threads * width):
                keeps = uniform4() + (uniform4() if width == 8 else [])
                mask[first:first + width] = keeps[:width]
    return mask


@pytest.mark.parametrize(("n", "dtype", "geometry", "max_vec"), [
    (2400, "float32", (1, 256), None), (602, "float32", (2, 512), None), (1001, "float32", (1, 256), None),
    (800, "float16", (1, 256), None), (800, "bfloat16", (1, 256), 4), (1400, "float64", (1, 512), None),
    (3, "float16", (132, 2048), None),
])
def test_torch_cuda_mask_is_the_kernels_loops(n: int, dtype: str, geometry: tuple[int, int], max_vec) -> None:
    """Every vector width (1, 2, 4, 8, 4 under max_vec) over several passes per thread: the engine's element
    to (thread, draw, word) map is the kernel's loops run thread by thread, at an offset."""
    predicted = torch_cuda.dropout_mask(2**40 + 5, 8, 0.3, (n,), dtype, multiprocessors=geometry[0],
                                        threads_per_multiprocessor=geometry[1], max_vec=max_vec)
    assert [m == 1.0 for m in predicted.data] == _kernel_loops(2**40 + 5, 8, 0.3, n, dtype, geometry, max_vec)


def test_torch_cuda_launch_and_offsets() -> None:
    """An H100's 132 SMs of 2048 threads launch at most 1056 blocks; each call moves the offset 4 uniforms
    per pass of the unrolled loop; a fresh seed's stream starts at offset 0."""
    assert torch_cuda.launch_grid(10**6, 132, 2048) == 1056 and torch_cuda.launch_grid(7, 132, 2048) == 1
    assert torch_cuda.offset_increment(10**6, 1056) == 4 and torch_cuda.offset_increment(2 * 1056 * 1024, 1056) == 8
    assert torch_cuda.stream_offsets([7, 10**6, 5], multiprocessors=132, threads_per_multiprocessor=2048) == [0, 4, 8]
    assert torch_cuda.vector_width(30, 8) == 2 and torch_cuda.vector_width(12, 2) == 4
    assert torch_cuda.dropout_mask(1, 0, 0.0, (2, 3), "float16", multiprocessors=1, threads_per_multiprocessor=256
                                   ).data == [1.0] * 6


@pytest.mark.parametrize(("call", "error", "words"), [
    (lambda: torch_cuda.dropout_mask(0, 2, 0.5, (3,), multiprocessors=1, threads_per_multiprocessor=256), ValueError,
     "multiple of 4"),
    (lambda: torch_cuda.dropout_mask(0, 0, 1.0, (3,), multiprocessors=1, threads_per_multiprocessor=256), ValueError,
     "p must be in"),
    (lambda: torch_cuda.dropout_mask(2**64, 0, 0.5, (3,), multiprocessors=1, threads_per_multiprocessor=256),
     ValueError, "seed"),
    (lambda: torch_cuda.launch_grid(3, 0, 256), ValueError, "multiprocessors"),
    (lambda: torch_cuda.vector_width(4, 4, 3), ValueError, "max_vec"),
    (lambda: torch_cuda.curand_uniform(2**32), ValueError, "word"),
])
def test_torch_cuda_refuses_bad_input(call, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        call()


@pytest.mark.clause("EXACT-1")
@pytest.mark.clause("EXACT-2")
def test_torch_cuda_philox_needs_a_cuda_device(check_correct) -> None:
    """Declared where no CUDA device runs the masks (no cuda_geometry: a CPU run), EXACT-1 and EXACT-2 are
    not applicable and say why; the torch target on the CPU reports no geometry."""
    impl = type("CpuDeclaresTorchCuda", (TorchCudaDrawn,), {"cuda_geometry": None})()
    for clause in ("EXACT-1", "EXACT-2"):
        verdict = check_correct(clause, impl, 0)
        assert verdict.outcome is Outcome.NOT_APPLICABLE and "CUDA device" in verdict.detail, verdict.detail
        assert "unverified against hardware" in verdict.detail
    torch = pytest.importorskip("torch", reason="needs torch")
    from refdropout.adapters.torch import TorchDropout
    if not torch.cuda.is_available():
        assert TorchDropout("cpu").cuda_geometry is None


@pytest.mark.clause("EXACT-1")
def test_torch_cuda_philox_witness_passes_and_a_reuse_of_words_is_caught(check_correct, check_broken) -> None:
    """The engine's own draw of the derivation passes EXACT-1 (the check reads the geometry from the
    implementation); the kernel as its comment intends, reusing a draw's last two words at vector width 2,
    fails at its first large float64 case."""
    assert_passes(check_correct, "EXACT-1", TorchCudaDrawn(), 0)
    detail = assert_fails(check_broken, "EXACT-1", VecTwoReusesWords(), 0).detail
    assert "float64" in detail and "torch-cuda-philox predicts" in detail, detail


def test_the_gpu_verification_script_says_when_there_is_no_gpu() -> None:
    """tests/gpu/verify_torch_cuda_philox.py, which verifies torch-cuda-philox on a CUDA machine, runs here
    too: without a CUDA device it says so and exits 2."""
    torch = pytest.importorskip("torch", reason="needs torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: run tests/gpu/verify_torch_cuda_philox.py itself")
    script = TESTS_DIR / "gpu" / "verify_torch_cuda_philox.py"
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 2 and "no CUDA device" in result.stderr, result.stderr


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


def test_tf_generator_states_advance_256_per_element() -> None:
    """tf-generator: the key (0, 0), the counter from the seed on, 256 per element of the calls before,
    modulo 2^128; philox_dropout_mask at a stateless draw's key and counter is that draw's mask."""
    assert tf_stateless.generator_state(5) == ((0, 0), 5)
    assert tf_generator_states(2**64 - 3, [7, 0, 2]) == [((0, 0), 2**64 - 3), ((0, 0), 2**64 - 3 + 1792),
                                                          ((0, 0), 2**64 - 3 + 1792)]
    assert tf_stateless.generator_advance(2**128 - 1, 1) == 255
    key, (_, _, c2, c3) = tf_stateless.key_counter([8, 9])
    for dtype in ("float32", "float64", "bfloat16"):
        assert (tf_stateless.philox_dropout_mask(key, c2 << 64 | c3 << 96, 0.5, (37,), dtype).data
                == tf_stateless.stateless_dropout_mask([8, 9], 0.5, (37,), dtype).data)


def test_philox_dropout_mask_carries_across_counter_words() -> None:
    """A counter whose low word wraps within a draw: block g is Philox of the 128-bit counter + g, its
    carry reaching the upper words (2^64 - 2 + g carries into word 2 at g = 2)."""
    counter, rate = 2**64 - 2, 0.5
    words = []
    for g in range(5):
        c = counter + g
        words += philox4x32(tuple((c >> (32 * i)) % 2**32 for i in range(4)), (1, 2))
    predicted = [1.0 if (w % 2**23) / 2**23 >= rate else 0.0 for w in words[:19]]
    assert tf_stateless.philox_dropout_mask((1, 2), counter, rate, (19,)).data == predicted


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("seed", [0, 12345, 2**63 - 1, 2**64 - 3])
def test_tf_generator_states_match_the_installed_tensorflow(seed: int) -> None:
    """The state of tf.random.Generator.from_seed(seed) and its masks, call after call, read off TensorFlow:
    general_dropout in every format, an evaluation-free call at rate 0 drawing nothing; 2^64 - 3 carries
    its counter into the upper 64 bits."""
    tf = pytest.importorskip("tensorflow", reason="needs TensorFlow")
    generator = tf.random.Generator.from_seed(seed)
    calls = [("float32", (9,), 0.5), ("float64", (5,), 0.3), ("float16", (3, 7), 0.5), ("bfloat16", (6,), 0.25),
             ("float32", (4097,), 0.5)]
    states = tf_generator_states(seed, [math.prod(shape) for _, shape, _ in calls])
    for (dtype, shape, rate), (key, counter) in zip(calls, states):
        low, high, k = (int(v) % 2**64 for v in generator.state.numpy())
        assert ((k % 2**32, k >> 32), low + (high << 64)) == (key, counter)
        tf.nn.experimental.general_dropout(tf.ones(shape, dtype=dtype), 0.0, generator.uniform)  # draws nothing
        y = tf.nn.experimental.general_dropout(tf.ones(shape, dtype=dtype), rate, generator.uniform).numpy()
        assert (y != 0).ravel().tolist() == [m == 1.0 for m in
                                             tf_stateless.philox_dropout_mask(key, counter, rate, shape, dtype).data]


@pytest.mark.parametrize(("call", "words"), [
    (lambda: stream_keys("haiku", (0, 0), 1), "schedule must be one of jax-split, nnx-rngs"),
    (lambda: stream_keys("jax-split", (0, 0), -1), "calls must be an integer >= 0"),
    (lambda: stream_keys("nnx-rngs", (0, 2**32), 1), "root must be two 32-bit words"),
    (lambda: tf_stateless.generator_state(2**64), "seed"),
    (lambda: tf_stateless.generator_advance(2**128, 1), "counter"),
    (lambda: tf_stateless.generator_advance(0, -1), "count"),
    (lambda: tf_stateless.philox_dropout_mask((0, 0), -1, 0.5, (3,)), "counter"),
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


def test_keras_seed_pairs_reduce_the_int64_seed() -> None:
    """keras-seed-generator: [int64(s), c], each word floor-modulo 2^31 - 2 (a negative int64 gives a
    non-negative word); seeds 2^31 - 2 apart share their pairs."""
    modulus = 2**31 - 2
    assert keras_seed_pairs(5, 3) == [(5, 0), (5, 1), (5, 2)]
    assert keras_seed_pair(2**64 - 1) == ((-1) % modulus, 0) == (modulus - 1, 0)
    assert keras_seed_pair(2**63) == ((-(2**63)) % modulus, 0)
    assert keras_seed_pair(7 + modulus, modulus + 3) == (7, 3)
    with pytest.raises(ValueError, match="seed"):
        keras_seed_pair(2**64)


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("seed", [3, 2**31 + 5, 2**64 - 9])
def test_keras_seed_pairs_match_the_installed_keras(seed: int) -> None:
    """The seed pairs themselves, read off Keras on the TensorFlow backend: a Dropout layer seeded with the
    int64 of the seed hands _cast_seed(draw_seed(generator)) to stateless_dropout, its state [s, c]; calls
    in evaluation and at rate 0 draw nothing."""
    pytest.importorskip("tensorflow", reason="needs TensorFlow")
    keras = pytest.importorskip("keras", reason="needs Keras")
    from keras.src.backend.tensorflow.random import _cast_seed
    from keras.src.random.seed_generator import draw_seed

    signed = seed - 2**64 if seed >= 2**63 else seed
    layer = keras.layers.Dropout(0.5, seed=signed)
    x = np.ones((4,), dtype="float32")
    layer(x, training=False)
    drawn = []
    for _ in range(3):
        layer(x, training=True)
        drawn.append(tuple(layer.seed_generator.state.numpy().tolist()))
    assert drawn == [(signed, c) for c in (1, 2, 3)]
    generator = keras.random.SeedGenerator(signed)
    assert [tuple(_cast_seed(draw_seed(generator)).numpy().tolist()) for _ in range(3)] == keras_seed_pairs(seed, 3)


def _stream_impl(name: str):
    engine = {"split-stream": SplitStream, "nnx-stream": NnxStream, "generator-stream": GeneratorStream,
              "keras-stream": KerasStream, "torch-cuda-drawn": TorchCudaDrawn}
    return engine[name]() if name in engine else _target(name)


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("name", ["split-stream", "nnx-stream", "generator-stream", "keras-stream", "torch-cuda-drawn",
                                  "jax", "flax", "equinox", "tensorflow", "keras"])
def test_declared_schedules_give_the_predicted_stream_masks(check_correct, name: str) -> None:
    """The engine's witnesses of the five schedules (torch-cuda-offset's as derived, unverified against
    hardware), and the targets on the CPU in every declared format:
    the Haiku idiom's split stream (jax), one nnx.Dropout with its forked Rngs stream (flax), eqx.nn.Dropout
    called with a split of the key before each drawing call (equinox), general_dropout on one
    tf.random.Generator (tensorflow) and a Keras Dropout layer's SeedGenerator (keras)."""
    impl = _stream_impl(name)
    assert policies_of(impl).stream_keys is not None
    assert_passes(check_correct, "EXACT-2", impl, 0)


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("impl", [ThreefryDrawn(), ReferenceDropout()], ids=lambda impl: impl.name)
def test_no_schedule_is_not_applicable(check_correct, impl) -> None:
    verdict = check_correct("EXACT-2", impl, 0)
    assert verdict.outcome is Outcome.NOT_APPLICABLE and "declares no key schedule" in verdict.detail


@pytest.mark.clause("EXACT-2")
@pytest.mark.parametrize("impl", [SplitsInEvaluation(), NnxWithoutFork(), GeneratorPerBlock(), KerasCountsEveryCall(),
                                  OffsetPerElement()], ids=lambda impl: impl.name)
def test_a_schedule_off_by_one_call_is_caught(check_broken, impl) -> None:
    """A stream that splits at an evaluation call, an nnx stream without the layer's fork, a TensorFlow
    generator whose counter moves per block, not per element, a Keras SeedGenerator that counts evaluation
    calls and a CUDA generator whose offset moves per element, not per pass of each thread: all draw masks
    of the right distribution, and EXACT-2 names the first drawing call whose mask differs."""
    detail = assert_fails(check_broken, "EXACT-2", impl, 0).detail
    assert re.match(r"call \d \(training\) of dropout_stream\(x = 1\), drawing call \d of the stream "
                    rf"\({policies_of(impl).stream_keys}\): element", detail), detail
