"""The detection matrix: which clause's check rejects which mutant of the catalogue, in one markdown document.

    refdropout report detection [--profile quick|standard|deep] [--seed N]
        [--mutant NAME] [--clause PATTERN] [--out docs/detection-matrix.md]
        [--workers N | --tx SPEC ...] [--records DIR] [--allow-partial]

runs every mutant of :data:`refdropout.mutants.MUTANTS` through
:func:`refdropout.conformance.runner.run_target` on every clause with a check, under one plan and
one master seed, so a cell is the verdict ``refdropout check`` gives that mutant. The document
says how it was made (the command, date, versions, profile, seed); table 1 has the mutants down
the side, grouped by kind, and across the top the clauses that apply to at least one of them: a
cell is empty where the clause passed or does not apply, ``x`` with the least p-value of the
decisions that rejected where a statistical check rejected, and ``x`` alone where an exact check
failed. Then the clauses that caught nothing, each with the justification of
:data:`JUSTIFICATIONS`; the mutants only one clause catches; and the catalogue itself.

With ``--workers N`` (N > 1) or ``--tx SPEC`` each mutant is a unit run through pytest-xdist
(refdropout.reports.units, ``--records DIR``, by default ``--out`` with the suffix ``.units``): its run is
recorded as JSON (:func:`run_unit`), verdicts and decisions, and read back (:func:`run_of`), in the
catalogue's order, so the document is the one the serial path writes. A unit whose record exists is not
run again, so an interrupted regeneration resumes; a mutant whose unit left no record stops the
document, named, unless ``--allow-partial``, which leaves its row out.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

from .. import __version__, tables
from ..conformance.runner import ClauseResult, Run, run_plan, run_target
from ..conformance.verdict import Outcome, Verdict
from ..mutants import KINDS, MUTANTS, Mutant
from ..options import CLAUSE, PROFILE, SEED, Option
from ..stats import Record
from .command import Report, main, out
from .document import cut, generated_by, plan_text
from .units import ALLOW_PARTIAL, RECORDS, TX, WORKERS, Plan, Unit, discard, execute, incomplete, parallel

__all__ = ["JUSTIFICATIONS", "REPORT", "cell", "matrix", "run_mutants", "run_of", "run_unit"]

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


def _run(entry: Mutant, clauses: Sequence[str], *, profile: str, seed: int, log: TextIO, counted: str) -> Run:
    """One mutant run on ``clauses``, a fresh instance; a line to ``log``, ``counted`` its place ("[2/61] ")."""
    versions = {"python": sys.version.split()[0], "refdropout": __version__}
    run = run_target(entry.name, entry.make(), clauses, profile=profile, seed=seed, versions=versions)
    caught = [r.verdict.clause for r in run.results if r.verdict.failed]
    print(f"{counted}{entry.name}: caught by {', '.join(caught) or 'NOTHING'}; {run.seconds:.1f} s", file=log,
          flush=True)
    return run


def run_mutants(mutants: Sequence[Mutant], clauses: Sequence[str], *, profile: str, seed: int,
                log: TextIO | None = None) -> list[Run]:
    """Each mutant run on ``clauses``, a fresh instance each; a line per mutant to ``log``."""
    log = sys.stderr if log is None else log  # the stream of the moment, not the one at import
    return [_run(entry, clauses, profile=profile, seed=seed, log=log, counted=f"[{i}/{len(mutants)}] ")
            for i, entry in enumerate(mutants, 1)]


def run_unit(name: str, seed: int, *, profile: str, clauses: list[str]) -> dict:
    """The run of mutant ``name`` as JSON, with every verdict's decisions (refdropout.reports.units_plugin
    calls it in a pytest-xdist worker); :func:`run_of` reads it back."""
    run = _run(MUTANTS[name], clauses, profile=profile, seed=seed, log=sys.stderr, counted="")
    return {"target": run.target, "versions": run.versions, "device": run.device, "seed": run.seed,
            "profile": run.plan.profile, "seconds": run.seconds,
            "results": [{"clause": r.verdict.clause, "outcome": r.verdict.outcome.value, "detail": r.verdict.detail,
                         "records": [asdict(d) for d in r.verdict.records], "policies": list(r.verdict.policies),
                         "title": r.title, "seed": r.seed, "seconds": r.seconds} for r in run.results]}


def run_of(record: dict) -> Run:
    """The run :func:`run_unit` recorded: its verdicts and decisions (no output or traces)."""
    results = tuple(ClauseResult(Verdict(r["clause"], Outcome(r["outcome"]), r["detail"],
                                         tuple(Record(**d) for d in r["records"]), tuple(r["policies"])),
                                 r["title"], r["seed"], r["seconds"]) for r in record["results"])
    return Run(record["target"], record["versions"], record["device"], record["seed"], run_plan(record["profile"]),
               results, record["seconds"])


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
    if parallel(args):
        runs = _unit_runs(args, mutants)
        mutants = [entry for entry in mutants if entry.name in {run.target for run in runs}]
    else:
        runs = run_mutants(mutants, args.clauses, profile=args.profile, seed=args.seed)
    return matrix(mutants, runs, args.clauses, profile=args.profile, seed=args.seed, command=command, date=date)


def _unit_runs(args: argparse.Namespace, mutants: Sequence[Mutant]) -> list[Run]:
    """Each mutant a unit through pytest-xdist, its run read from its record (those with one, under
    --allow-partial); the records removed once the document has every run it will have."""
    plan = Plan("detection", args.profile, tuple(Unit(m.name, args.seed, tuple(args.clauses)) for m in mutants))
    directory = args.records or args.out.with_suffix(".units")
    executed = execute(plan, directory, workers=args.workers, tx=args.tx or ())
    incomplete(executed, directory, allow_partial=args.allow_partial)
    discard(plan, directory, plan.units)
    return [run_of(executed.records[unit]) for unit in plan.units if unit in executed.records]


REPORT = Report("detection", (PROFILE, SEED, MUTANT, CLAUSE, out("docs/detection-matrix.md"), WORKERS, TX, RECORDS,
                              ALLOW_PARTIAL), _write)

if __name__ == "__main__":  # python -m refdropout.reports.detection: the same as refdropout report detection
    raise SystemExit(main(REPORT))
