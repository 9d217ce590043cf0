"""Markdown to HTML, for the subset the project's documents are written in (spec/, docs/).

Blocks: ATX headings (``#`` to ``######``), paragraphs, bullet and ordered lists (nested, with
continuation lines, blank lines and other blocks inside an item), pipe tables, fenced code
(backticks or tildes) and indented code, footnote definitions (``[^name]: text``). Inline: code
spans, emphasis (``*em*``, ``_em_``, ``**strong**``), links, images, autolinks (``<https://...>``),
footnote references (``[^name]``) and backslash escapes. Anything else is text: every character
that means something to HTML is escaped, so a document cannot inject markup into a page.

The standard library only: the site must build wherever refdropout is installed. A page renders
its documents through one :class:`Markdown`, which keeps the ids of the page unique and lets the
page decide where links go (``href``), what plain text becomes (``text``, e.g. clause IDs made
into links) and which code spans link somewhere (``code_href``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

__all__ = ["Markdown", "cells", "slug"]

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`\s]*)")
_HEADING = re.compile(r"^ {0,3}(?P<hashes>#{1,6})(?:[ \t]+(?P<text>.*?))?[ \t]*$")
_ITEM = re.compile(r"^(?P<indent> *)(?P<marker>[-*+]|(?P<number>\d{1,9})[.)])(?P<space>[ \t]+|$)")
_TABLE_RULE = re.compile(r"^ *\|? *:?-{3,}:? *(\| *:?-{3,}:? *)*\|? *$")
_FOOTNOTE = re.compile(r"^\[\^(?P<name>[^\]\s]+)\]:[ \t]*(?P<text>.*)$")
_INLINE = re.compile(r"""
      (?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)
    | \\(?P<escaped>[\\`*_{}\[\]()#+\-.!<>|~^])
    | !\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]+)\)
    | \[\^(?P<note>[^\]\s]+)\]
    | \[(?P<label>(?:[^\[\]\\]|\\.)+)\]\((?P<target>[^)\s]+)\)
    | <(?P<url>https?://[^>\s]+)>
    | \*\*(?P<strong>[^\s*](?:.*?[^\s])?)\*\*
    | (?<![\w*\\])\*(?P<em>[^\s*](?:[^*]*[^\s*\\])?)\*(?![\w*])
    | (?<![\w\\])_(?P<underscore>[^\s_](?:[^_]*[^\s_\\])?)_(?!\w)
""", re.VERBOSE | re.DOTALL)
_EXTERNAL = re.compile(r"^(?:https?:|mailto:)", re.IGNORECASE)
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # javascript:, data:, file:, ...: never a link


def slug(text: str) -> str:
    """The id of a heading: its words in lower case joined by hyphens ("section" when none)."""
    words = re.findall(r"\w+", text.lower())
    return "-".join(words) or "section"


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _escape(text: str) -> str:
    """Text as HTML text: &, < and > escaped."""
    return html.escape(text, quote=False)


def _attribute(text: str) -> str:
    """Text as the value of a quoted HTML attribute: quotes escaped too."""
    return html.escape(text, quote=True)


class Markdown:
    """Renders the markdown of one page.

    ``href(target)`` gives the address a relative link or image target has in the page, or None
    where the page has nothing to link to (the link's text is kept, without the link); http(s) and
    mailto addresses are kept as they are, and any other scheme (``javascript:``) is never linked.
    ``text(escaped)`` turns a run of plain text, already HTML-escaped, into HTML; ``code_href(code)``
    gives the address a code span links to, if any.
    """

    def __init__(self, *, href: Callable[[str], str | None] = lambda target: target,
                 text: Callable[[str], str] = lambda escaped: escaped,
                 code_href: Callable[[str], str | None] = lambda code: None) -> None:
        self._href, self._text, self._code_href = href, text, code_href
        self._ids: set[str] = set()
        self._notes: dict[str, int] = {}  # footnote name -> its number, in order of first mention
        self._defined: set[str] = set()

    # --- ids -------------------------------------------------------------------------------------

    def unique_id(self, wanted: str) -> str:
        """``wanted``, or ``wanted-2``, ``wanted-3``, ... if the page already has it; now taken."""
        chosen, n = wanted, 1
        while chosen in self._ids:
            n += 1
            chosen = f"{wanted}-{n}"
        self._ids.add(chosen)
        return chosen

    # --- blocks ----------------------------------------------------------------------------------

    def html(self, markdown: str) -> str:
        """The HTML of a markdown document (or of a part of one)."""
        lines = markdown.expandtabs(4).splitlines()
        self._defined |= {m["name"] for line in lines if (m := _FOOTNOTE.match(line))}
        return "\n".join(self._blocks(lines))

    def inline(self, markdown: str) -> str:
        """The HTML of one run of inline markdown (a heading's or a cell's text)."""
        return self._inline(markdown)

    def _blocks(self, lines: list[str]) -> list[str]:
        blocks: list[str] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            if not line.strip():
                i += 1
            elif _FENCE.match(line):
                i = self._fenced(lines, i, blocks)
            elif heading := _HEADING.match(line):
                level, text = len(heading["hashes"]), heading["text"] or ""
                blocks.append(f'<h{level} id="{self.unique_id(slug(text))}">{self._inline(text)}</h{level}>')
                i += 1
            elif self._table_at(lines, i):
                i = self._table(lines, i, blocks)
            elif _ITEM.match(line):
                i = self._list(lines, i, blocks)
            elif _indent(line) >= 4:
                i = self._indented_code(lines, i, blocks)
            elif _FOOTNOTE.match(line):
                i = self._footnote(lines, i, blocks)
            else:
                i = self._paragraph(lines, i, blocks)
        return blocks

    def _starts_block(self, lines: list[str], i: int) -> bool:
        """Whether line i opens a block that ends a paragraph (a bullet, or an ordered list from 1)."""
        line = lines[i]
        item = _ITEM.match(line)
        return bool(_FENCE.match(line) or _HEADING.match(line) or self._table_at(lines, i) or _FOOTNOTE.match(line)
                    or (item and item["space"] and item["number"] in (None, "1")))

    def _paragraph(self, lines: list[str], i: int, blocks: list[str]) -> int:
        text = [lines[i].strip()]
        i += 1
        while i < len(lines) and lines[i].strip() and not self._starts_block(lines, i):
            text.append(lines[i].strip())
            i += 1
        blocks.append(f"<p>{self._inline(chr(10).join(text))}</p>")
        return i

    def _fenced(self, lines: list[str], i: int, blocks: list[str]) -> int:
        opening = _FENCE.match(lines[i])
        assert opening is not None
        fence, indent = opening["fence"], _indent(lines[i])
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}\s*$")
        code = []
        i += 1
        while i < len(lines) and not closing.match(lines[i]):
            code.append(lines[i][min(indent, _indent(lines[i])):])
            i += 1
        language = f' class="language-{_attribute(opening["info"])}"' if opening["info"] else ""
        blocks.append(f"<pre><code{language}>{_escape(chr(10).join(code))}</code></pre>")
        return i + 1

    def _indented_code(self, lines: list[str], i: int, blocks: list[str]) -> int:
        code = []
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) >= 4):
            code.append(lines[i][4:])
            i += 1
        while code and not code[-1].strip():
            code.pop()
        blocks.append(f"<pre><code>{_escape(chr(10).join(code))}</code></pre>")
        return i

    def _footnote(self, lines: list[str], i: int, blocks: list[str]) -> int:
        match = _FOOTNOTE.match(lines[i])
        assert match is not None
        text = [match["text"]]
        i += 1
        while i < len(lines) and lines[i].strip() and _indent(lines[i]) > 0:
            text.append(lines[i].strip())
            i += 1
        name = match["name"]
        blocks.append(f'<p class="footnote" id="{self._note_id(name)}"><sup>{self._note_number(name)}</sup> '
                      f"{self._inline(chr(10).join(text))}</p>")
        return i

    # --- tables ----------------------------------------------------------------------------------

    @staticmethod
    def _table_at(lines: list[str], i: int) -> bool:
        return "|" in lines[i] and i + 1 < len(lines) and "|" in lines[i + 1] and bool(_TABLE_RULE.match(lines[i + 1]))

    def _table(self, lines: list[str], i: int, blocks: list[str]) -> int:
        header = cells(lines[i])
        rows = []
        i += 2
        while i < len(lines) and lines[i].strip() and "|" in lines[i]:
            rows.append(cells(lines[i]))
            i += 1
        width = len(header)
        head = "".join(f"<th>{self._inline(cell)}</th>" for cell in header)
        body = "\n".join("<tr>" + "".join(f"<td>{self._inline(cell)}</td>" for cell in (row + [""] * width)[:width])
                         + "</tr>" for row in rows)
        blocks.append(f'<div class="table"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>'
                      "\n</table></div>")
        return i

    # --- lists -----------------------------------------------------------------------------------

    def _list(self, lines: list[str], i: int, blocks: list[str]) -> int:
        first = _ITEM.match(lines[i])
        assert first is not None
        indent, ordered = len(first["indent"]), first["number"] is not None
        items: list[list[str]] = []
        while i < len(lines):
            item = _ITEM.match(lines[i])
            if item is None or len(item["indent"]) != indent or (item["number"] is not None) != ordered:
                break
            column = item.end() if 0 < len(item["space"]) <= 4 else item.end("marker") + 1
            body = [lines[i][column:]]
            i += 1
            while i < len(lines):
                line = lines[i]
                if not line.strip():
                    following = next((j for j in range(i, len(lines)) if lines[j].strip()), len(lines))
                    if following < len(lines) and _indent(lines[following]) > indent:
                        body.append("")
                        i += 1
                        continue
                    if following < len(lines) and (next_item := _ITEM.match(lines[following])) \
                            and len(next_item["indent"]) == indent:
                        i = following
                    break
                if _indent(line) > indent:
                    body.append(line[min(_indent(line), column):])
                elif body[-1].strip() and not self._starts_block(lines, i) and not _ITEM.match(line):
                    body.append(line)  # a lazy continuation of the item's paragraph
                else:
                    break
                i += 1
            while body and not body[-1].strip():
                body.pop()
            items.append(body)
        tag = "ol" if ordered else "ul"
        start = int(first["number"]) if ordered else 1
        opening = f'<{tag} start="{start}">' if start != 1 else f"<{tag}>"
        blocks.append(opening + "\n" + "\n".join(f"<li>{self._item(body)}</li>" for body in items) + f"\n</{tag}>")
        return i

    def _item(self, body: list[str]) -> str:
        """An item's blocks; its paragraphs without <p> when it holds no blank line (a tight item)."""
        blocks = self._blocks(body)
        if "" not in body:
            blocks = [block[3:-4] if block.startswith("<p>") else block for block in blocks]
        return "\n".join(blocks)

    # --- inline ----------------------------------------------------------------------------------

    def _inline(self, text: str) -> str:
        out: list[str] = []
        position = 0
        for match in _INLINE.finditer(text):
            out.append(self._text(_escape(text[position:match.start()])))
            out.append(self._span(match))
            position = match.end()
        out.append(self._text(_escape(text[position:])))
        return "".join(out)

    def _span(self, match: re.Match[str]) -> str:
        kind = match.lastgroup
        if match["code"] is not None:
            code = match["code"].replace("\n", " ")
            if code.startswith(" ") and code.endswith(" ") and code.strip():
                code = code[1:-1]
            rendered = f"<code>{_escape(code)}</code>"
            target = self._code_href(code)
            return f'<a href="{_attribute(target)}">{rendered}</a>' if target else rendered
        if kind == "escaped":
            return _escape(match["escaped"])
        if kind == "src":
            source = self._address(match["src"])
            alt = _attribute(match["alt"])
            return f'<img src="{_attribute(source)}" alt="{alt}">' if source else alt
        if kind == "note":
            name = match["note"]
            if name not in self._defined:
                return _escape(match.group(0))
            return f'<sup><a class="note" href="#{self._note_id(name)}">{self._note_number(name)}</a></sup>'
        if kind == "target":
            label = self._inline(match["label"])
            target = self._address(match["target"])
            return f'<a href="{_attribute(target)}">{label}</a>' if target else label
        if kind == "url":
            return f'<a href="{_attribute(match["url"])}">{_escape(match["url"])}</a>'
        if kind == "strong":
            return f"<strong>{self._inline(match['strong'])}</strong>"
        return f"<em>{self._inline(match['em'] or match['underscore'])}</em>"

    def _address(self, target: str) -> str | None:
        """Where a link or image goes: an http(s) or mailto address as it is, a relative one where
        ``href`` says, any other scheme nowhere."""
        if _EXTERNAL.match(target):
            return target
        return None if _SCHEME.match(target) else self._href(target)

    def _note_number(self, name: str) -> int:
        return self._notes.setdefault(name, len(self._notes) + 1)

    @staticmethod
    def _note_id(name: str) -> str:
        return f"note-{slug(name)}"


def cells(line: str) -> list[str]:
    """The cells of a pipe table's row, as markdown: split at each ``|`` outside code spans and not escaped."""
    row = line.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    cells, cell, in_code, i = [], [], False, 0
    while i < len(row):
        char = row[i]
        if char == "\\" and i + 1 < len(row):
            cell.append(row[i:i + 2])
            i += 2
            continue
        if char == "`":
            in_code = not in_code
        if char == "|" and not in_code:
            cells.append("".join(cell).strip())
            cell = []
        else:
            cell.append(char)
        i += 1
    cells.append("".join(cell).strip())
    return cells
