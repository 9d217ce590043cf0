"""The spec as a static site (``refdropout report site``) and its markdown converter.

The converter is tested on each construct the project's documents use and on what must never come
through (markup, script addresses), then on every document of spec/ and docs/ (balanced HTML). The
site is written once, as a user writes it, and read back with html.parser: every clause of every
chapter has its anchor, every internal link and image points to a file of the site and every
``#anchor`` to an id in it, nothing is fetched from the network, and a clause's facts are those of
the code (its check's line) and of the published matrix (its verdicts). A site is also made without
the repository's tests and without the published documents, as from a wheel. Last, headless
Chromium renders the front page and a chapter page and must draw more than a blank page; that test
skips, saying so, where Chromium is not installed (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import datetime
import html.parser
import inspect
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

import refdropout.reports.site as site_module
from helpers import REPO, SPEC_DIR, exact, run_command
from refdropout.adapters import TARGETS
from refdropout.conformance import CHECKS
from refdropout.conformance.runner import run_plan
from refdropout.reports.markdown import Markdown, cells, slug
from refdropout.reports.published import DOCUMENTS, MATRIX, find_docs_dir, read_matrix
from refdropout.reports.site import Site, chapter_page, source_page, target_page
from refdropout.spec import load_chapters
from refdropout.stats import PROFILES

DOCS_DIR = REPO / "docs"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# --- reading HTML back --------------------------------------------------------------------------


class Parsed(html.parser.HTMLParser):
    """A page read back: its ids, its links (href and src), its tags, its text, and whether its
    elements nest (every element closed in order, void elements aside)."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[tuple[str, str]] = []  # (tag, address)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.open: list[str] = []
        self.problems: list[str] = []
        self.feed(text)
        self.close()
        self.problems += [f"<{tag}> never closed" for tag in self.open]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        found = dict(attrs)
        if found.get("id"):
            self.ids.add(found["id"] or "")
        for name in ("href", "src"):
            if found.get(name) is not None:
                self.links.append((tag, found[name] or ""))
        if tag not in VOID:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.open.pop()

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.open[-1] if self.open else 'nothing'}>")
            if tag in self.open:
                del self.open[len(self.open) - 1 - self.open[::-1].index(tag):]
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parsed(text: str) -> Parsed:
    page = Parsed(text)
    assert not page.problems, f"badly nested HTML: {page.problems[:5]}"
    return page


def render(markdown: str, **hooks) -> str:
    return Markdown(**hooks).html(markdown)


# --- the converter ------------------------------------------------------------------------------


def test_headings_get_unique_ids_from_their_words() -> None:
    out = render("# Title\n\n## Part A: the *reference*\n\n## Part A: the reference\n###### Deep")
    assert '<h1 id="title">Title</h1>' in out
    assert '<h2 id="part-a-the-reference">Part A: the <em>reference</em></h2>' in out
    assert '<h2 id="part-a-the-reference-2">' in out
    assert '<h6 id="deep">Deep</h6>' in out
    assert slug("RFC 2119, p & q") == "rfc-2119-p-q" and slug("!!") == "section"


def test_paragraphs_join_their_lines_and_end_at_a_blank_line_or_a_block() -> None:
    out = render("one\ntwo\n\nthree\n- item\n# Heading")
    assert out.splitlines()[:2] == ["<p>one", "two</p>"]
    assert "<p>three</p>\n<ul>\n<li>item</li>\n</ul>" in out
    assert '<h1 id="heading">' in out


@pytest.mark.parametrize(("text", "shown"), [
    ("<script>alert(1)</script> & \"quotes\" 'too'", "<script>alert(1)</script> & \"quotes\" 'too'"),
    ("`<b>code</b>` and **<i>strong</i>**", "<b>code</b> and <i>strong</i>"),
    ("| <x> | y |\n|---|---|\n| <img src=x onerror=alert(1)> | & |", "<img src=x onerror=alert(1)>"),
    ("```\n<script>\n```", "<script>"),
    ("    <indented>", "<indented>"),
    ("- <li>\n  <nested>", "<li>\n<nested>"),
])
def test_markup_in_a_document_is_text(text: str, shown: str) -> None:
    page = parsed(render(text))
    assert not {"script", "b", "i", "x", "img", "indented", "nested"} & set(page.tags), page.tags
    assert page.tags.count("li") == text.count("- ")
    assert shown in "".join(page.text)


