"""An adapter run in a child process of its own, its capabilities called through a pipe.

Some frameworks are configured once per process, before they are first imported: Keras picks its
backend from ``KERAS_BACKEND`` then. A target on another configuration than the run's process has
(or than another target of the same run needs) is an :class:`Isolated` subclass naming the adapter
class it ``serves``, the keyword ``options`` that class is made with, and the ``environment`` the
child process starts in. Making it starts ``python -m refdropout.adapters.isolated`` with that
environment, which makes the served adapter; a failure to start is an exception of the constructor,
so a setup error of the run, with the child's own message.

Calls. Each capability the served class defines is a method of the subclass that sends its
arguments (numpy arrays, engine tensors, numbers, tuples and lists of them) pickled through a pipe
and waits for the answer, in the run's process and so under its guard: its time limit interrupts
the wait, its time counts the child's work, and the child's output (its file descriptors 1 and 2
point to a file of its own) comes back with each answer and is written to this process's, where
the guard captures it. What a call returns that is no such value (a stream, a module, a checkpointed
step) stays in the child and comes back as a :class:`Remote` whose methods and calls are sent the
same way; passed back as an argument (``sequential(*modules)``) it is the child's object again.
An exception the served adapter raises is raised here as the nearest built-in exception class of
its type (a framework's ``InvalidArgumentError``, a ValueError, is a ValueError), its message
naming the framework's type.

A call interrupted here (a time limit, Ctrl-C) leaves the child busy and the pipe mid-answer: the
next call ends that child and starts a fresh one, whose objects are new (a Remote of the old
child then raises RuntimeError). A child that dies is a RuntimeError of the call, with its exit
status. The child ignores SIGINT (the run's Ctrl-C is the run's) and exits when its pipe closes.
"""

from __future__ import annotations

import builtins
import itertools
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import weakref
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, ClassVar

from ..contract import CAPABILITIES

__all__ = ["Isolated", "Remote"]

ROOT = str(Path(__file__).resolve().parents[2])  # the directory that holds the refdropout package
DATA = (int, float, complex, str, bytes, type(None))  # bool is an int


@dataclass(frozen=True)
class _Handle:
    """An object that lives in the child, by its number there."""

    number: int


@dataclass(frozen=True)
class _Raised:
    """What the child's call raised: the nearest built-in exception class, its text, the traceback."""

    builtin: str
    text: str
    traceback: str
    code: object = None  # SystemExit's


def _is_data(value: object) -> bool:
    """A value that crosses by value: a number, text, a numpy array or scalar, an engine tensor."""
    module = type(value).__module__
    return isinstance(value, DATA) or module.startswith("numpy") or module == "refdropout.tensor"


