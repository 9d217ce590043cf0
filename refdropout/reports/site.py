"""The spec as a static site, to read, browse and cite: ``refdropout report site [--out site] [--docs DIR]``.

The site needs no server and nothing from the network: plain HTML pages, one local stylesheet, no
script, no web font; open ``site/index.html``. Its pages:

- ``index.html``: what refdropout is, the chapters, the frameworks, the published documents and the
  profiles' plans;
- ``conventions.html``: spec/README.md, how the spec is written;
- ``chapter-NAME.html``: a chapter as written, each clause under an anchor of its ID
  (``chapter-dropout.html#DROPOUT-16``) and followed by its facts: its check, linked to a copy of
  its source with an anchor per line (``source-refdropout.conformance.dropout.html#L460``), its
  tests (likewise, where the repository's tests/ is at hand), each built-in target's verdict in
  the published conformance matrix, and, for a statistical check, its plan under each profile;
- ``target-NAME.html``: a built-in target: its adapter, the policies and formats it declares, its
  capabilities, its known deviations and its verdicts;
- ``conformance-matrix.html``, ``detection-matrix.html``, ``seed-sweep.html``, ``sensitivity.html``
  (with its plot): the published documents of docs/ (refdropout.reports.published), where present;
- ``source-*.html``: the source files the pages link to, plain text, an anchor per line.

A clause ID anywhere in the text links to its clause, a chapter file to its page.

Sample sizes: a check registers its number of decisions (``@check(..., decisions=...)``) and computes
its sample sizes from the run's plan as it runs; the sizes are not exposed. So a clause's plan shows,
per profile, its decisions, the plan's α per decision and its keep-rate n and MDE (the sample and
effect of every keep-rate decision, DROPOUT-16's), and says so; each clause's text states its own
sample size and MDE at the quick profile.
"""

from __future__ import annotations

import argparse
import datetime
import html
import importlib
import inspect
import re
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..adapters import TARGETS
from ..conformance import CHECKS
from ..conformance.runner import run_plan
from ..contract import CAPABILITIES, POLICY_VALUES, Policies, has_capability
from ..options import Option
from ..spec import CONVENTIONS, Chapter, Clause, find_spec_dir, load_chapters
from ..stats import PROFILES
from . import REPORTS
from .command import Report, folder, main
from .markdown import Markdown
from .published import DOCUMENTS, MATRIX, PublishedMatrix, find_docs_dir, read_matrix
from .traces import CheckSite, Location, check_site, find_tests, shown, tests_dir

__all__ = ["REPORT", "Page", "Site", "chapter_page", "source_page", "target_page"]

STYLESHEET = "style.css"
CONVENTIONS_PAGE = "conventions.html"
MENTION = re.compile(r"\b[A-Z][A-Z0-9_]*-[1-9][0-9]*\b|\bspec/[a-zA-Z0-9_]+\.md\b")  # a clause ID or a chapter file
VERDICT_CLASS = {"pass": "pass", "FAIL": "fail", "policy": "policy", "n/a": "na", "error": "error"}
# the published documents rendered as pages: file -> (page, title, report that makes it)
DOCUMENT_PAGES = {
    MATRIX: ("conformance-matrix.html", "Conformance matrix", "matrix"),
    "detection-matrix.md": ("detection-matrix.html", "Detection matrix", "detection"),
    "seed-sweep.md": ("seed-sweep.html", "Seed sweep", "sweep"),
    "sensitivity.md": ("sensitivity.html", "Sensitivity", "sensitivity"),
}
PLAN_NOTE = ("The check computes its own sample sizes from the plan as it runs and does not register them: n and "
             "MDE here are the plan's keep-rate figures")
PLANS_NOTE = ("A run plans its error budget before it sees any data (STATS-4, STATS-6): the family-wise α of "
              "the profile over its planned decisions (or every registered decision, if more) gives each decision "
              "its α, and the keep-rate MDE and power give the keep-rate sample n, the sample of every keep-rate "
              "decision (DROPOUT-16's). Each check registers how many decisions it takes, and computes its other "
              "sample sizes from the plan as it runs, without registering them: a clause's page shows its "
              "decisions, its share of the family-wise α and the plan's keep-rate n and MDE, and the clause's "
              "text states its own sample size and MDE at the quick profile.")
