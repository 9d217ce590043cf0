"""What a check is run against: an implementation of dropout and the capabilities it declares.

An implementation is any object with the required method

    dropout(x, p, *, training, seed) -> Tensor

taking and returning engine tensors (adapters convert to and from their framework's arrays).
Every further capability is an optional method; a check names the capabilities it needs and is
reported "not applicable" for an implementation without them, never passed. Implementations
also declare their policies where the spec allows more than one behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ..tensor import Tensor

__all__ = ["Implementation", "Policies", "CAPABILITIES", "has_capability", "missing_capabilities", "policies_of"]


@dataclass(frozen=True)
class Policies:
    """The behaviours an implementation declares where the spec names more than one.

    ``scaling``: "inverted" (train x m / q, eval x) or "classic" (train x m, eval q x) (DROPOUT-2).
    ``nonfinite``: what a dropped NaN or inf becomes: "multiply" (IEEE 0 * NaN = NaN) or
    "select" (0) (DROPOUT-8).
    """

    scaling: str = "inverted"
    nonfinite: str = "multiply"


@runtime_checkable
class Implementation(Protocol):
    """The one method every implementation has; see CAPABILITIES for the optional ones."""

    name: str

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor: ...


# capability -> (method name, signature as documentation)
CAPABILITIES: dict[str, str] = {
    "dropout": "dropout(x, p, *, training, seed) -> y",
    "dropout_with_mask": "dropout_with_mask(x, p, *, seed) -> (y, keep mask as a bool tensor of x's shape)",
    "dropout_vjp": "dropout_vjp(x, p, g, *, training, seed) -> (y, dL/dx for upstream gradient g)",
    "dropout_stream": "dropout_stream(seed) -> call(x, p, *, training) -> y, successive calls drawing fresh masks from one seeded state",
    "dropout_noise_shape": "dropout_noise_shape(x, p, noise_shape, *, training, seed) -> y, one mask value shared where noise_shape is 1",
}


def has_capability(impl: object, capability: str) -> bool:
    """True when ``impl`` has the method that provides ``capability``."""
    return callable(getattr(impl, capability, None))


def missing_capabilities(impl: object, needs: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in needs if not has_capability(impl, c))


def policies_of(impl: object) -> Policies:
    """The policies ``impl`` declares; the defaults of :class:`Policies` when it declares none."""
    declared = getattr(impl, "policies", None)
    return declared if isinstance(declared, Policies) else Policies()


