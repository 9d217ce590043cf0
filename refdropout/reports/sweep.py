"""Do correct implementations ever fail? Every clause against each target under many master seeds.

    refdropout report sweep [--profile quick|standard|deep] [--seeds 20] [--first 0]
        [--clause PATTERN] [--policy NAME=VALUE ...] [--dtypes LIST]
        [--results docs/seed-sweep.jsonl] [--out docs/seed-sweep.md]
        [--workers N | --tx SPEC ...] [--records DIR] [--allow-partial] [TARGET ...]

runs :func:`refdropout.conformance.runner.run_target` for each target under master seeds
``first, first + 1, ...`` and appends one JSON line per run to ``--results``: the target, seed,
profile, seconds and every clause's outcome with the smallest p-value of its decisions. A clause
already recorded for a target and seed is not run again, so a long sweep can be resumed, and a
clause added to the spec after a sweep is filled in for every recorded run: a clause's own seed
depends only on the master seed and its ID, and each decision is made at the plan's α, so the
records of one target and seed together are the run of all their clauses. The markdown report
is made from the whole results file: per target, the runs, each clause that ever failed or
differed by policy (and under how many seeds), the target's declared known deviations, and the
smallest p-value any statistical decision reached, next to the per-decision α. A correct
implementation's statistical clauses fail a run with probability at most the family-wise α
(STATS-4), so under 20 seeds a failure that is not a known deviation is a finding, not bad luck.
Run again with the same options once every run is recorded, it only writes the report anew.

``--policy`` and ``--dtypes`` declare for every target on top of its own declarations, as in
``refdropout check``; the records keep them, and a target's runs under other declarations are other
runs: another row of the report, named by its options (e.g. ``numpy --policy nonfinite=select``),
resumed and counted apart.

With ``--workers N`` (N > 1) or ``--tx SPEC`` the runs the results file lacks are units run through
pytest-xdist (refdropout.reports.units, ``--records DIR``, by default ``--results`` with the suffix
``.units``); their records are appended to the results file in the order the serial sweep appends
them, so the report is the one it writes. A unit that left no record stops the report, named,
unless ``--allow-partial``; the records appended are removed, the others kept for the next run.

The results file is refdropout.reports.results: each record appended whole under a lock, so two
sweeps may share one file; a line that is not a record (an interrupted write, a foreign or
corrupt line) is skipped, named ``FILE:LINE`` with why, on stderr and in the report; a clause
recorded twice for a target and seed is counted once.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .. import tables
from ..adapters import TARGETS, LoadedTarget, TargetError, load_target
from ..conformance.runner import run_plan, run_target
from ..conformance.verdict import Outcome
from ..contract.declarations import DTYPES, POLICY
from ..options import CLAUSE, PROFILE, SEED, TARGET, Option, integer
from .command import Report, main, out, written
from .document import cut, generated_by, plan_text
from .results import Results, append, merge, read_results, record_of, run_name
from .units import ALLOW_PARTIAL, RECORDS, TX, WORKERS, Plan, Unit, declared_by, discard, execute, incomplete, parallel

__all__ = ["REPORT", "report", "run_unit"]

SKIPPED_SHOWN = 20  # the lines of the results file skipped are named up to this many; the rest are counted


def report(results: Results, *, profile: str, command: str, date: datetime.datetime) -> str:
    """The markdown report of every record of ``profile``: a row per target, its seeds, how to read it;
    the lines of the results file skipped and the clause results recorded twice, where there are any."""
    plan = run_plan(profile)
    order = list(TARGETS)
    merged, repeated = merge(results.records, profile)
    targets = {run_name(r): r["target"] for r in merged}
    names = sorted(targets, key=lambda n: (order.index(targets[n]) if targets[n] in order else len(order), n))
    rows = [("target", "version", "seeds", "seconds per run", "statistical decisions", "smallest p", "unexpected FAIL",
             "known deviations (FAIL under every seed?)", "policy")]
    rows += [_row(name, [r for r in merged if run_name(r) == name]) for name in names]
    seeds = {n: sorted(r["seed"] for r in merged if run_name(r) == n) for n in names}
    return "\n\n".join([
        "# Seed sweep: correct implementations under many master seeds",
        f"{generated_by(command, date)}: {plan_text(plan)}.",
        tables.markdown(rows),
        "Seeds: " + "; ".join(f"{t}: {', '.join(map(str, own))}" for t, own in seeds.items()) + ".",
        ("`smallest p` is over the statistical decisions of clauses that are not known deviations; a decision "
         f"rejects at p ≤ {plan.alpha:.0e}. `unexpected FAIL` counts the seeds under which a clause failed that the "
         "adapter does not declare as a known deviation."),
        *([_elsewhere(results.records, profile)] if any(r["profile"] != profile for r in results.records) else []),
        *([f"Clause results recorded more than once for a target and seed (e.g. by two sweeps writing the results "
           f"file at once), each counted once: {repeated}."] if repeated else []),
        *([_skipped(results.notes())] if results.skipped else []),
    ]) + "\n"


def _elsewhere(records: Sequence[dict], profile: str) -> str:
    """The records of the results file under other profiles than the report's, which it leaves out."""
    others = Counter(r["profile"] for r in records if r["profile"] != profile)
    return ("The results file also holds " + ", ".join(f"{n} records under profile `{p}`" for p, n in others.items())
            + ", left out here: `--profile` chooses the profile reported.")


