"""The conformance suite: one check per clause, run against any implementation of dropout.

Checks live in one module per spec chapter; importing this package registers them all.
"""

from ..contract import CAPABILITIES, Implementation, Policies, has_capability, policies_of
from .registry import CHECKS, Check, Context, check, plan_for, run_check, run_checks
from .verdict import Outcome, Verdict

# one checks module per spec chapter; importing them registers their checks
from . import dropout, ensemble, gradients, modes, monte_carlo, recurrent, variants  # noqa: E402,F401  isort: skip

__all__ = [
    "CAPABILITIES", "CHECKS", "Check", "Context", "Implementation", "Outcome", "Policies", "Verdict",
    "check", "has_capability", "plan_for", "policies_of", "run_check", "run_checks",
]
