"""The catalogue's registry: every mutant, the public bug it models and the clauses meant to catch it.

A mutant is a dropout implementation with one deliberate defect, modelled on a bug that was
reported in a real framework. It is registered with ``@mutant(kind, models=..., caught_by=...)``
on its class; the class's docstring says in one sentence what is wrong.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ..contract import Implementation

__all__ = ["KINDS", "Mutant", "MUTANTS", "mutant"]

# the classes of defect the catalogue covers (docs/detection-matrix.md groups mutants by them)
KINDS = ("scale", "rate", "mode", "edges", "randomness", "gradients", "structure", "values")


@dataclass(frozen=True)
class Mutant:
    """One broken implementation of the catalogue.

    ``name``: its ID (kebab case); ``kind``: one of KINDS; ``make``: builds a fresh instance (an
    implementation of refdropout.contract); ``models``: the public issue or pull
    request it models, as "framework #number: title"; ``wrong``: one sentence, what is wrong;
    ``caught_by``: the clauses expected to reject it at the standard profile; ``quick``: None when
    the quick profile is expected to catch it too, else the reason it cannot.
    """

    name: str
    kind: str
    make: Callable[[], Implementation]
    models: str
    wrong: str
    caught_by: tuple[str, ...]
    quick: str | None = None


MUTANTS: dict[str, Mutant] = {}


def mutant(kind: str, *, models: str, caught_by: tuple[str, ...], quick: str | None = None) -> Callable[[type], type]:
    """Register the decorated class as a mutant named by its ``name`` attribute."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not caught_by:
        raise ValueError("caught_by must name at least one clause")

    def register(cls: type) -> type:
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"mutant class {cls.__qualname__} needs a str attribute 'name'")
        if name in MUTANTS:
            raise ValueError(f"mutant {name!r} is registered twice")
        wrong = inspect.getdoc(cls)
        if not wrong:
            raise TypeError(f"mutant {name!r} needs a docstring saying what is wrong")
        summary = wrong.split("\n\n")[0].replace("\n", " ")
        MUTANTS[name] = Mutant(name, kind, cls, models, summary, tuple(caught_by), quick)
        return cls

    return register
