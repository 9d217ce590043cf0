"""Deliberately broken implementations of dropout, one module per spec chapter.

Each exists to show that a check can fail: every check of the suite rejects at least one of
them (the full catalogue of real-world bugs lives in refdropout.mutants).
"""
