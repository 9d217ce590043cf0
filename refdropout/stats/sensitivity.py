"""Measured sensitivity of the keep-rate decision of DROPOUT-16 (STATS-2, STATS-3, STATS-6, STATS-14).

    python -m refdropout.stats.sensitivity [--replicates 100] [--seed 0] [--end-to-end-replicates 100]
        [--out docs/sensitivity.md] [--plot docs/sensitivity.png]

docs/sensitivity.md was made with ``--replicates 400`` (about 6 minutes on 2 shared cores).

For every profile, keep probability q and true deviation δ it replicates the decision DROPOUT-16
takes: n = the profile's plan n elements are kept with probability q + δ, and the exact two-sided
binomial test (:func:`~refdropout.stats.binomial.binomial_test`) judges the count against q at the
per-decision α of a conformance run under that profile (:func:`~refdropout.conformance.runner.run_plan`).
The keep count of n Bernoulli(q + δ) elements is Binomial(n, q + δ), and the exact test sees only the
count, so a replicate draws the count itself (``scipy.stats.binom.rvs`` with an explicit seed per
cell): this makes the deep profile's n = 521,309,129 feasible. The detection rate of each cell
stands next to its exact power (:func:`~refdropout.stats.binomial.region_power` on the test's exact
rejection region), the minimum detectable effect of n at q (:func:`~refdropout.stats.planning.detectable_delta`)
and the planned power 0.99 that holds from it on. To show that the shortcut is faithful, a few
cells are also run end to end: the real DROPOUT-16 check against the reference engine with its keep
probability shifted by δ at one drop rate.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import scipy
from scipy.stats import binom

from ..adapters.reference import ReferenceDropout
from ..reports.matrix import _table
from ..conformance.runner import run_plan, run_target
from ..tensor import Tensor
from .arguments import check_count, check_keep_prob, check_real
from .binomial import BinomialDecision, binomial_test, clopper_pearson, region_power, rejection_region
from .planning import detectable_delta
from .profiles import PROFILES, DecisionPlan

__all__ = ["Cell", "EndToEnd", "ShiftedKeepRate", "cell_seed", "end_to_end", "end_to_end_deviations", "main",
           "measure", "plot", "replicate_decisions", "report", "sweep"]

COMMAND = "python -m refdropout.stats.sensitivity"
KEEP_PROBS = (0.1, 0.5, 0.9)
DEVIATIONS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02)  # |δ|, each in both directions
END_TO_END_RATE = 0.1  # the drop rate of DROPOUT-16 (KEEP_COUNT_RATES) whose keep rate is shifted: q = 0.9
END_TO_END_FACTORS = (0.5, 1.0, 2.0)  # δ as multiples of the quick n's MDE at q = 0.9
CONFIDENCE = 0.95  # of the interval around each measured rate
POWER_CHECK_ALPHA = 1e-4  # STATS-14's level for "the misses exceed 1 - planned power"
PLOT_POINTS = 80  # |δ| at which the plot draws the exact power
SEED_BOUND = 2**32  # scipy's random_state takes seeds below 2**32


@dataclass(frozen=True)
class Cell:
    """The detection rate of one (profile, q, δ) over ``replicates`` decisions, and what the plan says."""

    profile: str
    q: float
    delta: float
    n: int
    alpha: float
    seed: int
    replicates: int
    detected: int
    exact_power: float
    mde: float  # the least |δ| the plan's n detects at q with the planned power (both directions)
    power: float  # the planned power, promised from |δ| = mde on

    @property
    def rate(self) -> float:
        return self.detected / self.replicates

    @property
    def interval(self) -> tuple[float, float]:
        """The Clopper–Pearson interval of the detection rate at confidence CONFIDENCE."""
        return clopper_pearson(self.detected, self.replicates, 1.0 - CONFIDENCE)

    @property
    def planned(self) -> bool:
        """True when the plan promises the power here: |δ| ≥ the MDE of n at q."""
        return abs(self.delta) >= self.mde


def cell_seed(seed: int, *parts: object) -> int:
    """The seed of one cell: the first 4 bytes of BLAKE2b("seed:part:..."), little-endian."""
    digest = hashlib.blake2b(":".join(map(str, (seed, *parts))).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little")


def _shifted(q: float, delta: float) -> tuple[float, float]:
    q = check_keep_prob("q", q)
    delta = check_real("delta", delta)
    if not 0.0 <= q + delta <= 1.0:
        raise ValueError(f"delta must keep q + delta in [0, 1], i.e. delta in [{-q}, {1.0 - q}], got {delta!r}")
    return q, delta


def _checked(replicates: int, seed: int) -> tuple[int, int]:
    replicates = check_count("replicates", replicates, minimum=1)
    seed = check_count("seed", seed)
    if seed >= SEED_BOUND:
        raise ValueError(f"seed must be in [0, 2**32), got {seed!r}")
    return replicates, seed


def replicate_decisions(plan: DecisionPlan, q: float, delta: float, replicates: int,
                        seed: int) -> list[BinomialDecision]:
    """``replicates`` keep-rate decisions as DROPOUT-16 takes them under ``plan`` (STATS-2): the keep
    count K ~ Binomial(plan.n, q + δ), drawn with ``random_state=seed``, judged against q at plan.alpha."""
    q, delta = _shifted(q, delta)
    replicates, seed = _checked(replicates, seed)
    counts = binom.rvs(plan.n, q + delta, size=replicates, random_state=seed).tolist()
    return [binomial_test(k, plan.n, q, alpha=plan.alpha) for k in counts]


_mde = lru_cache(maxsize=None)(detectable_delta)  # one per (profile, q), asked by every δ


def measure(profile: str, q: float, delta: float, replicates: int, seed: int) -> Cell:
    """The detection rate of the keep-rate decision of a ``profile`` run at true keep probability
    q + δ, with its exact power and the plan's MDE at q (STATS-3, STATS-14)."""
    plan = run_plan(profile)
    q, delta = _shifted(q, delta)
    replicates, seed = _checked(replicates, seed)
    own = cell_seed(seed, profile, q, delta)
    decisions = replicate_decisions(plan, q, delta, replicates, own)
    return Cell(
        profile=profile, q=q, delta=delta, n=plan.n, alpha=plan.alpha, seed=own, replicates=replicates,
        detected=sum(d.reject for d in decisions),
        exact_power=region_power(rejection_region(plan.n, q, plan.alpha), plan.n, q + delta),
        mde=_mde(q, plan.n, plan.alpha, plan.power), power=plan.power,
    )


