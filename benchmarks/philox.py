"""Throughput of the reference generator: 32-bit words per second (spec/random.md, RANDOM-2).

Three sources side by side, each timed on the same number of words, best of several repeats:

- ``Generator.random_words``: the reference generator's batched path (packed Philox4x32-10);
- a naive Philox4x32-10 loop, one counter at a time, written out below;
- ``random.Random().getrandbits(32)``: CPython's Mersenne Twister, one word per call.

Run: ``python benchmarks/philox.py [--words N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout's refdropout, installed or not

from refdropout.random import PHILOX_M, PHILOX_W, Generator

MASK = 2**32 - 1


def naive_philox_words(count: int, key: tuple[int, int] = (12345, 0)) -> list[int]:
    """Philox4x32-10 of counters (0, 0, 0, 0), (1, 0, 0, 0), ... one counter at a time."""
    (m0, m1), (w0, w1) = PHILOX_M, PHILOX_W
    out = []
    for block in range(-(-count // 4)):
        c0, c1, c2, c3 = block, 0, 0, 0
        k0, k1 = key
        for r in range(10):
            if r:
                k0, k1 = (k0 + w0) & MASK, (k1 + w1) & MASK
            p0, p1 = m0 * c0, m1 * c2
            c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & MASK, (p0 >> 32) ^ c3 ^ k1, p0 & MASK
        out += (c0, c1, c2, c3)
    return out[:count]


def mersenne_twister_words(count: int) -> list[int]:
    getrandbits = random.Random(12345).getrandbits
    return [getrandbits(32) for _ in range(count)]


def best_rate(make: Callable[[int], object], count: int, repeats: int) -> float:
    """Items per second of the fastest of ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        make(count)
        best = min(best, time.perf_counter() - start)
    return count / best


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    return f"{platform.platform()}, {model}, {os.cpu_count()} logical CPUs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1 << 20, help="words per timed run (default 2**20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per source; the best counts")
    args = parser.parse_args()

    # both compute Philox4x32-10 of counters (b, 0, 0, 0) under key (12345, 0): the same words
    if naive_philox_words(1024) != Generator(12345).random_words(1024):
        raise SystemExit("the naive loop and the Generator disagree: the comparison would be meaningless")
    generator = Generator(12345)
    words = {
        "Generator.random_words (packed Philox4x32-10)": lambda n: generator.random_words(n),
        "naive Philox4x32-10, one counter at a time": naive_philox_words,
        "random.Random().getrandbits(32)": mersenne_twister_words,
    }
    # the naive loop and Python's own generator are slower: time them on a quarter of the words
    sizes = {name: args.words if name.startswith("Generator") else args.words // 4 for name in words}
    rates = {name: best_rate(make, sizes[name], args.repeats) for name, make in words.items()}
    elements = {
        "Generator.uniform": lambda n: generator.uniform((n,)),
        "Generator.bernoulli (keep_prob 0.9)": lambda n: generator.bernoulli((n,), 0.9),
    }
    element_rates = {name: best_rate(make, args.words // 2, args.repeats) for name, make in elements.items()}

    print(f"Python {platform.python_version()} ({platform.python_implementation()}) on {machine()}")
    print(f"best of {args.repeats} runs\n")
    ours = rates["Generator.random_words (packed Philox4x32-10)"]
    print(f"{'source':<48} {'Mwords/s':>9} {'ours / it':>10}")
    for name, rate in rates.items():
        print(f"{name:<48} {rate / 1e6:>9.2f} {ours / rate:>10.2f}")
    print(f"\n{'draw (two words per element)':<48} {'Melem/s':>9}")
    for name, rate in element_rates.items():
        print(f"{name:<48} {rate / 1e6:>9.2f}")
    target = 2e6
    print(f"\ntarget >= {target / 1e6:.0f} Mwords/s for the Generator: {'met' if ours >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
