"""Declaring without a class: the ``@target`` decorator, ``--policy``/``--dtypes``, and where each value came from.

A target declares its policies (:class:`~refdropout.contract.policies.Policies`), the floating
formats it is checked in (``dtypes``) and its ``name`` in one of three ways, the later winning:

* as an adapter class, in its attributes (source ``target``);
* as a plain function, with the decorator :func:`target` (source ``decorator``);
* on the command line, ``--policy NAME=VALUE`` (repeatable) and ``--dtypes LIST`` of ``refdropout
  check`` and the reports, ``--refdropout-policy`` and ``--refdropout-dtypes`` under pytest (source
  ``command line``).

A value nobody declared is the reference's (source ``default``). :func:`declared` merges them into a
:class:`Declarations`, which records the source of each value for the reports, and :func:`redeclared`
gives the implementation the checks see, with the command line's values on top of its own. A bad
value is refused where it is given: by the decorator as it runs (ValueError or TypeError), on the
command line as a usage error naming the option, the value and what is allowed (RUNNER-9).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, TypeVar

from ..options import Option
from .policies import POLICY_VALUES, Policies
from .protocol import FLOATING_FORMATS, dtypes_of, policies_of, validate_dtypes

__all__ = ["DECLARED", "DTYPES", "POLICY", "Declarations", "Redeclared", "declared", "dtype_list", "policy_assignment",
           "redeclared", "target"]

DECLARED = "__refdropout_declared__"  # the attribute the decorator sets on a function

F = TypeVar("F", bound=Callable[..., Any])


def _policy_items(policies: Policies | Mapping[str, object] | None) -> dict[str, object]:
    """The policies a decorator names: a mapping's items, or the fields of a Policies that differ from the default."""
    if policies is None:
        return {}
    if isinstance(policies, Policies):
        default = Policies()
        return {name: value for name, value in asdict(policies).items() if value != getattr(default, name)}
    if not isinstance(policies, Mapping):
        raise TypeError(f"policies must be a refdropout.contract.Policies or a mapping of policy names to values, "
                        f"got {policies!r}")
    unknown = [name for name in policies if name not in POLICY_VALUES]
    if unknown:
        raise ValueError(f"policies: unknown policy {unknown[0]!r}; the policies are {', '.join(POLICY_VALUES)}")
    Policies(**policies)  # each value checked, with the allowed ones in the message
    return dict(policies)


def target(policies: Policies | Mapping[str, object] | None = None, dtypes: Sequence[str] | None = None,
           name: str | None = None) -> Callable[[F], F]:
    """Declare what a plain function ``f(x, p, *, training, seed)`` does where the spec allows a choice:

        @target(policies={"nonfinite": "select", "seed_bits": 32}, dtypes=("float32",), name="mlx")
        def dropout(x, p, *, training, seed): ...

    ``policies``: a Policies or a mapping of some of its fields to their values; ``dtypes``: the
    floating formats it is checked in; ``name``: what the reports call it. Each is validated now
    (ValueError or TypeError naming the value and what is allowed); the function is returned as it
    is, with the declarations in its attribute ``__refdropout_declared__``."""
    declarations = {"policies": _policy_items(policies)}
    if dtypes is not None:
        validate_dtypes(dtypes)
        declarations["dtypes"] = tuple(dtypes)
    if name is not None:
        if not isinstance(name, str):
            raise TypeError(f"name must be a str, got {name!r}")
        declarations["name"] = name

    def declare(function: F) -> F:
        setattr(function, DECLARED, declarations)
        return function

    return declare


def policy_assignment(text: str) -> tuple[str, object]:
    """The parse of ``--policy NAME=VALUE``: (name, value), the value as :class:`Policies` takes it
    (``seed_bits=32`` is the int 32); an unknown name or value is refused with the allowed ones."""
    name, equals, value = text.partition("=")
    if not equals or name not in POLICY_VALUES:
        raise argparse.ArgumentTypeError(f"must be NAME=VALUE with NAME one of {', '.join(POLICY_VALUES)}, "
                                         f"got {text!r}")
    allowed = {str(choice): choice for choice in POLICY_VALUES[name]}
    if value not in allowed:
        raise argparse.ArgumentTypeError(f"{name} must be one of {', '.join(allowed)}, got {text!r}")
    return name, allowed[value]