def sweep(replicates: int = 100, seed: int = 0, *, profiles: Sequence[str] = tuple(PROFILES),
          keep_probs: Sequence[float] = KEEP_PROBS, deviations: Sequence[float] = DEVIATIONS) -> list[Cell]:
    """One cell per profile, q and δ = ±|δ| for every |δ| of ``deviations``."""
    return [measure(profile, q, sign * d, replicates, seed)
            for profile in profiles for q in keep_probs for d in deviations for sign in (1, -1)]


# --- end to end: the real DROPOUT-16 check against a biased reference ------------------------------


class ShiftedKeepRate(ReferenceDropout):
    """The reference engine, except that asked for drop rate ``p`` it keeps with probability 1 - p + δ."""

    def __init__(self, p: float, delta: float) -> None:
        super().__init__()
        _shifted(1.0 - p, delta)
        self.p, self.delta = p, delta
        self.name = f"reference with q {delta:+g} at p = {p}"

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return super().dropout(x, p - self.delta if p == self.p else p, training=training, seed=seed)


@dataclass(frozen=True)
class EndToEnd:
    """Rejections of the real DROPOUT-16 check (``check_failures``) and of its decision at the shifted
    rate (``decision_rejections``) over ``replicates`` quick runs, next to the shortcut's cell."""

    delta: float
    replicates: int
    check_failures: int
    decision_rejections: int
    shortcut: Cell


def end_to_end(delta: float, replicates: int, seed: int, *, p: float = END_TO_END_RATE) -> EndToEnd:
    """Run DROPOUT-16 under the quick profile ``replicates`` times against :class:`ShiftedKeepRate`,
    master seeds cell_seed(seed, "end-to-end", p, δ) + r, and measure the shortcut's cell beside it."""
    replicates, seed = _checked(replicates, seed)
    impl = ShiftedKeepRate(p, delta)
    first = cell_seed(seed, "end-to-end", p, delta)
    verdicts = [run_target(impl.name, impl, ["DROPOUT-16"], profile="quick", seed=first + r).results[0].verdict
                for r in range(replicates)]
    shifted = f"DROPOUT-16 keep count p={p}"
    return EndToEnd(
        delta=delta, replicates=replicates, check_failures=sum(v.failed for v in verdicts),
        decision_rejections=sum(r.reject for v in verdicts for r in v.records if r.name == shifted),
        shortcut=measure("quick", 1.0 - p, delta, replicates, seed),
    )


