"""Floating-point formats the engine emulates (spec/tensor.md, TENSOR-5 to TENSOR-7).

Every value is stored as a Python float (IEEE 754 binary64). A tensor of a reduced
format holds only values that format can represent: each value is rounded to it,
round-to-nearest-even, with overflow to infinity and gradual underflow through the
subnormals, exactly as IEEE 754 defines it for a binary format of ``precision``
significand bits and exponent range [emin, emax].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .values import shown

__all__ = [
    "DType", "float64", "float32", "float16", "bfloat16", "bool_", "get_dtype", "promote", "ordinal", "within_one_ulp",
]


@dataclass(frozen=True)
class DType:
    """A value format: a binary floating-point format, or ``bool``."""

    name: str
    precision: int  # significand bits, the implicit leading bit included (binary64: 53)
    emax: int  # largest unbiased exponent of a finite value
    itemsize: int  # bytes, for reports

    @property
    def is_floating(self) -> bool:
        return self.precision > 0

    @property
    def emin(self) -> int:
        """Smallest exponent of a normal number: 1 - emax (IEEE 754, 3.3)."""
        return 1 - self.emax

    @property
    def max(self) -> float:
        """Largest finite value: (2 - 2**(1 - precision)) * 2**emax."""
        return math.ldexp(2.0 - math.ldexp(1.0, 1 - self.precision), self.emax)

    @property
    def eps(self) -> float:
        """Machine epsilon, the gap between 1 and the next value: 2**(1 - precision)."""
        return math.ldexp(1.0, 1 - self.precision)

    @property
    def tiny(self) -> float:
        """Smallest positive subnormal: 2**(emin - precision + 1)."""
        return math.ldexp(1.0, self.emin - self.precision + 1)

    def round(self, x: float) -> float:
        """Round one float64 value to this format (TENSOR-5): nearest, ties to even, overflowing to ±inf
        past the largest finite value."""
        if self is float64:
            return x
        if not self.is_floating:
            return bool(x)
        rounded = self.round_unbounded(x)
        return math.copysign(math.inf, x) if abs(rounded) > self.max else rounded

    def round_unbounded(self, x: float) -> float:
        """x rounded to this format's precision as IEEE 754 rounds before it overflows (7.4): nearest, ties
        to even, with no largest exponent (a value past the largest finite one stays finite, a multiple
        of the top binade's step or more), gradual underflow below emin; ±inf past the float64 range."""
        if self is float64 or x != x or x == 0.0 or math.isinf(x):
            return x
        # x = m * 2**e with 0.5 <= |m| < 1, so the leading bit has exponent e - 1; below
        # emin the quantum stays that of the subnormals (gradual underflow).
        exponent = max(math.frexp(x)[1] - 1, self.emin)
        quantum = exponent - self.precision + 1
        try:
            rounded = math.ldexp(round(math.ldexp(x, -quantum)), quantum)  # round(): ties to even
        except OverflowError:  # rounded up past the float64 range
            return math.copysign(math.inf, x)
        return math.copysign(rounded, x)  # keeps the sign of an underflowed zero

    def round_all(self, values: list) -> list:
        """Round every value of a flat list (the identity for float64)."""
        if self is float64:
            return values
        round_one = self.round
        return [round_one(v) for v in values]

    def __repr__(self) -> str:
        return f"refdropout.{self.name}"

    def __reduce__(self) -> tuple:
        """Pickled as its name, unpickled as the one format of that name, which ``is`` compares (an engine
        tensor crossing to a child process and back: refdropout.adapters.isolated)."""
        return (get_dtype, (self.name,))


float64 = DType("float64", 53, 1023, 8)
float32 = DType("float32", 24, 127, 4)
float16 = DType("float16", 11, 15, 2)
bfloat16 = DType("bfloat16", 8, 127, 2)
bool_ = DType("bool", 0, 0, 1)

_BY_NAME = {d.name: d for d in (float64, float32, float16, bfloat16, bool_)}


def get_dtype(dtype: DType | str) -> DType:
    """Look a format up by name; an unknown name raises ValueError listing the known ones."""
    if isinstance(dtype, DType):
        return dtype
    if isinstance(dtype, str) and dtype in _BY_NAME:
        return _BY_NAME[dtype]
    raise ValueError(f"dtype: unknown dtype {shown(dtype)}; known dtypes are {', '.join(sorted(_BY_NAME))}")


def promote(a: DType, b: DType) -> DType:
    """Result format of a binary op (TENSOR-7).

    bool < any float; between floats the wider precision wins, and float16 with bfloat16
    (neither holds the other) gives float32, as in PyTorch and JAX.
    """
    if a is b:
        return a
    if not a.is_floating:
        return b if b.is_floating else a
    if not b.is_floating:
        return a
    if {a, b} == {float16, bfloat16}:
        return float32
    return a if a.precision > b.precision else b


def ordinal(value: float, dtype: DType) -> int:
    """The position of a finite ``value`` of ``dtype`` on that format's number line, counted in steps
    from 0 (negative below 0): |v| / 2^(emin - P + 1) below 2^emin, and (e - emin) 2^(P - 1) +
    |v| / 2^(e - P + 1) for 2^e <= |v| < 2^(e + 1). Neighbouring values of the format differ by 1; the
    line goes on past the largest finite value for the values of ``dtype.round_unbounded``."""
    magnitude = abs(value)
    exponent = max(math.frexp(magnitude)[1] - 1, dtype.emin)
    steps = int(math.ldexp(magnitude, dtype.precision - 1 - exponent))  # exact: the significand as an integer
    if magnitude >= math.ldexp(1.0, dtype.emin):
        steps += (exponent - dtype.emin) << (dtype.precision - 1)
    return -steps if math.copysign(1.0, value) < 0 else steps


def within_one_ulp(got: float, exact: float, dtype: DType) -> bool:
    """True when ``got`` is ``exact`` rounded to ``dtype`` or one of that value's two neighbours
    (spec/dropout.md, "Within one ulp"). ``exact`` is rounded as IEEE 754 rounds before it overflows
    (DType.round_unbounded), and ±inf stands for every value past ±the largest finite one: it is
    within one ulp of an ``exact`` that rounds to ±the largest value or past it, and ±the largest
    value of one that rounds one step past it. A scale 1/q rounded first carries an x / q just below
    the overflow threshold over it, or one just above it back below. A non-finite ``exact`` (x / 0,
    NaN) is matched by itself alone."""
    if not math.isfinite(exact):
        return got == exact or (got != got and exact != exact)  # NaN is matched by NaN
    if got != got:
        return False
    nearest = ordinal(dtype.round_unbounded(exact), dtype)
    if math.isinf(got):
        return (nearest if got > 0 else -nearest) >= ordinal(dtype.max, dtype)
    return abs(ordinal(got, dtype) - nearest) <= 1
