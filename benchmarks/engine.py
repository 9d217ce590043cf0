"""Engine speed against micrograd on one training step of a small MLP.

Workload: MLP 16 -> 32 (relu) -> 1, batch 32, MSE loss, forward + backward per step, the
same data and weights in both engines. Prints the median milliseconds per step over
``--steps`` steps for refdropout, for micrograd as shipped, and for micrograd with Python's
cyclic garbage collector paused during its timed region (micrograd's per-scalar graph is
full of reference cycles, so the collector's share of its time is large), then the ratios,
and checks that both engines computed the same loss.

    pip install -e '.[bench]' && python benchmarks/engine.py
"""

from __future__ import annotations

import argparse
import gc
import math
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable

import refdropout as rd

IN, HIDDEN, OUT, BATCH = 16, 32, 1, 32


def make_problem(seed: int) -> dict:
    """Data and He-initialised weights as plain nested lists, shared by both engines."""
    rng = random.Random(seed)
    return {
        "x": [[rng.gauss(0.0, 1.0) for _ in range(IN)] for _ in range(BATCH)],
        "y": [[rng.gauss(0.0, 1.0)] for _ in range(BATCH)],
        "w1": [[rng.gauss(0.0, math.sqrt(2.0 / IN)) for _ in range(HIDDEN)] for _ in range(IN)],
        "b1": [rng.gauss(0.0, 0.1) for _ in range(HIDDEN)],
        "w2": [[rng.gauss(0.0, math.sqrt(2.0 / HIDDEN))] for _ in range(HIDDEN)],
        "b2": [rng.gauss(0.0, 0.1)],
    }


def refdropout_step(problem: dict) -> Callable[[], float]:
    x, y = rd.Tensor(problem["x"]), rd.Tensor(problem["y"])
    params = [rd.Tensor(problem[k], requires_grad=True) for k in ("w1", "b1", "w2", "b2")]
    w1, b1, w2, b2 = params

    def step() -> float:
        for p in params:
            p.zero_grad()
        hidden = rd.relu(x @ w1 + b1)
        loss = rd.mse_loss(hidden @ w2 + b2, y)
        loss.backward()
        return loss.item()

    return step


def micrograd_step(problem: dict) -> Callable[[], float]:
    from micrograd.engine import Value
    from micrograd.nn import MLP

    model = MLP(IN, [HIDDEN, OUT])  # hidden layer relu, output layer linear
    for layer, w, b in ((model.layers[0], problem["w1"], problem["b1"]),
                        (model.layers[1], problem["w2"], problem["b2"])):
        for j, neuron in enumerate(layer.neurons):
            for i, weight in enumerate(neuron.w):
                weight.data = w[i][j]
            neuron.b.data = b[j]

    def step() -> float:
        model.zero_grad()
        squared = [(model(row) - target[0]) ** 2 for row, target in zip(problem["x"], problem["y"])]
        loss = sum(squared, Value(0.0)) * (1.0 / BATCH)
        loss.backward()
        return loss.data

    return step


def median_ms(step: Callable[[], float], steps: int, pause_gc: bool = False) -> tuple[float, float]:
    """Median wall time of one step in ms, and the loss of the last step."""
    step()  # warm-up: caches, first allocations
    times = []
    for _ in range(steps):
        if pause_gc:
            gc.disable()
        start = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - start)
        if pause_gc:
            gc.enable()
            gc.collect()  # the paused collector's debt is paid outside the timed region
    return statistics.median(times) * 1e3, loss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per engine (at least 30)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.steps < 30:
        parser.error(f"--steps must be at least 30, got {args.steps}")
    try:
        import micrograd  # noqa: F401  (the peer: checked before anything is timed)
    except ImportError:
        sys.exit("benchmarks/engine.py needs micrograd, the peer it is measured against: pip install -e '.[bench]'")
    problem = make_problem(args.seed)

    ours, loss_ours = median_ms(refdropout_step(problem), args.steps)
    shipped, loss_mg = median_ms(micrograd_step(problem), args.steps)
    paused, _ = median_ms(micrograd_step(problem), args.steps, pause_gc=True)

    print(f"python {sys.version.split()[0]} on {platform.machine()} ({platform.processor() or 'unknown cpu'}),"
          f" {platform.system()}")
    print(f"workload: MLP {IN}->{HIDDEN} relu->{OUT}, batch {BATCH}, MSE, forward+backward;"
          f" median of {args.steps} steps")
    print(f"{'engine':<34}{'ms/step':>10}")
    print(f"{'refdropout':<34}{ours:>10.2f}")
    print(f"{'micrograd (as shipped)':<34}{shipped:>10.2f}")
    print(f"{'micrograd (cyclic gc paused)':<34}{paused:>10.2f}")
    print(f"ratio vs micrograd as shipped:   {shipped / ours:.1f}x")
    print(f"ratio vs micrograd, gc paused:   {paused / ours:.1f}x   (target >= 20x)")
    agree = math.isclose(loss_ours, loss_mg, rel_tol=1e-9)
    print(f"loss refdropout {loss_ours!r} vs micrograd {loss_mg!r}: {'agree' if agree else 'DISAGREE'}")
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
