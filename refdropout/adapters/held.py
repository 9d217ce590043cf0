"""A state of a framework's global generator, held apart from it: ``with state:`` draws from it.

PyTorch, Paddle and MLX draw dropout's randomness from one global generator, so a seeded call of
the contract runs against a state of its own: entering puts the held state into the global
generator and keeps the caller's; leaving keeps the advanced state for the next ``with`` and puts
the caller's back. Successive ``with`` blocks continue one stream, and the caller's stream never
moves. Each adapter says how its framework's state is read and written (:meth:`HeldState.read`,
:meth:`HeldState.write`).
"""

from __future__ import annotations

from typing import Any, Self

__all__ = ["HeldState"]


class HeldState:
    """``held``, a state of the framework's global generator kept apart from it, and the states of the
    callers of the ``with`` blocks it is in."""

    def __init__(self, state: Any) -> None:
        self.held, self._caller = state, []

    def read(self) -> Any:
        """The global generator's state now."""
        raise NotImplementedError

    def write(self, state: Any) -> None:
        """Put ``state`` into the global generator."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._caller.append(self.read())
        self.write(self.held)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.held = self.read()
        self.write(self._caller.pop())