def test_link_and_image_addresses_are_escaped_and_unsafe_schemes_never_linked() -> None:
    out = render('[x](a"onclick=b.html) [y](javascript:alert(1)) [z](data:text/html,x) ![w](file:///etc/passwd)')
    assert 'href="a&quot;onclick=b.html"' in out
    assert "javascript:" not in out.replace(">y<", "") and "data:" not in out and "file:" not in out
    assert ">y<" not in out and "y" in out  # the text is kept, without the link


def test_links_go_where_the_page_says_and_external_ones_stay() -> None:
    out = render("[a](spec/dropout.md) [b](missing.md) [c](https://example.org/x?a=1&b=2) <https://rfc-editor.org>",
                 href=lambda target: "chapter-dropout.html" if target == "spec/dropout.md" else None)
    assert '<a href="chapter-dropout.html">a</a>' in out
    assert " b " in out and "missing" not in out
    assert '<a href="https://example.org/x?a=1&amp;b=2">c</a>' in out
    assert '<a href="https://rfc-editor.org">https://rfc-editor.org</a>' in out


def test_emphasis_strong_and_underscores_inside_words() -> None:
    out = render("*em* **strong** _under_ p_one_of seed_bits, a * b * c, 2*n*3 and \\*not\\*")
    assert "<em>em</em>" in out and "<strong>strong</strong>" in out and "<em>under</em>" in out
    assert "p_one_of seed_bits" in out and "a * b * c" in out and "2*n*3" in out and "*not*" in out


def test_code_spans_keep_their_text_and_may_span_lines() -> None:
    out = render("a `x *y* <z>` b ``with ` tick`` c `split\nline` d")
    assert "<code>x *y* &lt;z&gt;</code>" in out
    assert "<code>with ` tick</code>" in out
    assert "<code>split line</code>" in out


def test_fenced_and_indented_code_are_verbatim() -> None:
    out = render("text\n\n```python\n*x* = `y`\n  <kept>\n```\n\n    K ~ Binomial(n, q)\n\n    second *line*\n\nafter")
    assert '<pre><code class="language-python">*x* = `y`\n  &lt;kept&gt;</code></pre>' in out
    assert "<pre><code>K ~ Binomial(n, q)\n\nsecond *line*</code></pre>" in out
    assert out.endswith("<p>after</p>")


def test_tables_split_cells_outside_code_and_escapes() -> None:
    assert cells("| a | `b | c` | d \\| e |") == ["a", "`b | c`", "d \\| e"]
    out = render("| h1 | h2 |\n| --- | :---: |\n| `x|y` | a \\| b |\n| short |")
    assert "<thead><tr><th>h1</th><th>h2</th></tr></thead>" in out
    assert "<tr><td><code>x|y</code></td><td>a | b</td></tr>" in out
    assert "<tr><td>short</td><td></td></tr>" in out


def test_lists_nest_hold_blocks_and_continue_lazily() -> None:
    text = ("- one\n  continued\nlazily\n- two:\n\n  | a | b |\n  | --- | --- |\n  | 1 | 2 |\n\n  after the table\n"
            "  - nested\n- three\n\n3. third\n4. fourth")
    page = parsed(out := render(text))
    assert "<li>one\ncontinued\nlazily</li>" in out
    assert "<li><p>two:</p>\n<div class=\"table\"><table>" in out and "<p>after the table</p>" in out
    assert "<ul>\n<li>nested</li>\n</ul>" in out
    assert '<ol start="3">\n<li>third</li>\n<li>fourth</li>\n</ol>' in out
    assert page.tags.count("ul") == 2 and page.tags.count("li") == 6


def test_footnotes_link_both_ways_only_when_defined() -> None:
    out = render("torch[^torch] and [^nowhere]\n\n[^torch]: torch not installed: `pip install torch`")
    assert '<sup><a class="note" href="#note-torch">1</a></sup>' in out
    assert ('<p class="footnote" id="note-torch"><sup>1</sup> torch not installed: <code>pip install torch</code></p>'
            in out)
    assert "[^nowhere]" in out


