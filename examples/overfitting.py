"""Dropout against overfitting, on the reference engine: a small MLP trained with and without it.

The data are a noisy synthetic regression problem with few training points and a network with
far more weights than points, the setting in which a network memorises its training set. Each
setting trains the same network (the same initial weights, data and number of steps; only the
dropout rate differs) by full-batch Adam on the mean squared error, and reports the loss on the
training set and on a held-out test set, both measured in evaluation mode, and their difference,
the generalisation gap.

    python examples/overfitting.py [--plot overfitting.png]

Everything is seeded, so the table is the same on every run. With matplotlib installed the
learning curves are also saved as a plot. Runs in under 20 seconds on one core.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field

from refdropout import ops
from refdropout.functional.gaussian import standard_normal
from refdropout.nn import MLP
from refdropout.random import Generator
from refdropout.tensor import Tensor

SEED = 20140601  # the month Srivastava et al. published dropout in JMLR
INPUTS, HIDDEN = 2, 32
TRAIN_POINTS, TEST_POINTS = 40, 256
NOISE = 0.3  # standard deviation of the label noise
STEPS, EVERY = 800, 50  # Adam steps, and how often the curves are sampled
LEARNING_RATE = 0.01
RATES = (0.0, 0.2, 0.5)


def target(x: list[float], w: list[float], v: list[float]) -> float:
    """The noiseless function to learn: a sine of one projection plus the square of another."""
    return math.sin(3.0 * sum(a * b for a, b in zip(x, w))) + sum(a * b for a, b in zip(x, v)) ** 2


def make_data(seed: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Inputs uniform on [-1, 1)^INPUTS, labels target(x) + N(0, NOISE^2): train and test sets."""
    draws = Generator(seed)
    w, v = (standard_normal(g, INPUTS) for g in draws.spawn(2))
    scale = 1.0 / math.sqrt(INPUTS)
    w, v = [scale * a for a in w], [scale * a for a in v]

    def sample(n: int, g: Generator) -> tuple[Tensor, Tensor]:
        x = g.uniform((n, INPUTS)) * 2.0 - 1.0
        rows = [x.data[i * INPUTS : (i + 1) * INPUTS] for i in range(n)]
        noise = standard_normal(g, n)
        return x, Tensor([[target(r, w, v) + NOISE * e] for r, e in zip(rows, noise)])

    train, test = draws.spawn(2)
    return (*sample(TRAIN_POINTS, train), *sample(TEST_POINTS, test))


class Adam:
    """Adam (Kingma and Ba 2015) on a list of leaf tensors, updating their values in place."""

    def __init__(self, parameters: list[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.parameters, self.lr, (self.beta1, self.beta2), self.eps = parameters, lr, betas, eps
        self.m = [[0.0] * len(p.data) for p in parameters]
        self.v = [[0.0] * len(p.data) for p in parameters]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        c1, c2 = 1.0 - self.beta1**self.t, 1.0 - self.beta2**self.t
        for p, m, v in zip(self.parameters, self.m, self.v):
            for i, g in enumerate(p.grad.data):
                m[i] = self.beta1 * m[i] + (1.0 - self.beta1) * g
                v[i] = self.beta2 * v[i] + (1.0 - self.beta2) * g * g
                p.data[i] -= self.lr * (m[i] / c1) / (math.sqrt(v[i] / c2) + self.eps)


@dataclass
class Run:
    """One setting's learning curves, sampled every EVERY steps, losses measured in eval mode."""

    p: float
    steps: list[int] = field(default_factory=list)
    train: list[float] = field(default_factory=list)
    test: list[float] = field(default_factory=list)


def train(p: float, data: tuple[Tensor, Tensor, Tensor, Tensor]) -> Run:
    x_train, y_train, x_test, y_test = data
    model = MLP([INPUTS, HIDDEN, HIDDEN, 1], p=p, seed=SEED)  # the weights do not depend on p (MODES-2)
    optimizer = Adam(model.parameters(), LEARNING_RATE)
    run = Run(p)
    for step in range(STEPS + 1):
        if step % EVERY == 0:
            model.eval()  # evaluation: deterministic, the p = 0 network (MODES-7), drawing nothing (MODES-9)
            run.steps.append(step)
            run.train.append(ops.mse_loss(model(x_train), y_train).item())
            run.test.append(ops.mse_loss(model(x_test), y_test).item())
            model.train()  # dropout fully active again (MODES-8)
        if step < STEPS:
            model.zero_grad()
            ops.mse_loss(model(x_train), y_train).backward()
            optimizer.step()
    return run


def table(runs: list[Run]) -> str:
    lines = [
        "| dropout p | train loss | test loss | gap (test - train) | best test loss (step) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        best = min(range(len(run.test)), key=run.test.__getitem__)
        lines.append(f"| {run.p} | {run.train[-1]:.4f} | {run.test[-1]:.4f} | {run.test[-1] - run.train[-1]:.4f} "
                     f"| {run.test[best]:.4f} ({run.steps[best]}) |")
    return "\n".join(lines)


def plot(runs: list[Run], path: str) -> bool:
    """Save the learning curves to ``path``; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for run, color in zip(runs, ("tab:red", "tab:blue", "tab:green", "tab:purple")):
        axis.plot(run.steps, run.train, color=color, linestyle="--", label=f"p = {run.p}, train")
        axis.plot(run.steps, run.test, color=color, label=f"p = {run.p}, test")
    axis.axhline(NOISE**2, color="gray", linestyle=":", label="label noise variance (the best test loss)")
    axis.set(xlabel="Adam step", ylabel="mean squared error", yscale="log",
             title=f"MLP {INPUTS}-{HIDDEN}-{HIDDEN}-1 on {TRAIN_POINTS} noisy points (noise variance {NOISE**2:.2f})")
    axis.legend(ncol=2, fontsize="small")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="overfitting.png", help="where to save the curves if matplotlib is installed")
    args = parser.parse_args()
    start = time.perf_counter()
    data = make_data(SEED)
    runs = [train(p, data) for p in RATES]
    print(f"MLP {INPUTS}-{HIDDEN}-{HIDDEN}-1, {TRAIN_POINTS} training and {TEST_POINTS} test points, "
          f"label noise variance {NOISE**2:.2f}, {STEPS} full-batch Adam steps (lr {LEARNING_RATE}), seed {SEED}\n")
    print(table(runs))
    saved = plot(runs, args.plot)
    print(f"\ncurves saved to {args.plot}" if saved else "\n(install matplotlib to also plot the curves)")
    print(f"\n{time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
