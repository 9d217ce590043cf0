"""Statistical samples drawn in bounded chunks (spec/stats.md, STATS-1; issue 15).

A decision that needs n elements of dropout's output asks for them in calls of at most CHUNK
elements and keeps running counts (keep counts, 2x2 tables of pairs, per-position counts, tallies
of values), so memory does not grow with n and the exact test runs on the totals. n <= CHUNK is one
call with the check's own seed: every sample of the quick and standard profiles, whose data are
therefore what one call of n elements draws. A larger n is ceil(n / CHUNK) calls, call i seeded
``child_seed(seed, i)``: at the deep profile (n about 521 million) the data differ, by design, from
what one call of n elements would draw.

Masks are read where the data lives: through ``dropout_mask_bits`` where the implementation has it
(one bit per element crosses to the host), else off ``dropout`` of ones (kept: nonzero). A call of
CHUNK elements holds its input and its output, 8 x CHUNK bytes each in float64, and the framework
its temporaries. Calls on engine tensors (modules, recurrent networks: Python lists, about 110 bytes an
element) draw CHUNK // ENGINE_WIDTH elements; VARIANTS-20's fused calls, which hold each weight six
times, CHUNK / 2 weights; the Kolmogorov-Smirnov test reads its sample in passes that hold at most CHUNK
values (stats.ks_test_of_parts). Nothing else a check keeps grows with n (counts, 2x2 tables, tallies of
a bounded number of values), so the peak memory of a run is the interpreter's, the framework's and one
call's, whatever the profile: PEAK_BYTES is the bound stated for every built-in target at every profile
(issue 15; benchmarks/clause_memory.py measures each clause against it: the reference's at the deep
profile peak at 1,090 MiB at most, benchmarks/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np

from ..contract import Implementation, has_capability
from ..contract.protocol import ContractViolation
from ..dtypes import DType, float64
from ..stats import PairCounts, exact_sum
from .kit import child_seed, keep_mask_array, ones_array

__all__ = ["CHUNK", "PEAK_BYTES", "ENGINE_WIDTH", "Drawn", "calls", "keep_masks", "keep_count", "lag_counts",
           "class_lag_counts", "pair_counts", "outputs"]

# elements of one call: 16,777,216, above every sample of the standard profile (the largest, VARIANTS-3's
# 2 x 2 elements for each of n / 2 samples, is 9,666,544 elements)
CHUNK = 2**24
PEAK_BYTES = 2 * 2**30  # a run's peak resident memory, whatever the profile: 2 GiB
# a call on engine tensors (capabilities that take them by contract: modules, networks) draws at most
# CHUNK // ENGINE_WIDTH elements: an element of a Python list with the engine's temporaries costs about 110
# bytes, not 8 (MODES-8 at deep: 1,858 MiB for calls of CHUNK), and the standard profile's n (4,833,271)
# still fits one call, so its data are those of one call of n
ENGINE_WIDTH = 2


def calls(n: int, seed: int, width: int = 1) -> list[tuple[int, int]]:
    """(size, seed) of the calls that draw n items of ``width`` elements each (rows, samples): one call
    of n with ``seed`` up to CHUNK elements, else calls of CHUNK // width items (an even number; the
    last call shorter) seeded child_seed(seed, i)."""
    if n * width <= CHUNK:
        return [(n, seed)]
    per_call = CHUNK // width // 2 * 2
    return [(min(per_call, n - i * per_call), child_seed(seed, i)) for i in range(math.ceil(n / per_call))]


def _bits(impl: Implementation, size: int, p: float, seed: int, dtype: DType) -> np.ndarray:
    """The packed keep mask (little bit order) of one training call on ``size`` ones, from
    dropout_mask_bits, its form checked."""
    bits = impl.dropout_mask_bits(size, p, seed=seed, dtype=dtype.name)
    if not isinstance(bits, np.ndarray) or bits.dtype != np.uint8 or bits.shape != (math.ceil(size / 8),):
        raise ContractViolation(f"dropout_mask_bits({size}, {p}) returned {type(bits).__name__} "
                                f"{getattr(bits, 'dtype', '')} {getattr(bits, 'shape', '')}, not "
                                f"{math.ceil(size / 8)} packed bytes (uint8)")
    return bits


def _mask(impl: Implementation, size: int, p: float, seed: int, dtype: DType) -> np.ndarray:
    """The keep mask (bool) of one training call on ``size`` ones: its packed bits where the
    implementation has dropout_mask_bits, the nonzero elements of dropout's output otherwise."""
    if not has_capability(impl, "dropout_mask_bits"):
        return keep_mask_array(impl.dropout(ones_array(size, dtype), p, training=True, seed=seed))
    return np.unpackbits(_bits(impl, size, p, seed, dtype), count=size, bitorder="little").view(np.bool_)


