"""Mutants of the kind "edges" (refdropout.mutants.registry.KINDS)."""
