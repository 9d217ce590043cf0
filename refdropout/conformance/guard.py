"""The implementation as a check sees it: every call watched (spec/runner.md).

The runner hands each check ``guard.view(impl)``, never the implementation itself. Every call of a
capability, and every call on what a capability returns (the stream of ``dropout_stream``, the
layers of ``dropout_module`` and ``sequential`` with ``train()``, ``eval()`` and their calls, the
networks of ``recurrent_*``), runs under the guard, which

* limits its time (RUNNER-6): SIGALRM, armed with ``setitimer`` in the main thread, raises
  :class:`CallTimedOut` inside the call, again every second until it returns. Like every failure
  the guard raises it is a BaseException, so a check's ``except Exception``, which reads a refusal
  (DROPOUT-3 expects a bad p to raise), cannot take it for one. Python code, and C code that checks
  for signals (``time.sleep``, blocking I/O, numpy's loops), is interrupted; C code that never
  returns to the interpreter is not: for it the command line arms a :class:`Backstop`;
* records the exceptions the implementation raised (RUNNER-5): the runner blames the
  implementation for an exception that escapes a check only when it is one of them, or was raised
  from one; every other is an error of the suite;
* turns what the implementation raises beyond Exception (``sys.exit``, a KeyboardInterrupt of its
  own, GeneratorExit, an adapter's ContractViolation) into :class:`CallFailed` naming the call
  (RUNNER-7, RUNNER-8): never a pass, never the end of the run;
* counts the seconds spent inside the implementation (``inside``: outermost calls only, adapter
  glue and conversions included), so a run can say how much of its time was the implementation's
  and how much the suite's;
* captures its output (RUNNER-12) where the process is the run's own (the command line; pytest
  captures output itself): file descriptors 1 and 2 point to a temporary file during each call, so
  output written by C code is captured too.

What goes back into the implementation (a layer given to ``sequential``, a network to
``recurrent_masks``) is unwrapped: the implementation never sees the guard.

:func:`interruptible` makes SIGINT and SIGTERM raise :class:`Interrupted`, which tells the user's
Ctrl-C from a KeyboardInterrupt the implementation raises itself (RUNNER-11).
"""

from __future__ import annotations

import ctypes
import faulthandler
import itertools
import math
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..adapters.imported import CallImports
from ..contract import CAPABILITIES
from ..contract.protocol import ContractViolation, shortened
from ..tensor import Tensor

__all__ = ["BACKSTOP_GRACE", "DEFAULT_TIMEOUT", "Backstop", "Call", "CallFailed", "CallTimedOut", "Guard",
           "Interrupted", "Output", "Watch", "backstop_window", "interruptible"]

# Set at ten times the longest call of the reference at the standard profile on a 2-core machine when
# that was RECURRENT-9's pure-Python network, about a minute; since the reference answers statistical
# samples through its numpy path its calls take seconds, and a fast implementation's milliseconds:
# the limit is generous, for an implementation slower than ours, not tuned to it.
DEFAULT_TIMEOUT = 600.0
BACKSTOP_GRACE = 60.0  # seconds the backstop waits beyond twice the time limit
RETRY = 1.0  # seconds between the alarms that follow the first, should a call swallow one
OUTPUT_LIMIT = 1 << 20  # bytes of a clause's output kept for the report

# the capabilities that return an object the checks go on calling (refdropout.contract.CAPABILITIES)
LIVE = frozenset({"dropout_stream", "dropout_module", "sequential", "recurrent_between_layers",
                  "recurrent_variational", "checkpointed_dropout", "dropout_stream_state"})


def _positional(signature: str) -> tuple[str, ...]:
    """The names of a signature's positional parameters: ``dropout(x, p, *, training, seed)`` -> (x, p)."""
    parameters = signature[signature.index("(") + 1:signature.index(")")].split(", ")
    return tuple(itertools.takewhile(lambda name: not name.startswith("*"), parameters))


POSITIONAL = {capability: _positional(signature) for capability, signature in CAPABILITIES.items()}


# ---- calls and how they fail ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Call:
    """A call of the implementation as messages name it: ``dropout(x: float32 (8, 16), p=0.3, training=True,
    seed=7)``; ``names`` are its positional parameters' names, where the capability's signature gives them."""

    label: str | _Named  # a guarded object's label is shown when the call is
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    names: tuple[str, ...] = ()

    def __str__(self) -> str:
        shown = [_argument(name, value) for name, value in itertools.zip_longest(self.names[:len(self.args)],
                                                                                 self.args)]
        shown += [f"{name}={_value(value)}" for name, value in self.kwargs.items()]
        return f"{self.label}({', '.join(shown)})"


