"""Mutants of the kind "values" (refdropout.mutants.registry.KINDS)."""
