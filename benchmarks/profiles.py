"""What a conformance run costs, per built-in target and profile: wall time, the suite's share, peak memory.

Each (target, profile) is the command a user runs, ``refdropout check TARGET --profile PROFILE --seed
SEED --json FILE``, in a child process of its own, so that its peak resident set size is its own
(``os.wait4``'s ``ru_maxrss``). From the JSON report: the seconds of the checks and, of those, the
seconds spent inside the implementation's calls (the guard's count, adapter glue and conversions
included; spec/runner.md). The share outside the implementation is ``1 - inside / checks``: the
suite's own cost (inputs, counting, testing), and the child's CPU seconds (user and system, the figure
that load moves least). Targets whose framework is not installed are skipped, named. A run over
``--limit`` seconds is stopped and reported as such.

``--against REV`` names a peer: the suite as it was at the commit REV, checked out in a temporary
worktree and run beside this checkout, each (target, profile) there first and here next, so that both
see the same load; each pair is followed by the ratio of CPU seconds and of walls, this checkout over
REV's. A target REV did not have is run here only. (Issue 16: the standard profile's cost per built-in
target may grow by at most 50% over the suite's when the issue was filed.)

``--examples N`` runs this checkout's suite as if every profile drew N generated cases per exact clause
that searches them (``Profile.examples``, RUNNER-18) instead of its own 25, 100 or 400; the peer keeps its
own. It measures what the generated cases cost; the verdicts of such a run are no profile's.

    python benchmarks/profiles.py [--targets reference numpy torch] [--profiles quick standard]
                                  [--seed 0] [--limit 900] [--against REV] [--reports DIR] [--examples N]

Targets of issue 15 (2-core machine): reference standard <= 90 s / <= 1 GB; numpy standard <= 10 s
/ <= 0.5 GB; torch standard share outside torch <= 25%; torch deep <= 10 min / <= 2 GB; every
target at every profile <= 2 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's refdropout, installed or not

from refdropout.adapters import TARGETS  # noqa: E402  (from ROOT, once it is on sys.path)
from refdropout.stats import PROFILES  # noqa: E402

# `refdropout check` with every profile's Profile.examples replaced by the first argument (--examples)
WITH_EXAMPLES = """import dataclasses, sys
from refdropout.stats import PROFILES
examples = int(sys.argv.pop(1))
PROFILES.update({name: dataclasses.replace(p, examples=examples) for name, p in PROFILES.items()})
from refdropout.cli import main
sys.exit(main(sys.argv[1:]))"""


@dataclass(frozen=True)
class Cost:
    """One (target, profile) run of one suite: the command's wall and CPU seconds, its exit status, its
    peak RSS in bytes, and from its report the seconds of the checks and of those inside the
    implementation."""

    suite: str  # "here" or the peer's revision
    target: str
    profile: str
    wall: float
    cpu: float  # user + system seconds of the child
    status: int | None  # None: stopped at the limit
    peak_rss: int
    checks: float | None = None
    inside: float | None = None

    @property
    def outside_share(self) -> float | None:
        """The share of the checks' time spent outside the implementation's calls."""
        if self.checks is None or self.inside is None or self.checks <= 0:
            return None
        return 1.0 - self.inside / self.checks


def installed(target: str) -> bool:
    """True when ``target``'s framework can be imported here (the reference needs none)."""
    framework = TARGETS[target].framework
    return framework is None or importlib.util.find_spec(framework) is not None


def measure(target: str, profile: str, seed: int, limit: float, root: Path = ROOT, suite: str = "here",
            reports: Path | None = None, examples: int | None = None) -> Cost:
    """Run the command for (target, profile) in a child process, with the suite of the checkout at
    ``root``; its cost. ``reports``: a directory that keeps the run's JSON report as
    SUITE-TARGET-PROFILE.json (for benchmarks/clause_growth.py); ``examples``: the generated cases per
    exact clause, in place of the profile's (SUITE "here-examples-N")."""
    with tempfile.TemporaryDirectory() as scratch:
        report = (reports or Path(scratch)) / f"{suite}-{target}-{profile}.json"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        launch = ["-m", "refdropout"] if examples is None else ["-c", WITH_EXAMPLES, str(examples)]
        command = [sys.executable, *launch, "check", target, "--profile", profile, "--seed", str(seed),
                   "--json", str(report)]
        began = time.perf_counter()
        child = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        status: int | None = None
        while True:
            pid, wait_status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                status = os.waitstatus_to_exitcode(wait_status)
                break
            if time.perf_counter() - began > limit:
                child.kill()
                _, _, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - began
        child.returncode = status if status is not None else -9  # reaped here: Popen must not wait again
        peak = usage.ru_maxrss * 1024  # kilobytes on Linux
        cost = (suite, target, profile, wall, usage.ru_utime + usage.ru_stime, status, peak)
        if status is None or not report.exists():
            return Cost(*cost)
        [run] = json.loads(report.read_text(encoding="utf-8"))["runs"]
        return Cost(*cost, run["seconds"], run.get("implementation_seconds"))


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    """The suite at ``revision``: a detached worktree of this repository in a temporary directory,
    removed afterwards."""
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "peer"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(tree), revision], cwd=ROOT, check=True)
        try:
            yield tree
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=True)


