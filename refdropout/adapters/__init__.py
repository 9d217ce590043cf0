"""Adapters: implementations of dropout under test, each in a module of its own.

A target is named on the command line in one of two forms:

* a built-in name from :data:`TARGETS` (``reference``, ``numpy``, ``torch``, ``jax``, ``flax``,
  ``tensorflow``, ``keras``, ``onnxruntime``): its adapter module is
  imported only when it is checked, after its framework has been found;
* ``package.module:attribute`` (the current directory importable): a class is instantiated and
  used as it is, so it declares its own capabilities and policies (refdropout.contract);
  a plain function ``f(x, p, *, training, seed)`` on numpy arrays is wrapped by
  :class:`~refdropout.adapters.function.FunctionDropout`.

An adapter module imports its framework only when an adapter is made (:func:`import_framework`),
so importing it never needs the framework. An adapter class that runs on several devices takes
``device`` ("cpu" or "cuda") in its constructor; every other adapter runs on the CPU only. A class
may name the distribution it wraps in ``framework`` (e.g. "torch"), whose version reports then
record. Whatever keeps a target from loading is a :class:`TargetError`, whose one-line message names
the target and says how to fix it (the command line exits with status 2, spec/runner.md RUNNER-3):
a name that is no module path, a module that raises or exits as it is imported, a class that
raises or exits as it is made, and declarations of the wrong type or value (RUNNER-9, checked by
:func:`refdropout.contract.protocol.validate_declarations` before anything is checked). The
exception behind it, if any, is its ``__cause__``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from dataclasses import dataclass
from types import ModuleType

from ..contract import Implementation
from ..contract.protocol import validate_declarations

__all__ = ["TARGETS", "BuiltinTarget", "LoadedTarget", "TargetError", "import_framework", "load_target"]


class TargetError(Exception):
    """A target that cannot be checked: unknown, its framework missing, failing to start, or
    declaring what it may not."""


def import_framework(name: str, *, target: str, install: str) -> ModuleType:
    """The module ``name`` that ``target``'s adapter runs on, imported when an adapter is made, never
    when its module is; a missing one is a ModuleNotFoundError naming the command that installs it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(f"the {target} target needs {name}, which is not installed: {install}") from error


@dataclass(frozen=True)
class BuiltinTarget:
    """A built-in target: its adapter class (``module:Class``), the framework it imports and the
    command that installs that framework (None for the reference, which needs nothing)."""

    adapter: str
    framework: str | None = None
    install: str | None = None


TARGETS: dict[str, BuiltinTarget] = {
    "reference": BuiltinTarget("refdropout.adapters.reference:ReferenceDropout"),
    "numpy": BuiltinTarget("refdropout.adapters.numpy:NumpyDropout", "numpy", "pip install numpy"),
    "torch": BuiltinTarget("refdropout.adapters.torch:TorchDropout", "torch", "pip install torch"),
    "tensorflow": BuiltinTarget("refdropout.adapters.tensorflow:TensorflowDropout", "tensorflow",
                                "pip install tensorflow-cpu"),
    "keras": BuiltinTarget("refdropout.adapters.tensorflow:KerasDropout", "keras", "pip install keras tensorflow-cpu"),
    "jax": BuiltinTarget("refdropout.adapters.jax:JaxDropout", "jax", "pip install jax"),
    "flax": BuiltinTarget("refdropout.adapters.jax:FlaxDropout", "flax", "pip install flax"),
    "onnxruntime": BuiltinTarget("refdropout.adapters.onnxruntime:OnnxRuntimeDropout", "onnxruntime",
                                 "pip install onnxruntime onnx"),
}


@dataclass(frozen=True)
class LoadedTarget:
    """An implementation ready to check, with the framework whose version a report records."""

    name: str
    impl: Implementation
    framework: str | None

    def versions(self) -> dict[str, str | None]:
        """The versions of Python, refdropout and the framework (None where there is none)."""
        from .. import __version__

        return {
            "python": sys.version.split()[0],
            "refdropout": __version__,
            "framework": self.framework,
            "framework_version": _version_of(self.framework) if self.framework else None,
        }


