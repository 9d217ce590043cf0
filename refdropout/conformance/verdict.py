"""The result of running one clause's check against one implementation.

A verdict is about the implementation (pass, FAIL, differs by declared policy), or says that the
clause does not apply to it (not applicable), or that the suite could not reach one (could not
check: an error of the suite or of the machine it runs on, never a failure of the implementation;
spec/runner.md, RUNNER-5).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..stats import Record

__all__ = ["Outcome", "Suggestion", "Verdict"]


class Outcome(str, Enum):  # noqa: UP042  (a StrEnum would change str(outcome), which messages show)
    PASS = "pass"
    FAIL = "FAIL"
    NOT_APPLICABLE = "not applicable"
    POLICY = "differs by declared policy"
    ERROR = "could not check"


@dataclass(frozen=True)
class Verdict:
    """A clause's outcome for one implementation, with the numbers behind a statistical one.

    ``records`` are the statistical decisions the check made (empty for an exact check); the
    check fails if any of them rejected. ``policies``: the declared policies other than the
    reference's that the check relied on ("p_one = 'refused'"); a run reports a pass that relied
    on one as POLICY.
    """

    clause: str
    outcome: Outcome
    detail: str = ""
    records: tuple[Record, ...] = ()
    policies: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS

    @property
    def failed(self) -> bool:
        return self.outcome is Outcome.FAIL


@dataclass(frozen=True)
class Suggestion:
    """What ``check --suggest`` found for a clause that FAILed (spec/runner.md, RUNNER-17): the
    declarations under which it passes, each a {policy: value} change to what was declared (the fewest
    changes that pass), or none; ``relaxing``: the policies whose other values were tried."""

    clause: str
    passes_with: tuple[dict[str, object], ...]
    relaxing: tuple[str, ...]

    @staticmethod
    def flags(change: dict[str, object]) -> str:
        """``--policy nonfinite=select``: a change as the command line declares it."""
        return " ".join(f"--policy {name}={value}" for name, value in change.items())

    def lines(self) -> list[str]:
        """``suggest: DROPOUT-10 passes with --policy nonfinite=select``, one line per declaration that
        passes, or one line saying that none does."""
        if not self.passes_with:
            return [f"suggest: {self.clause} fails under every other declared value of {', '.join(self.relaxing)}"]
        return [f"suggest: {self.clause} passes with {self.flags(change)}" for change in self.passes_with]

    def as_json(self) -> dict:
        return {"clause": self.clause, "relaxing": list(self.relaxing),
                "passes_with": [{"policies": dict(change), "flags": self.flags(change)} for change in self.passes_with]}