VERDICT_CELL = re.compile(r"<td>(pass|FAIL|policy|n/a|error)</td>")
RST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def chapter_page(chapter: str) -> str:
    return f"chapter-{chapter}.html"


def target_page(target: str) -> str:
    return f"target-{target}.html"


def source_page(path: Path) -> str:
    """The page of a source file: ``refdropout/conformance/dropout.py`` is
    ``source-refdropout.conformance.dropout.html``."""
    return "source-" + shown(path).removesuffix(".py").replace("/", ".") + ".html"


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _verdict(cell: str, label: str = "") -> str:
    """A verdict as a badge; ``label`` (HTML) before it, e.g. the target."""
    kind = VERDICT_CLASS.get(cell, "missing")
    return f'<span class="verdict {kind}">{label + " " if label else ""}{_escape(cell)}</span>'


@dataclass(frozen=True)
class Page:
    """One page: its file name, title, body (HTML), side navigation (HTML) and whether it is wide."""

    name: str
    title: str
    body: str
    toc: str = ""
    wide: bool = False


class Site:
    """Everything the pages are made of, read once: the spec, the checks, the tests, the plans and
    the published documents (from ``docs``, None where there are none)."""

    def __init__(self, docs: Path | None, *, command: str, date: datetime.datetime) -> None:
        self.command, self.date = command, date
        spec = find_spec_dir()
        self.conventions = spec / CONVENTIONS
        self.chapters = _in_reading_order(load_chapters(spec), self.conventions)
        self.chapter_names = {chapter.name for chapter in self.chapters}
        self.chapter_of = {clause.id: chapter.name for chapter in self.chapters for clause in chapter.clauses}
        self.documents = {name: docs / name for name in DOCUMENTS if docs is not None and (docs / name).is_file()}
        self.matrix, self.matrix_problem = self._read_matrix()
        self.checks = {clause: site for clause in CHECKS if (site := check_site(clause)) is not None}
        directory = tests_dir()
        self.tests: dict[str, list[Location]] | None = None if directory is None else find_tests(directory)
        self.plans = [run_plan(profile) for profile in PROFILES]
        named = {name for chapter in self.chapters for clause in chapter.clauses for name in clause.tests}
        self.sources = {path: source_page(path) for path in sorted(
            {check.path for check in self.checks.values()}
            | {test.path for name in named for test in (self.tests or {}).get(name, [])})}
        self.modules = {shown(path).removesuffix(".py").replace("/", "."): page for path, page in self.sources.items()}

    def _read_matrix(self) -> tuple[PublishedMatrix | None, str]:
        path = self.documents.get(MATRIX)
        if path is None:
            return None, f"no published conformance matrix (docs/{MATRIX}) in this installation"
        try:
            return read_matrix(path), ""
        except (OSError, ValueError) as error:
            return None, f"the published conformance matrix could not be read: {error}"

    # --- the files -----------------------------------------------------------------------------

    def files(self) -> dict[str, str | bytes]:
        """Every file of the site by its name: the pages, the stylesheet, the plot."""
        pages = [self.index(), self.conventions_page(), *map(self.chapter, self.chapters),
                 *(self.target(name) for name in TARGETS), *self.document_pages(),
                 *(self.source(path) for path in self.sources)]
        files: dict[str, str | bytes] = {page.name: self.html(page) for page in pages}
        files[STYLESHEET] = Path(__file__).with_name("site.css").read_text(encoding="utf-8")
        for name, path in self.documents.items():
            if not name.endswith(".md"):
                files[name] = path.read_bytes()
        return files

    def html(self, page: Page) -> str:
        """A page in the site's frame: the header's navigation, the page, the footer."""
        links = [("index.html#chapters", "Spec"), ("index.html#frameworks", "Frameworks"),
                 *((page_name, title) for name, (page_name, title, _) in DOCUMENT_PAGES.items()
                   if name in self.documents)]
        nav = " ".join(f'<a href="{href}">{_escape(text)}</a>' for href, text in links)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_escape(page.title)} · refdropout</title>
