"""tests/shared_runs.py: under pytest-xdist a value is computed once a session, whichever worker asks first,
and every worker gets it; without workers each process computes it."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from helpers import TESTS_DIR
from shared_runs import WORKER_INPUT, computed_once

# A session of four tests that all ask for one value, slowly computed, which appends a line to a file per
# computation: run under two workers, the two ask at about the same time.
SESSION = '''
import os, time
from pathlib import Path
from types import SimpleNamespace
import pytest
from shared_runs import WORKER_INPUT, computed_once

def compute():
    with open(os.environ["COMPUTED"], "a") as log:
        log.write(os.environ.get("PYTEST_XDIST_WORKER", "-") + "\\n")
    time.sleep(1)
    return {"value": 42}

@pytest.mark.parametrize("i", range(4))
def test_asks(i, pytestconfig):
    assert computed_once(pytestconfig, "answer", compute) == {"value": 42}
    with open(os.environ["ASKED"], "a") as log:
        log.write(os.environ["PYTEST_XDIST_WORKER"] + "\\n")
'''
CONFTEST = '''
import pytest
from shared_runs import hand_to_worker

@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    hand_to_worker(node)
'''


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: each process computes for itself")
def test_two_workers_compute_a_value_once(tmp_path: Path) -> None:
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    (tmp_path / "test_session.py").write_text(SESSION, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    computed, asked, temporary = tmp_path / "computed.log", tmp_path / "asked.log", tmp_path / "tmp"
    temporary.mkdir()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
           "COMPUTED": str(computed), "ASKED": str(asked), "TMPDIR": str(temporary)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-n", "2", "test_session.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert len(computed.read_text().split()) == 1  # computed once
    assert set(asked.read_text().split()) == {"gw0", "gw1"}  # and both workers got it
    assert not list(temporary.glob("refdropout-shared-*"))  # the shared directory is removed with the session


def test_without_workers_each_call_computes() -> None:
    calls = []
    serial = SimpleNamespace()  # a session's config without pytest-xdist's workerinput
    assert [computed_once(serial, "key", lambda: calls.append(1) or len(calls)) for _ in range(2)] == [1, 2]


@pytest.mark.skipif(sys.platform == "win32", reason="no fcntl: each process computes for itself")
def test_a_worker_that_would_wait_computes_a_later_value_meanwhile(tmp_path: Path) -> None:
    """While another holds the lock of the asked key, the worker computes the first later key no one has
    started (one already stored is not computed again), then takes the asked one."""
    import fcntl

    worker = SimpleNamespace(workerinput={WORKER_INPUT: str(tmp_path)})
    (tmp_path / "stored.pickle").write_bytes(pickle.dumps("read, not computed"))
    computed = []
    other = open(tmp_path / "asked.lock", "a")  # another worker, computing the asked key
    fcntl.flock(other, fcntl.LOCK_EX)

    def later() -> str:
        computed.append("later")
        other.close()  # the other worker is done (without storing: the asking worker computes it)
        return "later value"

    def asked() -> str:
        computed.append("asked")
        return "asked value"

    meanwhile = [("stored", lambda: computed.append("stored")), ("later", later), ("never", lambda: 1 / 0)]
    assert computed_once(worker, "asked", asked, meanwhile) == "asked value"
    assert computed == ["later", "asked"]
    assert pickle.loads((tmp_path / "later.pickle").read_bytes()) == "later value"
