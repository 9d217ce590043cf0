"""Engine tensors to numpy arrays and back: the one conversion every numpy-based adapter uses.

Values cross exactly: an engine tensor holds every element as a Python float already rounded to
its format, so casting it to the numpy format of the same name changes no bit (signed zeros and
NaN included), and casting a numpy result back to float64 is exact. The formats are numpy's
float64, float32 and float16, and bfloat16 where ml_dtypes is installed.
"""

from __future__ import annotations

import numpy as np

from ..dtypes import DType, bool_, get_dtype
from ..tensor import Tensor

__all__ = ["NUMPY_FORMATS", "DTYPES", "to_numpy", "from_numpy"]


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
