"""Where a run's cost grew, clause by clause: two JSON reports of `refdropout check` on one target.

The clauses both runs checked are summed apart from those only the newer one has, so that the growth
of what was already checked (more cases, more formats, more decisions) is told from the cost of new
clauses; ``--mine`` names clauses (new ones of one issue, say) to count with the common ones.

    python benchmarks/clause_growth.py OLD.json NEW.json [--mine DROPOUT-22 DROPOUT-23] [--top 15]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def clause_seconds(report: Path) -> dict[str, float]:
    """Each clause's seconds in the report's one run."""
    [run] = json.loads(report.read_text(encoding="utf-8"))["runs"]
    return {clause["clause"]: clause["seconds"] for clause in run["clauses"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--mine", nargs="*", default=[], metavar="CLAUSE",
                        help="new clauses to count with the common ones")
    parser.add_argument("--top", type=int, default=15, help="how many clauses to list, largest growth first")
    args = parser.parse_args()

    old, new = clause_seconds(args.old), clause_seconds(args.new)
    common = set(old) & set(new)
    mine = set(args.mine) & (set(new) - common)
    others = set(new) - common - mine
    before = sum(old[c] for c in common)
    after = sum(new[c] for c in common | mine)
    print(f"{args.new.name} against {args.old.name}: {len(common)} common clauses {before:.1f} s -> "
          f"{sum(new[c] for c in common):.1f} s; with {len(mine)} named new clauses {after:.1f} s "
          f"({after / before:.2f}x); {len(others)} other new clauses {sum(new[c] for c in others):.1f} s "
          f"({', '.join(sorted(others)) or 'none'})")
    growth = sorted(((new.get(c, 0.0) - old.get(c, 0.0), c) for c in set(old) | set(new)), reverse=True)
    for delta, clause in growth[:args.top]:
        was = f"{old[clause]:7.1f}" if clause in old else "    new"
        print(f"  {clause:14s} {was} -> {new.get(clause, 0.0):7.1f} s ({delta:+.1f})")


if __name__ == "__main__":
    main()