def _value(value: object) -> str:
    if isinstance(value, Tensor) or type(value).__name__ == "ndarray":  # a numpy array, named without numpy
        return f"{value.dtype.name} {value.shape}"
    if isinstance(value, _Guarded):
        return f"<{value._label}>"
    return shortened(value)


def _argument(name: str | None, value: object) -> str:
    if name is None:
        return _value(value)
    return f"{name}: {_value(value)}" if isinstance(value, Tensor) or type(value).__name__ == "ndarray" \
        else f"{name}={_value(value)}"


def described(error: BaseException) -> str:
    """``TypeName: message`` (the type alone for an empty message), whatever the exception's __str__ does."""
    try:
        message = str(error)
    except Exception:  # noqa: BLE001  (a foreign exception's __str__ may raise anything)
        message = "<its message could not be read>"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


class CallFailed(BaseException):
    """A call that fails its clause whatever the check does with it: it did not return in time, it
    exited, it raised beyond Exception, or its result broke the contract. Its message names the call."""

    def __init__(self, call: Call, what: str) -> None:
        super().__init__(f"{call} {what}")
        self.call = call


class CallTimedOut(CallFailed):
    """A call still running when its time limit passed (RUNNER-6)."""


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM, sent to the run, not raised by the implementation (RUNNER-11)."""

    def __init__(self, signum: int) -> None:
        self.signal = signal.Signals(signum)
        super().__init__(f"interrupted by {self.signal.name}")


def _escaped(error: BaseException) -> str:
    """What a BaseException the implementation raised says about the call."""
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    if isinstance(error, ContractViolation):
        return str(error)
    return f"raised {described(error)}"


# ---- the user's signals ------------------------------------------------------------------------

_received: list[signal.Signals] = []  # the signals interruptible() caught, should a call swallow one


def _interrupt(signum: int, frame: object) -> None:
    _received.append(signal.Signals(signum))
    raise Interrupted(signum)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def interruptible() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM raise :class:`Interrupted` (in the main thread; elsewhere nothing changes)."""
    if not _main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGINT, signal.SIGTERM)}
    _received.clear()
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupts_are_ours() -> bool:
    """True when interruptible() is catching SIGINT: a KeyboardInterrupt is then the implementation's own."""
    return signal.getsignal(signal.SIGINT) is _interrupt


# ---- how a run watches ----------------------------------------------------------------------------


def backstop_window(timeout: float) -> float:
    """How long a run may show no sign of life before the backstop ends it: twice the limit, plus a minute."""
    return 2 * timeout + BACKSTOP_GRACE


@dataclass(frozen=True)
class Watch:
    """How a run watches the implementation's calls.

    ``timeout``: seconds a call may take (0: no limit); ``capture``: capture its output at the
    file-descriptor level (where the process is the run's own, not under pytest); ``backstop``:
    seconds without a call starting or returning after which the process exits (None: no backstop).
    """

    timeout: float = DEFAULT_TIMEOUT
    capture: bool = False
    backstop: float | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout) and self.timeout >= 0):
            raise ValueError(f"timeout must be a number of seconds >= 0, got {self.timeout!r}")


class Backstop:
    """faulthandler's watchdog, a thread of C that needs no interpreter: when the run shows no sign of
    life for ``window`` seconds (a call stuck in C code that never returns to the interpreter), it
    writes every thread's Python stack to ``file`` and ends the process with exit status 1.

    Arming it costs a thread, so a sign of life re-arms it only once a second; a sign of life is a
    call starting or returning, and between clauses it is off.
    """

    def __init__(self, window: float, file: TextIO) -> None:
        self.window = window
        self.file = file
        self.armed = -math.inf

    def pet(self) -> None:
        now = time.monotonic()
        if now - self.armed > 1.0:
            faulthandler.dump_traceback_later(self.window, exit=True, file=self.file)
            self.armed = now

    def stop(self) -> None:
        if self.armed > -math.inf:
            faulthandler.cancel_dump_traceback_later()
            self.armed = -math.inf


