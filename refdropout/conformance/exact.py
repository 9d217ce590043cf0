"""The check of spec/exact.md: masks are the declared algorithm's, bit for bit (EXACT-1).

An implementation that declares ``policies.algorithm`` ("jax-threefry" or "tf-stateless-philox")
has every mask compared with the algorithm's prediction, recomputed by the engine's
:mod:`refdropout.exact`, over cases drawn from the clause seed. No statistical decision is made.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from ..contract import Implementation, dtypes_of, has_capability, policies_of
from ..dtypes import DType
from ..exact import jax_random, tf_stateless
from ..shapes import Shape
from .kit import array_of_shape, keep_mask_array, ones_array
from .registry import Context, check
from .verdict import Outcome, Verdict

__all__ = ["Case", "cases", "default_key", "predicted_mask"]

WORD = 2**32
SEEDS = (0, WORD - 1, WORD, 2**63, 2**64 - 1)  # the seeds at the edges of 32 and 64 bits
RATES = (0.0, 2**-24, 0.5, 1 - 2**-24)
SHAPES: tuple[Shape, ...] = ((), (0,), (3, 0, 2), (1,), (7,), (2, 3, 5), (2, 1, 3, 4), (4097,))
EXTENTS = (0, 1, 2, 3, 5, 7, 8, 13, 31, 64)
DRAWN = 32  # cases of drawn shapes, seeds, rates and formats
MOST_DRAWN = 4096  # elements of a drawn case at most
LARGE_SHAPE = (1000, 1000)  # 10^6 elements: a defect at one element in 10^6 shows in each
LARGE = 6  # large cases, at p = 1/2


@dataclass(frozen=True)
class Case:
    """One call of the check: dropout of ones of ``shape`` in ``dtype`` at rate ``p`` with ``seed``."""

    shape: Shape
    dtype: DType
    p: float
    seed: int


def _drawn_shape(rng: random.Random) -> Shape:
    while True:
        shape = tuple(rng.choice(EXTENTS) for _ in range(rng.randint(0, 4)))
        if math.prod(shape) <= MOST_DRAWN:
            return shape


def cases(seed: int, dtypes: tuple[DType, ...]) -> Iterator[Case]:
    """The check's cases (spec/exact.md, EXACT-1): the fixed ones, then DRAWN drawn from
    ``random.Random(seed)``, then LARGE cases of LARGE_SHAPE at p = 1/2."""
    for i, shape in enumerate(SHAPES):
        yield Case(shape, dtypes[i % len(dtypes)], RATES[i % len(RATES)], SEEDS[i % len(SEEDS)])
    rng = random.Random(seed)
    for _ in range(DRAWN):
        shape = _drawn_shape(rng)
        case_seed = rng.choice(SEEDS) if rng.random() < 0.5 else rng.getrandbits(64)
        p = rng.choice(RATES) if rng.random() < 0.25 else rng.random()
        yield Case(shape, rng.choice(dtypes), p, case_seed)
    for i in range(LARGE):
        yield Case(LARGE_SHAPE, dtypes[i % len(dtypes)], 0.5, rng.getrandbits(64))


def default_key(algorithm: str, seed: int) -> tuple[int, int]:
    """The key of a 64-bit seed when the implementation has no ``algorithm_key``: (hi, lo) for
    jax-threefry (``jax.random.key(uint64(seed))``), the pair (lo, hi) for tf-stateless-philox."""
    hi, lo = divmod(seed, WORD)
    return (hi, lo) if algorithm == "jax-threefry" else (lo, hi)


# algorithm -> (key, shape, dtype, p) -> the predicted keep mask as 1.0 and 0.0, flat
PREDICTIONS: dict[str, Callable[[tuple[int, int], Shape, DType, float], list[float]]] = {
    "jax-threefry": lambda key, shape, dtype, p: jax_random.bernoulli(key, 1.0 - p, shape, "float64").data,
    "tf-stateless-philox": lambda key, shape, dtype, p: tf_stateless.stateless_dropout_mask(key, p, shape, dtype).data,
}


def predicted_mask(algorithm: str, key: tuple[int, int], case: Case) -> np.ndarray:
    """The keep mask ``algorithm`` predicts for ``case`` under ``key``, a bool array of the case's shape."""
    flat = PREDICTIONS[algorithm](key, case.shape, case.dtype, case.p)
    return np.fromiter(flat, dtype=bool, count=len(flat)).reshape(case.shape)


def _key_of(impl: Implementation, algorithm: str, seed: int) -> tuple[int, int]:
    key = impl.algorithm_key(seed) if has_capability(impl, "algorithm_key") else default_key(algorithm, seed)
    return tuple(int(word) for word in key)


def _difference(impl: Implementation, algorithm: str, case: Case) -> str | None:
    """What is wrong with ``impl``'s mask of ``case``, or None when it is the prediction."""
    x = ones_array(case.shape, case.dtype)
    if has_capability(impl, "dropout_with_mask"):  # the mask itself: 0 · inf of an overflowing 1/q is no keep
        name, y = "the mask of dropout_with_mask(x = 1)", impl.dropout_with_mask(x, case.p, seed=case.seed)[1]
    else:
        name, y = "dropout(x = 1)", impl.dropout(x, case.p, training=True, seed=case.seed)
    wrong_shape = array_of_shape(name, y, case.shape)
    if wrong_shape:
        return wrong_shape[0]
    key = _key_of(impl, algorithm, case.seed)
    got, predicted = keep_mask_array(y), predicted_mask(algorithm, key, case)
    differing = np.flatnonzero(got != predicted)
    if not differing.size:
        return None
    first = differing[0]
    index = tuple(int(i) for i in np.unravel_index(first, case.shape)) if case.shape else ()
    kept = "kept" if got.flat[first] else "dropped"
    return (f"element {index} of shape {case.shape}, {case.dtype.name}, p = {case.p!r}, seed {case.seed} (key "
            f"{key}): {kept}, {algorithm} predicts {'dropped' if got.flat[first] else 'kept'}; "
            f"{differing.size} of {got.size} elements differ")


@check("EXACT-1")
def check_masks_are_the_declared_algorithms(impl: Implementation, ctx: Context) -> Verdict:
    """EXACT-1: every mask of the cases drawn from the clause seed is the declared algorithm's prediction;
    the first case that differs is named."""
    algorithm = policies_of(impl).algorithm
    if algorithm is None:
        return Verdict("EXACT-1", Outcome.NOT_APPLICABLE, "declares no algorithm (policies.algorithm)")
    for case in cases(ctx.seed, dtypes_of(impl)):
        difference = _difference(impl, algorithm, case)
        if difference is not None:  # the first differing case is the verdict
            return ctx.verdict("EXACT-1", [difference])
    return ctx.verdict("EXACT-1", [])
