"""Every command README.md shows is run, so a README command that no longer works fails here (issue 17 §5).

The commands are the lines of README.md's shell blocks (fenced with no language) that start with
``refdropout``, ``python``, ``pytest`` or ``pip``, split at ``&&`` (``cd DIR`` names the directory
the rest runs in), a ``\\`` continuation and a synopsis's line that opens with ``[`` joined, a
``# comment`` cut; a block's commands run in order, in one directory (a fingerprint ``--compare``
reads the file its ``--out`` wrote). Each runs as printed, except for these rewrites, which keep the
whole file under a minute:

- a synopsis's optional parts are given, with example values: ``TARGET ...`` -> ``reference``,
  ``a|b|c`` -> ``a``, ``N`` -> 1, ``PATTERN`` -> DROPOUT-3, ``SECONDS`` -> 600, ``NAME=VALUE ...`` ->
  ``nonfinite=multiply``, ``LIST`` -> ``float64,float32``, ``FILE`` -> a file of its own,
  ``deviations.txt`` -> a known-deviations file the test writes, ``-n auto`` -> ``-n 0`` (xdist's
  option, without workers: the plugin under xdist is tested in test_plugin.py): so every option a
  synopsis names must exist and take the value shown;
- a run of checks (``refdropout check``, ``refdropout report matrix``, the pytest plugin) is at the
  quick profile and, unless it names its own clause, checks DROPOUT-3 alone (p validation: a few
  calls of plain ``dropout``, which every target has);
- ``my_module`` (the reader's module) is examples/my_dropout.py, whose directory is importable, as
  ``cd examples`` makes it; output files go to a temporary directory;
- ``pip install`` and ``python -m venv`` are not run (they change an environment): the extras they
  name must be pyproject.toml's; ``pytest`` without ``--pyargs`` (the whole suite, ``pytest -n auto``)
  is not run: it is this run, and it is the command ``.ci/run`` runs (a test below);
- a command whose built-in target's framework is not installed skips its block, naming the command
  that installs it.

``refdropout check`` and ``refdropout probe`` may exit 0 or 1 (a finding about the target); every
other command, and the plugin's pytest session, must exit 0. A command no rule covers fails the test,
so that a new kind of command in README.md comes with a way to run it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers import REPO
from refdropout.adapters import TARGETS
from refdropout.cli import _parser, main
from refdropout.mutants import MUTANTS
from refdropout.reports import REPORTS
from refdropout.reports.command import parser_of

README = REPO / "README.md"
CI_RUN = REPO / ".ci" / "run"
PROMPTS = ("refdropout", "python", "pytest", "pip")
CLAUSE = "DROPOUT-3"
CHECKS = (("refdropout", "check"), ("refdropout", "report", "matrix"), ("pytest", "--pyargs"))
PLACEHOLDERS = {"N": "1", "PATTERN": CLAUSE, "SECONDS": "600", "LIST": "float64,float32"}


@dataclass(frozen=True)
class Block:
    """A shell block of README.md: its first line's number and its commands, each with the directory
    (relative to the repository) that ``cd`` named for it, "" for the root."""

    line: int
    commands: tuple[tuple[str, str], ...]


def fenced(text: str) -> list[tuple[int, str, str]]:
    """Each fenced block of ``text``: its first line's number, its language ("" for none) and its text."""
    blocks, opened, language, lines = [], 0, "", []
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```") and not opened:
            opened, language, lines = number, line[3:].strip(), []
        elif line.startswith("```"):
            blocks.append((opened + 1, language, "\n".join(lines)))
            opened = 0
        elif opened:
            lines.append(line)
    assert not opened, f"README.md:{opened}: a fence that is never closed"
    return blocks


def shell_blocks(text: str) -> list[Block]:
    """README.md's blocks fenced with no language that hold a command."""
    blocks = []
    for line, language, body in fenced(text):
        commands: list[tuple[str, str]] = []
        for shown in re.sub(r"\\\n\s*", "", body).splitlines() if not language else ():
            directory = ""
            shown = re.sub(r"\s+#.*$", "", shown).strip()
            if shown.startswith("[") and commands:  # a synopsis wrapped without a backslash
                commands[-1] = (commands[-1][0], f"{commands[-1][1]} {shown}")
                continue
            for part in shown.split(" && "):
                if part.startswith("cd "):
                    directory = part[3:].strip()
                elif part.split(" ", 1)[0] in PROMPTS:
                    commands.append((directory, part))
        if commands:
            blocks.append(Block(line, tuple(commands)))
    return blocks


