"""Which frameworks a target actually imported, and their versions: what reports name as checked.

Three sources, read where the target runs (a child process's own, for an
:class:`~refdropout.adapters.isolated.Isolated` target):

* what an adapter imports through :func:`refdropout.adapters.import_framework` (:func:`recorded`):
  a built-in adapter names each module it runs on so, ``keras`` and ``jax`` for ``keras-jax``;
* what the module defining a user's function or class binds in its namespace
  (:func:`bound_frameworks`): ``mlx`` for ``import mlx.core as mx``, ``tinygrad`` for
  ``from tinygrad import Tensor``;
* the top-level packages that appear in ``sys.modules`` while a user's target is loaded, or while
  it is called (:func:`packages`, :class:`CallImports`; the guard notes them for every call of a run):
  an import inside a function's or a method's body.

A package counts as a framework when an installed distribution provides it (importlib.metadata's
``packages_distributions``), so neither the standard library nor the user's own modules do, nor
refdropout. Packages seen only appearing (the third source) are what the target's imports brought
in, its framework's own dependencies among them: :func:`frameworks` leaves out each whose
distribution is another one's found or one that distribution requires, an extra's requirements
included (torch's torchgen and opt_einsum, jax's jaxlib), so the list names the frameworks imported,
not everything they load.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

__all__ = ["CallImports", "bound_frameworks", "frameworks", "packages", "record", "recorded", "version_of"]

_RECORD: list[str] = []  # the top-level package of each module import_framework imported, in order


def record(module: str) -> None:
    """Note that an adapter imported ``module`` (its top-level package is what reports name)."""
    _RECORD.append(module.partition(".")[0])


def recorded(since: int = 0) -> tuple[str, ...]:
    """The packages :func:`record` noted from its ``since``-th call on (``len(recorded())`` marks now)."""
    return tuple(_RECORD[since:])


def packages() -> set[str]:
    """The top-level packages this process has imported."""
    return {name.partition(".")[0] for name in list(sys.modules)}


def bound_frameworks(found: object) -> tuple[str, ...]:
    """The frameworks the module that defines ``found`` (a user's function or class) binds, sorted: every
    value its namespace binds read for the top-level package it comes from (a module's own name;
    otherwise its ``__module__``); refdropout and the module's own package are not counted."""
    module = sys.modules.get(getattr(found, "__module__", None) or "")
    if module is None:
        return ()
    bound = set()
    for value in vars(module).values():
        origin = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        if isinstance(origin, str):
            bound.add(origin.partition(".")[0])
    own = {"refdropout", module.__name__.partition(".")[0]}
    return tuple(sorted(package for package in bound - own if package in _distributions()))


def frameworks(named: Iterable[str], appeared: Iterable[str] = ()) -> tuple[str, ...]:
    """The frameworks among ``named`` (imported by name: recorded or bound) and ``appeared`` (packages
    that came into ``sys.modules``), sorted; an appeared one that a distribution of another one requires
    outright is left out, as that one's dependency."""
    provided = _distributions()
    named = {package for package in named if package in provided} - {"refdropout"}
    appeared = {package for package in appeared if package in provided} - {"refdropout"} - named
    def distributions(packages: set[str]) -> set[str]:
        return {_normal(distribution) for package in packages for distribution in provided[package]}

    found = named | appeared
    kept = set()
    for package in appeared:
        own = distributions({package})
        required = {name for distribution in distributions(found) - own for name in _requirements(distribution)}
        # one package per distribution: the one named as it is (torch, not torchgen), else the first
        siblings = sorted(other for other in found if distributions({other}) & own)
        first = next((other for other in siblings if _normal(other) in own), siblings[0])
        if not own & required and package == first:
            kept.add(package)
    return tuple(sorted(named | kept))


class CallImports:
    """The packages that appeared in ``sys.modules`` during calls made through :meth:`call`: a function
    that imports its framework in its body. Cheap where nothing is imported: the module count is compared."""

    def __init__(self) -> None:
        self.appeared: set[str] = set()
        self._known = packages()
        self._count = len(sys.modules)

    def call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)``, noting what it imported (also when it raises); what was imported
        between two calls (by the caller) is not the function's."""
        if len(sys.modules) != self._count:
            self._known, self._count = packages(), len(sys.modules)
        try:
            return function(*args, **kwargs)
        finally:
            if len(sys.modules) != self._count:
                now = packages()
                self.appeared |= now - self._known
                self._known, self._count = now, len(sys.modules)


def version_of(framework: str) -> str | None:
    """The installed version of a framework's distribution (of the distribution providing the module of
    that name, tensorflow-cpu's for ``tensorflow``), or its module's ``__version__``."""
    for distribution in (framework, *_distributions().get(framework, ())):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return getattr(sys.modules.get(framework), "__version__", None)


@functools.cache
def _distributions() -> Mapping[str, list[str]]:
    """The installed distributions that provide each top-level package, read once."""
    return importlib.metadata.packages_distributions()


@functools.cache
def _requirements(distribution: str) -> frozenset[str]:
    """The distributions ``distribution`` requires, its extras' included (torch's opt-einsum), by
    normalised name."""
    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return frozenset()
    return frozenset(_normal(re.split(r"[\s<>=!~\[(;@]", requirement.strip(), maxsplit=1)[0])
                     for requirement in requires)


def _normal(name: str) -> str:
    """A distribution's name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()
