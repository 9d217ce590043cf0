"""Known deviations: the file a project hands the pytest plugin (``--refdropout-known-deviations FILE``)
to adopt the suite before it conforms fully.

Each line is ``TEST-ID-PREFIX  reason``; blank lines and lines starting with ``#`` aside. A test's
ID is its clause ID, e.g. ``DROPOUT-10``; a prefix matches the IDs it equals or that continue it
after a non-alphanumeric character (:func:`matches`). The file is UTF-8 text (a byte-order mark at
its start is accepted); a line that is not UTF-8, or that gives no reason, is a usage error naming
the file and the line, so that a mistyped file stops the run before any check rather than
silently covering nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ..textfiles import read_lines

__all__ = ["Deviation", "matches", "read_deviations"]


@dataclass(frozen=True)
class Deviation:
    """A known deviation: the test-ID prefix it covers, why, and where the file says so."""

    prefix: str
    reason: str
    line: int


def matches(prefix: str, test_id: str) -> bool:
    """True when ``prefix`` names ``test_id``: equal to it, or continued by a non-alphanumeric character."""
    return test_id == prefix or (test_id.startswith(prefix) and not test_id[len(prefix)].isalnum())


def read_deviations(path: Path) -> list[Deviation]:
    """The known deviations listed in ``path``; a file that cannot be read, a line that is not UTF-8
    text and a line without a reason are usage errors."""
    try:
        lines = read_lines(path)
    except OSError as error:
        raise pytest.UsageError(f"--refdropout-known-deviations: cannot read {path}: {error}") from error
    deviations = []
    for line in lines:
        if line.text is None:
            raise pytest.UsageError(f"--refdropout-known-deviations: {path}:{line.number}: {line.problem}")
        if not line.text.strip() or line.text.lstrip().startswith("#"):
            continue
        fields = line.text.split(maxsplit=1)
        if len(fields) < 2:
            raise pytest.UsageError(f"--refdropout-known-deviations: {path}:{line.number}: a known deviation needs "
                                    "a reason: 'TEST-ID-PREFIX  reason'")
        deviations.append(Deviation(fields[0], fields[1].strip(), line.number))
    return deviations
