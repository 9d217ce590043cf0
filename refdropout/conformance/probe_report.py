"""The output of ``refdropout probe``: the table of findings, what to declare, JSON, the exit status.

The table has a row per probe (what was found, what the target declares itself), then the evidence
of each. What was found is then written as a declaration three ways: the ``refdropout check``
options (``--dtypes``, ``--policy``), the ``Policies(...)`` of an adapter class and the ``@target``
decorator of a plain function; only values found are declared, never one a probe did not find.
What matches no allowed value is listed with the clauses its policy relaxes: no declaration
covers it. The exit status (spec/runner.md, RUNNER-16) is 0 when every probe found an allowed
value, 1 when some behaviour matches none or a call of the target failed, 2 when the suite could
not probe something or the JSON report could not be written, 128 + the signal when interrupted.
"""

from __future__ import annotations

import json
import textwrap

from .. import tables
from ..contract.policies import RELAXES, Policies
from ..contract.protocol import DEFAULT_DTYPES
from .probe import NOT_PROBED, Finding, Probe, Status

__all__ = ["declaration", "json_text", "status", "text"]


def _shown(name: str, value: object) -> str:
    if name == "dtypes" and isinstance(value, tuple):
        return ", ".join(value)
    return str(value)


def _found(finding: Finding) -> str:
    return _shown(finding.name, finding.value) if finding.status is Status.FOUND else finding.status.value


def declaration(probe: Probe) -> dict[str, object]:
    """What was found, to declare: ``options`` (the check's command-line options), ``policies`` (the
    ``Policies(...)`` expression), ``dtypes`` (a tuple of names, or None when not found) and
    ``decorator`` (``@target(...)``); only the policies found with a value other than the default."""
    default = Policies()
    policies = {f.name: f.value for f in probe.findings
                if f.status is Status.FOUND and f.name != "dtypes" and f.value != getattr(default, f.name)}
    dtypes = probe.found("dtypes")
    options = ([f"--dtypes {','.join(dtypes)}"] if dtypes and dtypes != DEFAULT_DTYPES else []) + \
        [f"--policy {name}={value}" for name, value in policies.items()]
    arguments = ", ".join(f"{name}={value!r}" for name, value in policies.items())
    decorator = [f"policies={policies!r}"] if policies else []
    decorator += [f"dtypes={dtypes!r}"] if dtypes else []
    return {"options": options, "policies": f"Policies({arguments})", "dtypes": dtypes,
            "decorator": f"@target({', '.join(decorator)})"}


def text(probe: Probe) -> str:
    """The table, the evidence, the declaration, what no value allows and the summary line."""
    rows = [("PROBE", "FOUND", "DECLARED (OR DEFAULT)")]
    rows += [(f.name, _found(f), _shown(f.name, f.declared) + ("" if _agrees(f) else "  (differs)"))
             for f in probe.findings]
    parts = [tables.aligned(rows), "evidence:\n" + "\n".join(
        textwrap.fill(f"{f.name}: {f.evidence}", width=110, initial_indent="  ", subsequent_indent="    ")
        for f in probe.findings)]
    declared = declaration(probe)
    if not declared["dtypes"]:
        parts.append("declare: nothing was found to declare")
        parts.append(summary(probe))
        return "\n\n".join(parts) + "\n"
    lines = [f"  refdropout check {probe.target} {' '.join(declared['options'])}".rstrip(),
             f"  policies = {declared['policies']}"]
    lines.append(f"  dtypes = {declared['dtypes']!r}")
    lines.append(f"  {declared['decorator']}")
    parts.append("declare what was found (probing measures; `refdropout check` judges the target by what is"
                 " declared):\n" + "\n".join(lines))
    unallowed = [f for f in probe.findings if f.status is Status.NONE]
    if unallowed:
        parts.append("no allowed value fits (nothing is declared for it; check holds the target to the value"
                     " declared):\n" + "\n".join(f"  {f.name}: what was seen is allowed by no value of it, so"
                                                  f" {', '.join(RELAXES[f.name])} cannot pass by declaring one"
                                                  for f in unallowed))
    parts.append("not probed: " + "; ".join(f"{name} ({why})" for name, why in NOT_PROBED.items()))
    parts.append(summary(probe))
    return "\n\n".join(parts) + "\n"


def _agrees(finding: Finding) -> bool:
    """True when the target declares what was found (or nothing was found to compare with)."""
    return finding.status is not Status.FOUND or finding.value == finding.declared


def summary(probe: Probe) -> str:
    counts = ", ".join(f"{probe.count(s)} {s.value}" for s in Status)
    line = f"{probe.target}: {len(probe.findings)} probed: {counts}; seed {probe.seed}, {probe.seconds:.1f} s"
    if probe.interrupted is not None:
        line += f"; INCOMPLETE: interrupted by {probe.interrupted.name}"
    return line


def json_text(probe: Probe) -> str:
    """The probe as JSON: target, seed, versions, completeness, every finding, and the declaration."""
    def value(v: object) -> object:
        return list(v) if isinstance(v, tuple) else v

    document = {
        "target": probe.target, "seed": probe.seed, "seconds": probe.seconds, "versions": probe.versions,
        "complete": probe.interrupted is None,
        "findings": [{"name": f.name, "status": f.status.value, "value": value(f.value),
                      "declared": value(f.declared), "evidence": f.evidence} for f in probe.findings],
        "declare": {key: value(v) for key, v in declaration(probe).items()},
    }
    return json.dumps(document, indent=2) + "\n"


def status(probe: Probe, *, unwritten: bool) -> int:
    """The exit status of ``refdropout probe`` (RUNNER-16)."""
    if probe.interrupted is not None:
        return 128 + probe.interrupted
    if probe.count(Status.NONE) or probe.count(Status.FAILED):
        return 1
    if probe.count(Status.ERROR) or unwritten:
        return 2
    return 0
