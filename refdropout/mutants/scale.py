"""Mutants of the kind "scale" (refdropout.mutants.registry.KINDS)."""