def _outgoing(value: object, keep: Any) -> object:
    """``value`` made fit to cross: data as it is, tuples, lists and dicts item by item, anything else
    ``keep(value)``."""
    if _is_data(value):
        return value
    if isinstance(value, (tuple, list)):
        items = [_outgoing(item, keep) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    if isinstance(value, dict):
        return {key: _outgoing(item, keep) for key, item in value.items()}
    return keep(value)


# ---- the run's side ---------------------------------------------------------------------------------


class _Child:
    """The child process of one adapter and its pipes; ``generation`` counts the processes started."""

    def __init__(self, adapter: str, options: dict[str, object], environment: dict[str, str], label: str) -> None:
        path = os.environ.get("PYTHONPATH")  # taken now: a restarted child starts as the first did
        self.adapter, self.options, self.label = adapter, options, label
        self.environment = {**os.environ, **environment, "PYTHONPATH": ROOT + (os.pathsep + path if path else "")}
        self.generation = 0
        self.process: subprocess.Popen | None = None
        self.broken = False
        self.released: list[int] = []  # numbers of the child's objects no Remote holds any more
        self.remotes: weakref.WeakValueDictionary[int, Remote] = weakref.WeakValueDictionary()
        self._start()

    def _start(self) -> None:
        child_in, self_out = os.pipe()
        self_in, child_out = os.pipe()
        command = [sys.executable, "-m", __name__, str(child_in), str(child_out), self.adapter,
                   pickle.dumps(self.options).hex()]
        try:
            self.process = subprocess.Popen(command, pass_fds=(child_in, child_out), env=self.environment,
                                            stdin=subprocess.DEVNULL)
        finally:
            os.close(child_in)
            os.close(child_out)
        self.sending, self.receiving = Connection(self_out, readable=False), Connection(self_in, writable=False)
        self.generation += 1
        self.broken, self.released = False, []
        self.remotes = weakref.WeakValueDictionary()
        weakref.finalize(self, _stop, self.process, self.sending, self.receiving)
        status, value = self._answer()  # whether the child made the adapter
        if status == "raised":
            self.broken = True
            raise _rebuilt(value)

    def call(self, number: int, generation: int | None, name: str, args: tuple, kwargs: dict) -> Any:
        """``name(*args, **kwargs)`` of the child's object ``number`` made in ``generation`` (the adapter:
        number 0, of every generation, None)."""
        if self.broken:
            self._restart()
        if generation not in (None, self.generation):
            raise RuntimeError(f"this object of {self.label} lived in its child process, which was ended after a "
                               "call that did not return (a time limit, an interrupt) and replaced")
        request = (number, name, _outgoing(args, self._handle), _outgoing(kwargs, self._handle), self.released)
        self.released = []
        try:
            self.sending.send(request)
            status, value = self._answer()
        except BaseException:
            self.broken = True  # an answer may still be on its way: the pipe is out of step
            raise
        if status == "raised":
            raise _rebuilt(value)
        return _outgoing(value, self._remote)

    def _handle(self, value: object) -> object:
        """An argument as it crosses: one of the child's objects by its number, anything else pickled."""
        if isinstance(value, Remote):
            if value._child is not self:
                raise TypeError(f"{self.label} was given an object of another target")
            return _Handle(value._number)
        return value

    def _answer(self) -> tuple[str, Any]:
        """The child's next answer, ("ok", value) or ("raised", _Raised), its output written out."""
        try:
            status, value, output = self.receiving.recv()
        except (EOFError, OSError) as error:
            assert self.process is not None
            try:
                code = self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            status = "no exit status" if code is None else f"exit status {code}"
            raise RuntimeError(f"the child process of {self.label} ended ({status}) without answering") from error
        while output:  # to this process's stderr, where the guard captures a call's output
            output = output[os.write(2, output):]
        return status, value

    def _remote(self, handle: _Handle) -> Remote:
        """One Remote per object of the child, so a method returning its object returns the same Remote."""
        remote = self.remotes.get(handle.number)
        if remote is None:
            remote = Remote(self, handle.number)
            self.remotes[handle.number] = remote
        return remote

    def _restart(self) -> None:
        _stop(self.process, self.sending, self.receiving)
        self._start()


def _rebuilt(raised: _Raised) -> BaseException:
    """The exception to raise here for one the child's call raised."""
    builtin = getattr(builtins, raised.builtin, None)
    if builtin is SystemExit:
        return SystemExit(raised.code)
    error = builtin(raised.text) if isinstance(builtin, type) and issubclass(builtin, BaseException) \
        else RuntimeError(raised.text)
    error.__cause__ = _ChildTraceback(raised.traceback)
    return error


class _ChildTraceback(Exception):
    """The traceback of an exception raised in the child process, as its text."""


def _stop(process: subprocess.Popen | None, *pipes: Connection) -> None:
    for pipe in pipes:
        pipe.close()
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


class Remote:
    """An object of the child (a stream, a module, a step): its methods, and calling it, are calls sent there."""

    def __init__(self, child: _Child, number: int) -> None:
        self._child, self._number, self._generation = child, number, child.generation

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._child.call(self._number, self._generation, name, args, kwargs)

        method.__name__ = name
        return method

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._child.call(self._number, self._generation, "__call__", args, kwargs)

    def __del__(self) -> None:
        if self._generation == self._child.generation:
            self._child.released.append(self._number)


def _forwarding(name: str) -> Any:
    def capability(self: Isolated, *args: Any, **kwargs: Any) -> Any:
        return self._child.call(0, None, name, args, kwargs)

    capability.__name__ = capability.__qualname__ = name
    capability.__doc__ = f"The served adapter's ``{CAPABILITIES[name]}``, called in the child process."
    return capability


class Isolated:
    """An adapter whose capabilities are those of the class it ``serves``, made in a child process
    with ``options`` and ``environment`` (class attributes) and called there."""

    serves: ClassVar[type]
    options: ClassVar[dict[str, object]] = {}
    environment: ClassVar[dict[str, str]] = {}
    name: ClassVar[str]

    def __init_subclass__(cls, serves: type | None = None, **kwargs: Any) -> None:
        """``serves``: the adapter class to make in the child (a subclass of an Isolated class that names
        none, as a test's redeclaration, serves what its base serves)."""
        super().__init_subclass__(**kwargs)
        if serves is None:
            return
        cls.serves = serves
        for name in CAPABILITIES:
            if callable(getattr(serves, name, None)):
                setattr(cls, name, _forwarding(name))

    def __init__(self) -> None:
        served = f"{self.serves.__module__}:{self.serves.__qualname__}"
        self._child = _Child(served, dict(self.options), dict(self.environment), f"target {self.name!r}")


# ---- the child's side ------------------------------------------------------------------------------


def _raised(error: BaseException) -> _Raised:
    import traceback

    builtin = next(c for c in type(error).__mro__ if c.__module__ == "builtins")
    own = type(error) is builtin
    text = str(error) if own else f"{type(error).__module__}.{type(error).__qualname__}: {error}"
    return _Raised(builtin.__name__, text, "".join(traceback.format_exception(error)),
                   error.code if isinstance(error, SystemExit) else None)


def _serve(receiving: Connection, sending: Connection, adapter: str, options: dict[str, object]) -> None:
    """Make ``adapter`` (``module:Class``) with ``options`` and answer so, then answer each call until the
    pipe closes."""
    import importlib

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    output = tempfile.TemporaryFile()
    os.dup2(output.fileno(), 1)
    os.dup2(output.fileno(), 2)
    sys.stdout = sys.stderr = open(os.dup(output.fileno()), "w", buffering=1, encoding="utf-8",
                                   errors="backslashreplace")

    def taken() -> bytes:
        sys.stdout.flush()
        output.seek(0)
        data = output.read()
        output.seek(0)
        output.truncate()
        return data

    objects: dict[int, object] = {}
    numbers: dict[int, int] = {}  # id(object) -> its number
    counter = itertools.count(1)

    def kept(value: object) -> _Handle:
        if id(value) not in numbers:
            numbers[id(value)] = next(counter)
            objects[numbers[id(value)]] = value
        return _Handle(numbers[id(value)])

    def incoming(value: object) -> object:
        if isinstance(value, _Handle):
            return objects[value.number]
        if isinstance(value, (tuple, list)) and not hasattr(value, "_fields"):
            return type(value)(incoming(item) for item in value)
        if isinstance(value, dict):
            return {key: incoming(item) for key, item in value.items()}
        return value

    try:
        module, _, name = adapter.partition(":")
        objects[0] = getattr(importlib.import_module(module), name)(**options)
    except BaseException as error:  # noqa: BLE001  (any failure to start is the answer)
        sending.send(("raised", _raised(error), taken()))
        return
    sending.send(("ok", None, taken()))
    while True:
        try:
            number, method, args, kwargs, released = receiving.recv()
        except EOFError:
            return
        for gone in released:
            numbers.pop(id(objects.pop(gone, None)), None)
        try:
            target = objects[number]
            result = _outgoing(getattr(target, method)(*incoming(args), **incoming(kwargs)), kept)
        except BaseException as error:  # noqa: BLE001  (whatever the adapter raises is the answer)
            sending.send(("raised", _raised(error), taken()))
        else:
            sending.send(("ok", result, taken()))


if __name__ == "__main__":  # the module's own classes, not __main__'s, must cross the pipe
    from refdropout.adapters.isolated import _serve as serve

    serve(Connection(int(sys.argv[1]), writable=False), Connection(int(sys.argv[2]), readable=False), sys.argv[3],
           pickle.loads(bytes.fromhex(sys.argv[4])))
