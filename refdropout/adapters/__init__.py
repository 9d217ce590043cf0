"""Adapters: implementations of dropout under test, each in a module of its own.

A target is named on the command line in one of two forms:

* a built-in name from :data:`TARGETS` (``reference``, ``numpy``, ``torch``, ``jax``, ``flax``,
  ``tensorflow``, ``keras``, ``keras-jax``, ``keras-torch``, ``onnxruntime``, ``equinox``, ``mlx``,
  ``paddle``, ``paddle-classic``): its adapter module is imported only when it is checked, after its
  framework has been found (``keras-jax`` and ``keras-torch`` run Keras in a child process of their own);
* ``package.module:attribute`` (the current directory importable): a class is instantiated and
  used as it is, so it declares its own capabilities and policies (refdropout.contract);
  a plain function ``f(x, p, *, training, seed)`` on numpy arrays is wrapped by
  :class:`~refdropout.adapters.function.FunctionDropout`.

An adapter module imports its framework only when an adapter is made (:func:`import_framework`),
so importing it never needs the framework. An adapter class that runs on several devices takes
``device`` ("cpu" or "cuda") in its constructor; every other adapter runs on the CPU only. A class
may name the distribution it wraps in ``framework`` (e.g. "torch"), whose version reports then
record; for a plain function or a user's class reports record, besides, the frameworks its module
imports (:func:`imported_frameworks`). The command line's ``--policy`` and ``--dtypes`` go on top of
what the target declares (refdropout.contract.declarations), and :class:`LoadedTarget` says where
each declared value came from. Whatever keeps a target from loading is a :class:`TargetError`, whose
one-line message names the target and says how to fix it (the command line exits with status 2,
spec/runner.md RUNNER-3): a name that is no module path, a module that raises or exits as it is
imported, a class that raises or exits as it is made, and declarations of the wrong type or value
(RUNNER-9, checked by :func:`refdropout.contract.protocol.validate_declarations` before anything is
checked). The exception behind it, if any, is its ``__cause__``.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from ..contract import Implementation
from ..contract.declarations import Declarations, declared, redeclared
from ..contract.protocol import validate_declarations

__all__ = ["TARGETS", "BuiltinTarget", "LoadedTarget", "TargetError", "import_framework", "imported_frameworks",
           "load_target"]


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
    # before tensorflow and keras: PaddlePaddle crashes a process that imported tensorflow first (adapters.paddle)
    "paddle": BuiltinTarget("refdropout.adapters.paddle:PaddleDropout", "paddle", "pip install paddlepaddle"),
    "paddle-classic": BuiltinTarget("refdropout.adapters.paddle:PaddleClassicDropout", "paddle",
                                    "pip install paddlepaddle"),
    "tensorflow": BuiltinTarget("refdropout.adapters.tensorflow:TensorflowDropout", "tensorflow",
                                "pip install tensorflow-cpu"),
    "keras": BuiltinTarget("refdropout.adapters.keras:KerasDropout", "keras", "pip install keras tensorflow-cpu"),
    # Keras on jax and on torch, each in a child process of its own (Keras's backend is one per process)
    "keras-jax": BuiltinTarget("refdropout.adapters.keras:KerasJaxDropout", "keras", "pip install keras jax"),
    "keras-torch": BuiltinTarget("refdropout.adapters.keras:KerasTorchDropout", "keras", "pip install keras torch"),
    "jax": BuiltinTarget("refdropout.adapters.jax:JaxDropout", "jax", "pip install jax"),
    "flax": BuiltinTarget("refdropout.adapters.jax:FlaxDropout", "flax", "pip install flax"),
    "onnxruntime": BuiltinTarget("refdropout.adapters.onnxruntime:OnnxRuntimeDropout", "onnxruntime",
                                 "pip install onnxruntime onnx"),
    "equinox": BuiltinTarget("refdropout.adapters.equinox:EquinoxDropout", "equinox", "pip install equinox"),
    "mlx": BuiltinTarget("refdropout.adapters.mlx:MlxDropout", "mlx", "pip install 'mlx[cpu]'"),
}


@dataclass(frozen=True)
class LoadedTarget:
    """An implementation ready to check (as the checks see it: the command line's declarations on top of
    its own), with the framework it declares, the frameworks its module imports (``imported``, for a
    user's target) and what it is checked under (``declarations``, each value's source with it)."""

    name: str
    impl: Implementation
    framework: str | None
    imported: tuple[str, ...] = ()
    declarations: Declarations | None = field(default=None, compare=False)

    def versions(self) -> dict[str, object]:
        """The versions of Python, refdropout and the declared framework (None where there is none), and
        ``imported``: each framework the target's module imports with its version."""
        from .. import __version__

        return {
            "python": sys.version.split()[0],
            "refdropout": __version__,
            "framework": self.framework,
            "framework_version": _version_of(self.framework) if self.framework else None,
            "imported": {module: _version_of(module) for module in self.imported},
        }


def load_target(name: str, *, device: str = "cpu", policies: Sequence[tuple[str, object]] = (),
                dtypes: Sequence[str] | None = None) -> LoadedTarget:
    """The implementation a target names, on ``device``, its declarations validated, with the command
    line's ``policies`` ((name, value) pairs, refdropout.contract.declarations.policy_assignment) and
    ``dtypes`` on top of them; TargetError when it cannot be had."""
    loaded = _loaded(name, device)
    try:
        validate_declarations(loaded.impl)
    except Exception as error:  # a declaration may be a property that raises anything
        raise TargetError(f"target {name!r}: {_first_line(str(error))}") from error
    declarations = declared(loaded.impl, policies=policies, dtypes=dtypes)
    return LoadedTarget(name, redeclared(loaded.impl, declarations), loaded.framework, loaded.imported, declarations)


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
        return LoadedTarget(name, _instantiate(name, found, device), getattr(found, "framework", None),
                            imported_frameworks(found))
    if callable(found):
        if device != "cpu":
            raise TargetError(f"target {name!r} is a plain function on numpy arrays, which runs on the CPU only")
        from .function import FunctionDropout

        return LoadedTarget(name, FunctionDropout(found, name), None, imported_frameworks(found))
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


def imported_frameworks(found: object) -> tuple[str, ...]:
    """The frameworks the module that defines ``found`` (a user's function or class) imports, sorted.

    How it is determined: after the module is imported, every value its namespace binds is read for
    the top-level package it comes from (a module's own name, ``mlx`` for ``import mlx.core as mx``;
    otherwise its ``__module__``, ``tinygrad`` for ``from tinygrad import Tensor``); a package counts
    as a framework when an installed distribution provides it (importlib.metadata's
    ``packages_distributions``), so the standard library and the user's own modules do not, nor
    refdropout or the module's own package. An import inside a function body is not seen."""
    module = sys.modules.get(getattr(found, "__module__", None) or "")
    if module is None:
        return ()
    packages = set()
    for value in vars(module).values():
        origin = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        if isinstance(origin, str):
            packages.add(origin.partition(".")[0])
    provided = _distributions()
    own = {"refdropout", module.__name__.partition(".")[0]}
    return tuple(sorted(package for package in packages - own if package in provided))


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    """The installed distributions that provide each top-level package, read once."""
    return importlib.metadata.packages_distributions()


def _version_of(framework: str) -> str | None:
    """The installed version of a framework's distribution (of the distribution providing the module of
    that name, tensorflow-cpu's for ``tensorflow``), or its module's ``__version__``."""
    for distribution in (framework, *_distributions().get(framework, ())):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return getattr(sys.modules.get(framework), "__version__", None)