def end_to_end_deviations(p: float = END_TO_END_RATE) -> list[float]:
    """δ at END_TO_END_FACTORS times the quick n's MDE at q = 1 - p, in the direction of lower power."""
    plan = run_plan("quick")
    q = 1.0 - p
    mde = _mde(q, plan.n, plan.alpha, plan.power)
    region = rejection_region(plan.n, q, plan.alpha)
    sign = min((1, -1), key=lambda s: region_power(region, plan.n, q + s * mde))
    return [sign * factor * mde for factor in END_TO_END_FACTORS]


# --- the document ----------------------------------------------------------------------------------


def _rate(detected: int, replicates: int) -> str:
    low, high = clopper_pearson(detected, replicates, 1.0 - CONFIDENCE)
    return f"{detected / replicates:.3f} [{low:.3f}, {high:.3f}]"


def _plans(cells: Sequence[Cell]) -> str:
    rows = [("profile", "n", "α per decision", "declared MDE (at q = 0.5)",
             *(f"MDE of n at q = {q:g}" for q in sorted({c.q for c in cells})))]
    for name in dict.fromkeys(c.profile for c in cells):
        own = [c for c in cells if c.profile == name]
        mdes = {c.q: c.mde for c in own}
        rows.append((name, f"{own[0].n:,}", f"{own[0].alpha:.3g}", f"{PROFILES[name].keep_rate_mde:g}",
                     *(f"{mdes[q]:.3g}" for q in sorted(mdes))))
    return _table(rows)


def _cells(cells: Sequence[Cell]) -> str:
    rows = [("profile", "q", "δ", "detected", f"rate [{CONFIDENCE:.0%} CI]", "exact power", "planned power", "seed")]
    rows += [(c.profile, f"{c.q:g}", f"{c.delta:+g}", f"{c.detected}/{c.replicates}", _rate(c.detected, c.replicates),
              f"{c.exact_power:.4f}", f"≥ {c.power:g}" if c.planned else "below MDE", str(c.seed)) for c in cells]
    return _table(rows)


def _end_to_end(runs: Sequence[EndToEnd]) -> str:
    rows = [("δ", "δ / MDE", "DROPOUT-16 check fails", "its decision at the shifted rate", "shortcut", "exact power")]
    rows += [(f"{e.delta:+.3g}", f"{abs(e.delta) / e.shortcut.mde:.2g}", _rate(e.check_failures, e.replicates),
              _rate(e.decision_rejections, e.replicates), _rate(e.shortcut.detected, e.shortcut.replicates),
              f"{e.shortcut.exact_power:.4f}") for e in runs]
    return _table(rows)


def _misses_reject(cell: Cell) -> bool:
    """STATS-14's check of a cell where the plan promises its power: with M misses in R replicates,
    the exact one-sided binomial test of H0: P(miss) <= 1 - power rejects at POWER_CHECK_ALPHA."""
    misses = cell.replicates - cell.detected
    return binomial_test(misses, cell.replicates, 1.0 - cell.power, alpha=POWER_CHECK_ALPHA,
                         alternative="greater").reject


