"""Tables as text: aligned columns for a terminal, pipes for markdown.

``refdropout spec`` and ``refdropout check`` print :func:`aligned` tables; the generated documents
(refdropout.reports) are made of :func:`markdown` tables. Standard library only: the command line,
the conformance reports and the generated documents all use it, so it sits below all of them.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

__all__ = ["aligned", "markdown"]


def aligned(rows: Sequence[Sequence[str]], *, right: Collection[int] = ()) -> str:
    """One line per row, the columns two spaces apart and padded to their widest cell; the columns
    numbered in ``right`` align right (numbers), the others left; the last column is not padded."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(cell.rjust(width) if i in right else cell.ljust(width)
                                  for i, (cell, width) in enumerate(zip(row, widths))), row[-1]]).rstrip()
                     for row in rows)


def markdown(rows: Sequence[Sequence[str]]) -> str:
    """A markdown table, the first row its header; a ``|`` inside a cell is escaped."""
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    lines.insert(1, "|" + "---|" * len(rows[0]))
    return "\n".join(lines)
