"""Engine tensors over numpy arrays: the catalogue's textbook dropout at numpy's speed, bit for bit (spec/dropout.md).

An ``ArrayTensor`` is an engine ``Tensor`` whose values live in a numpy array, so a mutant's steps
(``mutants.textbook.Textbook``) run unchanged on a check's millions of elements. The arithmetic those
steps use (``*``, ``/``, ``astype``) runs on the array by the engine's rules (TENSOR-5, TENSOR-7): a
Python number is first rounded to the format of the tensor operand (a weak scalar), both operands are
taken as float64, the IEEE result is rounded once to the promoted format (numpy's casts round to
nearest, ties to even, as ``DType.round`` does), and a division by zero gives what ``ops.ieee.div``
gives. Every other engine op reads ``.data``, the values as a list, and answers with a plain Tensor:
slower, never different. ``BulkGenerator`` is the engine ``Generator`` whose large ``uniform`` draws
are made by ``NumpyGenerator`` (the same 53-bit uniforms) and held as ArrayTensors. It exists for
speed only; the engine stays the definition, and tests/test_mutants.py holds the two paths equal.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from ..contract.arrays import NUMPY_FORMATS
from ..dtypes import DType, bool_, get_dtype, promote
from ..ops.common import as_tensor, require_floating
from ..random import Generator
from ..shapes import Shape, broadcast_index, broadcast_shapes, numel
from ..tensor import Tensor
from .numpy_philox import NumpyGenerator
from .reference_bulk import SMALL_DRAW

__all__ = ["ArrayTensor", "BulkGenerator", "array_of", "keep_tensor"]

_FORMATS = {dtype: get_dtype(name) for name, dtype in NUMPY_FORMATS.items()}


def _wide(t: Tensor) -> np.ndarray:
    """A floating tensor's values as a float64 array (exact: every format widens exactly)."""
    if isinstance(t, ArrayTensor):
        return t.array.astype(np.float64)
    return np.array(t.data, dtype=np.float64).reshape(t.shape)


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b as ``ops.ieee.div``: by a zero, NaN (Python's, positive) for 0 or NaN, else a signed infinity."""
    quotient = a / b
    zero = b == 0.0
    if not zero.any():
        return quotient
    undefined = (a != a) | (a == 0.0)
    infinite = np.copysign(np.inf, a) * np.copysign(1.0, b)
    return np.where(zero, np.where(undefined, math.nan, infinite), quotient)


class ArrayTensor(Tensor):
    """An engine Tensor over a numpy array of a format numpy holds here (or bool); never requires grad."""

    __slots__ = ("array", "_flat")

    def __init__(self, array: np.ndarray) -> None:
        if array.dtype != np.bool_ and array.dtype not in _FORMATS:
            raise TypeError(f"ArrayTensor: array must be bool or of {', '.join(NUMPY_FORMATS)}, "
                            f"got dtype {array.dtype}")
        self.array, self._flat = array, None
        self.shape, self.dtype = tuple(array.shape), bool_ if array.dtype == np.bool_ else _FORMATS[array.dtype]
        self.requires_grad, self.grad, self._parents, self._vjp = False, None, (), None

    @property
    def data(self) -> list:  # type: ignore[override]  (the engine's list, made when an engine op first reads it)
        if self._flat is None:
            flat = self.array.ravel()
            self._flat = (flat if flat.dtype in (np.bool_, np.float64) else flat.astype(np.float64)).tolist()
        return self._flat

    @staticmethod
    def _binary(name: str, a: object, b: object, f: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Tensor:
        """``ops.elementwise._binary``'s rules on arrays: weak scalars, float64 IEEE, one rounding."""
        like = (a if isinstance(a, Tensor) else b).dtype
        a, b = as_tensor(a, like, name), as_tensor(b, like, name)
        require_floating(a, name)
        require_floating(b, name)
        shape = broadcast_shapes(a.shape, b.shape, op=name)
        with np.errstate(all="ignore"):  # IEEE results, past a format's range its infinity, without warnings
            y = f(_wide(a), _wide(b))
            return ArrayTensor(np.broadcast_to(y, shape).astype(NUMPY_FORMATS[promote(a.dtype, b.dtype).name]))

    def __mul__(self, other): return self._binary("mul", self, other, np.multiply)
    def __rmul__(self, other): return self._binary("mul", other, self, np.multiply)
    def __truediv__(self, other): return self._binary("div", self, other, _divide)
    def __rtruediv__(self, other): return self._binary("div", other, self, _divide)

    def astype(self, dtype: DType | str) -> Tensor:
        """``ops.astype``: a floating format rounds each value once (TENSOR-6), bool is "nonzero"."""
        dtype = get_dtype(dtype)
        if not dtype.is_floating:
            return ArrayTensor(self.array != 0)
        with np.errstate(all="ignore"):  # past a format's range is its infinity, as DType.round gives
            return ArrayTensor(self.array.astype(np.float64).astype(NUMPY_FORMATS[dtype.name]))


def array_of(t: Tensor) -> np.ndarray:
    """An engine tensor's values as a numpy array: an ArrayTensor's own, another's converted."""
    if isinstance(t, ArrayTensor):
        return t.array
    if t.dtype is bool_:
        return np.array(t.data, dtype=np.bool_).reshape(t.shape)
    return np.array(t.data, dtype=np.float64).astype(NUMPY_FORMATS[t.dtype.name]).reshape(t.shape)


def keep_tensor(drawn: Sequence[bool] | bool, shape: Shape, like: Tensor) -> Tensor:
    """The keep mask of ``like``'s shape: ``drawn`` (the decisions of a mask of ``shape``, or one
    decision for every element) broadcast; an ArrayTensor where ``like`` is one."""
    if isinstance(like, ArrayTensor):
        mask = np.full(shape, drawn, dtype=np.bool_) if isinstance(drawn, bool) else np.array(drawn, dtype=np.bool_)
        return ArrayTensor(np.broadcast_to(mask.reshape(shape), like.shape).copy())
    if isinstance(drawn, bool):
        return Tensor.from_flat([drawn] * numel(like.shape), like.shape, bool_)
    return Tensor.from_flat([drawn[i] for i in broadcast_index(shape, like.shape)], like.shape, bool_)


class BulkGenerator(Generator):
    """The engine Generator whose ``uniform`` draws of ``SMALL_DRAW`` elements or more are made by
    NumpyGenerator from its state and held as an ArrayTensor: the same uniforms, the same one draw
    taken from the stream (RANDOM-4, RANDOM-7)."""

    __slots__ = ()

    def uniform(self, shape: Shape | int, *, offset: int = 0) -> Tensor:
        size = numel((shape,) if isinstance(shape, int) else shape)
        if size < SMALL_DRAW:
            return super().uniform(shape, offset=offset)
        out = NumpyGenerator.from_state(self.state).uniform(shape, offset=offset)  # refuses before a draw is taken
        self.random_words(0)  # the one draw index the engine's call would have taken
        return ArrayTensor(out)