<link rel="stylesheet" href="{STYLESHEET}">
</head>
<body>
<header class="site"><a class="home" href="index.html">refdropout</a><nav>{nav}</nav></header>
<div class="page{' wide' if page.wide else ''}{'' if page.toc else ' single'}">
{page.toc}<main>
{page.body}
<footer>refdropout {_escape(__version__)} · generated on {self.date:%Y-%m-%d %H:%M} UTC by
<code>{_escape(self.command)}</code></footer>
</main>
</div>
</body>
</html>
"""

    def markdown(self) -> Markdown:
        """A renderer for one page: clause IDs link to their clauses, chapter files to their pages,
        module names to their sources, published documents to theirs."""
        return Markdown(href=self._href, text=self._linked, code_href=self._code_href)

    def _href(self, target: str) -> str | None:
        """Where a document's relative link goes: a chapter file to its page, spec/README.md to the
        conventions, a published document to its page (the plot to itself); None for anything else."""
        path = target.removeprefix("../")
        name = path.rsplit("/", 1)[-1]
        if path in (f"spec/{name}", name) and name.removesuffix(".md") in self.chapter_names and name.endswith(".md"):
            return chapter_page(name.removesuffix(".md"))
        if path == f"spec/{CONVENTIONS}":
            return CONVENTIONS_PAGE
        if path in (f"docs/{name}", name) and name in self.documents:
            return DOCUMENT_PAGES[name][0] if name in DOCUMENT_PAGES else name
        return None

    def _code_href(self, code: str) -> str | None:
        if code in self.chapter_of:
            return self.clause_href(code)
        if code.startswith("spec/") and code.endswith(".md"):
            return self._href(code)
        return self.modules.get(code)

    def _linked(self, escaped: str) -> str:
        """Plain text with each clause ID linked to its clause and each chapter file to its page."""
        def link(match: re.Match[str]) -> str:
            if match[0] in self.chapter_of:
                return f'<a class="clause-ref" href="{self.clause_href(match[0])}">{match[0]}</a>'
            target = self._href(match[0]) if match[0].startswith("spec/") else None
            return f'<a href="{target}">{match[0]}</a>' if target else match[0]

        return MENTION.sub(link, escaped)

    def clause_href(self, clause: str) -> str:
        return f"{chapter_page(self.chapter_of[clause])}#{clause}"

    # --- the front page ------------------------------------------------------------------------

    def index(self) -> Page:
        md = self.markdown()
        cards = "\n".join(
            f'<div class="card"><h3><a href="{chapter_page(c.name)}">{md.inline(c.title)}</a></h3>'
            f"<p><code>spec/{c.path.name}</code> · {len(c.clauses)} clauses · "
            f"{sum(clause.id in self.checks for clause in c.clauses)} with a conformance check</p></div>"
            for c in self.chapters)
        documents = "\n".join(
            f'<li><a href="{page}">{_escape(title)}</a>: {md.inline(REPORTS[report].partition(": ")[2])}</li>'
            for name, (page, title, report) in DOCUMENT_PAGES.items() if name in self.documents)
        body = f"""<h1>refdropout: the executable specification of dropout</h1>
