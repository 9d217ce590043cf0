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
record. Whatever keeps a target from loading is a :class:`TargetError`, whose message says how to
fix it (the command line exits with status 2).
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

__all__ = ["TARGETS", "BuiltinTarget", "LoadedTarget", "TargetError", "import_framework", "load_target"]


class TargetError(Exception):
    """A target that cannot be checked: unknown, its framework missing, or failing to start."""


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
    """The implementation a target names, on ``device``; TargetError when it cannot be had."""
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


def _attribute(path: str, target: str) -> object:
    """``module:attribute`` imported; a missing module or attribute is a TargetError."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TargetError(f"target {target!r}: cannot import {module_name}: {error}") from error
    if not hasattr(module, attribute):
        raise TargetError(f"target {target!r}: module {module_name} has no attribute {attribute!r}")
    return getattr(module, attribute)


def _instantiate(name: str, cls: type, device: str) -> Implementation:
    """An instance of an adapter class, given ``device`` when its constructor takes one."""
    takes_device = "device" in inspect.signature(cls).parameters
    if device != "cpu" and not takes_device:
        raise TargetError(f"target {name!r} runs on the CPU only; --device {device} needs an adapter that takes"
                          " a device")
    try:
        return cls(device=device) if takes_device else cls()
    except Exception as error:  # a framework's own error (no CUDA, a bad build), re-raised as ours
        raise TargetError(f"target {name!r} failed to start: {type(error).__name__}: {error}") from error


def _version_of(framework: str) -> str | None:
    """The installed version of a framework's distribution, or its module's ``__version__``."""
    try:
        return importlib.metadata.version(framework)
    except importlib.metadata.PackageNotFoundError:
        return getattr(sys.modules.get(framework), "__version__", None)