BLOCKS = shell_blocks(README.read_text(encoding="utf-8"))


def filled(command: str) -> list[str]:
    """A synopsis's optional parts given with example values, placeholders replaced (the rules above)."""
    command = command.replace("TARGET ...", "reference").replace("NAME=VALUE ...", "nonfinite=multiply")
    command = re.sub(r"(?<![\w.])\[([^\[\]]*)\]", r"\1", command).replace("-n auto", "-n 0")
    words, files = [], 0
    for word in shlex.split(command):
        if word == "FILE":
            files += 1
            word = f"report-{files}.out"
        words.append(PLACEHOLDERS.get(word, word.split("|")[0]))
    return words


def cheap(words: list[str]) -> list[str]:
    """A run of checks at the quick profile, of DROPOUT-3 alone unless it names its clause; ``my_module``
    is examples/my_dropout.py."""
    words = [word.replace("my_module:", "my_dropout:") for word in words]
    if not any(tuple(words[:len(prefix)]) == prefix for prefix in CHECKS):
        return words
    option = "--refdropout-" if words[0] == "pytest" else "--"
    if f"{option}profile" in words:
        words[words.index(f"{option}profile") + 1] = "quick"
    else:
        words += [f"{option}profile", "quick"]
    return words if f"{option}clause" in words else [*words, f"{option}clause", CLAUSE]


def missing_framework(words: list[str]) -> str | None:
    """The install command of the built-in target a command names whose framework is not installed."""
    for word in words:
        target = TARGETS.get(word)
        if target is not None and target.framework and importlib.util.find_spec(target.framework) is None:
            return target.install
    return None


def extras() -> set[str]:
    return set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"])


def installs_what_exists(words: list[str]) -> None:
    """``pip install -e '.[test]'`` and ``pip install 'refdropout[parallel]'`` name extras pyproject.toml has."""
    named = {extra for word in words for extra in re.findall(r"^(?:\.|refdropout)\[([\w,]+)\]$", word)}
    assert {extra for group in named for extra in group.split(",")} <= extras(), words


def whole_suite(words: list[str]) -> bool:
    """A pytest command that runs the project's tests, not the packaged suite's (``--pyargs``)."""
    return words[0] == "pytest" and "--pyargs" not in words


def plugin_session(words: list[str], cwd: Path) -> None:
    """The plugin's pytest command, in a process of its own (pytest in pytest shares too much)."""
    (cwd / "deviations.txt").write_text("DROPOUT-16  an example line of README's plugin synopsis\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", *words], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"{shlex.join(words)}: exit status {done.returncode}\n{done.stdout[-3000:]}"


