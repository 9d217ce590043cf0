"""The reference narrowed to a few capabilities, the base of mutants outside standard dropout.

A mutant has only the capabilities its defect and its catching clauses need, so every other
clause reports it "not applicable" (refdropout.contract) and the detection matrix
does not rerun the reference's correct behaviour under another name.
"""

from __future__ import annotations

from ..adapters.reference import ReferenceDropout
from ..contract import CAPABILITIES

__all__ = ["reference_with"]


def reference_with(*capabilities: str) -> type[ReferenceDropout]:
    """ReferenceDropout with ``dropout`` and ``capabilities`` only: the other methods of
    CAPABILITIES are None, which the protocol reads as absent."""
    unknown = sorted(set(capabilities) - set(CAPABILITIES))
    if unknown:
        raise ValueError(f"capabilities must be names of CAPABILITIES, got {', '.join(map(repr, unknown))}")
    hidden = {c: None for c in CAPABILITIES if c != "dropout" and c not in capabilities}
    return type(f"ReferenceWith({', '.join(capabilities)})", (ReferenceDropout,), hidden)
