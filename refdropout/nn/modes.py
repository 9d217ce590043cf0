"""Which mode a module runs in: training or inference (spec/modes.md, MODES-4 to MODES-6).

The mode of a call is resolved in this order, the first that is set winning:

1. an explicit ``training=`` argument of the call itself;
2. the ``training=`` an enclosing module call was given explicitly, passed down to every
   module it calls (Keras);
3. the global learning phase, set by ``set_learning_phase`` or the ``learning_phase`` context
   (the old Keras backend's ``K.set_learning_phase(0)`` for inference);
4. the module's own ``training`` flag, set by ``train()`` / ``eval()`` (PyTorch).
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from ..values import shown

__all__ = ["check_mode", "learning_phase", "set_learning_phase", "get_learning_phase", "resolve_mode", "passing_down",
           "own_flags"]

_passed_down: ContextVar[bool | None] = ContextVar("refdropout_passed_down_training", default=None)
_learning_phase: ContextVar[bool | None] = ContextVar("refdropout_learning_phase", default=None)


def check_mode(mode: object, name: str = "mode") -> bool:
    """A mode is a bool; anything else (1, "train", None) raises TypeError (MODES-4)."""
    if not isinstance(mode, bool):
        raise TypeError(f"{name} must be a bool (True for training, False for inference), got {shown(mode)}")
    return mode


def _check_phase(phase: object, op: str, allowed: str) -> bool:
    """A learning phase: the int 0 or 1 (True and False included); a float or a tensor is refused."""
    if not (isinstance(phase, numbers.Integral) and phase in (0, 1)):
        raise ValueError(f"{op}: phase must be {allowed}, got {shown(phase)}")
    return bool(phase)


def set_learning_phase(phase: int | bool | None) -> None:
    """Set the global learning phase: 1 or True trains, 0 or False infers, None unsets it."""
    _learning_phase.set(None if phase is None else _check_phase(phase, "set_learning_phase",
                                                                "0, 1, True, False or None"))


def get_learning_phase() -> bool | None:
    return _learning_phase.get()


@contextmanager
def learning_phase(phase: int | bool) -> Iterator[None]:
    """The global learning phase set for the duration of a ``with`` block."""
    token = _learning_phase.set(_check_phase(phase, "learning_phase", "0, 1, True or False"))
    try:
        yield
    finally:
        _learning_phase.reset(token)


def resolve_mode(explicit: bool | None, own_flag: bool) -> bool:
    """The mode of one module call, by the order in the module docstring (MODES-5)."""
    if explicit is not None:
        return check_mode(explicit, "training")
    for inherited in (_passed_down.get(), _learning_phase.get()):
        if inherited is not None:
            return inherited
    return own_flag


@contextmanager
def passing_down(explicit: bool | None) -> Iterator[None]:
    """Inside a call given ``training=`` explicitly, every nested call inherits it (MODES-5)."""
    if explicit is None:
        yield
        return
    token = _passed_down.set(explicit)
    try:
        yield
    finally:
        _passed_down.reset(token)


@contextmanager
def own_flags() -> Iterator[None]:
    """Inside, no mode is passed down and no learning phase is set: a module call without an explicit
    ``training=`` runs in the mode of its own flag (step 4), which is how ``mc_predict`` runs its dropout
    modules in training and every other module in inference (spec/ensemble.md, ENSEMBLE-10)."""
    passed, phase = _passed_down.set(None), _learning_phase.set(None)
    try:
        yield
    finally:
        _learning_phase.reset(phase)
        _passed_down.reset(passed)
