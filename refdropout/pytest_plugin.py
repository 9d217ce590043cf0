"""refdropout's pytest11 entry point: the conformance suite's options, and the suite only when asked for.

Installing refdropout registers this module with every pytest run on the machine. It adds the
``--refdropout-*`` options (those ``refdropout check`` shares come from refdropout.options, so they
take and refuse the same values) and keeps the conformance tests (refdropout/conformance/test_conformance.py)
out of collection; only when ``--refdropout-impl`` is given does it import and register
refdropout.conformance.plugin, which loads the target and runs the checks. A pytest run that does
not ask for the suite therefore imports neither the checks nor scipy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .contract.declarations import DTYPES, POLICY
from .options import CLAUSE, DEVICE, KNOWN_DEVIATIONS, PROFILE, SEED, TARGET, TIMEOUT, add_pytest_option

TEST_MODULE = Path(__file__).with_name("conformance") / "test_conformance.py"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--refdropout-impl`` and the options of ``refdropout check`` (refdropout.options; ``--refdropout-policy``
    and ``--refdropout-dtypes`` from refdropout.contract.declarations), and the known deviations."""
    group = parser.getgroup("refdropout", "refdropout conformance suite (pytest --pyargs refdropout.conformance)")
    for option in (TARGET, PROFILE, SEED, CLAUSE, DEVICE, TIMEOUT, POLICY, DTYPES, KNOWN_DEVIATIONS):
        add_pytest_option(group, option)


def pytest_configure(config: pytest.Config) -> None:
    """Register the conformance plugin when a target is named; its own pytest_configure then runs."""
    if config.getoption(TARGET.pytest_dest) is not None:
        from .conformance import plugin

        config.pluginmanager.register(plugin, "refdropout-conformance")


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without ``--refdropout-impl`` the conformance tests are not collected at all."""
    if collection_path == TEST_MODULE and config.getoption(TARGET.pytest_dest) is None:
        return True
    return None
