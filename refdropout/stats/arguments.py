"""Argument checks for the statistics layer (STATS-12).

Every public function of :mod:`refdropout.stats` refuses bad input before it computes anything: the
error names the argument, the value it got and the range it allows. Masks are accepted in the plain
forms a caller has at hand: any iterable of 0/1 values (ints, bools or floats), or any object with a
``.tolist()`` method (a numpy array, an engine tensor), which is flattened.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from itertools import chain
from numbers import Real
from typing import Any

_BITS = frozenset((0, 1))


def check_real(name: str, value: Any) -> float:
    """``value`` as a float; booleans and non-numbers are a TypeError."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    return float(value)


def check_probability(name: str, value: Any) -> float:
    """A probability: a real number in [0, 1] (so NaN is refused)."""
    x = check_real(name, value)
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value!r}")
    return x


# scipy's binomial distribution (Boost's incomplete beta) overflows for some success probabilities
# below about 3e-299 (at n up to 2**53); no meaningful keep probability lies below this bound.
SMALLEST_KEEP_PROB = 1e-290


def check_keep_prob(name: str, value: Any) -> float:
    """A keep probability for the binomial machinery: 0, or in [SMALLEST_KEEP_PROB, 1]."""
    x = check_probability(name, value)
    if 0.0 < x < SMALLEST_KEEP_PROB:
        raise ValueError(
            f"{name} must be 0 or in [{SMALLEST_KEEP_PROB:g}, 1] (scipy's binomial distribution "
            f"overflows below), got {value!r}"
        )
    return x


def check_open_unit(name: str, value: Any) -> float:
    """A level such as a significance level α or a power: a real number in (0, 1)."""
    x = check_real(name, value)
    if not 0.0 < x < 1.0:
        raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    return x


def check_positive(name: str, value: Any) -> float:
    """A finite real number > 0 (a standard deviation, a variance, an effect size)."""
    x = check_real(name, value)
    if not 0.0 < x < math.inf:
        raise ValueError(f"{name} must be in (0, inf), got {value!r}")
    return x


def check_finite(name: str, value: Any) -> float:
    """A finite real number (a mean under the null)."""
    x = check_real(name, value)
    if not math.isfinite(x):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return x


def check_correlation(name: str, value: Any) -> float:
    """A correlation coefficient: a real number in (−1, 1)."""
    x = check_real(name, value)
    if not -1.0 < x < 1.0:
        raise ValueError(f"{name} must be in (-1, 1), got {value!r}")
    return x


def check_count(name: str, value: Any, minimum: int = 0) -> int:
    """An integer ≥ ``minimum`` (a sample size, a number of decisions, a lag)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {value!r}") from None
    if n < minimum:
        raise ValueError(f"{name} must be in [{minimum}, inf), got {value!r}")
    return n


def check_successes(k: Any, n: Any) -> tuple[int, int]:
    """A binomial observation: n ≥ 1 trials and 0 ≤ k ≤ n successes."""
    n = check_count("n", n, minimum=1)
    k = check_count("k", k)
    if k > n:
        raise ValueError(f"k must be in [0, n] = [0, {n}], got {k!r}")
    return k, n


def _expand(x: Any) -> list | None:
    """``x`` as a list if it is array-like (``.tolist()``, list, tuple, other iterable), else None."""
    if hasattr(x, "tolist"):
        x = x.tolist()
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        return None
    return list(x)


def _flatten(items: list, out: list) -> None:
    for item in items:
        inner = _expand(item)
        if inner is None:
            out.append(item)
        else:
            _flatten(inner, out)


def as_mask(x: Any, name: str = "mask") -> list[int]:
    """A 0/1 mask as a flat list of ints; nested input is flattened in row-major order."""
    items = _expand(x)
    if items is None:
        raise TypeError(f"{name} must be a sequence of 0/1 values, got {x!r}")
    try:
        if set(items) <= _BITS:  # the common, flat case, checked at C speed
            return list(map(int, items))
    except TypeError:  # unhashable elements: a nested mask
        pass
    flat: list = []
    _flatten(items, flat)
    for index, value in enumerate(flat):
        if isinstance(value, (str, bytes)) or value not in _BITS:
            raise ValueError(f"{name}[{index}] must be 0 or 1, got {value!r}")
    return list(map(int, flat))


def as_masks(x: Any, name: str = "masks") -> list[list[int]]:
    """One mask or a list of masks, as a non-empty list of flat 0/1 masks.

    Nested input (a list of sequences, a 2-d or higher array) is a list of masks indexed by its
    outermost axis; flat input is a single mask.
    """
    items = _expand(x)
    if items is None:
        raise TypeError(f"{name} must be a mask or a sequence of masks, got {x!r}")
    if not items:
        raise ValueError(f"{name} must hold at least one mask, got {x!r}")
    if _expand(items[0]) is None:
        return [as_mask(items, name)]
    flat = _flat_masks(items)
    if flat is not None:
        return flat
    return [as_mask(item, f"{name}[{i}]") for i, item in enumerate(items)]


def _flat_masks(items: list) -> list[list[int]] | None:
    """The common case of :func:`as_masks`, checked at C speed: every item a list or tuple of 0/1
    values (ints, bools or floats), returned as lists of ints; None for anything else, which
    :func:`as_mask` then checks one item at a time (and names the first bad element)."""
    if not set(map(type, items)) <= {list, tuple}:
        return None
    try:
        if not set(chain.from_iterable(items)) <= _BITS:
            return None
    except TypeError:  # unhashable elements: nested masks
        return None
    return [list(map(int, item)) for item in items]


def as_equal_masks(x: Any, name: str = "masks", minimum: int = 1) -> list[list[int]]:
    """At least ``minimum`` masks of one common length ≥ 1."""
    masks = as_masks(x, name)
    if len(masks) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} masks, got {len(masks)}")
    size = len(masks[0])
    for i, mask in enumerate(masks):
        if len(mask) != size or not mask:
            raise ValueError(
                f"{name} must all have one length >= 1; {name}[0] has {size}, {name}[{i}] has {len(mask)}"
            )
    return masks


def as_samples(x: Any, name: str = "samples", minimum: int = 1) -> list[float]:
    """Real-valued samples as a flat list of finite floats, at least ``minimum`` of them."""
    items = _expand(x)
    if items is None:
        raise TypeError(f"{name} must be a sequence of real numbers, got {x!r}")
    types = set(map(type, items))
    if types <= {float, int} and all(map(math.isfinite, items)):  # the common, flat case, checked at C speed
        values = items if types <= {float} else list(map(float, items))  # items is a fresh list already
    else:
        flat: list = []
        _flatten(items, flat)
        values = [check_finite(f"{name}[{index}]", value) for index, value in enumerate(flat)]
    if len(values) < minimum:
        raise ValueError(f"{name} must hold at least {minimum} values, got {len(values)}")
    return values
