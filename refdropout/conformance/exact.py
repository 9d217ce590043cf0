"""The checks of spec/exact.md: masks are the declared algorithm's, bit for bit (EXACT-1), and so
are a stream's, call after call, under its declared key schedule (EXACT-2).

An implementation that declares ``policies.algorithm`` ("jax-threefry", "tf-stateless-philox" or
"torch-cuda-philox", the last on a CUDA device only) has every mask compared with the algorithm's
prediction, recomputed by the engine's
:mod:`refdropout.exact`: the fixed cases (the edges of shapes, seeds and rates, then six cases of
10^6 elements), then the generated cases of :mod:`.cases` searched by :func:`.search.search`
(spec/runner.md, RUNNER-18). An implementation that also declares ``policies.stream_keys`` has
the masks of its ``dropout_stream`` compared alike, each drawing call's with the key the schedule
gives it (:mod:`refdropout.exact.streams`; for "tf-generator" the key and counter of the generator's
state). No statistical decision is made.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
from hypothesis import strategies as st

from ..contract import Implementation, dtypes_of, has_capability, policies_of
from ..contract.arrays import as_array
from ..dtypes import DType
from ..exact import jax_random, tf_stateless, torch_cuda
from ..exact.streams import ALGORITHMS, keras_seed_pairs, stream_keys, tf_generator_states
from ..shapes import Shape
from .cases import CORNER_RATE, STREAM_MODES, Case, cases, with_rates
from .kit import array_of_shape, ones_array
from .registry import Context, check
from .search import search
from .verdict import Outcome, Verdict

__all__ = ["capability_of", "default_key", "fixed_cases", "kept", "predicted_mask", "rates_below_one",
           "stream_cases", "stream_predictions", "torch_cuda_mask"]

WORD = 2**32
SEEDS = (0, WORD - 1, WORD, 2**63, 2**64 - 1)  # the seeds at the edges of 32 and 64 bits
RATES = (0.0, 2**-24, 0.5, 1 - 2**-24)
SHAPES: tuple[Shape, ...] = ((), (0,), (3, 0, 2), (1,), (7,), (2, 3, 5), (2, 1, 3, 4), (4097,))
LARGE_SHAPE = (1000, 1000)  # 10^6 elements: a defect at one element in 10^6 shows in each
LARGE = 6  # large cases, at p = 1/2
rates_below_one = with_rates(st.just(0.0))  # p in [0, 1): the generated cases' rates
NO_CUDA_DEVICE = ("torch-cuda-philox is drawn on a CUDA device, and the implementation runs on none (no "
                  "cuda_geometry: a CPU run); its prediction is unverified against hardware (spec/exact.md)")
# EXACT-2's fixed streams, one per seed of SEEDS: (shape, p) of each stream's calls
STREAMS: tuple[tuple[Shape, float], ...] = (((7,), 0.5), ((2, 3, 5), 0.3), ((4097,), 0.5), ((2, 1, 3, 4), 1 - 2**-24),
                                            ((1,), 2**-24))


def capability_of(impl: Implementation) -> str:
    """How the check reads a mask: ``dropout_with_mask`` where ``impl`` has it (a multiplying kernel's
    dropped 0 · fl(1/q) is NaN where 1/q overflows), else ``dropout`` of x = 1."""
    return "dropout_with_mask" if has_capability(impl, "dropout_with_mask") else "dropout"


def fixed_cases(impl: Implementation, seed: int) -> list[Case]:
    """The check's fixed cases (spec/exact.md, EXACT-1), on x = 1: SHAPES with RATES, SEEDS and the
    declared formats in turn, then LARGE cases of LARGE_SHAPE at p = 1/2 with seeds of
    ``random.Random(seed)``."""
    dtypes, capability = dtypes_of(impl), capability_of(impl)
    edges = [Case(dtypes[i % len(dtypes)], shape, RATES[i % len(RATES)], SEEDS[i % len(SEEDS)],
                  capability=capability) for i, shape in enumerate(SHAPES)]
    rng = random.Random(seed)
    return edges + [Case(dtypes[i % len(dtypes)], LARGE_SHAPE, 0.5, rng.getrandbits(64), capability=capability)
                    for i in range(LARGE)]


def default_key(algorithm: str, seed: int) -> tuple[int, int]:
    """The key of a 64-bit seed when the implementation has no ``algorithm_key``: (hi, lo) for
    jax-threefry (``jax.random.key(uint64(seed))``), the pair (lo, hi) for tf-stateless-philox and the
    Philox key (lo, hi) of the generator's seed for torch-cuda-philox."""
    hi, lo = divmod(seed, WORD)
    return (hi, lo) if algorithm == "jax-threefry" else (lo, hi)


# algorithm -> (key, shape, dtype, p) -> the predicted keep mask as 1.0 and 0.0, flat
PREDICTIONS: dict[str, Callable[[tuple[int, int], Shape, DType, float], list[float]]] = {
    "jax-threefry": lambda key, shape, dtype, p: jax_random.bernoulli(key, 1.0 - p, shape, "float64").data,
    "tf-stateless-philox": lambda key, shape, dtype, p: tf_stateless.stateless_dropout_mask(key, p, shape, dtype).data,
}


