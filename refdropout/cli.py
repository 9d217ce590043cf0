"""The ``refdropout`` command line: ``spec`` lists the clauses, ``check`` checks implementations
against them, ``report`` writes a generated document (refdropout.reports).

The options ``check`` and the reports share with the pytest plugin are defined once, in
refdropout.options. Listing the clauses needs only the standard library; the conformance suite
(and scipy) is imported when something is checked.

``check`` exits with a status that says what was found (spec/runner.md): 0 when every target had
a clause applicable and every applicable clause passed, 1 when some clause failed, 2 for a usage or
setup error, a run that checked nothing, an error of the suite or a report that could not be
written, and 128 + the signal (130, 143) when SIGINT or SIGTERM stopped it, after writing the report
of what finished.
"""

from __future__ import annotations

import argparse
import difflib
import gc
import importlib
import json
import os
import signal
import sys
import textwrap
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from refdropout import tables
from refdropout.contract.declarations import DTYPES, POLICY
from refdropout.options import CLAUSE, DEVICE, PROFILE, SEED, TARGET, TIMEOUT, Option, add_argument
from refdropout.reports import REPORTS
from refdropout.spec import Chapter, Clause, chapter_files, load_chapters, load_clauses

JSON = Option("json", "write the full report as JSON", parse=Path, metavar="FILE")
JUNIT = Option("junit", "write JUnit XML, one testcase per clause", parse=Path, metavar="FILE")

if TYPE_CHECKING:  # the suite is imported only when something is checked
    from refdropout.adapters import LoadedTarget
    from refdropout.conformance.guard import Watch
    from refdropout.conformance.output import ReportFile
    from refdropout.conformance.probe import Probe
    from refdropout.conformance.runner import Run

CHECK_STATUS = """\
exit status (spec/runner.md):
  0         every target had a clause that applied to it, and every such clause passed
  1         some clause failed
  2         a usage or setup error, a run that checked nothing, an error of the suite,
            or a report that could not be written
  130, 143  interrupted by SIGINT or SIGTERM, after writing the report of what finished

A call stuck in C code, which the time limit cannot interrupt, ends the run after twice the
limit plus 60 s, with status 1 and every thread's stack on stderr."""

FINGERPRINT_STATUS = """\
exit status (spec/runner.md, RUNNER-15):
  0         the fingerprint was drawn (and written); with --compare, every case drew the same mask
  1         with --compare, some case's mask differs, or only one of the two fingerprints has it
  2         a usage or setup error: a target that does not load, a file that cannot be read or written"""