def _reading(cells: Sequence[Cell]) -> str:
    """What the table says, computed from it: the measured power where the plan promises it (and
    STATS-14's check of it), from which |δ| on the measured rate is consistent with the plan, below
    which it is under 1/2, and how often the measured rate's interval misses the exact power."""
    lines = []
    for name in dict.fromkeys(c.profile for c in cells):
        own = [c for c in cells if c.profile == name]
        promised = [c for c in own if c.planned]
        line = f"- `{name}`: "
        if promised:
            worst = min(promised, key=lambda c: c.rate)
            line += (f"in the {len(promised)} cells at or above the MDE of n at q the measured rate is at least "
                     f"{_rate(worst.detected, worst.replicates)} (q = {worst.q:g}, δ = {worst.delta:+g}, exact power "
                     f"{worst.exact_power:.4f}) against the planned {worst.power:g}; STATS-14's check of the misses "
                     f"rejects in {sum(map(_misses_reject, promised))} of them. ")
        else:
            line += "no cell of the grid reaches the MDE. "
        edges = []
        for q in dict.fromkeys(c.q for c in own):
            at_q = [c for c in own if c.q == q]
            consistent = [abs(c.delta) for c in at_q
                          if all(o.interval[1] >= o.power for o in at_q if abs(o.delta) >= abs(c.delta))]
            weak = [abs(c.delta) for c in at_q if c.rate < 0.5]
            edge = f"q = {q:g} (MDE {at_q[0].mde:.3g}): consistent with {own[0].power:g} from |δ| = "
            edge += f"{min(consistent):g}" if consistent else "no |δ| of the grid"
            edge += f", below 1/2 up to |δ| = {max(weak):g}" if weak else ", at least 1/2 at every |δ|"
            edges.append(edge)
        lines.append(line + "; ".join(edges) + ".")
    misses = sum(not c.interval[0] <= c.exact_power <= c.interval[1] for c in cells)
    lines.append(f"\n\"Consistent with\" means the upper end of the rate's {CONFIDENCE:.0%} interval reaches the "
                 "planned power at that |δ| and every larger one. The exact power lies outside the "
                 f"{CONFIDENCE:.0%} interval of the measured rate in {misses} of {len(cells)} cells (about "
                 f"{(1 - CONFIDENCE) * len(cells):.0f} expected by chance at most).")
    return "\n".join(lines)


def report(cells: Sequence[Cell], runs: Sequence[EndToEnd], *, command: str, seed: int, seconds: float,
           date: datetime.datetime, plot_note: str) -> str:
    """The markdown document: how it was made, the plans, the measured table, the end-to-end cells, a reading."""
    replicates = sorted({c.replicates for c in cells})
    parts = [
        "# Sensitivity of the keep-rate decision (DROPOUT-16)",
        f"Generated by\n\n```\n{command}\n```\n\non {date:%Y-%m-%d %H:%M} UTC with Python {platform.python_version()} "
        f"and scipy {scipy.__version__} in {seconds:.0f} s; master seed {seed}, {', '.join(map(str, replicates))} "
        "replicates per cell.",
        "Each replicate is one keep-rate decision exactly as DROPOUT-16 takes it under the profile: the plan's n "
        "elements, the exact two-sided binomial test of STATS-2 (`refdropout.stats.binomial_test`) against q, at "
        "the per-decision α of a conformance run under that profile (α_F / m, `run_plan`; STATS-4, STATS-6). A "
        "replicate is a single decision, not charged to a family budget: the rates are per-decision power. The "
        "keep count of n Bernoulli(q + δ) elements is Binomial(n, q + δ) and the exact test sees only the count, "
        "so each replicate draws the count itself with `scipy.stats.binom.rvs(n, q + δ, random_state=s)`, one "
        "explicit seed s per cell (the last column: BLAKE2b of master seed, profile, q and δ; `cell_seed`); this "
        f"is what makes {max(c.n for c in cells):,} elements a decision feasible. δ is taken in both directions. "
        "*Exact power* is the probability "
        "of the test's exact rejection region under Binomial(n, q + δ) (`region_power`, STATS-3); the plan "
        "promises power ≥ 0.99 wherever |δ| reaches the MDE of n at q (`detectable_delta`, both directions), which "
        "is at most the declared MDE since q = 0.5 needs the most samples.",
        "## Plans\n\n" + _plans(cells),
        "## Detection rate\n\n" + _cells(cells),
    ]
    if runs:
        first = runs[0].shortcut
        parts.append(
            "## The shortcut against the real check\n\n"
            f"The real DROPOUT-16 check (`run_target(..., ['DROPOUT-16'], profile='quick')`, all five drop rates, "
            f"{runs[0].replicates} master seeds per row) against `ShiftedKeepRate`: the reference engine keeping "
            f"with probability q + δ at p = {1.0 - first.q:g} (q = {first.q:g}, a rate DROPOUT-16 draws; q = 0.5 "
            f"is not one of them) and exactly at its other rates. δ is in the direction of lower power, at "
            f"{', '.join(f'{f:g}' for f in END_TO_END_FACTORS)} times the quick MDE at q = {first.q:g} "
            f"({first.mde:.4g}). The check fails when any of its five decisions rejects; the unshifted four reject "
            "with probability at most α each.\n\n" + _end_to_end(runs))
    parts += ["## Reading\n\n" + _reading(cells), plot_note]
    return "\n\n".join(parts) + "\n"


