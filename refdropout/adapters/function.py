"""A plain function on numpy arrays as a conformance target.

``refdropout check package.module:function`` checks any

    function(x, p, *, training, seed) -> y

that takes a numpy array ``x`` and returns a numpy array of the same shape and dtype. The function
provides the protocol's one required method, ``dropout``, and so gets every clause of standard
dropout that needs nothing more; it is checked in float64 and float32 and under the default
policies (refdropout.contract) unless it declares others with the decorator
:func:`refdropout.contract.target` (policies, dtypes, name), which this wrapper reads. An adapter
class declares anything further.

Seeds are any integer in [0, 2**64) (the contract's range): half of them do not fit a signed 64-bit
integer, and a function that overflows on a seed >= 2**63 (OverflowError: "Python int too large
to convert to C long") has its exception's message say so, naming the seed and the range.

A result that is not a numpy array of x's shape and dtype is refused before it is converted (a
:class:`~refdropout.contract.protocol.ContractViolation`, RUNNER-8): converting means a Python
float per element, so an enormous array would exhaust the memory of the run that judges it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..contract.arrays import as_array, in_kind
from ..contract.declarations import DECLARED
from ..contract.policies import Policies
from ..contract.protocol import ContractViolation
from ..tensor import Tensor
from .imported import CallImports

__all__ = ["FunctionDropout"]


class FunctionDropout:
    """``function(x, p, *, training, seed)`` on numpy arrays behind the conformance protocol; a
    numpy x is handed over as it is and the result returned as it is (contract: answers in kind).
    ``decorated``: what the function declares with :func:`refdropout.contract.target` (its
    ``policies`` by name, and ``dtypes`` and ``name`` where given), which the wrapper declares in turn;
    ``call_imports``: the packages its calls imported (a framework imported in the function's body),
    which reports name as imported by the target."""

    def __init__(self, function: Callable[..., object], name: str) -> None:
        self.function = function
        self.decorated = getattr(function, DECLARED, {"policies": {}})
        self.name = self.decorated.get("name", name)
        self.policies = Policies(**self.decorated["policies"])
        if "dtypes" in self.decorated:
            self.dtypes = self.decorated["dtypes"]
        self.call_imports = CallImports()

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        array = as_array(x)
        try:
            y = self.call_imports.call(self.function, array, p, training=training, seed=seed)
        except OverflowError as error:
            named = _naming_the_seed(error, seed)
            if named is None:
                raise
            raise named from error
        return in_kind(_like(y, array), x)


SIGNED_BOUND = 2**63  # a seed at or above it does not fit a C long (int64)


def _naming_the_seed(error: OverflowError, seed: int) -> OverflowError | None:
    """For a seed >= 2**63, an overflow of ``error``'s type whose message adds the seed and the
    contract's range; None for a smaller seed, or a type that cannot be made from a message."""
    if not (isinstance(seed, int) and seed >= SIGNED_BOUND):
        return None
    try:
        return type(error)(f"{error} (seed {seed} >= 2**63: the plain-function contract passes any seed in"
                           " [0, 2**64), which needs 64 unsigned bits)")
    except Exception:  # noqa: BLE001  (an exception type that takes no message as its only argument)
        return None


def _like(y: object, x: np.ndarray) -> np.ndarray | np.generic:
    """``y`` when it is a numpy array (or scalar) of x's shape and dtype; a ContractViolation otherwise."""
    if not isinstance(y, (np.ndarray, np.generic)):
        raise ContractViolation(f"returned a {type(y).__name__}, not a numpy array")
    if y.shape != x.shape:
        raise ContractViolation(f"returned shape {y.shape} for x of shape {x.shape}")
    if y.dtype != x.dtype:
        raise ContractViolation(f"returned dtype {y.dtype} for x of dtype {x.dtype}")
    return y
