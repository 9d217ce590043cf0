"""A plain function on numpy arrays as a conformance target.

``refdropout check package.module:function`` checks any

    function(x, p, *, training, seed) -> y

that takes a numpy array ``x`` and returns a numpy array of the same shape and dtype. The function
provides the protocol's one required method, ``dropout``, and so gets every clause of standard
dropout that needs nothing more; it is checked in float64 and float32 and under the default
policies (refdropout.contract). An adapter class declares anything further.
"""

from __future__ import annotations

from collections.abc import Callable

from ..contract.arrays import from_numpy, to_numpy
from ..tensor import Tensor

__all__ = ["FunctionDropout"]


class FunctionDropout:
    """``function(x, p, *, training, seed)`` on numpy arrays behind the conformance protocol."""

    def __init__(self, function: Callable[..., object], name: str) -> None:
        self.function = function
        self.name = name

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return from_numpy(self.function(to_numpy(x), p, training=training, seed=seed))