def _c_flush() -> Callable[[], object]:
    """The C library's fflush(NULL), which writes out every C stdio buffer; a no-op where there is none."""
    try:
        flush = ctypes.CDLL(None).fflush
    except (OSError, AttributeError, TypeError):
        return lambda: None
    return lambda: flush(None)


class Output:
    """The implementation's output, captured at the file-descriptor level: during each call file
    descriptors 1 and 2 point to one temporary file, and so do ``sys.stdout`` and ``sys.stderr``;
    :meth:`take` reads and empties it."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()
        self.text = open(os.dup(self.file.fileno()), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
        self.saved_fds = (os.dup(1), os.dup(2))
        self.saved_streams = (sys.stdout, sys.stderr)
        self.c_flush = _c_flush()

    def start(self) -> None:
        for stream in (sys.stdout, sys.stderr):  # what the run wrote so far goes where it was meant to
            if stream is not None:
                stream.flush()
        self.c_flush()
        self.saved_streams = (sys.stdout, sys.stderr)
        os.dup2(self.file.fileno(), 1)
        os.dup2(self.file.fileno(), 2)
        sys.stdout = sys.stderr = self.text

    def stop(self) -> None:
        self.text.flush()
        self.c_flush()
        self.restore()

    def restore(self) -> None:
        """The run's own stdout and stderr back, at both levels."""
        sys.stdout, sys.stderr = self.saved_streams
        os.dup2(self.saved_fds[0], 1)
        os.dup2(self.saved_fds[1], 2)

    def take(self) -> str:
        """What was captured since the last take (its first OUTPUT_LIMIT bytes, and how many more)."""
        size = os.fstat(self.file.fileno()).st_size
        self.file.seek(0)
        data = self.file.read(OUTPUT_LIMIT)
        self.file.seek(0)
        self.file.truncate()
        text = data.decode("utf-8", errors="backslashreplace")
        return text + (f"\n[{size - len(data):,} more bytes not kept]\n" if size > len(data) else "")

    def stderr(self) -> TextIO:
        """The run's own stderr, uncaptured: where the backstop writes."""
        return open(os.dup(self.saved_fds[1]), "w")

    def close(self) -> None:
        self.restore()  # should a signal have come between start and stop
        for fd in self.saved_fds:
            os.close(fd)
        self.text.close()
        self.file.close()


# ---- the guard ------------------------------------------------------------------------------------


