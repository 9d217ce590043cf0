"""The options of ``refdropout check``, ``refdropout report`` and the pytest plugin, each defined once.

An :class:`Option` is a name, a help line, a default and the function that parses its text. From
one definition :func:`add_argument` puts ``--NAME`` on an argparse parser (the command line) and
:func:`add_pytest_option` puts ``--refdropout-NAME`` on pytest's (refdropout.pytest_plugin), so
``refdropout check --seed -1`` and ``pytest --refdropout-seed -1`` are refused by the same parser,
in the same words, as a usage error naming the option. A command that means something else by
default changes the default where it adds the option (``refdropout report matrix`` runs every
built-in target, ``refdropout check`` the reference).

Standard library only, and it imports nothing of the conformance suite: the command line and the
pytest entry point build their parsers from it without loading the checks or scipy (TENSOR-19).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for the annotations only: the plugin imports pytest, this module does not
    import pytest

__all__ = ["CLAUSE", "DEVICE", "KNOWN_DEVIATIONS", "PROFILE", "SEED", "SEED_BOUND", "TARGET", "TIMEOUT", "Option",
           "add_argument", "add_pytest_option", "integer", "seconds"]

SEED_BOUND = 2**64  # a master seed is an integer in [0, SEED_BOUND), as refdropout.conformance.runner takes it


def integer(minimum: int = 0, bound: int | None = None, *, bound_text: str = "") -> Callable[[str], int]:
    """The parser of an integer option in [minimum, bound), unbounded above when ``bound`` is None.
    A value outside is refused with the range: ``must be an integer in [0, 2**64), got '-1'``
    (``bound_text`` writes the bound, e.g. "2**64")."""
    shown = f">= {minimum}" if bound is None else f"in [{minimum}, {bound_text or bound})"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum or (bound is not None and value >= bound):
            raise argparse.ArgumentTypeError(f"must be an integer {shown}, got {text!r}")
        return value

    return parse


def seconds(text: str) -> float:
    """The parser of a duration option: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be a number of seconds >= 0, got {text!r}")
    return value


@dataclass(frozen=True)
class Option:
    """One option: ``--NAME`` on the command line, ``--refdropout-NAME`` under pytest.

    ``parse`` turns its text into its value, raising argparse.ArgumentTypeError for a bad one;
    ``default`` is its value when it is not given, shown at the end of the help; a ``repeatable``
    option collects every value given, in order (None when none is); a ``flag`` takes no value and
    is True when given; ``positional`` names the positional argument the command line takes
    instead, any number of times (the targets).
    """

    name: str
    help: str
    parse: Callable[[str], Any] | None = None
    default: Any = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None
    repeatable: bool = False
    positional: str | None = None
    flag: bool = False

    @property
    def pytest_dest(self) -> str:
        """The name pytest's ``config.getoption`` knows it by."""
        return "refdropout_" + self.name.replace("-", "_")

    def settings(self) -> dict[str, Any]:
        """The keyword arguments argparse's ``add_argument`` and pytest's ``addoption`` both take."""
        shown = " ".join(map(str, self.default)) if isinstance(self.default, tuple) else self.default
        settings = {"help": self.help if self.default is None else f"{self.help} (default: {shown})",
                    "default": self.default, "type": self.parse, "choices": self.choices, "metavar": self.metavar,
                    "action": "append" if self.repeatable else "store_true" if self.flag else None}
        return {key: value for key, value in settings.items() if value is not None or key == "default"}


def add_argument(parser: argparse.ArgumentParser, option: Option, **changes: Any) -> None:
    """Add ``option`` to a command line's parser as ``--NAME`` (or as its positional argument),
    with ``changes`` to its fields (e.g. another default)."""
    option = replace(option, **changes)
    if option.positional is None:
        parser.add_argument(f"--{option.name}", **option.settings())
    else:
        parser.add_argument(option.positional, nargs="*", **option.settings())


def add_pytest_option(group: pytest.OptionGroup, option: Option) -> None:
    """Add ``option`` to pytest's options as ``--refdropout-NAME``, one value (the positional included)."""
    group.addoption(f"--refdropout-{option.name}", **option.settings())


TARGET = Option(
    "impl", positional="targets", metavar="TARGET",
    help="an implementation: reference, numpy, torch, jax, flax, tensorflow, keras, keras-jax, keras-torch, "
         "onnxruntime, equinox, mlx, paddle, paddle-classic, or package.module:function or package.module:Class")
PROFILE = Option("profile", "the statistical plan", choices=("quick", "standard", "deep"), default="standard")
SEED = Option("seed", "the master seed, in [0, 2**64)", parse=integer(0, SEED_BOUND, bound_text="2**64"), default=0,
              metavar="N")
CLAUSE = Option("clause", "only clauses matching an ID, a glob (DROPOUT-1?) or a chapter (dropout); repeatable "
                "(every clause with a check when not given)", metavar="PATTERN", repeatable=True)
DEVICE = Option("device", "where adapters that take a device run", choices=("cpu", "cuda"), default="cpu")
# refdropout.conformance.guard.DEFAULT_TIMEOUT, written here without importing the suite (a test keeps them equal)
TIMEOUT = Option("timeout", "seconds one call of the implementation may take before its clause fails; 0: no limit",
                 parse=seconds, default=600, metavar="SECONDS")
# the plugin's own: a project adopting the suite lists the clauses it does not conform to yet
KNOWN_DEVIATIONS = Option("known-deviations", "lines 'TEST-ID-PREFIX  reason': those tests are expected to fail",
                          parse=Path, metavar="FILE")