def dtype_list(text: str) -> tuple[str, ...]:
    """The parse of ``--dtypes float64,float32``: distinct floating formats, comma-separated."""
    names = tuple(name.strip() for name in text.split(","))
    try:
        validate_dtypes(names)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"must be distinct floating formats separated by commas, from "
                                         f"{', '.join(FLOATING_FORMATS)}; got {text!r}") from None
    return names


POLICY = Option("policy", "declare a policy of the target, overriding its own declaration (e.g. nonfinite=select);"
                " repeatable", parse=policy_assignment, metavar="NAME=VALUE", repeatable=True)
DTYPES = Option("dtypes", "the floating formats to check the target in, overriding its own declaration "
                "(e.g. float64,float32)", parse=dtype_list, metavar="LIST")


@dataclass(frozen=True)
class Declarations:
    """What a target is checked under: its ``name`` (None when it declares none), ``policies``,
    ``dtypes``, and ``sources``: each of these (a policy by its field name) mapped to where its value
    came from, "default", "target", "decorator" or "command line"."""

    name: str | None
    policies: Policies
    dtypes: tuple[str, ...]
    sources: dict[str, str]

    def as_json(self) -> dict:
        """``{"name": {"value", "source"}, "dtypes": {...}, "policies": {NAME: {"value", "source"}}}``."""
        def entry(key: str, value: object) -> dict:
            return {"value": value, "source": self.sources[key]}

        return {"name": entry("name", self.name), "dtypes": entry("dtypes", list(self.dtypes)),
                "policies": {f.name: entry(f.name, getattr(self.policies, f.name)) for f in fields(Policies)}}

    def shown(self) -> str:
        """One line for people: the name, the dtypes and the policies not left at their default, each with its
        source: ``declared: dtypes float64, float32 (default); nonfinite=select (command line)``."""
        parts = [f"name {self.name!r} ({self.sources['name']})"] if self.sources["name"] != "default" else []
        parts.append(f"dtypes {', '.join(self.dtypes)} ({self.sources['dtypes']})")
        parts += [f"{f.name}={getattr(self.policies, f.name)} ({self.sources[f.name]})" for f in fields(Policies)
                  if self.sources[f.name] != "default"]
        return "declared: " + "; ".join(parts)


def declared(impl: object, *, policies: Sequence[tuple[str, object]] = (),
             dtypes: Sequence[str] | None = None) -> Declarations:
    """What ``impl`` is checked under, the command line's ``policies`` (name, value) and ``dtypes`` on
    top of its own declarations. A plain function's wrapper says what its decorator declared (its
    ``decorated``); a class's policy counts as declared where its value differs from the default."""
    values = asdict(policies_of(impl))
    decorated = getattr(impl, "decorated", None)
    if decorated is None:
        default = asdict(Policies())
        sources = {key: "target" if value != default[key] else "default" for key, value in values.items()}
        sources["dtypes"] = "target" if hasattr(impl, "dtypes") else "default"
        sources["name"] = "target" if getattr(impl, "name", None) is not None else "default"
    else:
        sources = {key: "decorator" if key in decorated["policies"] else "default" for key in values}
        sources.update({key: "decorator" if key in decorated else "default" for key in ("dtypes", "name")})
    for key, value in policies:
        values[key] = value
        sources[key] = "command line"
    if dtypes is not None:
        sources["dtypes"] = "command line"
    names = tuple(d.name for d in dtypes_of(impl)) if dtypes is None else tuple(dtypes)
    return Declarations(getattr(impl, "name", None), Policies(**values), names, sources)


class Redeclared:
    """An implementation with the command line's declarations in place of its own: ``policies`` and
    ``dtypes`` are the merged ones, everything else is the implementation's."""

    def __init__(self, impl: object, declarations: Declarations) -> None:
        self._impl = impl
        self.policies = declarations.policies
        self.dtypes = declarations.dtypes

    def __getattr__(self, name: str) -> Any:
        return getattr(self._impl, name)


def redeclared(impl: object, declarations: Declarations) -> object:
    """``impl`` as the checks see it under ``declarations``: itself when the command line changed
    nothing, else behind :class:`Redeclared`."""
    if "command line" not in declarations.sources.values():
        return impl
    return Redeclared(impl, declarations)