def keep_masks(impl: Implementation, n: int, p: float, seed: int, dtype: DType = float64) -> Iterator[np.ndarray]:
    """The keep masks of the calls (:func:`calls`) that draw n elements at rate p, one at a time."""
    for size, call_seed in calls(n, seed):
        yield _mask(impl, size, p, call_seed, dtype)


def _count(impl: Implementation, size: int, p: float, seed: int, dtype: DType) -> int:
    """How many of ``size`` elements one call keeps: the set bits of dropout_mask_bits counted as they are
    (the padding past ``size`` ignored), where the implementation has it."""
    if not has_capability(impl, "dropout_mask_bits"):
        return int(np.count_nonzero(_mask(impl, size, p, seed, dtype)))
    bits = _bits(impl, size, p, seed, dtype)
    whole = size // 8
    last = int(bits[whole]) & ((1 << size % 8) - 1) if size % 8 else 0
    return int(np.bitwise_count(bits[:whole]).sum(dtype=np.int64)) + last.bit_count()


def keep_count(impl: Implementation, n: int, p: float, seed: int, dtype: DType = float64) -> int:
    """How many of n elements the calls that draw them keep."""
    return sum(_count(impl, size, p, call_seed, dtype) for size, call_seed in calls(n, seed))


def pair_counts(first: np.ndarray, second: np.ndarray) -> PairCounts:
    """The 2x2 table of the pairs (first_i, second_i) of two masks of one length."""
    both = int(np.count_nonzero(first & second))
    return PairCounts(first.size, int(np.count_nonzero(first)), int(np.count_nonzero(second)), both)


def lag_counts(mask: np.ndarray, lag: int) -> PairCounts:
    """The 2x2 table of the disjoint pairs (m_i, m_(i+lag)) of one mask: the first half of every block
    of 2 lag elements with the second (stats.lag_independence_test's pairs)."""
    whole = mask.size // (2 * lag) * 2 * lag
    blocks = mask[:whole].reshape(-1, 2, lag)  # the whole blocks: first halves [:, 0], second halves [:, 1]
    rest = mask[whole:]  # a last, partial block: its first r - lag elements have partners
    counts = pair_counts(blocks[:, 0].reshape(-1), blocks[:, 1].reshape(-1))
    if rest.size > lag:
        counts += pair_counts(rest[:rest.size - lag], rest[lag:])
    return counts


def class_lag_counts(mask: np.ndarray, lag: int, width: int) -> list[PairCounts]:
    """The 2x2 tables of the pairs (m_i, m_(i+lag)) of one mask, one for each class i mod ``width``: every
    i with a partner, so that a class's pairs are disjoint where lag < width (DROPOUT-19 by class)."""
    first, second = mask[:mask.size - lag], mask[lag:]
    pad = -first.size % width  # the last row of ``width`` pairs filled with no pair
    sums = [np.pad(v, (0, pad)).reshape(-1, width).sum(axis=0, dtype=np.int64)
            for v in (np.ones(first.size, dtype=np.bool_), first, second, first & second)]
    return [PairCounts(*map(int, counts)) for counts in zip(*sums)]


def outputs(impl: Implementation, n: int, p: float, seed: int) -> Iterator[np.ndarray]:
    """The outputs of the training calls on float64 ones that draw n elements at rate p, one at a time."""
    for size, call_seed in calls(n, seed):
        yield impl.dropout(ones_array(size), p, training=True, seed=call_seed)


class Drawn:
    """A sample of n values drawn in calls, as the mean and variance tests of stats read one (``n``,
    ``fsum``) without holding it: every sum draws the calls again (``draw``, the same seeds: the same
    values) and sums each exactly (stats.exact_sum), its terms computed on numpy arrays. The plain sum,
    which a mean and a variance both ask for, is drawn once and remembered."""

    def __init__(self, n: int, draw: Callable[[], Iterator[np.ndarray]]) -> None:
        self.n, self._draw = n, draw
        self._sum: float | None = None

    def fsum(self, term: Callable[[np.ndarray], np.ndarray] | None = None) -> float:
        """The exact sum of term(v) over the sample (of v where term is None), rounded once."""
        if term is None and self._sum is not None:
            return self._sum
        total = float(sum((exact_sum(a if term is None else term(a)) for a in self._draw()), Fraction(0)))
        if term is None:
            self._sum = total
        return total
