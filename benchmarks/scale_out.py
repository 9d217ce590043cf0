"""The seed sweep's wall time run serially and in pytest-xdist workers, in the same run (issue 15).

Workload: ``refdropout report sweep numpy --profile quick --seeds N`` (every clause with a check),
run as a user runs it, in a fresh interpreter, once with ``--workers 1`` (the serial path) and
once with ``--workers W`` (each (target, seed) a unit, refdropout.reports.units), each into its own
empty results file. Prints both wall times, the speed-up and what it was measured on: the machine,
its load average before each run, Python and pytest-xdist's versions; and checks that both results
files hold the same verdicts.

    python benchmarks/scale_out.py [--seeds 4] [--workers 2] [--target numpy] [--clause PATTERN ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sweep(directory: Path, args: argparse.Namespace, workers: int) -> tuple[float, list[dict]]:
    """Seconds of wall time of one sweep into an empty results file, and its records without timings."""
    results = directory / f"workers-{workers}.jsonl"
    chosen = [arg for pattern in args.clause for arg in ("--clause", pattern)]
    command = [sys.executable, "-m", "refdropout", "report", "sweep", args.target, "--profile", "quick",
               "--seeds", str(args.seeds), *chosen, "--results", str(results), "--out", str(results.with_suffix(".md")),
               "--workers", str(workers)]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))}
    began = time.perf_counter()
    subprocess.run(command, cwd=directory, env=environment, check=True, capture_output=True, text=True)
    seconds = time.perf_counter() - began
    records = [json.loads(line) for line in results.read_text(encoding="utf-8").splitlines()]
    return seconds, [{key: value for key, value in r.items() if key != "seconds"} for r in records]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--target", default="numpy")
    parser.add_argument("--clause", action="append", default=[], help="only these clauses (default: every one)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()} {platform.system()}, {os.cpu_count()} logical CPUs, "
          f"{platform.processor() or 'processor not reported'}")
    print(f"Python {platform.python_version()}, pytest-xdist {version('pytest-xdist')}, pytest {version('pytest')}")
    print(f"workload: refdropout report sweep {args.target} --profile quick --seeds {args.seeds}"
          + "".join(f" --clause {c}" for c in args.clause))
    times = {}
    with tempfile.TemporaryDirectory() as directory:
        for workers in (1, args.workers):
            load = os.getloadavg()[0]
            times[workers], records = sweep(Path(directory), args, workers)
            print(f"--workers {workers}: {times[workers]:.1f} s wall (load average before: {load:.1f})")
            if workers == 1:
                serial = records
        same = records == serial
    print(f"speed-up at {args.workers} workers: {times[1] / times[args.workers]:.2f}x; "
          f"the same verdicts in both: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
