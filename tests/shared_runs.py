"""One computation per pytest session, however many pytest-xdist workers ask for it.

tests/conftest.py's ``quick_run(target)`` is a whole run of the target at the quick profile (up to
minutes for keras), and the tests that assert on it are spread over the workers: pytest-xdist 3.8's
``--dist loadgroup`` does not keep an ``xdist_group`` on one worker under pytest 9.2 (measured: the
eight tests of one group ran on both workers). So the controller hands every worker one temporary
directory (``pytest_configure_node``), and the first worker to ask for a value computes it under an
exclusive lock of that directory's file for the key and writes it there (pickled); a worker that asks
while it is computed waits on the lock, then reads it. Without pytest-xdist, or where ``fcntl`` is
missing (Windows), each process computes for itself, as before.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

try:
    import fcntl
except ImportError:  # Windows: no sharing
    fcntl = None

WORKER_INPUT = "refdropout_shared_dir"  # the key of the directory in each worker's workerinput
DIRECTORY = pytest.StashKey[Path]()  # the controller's directory, made when its first worker starts


def hand_to_worker(node: Any) -> None:
    """pytest-xdist's controller, as it starts a worker: the session's shared directory goes with it."""
    config = node.config
    if DIRECTORY not in config.stash:
        directory = Path(tempfile.mkdtemp(prefix="refdropout-shared-"))
        config.stash[DIRECTORY] = directory
        config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))
    node.workerinput[WORKER_INPUT] = str(config.stash[DIRECTORY])


def shared_directory(config: pytest.Config) -> Path | None:
    """The directory a worker shares with the others; None outside pytest-xdist or without ``fcntl``."""
    named = getattr(config, "workerinput", {}).get(WORKER_INPUT)
    return Path(named) if named and fcntl is not None else None


@contextmanager
def _locked(path: Path, *, wait: bool = True) -> Iterator[bool]:
    """Holds the exclusive lock of ``path`` (True), waiting for it; without ``wait``, False at once when another
    process holds it."""
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))  # released when the file closes
        except BlockingIOError:
            yield False
        else:
            yield True


def _stored(directory: Path, key: str, compute: Callable[[], Any]) -> Any:
    """``key``'s value, read or (under its lock, held by the caller) computed and written."""
    stored = directory / f"{key}.pickle"
    if stored.exists():
        return pickle.loads(stored.read_bytes())
    value = compute()
    partial = stored.with_suffix(f".{os.getpid()}")
    partial.write_bytes(pickle.dumps(value))
    partial.replace(stored)
    return value


def computed_once(config: pytest.Config, key: str, compute: Callable[[], Any],
                  meanwhile: Sequence[tuple[str, Callable[[], Any]]] = ()) -> Any:
    """``compute()``, called by one process of the session (under pytest-xdist: the first worker that asks for
    ``key``); every other worker reads its value from the shared directory. A ``compute`` that raises is not
    shared: each process that asks meets the exception itself.

    ``meanwhile``: other (key, compute) pairs the session will ask for. While another worker computes ``key``,
    this one computes the first of them no worker has started, rather than wait idle (pytest-xdist hands out
    consecutive chunks of tests, so both workers may meet one target's tests at once); one that raises is left
    to whoever asks for it."""
    directory = shared_directory(config)
    if directory is None:
        return compute()
    pending = list(meanwhile)
    while True:
        with _locked(directory / f"{key}.lock", wait=not pending) as held:
            if held:
                return _stored(directory, key, compute)
        other, other_compute = pending.pop(0)
        with _locked(directory / f"{other}.lock", wait=False) as held:
            if held and not (directory / f"{other}.pickle").exists():
                try:
                    _stored(directory, other, other_compute)
                except Exception:  # noqa: BLE001  (not shared: the worker that asks for it meets it)
                    pass
