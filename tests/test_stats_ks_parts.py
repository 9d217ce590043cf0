"""The Kolmogorov–Smirnov test of a sample read in parts (STATS-11, stats.ks_parts): the decision of
the whole sample, bit for bit, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

import refdropout.stats as S
from helpers import exact

NULL = sps.norm(0, 1)


def _sample(seed: int, n: int, shift: float, scale: float, decimals: int | None) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(n) * scale + shift
    return x if decimals is None else np.round(x, decimals)  # rounded: ties, many values in one interval


class Parts:
    """A sample split in ``count`` parts, read again on each call, the readings counted."""

    def __init__(self, x: np.ndarray, count: int) -> None:
        self.pieces, self.readings = np.array_split(x, count), 0

    def __call__(self):
        self.readings += 1
        return iter(self.pieces)


samples = st.tuples(st.integers(0, 2**32 - 1), st.integers(1, 3000), st.sampled_from([0.0, 0.05, 0.3]),
                    st.sampled_from([1.0, 1.1, 0.8]), st.sampled_from([None, None, 1, 3]))


@pytest.mark.clause("STATS-11")
@exact(60)
@given(samples, st.integers(1, 5), st.sampled_from([1, 4, 64, 2**16]))
def test_ks_test_of_parts_is_ks_test_of_the_whole_sample(sample, count, bins):
    """Wherever the sample fits ``held``, statistic and p-value are ks_test's of the whole sample, bit for bit,
    with any number of parts and of intervals, ties and a distribution off the null included."""
    x = _sample(*sample)
    whole = S.ks_test(x, NULL, alpha=1e-3)
    got = S.ks_test_of_parts(Parts(x, count), NULL, alpha=1e-3, held=x.size, bins=bins)
    assert (got.statistic, got.p_value, got.n, got.reject) == (whole.statistic, whole.p_value, whole.n, whole.reject)


@pytest.mark.clause("STATS-11")
@exact(60)
@given(samples, st.integers(1, 5), st.sampled_from([16, 256]), st.integers(1, 400))
def test_ks_test_of_parts_reads_parts_again_within_held(sample, count, bins, held):
    """With few values held at once the intervals are read again in several passes: the statistic is the whole
    sample's where no interval holds more than ``held`` values, and otherwise a lower bound of it given only
    where the whole sample's test rejects (the decision is the whole sample's); else the test says it cannot
    decide, an error, never a verdict."""
    x = _sample(*sample)
    whole = S.ks_test(x, NULL, alpha=1e-3)
    parts = Parts(x, count)
    largest = np.bincount(np.searchsorted(NULL.ppf(np.arange(1, bins) / bins), x, side="right")).max()
    try:
        got = S.ks_test_of_parts(parts, NULL, alpha=1e-3, held=held, bins=bins)
    except RuntimeError as error:
        assert largest > held and "undecided" in str(error)
        return
    assert parts.readings >= 1
    if largest <= held or (got.statistic, got.p_value) == (whole.statistic, whole.p_value):
        assert (got.statistic, got.p_value) == (whole.statistic, whole.p_value)
    else:
        assert got.statistic < whole.statistic and got.reject and whole.reject


@pytest.mark.clause("STATS-11")
def test_ks_test_of_parts_refuses_bad_input():
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"held must be in \[1, inf\), got 0"):
        S.ks_test_of_parts(lambda: iter([x]), NULL, alpha=0.01, held=0)
    with pytest.raises(TypeError, match="continuous"):
        S.ks_test_of_parts(lambda: iter([x]), sps.binom(1, 0.5), alpha=0.01, held=10)
    with pytest.raises(ValueError, match="at least one value"):
        S.ks_test_of_parts(lambda: iter([]), NULL, alpha=0.01, held=10)
    with pytest.raises(ValueError, match="must be finite"):
        S.ks_test_of_parts(lambda: iter([np.array([0.0, np.nan])]), NULL, alpha=0.01, held=10)