def _skipped(notes: Sequence[str]) -> str:
    """The lines of the results file that hold no record, as the report lists them."""
    return "\n".join([f"Skipped, holding no record ({len(notes)} lines of the results file):", "",
                      *(f"- {cut(note)}" for note in _shown(notes))])


def _shown(notes: Sequence[str]) -> list[str]:
    """The first SKIPPED_SHOWN notes, and how many more there are."""
    more = len(notes) - SKIPPED_SHOWN
    return [*notes[:SKIPPED_SHOWN], *([f"... and {more} more lines skipped"] if more > 0 else [])]


def _row(target: str, runs: Sequence[dict]) -> tuple[str, ...]:
    """One target's runs: the clauses that failed (known deviations apart), differed by policy, the smallest p."""
    known = set(runs[-1]["known_deviations"])
    failed: dict[str, int] = {}
    policy: set[str] = set()
    p_values, decisions = [], 0
    for run in runs:
        for clause, result in run["clauses"].items():
            if result["outcome"] == Outcome.FAIL.value:
                failed[clause] = failed.get(clause, 0) + 1
            elif result["outcome"] == Outcome.POLICY.value:
                policy.add(clause)
            if result["min_p"] is not None and clause not in known:
                p_values.append(result["min_p"])
            decisions += result["decisions"]
    unexpected = ", ".join(f"{c} ({n})" for c, n in sorted(failed.items()) if c not in known) or "none"
    deviations = ", ".join(f"{c} ({failed.get(c, 0)}/{len(runs)})" for c in sorted(known)) or "none"
    version = runs[-1]["versions"].get("framework_version") or runs[-1]["versions"].get("refdropout") or ""
    seconds = sum(r["seconds"] for r in runs) / len(runs)
    smallest = f"{min(p_values):.2g}" if p_values else "-"
    return (target, version, str(len(runs)), f"{seconds:.1f}", f"{decisions:,}", smallest, unexpected, deviations,
            ", ".join(sorted(policy)) or "none")


SEEDS = Option("seeds", "how many master seeds", parse=integer(1), default=20, metavar="N")
FIRST = Option("first", "the first master seed, in [0, 2**64)", parse=SEED.parse, default=0, metavar="N")
RESULTS = Option("results", "the results file, one JSON line per run, appended to", parse=written,
                 default=Path("docs/seed-sweep.jsonl"), metavar="FILE")


def _write(args: argparse.Namespace, *, command: str, date: datetime.datetime) -> str:
    """Run what the results file lacks, appending each run to it; the report of the whole file. The
    file is read again after each run, so a sweep sharing it runs nothing another has recorded since."""
    told: set[int] = set()
    results = _read(args.results, told)
    if parallel(args):
        results = _write_units(args, results, told)
        return report(results, profile=args.profile, command=command, date=date)
    declared = declared_by(args.policy, args.dtypes)
    for name in args.targets:
        try:
            loaded = load_target(name, **declared)
        except TargetError as error:
            print(f"{name}: skipped: {error}", file=sys.stderr)
            continue
        known = dict(getattr(loaded.impl, "known_deviations", {}))
        for seed in range(args.first, args.first + args.seeds):
            missing = _missing(results, args, name, seed)
            if not missing:
                continue
            run = run_target(name, loaded.impl, missing, profile=args.profile, seed=seed, versions=loaded.versions,
                             declarations=loaded.declarations)
            append(args.results, record_of(run, known, declared))
            print(f"{name} seed {seed}: " + ", ".join(f"{run.count(o)} {o.value}" for o in Outcome)
                  + f"; {run.seconds:.1f} s", file=sys.stderr, flush=True)
            results = _read(args.results, told)
    return report(results, profile=args.profile, command=command, date=date)


