"""Structure tests for 0/1 masks: is a mask a sequence of independent Bernoulli(q) elements?

A keep-rate test (STATS-2) sees only how many elements a mask keeps. These tests see how they are
arranged: whether every position keeps at one rate (STATS-7), whether elements at a given lag, or
the same element in successive masks, are independent (STATS-8), whether keeps cluster or
alternate (STATS-9), and whether keep counts vary from mask to mask as much as Binomial(n, q)
counts must (STATS-10).

Each test that reads masks has a form that reads their running counts instead (the totals a caller
keeps while it draws masks in bounded chunks): :class:`PairCounts` and :func:`pair_counts_test`,
:func:`homogeneity_counts_test`, :func:`dispersion_counts_test`. A mask test computes its counts and
calls that form, so both decide alike, bit for bit.

All four are exact: their p-values come from exact null distributions (hypergeometric, the runs
distribution, binomial), so P₀(p ≤ α) ≤ α at every size and every α, and none needs a validity
condition beyond non-degenerate input. Pearson χ² versions were rejected because their tail
error is unbounded at the levels a family budget hands out: at the textbook validity limit
(expected counts ≥ 5) the true size of a χ² test of 64 binomial counts at α = 1e-9 is 30 to 500
times α (exact convolution, spec/stats.md).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.special import gammaln
from scipy.stats import binom, fisher_exact

from .arguments import as_equal_masks, as_masks, check_count, check_keep_prob, check_open_unit
from .binomial import binomial_test
from .decision import Decision

# Null probability of the central band of the dispersion test: the most likely counts reaching ½.
BAND_PROBABILITY = 0.5
# scipy's tolerance for "no more likely than the observed outcome" in exact two-sided tests.
_TIE_TOLERANCE = 1e-7


def _log_choose(a: int, b: np.ndarray) -> np.ndarray:
    valid = (b >= 0) & (b <= a)
    out = np.full(b.shape, -np.inf)
    bv = b[valid]
    out[valid] = gammaln(a + 1) - gammaln(bv + 1) - gammaln(a - bv + 1)
    return out


def _minlike(f: np.ndarray, observed: np.ndarray | int) -> np.ndarray:
    """Exact two-sided p-values of outcomes ``observed`` under the null pmf ``f``: the total
    probability of every outcome no more likely than the observed one, Σ_{j : f_j ≤ f_k} f_j
    (with scipy's relative tolerance 1e-7 for "no more likely")."""
    ascending = np.sort(f)
    below = np.cumsum(ascending)
    cut = np.searchsorted(ascending, f[observed] * (1 + _TIE_TOLERANCE), side="right")
    return np.minimum(1.0, below[cut - 1])


def homogeneity_test(masks: Any, *, alpha: float) -> Decision:
    """Does every one of L positions keep at one rate, over R repeated masks? (STATS-7)

    Given the total T of kept elements, under H₀ the R·L elements are exchangeable, so the count
    c_j of position j is Hypergeometric(R·L, T, R) whatever q is. Position j is compared with
    the rest by the exact two-sided hypergeometric p-value p_j (Fisher's exact test on its 2×2
    table), and the decision is Bonferroni's p = min(1, L·min_j p_j): exact (conservative) at
    every R, L and q. The statistic is min_j p_j, ``observed`` the keep rate of the most extreme
    position and ``expected`` the pooled rate T/(R·L).
    """
    rows = as_equal_masks(masks)
    return homogeneity_counts_test([sum(column) for column in zip(*rows)], len(rows), alpha=alpha)


def homogeneity_counts_test(counts: Sequence[int], masks: int, *, alpha: float) -> Decision:
    """:func:`homogeneity_test` from its running counts: ``counts[j]`` the masks, of ``masks``, that
    keep position j (STATS-7)."""
    alpha = check_open_unit("alpha", alpha)
    r = check_count("masks", masks, minimum=1)
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or not counts.size or counts.min() < 0 or counts.max() > r:
        raise ValueError(f"counts must be a non-empty sequence of counts in [0, masks = {r}], got {counts!r}")
    size = counts.size
    total = int(counts.sum())
    c = np.arange(r + 1)
    cells = r * size
    # P(c_j = c) = C(R, c) C(RL − R, T − c) / C(RL, T)
    f = np.exp(_log_choose(r, c) + _log_choose(cells - r, total - c) - _log_choose(cells, np.array([total])))
    p = _minlike(f, counts)
    worst = int(np.argmin(p))
    return Decision(
        test="homogeneity",
        statistic=float(p[worst]),
        p_value=float(min(1.0, size * p[worst])),
        n=cells,
        observed=float(counts[worst] / r),
        expected=total / cells,
        alpha=alpha,
    )


def _disjoint_pairs(x: list[int], lag: int) -> tuple[list[int], list[int]]:
    """Pairs (x_i, x_{i+lag}) for i in the first half of every block of 2·lag elements, so that
    every element is in at most one pair and, under H₀, the pairs are independent."""
    firsts: list[int] = []
    seconds: list[int] = []
    for offset in range(lag):  # the pairs at one offset within the blocks, taken as strided slices
        tail = x[offset + lag :: 2 * lag]
        firsts += x[offset :: 2 * lag][: len(tail)]
        seconds += tail
    return firsts, seconds


@dataclass(frozen=True)
class PairCounts:
    """The 2×2 table of (first, second) pairs of 0/1 elements as running counts: ``pairs`` pairs,
    ``first`` and ``second`` the pairs whose first or second element is 1, ``both`` those with both.
    Tables of disjoint sets of pairs add (``+``)."""

    pairs: int = 0
    first: int = 0
    second: int = 0
    both: int = 0

    def __add__(self, other: PairCounts) -> PairCounts:
        return PairCounts(self.pairs + other.pairs, self.first + other.first, self.second + other.second,
                          self.both + other.both)


def _checked_table(counts: PairCounts) -> tuple[int, int, int, int]:
    """(pairs, first, second, both) of a 2×2 table of at least one pair; anything else raises ValueError."""
    pairs, first, second, both = counts.pairs, counts.first, counts.second, counts.both
    if not 0 <= both <= min(first, second) or max(first, second) > pairs or first + second - both > pairs:
        raise ValueError(f"counts must be a 2x2 table of pairs (0 <= both <= first, second <= pairs), got {counts}")
    if pairs == 0:
        raise ValueError("counts must hold at least one pair, got none")
    return pairs, first, second, both


def _phi(counts: PairCounts) -> float:
    """The φ coefficient (correlation) of a 2×2 table of pairs; 0 where a margin is empty or full."""
    pairs, first, second, both = counts.pairs, counts.first, counts.second, counts.both
    margins = first * (pairs - first) * second * (pairs - second)
    return (both * pairs - first * second) / math.sqrt(margins) if margins else 0.0


def pair_counts_test(counts: PairCounts, *, alpha: float, test: str = "pair independence") -> Decision:
    """Fisher's exact test of independence on a 2×2 table of pairs kept as :class:`PairCounts`
    (STATS-8): what :func:`lag_independence_test` and :func:`successive_independence_test` decide,
    from their tables."""
    alpha = check_open_unit("alpha", alpha)
    pairs, first, second, both = _checked_table(counts)
    table = [[both, first - both], [second - both, pairs - first - second + both]]
    result = fisher_exact(table)
    return Decision(
        test=test,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        n=pairs,
        observed=_phi(counts),
        expected=0.0,
        alpha=alpha,
    )


def _fisher_p_value(counts: PairCounts) -> float:
    """Fisher's exact two-sided p-value of a 2×2 table of pairs, from the hypergeometric law of ``both``
    given the margins: the probability of every outcome no more likely than the observed one (scipy's
    fisher_exact, with its tolerance, computed on the whole support at once)."""
    pairs, first, second, both = _checked_table(counts)
    low = max(0, first + second - pairs)
    k = np.arange(low, min(first, second) + 1)
    log_f = _log_choose(first, k) + _log_choose(pairs - first, second - k) - _log_choose(pairs, np.array(second))
    return float(_minlike(np.exp(log_f), both - low))


def class_pair_counts_test(tables: Sequence[PairCounts], *, alpha: float,
                           test: str = "pair independence by class") -> Decision:
    """Independence in every one of k classes of pairs (STATS-8, one decision): Fisher's exact test on
    each class's 2×2 table, the decision's p-value min(1, k · min_r p_r) (Bonferroni over the classes).
    Its size is at most α at every size: P₀(k · min p_r ≤ α) ≤ Σ_r P₀(p_r ≤ α / k) ≤ α. It sees a
    correlation confined to one class that the pooled table averages away. ``statistic`` is the least
    p_r, ``observed`` the φ of its class, ``n`` the pairs over every class."""
    alpha = check_open_unit("alpha", alpha)
    if not tables:
        raise ValueError("tables must hold at least one class, got none")
    p_values = [_fisher_p_value(counts) for counts in tables]
    least = min(p_values)
    return Decision(test=test, statistic=least, p_value=min(1.0, len(tables) * least),
                    n=sum(counts.pairs for counts in tables), observed=_phi(tables[p_values.index(least)]),
                    expected=0.0, alpha=alpha)


def _pair_test(sequences: list[list[int]], lag: int, alpha: float, test: str) -> Decision:
    """Fisher's exact test of independence on the 2×2 table of disjoint lag pairs."""
    firsts: list[int] = []
    seconds: list[int] = []
    for x in sequences:
        a, b = _disjoint_pairs(x, lag)
        firsts += a
        seconds += b
    if not firsts:
        raise ValueError(f"lag must be shorter than the sequences it pairs, got lag {lag}")
    both = sum(map(operator.mul, firsts, seconds))
    return pair_counts_test(PairCounts(len(firsts), sum(firsts), sum(seconds), both), alpha=alpha, test=test)


def lag_independence_test(masks: Any, lag: int, *, alpha: float) -> Decision:
    """Are elements ``lag`` apart within a mask independent? (STATS-8)

    Within each mask, elements are paired with the element ``lag`` later in disjoint pairs (the
    first half of every block of 2·lag with the second half), which under H₀ are independent;
    Fisher's exact test on their 2×2 table is then exact at every size. The statistic is the
    table's odds ratio, ``observed`` its correlation φ (0 under H₀), ``n`` the number of pairs.
    """
    lag = check_count("lag", lag, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    return _pair_test(as_masks(masks), lag, alpha, "lag independence")


def successive_independence_test(masks: Any, *, alpha: float, lag: int = 1) -> Decision:
    """Is each position of a mask independent of the same position ``lag`` masks later? (STATS-8)

    :func:`lag_independence_test` along the mask axis: disjoint pairs (mask_t[i], mask_{t+lag}[i])
    over positions i. Exact at every size.
    """
    columns = [list(column) for column in zip(*as_equal_masks(masks, minimum=2))]
    lag = check_count("lag", lag, minimum=1)
    alpha = check_open_unit("alpha", alpha)
    return _pair_test(columns, lag, alpha, "successive independence")


def runs_distribution(ones: int, zeros: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact distribution of the number of runs R in a uniformly random arrangement of
    ``ones`` ones and ``zeros`` zeros (both ≥ 1): returns (r, P(R = r)) for r = 2 … 2·min + 1.

    P(R = 2s) = 2·C(n₁−1, s−1)·C(n₀−1, s−1) / C(N, n₁),
    P(R = 2s+1) = [C(n₁−1, s)·C(n₀−1, s−1) + C(n₁−1, s−1)·C(n₀−1, s)] / C(N, n₁).
    """
    n1 = check_count("ones", ones, minimum=1)
    n0 = check_count("zeros", zeros, minimum=1)
    r = np.arange(2, 2 * min(n1, n0) + 2)
    s = r // 2
    total = gammaln(n1 + n0 + 1) - gammaln(n1 + 1) - gammaln(n0 + 1)
    even = np.log(2.0) + _log_choose(n1 - 1, s - 1) + _log_choose(n0 - 1, s - 1)
    odd = np.logaddexp(
        _log_choose(n1 - 1, s) + _log_choose(n0 - 1, s - 1),
        _log_choose(n1 - 1, s - 1) + _log_choose(n0 - 1, s),
    )
    return r, np.exp(np.where(r % 2 == 0, even, odd) - total)


def runs_test(masks: Any, *, alpha: float) -> Decision:
    """Wald–Wolfowitz runs test, exact and conditional on the numbers of ones and zeros (STATS-9).

    Given n₁ ones and n₀ zeros every arrangement is equally likely under H₀, whatever q is, so the
    test is valid for any q, q ≠ 1/2 included. Several masks are concatenated (independent
    Bernoulli masks concatenate to one). The two-sided p-value sums P(R = r) over every r no more
    likely than the observed number of runs. The statistic is R standardized by its conditional
    mean 1 + 2n₁n₀/N and variance 2n₁n₀(2n₁n₀ − N)/(N²(N − 1)). Needs a 1 and a 0.
    """
    bits = [b for mask in as_masks(masks) for b in mask]
    alpha = check_open_unit("alpha", alpha)
    n = len(bits)
    n1 = sum(bits)
    n0 = n - n1
    if n1 == 0 or n0 == 0:
        raise ValueError(f"runs test needs at least one 1 and one 0, got {n1} ones and {n0} zeros")
    runs = 1 + sum(map(operator.ne, bits, bits[1:]))
    _, f = runs_distribution(n1, n0)
    mean = 1 + 2 * n1 * n0 / n
    variance = 2 * n1 * n0 * (2 * n1 * n0 - n) / (n * n * (n - 1))
    return Decision(
        test="runs",
        statistic=(runs - mean) / math.sqrt(variance) if variance > 0 else 0.0,
        p_value=float(_minlike(f, runs - 2)),
        n=n,
        observed=float(runs),
        expected=mean,
        alpha=alpha,
    )


def central_band(size: int, keep_prob: float) -> tuple[int, int, float]:
    """The dispersion test's band: the most likely keep counts of Binomial(n, q), as few as reach
    probability ½. Returns (lo, hi, π) with π = P₀(lo ≤ K ≤ hi) ≥ ½ (an interval: the pmf is
    unimodal)."""
    n = check_count("size", size, minimum=1)
    q = check_keep_prob("keep_prob", keep_prob)
    spread = 4 * math.sqrt(n * q * (1 - q)) + 2
    k = np.arange(max(0, math.floor(n * q - spread)), min(n, math.ceil(n * q + spread)) + 1)
    f = binom.pmf(k, n, q)
    order = np.argsort(-f, kind="stable")
    chosen = order[: int(np.searchsorted(np.cumsum(f[order]), BAND_PROBABILITY)) + 1]
    lo, hi = int(k[chosen.min()]), int(k[chosen.max()])
    return lo, hi, float(binom.cdf(hi, n, q) - binom.cdf(lo - 1, n, q))


_DISPERSION_ALTERNATIVES = {"under": "greater", "over": "less", "both": "two-sided"}


def dispersion_test(masks: Any, keep_prob: float, *, alpha: float, alternative: str = "under") -> Decision:
    """Do keep counts vary across masks as much as Binomial(n, q) counts must? (STATS-10)

    A sampler that keeps exactly round(q·n) elements of every mask has the right keep rate and
    passes a binomial test, but its counts have variance ≈ 0 instead of n·q(1 − q). Under H₀ the
    count K_i of each of m equal-size masks falls in the :func:`central_band` with probability π,
    independently, so the number X of masks in the band is Binomial(m, π) exactly. Under-dispersed
    counts crowd into the band: ``alternative="under"`` (the default) rejects when X is too large,
    by the exact one-sided binomial test; ``"over"`` when too small; ``"both"`` either way.
    ``observed`` is X/m, ``expected`` π. Exact at every size; needs 0 < q < 1.
    """
    rows = as_equal_masks(masks)
    return dispersion_counts_test([sum(mask) for mask in rows], len(rows[0]), keep_prob, alpha=alpha,
                                  alternative=alternative)


def dispersion_counts_test(counts: Sequence[int], size: int, keep_prob: float, *, alpha: float,
                           alternative: str = "under") -> Decision:
    """:func:`dispersion_test` from the keep counts of its masks of ``size`` elements (STATS-10)."""
    q = check_keep_prob("keep_prob", keep_prob)
    alpha = check_open_unit("alpha", alpha)
    size = check_count("size", size, minimum=1)
    if not 0.0 < q < 1.0:
        raise ValueError(f"keep_prob must be in (0, 1) for the dispersion test, got {keep_prob!r}")
    if alternative not in _DISPERSION_ALTERNATIVES:
        raise ValueError(f"alternative must be one of {sorted(_DISPERSION_ALTERNATIVES)}, got {alternative!r}")
    counts = np.asarray(counts, dtype=np.int64)
    if counts.ndim != 1 or not counts.size or counts.min() < 0 or counts.max() > size:
        raise ValueError(f"counts must be a non-empty sequence of keep counts in [0, size = {size}], got {counts!r}")
    lo, hi, band = central_band(size, q)
    inside = int(np.count_nonzero((lo <= counts) & (counts <= hi)))
    decision = binomial_test(inside, counts.size, band, alpha=alpha, alternative=_DISPERSION_ALTERNATIVES[alternative])
    return replace(decision, test="dispersion")
