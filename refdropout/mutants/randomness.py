"""Mutants of the kind "randomness" (refdropout.mutants.registry.KINDS)."""
