"""The conformance suite's own share of a torch run: time spent outside PyTorch's calls.

Workload: every clause with a check, at ``--profile standard`` (master seed ``--seed``), run
through ``refdropout.conformance.runner.run_target`` against PyTorch on the CPU. The adapter is
a subclass of :class:`~refdropout.adapters.torch.TorchDropout` whose capability methods, and the
layers, nets and streams they return, are timed (the outermost call only, so nothing counts
twice). Inside those calls, the conversions between engine and torch tensors (``_to_torch``,
``_from_torch``, and ``_constant``, which builds the constant masks a recurrent call reports)
are timed apart. So the run's wall time splits into

    torch       inside a capability call, outside conversion: PyTorch's own work
                (and the adapter's few lines of glue around it);
    conversion  engine tensors to torch tensors and back;
    suite       the rest: generating inputs, computing expectations, counting, testing.

The overhead share is (conversion + suite) / wall. Target: at most 25%. The script then times
``refdropout check torch --profile standard`` as a subprocess, the command a user runs, against
its target of 60 s, and lists the clauses that contribute most overhead; ``--cprofile N``
profiles the N biggest again, one at a time, and prints their costliest functions.

    python benchmarks/suite_overhead.py [--seed 0] [--top 5] [--cprofile 0] [--no-cli]
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import os
import platform
import pstats
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's refdropout, installed or not

from refdropout.adapters import torch as torch_adapter  # noqa: E402  (from ROOT, once it is on sys.path)
from refdropout.conformance import runner  # noqa: E402  (from ROOT, once it is on sys.path)
from refdropout.contract import CAPABILITIES  # noqa: E402

PROFILE = "standard"
TARGET_SHARE, TARGET_SECONDS = 0.25, 60.0


class Stopwatch:
    """Seconds inside the framework's calls (outermost only) and inside conversions."""

    def __init__(self) -> None:
        self.inside = self.conversion = 0.0
        self.calls = self.conversions = 0
        self._depth = 0

    def framework_call(self, function: Callable) -> Callable:
        """``function`` timed as a framework call; a layer, net or stream it returns is timed too."""

        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._depth += 1
            began = time.perf_counter()
            try:
                result = function(*args, **kwargs)
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.inside += time.perf_counter() - began
                    self.calls += 1
            return self.timed_result(result)

        return timed

    def conversion_call(self, function: Callable) -> Callable:
        @functools.wraps(function)
        def timed(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.conversion += time.perf_counter() - began
                self.conversions += 1

        return timed

    def timed_result(self, result: Any) -> Any:
        if isinstance(result, (torch_adapter._Module, torch_adapter._RecurrentNet)):
            return _TimedObject(result, self)
        if callable(result) and not isinstance(result, (type, _TimedObject)):
            return self.framework_call(result)  # a stream's call
        return result


class _TimedObject:
    """A layer or recurrent net whose methods and calls are framework calls; attributes pass through."""

    def __init__(self, wrapped: Any, stopwatch: Stopwatch) -> None:
        self._wrapped, self._stopwatch = wrapped, stopwatch

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._wrapped, name)
        return self._stopwatch.framework_call(value) if callable(value) and hasattr(value, "__self__") else value

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._stopwatch.framework_call(self._wrapped)(*args, **kwargs)


def timed_adapter(stopwatch: Stopwatch) -> Any:
    """A TorchDropout on the CPU whose every capability method is a framework call."""
    methods = {name: stopwatch.framework_call(getattr(torch_adapter.TorchDropout, name))
               for name in CAPABILITIES if callable(getattr(torch_adapter.TorchDropout, name, None))}
    return type("TimedTorchDropout", (torch_adapter.TorchDropout,), methods)(device="cpu")


def time_conversions(stopwatch: Stopwatch) -> Callable[[], None]:
    """Time the adapter module's conversions; the returned function restores them."""
    names = ("_to_torch", "_from_torch", "_constant")
    originals = {name: getattr(torch_adapter, name) for name in names}
    for name, function in originals.items():
        setattr(torch_adapter, name, stopwatch.conversion_call(function))
    return lambda: [setattr(torch_adapter, name, function) for name, function in originals.items()]


