"""NumpyGenerator against the reference Generator: the same draws, how much faster (spec/random.md).

Both generators draw, from the same seed and state, 32-bit words (``random_words``) and Bernoulli
keep masks (``bernoulli``, keep_prob 0.9) of n elements, for n = 2^20 and 2^24; each timing is the
best of ``--repeats`` runs, and the two outputs of every size are checked equal before anything
is timed (bit for bit: the comparison is meaningless otherwise).

Run: ``python benchmarks/numpy_philox.py [--repeats R] [--sizes 20 24]``.
"""

from __future__ import annotations

import argparse
import platform

import numpy as np
from philox import best_rate, machine  # the sibling script: this directory heads sys.path

from refdropout.adapters.numpy_philox import NumpyGenerator
from refdropout.random import Generator

SEED = 2024
KEEP_PROB = 0.9


def check_same_draws(n: int) -> None:
    engine, bulk = Generator(SEED), NumpyGenerator(SEED)
    if bulk.random_words(n).tolist() != engine.random_words(n):
        raise SystemExit(f"random_words({n}): NumpyGenerator and Generator disagree")
    if bulk.bernoulli(n, KEEP_PROB).tolist() != [m == 1.0 for m in engine.bernoulli(n, KEEP_PROB).data]:
        raise SystemExit(f"bernoulli({n}): NumpyGenerator and Generator disagree")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the best counts")
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 24], help="log2 of n (default 20 24)")
    args = parser.parse_args()

    print(f"Python {platform.python_version()}, numpy {np.__version__}, on {machine()}")
    print(f"best of {args.repeats} runs; keep_prob {KEEP_PROB}\n")
    print(f"{'n':>10} {'draw':<14} {'Generator M/s':>14} {'NumpyGenerator M/s':>19} {'speed-up':>9}")
    for log2 in args.sizes:
        n = 1 << log2
        check_same_draws(n)
        engine, bulk = Generator(SEED), NumpyGenerator(SEED)
        for draw, engine_make, bulk_make in (
            ("random_words", engine.random_words, bulk.random_words),
            ("bernoulli", lambda m: engine.bernoulli(m, KEEP_PROB), lambda m: bulk.bernoulli(m, KEEP_PROB)),
        ):
            slow, fast = best_rate(engine_make, n, args.repeats), best_rate(bulk_make, n, args.repeats)
            print(f"{'2**' + str(log2):>10} {draw:<14} {slow / 1e6:>14.2f} {fast / 1e6:>19.2f} {fast / slow:>8.1f}x")


if __name__ == "__main__":
    main()