def load_target(name: str, *, device: str = "cpu") -> LoadedTarget:
    """The implementation a target names, on ``device``, its declarations validated; TargetError when
    it cannot be had."""
    loaded = _loaded(name, device)
    try:
        validate_declarations(loaded.impl)
    except Exception as error:  # a declaration may be a property that raises anything
        raise TargetError(f"target {name!r}: {_first_line(str(error))}") from error
    return loaded


def _loaded(name: str, device: str) -> LoadedTarget:
    if name in TARGETS:
        builtin = TARGETS[name]
        if builtin.framework is not None and importlib.util.find_spec(builtin.framework) is None:
            raise TargetError(f"target {name!r} needs {builtin.framework}, which is not installed: {builtin.install}")
        return LoadedTarget(name, _instantiate(name, _attribute(builtin.adapter, name), device), builtin.framework)
    if ":" not in name:
        raise TargetError(f"unknown target {name!r}: use one of {', '.join(TARGETS)} or package.module:function")
    if os.getcwd() not in sys.path:  # user code in the current directory is importable, as with python -m
        sys.path.insert(0, os.getcwd())
    found = _attribute(name, name)
    if inspect.isclass(found):
        return LoadedTarget(name, _instantiate(name, found, device), getattr(found, "framework", None))
    if callable(found):
        if device != "cpu":
            raise TargetError(f"target {name!r} is a plain function on numpy arrays, which runs on the CPU only")
        from .function import FunctionDropout

        return LoadedTarget(name, FunctionDropout(found, name), "numpy")
    raise TargetError(f"target {name!r} is a {type(found).__name__}, neither a function nor a class")


def _first_line(message: str) -> str:
    lines = message.strip().splitlines()
    return lines[0] + (" (...)" if len(lines) > 1 else "") if lines else ""


def _raised(error: BaseException) -> str:
    """What code run on loading did: ``raised SyntaxError: invalid syntax (m.py, line 3)``, ``called sys.exit(0)``."""
    if isinstance(error, SystemExit):
        return f"called sys.exit({error.code!r})"
    message = _first_line(str(error))
    return f"raised {type(error).__name__}" + (f": {message}" if message else "")


def _attribute(path: str, target: str) -> object:
    """``module:attribute`` imported; a name that is no module path, a module that cannot be imported
    (missing, raising or exiting as it runs) or a missing attribute is a TargetError."""
    module_name, _, attribute = path.partition(":")
    if not all(part.isidentifier() for part in module_name.split(".")) or not attribute.isidentifier():
        raise TargetError(f"target {target!r} is not package.module:attribute (a module's dotted name, importable"
                          " from the current directory or PYTHONPATH, not a file path; then a function or class)")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise TargetError(f"target {target!r}: cannot import {module_name}: {error}") from error
    except (Exception, SystemExit) as error:  # user code may raise anything as it is imported
        raise TargetError(f"target {target!r}: importing {module_name} {_raised(error)}") from error
    if not hasattr(module, attribute):
        raise TargetError(f"target {target!r}: module {module_name} has no attribute {attribute!r}")
    return getattr(module, attribute)


def _instantiate(name: str, cls: type, device: str) -> Implementation:
    """An instance of an adapter class, given ``device`` when its constructor takes one."""
    try:
        takes_device = "device" in inspect.signature(cls).parameters
    except (TypeError, ValueError):  # a class without a signature (builtins.int): it takes no device
        takes_device = False
    if device != "cpu" and not takes_device:
        raise TargetError(f"target {name!r} runs on the CPU only; --device {device} needs an adapter that takes"
                          " a device")
    try:
        return cls(device=device) if takes_device else cls()
    except (Exception, SystemExit) as error:  # a framework's own error: no CUDA, a bad build
        raise TargetError(f"target {name!r} failed to start: {cls.__name__}() {_raised(error)}") from error


def _version_of(framework: str) -> str | None:
    """The installed version of a framework's distribution, or its module's ``__version__``."""
    try:
        return importlib.metadata.version(framework)
    except importlib.metadata.PackageNotFoundError:
        return getattr(sys.modules.get(framework), "__version__", None)