PROBE_STATUS = """\
exit status (spec/runner.md, RUNNER-16):
  0         every probe found an allowed value
  1         some behaviour matches no allowed value, or a call of the target failed
  2         a usage or setup error, an error of the suite, or a report that could not be written
  130, 143  interrupted by SIGINT or SIGTERM, after writing the report of what finished"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; argparse exits with status 2 on a usage error."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        status = args.run(args)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at the interpreter's exit
        return status
    except ValueError as error:  # a malformed spec: name the file and line, no traceback; a setup error
        print(f"refdropout: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C where no run is under way to report on
        print("refdropout: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader left (`refdropout spec | head`): nothing more to say, to anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush does not fail again
        return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="refdropout", description="The executable specification of dropout.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    spec = commands.add_parser(
        "spec", help="list the clauses of the specification, or print one",
        description="List the clauses of the specification; given a CLAUSE, print it: its text, its rationale "
                    "and its chapter's references, where its check lives, the tests that name it and each built-in "
                    "target's verdict in the published conformance matrix.")
    spec.add_argument("clause", nargs="?", metavar="CLAUSE", help="the clause to print (e.g. DROPOUT-16)")
    spec.add_argument("--chapter", metavar="NAME", help="list only this chapter's clauses (e.g. tensor)")
    spec.set_defaults(run=_spec, usage_error=spec.error)
    check = commands.add_parser("check", help="check implementations of dropout against the spec, clause by clause",
                                epilog=CHECK_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in (replace(TARGET, default=("reference",)), PROFILE, CLAUSE, SEED, DEVICE, TIMEOUT, POLICY, DTYPES,
                   JSON, JUNIT):
        add_argument(check, option)
    check.add_argument("--traceback", action="store_true",
                       help="show the Python traceback of a target that fails to load, and of an error of the suite")
    check.add_argument("--suggest", action="store_true",
                       help="for a FAIL of a clause a policy relaxes, say which other declared values make it pass"
                            " (the verdict stays)")
    check.set_defaults(run=_check, usage_error=check.error)
    fingerprint = commands.add_parser(
        "fingerprint", help="record a digest of the masks a target draws, or compare them with a recorded one",
        description="Draw the keep mask of x = 1 for a fixed set of cases (7 shapes of 1 to 65,537 elements, "
                    "p in {0.1, 0.5, 0.9}, 4 seeds derived from --seed, every declared dtype) and record each "
                    "mask's keep count and digest (RUNNER-15), so that CI sees when an upgrade or another device "
                    "changes a target's masks. A digest that differs is a fact, not a failure: no clause requires "
                    "masks to stay the same across versions or devices.",
        epilog=FINGERPRINT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    fingerprint.add_argument("target", metavar="TARGET", help=TARGET.help)
    for option in (SEED, DEVICE, DTYPES):
        add_argument(fingerprint, option)
    fingerprint.add_argument("--out", type=Path, metavar="FILE", help="write the fingerprint as JSON")
    fingerprint.add_argument("--compare", type=Path, metavar="FILE",
                             help="draw the cases of this fingerprint file again, under its seed, and name each case "
                                  "whose mask differs")
    fingerprint.set_defaults(run=_fingerprint, usage_error=fingerprint.error)
    probe = commands.add_parser(
        "probe", help="measure which allowed value of each policy a target follows, and the formats it takes",
        description=textwrap.fill("Measure, with a few exact calls each, which allowed value of each policy of "
                                  "spec/dropout.md the target follows and which floating formats it accepts; print "
                                  "the evidence and the declaration to give `refdropout check`. Probing measures; "
                                  "check judges.", width=100),
        epilog=PROBE_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    probe.add_argument("target", metavar="TARGET", help=TARGET.help)
    for option in (SEED, DEVICE, TIMEOUT, JSON):
        add_argument(probe, option)
    probe.add_argument("--traceback", action="store_true",
                       help="show the Python traceback of a target that fails to load, and of an error of the suite")
    probe.set_defaults(run=_probe, usage_error=probe.error)
    report = commands.add_parser(
        "report", help="write a generated document: " + ", ".join(REPORTS),
        description="Write a generated document; `refdropout report REPORT --help` lists its options.\n\n"
                    + "\n".join(f"  {name:<12} {what}" for name, what in REPORTS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("report", choices=tuple(REPORTS), metavar="REPORT", help="the document to write (listed above)")
    report.add_argument("options", nargs=argparse.REMAINDER, metavar="...", help="the report's options")
    report.set_defaults(run=_report)
    return parser


def _spec(args: argparse.Namespace) -> int:
    """``refdropout spec``: one aligned row per clause, ID, chapter and title; ``refdropout spec CLAUSE``:
    the clause."""
    if args.clause is not None:
        if args.chapter is not None:
            args.usage_error("give a CLAUSE or --chapter, not both")
        return _spec_clause(args.clause)
    chapters = [path.stem for path in chapter_files()]
    if args.chapter is not None and args.chapter not in chapters:
        args.usage_error(f"argument --chapter: unknown chapter {args.chapter!r} (chapters: {', '.join(chapters)})")
    clauses = [clause for clause in load_clauses() if args.chapter in (None, clause.chapter)]
    rows = [("ID", "CHAPTER", "TITLE"), *((clause.id, clause.chapter, clause.title) for clause in clauses)]
    print(tables.aligned(rows))
    return 0


def _spec_clause(name: str) -> int:
    """``refdropout spec CLAUSE``: the clause as the spec has it, its check, its tests, its published
    verdicts; an unknown clause is one line naming it and the IDs close to it, status 2."""
    chapters = load_chapters()
    clauses = {clause.id: (chapter, clause) for chapter in chapters for clause in chapter.clauses}
    if name.upper() not in clauses:
        close = difflib.get_close_matches(name.upper(), clauses, n=3, cutoff=0.75)
        hint = f"did you mean {_either(close)}?" if close else "`refdropout spec` lists them"
        print(f"refdropout spec: error: unknown clause {name!r} ({hint})", file=sys.stderr)
        return 2
    chapter, clause = clauses[name.upper()]
    print(_clause_text(chapter, clause))
    return 0


def _either(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _clause_text(chapter: Chapter, clause: Clause) -> str:
    """What ``refdropout spec CLAUSE`` prints: the clause (text, rationale, the chapter's references),
    then where its check lives, the tests that name it and each target's published verdict."""
    from refdropout.reports import traces  # the checks' registry imports scipy: only here

    section = chapter.section_of(clause)
    parts = [f"{clause.id}: {clause.title}",
             f"spec/{chapter.path.name}:{clause.line}, chapter {chapter.name} ({chapter.title})"
             + (f", section {section!r}" if section else ""),
             clause.statement]
    if clause.rationale:
        parts.append(f"Rationale: {clause.rationale}")
    if chapter.references:
        parts.append(f"References of the chapter (spec/{chapter.path.name}):\n{chapter.references}")
    if clause.withdrawn:
        return "\n\n".join([*parts, "No check, no tests and no verdicts: the clause is withdrawn."])
    check = traces.check_site(clause.id)
    if check is not None:
        decisions = f"{check.decisions} statistical decision{'s' * (check.decisions != 1)}" if check.decisions \
            else "exact: no statistical decision"
        parts.append(f"Check: {check.name}\n  {traces.shown(check.path, check.line)}; needs "
                     f"{', '.join(check.needs) or 'nothing'}; {decisions}")
    else:
        parts.append("Check: none registered in refdropout.conformance; the clause is checked by its tests")
    return "\n\n".join([*parts, _tests_text(clause), _verdicts_text(clause)])


def _tests_text(clause: Clause) -> str:
    from refdropout.reports import traces

    directory = traces.tests_dir()
    if directory is None:
        return f"Tests: {', '.join(clause.tests)} (tests are not installed with the package: see the repository)"
    found = traces.find_tests(directory, clause.tests)
    return "Tests:\n" + "\n".join(
        f"  {name}  " + (", ".join(traces.shown(site.path, site.line) for site in found[name]) if name in found
                         else "(not found in tests/)")
        for name in clause.tests)


def _verdicts_text(clause: Clause) -> str:
    from refdropout.reports import published

    docs = published.find_docs_dir()
    path = None if docs is None else docs / published.MATRIX
    if path is None or not path.is_file():
        return f"Verdicts: no published conformance matrix in this installation (docs/{published.MATRIX})"
    try:
        matrix = published.read_matrix(path)
    except (OSError, ValueError) as error:
        return f"Verdicts: could not read {path}: {error}"
    row = matrix.verdicts.get(clause.id)
    if row is None:
        return f"Verdicts: none in docs/{published.MATRIX}, which has a row for each clause with a check"
    rows = [(target, verdict, matrix.failures.get((target, clause.id), "")) for target, verdict in row.items()]
    return (f"Verdicts of the built-in targets, from docs/{published.MATRIX} ({matrix.made}):\n"
            + textwrap.indent(tables.aligned(rows), "  "))


def _check(args: argparse.Namespace) -> int:
    """``refdropout check``: every target's table, notes and summary; the reports; the exit status."""
    from refdropout.conformance import output, runner  # the suite imports scipy: only when checking

    try:
        clauses = runner.select_clauses(args.clause)
    except ValueError as error:
        args.usage_error(str(error))
    reports: list[ReportFile] = []
    try:
        for option, path in (("--json", args.json), ("--junit", args.junit)):  # found now, not after the work
            if path is not None:
                reports.append(output.ReportFile(option, path))
        return _run_targets(args, clauses, reports)
    except output.ReportError as error:
        return _setup_error(str(error))
    finally:  # a report not written by now never will be: no temporary file is left behind
        for report in reports:
            report.discard()


def _run_targets(args: argparse.Namespace, clauses: list[str], reports: list[ReportFile]) -> int:
    """Load the targets, run each, print its table, notes and summary, write the reports; the exit status."""
    from refdropout.adapters import TargetError, load_target
    from refdropout.conformance import output, runner
    from refdropout.conformance.guard import Interrupted, Watch, backstop_window, interruptible

    watch = Watch(args.timeout, capture=True, backstop=backstop_window(args.timeout) if args.timeout else None)
    runs: list[Run] = []
    interrupted = None
    try:
        with interruptible():
            targets = [load_target(name, device=args.device, policies=args.policy or (), dtypes=args.dtypes)
                       for name in args.targets]
            with _loaded_frozen():
                for target in targets:
                    run = runner.run_target(target.name, target.impl, clauses, profile=args.profile, seed=args.seed,
                                            device=args.device, versions=target.versions(),
                                            progress=output.progress_on(sys.stderr), watch=watch,
                                            declarations=target.declarations)
                    runs.append(run)
                    print("\n".join(part for part in (output.table(run), output.notes(run), output.summary(run))
                                    if part) + "\n", flush=True)
                    interrupted = run.interrupted
                    if interrupted is not None:
                        break
                    if args.suggest:
                        runs[-1] = _suggest(run, target, args, watch)
    except TargetError as error:
        if args.traceback and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        return _setup_error(str(error))
    except Interrupted as stop:
        interrupted = stop.signal
    formats = {"--json": output.json_text, "--junit": output.junit_text}
    unwritten = [report for report in reports
                 if not _written(report, formats[report.option](runs, complete=interrupted is None))]
    return _status(runs, interrupted, reported=bool(reports), unwritten=bool(unwritten),
                   traceback_shown=args.traceback)


@contextmanager
def _loaded_frozen() -> Iterator[None]:
    """The objects alive now (the frameworks, scipy, Hypothesis, the suite: some 200,000) left out of the
    cyclic collector's passes while the block runs (gc.freeze): they outlive it, and walking them cost each
    full pass about 0.15 s of CPU (issue 15: a standard run on torch 1.3 -> 0.5 s of collection)."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _suggest(run: Run, target: LoadedTarget, args: argparse.Namespace, watch: Watch) -> Run:
    """``--suggest``: after a target's table, the declarations that would turn its FAILs into passes;
    the run with them, for its reports."""
    from refdropout.conformance.suggest import suggestions

    found = tuple(suggestions(run, target.impl, target.declarations, profile=args.profile, watch=watch))
    lines = [line for suggestion in found for line in suggestion.lines()]
    if lines:
        print("\n".join(lines) + "\n", flush=True)
    return replace(run, suggestions=found)


def _probe(args: argparse.Namespace) -> int:
    """``refdropout probe``: the findings, the declaration, the JSON report; the exit status (RUNNER-16)."""
    from refdropout.conformance import output, probe_report
    from refdropout.conformance.probe import Probe, Status

    try:
        report = output.ReportFile("--json", args.json) if args.json is not None else None
    except output.ReportError as error:
        return _setup_error(str(error))
    try:
        probe = _probed(args)
        if not isinstance(probe, Probe):
            return probe
        print(probe_report.text(probe), end="", flush=True)
        for finding in (finding for finding in probe.findings if finding.status is Status.ERROR):
            if args.traceback:
                print(finding.trace, file=sys.stderr, end="")
            print(f"refdropout: the suite could not probe {finding.name} for {probe.target}: {finding.evidence}"
                  " (an error of the suite or its machine, not of the target)", file=sys.stderr)
        unwritten = report is not None and not _written(report, probe_report.json_text(probe))
        if probe.interrupted is not None:
            print(f"refdropout: interrupted by {probe.interrupted.name}; probes finished: {len(probe.findings)}",
                  file=sys.stderr)
        return probe_report.status(probe, unwritten=unwritten)
    finally:  # a report not written by now never will be: no temporary file is left behind
        if report is not None:
            report.discard()


def _probed(args: argparse.Namespace) -> Probe | int:
    """The target loaded and probed, or the exit status of a setup error or an interrupt before any probe."""
    from refdropout.adapters import TargetError, load_target
    from refdropout.conformance import output
    from refdropout.conformance.guard import Interrupted, Watch, backstop_window, interruptible
    from refdropout.conformance.probe import probe_target

    watch = Watch(args.timeout, capture=True, backstop=backstop_window(args.timeout) if args.timeout else None)
    try:
        with interruptible():
            target = load_target(args.target, device=args.device)
            return probe_target(target.name, target.impl, seed=args.seed, watch=watch, versions=target.versions(),
                                progress=output.progress_on(sys.stderr))
    except TargetError as error:
        if args.traceback and error.__cause__ is not None:
            traceback.print_exception(error.__cause__)
        return _setup_error(str(error))
    except Interrupted as stop:  # while the target loaded: nothing to report
        print(f"refdropout: interrupted by {stop.signal.name}", file=sys.stderr)
        return 128 + stop.signal


def _setup_error(message: str) -> int:
    print(f"refdropout: {message}", file=sys.stderr)
    return 2


def _written(report: ReportFile, text: str) -> bool:
    """Write a report file; a failure (a full disk) is one line on stderr."""
    try:
        report.write(text)
    except OSError as error:
        print(f"refdropout: could not write {report.option} {report.path}: {error.strerror or error}", file=sys.stderr)
        return False
    return True


def _status(runs: list[Run], interrupted: signal.Signals | None, *, reported: bool, unwritten: bool,
            traceback_shown: bool) -> int:
    """The exit status of ``check`` (spec/runner.md), with a line on stderr for every reason it is not 0 or 1."""
    from refdropout.conformance.verdict import Outcome

    if interrupted is not None:
        finished = sum(len(run.results) for run in runs)
        print(f"refdropout: interrupted by {interrupted.name}; clauses finished: {finished}"
              + ("; the reports hold them, marked incomplete" if reported else ""), file=sys.stderr)
        return 128 + interrupted
    for run in runs:
        errors = [result for result in run.results if result.verdict.outcome is Outcome.ERROR]
        for result in errors if traceback_shown else ():
            print(result.trace, file=sys.stderr, end="")
        if errors:
            print(f"refdropout: the suite could not check {', '.join(r.verdict.clause for r in errors)} for"
                  f" {run.target} (the notes say why): an error of the suite or its machine, not a failure of the"
                  " target", file=sys.stderr)
        elif run.checked == 0:
            needs = sorted({result.verdict.detail for result in run.results})
            print(f"refdropout: nothing was checked for {run.target}: no selected clause applies to it"
                  f" ({'; '.join(needs)})", file=sys.stderr)
    if any(run.failed for run in runs):
        return 1
    if unwritten or any(run.checked == 0 or run.count(Outcome.ERROR) for run in runs):
        return 2
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    """``refdropout fingerprint``: the target's digests, written and printed; with --compare, the cases
    whose digest differs from the file's and the exit status that says whether any does."""
    from refdropout.adapters import TargetError, load_target
    from refdropout.conformance import fingerprint
    from refdropout.reports.command import unwritable

    if args.out is not None and (why := unwritable(args.out)):
        return _setup_error(f"cannot write --out {args.out}: {why}")
    before = None
    if args.compare is not None:
        try:
            before = fingerprint.read(args.compare.read_text(encoding="utf-8"), str(args.compare))
        except OSError as error:
            return _setup_error(f"cannot read --compare {args.compare}: {error.strerror or error}")
    try:
        target = load_target(args.target, device=args.device, dtypes=args.dtypes)
    except TargetError as error:
        return _setup_error(str(error))
    seed = args.seed if before is None else before["seed"]
    drawn = fingerprint.fingerprint(target.impl, seed, target=target.name, versions=target.versions(),
                                    device=args.device)
    if args.out is not None:
        try:
            args.out.write_text(json.dumps(drawn, indent=1) + "\n", encoding="utf-8")
        except OSError as error:
            return _setup_error(f"cannot write --out {args.out}: {error.strerror or error}")
    if before is None:
        print(tables.aligned([("case", "kept/n:digest"), *drawn["cases"].items()]))
        print(f"{target.name}: {len(drawn['cases'])} cases, seed {seed}"
              + (f"; written to {args.out}" if args.out is not None else ""))
        return 0
    differences = fingerprint.compare(before, drawn)
    print("\n".join([f"{target.name}: {len(differences)} of {len(before['cases'])} cases of {args.compare} differ"
                     f" (seed {seed})", *differences]))
    return 1 if differences else 0


def _report(args: argparse.Namespace) -> int:
    """``refdropout report REPORT``: the report's own parser takes the rest of the command line."""
    from refdropout.reports.command import main as write  # the reports run checks: only when asked for

    return write(importlib.import_module(f"refdropout.reports.{args.report}").REPORT, args.options)
