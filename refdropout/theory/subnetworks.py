"""The 2^n sub-networks of a layer with n droppable units, and their probabilities (ENSEMBLE-2).

A keep mask m in {0, 1}^n names one sub-network: the units with m_i = 1 stay, the others and
their outgoing weights are removed. Dropout draws the units independently, each kept with
probability q = 1 - p, so a mask keeping k of the n units has probability

    P(m) = prod_i q^(m_i) p^(1 - m_i) = q^k p^(n - k),

and the sub-networks form a probability space: sum_m P(m) = (q + p)^n = 1. Probabilities are
exact ``fractions.Fraction``: a float rate is converted exactly (every finite float is a dyadic
rational), so every sum below holds with no rounding at all.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction

from ..tensor import Tensor
from ..values import shown

__all__ = ["exact_rate", "SubNetwork", "sub_networks", "mask_matrix", "Distribution", "ensemble"]


def exact_rate(p: object, name: str = "p") -> Fraction:
    """A probability as an exact Fraction: a Fraction or int in [0, 1], or a finite float in [0, 1]
    taken at its exact binary value (0.1 is 3602879701896397 / 2^55, not 1/10)."""
    if isinstance(p, bool) or not isinstance(p, (numbers.Rational, float)):
        raise TypeError(f"{name} must be a Fraction, an int or a float in [0, 1], got {shown(p)} of type"
                        f" {type(p).__name__}")
    if not 0 <= p <= 1:  # NaN fails every comparison
        raise ValueError(f"{name} must be in [0, 1], got {shown(p)}")
    return Fraction(p)


ENUMERABLE_UNITS = 64  # no enumeration gets through 2^64 sub-networks


def _check_units(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= ENUMERABLE_UNITS:
        raise ValueError(f"n (the number of droppable units) must be a non-negative int of at most"
                         f" {ENUMERABLE_UNITS}, whose 2^n sub-networks are enumerated, got {shown(n)}")
    return n


@dataclass(frozen=True)
class SubNetwork:
    """One sub-network: its keep mask (1 = unit kept) and the probability that dropout samples it."""

    keep: tuple[int, ...]
    probability: Fraction


def sub_networks(n: int, p: object) -> Iterator[SubNetwork]:
    """Every one of the 2^n keep masks over n units with P(m) = q^k p^(n - k), in counting order:
    mask number c (from 0) keeps unit i when bit n - 1 - i of c is 1 (unit 0 is the leading bit)."""
    n = _check_units(n)
    p = exact_rate(p)
    q = 1 - p
    probability = [q**kept * p ** (n - kept) for kept in range(n + 1)]  # n + 1 values, not 2^n computations
    for keep in itertools.product((0, 1), repeat=n):
        yield SubNetwork(keep, probability[sum(keep)])


def mask_matrix(n: int) -> Tensor:
    """All 2^n keep masks as the rows of a (2^n, n) float64 tensor, in the order of sub_networks:
    the whole ensemble evaluated as one batch."""
    n = _check_units(n)
    rows = [float(k) for keep in itertools.product((0, 1), repeat=n) for k in keep]
    return Tensor.from_flat(rows, (2**n, n))


def _exact_value(v: object) -> Fraction:
    if isinstance(v, bool) or not isinstance(v, (numbers.Rational, float)) or (
            isinstance(v, float) and not math.isfinite(v)):
        raise ValueError(f"an output averaged over the ensemble must be a finite real number, got {shown(v)}")
    return Fraction(v)


def _over_one_denominator(numbers: Sequence[Fraction]) -> tuple[list[int], int]:
    """Rationals as integers over their least common denominator d: ([x d for each x], d)."""
    d = math.lcm(*(x.denominator for x in numbers))
    return [x.numerator * (d // x.denominator) for x in numbers], d


def _expectation(weights: Sequence[Fraction], values: Sequence[Fraction], order: int, about: Fraction) -> Fraction:
    """sum_m w_m (v_m - about)^order, exactly: the sum of the Fractions, computed in integers over common
    denominators, so that thousands of terms cost one reduction to lowest terms instead of one each."""
    w, w_denominator = _over_one_denominator(weights)
    v, v_denominator = _over_one_denominator(values)
    shift, scale = about.numerator * v_denominator, about.denominator  # v/d - a/b = (v b - a d) / (d b)
    total = sum(wi * (vi * scale - shift) ** order for wi, vi in zip(w, v))
    return Fraction(total, w_denominator * (v_denominator * scale) ** order)


@dataclass(frozen=True)
class Distribution:
    """The distribution of one scalar output over the sub-networks: P(m) and the output f(m) of
    each, both exact (floats are taken at their exact binary value)."""

    probabilities: tuple[Fraction, ...]
    values: tuple[Fraction, ...]

    @classmethod
    def of(cls, probabilities: Sequence[Fraction], values: Sequence[object]) -> Distribution:
        if len(probabilities) != len(values):
            raise ValueError(f"need one value per sub-network: {len(probabilities)} probabilities,"
                             f" {len(values)} values")
        return cls(tuple(probabilities), tuple(_exact_value(v) for v in values))

    @property
    def mean(self) -> Fraction:
        """E_m[f(m)] = sum_m P(m) f(m)."""
        return _expectation(self.probabilities, self.values, 1, Fraction(0))

    def central_moment(self, order: int) -> Fraction:
        """E_m[(f(m) - E f)^order]; order 2 is the variance."""
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"order must be a positive int, got {shown(order)}")
        return _expectation(self.probabilities, self.values, order, self.mean)

    @property
    def variance(self) -> Fraction:
        return self.central_moment(2)

    def monte_carlo_mse(self, samples: int) -> Fraction:
        """E[(mean of T independent draws - E f)^2], by enumerating all (2^n)^T tuples of sub-networks
        (ENSEMBLE-6): the brute-force definition, for small n and T only."""
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ValueError(f"samples must be a positive int, got {shown(samples)}")
        mu = self.mean
        outcomes = list(zip(self.probabilities, self.values))
        return sum(
            (math.prod(w for w, _ in draws) * (sum(v for _, v in draws) / samples - mu) ** 2
             for draws in itertools.product(outcomes, repeat=samples)),
            Fraction(0),
        )


def ensemble(f: Callable[[tuple[int, ...]], object], n: int, p: object) -> Distribution:
    """The distribution of f(m) over the 2^n sub-networks, f mapping a keep mask to a number."""
    subs = list(sub_networks(n, p))
    return Distribution.of([s.probability for s in subs], [f(s.keep) for s in subs])