def torch_cuda_mask(geometry: tuple[int, int], key: tuple[int, int], case: Case, offset: int = 0) -> np.ndarray:
    """The keep mask torch-cuda-philox predicts for ``case`` on a device of ``geometry`` (multiprocessors,
    threads per multiprocessor), the generator seeded with the seed of ``key`` (lo, hi) at ``offset``."""
    multiprocessors, threads = (int(g) for g in geometry)
    flat = torch_cuda.dropout_mask(key[0] | key[1] << 32, offset, case.p, case.shape, case.dtype,
                                   multiprocessors=multiprocessors, threads_per_multiprocessor=threads).data
    return _as_mask(flat, case)


def stream_cases(impl: Implementation) -> list[Case]:
    """EXACT-2's fixed cases: a stream of each seed of SEEDS called on ones of STREAMS' shape at its p
    in the modes of STREAM_MODES, the declared formats in turn."""
    dtypes = dtypes_of(impl)
    return [Case(dtypes[i % len(dtypes)], shape, p, seed, capability="dropout_stream")
            for i, (seed, (shape, p)) in enumerate(zip(SEEDS, STREAMS))]


def kept(y: object) -> np.ndarray:
    """The keep mask of an output of x = 1: nonzero and not NaN (x = 1 gives NaN only as 0 · ∞ or 0 / 0,
    of a dropped element, where 1/q overflows or q rounds to 0)."""
    a = as_array(y)
    return (a != 0) & ~np.isnan(a)


def predicted_mask(algorithm: str, key: tuple[int, int], case: Case) -> np.ndarray:
    """The keep mask ``algorithm`` predicts for ``case`` under ``key``, a bool array of the case's shape."""
    return _as_mask(PREDICTIONS[algorithm](key, case.shape, case.dtype, case.p), case)


def _as_mask(flat: list[float], case: Case) -> np.ndarray:
    """A flat list of 1.0 (kept) and 0.0 as a bool array of ``case``'s shape."""
    return np.fromiter(flat, dtype=bool, count=len(flat)).reshape(case.shape)


def _key_of(impl: Implementation, algorithm: str, seed: int) -> tuple[int, int]:
    key = impl.algorithm_key(seed) if has_capability(impl, "algorithm_key") else default_key(algorithm, seed)
    return tuple(int(word) for word in key)


def _difference(impl: Implementation, algorithm: str, case: Case) -> list[str]:
    """What is wrong with ``impl``'s mask of ``case`` (x = 1, handed as a numpy array): [] where it is
    the prediction, else its first differing element, the seed and key, and how many differ."""
    x = ones_array(case.shape, case.dtype)
    if case.capability == "dropout_with_mask":  # the mask itself: 0 · inf of an overflowing 1/q is no keep
        name, y = "the mask of dropout_with_mask(x = 1)", impl.dropout_with_mask(x, case.p, seed=case.seed)[1]
    else:
        name, y = "dropout(x = 1)", impl.dropout(x, case.p, training=True, seed=case.seed)
    key = _key_of(impl, algorithm, case.seed)
    wrong = array_of_shape(name, y, case.shape)
    if wrong:
        return wrong
    predicted = (torch_cuda_mask(impl.cuda_geometry(), key, case) if algorithm == "torch-cuda-philox"
                 else predicted_mask(algorithm, key, case))
    return _compared(kept(y), predicted, f"key {key}", algorithm, case)


def _compared(got: np.ndarray, predicted: np.ndarray, source: str, algorithm: str, case: Case) -> list[str]:
    """[] where the keep mask ``got`` is ``predicted`` (``algorithm``'s mask for ``case`` drawn from
    ``source``: a key, or a key and counter), else its first differing element, the seed and source,
    and how many elements differ."""
    differing = np.flatnonzero(got != predicted)
    if not differing.size:
        return []
    first = differing[0]
    index = tuple(int(i) for i in np.unravel_index(first, case.shape)) if case.shape else ()
    kept = "kept" if got.flat[first] else "dropped"
    return [f"element {index} of shape {case.shape}, {case.dtype.name}, p = {case.p!r}, seed {case.seed} "
            f"({source}): {kept}, {algorithm} predicts {'dropped' if got.flat[first] else 'kept'}; "
            f"{differing.size} of {got.size} elements differ"]


