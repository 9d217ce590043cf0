"""The benchmark scripts run from the repository root as ``python benchmarks/<name>.py``.

Python puts a script's own directory first on sys.path, so a file there named like a
standard-library module (``random.py``, say) is what every ``import random`` of the run gets,
the script's own imports and refdropout's alike.
"""

from __future__ import annotations

import sys

from helpers import REPO

BENCHMARKS = REPO / "benchmarks"


def test_no_benchmark_shadows_a_standard_library_module() -> None:
    scripts = sorted(BENCHMARKS.glob("*.py"))
    assert scripts, f"no scripts found in {BENCHMARKS}"
    shadowing = [path.name for path in scripts if path.stem in sys.stdlib_module_names]
    assert not shadowing, f"{', '.join(shadowing)} in {BENCHMARKS} would shadow the standard library's module"
