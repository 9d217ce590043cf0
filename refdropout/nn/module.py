"""Modules: parameters, children and a train/eval flag (spec/modes.md, MODES-1 and MODES-4).

A module registers the tensors that require gradients and the modules it holds as
attributes, in assignment order. ``train(mode)`` and ``eval()`` set the flag of the module
and of every module below it. Calling a module resolves its mode (refdropout.nn.modes) and
runs ``forward(*inputs, training=mode)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..tensor import Tensor
from .modes import check_mode, passing_down, resolve_mode

__all__ = ["Module"]


class Module:
    """Base class of the network layer."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_children", {})
        object.__setattr__(self, "_parameters", {})

    def __setattr__(self, name: str, value: Any) -> None:
        if not hasattr(self, "_children"):
            raise RuntimeError(f"{type(self).__name__}.__init__ must call Module.__init__() before assigning {name!r}")
        self._children.pop(name, None)
        self._parameters.pop(name, None)
        if isinstance(value, Module):
            self._children[name] = value
        elif isinstance(value, Tensor) and value.requires_grad:
            self._parameters[name] = value
        object.__setattr__(self, name, value)

    # ---- structure --------------------------------------------------------------------

    def children(self) -> Iterator[Module]:
        yield from self._children.values()

    def modules(self) -> Iterator[Module]:
        """This module and every module below it, depth first, in registration order; a module
        held in two places (shared weights) comes once (MODES-1)."""
        seen: set[int] = set()
        stack = [self]
        while stack:
            module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield module
            stack.extend(reversed(list(module.children())))

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Tensor]]:
        """Every parameter with its dotted path, in registration order; a shared one comes once,
        under its first path, so that an optimizer updates it once (MODES-1)."""
        seen: set[int] = set()
        for path, p in self._named_parameters(prefix):
            if id(p) not in seen:
                seen.add(id(p))
                yield path, p

    def _named_parameters(self, prefix: str) -> Iterator[tuple[str, Tensor]]:
        for name, p in self._parameters.items():
            yield prefix + name, p
        for name, child in self._children.items():
            yield from child._named_parameters(f"{prefix}{name}.")

    def parameters(self) -> list[Tensor]:
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    # ---- modes ------------------------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set the training flag of this module and, through their own ``train``, of every module
        below it, so that a module overriding ``train`` is honoured (MODES-4)."""
        check_mode(mode)
        object.__setattr__(self, "training", mode)
        for child in self.children():
            child.train(mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    # ---- calling ----------------------------------------------------------------------

    def forward(self, *inputs: Any, training: bool) -> Any:
        raise NotImplementedError(f"{type(self).__name__} defines no forward")

    def __call__(self, *inputs: Any, training: bool | None = None) -> Any:
        mode = resolve_mode(training, self.training)
        with passing_down(training):
            return self.forward(*inputs, training=mode)
