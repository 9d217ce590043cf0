"""A plain function on numpy arrays as a conformance target.

``refdropout check package.module:function`` checks any

    function(x, p, *, training, seed) -> y

that takes a numpy array ``x`` and returns a numpy array of the same shape and dtype. The function
provides the protocol's one required method, ``dropout``, and so gets every clause of standard
dropout that needs nothing more; it is checked in float64 and float32 and under the default
policies (refdropout.contract). An adapter class declares anything further.

A result that is not a numpy array of x's shape and dtype is refused before it is converted (a
:class:`~refdropout.contract.protocol.ContractViolation`, RUNNER-8): converting means a Python
float per element, so an enormous array would exhaust the memory of the run that judges it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..contract.arrays import as_array, in_kind
from ..contract.protocol import ContractViolation
from ..tensor import Tensor

__all__ = ["FunctionDropout"]


class FunctionDropout:
    """``function(x, p, *, training, seed)`` on numpy arrays behind the conformance protocol; a
    numpy x is handed over as it is and the result returned as it is (contract: answers in kind)."""

    def __init__(self, function: Callable[..., object], name: str) -> None:
        self.function = function
        self.name = name

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        array = as_array(x)
        return in_kind(_like(self.function(array, p, training=training, seed=seed), array), x)


def _like(y: object, x: np.ndarray) -> np.ndarray | np.generic:
    """``y`` when it is a numpy array (or scalar) of x's shape and dtype; a ContractViolation otherwise."""
    if not isinstance(y, (np.ndarray, np.generic)):
        raise ContractViolation(f"returned a {type(y).__name__}, not a numpy array")
    if y.shape != x.shape:
        raise ContractViolation(f"returned shape {y.shape} for x of shape {x.shape}")
    if y.dtype != x.dtype:
        raise ContractViolation(f"returned dtype {y.dtype} for x of dtype {x.dtype}")
    return y
