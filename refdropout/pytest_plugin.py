"""refdropout's pytest11 entry point: the conformance suite's options, and the suite only when asked for.

Installing refdropout registers this module with every pytest run on the machine. It adds the
``--refdropout-*`` options and keeps the conformance tests (refdropout/conformance/test_conformance.py)
out of collection; only when ``--refdropout-impl`` is given does it import and register
refdropout.conformance.plugin, which loads the target and runs the checks. A pytest run that does
not ask for the suite therefore imports neither the checks nor scipy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TEST_MODULE = Path(__file__).with_name("conformance") / "test_conformance.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("refdropout", "refdropout conformance suite (pytest --pyargs refdropout.conformance)")
    group.addoption("--refdropout-impl", metavar="TARGET",
                    help="check this implementation: reference, numpy, torch, or package.module:function")
    group.addoption("--refdropout-profile", choices=("quick", "standard", "deep"), default="standard",
                    help="the statistical plan (default: standard)")
    group.addoption("--refdropout-seed", type=int, default=0, metavar="N",
                    help="the master seed, in [0, 2**64) (default: 0)")
    group.addoption("--refdropout-clause", action="append", metavar="PATTERN",
                    help="only clauses matching an ID, a glob (DROPOUT-1?) or a chapter (dropout); repeatable")
    group.addoption("--refdropout-device", choices=("cpu", "cuda"), default="cpu",
                    help="where adapters that take a device run (default: cpu)")
    group.addoption("--refdropout-known-deviations", type=Path, metavar="FILE",
                    help="lines 'TEST-ID-PREFIX  reason': those tests are expected to fail")


def pytest_configure(config: pytest.Config) -> None:
    """Register the conformance plugin when a target is named; its own pytest_configure then runs."""
    if config.getoption("refdropout_impl") is not None:
        from .conformance import plugin

        config.pluginmanager.register(plugin, "refdropout-conformance")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without ``--refdropout-impl`` the conformance tests are not collected at all."""
    if collection_path == TEST_MODULE and config.getoption("refdropout_impl") is None:
        return True
    return None
