"""Python values at the engine's boundary: a caller's real number taken as a float64, and any value
written into an error message (spec/dropout.md, DROPOUT-3; spec/random.md, RANDOM-9).

Python's ints and fractions are unbounded, binary64 is not: ``float(10**400)`` raises an
``OverflowError`` that names no argument. ``to_float`` is the one place the engine turns a
caller's real number into a float, and it refuses one beyond the float64 range with a
``ValueError`` naming the argument and what is allowed.

An error message shows the value it refuses, but ``repr`` of an int of more than 4300 digits
raises (Python's guard against quadratic conversions), ``repr`` of a list nested a thousand
deep overflows the stack, and a list of a million numbers drowns the message. ``shown`` writes
any value in a bounded number of characters and never raises.
"""

from __future__ import annotations

import numbers
import reprlib

__all__ = ["to_float", "shown", "FLOAT64_RANGE"]

FLOAT64_RANGE = "within the float64 range (magnitude at most about 1.8e308)"
LONGEST_INT_SHOWN = 332  # bits: ints of up to 100 digits are written out in full


class _Shown(reprlib.Repr):
    """``reprlib``'s bounded repr (a few levels, a few items each), with huge ints shown by size."""

    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxtuple = self.maxlist = self.maxarray = self.maxdict = self.maxset = self.maxfrozenset = 16
        self.maxstring = self.maxother = 80
        self.maxlong = LONGEST_INT_SHOWN  # digits, never reached: repr_int shows longer ints by size

    def repr_int(self, x: int, level: int) -> str:
        bits = x.bit_length()
        if bits <= LONGEST_INT_SHOWN:
            return repr(x)
        return f"<{'a negative' if x < 0 else 'an'} int of {bits} bits>"


_SHOWN = _Shown()


def shown(value: object) -> str:
    """``repr(value)`` for an error message, in at most a few hundred characters: an int of more
    than 100 digits is written as its size (``<an int of 1329 bits>``), containers are cut after 16
    items and 4 levels, and an object whose own ``repr`` raises is named by its type."""
    return _SHOWN.repr(value)


def to_float(value: numbers.Real, name: str, allowed: str = FLOAT64_RANGE) -> float:
    """``float(value)`` for a real number the caller passed as ``name``: binary64 rounding, to
    nearest (TENSOR-5). A value beyond the float64 range (an int or fraction that rounds to a
    magnitude of 2**1024 or more) raises ValueError naming ``name``, the value and ``allowed``."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a real number {allowed}, got {shown(value)}, beyond the float64 range"
                         ) from None
