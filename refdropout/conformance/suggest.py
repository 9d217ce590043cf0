"""``refdropout check --suggest``: which declaration would turn a FAIL into a pass (RUNNER-17).

For a clause that failed and that some policy relaxes (contract.policies.RELAXES, the table of
spec/dropout.md), the clause is run again, alone, with the same seed and profile, under the other
allowed values of the policies that relax it: first each policy changed alone, then two together,
and so on, stopping at the fewest changes under which it passes. Each rerun is a run of its own,
on a budget of its own: the verdicts, p-values and exit status of the run it follows are left as
they were; the suggestions join the run's table as lines and its JSON and JUnit reports as data
(``Run.suggestions``). A suggestion is a fact about this target under this seed and nothing more: a policy
declared is then held to by every clause that reads it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

from ..contract import Implementation
from ..contract.declarations import Declarations, Redeclared
from ..contract.policies import POLICY_VALUES, RELAXES
from .guard import Interrupted, Watch
from .runner import Run, run_target
from .verdict import Outcome, Suggestion

__all__ = ["alternatives", "suggestions"]


def alternatives(clause: str, declarations: Declarations) -> Iterator[list[dict[str, object]]]:
    """The declarations to try for ``clause``, by number of policies changed (1, 2, ...): each a list
    of {policy: other value} changes to the declared policies."""
    relaxing = [name for name, clauses in RELAXES.items() if clause in clauses]
    current = declarations.policies
    for size in range(1, len(relaxing) + 1):
        changes = []
        for names in itertools.combinations(relaxing, size):
            others = [[v for v in POLICY_VALUES[name] if v != getattr(current, name)] for name in names]
            changes += [dict(zip(names, values)) for values in itertools.product(*others)]
        yield changes


def suggestions(run: Run, impl: Implementation, declarations: Declarations, *, profile: str,
                watch: Watch | None = None) -> Iterator[Suggestion]:
    """For each clause ``run`` failed that a policy relaxes, the declarations that make it pass (the
    fewest changes), or none. An interrupt of a rerun raises Interrupted."""
    for result in run.results:
        clause = result.verdict.clause
        relaxing = tuple(name for name, clauses in RELAXES.items() if clause in clauses)
        if result.verdict.outcome is not Outcome.FAIL or not relaxing:
            continue
        passing: list[dict[str, object]] = []
        for changes in alternatives(clause, declarations):
            for change in changes:
                policies = replace(declarations.policies, **change)
                redeclared = Redeclared(impl, replace(declarations, policies=policies))
                rerun = run_target(run.target, redeclared, [clause], profile=profile, seed=run.seed,
                                   device=run.device, watch=watch)
                if rerun.interrupted is not None:
                    raise Interrupted(rerun.interrupted)
                if rerun.results[0].verdict.outcome in (Outcome.PASS, Outcome.POLICY):
                    passing.append(change)
            if passing:
                break
        yield Suggestion(clause, tuple(passing), relaxing)
