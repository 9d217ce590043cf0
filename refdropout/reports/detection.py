"""The detection matrix: which clause's check rejects which mutant of the catalogue, in one markdown document.

    refdropout report detection [--profile quick|standard|deep] [--seed N]
        [--mutant NAME] [--clause PATTERN] [--out docs/detection-matrix.md]

runs every mutant of :data:`refdropout.mutants.MUTANTS` through
:func:`refdropout.conformance.runner.run_target` on every clause with a check, under one plan and
one master seed, so a cell is the verdict ``refdropout check`` gives that mutant. The document
says how it was made (the command, date, versions, profile, seed); table 1 has the mutants down
the side, grouped by kind, and across the top the clauses that apply to at least one of them: a
cell is empty where the clause passed or does not apply, ``x`` with the least p-value of the
decisions that rejected where a statistical check rejected, and ``x`` alone where an exact check
failed. Then the clauses that caught nothing, each with the justification of
:data:`JUSTIFICATIONS`; the mutants only one clause catches; and the catalogue itself.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence
from typing import TextIO

from .. import __version__, tables
from ..conformance.runner import Run, run_plan, run_target
from ..conformance.verdict import Outcome, Verdict
from ..mutants import KINDS, MUTANTS, Mutant
from ..options import CLAUSE, PROFILE, SEED, Option
from .command import Report, main, out
from .document import cut, generated_by, plan_text

__all__ = ["JUSTIFICATIONS", "REPORT", "cell", "matrix", "run_mutants"]

UNDERFLOW = 1e-300  # a p-value below this is shown as "<1e-300": scipy's tails underflow to 0 around here

def _witnessed(module: str, *witnesses: str) -> str:
    return (f"No mutant of the catalogue has this clause's defect: issue 7 names no class of it; {module} shows "
            f"the check rejects {', '.join(witnesses)}.")


# why a clause with a check catches no mutant of the catalogue (the document's "caught nothing" list)
JUSTIFICATIONS = {
    "ENSEMBLE-8": _witnessed("tests/broken/ensemble.py", "MCFalsyRate"),
    "RECURRENT-1": "Checks the LSTM cell without dropout, which no dropout bug touches; tests/broken/recurrent.py "
                   "shows the check rejects GateOrderIGFO.",
    "RECURRENT-2": "Checks the GRU cell without dropout, which no dropout bug touches; tests/broken/recurrent.py "
                   "shows the check rejects ResetBeforeProjection.",
    "RECURRENT-5": _witnessed("tests/broken/recurrent.py", "DropsLastLayer"),
    "RECURRENT-6": _witnessed("tests/broken/recurrent.py", "CarriedStateMasked", "PerGateMisdeclared"),
    "RECURRENT-8": _witnessed("tests/broken/recurrent.py", "BetweenLayerMaskHeldOverTime",
                              "BetweenLayerMaskHeldAfterTheFirstStep"),
    "RECURRENT-9": _witnessed("tests/broken/recurrent.py", "SwappedRates", "BetweenLayerKeepsAtP"),
    "RECURRENT-10": _witnessed("tests/broken/recurrent.py", "BatchSharedMasks"),
    "RECURRENT-13": _witnessed("tests/broken/recurrent.py", "RecomputedWithFreshMasks"),
    "TRAINING-4": _witnessed("tests/broken/training.py", "AdvanceDeclaredPerElement", "RestoreWithoutTheOffset"),
    "VARIANTS-6": _witnessed("tests/broken/variants.py", "FeatureAlphaElementwise"),
    "VARIANTS-11": _witnessed("tests/broken/variants.py", "DropPathBatchModePerSample"),
    "VARIANTS-12": _witnessed("tests/broken/variants.py", "DropPathUnscaledEval"),
    "VARIANTS-13": _witnessed("tests/broken/variants.py", "DropBlockClippedBlocks"),
    "VARIANTS-15": _witnessed("tests/broken/variants.py", "DropBlockNoNormalisation",
                              "DropBlockPerSampleNormalisation"),
    "VARIANTS-16": _witnessed("tests/broken/variants.py", "AttentionRenormalisedRows", "AttentionNoRescale"),
}


def cell(verdict: Verdict) -> str:
    """Table 1's cell: empty unless the verdict failed; ``x p`` for a statistical rejection
    (the least p-value of the rejecting decisions), ``x`` for an exact failure."""
    if verdict.outcome is not Outcome.FAIL:
        return ""
    rejected = [record.p_value for record in verdict.records if record.reject]
    if not rejected:
        return "x"
    return f"x {min(rejected):.1g}" if min(rejected) >= UNDERFLOW else f"x <{UNDERFLOW:.0e}"


def run_mutants(mutants: Sequence[Mutant], clauses: Sequence[str], *, profile: str, seed: int,
                log: TextIO | None = None) -> list[Run]:
    """Each mutant run on ``clauses``, a fresh instance each; a line per mutant to ``log``."""
    log = sys.stderr if log is None else log  # the stream of the moment, not the one at import
    versions = {"python": sys.version.split()[0], "refdropout": __version__}
    runs = []
    for i, entry in enumerate(mutants, 1):
        run = run_target(entry.name, entry.make(), clauses, profile=profile, seed=seed, versions=versions)
        caught = [r.verdict.clause for r in run.results if r.verdict.failed]
        print(f"[{i}/{len(mutants)}] {entry.name}: caught by {', '.join(caught) or 'NOTHING'}; {run.seconds:.1f} s",
              file=log, flush=True)
        runs.append(run)
    return runs


def matrix(mutants: Sequence[Mutant], runs: Sequence[Run], clauses: Sequence[str], *, profile: str, seed: int,
           command: str, date: datetime.datetime) -> str:
    """The markdown document: how it was generated, the detections, the silent clauses, the catalogue."""
    verdicts = {run.target: {r.verdict.clause: r.verdict for r in run.results} for run in runs}
    applicable = [c for c in clauses if any(v[c].outcome is not Outcome.NOT_APPLICABLE for v in verdicts.values())]
    return "\n\n".join((
        "# Detection matrix",
        _header(runs, profile=profile, seed=seed, command=command, date=date),
        "## Detections\n\n" + _legend() + "\n\n" + _detections(mutants, verdicts, applicable),
        "## Clauses that caught nothing\n\n" + _silent(verdicts, clauses, applicable),
        "## Mutants only one clause catches\n\n" + _sole(mutants, verdicts, clauses),
        "## Catalogue\n\n" + _catalogue(mutants, verdicts),
    )) + "\n"


def _header(runs: Sequence[Run], *, profile: str, seed: int, command: str, date: datetime.datetime) -> str:
    plan = run_plan(profile)
    seconds = sum(run.seconds for run in runs)
    return (f"{generated_by(command, date)}: {plan_text(plan)}, master seed {seed}; {len(runs)} mutants in "
            f"{seconds:.0f} s. A row is what `refdropout check refdropout.mutants.MODULE:CLASS "
            f"--profile {plan.profile} --seed {seed}` gives for the mutant: each is an implementation with one "
            "deliberate defect, modelled on a public bug report (the catalogue below).")


def _legend() -> str:
    return ("A cell is empty where the clause passed or does not apply to the mutant (it lacks a capability the "
            "check needs); `x` followed by a p-value where a statistical decision rejected (the least p-value of "
            "the rejecting decisions, `<1e-300` where it underflows); `x` alone where an exact check failed. The "
            "last column counts the clauses that rejected the mutant.")


def _detections(mutants: Sequence[Mutant], verdicts: dict, applicable: Sequence[str]) -> str:
    rows = [("mutant", *applicable, "caught")]
    for kind in KINDS:
        own = [m for m in mutants if m.kind == kind]
        if own:
            rows.append((f"**{kind}**", *("" for _ in applicable), ""))
        for entry in own:
            cells = [cell(verdicts[entry.name][c]) for c in applicable]
            caught = sum(bool(c) for c in cells)
            rows.append((entry.name, *cells, str(caught) if caught else "**0**"))
    return tables.markdown(rows)


def _silent(verdicts: dict, clauses: Sequence[str], applicable: Sequence[str]) -> str:
    """Every clause no mutant failed: whether any mutant reached it, and why none is caught there."""
    lines = []
    for clause in clauses:
        if any(v[clause].failed for v in verdicts.values()):
            continue
        reach = "applies to some mutants" if clause in applicable else "applies to no mutant"
        lines.append(f"- {clause} ({reach}): {JUSTIFICATIONS.get(clause, '**no justification recorded**')}")
    return "\n".join(lines) if lines else "Every clause caught at least one mutant."


def _sole(mutants: Sequence[Mutant], verdicts: dict, clauses: Sequence[str]) -> str:
    """Per clause, the mutants it alone rejects: what the suite would lose without it."""
    sole: dict[str, list[str]] = {}
    for entry in mutants:
        caught = [c for c in clauses if verdicts[entry.name][c].failed]
        if len(caught) == 1:
            sole.setdefault(caught[0], []).append(entry.name)
    lines = [f"- {clause}: {', '.join(sole[clause])}" for clause in clauses if clause in sole]
    return "\n".join(lines) if lines else "Every mutant is caught by two clauses or more."


def _catalogue(mutants: Sequence[Mutant], verdicts: dict) -> str:
    rows = [("mutant", "kind", "what is wrong", "models", "caught by (declared)", "quick profile")]
    for entry in mutants:
        declared = ", ".join(c if verdicts[entry.name][c].failed else f"{c} (passed)" for c in entry.caught_by
                             if c in verdicts[entry.name])
        rows.append((entry.name, entry.kind, cut(entry.wrong), cut(entry.models), declared,
                     cut(entry.quick) if entry.quick else "caught"))
    return tables.markdown(rows)


MUTANT = Option("mutant", "only this mutant; repeatable (every registered mutant when not given)",
                choices=tuple(MUTANTS), metavar="NAME", repeatable=True)


def _write(args: argparse.Namespace, *, command: str, date: datetime.datetime) -> str:
    mutants = sorted((MUTANTS[name] for name in (args.mutant or MUTANTS)), key=lambda m: KINDS.index(m.kind))
    runs = run_mutants(mutants, args.clauses, profile=args.profile, seed=args.seed)
    return matrix(mutants, runs, args.clauses, profile=args.profile, seed=args.seed, command=command, date=date)


REPORT = Report("detection", (PROFILE, SEED, MUTANT, CLAUSE, out("docs/detection-matrix.md")), _write)

if __name__ == "__main__":  # python -m refdropout.reports.detection: the same as refdropout report detection
    raise SystemExit(main(REPORT))