def targets_at(tree: Path) -> set[str]:
    """The built-in targets of the suite checked out at ``tree``."""
    listing = subprocess.run([sys.executable, "-c", "from refdropout.adapters import TARGETS; print(*TARGETS)"],
                             cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True, text=True,
                             check=True)
    return set(listing.stdout.split())


def cpu_model() -> str:
    """The CPU's model name where Linux says it, else what platform knows."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor() or "unknown CPU"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown CPU")


def versions(targets: list[str]) -> str:
    """The installed versions of the targets' frameworks."""
    from importlib.metadata import PackageNotFoundError, version

    found = []
    for framework in sorted({TARGETS[t].framework for t in targets} - {None}):
        distribution = {"tensorflow": "tensorflow-cpu", "paddle": "paddlepaddle"}.get(framework, framework)
        for name in (framework, distribution):
            try:
                found.append(f"{framework} {version(name)}")
                break
            except PackageNotFoundError:
                continue
    return ", ".join(found)


def row(cost: Cost) -> str:
    share = "-" if cost.outside_share is None else f"{cost.outside_share:.1%}"
    inside = "-" if cost.inside is None else f"{cost.inside:.1f}"
    checks = "-" if cost.checks is None else f"{cost.checks:.1f}"
    status = "stopped at the limit" if cost.status is None else str(cost.status)
    return (f"| {cost.suite} | {cost.target} | {cost.profile} | {cost.wall:.1f} | {cost.cpu:.1f} | {checks} | "
            f"{inside} | {share} | {cost.peak_rss / 2**20:,.0f} | {status} |")


def ratio_row(here: Cost, peer: Cost) -> str:
    """This checkout's cost over the peer's, in CPU seconds and in walls."""
    return (f"| here / {peer.suite} | {here.target} | {here.profile} | {here.wall / peer.wall:.2f}x | "
            f"{here.cpu / peer.cpu:.2f}x | | | | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS), metavar="TARGET")
    parser.add_argument("--profiles", nargs="+", default=["quick", "standard"], choices=list(PROFILES),
                        metavar="PROFILE", help="default: quick standard (deep takes long: name it)")
    parser.add_argument("--seed", type=int, default=0, help="the master seed (default 0)")
    parser.add_argument("--limit", type=float, default=900.0, help="seconds a run may take (default 900)")
    parser.add_argument("--against", metavar="REV", help="a commit whose suite is run beside this one's")
    parser.add_argument("--reports", type=Path, metavar="DIR", help="keep each run's JSON report in DIR")
    parser.add_argument("--examples", type=int, metavar="N",
                        help="this checkout's runs draw N generated cases per exact clause, not the profile's")
    args = parser.parse_args()
    if args.examples is not None and args.examples < 0:
        parser.error(f"--examples must be 0 or more, got {args.examples}")
    if args.reports is not None:
        args.reports.mkdir(parents=True, exist_ok=True)

    targets = [t for t in args.targets if installed(t)]
    missing = [t for t in args.targets if t not in targets]
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}; "
          f"load average {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"Python {platform.python_version()}; {versions(targets)}; seed {args.seed}"
          + (f"; not installed: {', '.join(missing)}" if missing else ""))
    with contextlib.ExitStack() as stack:
        peer = stack.enter_context(checkout(args.against)) if args.against else None
        if peer is not None:
            revision = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True,
                                      text=True, check=True).stdout.strip()
            print(f"peer: the suite at {revision}, run first for each (target, profile)")
        peer_targets = targets_at(peer) if peer is not None else set()
        print("\n| suite | target | profile | command s | CPU s | checks s | inside s | outside share | peak RSS MiB "
              "| exit |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for profile in args.profiles:
            for target in targets:
                before = (measure(target, profile, args.seed, args.limit, peer, revision, args.reports)
                          if target in peer_targets else None)
                if before is not None:
                    print(row(before), flush=True)
                here = measure(target, profile, args.seed, args.limit, reports=args.reports, examples=args.examples,
                               suite="here" if args.examples is None else f"here-examples-{args.examples}")
                print(row(here), flush=True)
                if before is not None and before.status is not None and here.status is not None:
                    print(ratio_row(here, before), flush=True)


if __name__ == "__main__":
    main()
