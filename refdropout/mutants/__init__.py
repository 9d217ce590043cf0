"""A catalogue of real dropout bugs, each as a broken implementation (a mutant).

Every mutant models a bug reported against a major framework and names that report; the
conformance suite must reject each of them (docs/detection-matrix.md shows which clause does,
and with what p-value). Importing this package registers every mutant in :data:`MUTANTS`.
"""

from .registry import KINDS, MUTANTS, Mutant, mutant
from . import scale, rate, edges, randomness, values, gradients, mode, structure  # noqa: E402,F401  (register)

__all__ = ["KINDS", "MUTANTS", "Mutant", "mutant"]
