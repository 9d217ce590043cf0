"""The dropout family as differentiable ops of the engine (spec/dropout.md, spec/variants.md)."""

from .standard import NONFINITE_POLICIES, SCALINGS, dropout

__all__ = ["dropout", "SCALINGS", "NONFINITE_POLICIES"]