def plot(cells: Sequence[Cell], path: Path) -> bool:
    """Detection rate against |δ|, one panel per q, one colour per profile (+δ circles, −δ triangles,
    exact power as lines, the MDE of n at q dotted, the planned power grey); False, drawing nothing,
    without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        return False
    matplotlib.use("Agg")
    from matplotlib import pyplot

    keep_probs = sorted({c.q for c in cells})
    low, high = min(abs(c.delta) for c in cells if c.delta) / 2, max(abs(c.delta) for c in cells)
    fine = [low * (high / low) ** (i / (PLOT_POINTS - 1)) for i in range(PLOT_POINTS)]
    figure, axes = pyplot.subplots(1, len(keep_probs), figsize=(5 * len(keep_probs), 4), sharey=True, squeeze=False)
    for axis, q in zip(axes[0], keep_probs):
        axis.axhline(cells[0].power, color="grey", linewidth=0.5)
        for colour, name in zip(("tab:blue", "tab:orange", "tab:green"), dict.fromkeys(c.profile for c in cells)):
            first = next(c for c in cells if c.profile == name and c.q == q)
            region = rejection_region(first.n, q, first.alpha)
            for sign, marker, style in ((1, "o", "-"), (-1, "v", "--")):
                own = [c for c in cells if c.profile == name and c.q == q and c.delta * sign > 0]
                axis.plot([abs(c.delta) for c in own], [c.rate for c in own], marker, color=colour,
                          label=f"{name}, {'+' if sign > 0 else '−'}δ measured")
                exact = [(d, region_power(region, first.n, q + sign * d)) for d in fine if 0.0 <= q + sign * d <= 1.0]
                axis.plot(*zip(*exact), style, color=colour, alpha=0.6, linewidth=1)
            axis.axvline(first.mde, color=colour, linestyle=":")
        axis.set(xscale="log", xlabel="|δ| (true keep probability q + δ)", title=f"q = {q:g}")
    axes[0][0].set_ylabel("detection rate")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=COMMAND, description="Measure the power of the keep-rate decision.")
    parser.add_argument("--replicates", type=int, default=100, help="decisions per cell (default: 100)")
    parser.add_argument("--seed", type=int, default=0, help="the master seed, in [0, 2**32) (default: 0)")
    parser.add_argument("--end-to-end-replicates", type=int, default=100, metavar="N",
                        help="quick DROPOUT-16 runs per end-to-end row; 0 skips them (default: 100)")
    parser.add_argument("--out", type=Path, default=Path("docs/sensitivity.md"), help="the document to write")
    parser.add_argument("--plot", type=Path, default=Path("docs/sensitivity.png"), help="the power-curve plot")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Write the document (and the plot when matplotlib is installed); 2 on a usage error."""
    parser = _parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        _checked(args.replicates, args.seed)
        check_count("--end-to-end-replicates", args.end_to_end_replicates)
    except ValueError as error:
        parser.error(str(error))
    start = time.perf_counter()
    cells = sweep(args.replicates, args.seed)
    runs = [end_to_end(d, args.end_to_end_replicates, args.seed) for d in end_to_end_deviations()
            ] if args.end_to_end_replicates else []
    if plot(cells, args.plot):
        note = ("![Detection rate against |δ|: measured (markers), exact power (lines: +δ solid, −δ dashed), "
                "MDE of n at q (dotted)]"
                f"({os.path.relpath(args.plot, args.out.parent)})")
    else:
        note = "matplotlib not installed: no plot"
        print(note, file=sys.stderr)
    document = report(cells, runs, command=shlex.join([*COMMAND.split(), *argv]), seed=args.seed,
                      seconds=time.perf_counter() - start, date=datetime.datetime.now(datetime.timezone.utc),
                      plot_note=note)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(document, encoding="utf-8")
    print(f"wrote {args.out} in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
