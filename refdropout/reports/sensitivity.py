"""The sensitivity report: the measured power of the keep-rate decision of DROPOUT-16 (STATS-14).

    refdropout report sensitivity [--replicates 100] [--seed 0] [--end-to-end-replicates 100]
        [--out docs/sensitivity.md] [--plot docs/sensitivity.png]

docs/sensitivity.md was made with ``--replicates 400`` (about 6 minutes on 2 shared cores).

For every profile, keep probability q and true deviation δ of the grid it measures the detection
rate of the keep-rate decision DROPOUT-16 takes under that profile's plan
(:func:`refdropout.stats.sensitivity.measure`, at the per-decision α of a conformance run,
:func:`~refdropout.conformance.runner.run_plan`), next to its exact power, the minimum detectable
effect of n at q and the planned power. To show that measuring the decision alone is faithful, a
few cells are also run end to end: the real DROPOUT-16 check against the reference engine with its
keep probability shifted by δ at one drop rate.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import scipy

from .. import options, tables
from ..adapters.reference import ReferenceDropout
from ..conformance.runner import run_plan, run_target
from ..options import Option, integer
from ..stats import PROFILES
from ..stats.binomial import clopper_pearson, region_power, rejection_region
from ..stats.sensitivity import (
    CONFIDENCE,
    SEED_BOUND,
    Cell,
    cell_seed,
    check_replicates,
    check_shift,
    measure,
    misses_reject,
    planned_mde,
)
from ..tensor import Tensor
from .command import Report, main, out, written
from .document import generated_by

__all__ = ["DEVIATIONS", "KEEP_PROBS", "REPORT", "EndToEnd", "ShiftedKeepRate", "end_to_end", "end_to_end_deviations",
           "measure_grid", "plot", "report"]

KEEP_PROBS = (0.1, 0.5, 0.9)
DEVIATIONS = (0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02)  # |δ|, each in both directions
END_TO_END_RATE = 0.1  # the drop rate of DROPOUT-16 (KEEP_COUNT_RATES) whose keep rate is shifted: q = 0.9
END_TO_END_FACTORS = (0.5, 1.0, 2.0)  # δ as multiples of the quick n's MDE at q = 0.9
PLOT_POINTS = 80  # |δ| at which the plot draws the exact power


def measure_grid(replicates: int = 100, seed: int = 0, *, profiles: Sequence[str] = tuple(PROFILES),
                 keep_probs: Sequence[float] = KEEP_PROBS, deviations: Sequence[float] = DEVIATIONS) -> list[Cell]:
    """One cell per profile, q and δ = ±|δ| for every |δ| of ``deviations``, each under the plan of a
    conformance run under that profile."""
    return [measure(run_plan(profile), q, sign * d, replicates, seed)
            for profile in profiles for q in keep_probs for d in deviations for sign in (1, -1)]


# --- end to end: the real DROPOUT-16 check against a biased reference ------------------------------


class ShiftedKeepRate(ReferenceDropout):
    """The reference engine, except that asked for drop rate ``p`` it keeps with probability 1 - p + δ."""

    def __init__(self, p: float, delta: float) -> None:
        super().__init__()
        check_shift(1.0 - p, delta)
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
    replicates, seed = check_replicates(replicates, seed)
    impl = ShiftedKeepRate(p, delta)
    first = cell_seed(seed, "end-to-end", p, delta)
    verdicts = [run_target(impl.name, impl, ["DROPOUT-16"], profile="quick", seed=first + r).results[0].verdict
                for r in range(replicates)]
    shifted = f"DROPOUT-16 keep count p={p}"
    return EndToEnd(
        delta=delta, replicates=replicates, check_failures=sum(v.failed for v in verdicts),
        decision_rejections=sum(r.reject for v in verdicts for r in v.records if r.name == shifted),
        shortcut=measure(run_plan("quick"), 1.0 - p, delta, replicates, seed),
    )


def end_to_end_deviations(p: float = END_TO_END_RATE) -> list[float]:
    """δ at END_TO_END_FACTORS times the quick n's MDE at q = 1 - p, in the direction of lower power."""
    plan = run_plan("quick")
    q = 1.0 - p
    mde = planned_mde(plan, q)
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
    return tables.markdown(rows)


def _cells(cells: Sequence[Cell]) -> str:
    rows = [("profile", "q", "δ", "detected", f"rate [{CONFIDENCE:.0%} CI]", "exact power", "planned power", "seed")]
    rows += [(c.profile, f"{c.q:g}", f"{c.delta:+g}", f"{c.detected}/{c.replicates}", _rate(c.detected, c.replicates),
              f"{c.exact_power:.4f}", f"≥ {c.power:g}" if c.planned else "below MDE", str(c.seed)) for c in cells]
    return tables.markdown(rows)


def _end_to_end(runs: Sequence[EndToEnd]) -> str:
    rows = [("δ", "δ / MDE", "DROPOUT-16 check fails", "its decision at the shifted rate", "shortcut", "exact power")]
    rows += [(f"{e.delta:+.3g}", f"{abs(e.delta) / e.shortcut.mde:.2g}", _rate(e.check_failures, e.replicates),
              _rate(e.decision_rejections, e.replicates), _rate(e.shortcut.detected, e.shortcut.replicates),
              f"{e.shortcut.exact_power:.4f}") for e in runs]
    return tables.markdown(rows)


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
                     f"rejects in {sum(map(misses_reject, promised))} of them. ")
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
        (f"{generated_by(command, date, scipy=scipy.__version__)} in {seconds:.0f} s; master seed {seed}, "
         f"{', '.join(map(str, replicates))} replicates per cell."),
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
    figure.savefig(path, dpi=120)
    pyplot.close(figure)
    return True


REPLICATES = Option("replicates", "decisions per cell", parse=integer(1), default=100, metavar="N")
SEED = replace(options.SEED, help="the master seed, in [0, 2**32) (scipy's random_state takes no larger)",
               parse=integer(0, SEED_BOUND, bound_text="2**32"))
END_TO_END_REPLICATES = Option("end-to-end-replicates", "quick DROPOUT-16 runs per end-to-end row; 0 skips them",
                               parse=integer(0), default=100, metavar="N")
PLOT = Option("plot", "the power-curve plot, drawn when matplotlib is installed", parse=written,
              default=Path("docs/sensitivity.png"), metavar="FILE")


def _write(args: argparse.Namespace, *, command: str, date: datetime.datetime) -> str:
    """The grid, the end-to-end rows, the plot beside the document (when matplotlib is installed)."""
    start = time.perf_counter()
    cells = measure_grid(args.replicates, args.seed)
    runs = [end_to_end(d, args.end_to_end_replicates, args.seed) for d in end_to_end_deviations()
            ] if args.end_to_end_replicates else []
    if plot(cells, args.plot):
        note = ("![Detection rate against |δ|: measured (markers), exact power (lines: +δ solid, −δ dashed), "
                "MDE of n at q (dotted)]"
                f"({os.path.relpath(args.plot, args.out.parent)})")
    else:
        note = "matplotlib not installed: no plot"
        print(note, file=sys.stderr)
    return report(cells, runs, command=command, seed=args.seed, seconds=time.perf_counter() - start, date=date,
                  plot_note=note)


REPORT = Report("sensitivity", (REPLICATES, SEED, END_TO_END_REPLICATES, out("docs/sensitivity.md"), PLOT), _write)

if __name__ == "__main__":  # python -m refdropout.reports.sensitivity: the same as refdropout report sensitivity
    raise SystemExit(main(REPORT))
