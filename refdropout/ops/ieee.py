"""Scalar functions with IEEE 754 results where Python's math module raises (TENSOR-9).

NaN and infinities are data: 1/0 is inf, log(0) is -inf, exp(1000) is inf, sqrt(-1) is NaN,
as C99 Annex F and every array library define them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

__all__ = ["div", "exp", "log", "sqrt", "pow", "sigmoid", "fsum", "fsums", "map_ieee", "map2_ieee"]

_ARITHMETIC_ERRORS = (OverflowError, ValueError, ZeroDivisionError)


def div(a: float, b: float) -> float:
    try:
        return a / b
    except ZeroDivisionError:
        if a != a or a == 0.0:
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)


def exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def log(x: float) -> float:
    if x > 0.0:
        return math.log(x)
    if x == 0.0:
        return -math.inf
    return math.nan  # x < 0 or x is NaN


def sqrt(x: float) -> float:
    return math.nan if x < 0.0 else math.sqrt(x)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def pow(a: float, b: float) -> float:
    try:
        return math.pow(a, b)
    except OverflowError:
        return -math.inf if a < 0.0 and _is_odd_integer(b) else math.inf
    except ValueError:
        if a == 0.0:  # pow(+-0, y < 0): a pole
            return math.copysign(math.inf, a) if _is_odd_integer(b) else math.inf
        return math.nan  # a negative base with a non-integer exponent


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), evaluated without overflow on either side."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = exp(x)
    return z / (1.0 + z)


def fsum(values: list) -> float:
    """The correctly rounded sum, as ``math.fsum``, with IEEE results where it raises.

    inf + -inf is NaN; a partial sum that overflows although the exact total is in range is
    summed exactly (as fractions); a total beyond the largest float is +-inf.
    """
    try:
        return math.fsum(values)
    except ValueError:  # inf + -inf
        return math.nan
    except OverflowError:
        infinities = [v for v in values if math.isinf(v)]
        if infinities:
            return math.fsum(infinities) if len(set(infinities)) == 1 else math.nan
        total = sum(map(Fraction, values))
        try:
            return float(total)
        except OverflowError:
            return math.inf if total > 0 else -math.inf


def fsums(groups: list[list]) -> list:
    """``fsum`` of every group, at ``math.fsum``'s speed when nothing overflows."""
    try:
        return list(map(math.fsum, groups))
    except (OverflowError, ValueError):
        return list(map(fsum, groups))


def map_ieee(fast: Callable[[float], float], safe: Callable[[float], float], data: list) -> list:
    """``[fast(v) for v in data]``, redone with ``safe`` only when ``fast`` raised somewhere."""
    try:
        return list(map(fast, data))
    except _ARITHMETIC_ERRORS:
        return list(map(safe, data))


def map2_ieee(fast: Callable[[float, float], float], safe: Callable[[float, float], float], a: list, b: list) -> list:
    """The two-argument form of :func:`map_ieee`."""
    try:
        return list(map(fast, a, b))
    except _ARITHMETIC_ERRORS:
        return list(map(safe, a, b))