def test_images_and_the_page_hooks() -> None:
    out = render("![a plot |δ|](plot.png) DROPOUT-16 and `DROPOUT-16`",
                 href=lambda target: "copied.png", text=lambda escaped: escaped.replace("DROPOUT-16", "<b>ID</b>"),
                 code_href=lambda code: "#code")
    assert '<img src="copied.png" alt="a plot |δ|">' in out
    assert "<b>ID</b> and" in out and '<a href="#code"><code>DROPOUT-16</code></a>' in out


@pytest.mark.parametrize("path", sorted([*SPEC_DIR.glob("*.md"), *DOCS_DIR.glob("*.md")]), ids=lambda path: path.name)
def test_every_document_of_the_project_converts_to_balanced_html(path: Path) -> None:
    page = parsed(render(path.read_text(encoding="utf-8")))
    text = "".join(page.text)
    assert "](" not in text and "[^" not in text, "a link or footnote left unconverted"


MARKDOWN_PIECES = st.sampled_from(["<", ">", "&", '"', "'", "*", "**", "_", "`", "``", "[", "]", "(", ")", "|", "#",
                                   "- ", "1. ", "\n", "\n\n", "    ", "```", "[^n]", "[^n]: ", "![", "\\", "x", "y z",
                                   "javascript:", "<script>", "https://a.b"])


@exact(200)
@given(st.lists(MARKDOWN_PIECES, max_size=40).map("".join))
def test_any_text_converts_to_balanced_html_without_markup_of_its_own(text: str) -> None:
    page = parsed(render(text))
    allowed = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "pre", "code", "div", "table", "thead",
               "tbody", "tr", "th", "td", "em", "strong", "a", "img", "sup"}
    assert set(page.tags) <= allowed, set(page.tags) - allowed
    assert not [address for _, address in page.links if urlsplit(address).scheme not in ("", "https")]


