"""Throughput of the exact streams: pure-Python Threefry-2x32 and Philox4x32-10 beside JAX and TensorFlow.

Every source is timed in the same run on the same number of outputs, best of several repeats:

- pure Python (``refdropout.exact``, standard library only): Threefry-2x32-20 output words (two a
  counter), ``jax_random.random_bits`` (one word a counter, y0 ^ y1), ``jax_random.bernoulli``;
  TensorFlow's stateless Philox4x32-10 words (four a block) and ``tf_stateless.stateless_dropout_mask``;
- JAX on the CPU: ``jax.random.bits`` and ``jax.random.bernoulli`` under ``jax.jit``;
- TensorFlow on the CPU: ``tf.random.stateless_uniform`` of uint32 words (Philox words, as drawn)
  and of float32, under ``tf.function``.

Frameworks' results are moved to a NumPy array inside the timed call, as the pure-Python ones are lists.
Targets (issue 19): at least 1 M Threefry words/s and 2 M Philox words/s in pure Python.
Run: ``python benchmarks/exact.py [--words N] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The script's own directory heads sys.path, where benchmarks/random.py would shadow the standard
# library's random for JAX and TensorFlow: put the repository root, where refdropout lives, in its place.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from refdropout.exact import jax_random, tf_stateless  # noqa: E402  (once sys.path is set)
from refdropout.exact.threefry import threefry_words  # noqa: E402

KEY = jax_random.prng_key(42)
SEED = (42, 7)
CHUNK = 4096


def best_seconds(make: Callable[[int], object], count: int, repeats: int) -> float:
    """Seconds of the fastest of ``repeats`` calls (after one untimed call: compilation, caches)."""
    make(count)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        make(count)
        best = min(best, time.perf_counter() - start)
    return best


def threefry_output_words(count: int) -> list[int]:
    """Threefry-2x32-20 of counters (0, i), both output words, ``count`` words in all."""
    out: list[int] = []
    for start in range(0, count // 2, CHUNK):
        n = min(CHUNK, count // 2 - start)
        y0, y1 = threefry_words([0] * n, range(start, start + n), KEY)
        out += y0
        out += y1
    return out


def philox_words(count: int) -> list[int]:
    """The Philox4x32-10 words of TensorFlow's stateless draw for SEED, ``count`` words in all."""
    out: list[int] = []
    for block, n in tf_stateless._blocks(SEED, count // 4, "benchmark"):
        for lane in block:
            out += tf_stateless._unpack(lane, n)
    return out


def pure_python() -> dict[str, tuple[str, Callable[[int], object]]]:
    return {
        "Threefry-2x32-20 words (refdropout.exact)": ("threefry", threefry_output_words),
        "jax_random.random_bits, uint32": ("threefry", lambda n: jax_random.random_bits(KEY, 32, (n,))),
        "jax_random.bernoulli, float32, p 0.9": ("mask", lambda n: jax_random.bernoulli(KEY, 0.9, (n,))),
        "Philox4x32-10 words of tf_stateless's draw": ("philox", philox_words),
        "tf_stateless.stateless_uniform, float32": ("philox", lambda n: tf_stateless.stateless_uniform(SEED, (n,))),
        "tf_stateless.stateless_dropout_mask, rate 0.1": (
            "mask", lambda n: tf_stateless.stateless_dropout_mask(SEED, 0.1, (n,))),
    }


def frameworks() -> dict[str, tuple[str, Callable[[int], object]]]:
    """The frameworks' own CPU throughput, each where it is installed."""
    found: dict[str, tuple[str, Callable[[int], object]]] = {}
    try:
        import jax
        import numpy as np
    except ImportError:
        print("jax is not installed: its rows are left out")
    else:
        key = jax.random.PRNGKey(42)
        bits = jax.jit(lambda k, n: jax.random.bits(k, (n,)), static_argnums=1)
        mask = jax.jit(lambda k, n: jax.random.bernoulli(k, 0.9, (n,)), static_argnums=1)
        found[f"jax.random.bits, uint32 (JAX {jax.__version__}, jit)"] = (
            "threefry", lambda n: np.asarray(bits(key, n)))
        found["jax.random.bernoulli, p 0.9 (jit)"] = ("mask", lambda n: np.asarray(mask(key, n)))
    try:
        import tensorflow as tf
    except ImportError:
        print("tensorflow is not installed: its rows are left out")
    else:
        words = tf.function(lambda n: tf.random.stateless_uniform((n,), SEED, dtype=tf.uint32,
                                                                  minval=None, maxval=None))
        floats = tf.function(lambda n: tf.random.stateless_uniform((n,), SEED))
        found[f"tf.random.stateless_uniform, uint32 (TF {tf.__version__}, tf.function)"] = (
            "philox", lambda n: words(tf.constant(n)).numpy())
        found["tf.random.stateless_uniform, float32 (tf.function)"] = (
            "philox", lambda n: floats(tf.constant(n)).numpy())
    return found


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")),
                 platform.processor() or "unknown CPU")
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return f"{platform.platform()}, {model}, {os.cpu_count()} logical CPUs{load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", type=int, default=1 << 20, help="outputs per timed call (default 2**20)")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per source; the best counts")
    args = parser.parse_args()
    if jax_random.random_bits(KEY, 32, (4,)) != [2098992034, 2919706841, 2646866425, 2409546199]:
        raise SystemExit("jax_random disagrees with JAX's measured bits for PRNGKey(42): "
                         "the timing would be meaningless")

    ours = {name: (kind, best_seconds(make, args.words, args.repeats)) for name, (kind, make) in pure_python().items()}
    theirs = {name: (kind, best_seconds(make, args.words, args.repeats)) for name, (kind, make) in frameworks().items()}

    print(f"Python {platform.python_version()} on {machine()}")
    print(f"{args.words} outputs per call, best of {args.repeats}\n")
    print(f"{'source':<66} {'M/s':>8}")
    for name, (_, seconds) in {**ours, **theirs}.items():
        print(f"{name:<66} {args.words / seconds / 1e6:>8.2f}")
    for kind, target in (("threefry", 1e6), ("philox", 2e6)):
        name = next(name for name, (k, _) in ours.items() if k == kind)
        rate = args.words / ours[name][1]
        print(f"target >= {target / 1e6:.0f} M words/s for {name}: {'met' if rate >= target else 'NOT met'}")


if __name__ == "__main__":
    main()
