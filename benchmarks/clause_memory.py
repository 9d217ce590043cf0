"""Each clause's own peak memory and CPU seconds in one run of a target (issue 15: a run's peak memory
bounded by a documented constant whatever the profile).

Runs ``runner.run_target`` for one target and profile in this process, as ``refdropout check`` does, and
before each clause resets the kernel's high-water mark of the resident set (``/proc/self/clear_refs``,
Linux): a clause's peak is then ``VmHWM`` when it ends, whatever the clauses before it held. Prints one
row per clause (its peak and the resident size it leaves, in MiB, and its CPU seconds; ``over`` where the
peak exceeds ``sampling.PEAK_BYTES``, the bound stated for a run), then the run's peak, CPU seconds and
verdicts, with the machine and the load; exits 1 where a clause exceeded the bound. (The process's own
``ru_maxrss`` is reset with the high-water mark: the run's peak is the clauses' greatest.)

    python benchmarks/clause_memory.py [--target reference] [--profile deep] [--clause PATTERN ...]
                                       [--seed 0] [--calls K]

``--calls K`` probes the memory of a profile too long to run here: every sample drawn in calls of at most
``sampling.CHUNK`` elements (``sampling.calls``, RECURRENT-9's batches) is drawn in its first K calls only,
each of the size the profile gives it. A clause's peak is then the full run's (its calls are the same, and
counts are all it keeps across them); its time is a fraction and its verdict is meaningless.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's refdropout, installed or not

from refdropout.adapters import load_target  # noqa: E402  (from ROOT, once it is on sys.path)
from refdropout.conformance import recurrent, runner, sampling  # noqa: E402

MIB = 2**20


def _status_bytes(field: str) -> int:
    """A field of /proc/self/status (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak() -> None:
    """Start a new high-water mark of the resident set at its present size."""
    Path("/proc/self/clear_refs").write_text("5")


def _first_calls(k: int) -> None:
    """Draw every chunked sample in its first ``k`` calls only (``--calls``), wherever a check reads them."""
    drawn, batches = sampling.calls, recurrent._in_calls
    sampling.calls = lambda n, seed, width=1: drawn(n, seed, width)[:k]
    recurrent._in_calls = lambda batch, masks_per_item: (batches(batch, masks_per_item)[0],
                                                         min(batches(batch, masks_per_item)[1], k))
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").startswith("refdropout.conformance.") and getattr(module, "calls",
                                                                                              None) is drawn:
            module.calls = sampling.calls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default="reference")
    parser.add_argument("--profile", default="deep")
    parser.add_argument("--clause", action="append", help="an ID, glob or chapter (repeatable; default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--calls", type=int, help="draw each chunked sample in its first CALLS calls only")
    args = parser.parse_args(argv)
    if args.calls is not None:
        _first_calls(args.calls)
    clauses = runner.select_clauses(args.clause)
    target = load_target(args.target)
    probe = "" if args.calls is None else f", every chunked sample in its first {args.calls} calls only"
    print(f"{args.target} at {args.profile}{probe}, seed {args.seed}: {platform.machine()} {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}, load {os.getloadavg()[0]:.1f} at the start; "
          f"{_status_bytes('VmRSS') / MIB:.0f} MiB after loading the target", flush=True)
    print(f"{'clause':<14}{'peak MiB':>10}{'after MiB':>11}{'CPU s':>9}", flush=True)
    rows: list[tuple[str, float]] = []  # (clause, CPU seconds at its start)
    peaks = [_status_bytes("VmHWM")]

    def progress(i: int, total: int, clause: str) -> None:
        now = time.process_time()
        if rows:
            done, began = rows[-1]
            peaks.append(_status_bytes("VmHWM"))
            over = "  over" if peaks[-1] > sampling.PEAK_BYTES else ""
            print(f"{done:<14}{peaks[-1] / MIB:>10.0f}{_status_bytes('VmRSS') / MIB:>11.0f}"
                  f"{now - began:>9.1f}{over}", flush=True)
        if clause:
            rows.append((clause, time.process_time()))
            _reset_peak()

    start = time.process_time()
    run = runner.run_target(target.name, target.impl, clauses, profile=args.profile, seed=args.seed,
                            progress=progress)
    verdicts = ", ".join(f"{r.verdict.clause} {r.verdict.outcome.value}" for r in run.results)
    print(f"run: {time.process_time() - start:.1f} s of CPU, peak {max(peaks) / MIB:.0f} MiB (the clauses' greatest), "
          f"load {os.getloadavg()[0]:.1f} at the end; {verdicts}")
    return int(max(peaks) > sampling.PEAK_BYTES)


if __name__ == "__main__":
    raise SystemExit(main())
