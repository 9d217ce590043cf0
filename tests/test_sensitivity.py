"""The measured sensitivity of the keep-rate decision: the statistics (refdropout.stats.sensitivity) and the
report that runs them beside the real check (refdropout.reports.sensitivity, docs/sensitivity.md)."""

from __future__ import annotations

import datetime
import subprocess
import sys

import pytest

from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance.runner import run_plan
from refdropout.dtypes import float64
from refdropout.reports import sensitivity as R
from refdropout.stats import sensitivity as S
from refdropout.tensor import Tensor

SEED = 20261205
LARGE = 0.05  # five times the quick profile's MDE: the exact power is 1 to within 1e-12


@pytest.mark.clause("STATS-14")
@pytest.mark.parametrize("q", R.KEEP_PROBS)
def test_a_large_deviation_is_always_detected(q):
    cell = S.measure(run_plan("quick"), q, -LARGE, 5, SEED)
    assert cell.exact_power > 1 - 1e-12 and cell.planned
    assert (cell.detected, cell.rate) == (5, 1.0)


@pytest.mark.clause("STATS-14")
def test_no_deviation_is_not_detected(suite_budget):
    """At δ = 0 every replicate is a decision about a correct source, charged to the suite's budget."""
    plan = run_plan("quick")
    decisions = S.replicate_decisions(plan, 0.5, 0.0, 4, SEED)
    records = [suite_budget.decide(f"sensitivity null replicate {i}", d) for i, d in enumerate(decisions)]
    assert len(records) == 4 and not any(r.reject for r in records)


@pytest.mark.clause("STATS-14")
def test_the_shortcut_agrees_with_the_real_check():
    """The real DROPOUT-16 check against a reference shifted by LARGE fails every run, as the shortcut does."""
    run = R.end_to_end(-LARGE, 2, SEED)
    assert (run.check_failures, run.decision_rejections, run.shortcut.detected) == (2, 2, 2)


def test_the_shifted_reference_is_the_reference_at_the_shifted_rate():
    """Asked for p = 0.5 it is the reference at p = 0.25 (q + 0.25), bit for bit; at other rates the reference."""
    impl, reference = R.ShiftedKeepRate(0.5, 0.25), ReferenceDropout()
    x = Tensor.from_flat([1.0] * 256, (256,), float64)
    for asked, drawn in ((0.5, 0.25), (0.3, 0.3)):
        y = impl.dropout(x, asked, training=True, seed=SEED)
        assert y.data == reference.dropout(x, drawn, training=True, seed=SEED).data
    shifted = impl.dropout(x, 0.5, training=True, seed=SEED)
    assert shifted.data != reference.dropout(x, 0.5, training=True, seed=SEED).data


@pytest.mark.parametrize(("call", "name"), [
    (lambda: S.measure(run_plan("quick"), 0.5, 0.6, 5, SEED), "delta"),
    (lambda: S.measure(run_plan("quick"), 0.1, -0.2, 5, SEED), "delta"),
    (lambda: S.measure(run_plan("quick"), 1.5, 0.0, 5, SEED), "q"),
    (lambda: S.measure(run_plan("quick"), 0.5, 0.01, 0, SEED), "replicates"),
    (lambda: S.measure(run_plan("quick"), 0.5, 0.01, 5, -1), "seed"),
    (lambda: S.measure(run_plan("quick"), 0.5, 0.01, 5, 2**32), "seed"),
    (lambda: R.measure_grid(5, SEED, profiles=("fast",)), "profile"),
    (lambda: R.ShiftedKeepRate(0.1, 0.2), "delta"),
])
def test_bad_arguments_are_refused_by_name(call, name):
    with pytest.raises(ValueError, match=rf"^{name} must"):
        call()


def test_the_report_has_one_row_per_profile_q_and_delta(monkeypatch, tmp_path):
    cells = R.measure_grid(2, SEED, profiles=("quick", "standard"), keep_probs=(0.1, 0.5), deviations=(0.02,))
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib raises ImportError
    assert not R.plot(cells, tmp_path / "plot.png") and not (tmp_path / "plot.png").exists()
    document = R.report(cells, [], command="cmd", seed=SEED, seconds=1.0, plot_note="matplotlib not installed: no plot",
                        date=datetime.datetime(2026, 12, 5, tzinfo=datetime.UTC))
    table = document.split("## Detection rate")[1].split("##")[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith(("| quick", "| standard"))]
    keys = [(row[0].lstrip("| "), float(row[1]), float(row[2])) for row in rows]
    expected = [(p, q, s * 0.02) for p in ("quick", "standard") for q in (0.1, 0.5) for s in (1, -1)]
    assert keys == expected
    assert document.rstrip().endswith("matplotlib not installed: no plot")


def test_the_statistics_import_nothing_above_them():
    """refdropout.stats.sensitivity is statistics only: neither adapters, checks nor reports come with it."""
    script = ("import sys, refdropout.stats.sensitivity; "
              "print(sorted(m for m in sys.modules if m.startswith(('refdropout.adapters', 'refdropout.conformance', "
              "'refdropout.reports', 'refdropout.mutants'))))")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout
