"""Mutants of the kind "rate" (refdropout.mutants.registry.KINDS)."""
