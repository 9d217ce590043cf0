"""Adapters that tests/test_adapter_keras.py serves in a child process (refdropout.adapters.isolated):
each capability does one thing a target can do to its caller, on numpy arrays."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from refdropout.adapters.isolated import Isolated


class FrameworkError(ValueError):
    """An exception of a framework's own type."""


class _Counter:
    """A stream: counts its calls; ``itself`` returns it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, x: np.ndarray, p: float, *, training: bool) -> np.ndarray:
        self.calls += 1
        return x * self.calls

    def itself(self) -> _Counter:
        return self


class Served:
    """Its dropout is x where p = 0 and otherwise does what p says: 0.1 prints (at both file descriptors),
    0.2 raises FrameworkError, 0.3 sleeps for a minute, 0.4 ends the process with status 3."""

    def dropout(self, x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
        if p == 0.1:
            print("to stdout")
            os.write(2, b"to fd 2\n")
        elif p == 0.2:
            raise FrameworkError(f"p={p} refused")
        elif p == 0.3:
            time.sleep(60)
        elif p == 0.4:
            sys.stdout.flush()
            os._exit(3)
        return x

    def dropout_stream(self, seed: int) -> _Counter:
        return _Counter()


class IsolatedServed(Isolated, serves=Served):
    name = "served"
    environment = {"SERVED_MARK": "child"}
