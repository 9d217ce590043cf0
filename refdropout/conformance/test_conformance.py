"""The conformance suite as pytest tests, collected by ``pytest --pyargs refdropout.conformance
--refdropout-impl TARGET`` (refdropout.conformance.plugin parametrizes it, one test per clause)."""

from __future__ import annotations

import pytest

from .output import table
from .verdict import Outcome


def test_clause(refdropout_run) -> None:
    """The clause's check passes, possibly by a declared policy; a clause whose check needs a
    capability the target lacks is skipped as not applicable, never passed."""
    result = refdropout_run.results[0]
    verdict = result.verdict
    if verdict.outcome is Outcome.NOT_APPLICABLE:
        pytest.skip(f"not applicable: {verdict.detail}")
    if verdict.outcome is Outcome.FAIL:
        run = refdropout_run
        pytest.fail(f"{verdict.clause} ({result.title}) fails for {run.target}: {verdict.detail}\n\n{table(run)}\n\n"
                    f"reproduce: refdropout check {run.target} --clause {verdict.clause} "
                    f"--profile {run.plan.profile} --seed {run.seed}", pytrace=False)
