"""An exact clause's property checked over generated cases by Hypothesis, reproducibly (spec/runner.md,
"Generated cases").

:func:`search` draws the profile's number of cases (``plan.examples``) from a strategy of
:mod:`.cases` and asks the clause's judge about each. The search is derandomised from the
clause's own seed (``hypothesis.seed(ctx.seed)``, itself a function of the master seed and the
clause ID) with no example database, so a run draws the same cases and reaches the same verdict
every time, alone or with other clauses; it has no deadline and no health checks (a slow
implementation, or a strategy Hypothesis finds costly, is no failure of the implementation).

The cases are a function of the strategy, the number of cases and the seed alone, whatever the
process imported or ran before (:func:`constants_of_no_module`). Hypothesis (6.131 and later) draws,
now and then, an integer or float from constants it collects from the source of every module of the
project that ``sys.modules`` holds at the time ("local constants"): which modules those are depends on
what the process imported before the search (a target's adapter, the reports, other checks' modules,
a test file's imports), so the same seed drew other cases in a whole-suite run than in a test run
alone. The search turns that pool off for its own run: Hypothesis' own constants (the edges of
integer and float ranges) stay, being the same in every process.

Once its random cases (and the check's own explicit ones, its corners, tried first) conform, a
search tries its stratum (:func:`stratum`, :class:`.cases.Stratum`): each special seed once, and each extreme rate in
each declared format, on ordinary base cases of the clause's own strategy, so that a bug that lives at
one special seed or rate is tried in every run whatever the master seed. The base cases are drawn by
short Hypothesis runs of their own, one per format (a run fixes its format, and the format fixes the
constraints of later draws: Hypothesis refuses a strategy whose draws change within one run), seeded
from the clause's seed: the stratum is as reproducible as the random cases. A stratum's case at fault
is shown as it is (its special seed or rate is the point of it), a random one shrunk.

A case the judge finds at fault is shrunk by Hypothesis to a minimal one and reported as a
runnable snippet (:meth:`.cases.Case.snippet`), with what came back and what the clause requires.
An exception the implementation raises inside a case is shrunk too, and then propagates as it
would from a fixed case, a note naming the minimal case added (:data:`CASE_NOTE`): the runner
fails the clause only where the implementation raised it, and an error of the suite stays an
error (RUNNER-5).

The project's tests call checks from inside their own ``@given`` tests. Hypothesis allows a
nested ``@given`` but refuses it by the health check ``nested_given``, read from the *outer* test's
settings; tests/conftest.py suppresses it in every profile (the inner search is bounded by the quick
profile's examples, so the nesting costs a known factor, not an unbounded one). Every setting of
the inner search is set here, so none is inherited from the outer test's profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from hypothesis import HealthCheck, Phase, Verbosity, example, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import FlakyFailure
from hypothesis.internal.cache import LRUCache
from hypothesis.internal.conjecture import providers
from hypothesis.internal.constants_ast import Constants

from ..contract.protocol import FLOATING_FORMATS
from .cases import PATIENCE, Case, Stratum
from .registry import Context

__all__ = ["CASE_NOTE", "constants_of_no_module", "search", "stratum"]

CASE_NOTE = "in the generated case"  # the note an exception raised in a generated case carries

# A judge: the failures of one case (an empty list when the case conforms); it makes the case's call.
Judge = Callable[[Case], list[str]]


class _Counterexample(Exception):
    """A case the judge found at fault: what Hypothesis shrinks."""


class _Kept(Exception):
    """A pin of the stratum needs no more draws: its run ends."""


def _settings(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=False, database=None, deadline=None,
                    phases=(Phase.explicit, Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck),
                    report_multiple_bugs=False, verbosity=Verbosity.quiet, print_blob=False)


_GLOBAL_ONLY: LRUCache = LRUCache(1024)  # (choice type, constraints) -> (Hypothesis' constants it admits, ())


@contextmanager
def constants_of_no_module() -> Iterator[None]:
    """Within it, Hypothesis draws no constant collected from the modules loaded in this process: its
    collector (``providers._get_local_constants``) answers none, and its cache of the constants each
    choice admits is one of Hypothesis' own constants alone (_GLOBAL_ONLY), so that none collected
    before comes back; both restored after. A Hypothesis without local constants has neither, and
    nothing is changed."""
    if not hasattr(providers, "_get_local_constants"):
        yield
        return
    collect, cache = providers._get_local_constants, providers.CONSTANTS_CACHE
    providers._get_local_constants, providers.CONSTANTS_CACHE = Constants, _GLOBAL_ONLY
    try:
        yield
    finally:
        providers._get_local_constants, providers.CONSTANTS_CACHE = collect, cache


def search(ctx: Context, strategy: st.SearchStrategy[Case], judge: Judge, explicit: Sequence[Case] = ()) -> list[str]:
    """The failures of the minimal case of ``strategy`` that ``judge`` finds at fault among
    ``ctx.plan.examples`` cases drawn under ``ctx.seed``, the ``explicit`` cases tried first; where they
    all conform, of the first case of its stratum found at fault: [] when every case conforms (and when
    the plan draws none)."""
    examples = ctx.plan.examples
    if examples == 0:
        return []
    found: list[tuple[Case, list[str]]] = []  # every case found at fault, the minimal one last
    tried: list[Case] = []  # the case running now

    def attempt(case: Case) -> None:
        tried[:] = [case]
        failures = judge(case)
        if failures:
            found.append((case, failures))
            raise _Counterexample

    test = given(strategy)(attempt)
    for case in reversed(explicit):
        test = example(case)(test)
    test = _settings(examples)(seed(ctx.seed)(test))
    try:
        with constants_of_no_module():
            test()
    except _Counterexample:
        return [_reported(*found[-1], examples, ctx.seed)]
    except FlakyFailure:
        if not found:
            raise
        return [_reported(*found[-1], examples, ctx.seed) + " (the same call did not fail again when replayed)"]
    except Exception as error:
        if tried:
            error.add_note(f"{CASE_NOTE} {tried[-1].snippet()}")
        raise
    return _stratum_failures(ctx, strategy, judge)


def _stratum_failures(ctx: Context, strategy: st.SearchStrategy[Case], judge: Judge) -> list[str]:
    """The failures of the first case of ``strategy``'s stratum that ``judge`` finds at fault, shown as
    it is (a special seed or rate is the point of it: nothing to shrink); an exception the implementation
    raises in one propagates, a note naming the case added."""
    for case in stratum(ctx.seed, strategy):
        try:
            failures = judge(case)
        except Exception as error:
            error.add_note(f"{CASE_NOTE} {case.snippet()}")
            raise
        if failures:
            return [f"generated case (of the stratum, every special seed and extreme rate, tried after "
                    f"{ctx.plan.examples} cases drawn with seed {ctx.seed}): `{case.snippet()}` -> "
                    + "; ".join(failures)]
    return []


def stratum(clause_seed: int, strategy: st.SearchStrategy[Case]) -> list[Case]:
    """The stratum of ``strategy`` (:class:`.cases.Stratum`): each special seed, and each extreme rate in
    each declared format, on base cases drawn by Hypothesis (at most PATIENCE in each format, the k-th
    format's under seed 4 * ``clause_seed`` + k, with no example database), none of them run."""
    kept = Stratum()

    def offered(case: Case) -> None:
        if kept.offer(case):
            raise _Kept

    generate = settings(_settings(PATIENCE), phases=(Phase.generate,))
    for k in range(len(FLOATING_FORMATS)):
        with kept.format(k), constants_of_no_module(), suppress(_Kept):
            generate(seed(4 * clause_seed + k)(given(strategy)(offered)))()
    return kept.cases()


def _reported(case: Case, failures: list[str], examples: int, clause_seed: int) -> str:
    """A failing case as the verdict shows it: the snippet that repeats the call, then what came back
    and what the clause requires."""
    return (f"generated case (the least Hypothesis found at fault, {examples} cases drawn with seed {clause_seed}): "
            f"`{case.snippet()}` -> " + "; ".join(failures))
