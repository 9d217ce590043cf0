"""A catalogue of real dropout bugs, each as a broken implementation (a mutant).

Every mutant models a bug reported against a major framework and names that report; the
conformance suite must reject each of them (docs/detection-matrix.md shows which clause does,
and with what p-value). Importing this package registers every mutant in :data:`MUTANTS`.
"""

from .registry import KINDS, MUTANTS, Mutant, mutant

# Each module registers its mutants with @mutant when it is imported: importing them here, for that side
# effect alone, fills MUTANTS, in this order (the catalogue's, which the detection matrix follows).
from . import scale, rate, edges, randomness, lanes, values, gradients, mode, structure, streams, fused  # noqa: F401  isort: skip

__all__ = ["KINDS", "MUTANTS", "Mutant", "mutant"]
