"""The Kolmogorov–Smirnov test of a sample read in parts, in bounded memory (STATS-11; issue 15).

:func:`ks_test_of_parts` decides as :func:`continuous.ks_test` decides the whole sample, bit for bit
(statistic and p-value), without holding it: ``parts()`` draws the sample again on each call (the same
values in the same order), and the test reads it in passes.

1. Count the values in ``bins`` intervals between quantiles of the null distribution, with each
   interval's least and greatest value. A value's rank in the sorted sample is then known to lie in
   its interval's range of ranks, so each interval bounds the terms i/n − F(x_(i)) and
   F(x_(i)) − (i − 1)/n of its values from above, and the terms of its least and greatest values,
   whose ranks are known exactly, are a lower bound of the statistic D.
2. Read again, at most ``held`` values at a time, the values of the intervals whose upper bound
   exceeds the D known so far, greatest bound first; sort them, and take their terms exactly, as
   scipy's ``kstest`` takes them. Stop when no interval's bound exceeds D: D is then the statistic.

An interval holding more than ``held`` values is never read again; its bound stays open only where it
exceeds D, and D is then at least half its share of the sample less its null probability, so the
test has rejected at any level: anything else is an error of the procedure, raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from scipy.stats import kstwo, rv_discrete

from .arguments import check_count, check_open_unit
from .continuous import _sample_array
from .decision import Decision

__all__ = ["ks_test_of_parts"]


def ks_test_of_parts(parts: Callable[[], Iterable[Any]], distribution: Any, *, alpha: float, held: int,
                     bins: int = 2**16) -> Decision:
    """Two-sided Kolmogorov–Smirnov test of H₀: the values of ``parts()`` are i.i.d. from ``distribution``
    (a frozen continuous scipy distribution, every parameter stated), holding at most ``held`` values of
    the sample at once beyond one part; the same decision as ``ks_test`` of the whole sample."""
    alpha = check_open_unit("alpha", alpha)
    held, bins = check_count("held", held, minimum=1), check_count("bins", bins, minimum=1)
    cdf = getattr(distribution, "cdf", None)
    if cdf is None or isinstance(getattr(distribution, "dist", None), rv_discrete):
        raise TypeError(f"distribution must be a frozen continuous scipy distribution, got {distribution!r}")
    edges = np.asarray(distribution.ppf(np.arange(1, bins) / bins), dtype=np.float64)
    counts, least, greatest = _intervals(parts, edges)
    n = int(counts.sum())
    if not n:
        raise ValueError("samples must hold at least one value, got none")
    after = np.cumsum(counts)  # ranks up to each interval's last value
    before = after - counts
    filled = np.flatnonzero(counts)
    low, high = cdf(least[filled]), cdf(greatest[filled])
    first, last = before[filled].astype(np.float64), after[filled].astype(np.float64)
    # the exact terms of each interval's least (rank before + 1) and greatest (rank after) values
    d = float(max(np.max(last / n - high), np.max(low - first / n)))
    bound = np.maximum(last / n - low, high - first / n)  # any term of the interval's values
    open_ = np.flatnonzero(bound > d)
    while True:
        fits = open_[counts[filled[open_]] <= held]
        if not fits.size:
            break
        by_bound = fits[np.argsort(-bound[fits], kind="stable")]
        taken = by_bound[:int(np.searchsorted(np.cumsum(counts[filled[by_bound]]), held, side="right"))]
        d = max(d, _exact_terms(parts, edges, filled[taken], before, n, cdf))
        open_ = np.setdiff1d(open_, taken)
        open_ = open_[bound[open_] > d]
    p_value = float(np.clip(kstwo.sf(d, n), 0.0, 1.0))
    if open_.size and p_value >= alpha:
        raise RuntimeError(f"ks_test_of_parts: {open_.size} intervals of more than held = {held} values left "
                           f"D = {d!r} undecided at alpha = {alpha!r}")
    return Decision(test="kolmogorov-smirnov", statistic=d, p_value=p_value, n=n, observed=d, expected=0.0,
                    alpha=alpha)


def _values(parts: Callable[[], Iterable[Any]]) -> Iterator[np.ndarray]:
    """One reading of the parts, each a flat float64 array of finite values (an empty part skipped)."""
    for part in parts():
        if np.size(part):
            yield _sample_array(part)


def _intervals(parts: Callable[[], Iterable[Any]], edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(count, least value, greatest value) of each interval [edges[k - 1], edges[k]) over one reading
    of the parts (±inf where an interval is empty)."""
    bins = edges.size + 1
    counts = np.zeros(bins, dtype=np.int64)
    least, greatest = np.full(bins, np.inf), np.full(bins, -np.inf)
    for x in _values(parts):
        k = np.searchsorted(edges, x, side="right")
        counts += np.bincount(k, minlength=bins)
        np.minimum.at(least, k, x)
        np.maximum.at(greatest, k, x)
    return counts, least, greatest


def _exact_terms(parts: Callable[[], Iterable[Any]], edges: np.ndarray, chosen: np.ndarray, before: np.ndarray,
                 n: int, cdf: Callable[[np.ndarray], np.ndarray]) -> float:
    """The greatest term i/n − F(x_(i)) or F(x_(i)) − (i − 1)/n of the values in the intervals ``chosen``,
    read again and sorted, each value's rank i its interval's first rank plus its place in the interval."""
    wanted = np.zeros(edges.size + 1, dtype=np.bool_)
    wanted[chosen] = True
    values = [np.empty(0)]
    for x in _values(parts):
        values.append(x[wanted[np.searchsorted(edges, x, side="right")]])
    x = np.sort(np.concatenate(values))
    k = np.searchsorted(edges, x, side="right")
    rank = before[k] + (np.arange(x.size) - np.searchsorted(k, k, side="left")) + 1
    if not x.size:  # the parts read fewer values than before: the caller's error, which it reports
        return -np.inf
    cdfvals = cdf(x)
    plus, minus = rank.astype(np.float64) / n - cdfvals, cdfvals - (rank - 1).astype(np.float64) / n
    return float(max(plus.max(), minus.max()))
