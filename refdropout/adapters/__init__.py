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

An adapter module imports its framework only when an adapter is made (:func:`import_framework`), so
importing it never needs the framework. An adapter class that runs on several devices takes
``device`` ("cpu" or "cuda") in its constructor; every other adapter runs on the CPU only. A class
may name the distribution it wraps in ``framework`` (e.g. "torch"), whose version reports then
record; besides, reports record the frameworks the target actually imported, with their versions
(refdropout.adapters.imported: a built-in adapter's, in its child process for ``keras-jax`` and
``keras-torch``; those a user's module binds, or its loading or a plain function's calls import). A
built-in target whose framework is missing names the command that installs it (:data:`INSTALL`: CPU
builds, torch pinned to the version the project tests with). The command line's ``--policy`` and
``--dtypes`` go on top of what the target declares (refdropout.contract.declarations), and
:class:`LoadedTarget` says where each declared value came from. Whatever keeps a target from loading
is a :class:`TargetError`, whose one-line message names the target and says how to fix it (the
command line exits with status 2, spec/runner.md RUNNER-3): a name that is no module path, a module
that raises or exits as it is imported, a class that raises or exits as it is made, and declarations
of the wrong type or value (RUNNER-9, checked by
:func:`refdropout.contract.protocol.validate_declarations` before anything is checked). The
exception behind it, if any, is its ``__cause__``.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import ModuleType

from ..contract import Implementation
from ..contract.declarations import Declarations, declared, redeclared
from ..contract.protocol import validate_declarations
from . import imported

__all__ = ["INSTALL", "TARGETS", "BuiltinTarget", "LoadedTarget", "TargetError", "import_framework", "load_target"]


class TargetError(Exception):
    """A target that cannot be checked: unknown, its framework missing, failing to start, or
    declaring what it may not."""


def import_framework(name: str, *, target: str, install: str) -> ModuleType:
    """The module ``name`` that ``target``'s adapter runs on, imported when an adapter is made, never
    when its module is; a missing one is a ModuleNotFoundError naming the command that installs it, and
    one installed without what it loads (mlx without its CPU backend, libmlx.so) an ImportError naming it too."""
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise ModuleNotFoundError(f"the {target} target needs {name}, which is not installed: {install}") from error
    except ImportError as error:
        raise ImportError(f"the {target} target cannot import {name} ({_first_line(str(error))}); install it "
                          f"with: {install}") from error
    imported.record(name)  # what the reports name as checked
    return module


TORCH_CPU = "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu"  # PyPI's is CUDA's
# built-in target -> the command that installs what it needs: CPU builds (tensorflow-cpu; paddlepaddle, jax and
# onnxruntime are CPU builds, their GPU ones named apart; mlx's CPU backend is its extra ``cpu``)
INSTALL: dict[str, str] = {
    "numpy": "pip install numpy",
    "torch": TORCH_CPU,
    "paddle": "pip install paddlepaddle",
    "tensorflow": "pip install tensorflow-cpu",
    "keras": "pip install keras tensorflow-cpu",
    "keras-jax": "pip install keras jax",
    "keras-torch": f"pip install keras && {TORCH_CPU}",
    "jax": "pip install jax",
    "flax": "pip install flax",
    "onnxruntime": "pip install onnxruntime onnx",
    "equinox": "pip install equinox",
    "mlx": "pip install 'mlx[cpu]'",
}


@dataclass(frozen=True)
class BuiltinTarget:
    """A built-in target: its adapter class (``module:Class``), the framework it imports, the command
    that installs that framework (None for the reference, which needs nothing) and the other modules it
    ``requires`` (Keras's backend)."""

    adapter: str
    framework: str | None = None
    install: str | None = None
    requires: tuple[str, ...] = ()

    def missing(self) -> tuple[str, ...]:
        """The modules it needs that are not installed (none for a target that can be checked)."""
        needed = (self.framework, *self.requires) if self.framework else self.requires
        return tuple(module for module in needed if importlib.util.find_spec(module) is None)

    def not_installed(self, name: str) -> str:
        """What to say when the target ``name`` is checked and modules it needs are missing."""
        missing = self.missing()
        verb = "is" if len(missing) == 1 else "are"
        return f"target {name!r} needs {' and '.join(missing)}, which {verb} not installed: {self.install}"