# --- the site, written as a user writes it --------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``refdropout report site --out DIR`` from this checkout."""
    out = tmp_path_factory.mktemp("site") / "site"
    result = subprocess.run([sys.executable, "-m", "refdropout", "report", "site", "--out", str(out)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stderr
    return out


@pytest.fixture(scope="module")
def pages(site: Path) -> dict[str, Parsed]:
    return {path.name: parsed(path.read_text(encoding="utf-8")) for path in sorted(site.glob("*.html"))}


def test_the_site_has_its_pages(site: Path) -> None:
    names = {path.name for path in site.iterdir()}
    expected = {"index.html", "conventions.html", "style.css", *(chapter_page(c.name) for c in load_chapters()),
                *(target_page(name) for name in TARGETS), "conformance-matrix.html", "detection-matrix.html",
                "seed-sweep.html", "sensitivity.html", "sensitivity.png"}
    assert expected <= names, sorted(expected - names)
    assert (site / "sensitivity.png").read_bytes() == (DOCS_DIR / "sensitivity.png").read_bytes()


def test_every_clause_of_every_chapter_has_its_anchor(pages: dict[str, Parsed]) -> None:
    missing = [f"{chapter_page(chapter.name)}#{clause.id}" for chapter in load_chapters()
               for clause in chapter.clauses if clause.id not in pages[chapter_page(chapter.name)].ids]
    assert not missing, missing


def test_every_internal_link_and_anchor_resolves(site: Path, pages: dict[str, Parsed]) -> None:
    broken = []
    for name, page in pages.items():
        for tag, address in page.links:
            parts = urlsplit(address)
            if parts.scheme:
                continue
            target = parts.path or name
            if not (site / target).is_file():
                broken.append(f"{name}: <{tag}> {address}: no file {target}")
            elif parts.fragment and target.endswith(".html") and parts.fragment not in pages[target].ids:
                broken.append(f"{name}: <{tag}> {address}: no id {parts.fragment!r} in {target}")
    assert not broken, f"{len(broken)} broken links:\n" + "\n".join(broken[:20])


def test_nothing_is_fetched_from_the_network(pages: dict[str, Parsed]) -> None:
    for name, page in pages.items():
        assert "script" not in page.tags, name
        fetched = [address for tag, address in page.links if tag != "a" and urlsplit(address).scheme]
        assert not fetched, f"{name} loads {fetched}"
        assert [address for tag, address in page.links if tag == "link"] == ["style.css"], name


def test_a_clause_links_to_the_line_of_its_check(site: Path, pages: dict[str, Parsed]) -> None:
    check = CHECKS["DROPOUT-16"].run
    source, line = inspect.getsourcefile(check), inspect.getsourcelines(check)[1]
    assert source is not None
    page = source_page(Path(source))
    assert (page, f"#L{line}") in {(urlsplit(a).path, "#" + urlsplit(a).fragment) for _, a in pages[
        chapter_page("dropout")].links}
    text = (site / page).read_text(encoding="utf-8")
    start = text.index(f'id="L{line}"')
    assert '@check("DROPOUT-16"' in text[start:text.index("</span>", start)].replace("&quot;", '"')


def clause_section(site: Path, chapter: str, clause: str) -> str:
    text = (site / chapter_page(chapter)).read_text(encoding="utf-8")
    start = text.index(f'id="{clause}"')
    return text[start:text.index("</section>", start)]


def test_a_clause_shows_each_targets_published_verdict_and_its_plan(site: Path) -> None:
    matrix = read_matrix(DOCS_DIR / MATRIX)
    for clause in ("DROPOUT-14", "DROPOUT-16"):
        section = clause_section(site, "dropout", clause)
        for target, verdict in matrix.verdicts[clause].items():
            assert f'href="{target_page(target)}">{target}</a> {verdict}</span>' in section, (clause, target)
    for target, clause in matrix.failures:
        if clause == "DROPOUT-14":
            assert f"<strong>{target}</strong>: " in clause_section(site, "dropout", clause)
    section = clause_section(site, "dropout", "DROPOUT-16")
    decisions = CHECKS["DROPOUT-16"].decisions  # one per keep rate and declared format: the registry's count
    for profile in PROFILES:
        plan = run_plan(profile)
        assert (f"<td>{profile}</td><td>{plan.alpha:.3g}</td><td>{decisions}</td>" in section
                and f"<td>{plan.n:,}</td>" in section)
    assert "does not register them" in section and '<a href="index.html#plans">' in section


def test_a_clause_links_to_its_tests(site: Path) -> None:
    section = clause_section(site, "dropout", "DROPOUT-16")
    assert 'href="source-tests.test_dropout.html#L' in section and "test_kept_count_is_binomial" in section


def test_a_target_page_shows_its_declared_policies_and_known_deviations(site: Path) -> None:
    from refdropout.adapters.tensorflow import KNOWN_DEVIATIONS

    text = (site / target_page("tensorflow")).read_text(encoding="utf-8")
    for clause, why in KNOWN_DEVIATIONS["tensorflow"].items():
        assert clause in text and why.split()[0] in text
    assert "<tr><td><code>nonfinite</code></td><td><strong>select</strong></td><td><strong>select</strong></td>" \
           "<td>multiply</td></tr>" in text
    assert "None declared." in (site / target_page("reference")).read_text(encoding="utf-8")


def test_making_the_site_imports_no_framework(tmp_path: Path) -> None:
    script = ("import sys, datetime\nfrom refdropout.reports.site import Site\n"
              "Site(None, command='c', date=datetime.datetime.now(datetime.UTC)).files()\n"
              "loaded = {'torch', 'tensorflow', 'jax', 'flax', 'keras', 'onnxruntime', 'equinox', 'mlx', 'paddle'}"
              " & set(sys.modules)\n"
              "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


# --- a site made without the repository's tests or the published documents, as from a wheel --------


def made(docs: Path | None) -> dict[str, str | bytes]:
    return Site(docs, command="refdropout report site", date=datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)).files()


def assert_links_resolve(files: dict[str, str | bytes]) -> None:
    pages = {name: parsed(text) for name, text in files.items() if name.endswith(".html") and isinstance(text, str)}
    for name, page in pages.items():
        for _, address in page.links:
            parts = urlsplit(address)
            if not parts.scheme:
                target = parts.path or name
                assert target in files, f"{name}: {address}"
                assert not parts.fragment or not target.endswith(".html") or parts.fragment in pages[target].ids, \
                    f"{name}: {address}"


def test_without_the_tests_the_site_says_see_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(site_module, "tests_dir", lambda: None)
    files = made(find_docs_dir())
    assert not [name for name in files if name.startswith("source-tests.")]
    assert "tests are not installed with the package: see the repository" in str(files[chapter_page("dropout")])
    assert_links_resolve(files)


def test_without_the_published_documents_the_site_says_so(tmp_path: Path) -> None:
    files = made(None)
    assert not {name for name, _, _ in site_module.DOCUMENT_PAGES.values()} & set(files)
    assert not set(DOCUMENTS) & set(files)
    assert "no published conformance matrix" in str(files[chapter_page("dropout")])
    assert_links_resolve(files)
    (tmp_path / MATRIX).write_text("# Not a matrix\n", encoding="utf-8")
    assert "could not be read" in str(made(tmp_path)[chapter_page("dropout")])


def test_report_site_refuses_an_out_that_is_a_file_and_docs_that_are_missing(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("", encoding="utf-8")
    for argv, message in ((["--out", str(a_file)], "it is not a directory"),
                          (["--out", str(tmp_path / "no" / "site")], "does not exist"),
                          (["--docs", str(tmp_path / "nowhere"), "--out", str(tmp_path / "site")], "not a directory")):
        with pytest.raises(SystemExit) as exit_:
            run_command(capsys, "report", "site", *argv)
        assert exit_.value.code == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


# --- headless Chromium --------------------------------------------------------------------------


def chromium() -> str | None:
    return next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)


def png_colours(path: Path) -> int:
    """How many distinct colours an 8-bit RGB or RGBA PNG holds (decoded with zlib, its filters undone)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, compressed, header = 8, b"", b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        position += 12 + length
        header = body if kind == b"IHDR" else header
        compressed += body if kind == b"IDAT" else b""
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), f"{path}: depth {depth}, colour type {colour}"
    size = 3 if colour == 2 else 4
    raw, stride, previous, seen = zlib.decompress(compressed), width * size, bytearray(width * size), set()
    for row in range(height):
        kind, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            left, up = line[i - size] if i >= size else 0, previous[i]
            corner = previous[i - size] if i >= size else 0
            estimate = {0: 0, 1: left, 2: up, 3: (left + up) // 2}.get(kind)
            if estimate is None:  # Paeth
                p = left + up - corner
                estimate = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner))[2]
            line[i] = (line[i] + estimate) & 0xFF
        seen.update(bytes(line[i:i + size]) for i in range(0, stride, size * 7))  # every 7th pixel is plenty
        previous = line
    return len(seen)


def headless(browser: str, profile: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
                           f"--user-data-dir={profile}", "--window-size=1200,900", *arguments],
                          capture_output=True, text=True, timeout=120)


def test_pages_render_in_headless_chromium(site: Path, tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium): the site was not rendered")
    for page in ("index.html", chapter_page("dropout")):
        shot = tmp_path / f"{page}.png"
        headless(browser, tmp_path / "profile", f"--screenshot={shot}", (site / page).as_uri())
        assert shot.is_file(), f"Chromium drew no screenshot of {page}"
        assert png_colours(shot) > 20, f"{page} renders blank: {png_colours(shot)} colours"
    # Headless Chromium screenshots a page opened at an anchor as blank (it scrolls after drawing), so the
    # anchor is checked in the DOM it builds: the clause is there under its ID, with its text.
    clause_page = (site / chapter_page("dropout")).as_uri() + "#DROPOUT-16"
    dom = headless(browser, tmp_path / "profile", "--dump-dom", clause_page)
    page = Parsed(dom.stdout)
    dropout = next(chapter for chapter in load_chapters() if chapter.name == "dropout")
    assert {clause.id for clause in dropout.clauses} <= page.ids
    assert "The keep count is Binomial(n, q)" in "".join(page.text)
