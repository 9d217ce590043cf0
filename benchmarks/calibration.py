"""Calibration of the statistics layer (spec/stats.md, STATS-13 and STATS-14), at benchmark size.

Runs the calibration scenarios of tests/test_stats.py, on masks and samples from numpy's
generator with a fixed seed, at 4000 null and 1000 alternative replicates per test type (the
tests run 1000 and 200), and prints one table:

* null check: for tests of continuous statistics, the Kolmogorov-Smirnov p-value of the null
  p-values against U(0, 1); for exact tests of discrete statistics, the Bonferroni-adjusted
  p-value of the level-grid check P(p <= a) <= a, and the largest ratio of the observed
  frequency of p <= a to a (at most 1 plus noise for a test that holds its level);
* power: planned (from the plan's power formula at the plan's MDE) against measured, and the
  p-value of the one-sided binomial check that the misses are not too many.

Every check is a decision at 1e-4 ("ok" when it does not reject). Run: python benchmarks/calibration.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import test_stats as calibration  # the scenarios are defined with the tests

NULL_REPLICATES = 4000
POWER_REPLICATES = 1000
BENCHMARK_SEED = 20240918  # fixed, and distinct from the tests' seed


def worst_level_ratio(p_values: np.ndarray) -> float:
    return max(float(np.mean(p_values <= a)) / a for a in calibration.LEVEL_GRID)


def main() -> None:
    start = time.perf_counter()
    print(f"plan: alpha = {calibration.PLAN_ALPHA:g}, power = {calibration.PLAN_POWER}, q = {calibration.Q}; "
          f"checks at {calibration.CHECK_ALPHA:g}; seed {BENCHMARK_SEED}")
    header = (f"{'test':<28} {'plan':<30} {'null reps':>9} {'null check':>12} {'p-value':>9} {'max P(p<=a)/a':>13} "
              f"{'power reps':>10} {'planned':>8} {'measured':>9} {'p-value':>9}  verdict")
    print(header)
    print("-" * len(header))
    for scenario in calibration.scenarios():
        cells = [f"{scenario.name:<28} {scenario.plan:<30}"]
        verdicts = []
        if scenario.null is not None:
            p_values = calibration.null_p_values(scenario, NULL_REPLICATES, BENCHMARK_SEED)
            check = calibration.null_check(scenario, p_values)
            ratio = f"{worst_level_ratio(p_values):.2f}" if scenario.exact else "-"
            kind = "level grid" if scenario.exact else "KS uniform"
            cells.append(f"{NULL_REPLICATES:>9} {kind:>12} {check.p_value:>9.3g} {ratio:>13}")
            verdicts.append(check.reject)
        else:
            cells.append(f"{'-':>9} {'-':>12} {'-':>9} {'-':>13}")
        if scenario.alternative is not None:
            hits = calibration.measured_power(scenario, POWER_REPLICATES, BENCHMARK_SEED)
            check = calibration.power_check(scenario, hits, POWER_REPLICATES)
            cells.append(f"{POWER_REPLICATES:>10} {scenario.planned_power:>8.4f} {hits / POWER_REPLICATES:>9.4f} "
                         f"{check.p_value:>9.3g}")
            verdicts.append(check.reject)
        else:
            cells.append(f"{'-':>10} {'-':>8} {'-':>9} {'-':>9}")
        cells.append(" REJECTS" if any(verdicts) else " ok")
        print(" ".join(cells), flush=True)
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
