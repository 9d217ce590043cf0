"""Plain functions ``f(x, p, *, training, seed)`` for tests/test_probe.py: each follows one allowed
value of one policy other than the reference's (and the reference's everywhere else), or a behaviour
no allowed value covers, or fails as a target can (raises, hangs). ``refdropout probe`` must name
the value each follows, and report the others with their evidence."""

from __future__ import annotations

import os
import signal
import time

import numpy as np

from refdropout.contract import target


def _rate(p: object) -> float:
    """p checked as spec/dropout.md's DROPOUT-3 asks: a real number in [0, 1], not a bool."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a real number in [0, 1], got {p!r}")
    return float(p)


def _keep(x: np.ndarray, p: float, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).random(x.shape) >= p


def _scaled(x: np.ndarray, keep: np.ndarray, q: object) -> np.ndarray:
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return (x * keep / q).astype(x.dtype)


def inverted(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """The reference's policies throughout: y = x m / q, a dropped NaN NaN, zeros at p = 1."""
    p = _rate(p)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        with np.errstate(invalid="ignore"):
            return (x * 0.0).astype(x.dtype)
    return _scaled(x, _keep(x, p, seed), 1.0 - p)


def select(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """nonfinite = "select": a dropped element is 0, NaN and inf too."""
    p = _rate(p)
    if not training or p == 0.0:
        return x
    keep = _keep(x, p, seed)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.where(keep, x / (1.0 - p) if p < 1.0 else x, 0.0).astype(x.dtype)


def classic(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """scaling = "classic": training x m, evaluation q x."""
    p = _rate(p)
    with np.errstate(invalid="ignore", over="ignore"):
        return (x * (1.0 - p) if not training else x * _keep(x, p, seed)).astype(x.dtype)


def classic_in_float32(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """scaling = "classic" with q computed in float32 (PaddlePaddle's downscale_in_infer): training x m,
    evaluation fl32(1 - fl32(p)) x, rounded once to x's format."""
    if training:
        return classic(x, p, training=True, seed=seed)
    q32 = float(np.float32(1.0) - np.float32(_rate(p)))
    with np.errstate(invalid="ignore", over="ignore"):
        return (x.astype(np.float64) * q32).astype(x.dtype)


def bool_as_number(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """p_validation = "bool_as_number": True and False are taken as 1 and 0."""
    return inverted(x, float(p) if isinstance(p, bool) else p, training=training, seed=seed)


def training_only(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """p_validation = "training_only": evaluation never reads p."""
    return inverted(x, p, training=True, seed=seed) if training else x


def seed_32(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """seed_bits = 32: only the low 32 bits of the seed are used."""
    return inverted(x, p, training=training, seed=seed & 0xFFFFFFFF)


def refuses_p_one(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """p_one = "refused": a training call at p = 1 raises (as ONNX's ratio in [0, 1))."""
    if training and _rate(p) == 1.0:
        raise ValueError("p must be in [0, 1) in training")
    return inverted(x, p, training=training, seed=seed)


def flushes(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """subnormals = "flushed": a subnormal input is read as ±0 in training, as under DAZ."""
    if training and _rate(p) > 0.0:
        x = np.where(np.abs(x) < np.finfo(x.dtype).tiny, np.copysign(0.0, x), x).astype(x.dtype)
    return inverted(x, p, training=training, seed=seed)


def scale_in_input(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """scale_format = "input": q rounded to x's format, then x times 1 / q in x's format (XLA's x / q on
    the CPU), up to two values of x's format away from fl(x / q)."""
    p = _rate(p)
    if not training or p in (0.0, 1.0):
        return inverted(x, p, training=training, seed=seed)
    one, q = x.dtype.type(1.0), x.dtype.type(1.0 - p)
    with np.errstate(over="ignore", invalid="ignore"):
        return (x * _keep(x, p, seed).astype(x.dtype) * (one / q)).astype(x.dtype)


def scale_in_float32(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """scale_format = "float32": p read as a float32 and q computed in float32 (ONNX Runtime's kernel)."""
    p = _rate(p)
    if float(np.float32(p)) == 1.0:  # p read as a float32 is 1 (p > 1 - 2^-25): p = 1, every element dropped
        p = 1.0
    if not training or p in (0.0, 1.0):
        return inverted(x, p, training=training, seed=seed)
    q32 = np.float32(1.0) - np.float32(p)
    return _scaled(x, _keep(x, p, seed), float(q32))


def both_validations(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """p_validation = "bool_as_number+training_only" (Chainer's): True and False taken as 1 and 0 in
    training, and any p in evaluation, which reads none."""
    if not training:
        return x
    return inverted(x, float(p) if isinstance(p, bool) else p, training=training, seed=seed)


def scale_by_float32_reciprocal(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """scale_format = "float32_reciprocal": q32 as under "float32", its reciprocal in float32 and then in
    x's format, times x (MindSpore's CPU kernel)."""
    p = _rate(p)
    if float(np.float32(p)) == 1.0:
        p = 1.0
    if not training or p in (0.0, 1.0):
        return inverted(x, p, training=training, seed=seed)
    scale = x.dtype.type(np.float32(1.0) / (np.float32(1.0) - np.float32(p)))
    with np.errstate(over="ignore", invalid="ignore"):
        return (x * _keep(x, p, seed).astype(x.dtype) * scale).astype(x.dtype)


def float64_only(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Refuses every format but float64."""
    if x.dtype != np.float64:
        raise TypeError(f"x must be float64, got {x.dtype}")
    return inverted(x, p, training=training, seed=seed)


def computes_in_float64(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Answers float64 whatever x's format: only float64 is answered in kind."""
    return inverted(x.astype(np.float64), p, training=training, seed=seed)


# ---- behaviours no allowed value covers ---------------------------------------------------------------


def mixed_nonfinite(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Selects at p = 1 (zeros_like) but multiplies below: neither policy."""
    if training and _rate(p) == 1.0:
        return np.zeros_like(x)
    return inverted(x, p, training=training, seed=seed)


def no_rescale(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Training x m, evaluation x: E[y] = q x, which neither scaling allows."""
    p = _rate(p)
    with np.errstate(invalid="ignore"):
        return (x * _keep(x, p, seed)).astype(x.dtype) if training else x


def nan_rate_in_training(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Takes a NaN p in training as 0 (a range check written as `if p < 0 or p > 1`): no value allows it."""
    if training and isinstance(p, float) and p != p:
        return x
    return inverted(x, p, training=training, seed=seed)


def nan_at_p_one(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Computes x m / q at q = 0 too: NaN at p = 1."""
    p = _rate(p)
    if not training:
        return x
    return _scaled(x, _keep(x, p, seed), 1.0 - p)


def seed_ignored(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Draws from a fixed seed: every seed gives one mask."""
    return inverted(x, p, training=training, seed=12345)


@target(policies={"nonfinite": "multiply"})
def declares_multiply_but_selects(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Declares "multiply", selects: probe finds "select", which the declaration contradicts."""
    return select(x, p, training=training, seed=seed)


# ---- targets that fail as check reports it -------------------------------------------------------------


def crashes(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    raise RuntimeError("not implemented yet")


def hangs(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    time.sleep(60)
    return x


def exits(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    raise SystemExit(0)


def interrupted_at_the_seed_probe(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Stands for a user's Ctrl-C during the last probe: SIGINT at its first call (p = 0.5)."""
    if isinstance(p, float) and p == 0.5:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    return inverted(x, p, training=training, seed=seed)
