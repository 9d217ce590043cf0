"""Do correct implementations ever fail? Every clause against each target under many master seeds.

    refdropout report sweep [--profile quick|standard|deep] [--seeds 20] [--first 0]
        [--clause PATTERN] [--results docs/seed-sweep.jsonl] [--out docs/seed-sweep.md] [TARGET ...]

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
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from .. import tables
from ..adapters import TARGETS, TargetError, load_target
from ..conformance.runner import Run, run_plan, run_target
from ..conformance.verdict import Outcome
from ..options import CLAUSE, PROFILE, SEED, TARGET, Option, integer
from .command import Report, main, out
from .document import generated_by, plan_text

__all__ = ["REPORT", "record_of", "report", "runs_of"]


def record_of(run: Run, known: dict[str, str]) -> dict:
    """One run as a JSON-ready record: the outcome and smallest p-value of every clause."""
    clauses = {}
    for result in run.results:
        p_values = [r.p_value for r in result.verdict.records]
        clauses[result.verdict.clause] = {"outcome": result.verdict.outcome.value,
                                          "min_p": min(p_values) if p_values else None,
                                          "decisions": len(p_values)}
    return {"target": run.target, "seed": run.seed, "profile": run.plan.profile, "seconds": round(run.seconds, 2),
            "versions": run.versions, "known_deviations": sorted(known), "clauses": clauses}


def runs_of(records: Sequence[dict], profile: str) -> list[dict]:
    """The records of ``profile`` merged per target and seed, in order of first appearance: the
    clauses of all of them, their seconds summed, the versions and known deviations of the last."""
    runs: dict[tuple[str, int], dict] = {}
    for record in records:
        if record["profile"] != profile:
            continue
        key = (record["target"], record["seed"])
        if key not in runs:
            runs[key] = {**record, "clauses": dict(record["clauses"])}
            continue
        run = runs[key]
        run["clauses"].update(record["clauses"])
        run["seconds"] += record["seconds"]
        run["versions"], run["known_deviations"] = record["versions"], record["known_deviations"]
    return list(runs.values())


def _read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def report(records: Sequence[dict], *, profile: str, command: str, date: datetime.datetime) -> str:
    """The markdown report of every record of ``profile``: a row per target, its seeds, how to read it."""
    plan = run_plan(profile)
    order = list(TARGETS)
    targets = sorted({r["target"] for r in records if r["profile"] == profile},
                     key=lambda t: (order.index(t) if t in order else len(order), t))
    merged = runs_of(records, profile)
    rows = [("target", "version", "seeds", "seconds per run", "statistical decisions", "smallest p", "unexpected FAIL",
             "known deviations (FAIL under every seed?)", "policy")]
    rows += [_row(target, [r for r in merged if r["target"] == target]) for target in targets]
    seeds = {t: sorted(r["seed"] for r in merged if r["target"] == t) for t in targets}
    return "\n\n".join([
        "# Seed sweep: correct implementations under many master seeds",
        f"{generated_by(command, date)}: {plan_text(plan)}.",
        tables.markdown(rows),
        "Seeds: " + "; ".join(f"{t}: {', '.join(map(str, own))}" for t, own in seeds.items()) + ".",
        ("`smallest p` is over the statistical decisions of clauses that are not known deviations; a decision "
         f"rejects at p ≤ {plan.alpha:.0e}. `unexpected FAIL` counts the seeds under which a clause failed that the "
         "adapter does not declare as a known deviation."),
    ]) + "\n"


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
    version = runs[-1]["versions"].get("framework_version") or runs[-1]["versions"].get("refdropout", "")
    seconds = sum(r["seconds"] for r in runs) / len(runs)
    smallest = f"{min(p_values):.2g}" if p_values else "-"
    return (target, version, str(len(runs)), f"{seconds:.1f}", f"{decisions:,}", smallest, unexpected, deviations,
            ", ".join(sorted(policy)) or "none")


SEEDS = Option("seeds", "how many master seeds", parse=integer(1), default=20, metavar="N")
FIRST = Option("first", "the first master seed, in [0, 2**64)", parse=SEED.parse, default=0, metavar="N")
RESULTS = Option("results", "the results file, one JSON line per run, appended to", parse=Path,
                 default=Path("docs/seed-sweep.jsonl"), metavar="FILE")


def _write(args: argparse.Namespace, *, command: str, date: datetime.datetime) -> str:
    """Run what the results file lacks, appending each run to it; the report of the whole file."""
    done = {(r["target"], r["seed"]): set(r["clauses"]) for r in runs_of(_read(args.results), args.profile)}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    for name in args.targets:
        try:
            loaded = load_target(name)
        except TargetError as error:
            print(f"{name}: skipped: {error}", file=sys.stderr)
            continue
        known = dict(getattr(loaded.impl, "known_deviations", {}))
        for seed in range(args.first, args.first + args.seeds):
            missing = [c for c in args.clauses if c not in done.get((name, seed), ())]
            if not missing:
                continue
            run = run_target(name, loaded.impl, missing, profile=args.profile, seed=seed, versions=loaded.versions())
            with args.results.open("a", encoding="utf-8") as results:
                results.write(json.dumps(record_of(run, known)) + "\n")
            print(f"{name} seed {seed}: " + ", ".join(f"{run.count(o)} {o.value}" for o in Outcome)
                  + f"; {run.seconds:.1f} s", file=sys.stderr, flush=True)
    return report(_read(args.results), profile=args.profile, command=command, date=date)


REPORT = Report("sweep", (replace(TARGET, default=tuple(TARGETS)), PROFILE, SEEDS, FIRST, CLAUSE, RESULTS,
                          out("docs/seed-sweep.md")), _write)

if __name__ == "__main__":  # python -m refdropout.reports.sweep: the same as refdropout report sweep
    raise SystemExit(main(REPORT))