TARGETS: dict[str, BuiltinTarget] = {
    "reference": BuiltinTarget("refdropout.adapters.reference:ReferenceDropout"),
    "numpy": BuiltinTarget("refdropout.adapters.numpy:NumpyDropout", "numpy", INSTALL["numpy"]),
    "torch": BuiltinTarget("refdropout.adapters.torch:TorchDropout", "torch", INSTALL["torch"]),
    # before tensorflow and keras: PaddlePaddle crashes a process that imported tensorflow first (adapters.paddle)
    "paddle": BuiltinTarget("refdropout.adapters.paddle:PaddleDropout", "paddle", INSTALL["paddle"]),
    "paddle-classic": BuiltinTarget("refdropout.adapters.paddle:PaddleClassicDropout", "paddle", INSTALL["paddle"]),
    "tensorflow": BuiltinTarget("refdropout.adapters.tensorflow:TensorflowDropout", "tensorflow",
                                INSTALL["tensorflow"]),
    "keras": BuiltinTarget("refdropout.adapters.keras:KerasDropout", "keras", INSTALL["keras"], ("tensorflow",)),
    # Keras on jax and on torch, each in a child process of its own (Keras's backend is one per process)
    "keras-jax": BuiltinTarget("refdropout.adapters.keras:KerasJaxDropout", "keras", INSTALL["keras-jax"], ("jax",)),
    "keras-torch": BuiltinTarget("refdropout.adapters.keras:KerasTorchDropout", "keras", INSTALL["keras-torch"],
                                 ("torch",)),
    "jax": BuiltinTarget("refdropout.adapters.jax:JaxDropout", "jax", INSTALL["jax"]),
    "flax": BuiltinTarget("refdropout.adapters.jax:FlaxDropout", "flax", INSTALL["flax"], ("jax",)),
    "onnxruntime": BuiltinTarget("refdropout.adapters.onnxruntime:OnnxRuntimeDropout", "onnxruntime",
                                 INSTALL["onnxruntime"], ("onnx",)),
    "equinox": BuiltinTarget("refdropout.adapters.equinox:EquinoxDropout", "equinox", INSTALL["equinox"], ("jax",)),
    "mlx": BuiltinTarget("refdropout.adapters.mlx:MlxDropout", "mlx", INSTALL["mlx"]),
}


@dataclass(frozen=True)
class LoadedTarget:
    """An implementation ready to check (as the checks see it: the command line's declarations on top of
    its own), with the framework it declares, the packages it imported by name (``imported``: through
    :func:`import_framework`, or bound by a user's module) and those that appeared as it was loaded
    (``appeared``), and what it is checked under (``declarations``, each value's source with it)."""

    name: str
    impl: Implementation
    framework: str | None
    imported: tuple[str, ...] = ()
    declarations: Declarations | None = field(default=None, compare=False)
    appeared: tuple[str, ...] = ()

    def versions(self, called: Iterable[str] = ()) -> dict[str, object]:
        """The versions of Python, refdropout and the declared framework (None where there is none), and
        ``imported``: each framework the target actually imported, with its version, so far (a user's
        function or method may import its framework when called: ask again after the run, with
        ``called``, the packages its calls imported, as the guard saw them; a built-in adapter names
        what it imports, and its ``called`` are not counted)."""
        from .. import __version__

        calls = getattr(self.impl, "call_imports", None)  # a plain function's (adapters.function)
        named = (*self.imported, *getattr(self.impl, "framework_imports", ()))  # an isolated target's child's
        appeared = (*self.appeared, *(calls.appeared if calls is not None else ()),
                    *(called if self.name not in TARGETS else ()))
        found = imported.frameworks(named, appeared)
        return {
            "python": sys.version.split()[0],
            "refdropout": __version__,
            "framework": self.framework,
            "framework_version": imported.version_of(self.framework) if self.framework else None,
            "imported": {module: imported.version_of(module) for module in found},
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
    return LoadedTarget(name, redeclared(loaded.impl, declarations), loaded.framework, loaded.imported, declarations,
                        loaded.appeared)


def _loaded(name: str, device: str) -> LoadedTarget:
    since, before = len(imported.recorded()), imported.packages()
    if name in TARGETS:
        builtin = TARGETS[name]
        if builtin.missing():
            raise TargetError(builtin.not_installed(name))
        impl = _instantiate(name, _attribute(builtin.adapter, name), device)
        return LoadedTarget(name, impl, builtin.framework, imported.recorded(since))
    if ":" not in name:
        raise TargetError(f"unknown target {name!r}: use one of {', '.join(TARGETS)} or package.module:function")
    if os.getcwd() not in sys.path:  # user code in the current directory is importable, as with python -m
        sys.path.insert(0, os.getcwd())
    found = _attribute(name, name)
    if inspect.isclass(found):
        impl = _instantiate(name, found, device)
        framework = getattr(found, "framework", None)
    elif callable(found):
        if device != "cpu":
            raise TargetError(f"target {name!r} is a plain function on numpy arrays, which runs on the CPU only")
        from .function import FunctionDropout

        impl, framework = FunctionDropout(found, name), None
    else:
        raise TargetError(f"target {name!r} is a {type(found).__name__}, neither a function nor a class")
    return LoadedTarget(name, impl, framework, (*imported.bound_frameworks(found), *imported.recorded(since)),
                        appeared=tuple(sorted(imported.packages() - before)))


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
