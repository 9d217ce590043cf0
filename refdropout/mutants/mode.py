"""Mutants of the kind "mode" (refdropout.mutants.registry.KINDS)."""
