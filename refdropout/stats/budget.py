"""The family-wise error budget (STATS-4).

A conformance run makes many statistical decisions; if each were taken at level α, a correct
implementation would fail somewhere almost surely. The budget fixes, before any data is seen, the
family-wise level α_F and the number m of decisions the run may make, and hands every decision the
Bonferroni level α_F/m: by the union bound, a correct implementation fails the whole run with
probability at most α_F. Every decision is recorded, and Holm's step-down procedure — uniformly
more powerful at the same α_F — can be applied to the record afterwards.

Counting Hypothesis examples. A statistical property test draws its seed (and sizes) with
Hypothesis and makes d decisions per example; Hypothesis runs up to ``max_examples`` generated
examples plus each explicit ``@example``. A budget shared by c such clauses therefore plans

    m = c × (max_examples + explicit examples) × d

decisions. Statistical property tests should run without Hypothesis's shrink phase: a rejection is
a finding about the implementation, not a counterexample to minimize. Once a decision has rejected,
the family's verdict is fixed, so the plan stops binding: Hypothesis's replay of the failing example
and any shrinking are recorded (as ``after_rejection``) but are diagnostics, not new decisions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .arguments import check_count, check_open_unit
from .decision import Decision


class BudgetExhausted(RuntimeError):
    """More decisions were asked of a budget than it planned (and none has rejected yet)."""


@dataclass(frozen=True)
class Record:
    """One recorded decision, named by the clause (or clause and case) that made it."""

    name: str
    test: str
    statistic: float
    p_value: float
    n: int
    alpha: float
    observed: float
    expected: float
    reject: bool
    after_rejection: bool


@dataclass(frozen=True)
class HolmVerdict:
    """Holm's verdict on one recorded decision: its adjusted p-value, rejected when ≤ α_F."""

    name: str
    p_value: float
    adjusted_p_value: float
    reject: bool


class ErrorBudget:
    """A family-wise error budget of level ``family_alpha`` over ``planned_decisions`` decisions.

    Use: run a test at ``budget.alpha``, then ``budget.decide(name, decision)``; assert on the
    returned record's ``reject``.
    """

    def __init__(self, family_alpha: float, planned_decisions: int) -> None:
        self.family_alpha = check_open_unit("family_alpha", family_alpha)
        self.planned_decisions = check_count("planned_decisions", planned_decisions, minimum=1)
        self._records: list[Record] = []
        self._rejected = False

    @property
    def alpha(self) -> float:
        """The level each decision is taken at: Bonferroni's α_F / m."""
        return self.family_alpha / self.planned_decisions

    @property
    def records(self) -> tuple[Record, ...]:
        """Every decision recorded so far, in order."""
        return tuple(self._records)

    @property
    def rejected(self) -> bool:
        """True once any decision has rejected: the family's verdict."""
        return self._rejected

    def decide(self, name: str, decision: Decision) -> Record:
        """Record ``decision``, made by ``name`` at this budget's α, and return its record.

        Refuses a decision taken at another level (ValueError) and, until one has rejected, a
        decision beyond the plan (BudgetExhausted).
        """
        if decision.alpha != self.alpha:
            raise ValueError(
                f"decision.alpha must be the budget's per-decision alpha {self.alpha!r}, got {decision.alpha!r}"
            )
        after = self.rejected
        if not after and len(self._records) >= self.planned_decisions:
            raise BudgetExhausted(
                f"decision {name!r} exceeds the {self.planned_decisions} planned decisions of this budget; "
                "plan every decision before any is made"
            )
        record = Record(
            name=name,
            test=decision.test,
            statistic=decision.statistic,
            p_value=decision.p_value,
            n=decision.n,
            alpha=decision.alpha,
            observed=decision.observed,
            expected=decision.expected,
            reject=decision.reject,
            after_rejection=after,
        )
        self._records.append(record)
        self._rejected = self._rejected or record.reject
        return record

    def holm(self) -> list[HolmVerdict]:
        """Holm's step-down verdicts over the planned decisions, in recording order.

        The i-th smallest of the m planned p-values (decisions not made count as p = 1; m grows to
        the number recorded if diagnostics after a rejection exceed the plan) is
        adjusted to max_{j ≤ i} min(1, (m − j + 1)·p_(j)) and rejected when that is ≤ α_F.
        """
        m = max(self.planned_decisions, len(self._records))
        order = sorted(range(len(self._records)), key=lambda i: self._records[i].p_value)
        adjusted = [0.0] * len(self._records)
        running = 0.0
        for rank, i in enumerate(order):
            running = max(running, min(1.0, (m - rank) * self._records[i].p_value))
            adjusted[i] = running
        return [
            HolmVerdict(r.name, r.p_value, a, a <= self.family_alpha) for r, a in zip(self._records, adjusted)
        ]

    def report(self) -> list[dict]:
        """Every recorded decision as a plain dict, with Holm's adjusted p-value and verdict."""
        return [
            {**asdict(r), "holm_p_value": h.adjusted_p_value, "holm_reject": h.reject}
            for r, h in zip(self._records, self.holm())
        ]