def _missing(results: Results, args: argparse.Namespace, name: str, seed: int) -> list[str]:
    """The clauses of ``args`` the results file lacks for ``name`` under ``seed`` and ``args``' declarations."""
    done = {(run_name(r), r["seed"]): set(r["clauses"]) for r in merge(results.records, args.profile)[0]}
    wanted = run_name({"target": name, "declared": declared_by(args.policy, args.dtypes)})
    return [c for c in args.clauses if c not in done.get((wanted, seed), ())]


def _write_units(args: argparse.Namespace, results: Results, told: set[int]) -> Results:
    """The runs the results file lacks as units through pytest-xdist; their records appended in the
    serial sweep's order (a target that did not load said once, as it says it); the file read again."""
    units = tuple(Unit(name, seed, tuple(missing)) for name in args.targets
                  for seed in range(args.first, args.first + args.seeds)
                  if (missing := _missing(results, args, name, seed)))
    plan = Plan("sweep", args.profile, units, declared_by(args.policy, args.dtypes))
    directory = args.records or args.results.with_suffix(".units")
    executed = execute(plan, directory, workers=args.workers, tx=args.tx or ())
    unloaded = set()
    for unit, record in executed.records.items():
        if "skipped" not in record:
            append(args.results, record)
        elif unit.name not in unloaded:
            unloaded.add(unit.name)
            print(f"{unit.name}: skipped: {record['skipped']}", file=sys.stderr)
    discard(plan, directory, list(executed.records))
    incomplete(executed, directory, allow_partial=args.allow_partial)
    return _read(args.results, told)


@functools.cache
def _target(name: str, policies: tuple[tuple[str, object], ...], dtypes: tuple[str, ...] | None) -> LoadedTarget:
    """The target ``name`` under the command line's declarations, loaded once per process, as the
    serial sweep loads it once for its seeds."""
    return load_target(name, policies=policies, dtypes=dtypes)


def run_unit(name: str, seed: int, *, profile: str, clauses: list[str], policies: Sequence[Sequence] = (),
             dtypes: Sequence[str] | None = None) -> dict:
    """The unit (``name``, ``seed``): its record of the results file, or ``{"skipped": why}`` for a
    target that does not load (refdropout.reports.units_plugin calls it in a pytest-xdist worker, with
    the plan's declarations ``policies`` and ``dtypes``)."""
    try:
        loaded = _target(name, tuple(map(tuple, policies)), dtypes and tuple(dtypes))
    except TargetError as error:
        return {"skipped": str(error)}
    known = dict(getattr(loaded.impl, "known_deviations", {}))
    run = run_target(name, loaded.impl, clauses, profile=profile, seed=seed, versions=loaded.versions,
                     declarations=loaded.declarations)
    return record_of(run, known, declared_by(policies, dtypes))


def _read(path: Path, told: set[int]) -> Results:
    """The results file; each line skipped said on stderr once (``told``: the numbers of those said)."""
    results = read_results(path)
    new = set(results.skipped) - told
    told.update(new)
    for note in _shown(results.notes(new)):
        print(f"skipped {note}", file=sys.stderr)
    return results


REPORT = Report("sweep", (replace(TARGET, default=tuple(TARGETS)), PROFILE, SEEDS, FIRST, CLAUSE, POLICY, DTYPES,
                          RESULTS, out("docs/seed-sweep.md"), WORKERS, TX, RECORDS, ALLOW_PARTIAL), _write)

if __name__ == "__main__":  # python -m refdropout.reports.sweep: the same as refdropout report sweep
    raise SystemExit(main(REPORT))
