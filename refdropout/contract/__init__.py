"""The contract between the checks and the implementations they judge.

Below both sides: adapters and mutants import only this package and the engine; the checks
(refdropout.conformance) read implementations through it. ``protocol`` holds what an
implementation is (the one required method, the optional capabilities, the declared policies
and formats); ``arrays`` converts engine tensors to numpy arrays and back (imported on its own,
since it needs numpy).
"""

from .protocol import (
    CAPABILITIES, DEFAULT_DTYPES, POLICY_VALUES, Implementation, Policies, dtypes_of, has_capability, kept_value,
    missing_capabilities, policies_of,
)

__all__ = [
    "CAPABILITIES", "DEFAULT_DTYPES", "POLICY_VALUES", "Implementation", "Policies", "dtypes_of", "has_capability",
    "kept_value", "missing_capabilities", "policies_of",
]