def measure(clauses: list[str], seed: int) -> tuple[Any, Stopwatch, dict[str, tuple[float, float]]]:
    """The run, its stopwatch, and per clause (torch seconds, conversion seconds)."""
    stopwatch = Stopwatch()
    restore = time_conversions(stopwatch)
    marks: list[tuple[float, float]] = []
    try:
        impl = timed_adapter(stopwatch)
        def mark(i: int, total: int, clause: str) -> None:
            marks.append((stopwatch.inside, stopwatch.conversion))

        run = runner.run_target("torch", impl, clauses, profile=PROFILE, seed=seed, progress=mark)
    finally:
        restore()
    per_clause = {clause: (marks[i + 1][0] - marks[i][0], marks[i + 1][1] - marks[i][1])
                  for i, clause in enumerate(clauses)}
    return run, stopwatch, per_clause


def cli_seconds(seed: int) -> tuple[float, int]:
    """Wall seconds and exit status of ``refdropout check torch --profile standard``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "refdropout", "check", "torch", "--profile", PROFILE,
                           "--seed", str(seed)],
                          cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - began, done.returncode


def profile_clause(clause: str, seed: int, lines: int = 12) -> str:
    """cProfile of one clause's check against the plain adapter, its costliest functions by own time."""
    impl = torch_adapter.TorchDropout(device="cpu")
    profiler = cProfile.Profile()
    profiler.runcall(runner.run_target, "torch", impl, [clause], profile=PROFILE, seed=seed)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(lines)
    return out.getvalue()


def cpu_model() -> str:
    """The CPU's model name where Linux says it, else what platform knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the master seed (default 0)")
    parser.add_argument("--top", type=int, default=5, help="clauses to list by overhead (default 5)")
    parser.add_argument("--cprofile", type=int, default=0, metavar="N", help="cProfile the N biggest (default 0)")
    parser.add_argument("--no-cli", action="store_true", help="skip timing the refdropout check command")
    args = parser.parse_args()

    import torch

    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
          f"profile {PROFILE}, seed {args.seed}")

    clauses = runner.select_clauses()
    run, stopwatch, per_clause = measure(clauses, args.seed)
    wall, inside, conversion = run.seconds, stopwatch.inside, stopwatch.conversion
    torch_seconds, suite = inside - conversion, wall - inside
    share = (wall - torch_seconds) / wall
    counts = {outcome.name: run.count(outcome) for outcome in {r.verdict.outcome for r in run.results}}
    print(f"clauses: {len(clauses)} ({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
          f"{stopwatch.calls} framework calls, {stopwatch.conversions} conversions")
    print(f"total wall time   {wall:8.2f} s")
    print(f"inside torch      {torch_seconds:8.2f} s  {torch_seconds / wall:6.1%}")
    print(f"conversion        {conversion:8.2f} s  {conversion / wall:6.1%}")
    print(f"suite (the rest)  {suite:8.2f} s  {suite / wall:6.1%}")
    met = "met" if share <= TARGET_SHARE else "NOT met"
    print(f"overhead share    {share:8.1%}    target <= {TARGET_SHARE:.0%}: {met}")

    rows = sorted(((result.seconds - (per_clause[clause][0] - per_clause[clause][1]), clause, result.seconds,
                    *per_clause[clause])
                   for clause, result in zip(clauses, run.results)), reverse=True)
    print(f"\nbiggest contributors to overhead (of {wall - torch_seconds:.2f} s):")
    print(f"{'clause':<14} {'wall s':>8} {'torch s':>8} {'conv s':>8} {'suite s':>8} {'overhead s':>10} {'of all':>7}")
    for overhead, clause, seconds, inside_clause, conversion_clause in rows[:args.top]:
        print(f"{clause:<14} {seconds:8.2f} {inside_clause - conversion_clause:8.2f} {conversion_clause:8.2f} "
              f"{seconds - inside_clause:8.2f} {overhead:10.2f} {overhead / (wall - torch_seconds):7.1%}")

    for _, clause, *_ in rows[:args.cprofile]:
        print(f"\ncProfile of {clause} (own time):\n{profile_clause(clause, args.seed)}")

    if not args.no_cli:
        seconds, status = cli_seconds(args.seed)
        print(f"\nrefdropout check torch --profile {PROFILE}: {seconds:.1f} s (exit status {status}), "
              f"target <= {TARGET_SECONDS:.0f} s: {'met' if seconds <= TARGET_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
