"""The conformance suite: one check per clause, run against any implementation of dropout.

An implementation is what refdropout.contract says it is (written against the contract alone, it
never loads the checks or scipy). A run is made by refdropout.conformance.runner (``run_target``),
the one run path.
"""

# The checks live in one module per spec chapter and register themselves with @check when they are
# imported: importing them here, for that side effect alone, is what fills CHECKS.
from . import (  # noqa: F401
    attention,
    dropout,
    ensemble,
    exact,
    gradients,
    modes,
    monte_carlo,
    parallel,
    recurrent,
    training,
    variants,
)
from .registry import CHECKS, Check, Context, check, run_check
from .verdict import Outcome, Verdict

__all__ = ["CHECKS", "Check", "Context", "Outcome", "Verdict", "check", "run_check"]
