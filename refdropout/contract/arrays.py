"""Engine tensors to numpy arrays and back: the one conversion every numpy-based adapter uses.

A capability may be handed numpy arrays instead of engine tensors, and then answers in kind: with
numpy arrays (protocol.py). :func:`as_array` and :func:`in_kind` are that rule for an adapter on
numpy arrays; :class:`EngineArrays` is it for an implementation on engine tensors (the reference,
the mutants), whose capabilities it wraps: numpy in, tensors through the engine, numpy out.

Values cross exactly: an engine tensor holds every element as a Python float already rounded to
its format, so casting it to the numpy format of the same name changes no bit (signed zeros and
NaN included), and casting a numpy result back to float64 is exact. The formats are numpy's
float64, float32 and float16, and bfloat16 where ml_dtypes is installed.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np

from ..dtypes import DType, bool_, get_dtype
from ..tensor import Tensor
from .protocol import CAPABILITIES

__all__ = ["NUMPY_FORMATS", "DTYPES", "to_numpy", "from_numpy", "as_array", "in_kind", "answers_in_kind",
           "EngineArrays"]


def _formats() -> dict[str, np.dtype]:
    formats = {"float64": np.dtype(np.float64), "float32": np.dtype(np.float32), "float16": np.dtype(np.float16)}
    try:
        import ml_dtypes
    except ImportError:
        return formats
    return {**formats, "bfloat16": np.dtype(ml_dtypes.bfloat16)}


# engine format name -> numpy dtype, for the floating formats numpy holds here
NUMPY_FORMATS: dict[str, np.dtype] = _formats()
# the floating formats an adapter on numpy arrays can declare (its ``dtypes``)
DTYPES: tuple[str, ...] = tuple(NUMPY_FORMATS)
_NAMES = {dtype: name for name, dtype in NUMPY_FORMATS.items()}


def to_numpy(x: Tensor) -> np.ndarray:
    """``x`` as a fresh numpy array of its shape and format."""
    if x.dtype is bool_:
        return np.array(x.data, dtype=np.bool_).reshape(x.shape)
    if x.dtype.name not in NUMPY_FORMATS:
        raise TypeError(f"x has dtype {x.dtype.name}, which numpy cannot hold here (formats: {', '.join(DTYPES)})")
    return np.array(x.data, dtype=np.float64).astype(NUMPY_FORMATS[x.dtype.name]).reshape(x.shape)


def from_numpy(a: object) -> Tensor:
    """A numpy array (or anything ``np.asarray`` takes) as an engine tensor of its shape and format."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return Tensor.from_flat(a.ravel().tolist(), a.shape, bool_)
    if a.dtype not in _NAMES:
        raise TypeError(f"expected a numpy array of {', '.join(DTYPES)} or bool, got dtype {a.dtype}")
    dtype: DType = get_dtype(_NAMES[a.dtype])
    return Tensor.from_flat(a.astype(np.float64).ravel().tolist(), a.shape, dtype)


def as_array(x: Tensor | np.ndarray) -> np.ndarray:
    """x as a numpy array: itself when it is one, an engine tensor converted (to_numpy)."""
    return x if isinstance(x, np.ndarray) else to_numpy(x)


def in_kind(y: np.ndarray | np.generic, like: object) -> Tensor | np.ndarray:
    """A numpy result ``y`` in the kind of the argument ``like``: a numpy array for a numpy array (a
    numpy scalar, which numpy's arithmetic returns for 0-d operands, as a 0-d array), an engine
    tensor (from_numpy) otherwise."""
    return np.asarray(y) if isinstance(like, np.ndarray) else from_numpy(y)


def _arrays(value: object, array_of: Callable[[Tensor], np.ndarray]) -> object:
    """A result on engine tensors with every tensor, in tuples too, a numpy array; a function returned
    (a stream's call) answers in kind as well."""
    if isinstance(value, Tensor):
        return array_of(value)
    if isinstance(value, tuple):
        items = [_arrays(item, array_of) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    return value


def answers_in_kind(function: Callable[..., Any], tensor_of: Callable[[np.ndarray], Tensor] = from_numpy,
                    array_of: Callable[[Tensor], np.ndarray] = to_numpy) -> Callable[..., Any]:
    """``function`` on engine tensors as a function that also takes numpy arrays: given any, it runs on
    them as tensors (``tensor_of`` each) and answers with numpy arrays (``array_of`` each tensor). A plain
    function it returns (``dropout_stream``'s call) is wrapped alike, since the arrays reach it later."""
    if getattr(function, "answers_in_kind", False):
        return function

    def tensors(value: object) -> object:
        return tensor_of(value) if isinstance(value, np.ndarray) else value

    def in_kind(result: object, arrays: bool) -> object:
        if isinstance(result, types.FunctionType):
            return answers_in_kind(result, tensor_of, array_of)
        return _arrays(result, array_of) if arrays else result

    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        if not any(isinstance(a, np.ndarray) for a in (*args, *kwargs.values())):
            return in_kind(function(*args, **kwargs), False)
        return in_kind(function(*map(tensors, args), **{k: tensors(v) for k, v in kwargs.items()}), True)

    call.answers_in_kind = True  # type: ignore[attr-defined]
    return call


class EngineArrays:
    """A base for implementations on engine tensors: every capability it or a subclass defines
    (protocol.CAPABILITIES) answers in kind (:func:`answers_in_kind`). Layers and networks that a
    capability returns (``dropout_module``, ``recurrent_*``) still take engine tensors. ``tensor_of`` and
    ``array_of`` convert at the door; a subclass may set others that keep every value (the catalogue's
    textbook dropout keeps the arrays themselves, refdropout.adapters.array_tensor)."""

    tensor_of: Callable[[np.ndarray], Tensor] = staticmethod(from_numpy)
    array_of: Callable[[Tensor], np.ndarray] = staticmethod(to_numpy)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for capability in CAPABILITIES:
            method = cls.__dict__.get(capability)
            if isinstance(method, types.FunctionType):
                setattr(cls, capability, answers_in_kind(method, cls.tensor_of, cls.array_of))
