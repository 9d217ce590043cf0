"""Every built-in target, every clause, at the quick profile: the run `refdropout check TARGET` makes.

For each target of refdropout.adapters.TARGETS whose framework is installed (CI installs them
all; a plain `pip install -e '.[test]'` has none, and these tests skip with the install command),
one full run at the quick profile must give exactly the verdicts its adapter declares: every
applicable clause passes or differs by a declared policy, and the only failures are the
framework's known deviations, each listed with its measured reason in the adapter
(``known_deviations``). A known deviation that stops failing fails the test too, so the list is
kept true. The run is the session's one quick run of the target (tests/conftest.py's ``quick_run``,
master seed QUICK_RUN_SEED), which the adapter test files assert on too; its statistical decisions are
charged to the suite's one budget.
"""

from __future__ import annotations

import pytest

from helpers import assert_answers_in_kind, assert_mask_bits_are_the_mask
from refdropout.adapters import TARGETS, load_target
from refdropout.conformance import CHECKS, Outcome


def known_deviations(impl: object) -> dict[str, str]:
    """The clauses ``impl`` is declared to fail, each with its reason."""
    return dict(getattr(impl, "known_deviations", {}))


@pytest.fixture(scope="module", params=sorted(TARGETS))
def target(request: pytest.FixtureRequest):
    builtin = TARGETS[request.param]
    if builtin.missing():
        pytest.skip(builtin.not_installed(request.param))
    return load_target(request.param)


def test_known_deviations_name_checked_clauses(target) -> None:
    deviations = known_deviations(target.impl)
    unchecked = sorted(set(deviations) - set(CHECKS))
    assert not unchecked, f"{target.name}: expected known deviations of clauses with a check, got {unchecked}"
    assert all(isinstance(reason, str) and reason for reason in deviations.values())


def test_every_clause_at_the_quick_profile(target, quick_run) -> None:
    run = quick_run(target.name)
    failed = {r.verdict.clause: r.verdict.detail for r in run.results if r.verdict.outcome is Outcome.FAIL}
    deviations = known_deviations(target.impl)
    unexpected = {clause: detail for clause, detail in failed.items() if clause not in deviations}
    vanished = sorted(set(deviations) - set(failed))
    assert not unexpected, f"{target.name}: expected FAIL for its known deviations only, got FAIL: {unexpected}"
    assert not vanished, (f"{', '.join(vanished)}: expected FAIL for {target.name} (a known deviation), got none:"
                          " update known_deviations")
    assert run.count(Outcome.PASS) > 0


@pytest.mark.parametrize("target", ["reference", "numpy"])
def test_numpy_arrays_are_answered_in_kind(target: str) -> None:
    assert_answers_in_kind(load_target(target).impl)


def test_a_plain_function_is_handed_the_array_itself() -> None:
    """FunctionDropout passes a numpy x through unconverted and returns the function's result as it is."""
    import numpy as np

    from refdropout.adapters.function import FunctionDropout

    seen = []

    def identity(x, p, *, training, seed):
        seen.append(x)
        return x

    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert FunctionDropout(identity, "identity").dropout(a, 0.3, training=True, seed=0) is a
    assert seen == [a]
    # numpy's arithmetic on a 0-d array returns a scalar: answered as a 0-d array
    doubled = FunctionDropout(lambda x, p, *, training, seed: x * 2, "doubled")
    y = doubled.dropout(np.array(1.5), 0.3, training=True, seed=0)
    assert isinstance(y, np.ndarray) and y.shape == () and y == 3.0
    assert_answers_in_kind(FunctionDropout(identity, "identity"))


def test_numpy_mask_bits_are_the_mask_of_dropout() -> None:
    assert_mask_bits_are_the_mask(load_target("numpy").impl)