<p class="lead">refdropout has three parts that keep each other honest: a normative <strong>specification</strong>
of dropout, in numbered clauses written with the keywords of RFC 2119 (<code>p</code> the drop probability,
<code>q = 1 - p</code> the keep probability); a <strong>reference engine</strong> in pure Python that uses the
standard library only; and a <strong>conformance suite</strong>, one check per clause, that judges any
implementation of dropout, through an adapter, by exact and statistical tests.</p>
<p>Each clause below has an anchor to cite it by (<a href="{self.clause_href('DROPOUT-16')}"><code>{
chapter_page('dropout')}#DROPOUT-16</code></a>), its check and tests, every built-in target's verdict and its
statistical plan. On the command line, <code>refdropout spec CLAUSE</code> prints the same.</p>
<h2 id="chapters">The specification</h2>
<p>How the chapters are written, what MUST and SHOULD mean and how each clause is traced to its tests:
<a href="{CONVENTIONS_PAGE}">Conventions</a>.</p>
<div class="cards">
{cards}
</div>
<h2 id="frameworks">Frameworks</h2>
{self._frameworks()}
<h2 id="documents">Published results</h2>
{f"<ul>{documents}</ul>" if documents else '<p class="muted">No published documents (docs/) in this installation.</p>'}
<h2 id="plans">Statistical plans</h2>
{self._plans(md)}"""
        return Page("index.html", "refdropout", body)

    def _frameworks(self) -> str:
        rows = []
        for name, builtin in TARGETS.items():
            framework, version = self.matrix.frameworks.get(name, ("", "")) if self.matrix else ("", "")
            counts = self._counts(name)
            rows.append(f'<tr><td><a href="{target_page(name)}">{_escape(name)}</a></td>'
                        f"<td>{_escape(builtin.framework or '(none)')}</td><td>{_escape(version)}</td>"
                        f"<td>{counts}</td></tr>")
        made = (f"Verdicts from the {self._matrix_link()} ({_escape(self.matrix.made)})." if self.matrix
                else f"{_escape(self.matrix_problem)}.")
        return (f'<div class="table"><table><thead><tr><th>target</th><th>framework</th><th>version checked</th>'
                f"<th>verdicts</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
                f'<p class="muted">{made}</p>')

    def _counts(self, target: str) -> str:
        if self.matrix is None or target not in self.matrix.targets:
            return ""
        cells = [row[target] for row in self.matrix.verdicts.values() if target in row]
        kinds = [*(kind for kind in VERDICT_CLASS if kind in cells), *sorted(set(cells) - set(VERDICT_CLASS))]
        return " ".join(_verdict(cell, str(cells.count(cell))) for cell in kinds)

    def _plans(self, md: Markdown) -> str:
        rows = "".join(
            f"<tr><td>{plan.profile}</td><td>{_escape(PROFILES[plan.profile].purpose)}</td>"
            f"<td>{plan.family_alpha:g}</td><td>{plan.planned_decisions:,}</td><td>{plan.alpha:.3g}</td>"
            f"<td>{plan.power:g}</td><td>{plan.keep_rate_mde:g}</td><td>{plan.n:,}</td></tr>" for plan in self.plans)
        return (f"<p>{md.inline(PLANS_NOTE)}</p>"
                '<div class="table"><table><thead><tr><th>profile</th><th>purpose</th><th>family-wise α</th>'
                "<th>planned decisions</th><th>α per decision</th><th>power</th><th>keep-rate MDE</th>"
                f"<th>keep-rate n</th></tr></thead><tbody>{rows}</tbody></table></div>")

    def conventions_page(self) -> Page:
        return Page(CONVENTIONS_PAGE, "Conventions of the specification",
                    self.markdown().html(self.conventions.read_text(encoding="utf-8")), toc=self._toc(None))

    # --- chapters and clauses ------------------------------------------------------------------

    def chapter(self, chapter: Chapter) -> Page:
        md = self.markdown()
        parts = []
        for section in chapter.sections:
            if section.clause is not None:
                parts.append(self.clause(md, section.clause))
            else:
                heading = "#" * section.level + " " + section.heading if section.level else ""
                parts.append(md.html(heading + "\n" + section.body))
        return Page(chapter_page(chapter.name), chapter.title, "\n".join(parts), toc=self._toc(chapter))

    def _toc(self, current: Chapter | None) -> str:
        items = []
        for chapter in self.chapters:
            inner = ""
            if chapter == current:
                inner = "<ul>" + "".join(f'<li><a href="#{c.id}" title="{_escape(c.title)}">{c.id}</a></li>'
                                         for c in chapter.clauses) + "</ul>"
            mark = ' class="current"' if chapter == current else ""
            items.append(f'<li{mark}><a href="{chapter_page(chapter.name)}">{_escape(chapter.title)}</a>{inner}</li>')
        conventions = ' class="current"' if current is None else ""
        return (f'<aside class="toc"><h2>Specification</h2><ul><li{conventions}><a href="{CONVENTIONS_PAGE}">'
                f"Conventions</a></li>{''.join(items)}</ul></aside>\n")

    def clause(self, md: Markdown, clause: Clause) -> str:
        """A clause as its chapter page shows it: its heading under the anchor of its ID, its text and
        rationale, then its facts."""
        anchor = md.unique_id(clause.id)
        parts = [f'<section class="clause{" withdrawn" if clause.withdrawn else ""}" id="{anchor}">',
                 f'<h3><a class="id" href="#{anchor}">{clause.id}</a>: {md.inline(clause.title)}</h3>',
                 md.html(clause.statement)]
        if clause.rationale:
            parts.append(f'<div class="rationale">{md.html("**Rationale:** " + clause.rationale)}</div>')
        if not clause.withdrawn:
            facts = [("Check", self._check(clause)), ("Tests", self._tests(clause)),
                     ("Verdicts", self._verdicts(clause))]
            check = self.checks.get(clause.id)
            if check is not None and check.decisions:
                facts.append(("Plan", self._plan(check, md)))
            parts.append('<dl class="facts">' + "".join(f"<dt>{name}</dt><dd>{value}</dd>" for name, value in facts)
                         + "</dl>")
        parts.append("</section>")
        return "\n".join(parts)

    def _check(self, clause: Clause) -> str:
        check = self.checks.get(clause.id)
        if check is None:
            return "none in <code>refdropout.conformance</code>: the clause is checked by its tests"
        decisions = (f"{check.decisions} statistical decision{'s' * (check.decisions != 1)}" if check.decisions
                     else "exact: no statistical decision")
        needs = ", ".join(f"<code>{need}</code>" for need in check.needs) or "nothing"
        return (f'<a href="{self.sources[check.path]}#L{check.line}"><code>{_escape(check.name)}</code></a> '
                f'<span class="muted">({_escape(shown(check.path, check.line))})</span>; needs {needs}; {decisions}')

    def _tests(self, clause: Clause) -> str:
        if self.tests is None:
            names = ", ".join(f"<code>{_escape(name)}</code>" for name in clause.tests)
            return f'{names} <span class="muted">(tests are not installed with the package: see the repository)</span>'
        links = []
        for name in clause.tests:
            found = self.tests.get(name, [])
            where = ", ".join(f'<a href="{self.sources[test.path]}#L{test.line}">{_escape(shown(test.path, test.line))}'
                              "</a>" for test in found) or "not found in tests/"
            links.append(f"<code>{_escape(name)}</code> <span class=\"muted\">({where})</span>")
        return "<br>".join(links)

    def _verdicts(self, clause: Clause) -> str:
        if self.matrix is None:
            return f'<span class="muted">{_escape(self.matrix_problem)}</span>'
        row = self.matrix.verdicts.get(clause.id)
        if row is None:
            return '<span class="muted">none: the conformance matrix has a row for each clause with a check</span>'
        badges = " ".join(_verdict(cell, self._target_link(target)) for target, cell in row.items())
        why = "".join(f"<li><strong>{_escape(target)}</strong>: {_escape(self.matrix.failures[target, clause.id])}</li>"
                      for target in row if (target, clause.id) in self.matrix.failures)
        return (f'<div class="verdicts">{badges}</div>' + (f'<ul class="why">{why}</ul>' if why else "")
                + f'<p class="note">From the {self._matrix_link()} ({_escape(self.matrix.made)}).</p>')

    def _target_link(self, target: str) -> str:
        return f'<a href="{target_page(target)}">{_escape(target)}</a>' if target in TARGETS else _escape(target)

    def _matrix_link(self) -> str:
        return ('<a href="conformance-matrix.html">conformance matrix</a>' if MATRIX in self.documents
                else "conformance matrix")

    def _plan(self, check: CheckSite, md: Markdown) -> str:
        rows = "".join(f"<tr><td>{plan.profile}</td><td>{plan.alpha:.3g}</td><td>{check.decisions}</td>"
                       f"<td>{check.decisions * plan.alpha:.3g}</td><td>{plan.n:,}</td><td>{plan.keep_rate_mde:g}</td>"
                       "</tr>" for plan in self.plans)
        return ('<div class="table"><table><thead><tr><th>profile</th><th>α per decision</th><th>decisions</th>'
                "<th>share of the family-wise α</th><th>keep-rate n</th><th>keep-rate MDE</th></tr>"
                f'</thead><tbody>{rows}</tbody></table></div><p class="note">{md.inline(PLAN_NOTE)} '
                '(<a href="index.html#plans">statistical plans</a>).</p>')

    # --- frameworks ----------------------------------------------------------------------------

    def target(self, name: str) -> Page:
        builtin = TARGETS[name]
        md = self.markdown()
        module_name, _, class_name = builtin.adapter.partition(":")
        try:
            module = importlib.import_module(module_name)  # an adapter module imports its framework lazily
            adapter = getattr(module, class_name)
            problem = ""
        except (ImportError, AttributeError) as error:
            module, adapter = None, None
            problem = f'<p class="muted">The adapter could not be read: {_escape(str(error))}</p>'
        version = self.matrix.frameworks.get(name, ("", ""))[1] if self.matrix else ""
        parts = [f"<h1>{_escape(name)}</h1>",
                 f"<p>Adapter <code>{_escape(builtin.adapter)}</code>"
                 + (f"; framework <code>{_escape(builtin.framework)}</code>" if builtin.framework else "; no framework")
                 + (f", published run on version {_escape(version)}" if version else "")
                 + (f"; install it with <code>{_escape(builtin.install)}</code>" if builtin.install else "") + ".</p>"]
        if adapter is None:
            parts.append(problem)
        else:
            parts.append(md.html(_docstring(module)))
            parts.append("<h2 id=\"policies\">Declared policies</h2>" + self._policies(name, adapter, md))
            parts.append("<h2 id=\"capabilities\">Capabilities</h2>" + _capabilities(adapter))
            parts.append("<h2 id=\"deviations\">Known deviations</h2>" + self._deviations(adapter, md))
        parts.append("<h2 id=\"verdicts\">Verdicts</h2>" + self._target_verdicts(name, md))
        return Page(target_page(name), f"{name}: a built-in target", "\n".join(parts))

    def _policies(self, name: str, adapter: type, md: Markdown) -> str:
        declared = getattr(adapter, "policies", None)
        published = self.matrix.policies.get(name, {}) if self.matrix else {}
        reference = Policies()
        rows = []
        for policy in POLICY_VALUES:
            own = str(getattr(reference, policy))
            cells = (_against(str(getattr(declared, policy)), own) if isinstance(declared, Policies)
                     else "set when the adapter is made", _against(published.get(policy, ""), own), own)
            rows.append(f"<tr><td><code>{policy}</code></td>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>")
        dtypes = getattr(adapter, "dtypes", None)
        formats = ", ".join(dtypes) if isinstance(dtypes, tuple | list) else "the default formats"
        return (md.html("Where the spec allows more than one behaviour, an implementation declares which it has "
                        "([spec/dropout.md](spec/dropout.md), \"How the checks see an implementation\"); a check "
                        "that passes only because of a value other than the reference's (in bold) is `policy` in "
                        "the matrix.")
                + '<div class="table"><table><thead><tr><th>policy</th><th>declared by the adapter</th>'
                f"<th>in the published matrix</th><th>the reference's</th></tr></thead><tbody>{''.join(rows)}"
                f"</tbody></table></div><p>Checked in the floating formats: {_escape(formats)}.</p>")

    def _deviations(self, adapter: type, md: Markdown) -> str:
        deviations = getattr(adapter, "known_deviations", None) or {}
        if not deviations:
            return "<p>None declared.</p>"
        rows = "".join(f"<tr><td>{md.inline(clause)}</td><td>{md.inline(why)}</td></tr>"
                       for clause, why in deviations.items())
        return (md.html("What the framework does that the spec forbids and no policy allows, as the adapter "
                        "declares it (`known_deviations`): each is a FAIL the matrix shows.")
                + f'<div class="table"><table><thead><tr><th>clause</th><th>deviation</th></tr></thead>'
                  f"<tbody>{rows}</tbody></table></div>")

    def _target_verdicts(self, name: str, md: Markdown) -> str:
        if self.matrix is None:
            return f'<p class="muted">{_escape(self.matrix_problem)}.</p>'
        if name not in self.matrix.targets:
            return f"<p>The published {self._matrix_link()} has no column for {_escape(name)}.</p>"
        rows = []
        for clause, row in self.matrix.verdicts.items():
            title = md.inline(self._title(clause))
            why = _escape(self.matrix.failures.get((name, clause), ""))
            link = f'<a href="{self.clause_href(clause)}">{clause}</a>' if clause in self.chapter_of else clause
            rows.append(f"<tr><td>{link}</td><td>{title}</td><td>{_verdict(row.get(name, ''))}</td><td>{why}</td></tr>")
        note = self.matrix.notes.get(name, "")
        return (f"<p>{self._counts(name)}</p><p class=\"note\">From the {self._matrix_link()} "
                f"({_escape(self.matrix.made)}).{' ' + md.inline(note) if note else ''}</p>"
                '<div class="table"><table><thead><tr><th>clause</th><th>title</th><th>verdict</th>'
                f"<th>why it failed</th></tr></thead><tbody>{''.join(rows)}</tbody></table></div>")

    def _title(self, clause: str) -> str:
        return next((c.title for chapter in self.chapters for c in chapter.clauses if c.id == clause), "")

    # --- the published documents and the sources ----------------------------------------------

    def document_pages(self) -> list[Page]:
        """The published documents, the conformance matrix's verdict cells as badges."""
        pages = []
        for name, (page, title, _) in DOCUMENT_PAGES.items():
            if name in self.documents:
                body = self.markdown().html(self.documents[name].read_text(encoding="utf-8"))
                if name == MATRIX:
                    body = VERDICT_CELL.sub(lambda m: f"<td>{_verdict(m[1])}</td>", body)
                pages.append(Page(page, title, body, wide=name != "sensitivity.md"))
        return pages

    def source(self, path: Path) -> Page:
        """A source file, an anchor per line, after the clauses whose check or tests it holds."""
        lines = path.read_text(encoding="utf-8").splitlines()
        numbered = "".join(f'<span id="L{n}"><a class="ln" href="#L{n}">{n}</a>{html.escape(line, quote=False)}</span>'
                           for n, line in enumerate(lines, start=1))
        return Page(self.sources[path], shown(path), f"<h1><code>{_escape(shown(path))}</code></h1>"
                    f"{self._clauses_in(path)}<pre class=\"source\">{numbered}</pre>", wide=True)

    def _clauses_in(self, path: Path) -> str:
        """The clauses whose check, or tests, ``path`` holds: each linked to its clause and to its lines."""
        checks = [(site.line, clause) for clause, site in self.checks.items() if site.path == path]
        tests = [(test.line, clause.id) for chapter in self.chapters for clause in chapter.clauses
                 for name in clause.tests for test in (self.tests or {}).get(name, []) if test.path == path]
        lines: dict[str, list[int]] = {}
        for line, clause in sorted(checks or tests):
            if clause in self.chapter_of:
                lines.setdefault(clause, []).append(line)
        if not lines:
            return ""
        links = " · ".join(f'<a href="{self.clause_href(clause)}">{clause}</a>: '
                           + ", ".join(f'<a href="#L{line}">{line}</a>' for line in sorted(set(numbers)))
                           for clause, numbers in lines.items())
        return f'<p class="muted">{"The checks" if checks else "Tests"} of {links}</p>'


def _against(value: str, reference: str) -> str:
    """A declared value, in bold where it is not the reference's."""
    return f"<strong>{_escape(value)}</strong>" if value and value != reference else _escape(value)


def _in_reading_order(chapters: list[Chapter], conventions: Path) -> list[Chapter]:
    """The chapters in the order the conventions' table of chapters lists them, any other after."""
    listed = re.findall(r"^\| `([a-z][a-z0-9_]*)\.md` \|", conventions.read_text(encoding="utf-8"), re.MULTILINE)
    rank = {name: index for index, name in enumerate(listed)}
    return sorted(chapters, key=lambda chapter: rank.get(chapter.name, len(rank)))


def _docstring(module: object) -> str:
    """A module's docstring as markdown: reStructuredText roles (``:class:`x```) made code spans."""
    return RST_ROLE.sub(r"`\1`", inspect.getdoc(module) or "")


def _capabilities(adapter: type) -> str:
    rows = "".join(f"<tr><td><code>{name}</code></td><td>{'yes' if has_capability(adapter, name) else '—'}</td>"
                   f"<td><code>{_escape(signature)}</code></td></tr>" for name, signature in CAPABILITIES.items())
    return ("<p>The methods a check may ask for (<code>refdropout.contract.CAPABILITIES</code>); a check that needs "
            "one the adapter lacks is <em>not applicable</em>, never passed.</p>"
            '<div class="table"><table><thead><tr><th>capability</th><th>has it</th><th>call</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def _directory(text: str) -> Path:
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"not a directory: {text!r}")
    return path


OUT = Option("out", "the directory to write the site into (made if missing)", parse=folder, default=Path("site"),
             metavar="DIR")
DOCS = Option("docs", "the published documents to read (default: those installed with refdropout, else the "
              "repository's docs/)", parse=_directory, metavar="DIR")


def _write(args: argparse.Namespace, *, command: str, date: datetime.datetime) -> dict[str, str | bytes]:
    docs = args.docs if args.docs is not None else find_docs_dir()
    return Site(docs, command=command, date=date).files()


REPORT = Report("site", (OUT, DOCS), _write)

if __name__ == "__main__":  # python -m refdropout.reports.site: the same as refdropout report site
    raise SystemExit(main(REPORT))
