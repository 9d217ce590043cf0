"""Mutants of the kind "gradients" (refdropout.mutants.registry.KINDS)."""
