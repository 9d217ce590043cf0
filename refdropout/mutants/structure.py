"""Mutants of the kind "structure" (refdropout.mutants.registry.KINDS)."""
