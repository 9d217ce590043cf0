"""Deliberately broken implementations of dropout, one module per spec chapter.

Each exists to show that a check can fail and models no public bug: every check of the suite
rejects at least one of them or one mutant of refdropout.mutants, the catalogue of real-world
bugs, which the tests import from there.
"""