def run_shown(words: list[str], cwd: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if words[:3] == ["python", "-m", "refdropout"]:
        words = ["refdropout", *words[3:]]
    if words[0] == "pip" or words[:3] == ["python", "-m", "venv"]:
        installs_what_exists(words)
    elif whole_suite(words):
        pass  # the whole suite: this run
    elif words[0] == "pytest":
        plugin_session(words, cwd)
    elif words[0] == "refdropout":
        statuses = (0, 1) if words[1] in ("check", "probe") else (0,)
        got = main(words[1:])
        out, err = capsys.readouterr()
        assert got in statuses, f"{shlex.join(words)}: exit status {got}, not {statuses}:\n{err or out}"
    else:
        pytest.fail(f"README.md shows {shlex.join(words)!r}, which no rule of tests/test_readme.py runs")


@pytest.mark.parametrize("block", BLOCKS, ids=[f"README.md:{block.line}" for block in BLOCKS])
def test_the_commands_readme_shows_run(block: Block, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    commands = [(directory, cheap(filled(command))) for directory, command in block.commands]
    for _, words in commands:
        install = missing_framework(words)
        if install is not None:
            pytest.skip(f"{shlex.join(words)} needs a framework that is not installed: {install}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    (tmp_path / "docs").mkdir()
    for directory, words in commands:
        assert (REPO / directory).is_dir(), f"README.md:{block.line}: cd {directory}: no such directory"
        run_shown(words, tmp_path, capsys)


def test_ci_runs_the_suite_as_readme_shows() -> None:
    """.ci/run's pytest command is the one README.md's Test section shows, with a JUnit report of its own."""
    shown = [words for block in BLOCKS for _, command in block.commands
             if whole_suite(words := shlex.split(command))]
    [line] = [line for line in CI_RUN.read_text(encoding="utf-8").splitlines() if line.startswith("pytest ")]
    words = shlex.split(line.split(" 2>&1")[0])
    at = words.index("--junitxml")
    assert shown == [[*words[:at], *words[at + 2:]]], f"README.md shows {shown}, .ci/run runs {line!r}"


def test_readme_shows_what_probe_prints(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The declaration README.md shows as what ``refdropout probe my_dropout:dropout`` prints is what it prints."""
    text = README.read_text(encoding="utf-8")
    [shown] = [body for _, language, body in fenced(text) if not language and "policies = Policies()" in body]
    monkeypatch.syspath_prepend(str(REPO / "examples"))
    assert main(["probe", "my_dropout:dropout"]) == 0
    assert shown in capsys.readouterr().out


def spelled_out(command: str) -> list[list[str]]:
    """An inline command's placeholders given (as a synopsis's; TARGET, FILE, CLAUSE; a mutant for
    ``--mutant NAME``, each report for NAME or REPORT after ``report``; each alternative of ``a|b``; a
    ``...`` dropped): the command lines it stands for."""
    given = {**PLACEHOLDERS, "TARGET": "reference", "FILE": "masks.json", "CLAUSE": "DROPOUT-16"}
    lines: list[list[str]] = [[]]
    for word in shlex.split(re.sub(r"(?<![\w.])\[([^\[\]]*)\]", r"\1", command))[1:]:
        before = lines[0][-1:]
        if word == "...":
            continue
        if word in ("NAME", "REPORT") and before == ["report"]:
            choices = sorted(REPORTS)
        elif word == "NAME" and before == ["--mutant"]:
            choices = [next(iter(MUTANTS))]
        else:
            choices = [given.get(word, word)] if word.startswith("-") else given.get(word, word).split("|")
        lines = [[*line, choice] for line in lines for choice in choices]
    return lines


def parses(argv: list[str]) -> None:
    """``refdropout ARGV`` as its parser, and a report's own parser, read it (``--help`` is read too); a
    command named alone (`refdropout probe`, `refdropout report sweep`) is asked for its help."""
    if len(argv) == 1 or (argv[0] == "report" and len(argv) == 2):
        argv = [*argv, "--help"]
    try:
        args = _parser().parse_args(argv)
        if argv[0] == "report":
            parser_of(importlib.import_module(f"refdropout.reports.{args.report}").REPORT).parse_args(args.options)
    except SystemExit as exit:
        assert exit.code == 0, f"refdropout {shlex.join(argv)}: a usage error"


def test_the_commands_readme_names_in_its_text_parse(capsys: pytest.CaptureFixture[str]) -> None:
    """A command README.md names in its text (`refdropout report sweep [--seeds 20]`) is one the command
    line takes, each placeholder given; a ``pip install`` names extras pyproject.toml has; a ``python
    FILE.py`` names a file that exists. They are not run: the shell blocks' commands are."""
    text = README.read_text(encoding="utf-8")
    spans = re.findall(r"`((?:refdropout|python|pip) [^`]*)`", text)
    assert spans
    for span in spans:
        words = shlex.split(span)
        if words[0] == "pip":
            installs_what_exists(words)
        elif words[0] == "python" and words[1].endswith(".py"):
            assert (REPO / words[1]).is_file(), span
        else:
            for argv in spelled_out(span.removeprefix("python -m ")):
                parses(argv)
    capsys.readouterr()