@check("EXACT-1")
def check_masks_are_the_declared_algorithms(impl: Implementation, ctx: Context) -> Verdict:
    """EXACT-1: every mask of the fixed cases, then of the generated ones, is the declared algorithm's
    prediction; the first fixed case that differs is named, or the least generated one, as a snippet."""
    algorithm = policies_of(impl).algorithm
    if algorithm is None:
        return Verdict("EXACT-1", Outcome.NOT_APPLICABLE, "declares no algorithm (policies.algorithm)")
    if algorithm == "torch-cuda-philox" and not has_capability(impl, "cuda_geometry"):
        return Verdict("EXACT-1", Outcome.NOT_APPLICABLE, NO_CUDA_DEVICE)
    for case in fixed_cases(impl, ctx.seed):
        difference = _difference(impl, algorithm, case)
        if difference:  # the first differing case is the verdict
            return ctx.verdict("EXACT-1", difference)
    capability = capability_of(impl)
    corners = [Case(dtype, (6,), CORNER_RATE, ctx.seed, capability=capability) for dtype in dtypes_of(impl)]
    failures = search(ctx, cases(impl, p=rates_below_one, ones=True, capability=capability),
                      lambda case: _difference(impl, algorithm, case), corners)
    return ctx.verdict("EXACT-1", failures)


def stream_predictions(schedule: str, case: Case, calls: int, geometry: tuple[int, int] | None = None
                       ) -> list[tuple[str, np.ndarray]]:
    """The masks ``schedule``'s first ``calls`` drawing calls of a stream of ``case.seed`` predict, each
    called on ``case``'s shape, with what each is drawn from (its key; its key and counter; its seed's key
    and offset, on a CUDA device of ``geometry``)."""
    algorithm, sizes = ALGORITHMS[schedule], [math.prod(case.shape)] * calls
    if schedule == "tf-generator":
        return [(f"key {key}, counter {counter}",
                 _as_mask(tf_stateless.philox_dropout_mask(key, counter, case.p, case.shape, case.dtype).data, case))
                for key, counter in tf_generator_states(case.seed, sizes)]
    if schedule == "keras-seed-generator":
        return [(f"key {pair}", predicted_mask(algorithm, pair, case)) for pair in keras_seed_pairs(case.seed, calls)]
    key = default_key(algorithm, case.seed)
    if schedule == "torch-cuda-offset":
        offsets = torch_cuda.stream_offsets(sizes, multiprocessors=int(geometry[0]),
                                            threads_per_multiprocessor=int(geometry[1]))
        return [(f"key {key}, offset {offset}", torch_cuda_mask(geometry, key, case, offset)) for offset in offsets]
    return [(f"key {key}", predicted_mask(algorithm, key, case)) for key in stream_keys(schedule, key, calls)]


def _stream_difference(impl: Implementation, schedule: str, case: Case) -> list[str]:
    """What is wrong with the masks of ``case``'s stream (x = 1 as a numpy array, the calls of
    STREAM_MODES): [] where each drawing call's is the prediction of ``schedule``."""
    stream, x = impl.dropout_stream(case.seed), ones_array(case.shape, case.dtype)
    draws = case.p > 0  # a training call at 0 < p < 1 draws; evaluation and p = 0 take no key
    geometry = impl.cuda_geometry() if ALGORITHMS[schedule] == "torch-cuda-philox" else None
    predictions = stream_predictions(schedule, case, sum(STREAM_MODES) if draws else 0, geometry)
    drawn = 0
    for call, training in enumerate(STREAM_MODES):
        y = stream(x, case.p, training=training)
        name = f"call {call} ({'training' if training else 'evaluation'}) of dropout_stream(x = 1)"
        wrong = array_of_shape(name, y, case.shape)
        if wrong:
            return wrong
        if training and draws:
            source, predicted = predictions[drawn]
            difference = _compared(kept(y), predicted, source, ALGORITHMS[schedule], case)
            if difference:
                return [f"{name}, drawing call {drawn} of the stream ({schedule}): {difference[0]}"]
            drawn += 1
    return []


@check("EXACT-2", needs=("dropout_stream",))
def check_stream_masks_follow_the_declared_key_schedule(impl: Implementation, ctx: Context) -> Verdict:
    """EXACT-2: every drawing call of the fixed streams, then of the generated ones, draws the declared
    algorithm's mask under the key the declared schedule gives it; the first call that differs is named."""
    policies = policies_of(impl)
    if policies.stream_keys is None:
        return Verdict("EXACT-2", Outcome.NOT_APPLICABLE, "declares no key schedule (policies.stream_keys)")
    schedule = policies.stream_keys
    if policies.algorithm != ALGORITHMS[schedule]:
        return Verdict("EXACT-2", Outcome.NOT_APPLICABLE, f"stream_keys {schedule} goes with algorithm "
                                                          f"{ALGORITHMS[schedule]}, declared {policies.algorithm!r}")
    if policies.algorithm == "torch-cuda-philox" and not has_capability(impl, "cuda_geometry"):
        return Verdict("EXACT-2", Outcome.NOT_APPLICABLE, NO_CUDA_DEVICE)
    for case in stream_cases(impl):
        difference = _stream_difference(impl, schedule, case)
        if difference:
            return ctx.verdict("EXACT-2", difference)
    corners = [Case(dtype, (6,), CORNER_RATE, ctx.seed, capability="dropout_stream") for dtype in dtypes_of(impl)]
    failures = search(ctx, cases(impl, ones=True, capability="dropout_stream"),
                      lambda case: _stream_difference(impl, schedule, case), corners)
    return ctx.verdict("EXACT-2", failures)
