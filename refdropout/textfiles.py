"""Text files a user hands the suite, read line by line: UTF-8, each line with its number.

The known-deviations file of the pytest plugin and the seed sweep's results file are written by
people and by programs that may be interrupted, so their readers must say *where* a file goes
wrong rather than fail on the whole of it. :func:`read_lines` decodes each line on its own: a line
whose bytes are not UTF-8 comes back with ``text`` None and the problem (which byte of the
line), and the reader decides what that means for its file (the deviations file refuses it, the
results file skips it with a note). A UTF-8 byte-order mark at the start is accepted and dropped
(editors on Windows write one); a line ends at ``\\n``, a ``\\r`` before it is dropped; a last
line with no ``\\n`` after it is marked, since that is what a write cut off midway leaves behind.

Standard library only: the ground both the conformance suite and the reports stand on.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Line", "read_lines"]

UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True)
class Line:
    """One line of a text file: its ``number`` (from 1) and its ``text`` without the line end, or
    ``text`` None and the ``problem`` where its bytes are not UTF-8; ``ended`` is False for a last
    line that no ``\\n`` follows."""

    number: int
    text: str | None
    problem: str = ""
    ended: bool = True


def read_lines(path: Path) -> list[Line]:
    """The lines of the file at ``path`` (OSError when it cannot be read)."""
    data = path.read_bytes()
    hint = ("; the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8"
            if data.startswith(UTF16_BOMS) else "")
    pieces = data.removeprefix(codecs.BOM_UTF8).split(b"\n")
    file_ended = pieces[-1] == b""  # the file ends with a line end: nothing follows the last one
    if file_ended:
        pieces.pop()
    return [_decoded(number, raw.removesuffix(b"\r"), hint if number == 1 else "", file_ended or number < len(pieces))
            for number, raw in enumerate(pieces, start=1)]


def _decoded(number: int, raw: bytes, hint: str, ended: bool) -> Line:
    try:
        return Line(number, raw.decode("utf-8"), ended=ended)
    except UnicodeDecodeError as error:
        byte = f"byte {error.start + 1} of the line is 0x{raw[error.start]:02x}"
        return Line(number, None, f"not UTF-8 text ({byte}){hint}", ended)
