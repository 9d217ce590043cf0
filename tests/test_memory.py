"""refdropout.conformance.memory: the pages a clause freed go back to the system (issue 15)."""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import pytest

from refdropout.conformance.memory import give_back

GLIBC = sys.platform.startswith("linux") and ctypes.util.find_library("c") is not None \
    and hasattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim")


def _resident_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) / 1024


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_freed_pages_below_a_held_block_go_back() -> None:
    """200 MiB of 64 KiB blocks (under glibc's mmap threshold: on the heap), freed but for the last, which
    keeps the heap's top: glibc keeps them resident; give_back hands them back."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 * 1024
    blocks = [libc.malloc(size) for _ in range(3200)]
    for block in blocks:
        ctypes.memset(block, 1, size)  # touched: resident
    for block in blocks[:-1]:
        libc.free(block)
    held = _resident_mib()
    assert give_back()
    assert _resident_mib() < held - 100
    libc.free(blocks[-1])


def test_nothing_to_call_is_no_error() -> None:
    assert give_back() is GLIBC