class Guard:
    """Watches the calls of one run (a context manager): their time, the exceptions they raise, the
    packages they import and, where asked, their output. ``raised`` and ``output`` are per clause (:meth:`clause`)."""

    def __init__(self, watch: Watch) -> None:
        self.watch = watch
        self.inside = 0.0  # seconds inside the implementation's calls, outermost calls only
        self.raised: list[tuple[Call, Exception]] = []
        self.output = ""
        self.busy = False
        self.current: Call | None = None
        self.rang = False
        self.alarm = watch.timeout > 0 and _main_thread()
        self.capture: Output | None = None
        self.backstop: Backstop | None = None
        self.imports = CallImports()  # the packages the implementation's calls imported (its framework, lazily)

    def __enter__(self) -> Guard:
        if self.alarm:
            self.previous_alarm = signal.signal(signal.SIGALRM, self._ring)
            self.previous_timer = signal.setitimer(signal.ITIMER_REAL, 0)
        if self.watch.capture:
            self.capture = Output()
        if self.watch.backstop is not None:
            stderr = self.capture.stderr() if self.capture else open(os.dup(2), "w")
            self.backstop = Backstop(self.watch.backstop, stderr)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.backstop is not None:
            self.backstop.stop()
            self.backstop.file.close()
        if self.capture is not None:
            self.capture.close()
        if self.alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous_alarm)
            if self.previous_timer[0] > 0:
                signal.setitimer(signal.ITIMER_REAL, *self.previous_timer)

    @contextmanager
    def clause(self) -> Iterator[None]:
        """One clause's check: its record of exceptions and its output start empty; when it ends the
        output is in ``output`` and the backstop is off until the next call."""
        self.raised = []
        self.output = ""
        try:
            yield
        finally:
            if self.backstop is not None:
                self.backstop.stop()
            if self.capture is not None:
                self.output = self.capture.take()

    def view(self, impl: object) -> object:
        """``impl`` as the check sees it: its capabilities guarded, everything else as it is."""
        return GuardedImplementation(impl, self, type(impl).__name__)

    def _ring(self, signum: int, frame: object) -> None:
        """SIGALRM: the call running now has used its time (an alarm after it returned is ignored)."""
        if self.busy:
            self.rang = True
            raise CallTimedOut(self.current, f"did not return within {self.watch.timeout:g} s")

    def call(self, call: Call, function: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        """``function(*args, **kwargs)``, the implementation's, under the guard; ``call`` names it."""
        if self.busy:  # the implementation calling what it was given: already watched
            return function(*args, **kwargs)
        args = tuple(_unwrapped(value) for value in args)
        kwargs = {name: _unwrapped(value) for name, value in kwargs.items()}
        began = time.perf_counter()
        try:
            self._begin(call)
            result = self.imports.call(function, *args, **kwargs)
            if self.rang:  # the implementation swallowed the alarm
                raise CallTimedOut(call, f"did not return within {self.watch.timeout:g} s")
        except (CallFailed, Interrupted):
            raise
        except Exception as error:
            self.raised.append((call, error))
            raise
        except BaseException as error:
            if isinstance(error, KeyboardInterrupt) and not _interrupts_are_ours():
                raise  # no telling the user's Ctrl-C from the implementation's: take it for the user's
            raise CallFailed(call, _escaped(error)) from error
        finally:
            self._end()
            self.inside += time.perf_counter() - began
        if _received:  # the implementation swallowed the user's interrupt
            raise Interrupted(_received[-1])
        return result

    def _begin(self, call: Call) -> None:
        self.busy, self.current, self.rang = True, call, False
        if self.backstop is not None:
            self.backstop.pet()
        if self.capture is not None:
            self.capture.start()
        if self.alarm:
            signal.setitimer(signal.ITIMER_REAL, self.watch.timeout, RETRY)

    def _end(self) -> None:
        self.busy, self.current = False, None  # the call's arguments are the check's again: no reference kept
        if self.alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
        if self.capture is not None:
            self.capture.stop()
        if self.backstop is not None:
            self.backstop.pet()


class _Guarded:
    """An object of the implementation behind a guard. Its label, the call that returned it, is shown the
    first time a message needs it: the arguments of a call that returns a network (its weights) take longer
    to show than most calls take, and the calls of a stream would each show their stream's."""

    __slots__ = ("_target", "_guard", "_name")

    def __init__(self, target: object, guard: Guard, label: str | Call) -> None:
        self._target, self._guard, self._name = target, guard, label

    @property
    def _label(self) -> str:
        if not isinstance(self._name, str):
            self._name = str(self._name)  # the call's arguments are no longer held
        return self._name

    def _method(self, function: Callable[..., Any], label: str | _Named, names: tuple[str, ...],
                live: bool) -> Callable[..., Any]:
        guard = self._guard

        def guarded(*args: Any, **kwargs: Any) -> Any:
            call = Call(label, args, kwargs, names)
            result = guard.call(call, function, args, kwargs)
            if result is self._target:  # a method returning its object (torch's train()): still guarded
                return self
            return GuardedObject(result, guard, call) if live else result

        return guarded

    def __repr__(self) -> str:
        return f"<guarded {self._label}>"


class GuardedImplementation(_Guarded):
    """The implementation: each capability guarded, what returns a live object returning it guarded."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if name in CAPABILITIES and callable(value):
            return self._method(value, name, POSITIONAL[name], name in LIVE)
        return value


class GuardedObject(_Guarded):
    """What a capability returned for the checks to call (a stream, a layer, a network): every
    method guarded, and the object itself when called."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        return self._method(value, _Named(self, f".{name}"), (), False) if callable(value) else value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._method(self._target, _Named(self), (), False)(*args, **kwargs)


class _Named:
    """The label of a call of a guarded object (``suffix`` a method's ``.name``), shown when shown."""

    __slots__ = ("owner", "suffix")

    def __init__(self, owner: _Guarded, suffix: str = "") -> None:
        self.owner, self.suffix = owner, suffix

    def __str__(self) -> str:
        return self.owner._label + self.suffix


def _unwrapped(value: object) -> object:
    """What the implementation gave, where a check passes a guarded object back (or a tuple or list of them)."""
    if isinstance(value, _Guarded):
        return value._target
    if isinstance(value, (tuple, list)) and any(isinstance(v, _Guarded) for v in value):
        return type(value)(v._target if isinstance(v, _Guarded) else v for v in value)
    return value
