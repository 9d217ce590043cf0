"""The dropout variants of ``refdropout.functional`` on numpy arrays, bit for bit and in bulk
(spec/variants.md).

Each ``<variant>_bulk`` returns what the engine's ``<variant>`` returns for the same arguments,
as numpy arrays: the engine's own argument checks in the engine's order, the same draws from the
same generator (``reference_bulk.draw``: none where the engine draws none), and every value
computed by the engine's float64 operations in the engine's order, rounded once to the result's
format. Values made with the math module (Box–Muller's log and cos) are made with it here too,
element by element, since numpy's vectorised functions may differ in the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..contract.arrays import NUMPY_FORMATS
from ..dtypes import get_dtype, promote
from ..functional.alpha import ALPHA_PRIME, alpha_arguments, alpha_constants
from ..functional.arguments import check_choice
from ..functional.attention import attention_arguments
from ..functional.channel import channel_arguments
from ..functional.dropblock import dropblock_arguments, seed_rate
from ..functional.dropconnect import dropconnect_arguments
from ..functional.droppath import drop_path_arguments
from ..functional.gaussian import gaussian_arguments
from ..functional.standard import NONFINITE_POLICIES
from ..ops import ieee
from ..random import Generator
from ..shapes import Shape, numel
from .numpy_philox import NumpyGenerator
from .reference_bulk import check_array, draw, dropout_bulk, source_for

__all__ = [
    "channel_dropout_bulk", "alpha_dropout_bulk", "feature_alpha_dropout_bulk", "gaussian_dropout_bulk",
    "dropconnect_bulk", "drop_path_bulk", "dropblock2d_bulk", "attention_dropout_bulk",
]

Source = Generator | NumpyGenerator | None
_FORMAT_NAMES = {dtype: name for name, dtype in NUMPY_FORMATS.items()}
_MATH_CHUNK = 1 << 16  # elements whose math.log and math.cos are taken in one pass (_standard_normal)
_PRODUCTS_BLOCK = 1 << 20  # products of dropconnect_bulk formed at once: its memory is not 4 x W's (issue 15)


def _affine(x: np.ndarray, scale: np.ndarray | float, shift: np.ndarray | float | None = None,
            nonfinite: str = "multiply") -> np.ndarray:
    """``functional.noise.affine``: y = x s (+ c) in float64, rounded once to x's format; under
    ``nonfinite`` = "select" c (or 0) where s = 0, x unread."""
    with np.errstate(all="ignore"):  # IEEE results (0 * inf is NaN) without warnings
        wide = x.astype(np.float64)
        wide *= scale
        if shift is not None:
            wide += shift
        if nonfinite == "select":
            wide = np.where(np.equal(scale, 0.0), 0.0 if shift is None else shift, wide)
        return wide.astype(x.dtype, copy=False)  # one rounding; none for float64


def _keep(source: Source, op: str, mask_shape: Shape, shape: Shape, keep_prob: float) -> np.ndarray:
    """``functional.noise.draw_keep``: one bernoulli draw of ``mask_shape``, broadcast to ``shape``."""
    return np.broadcast_to(draw(source, op, "bernoulli", mask_shape, keep_prob), shape)


def channel_dropout_bulk(x: np.ndarray, p: float = 0.5, *, spatial_dims: int, data_format: str = "channels_first",
                         training: bool = True, seed: int | None = None, generator: Source = None) -> np.ndarray:
    """``functional.channel_dropout`` on a numpy array (VARIANTS-1 to VARIANTS-3)."""
    op = "channel_dropout"
    x = check_array(x, op)
    p, noise_shape = channel_arguments(x.shape, p, spatial_dims, data_format, training, op)
    source = source_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    return dropout_bulk(x, p, training=training, generator=source, noise_shape=noise_shape)[0]


def attention_dropout_bulk(weights: np.ndarray, p: float = 0.5, *, training: bool = True, seed: int | None = None,
                           generator: Source = None) -> np.ndarray:
    """``functional.attention_dropout`` on a numpy array (VARIANTS-16)."""
    op = "attention_dropout"
    weights = check_array(weights, op, "weights")
    p = attention_arguments(weights.shape, p, training, op)
    source = source_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    return dropout_bulk(weights, p, training=training, generator=source)[0]


def drop_path_bulk(x: np.ndarray, p: float = 0.5, *, mode: str = "row", scaling: str = "inverted",
                   training: bool = True, seed: int | None = None, generator: Source = None) -> np.ndarray:
    """``functional.drop_path`` on a numpy array (VARIANTS-10 to VARIANTS-12)."""
    op = "drop_path"
    x = check_array(x, op)
    p, noise_shape = drop_path_arguments(x.shape, p, mode, scaling, training, op)
    source = source_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    return dropout_bulk(x, p, training=training, generator=source, noise_shape=noise_shape, scaling=scaling)[0]


def _alpha(x: np.ndarray, p: float, mask_shape: Shape, training: bool, seed: int | None, generator: Source,
           nonfinite: str, op: str) -> np.ndarray:
    """``functional.alpha._alpha``: the body of alpha and feature alpha dropout."""
    check_choice(nonfinite, NONFINITE_POLICIES, op, "nonfinite")
    source = source_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return _affine(x, 0.0, 0.0, nonfinite)
    a, b = alpha_constants(p)
    keep = _keep(source, op, mask_shape, x.shape, 1.0 - p)
    return _affine(x, np.where(keep, a, 0.0), np.where(keep, b, a * ALPHA_PRIME + b), nonfinite)


def alpha_dropout_bulk(x: np.ndarray, p: float = 0.5, *, training: bool = True, seed: int | None = None,
                       generator: Source = None, noise_shape: Sequence[int | None] | None = None,
                       nonfinite: str = "multiply") -> np.ndarray:
    """``functional.alpha_dropout`` on a numpy array (VARIANTS-4, VARIANTS-5)."""
    op = "alpha_dropout"
    x = check_array(x, op)
    p, mask_shape = alpha_arguments(x.shape, p, noise_shape, training, op)
    return _alpha(x, p, mask_shape, training, seed, generator, nonfinite, op)


def feature_alpha_dropout_bulk(x: np.ndarray, p: float = 0.5, *, spatial_dims: int,
                               data_format: str = "channels_first", training: bool = True, seed: int | None = None,
                               generator: Source = None, nonfinite: str = "multiply") -> np.ndarray:
    """``functional.feature_alpha_dropout`` on a numpy array (VARIANTS-6)."""
    op = "feature_alpha_dropout"
    x = check_array(x, op)
    p, mask_shape = channel_arguments(x.shape, p, spatial_dims, data_format, training, op)
    return _alpha(x, p, mask_shape, training, seed, generator, nonfinite, op)


def _standard_normal(source: Source, op: str, n: int) -> np.ndarray:
    """``functional.gaussian.standard_normal``: z_i = sqrt(-2 ln(1 - u_2i)) cos(2π u_2i+1), log and
    cos by the math module as the engine takes them (VARIANTS-8)."""
    u = draw(source, op, "uniform", (2 * n,))
    z = np.empty(n)
    for start in range(0, n, _MATH_CHUNK):  # a chunk of floats at a time: no list of n Python floats
        pairs = u[2 * start:2 * (start + _MATH_CHUNK)]
        count = len(pairs) // 2
        log = np.fromiter(map(math.log, (1.0 - pairs[0::2]).tolist()), np.float64, count)
        cos = np.fromiter(map(math.cos, (math.tau * pairs[1::2]).tolist()), np.float64, count)
        z[start:start + count] = np.sqrt(-2.0 * log) * cos  # sqrt is correctly rounded in both
    return z


def gaussian_dropout_bulk(x: np.ndarray, p: float = 0.5, *, training: bool = True, seed: int | None = None,
                          generator: Source = None) -> np.ndarray:
    """``functional.gaussian_dropout`` on a numpy array (VARIANTS-7, VARIANTS-8)."""
    op = "gaussian_dropout"
    x = check_array(x, op)
    p = gaussian_arguments(p, training, op)
    source = source_for(seed, generator, op, needed=training and p > 0.0)
    if not training or p == 0.0:
        return x
    sigma = math.sqrt(p / (1.0 - p))
    return _affine(x, 1.0 + sigma * _standard_normal(source, op, x.size).reshape(x.shape))


def _fsums(products: np.ndarray) -> np.ndarray:
    """``ops.linalg``'s dot products: each row of ``products`` correctly rounded (``ieee.fsums``: math.fsum,
    with IEEE results where it raises), a row of one product that product + 0.0. A row of finite terms
    of which at most one is non-zero is summed by numpy: its sum is exact, and + 0.0 makes a row of
    zeros fsum's +0.0 whatever numpy's reduction starts from."""
    k = products.shape[1]
    if k == 1:
        return products[:, 0] + 0.0
    with np.errstate(all="ignore"):
        out = products.sum(axis=1) + 0.0
    exact = np.isfinite(products).all(axis=1) & (np.count_nonzero(products, axis=1) <= 1)
    out[~exact] = ieee.fsums(products[~exact].tolist())
    return out


def dropconnect_bulk(x: np.ndarray, weight: np.ndarray, p: float = 0.5, *, training: bool = True,
                     seed: int | None = None, generator: Source = None) -> np.ndarray:
    """``functional.dropconnect`` on numpy arrays (VARIANTS-9): y = x (W ⊙ M / q)^T, the dropped
    weights W * 0, rounded to W's format, then each output a correctly rounded dot product rounded
    to the promoted format of x and W."""
    op = "dropconnect"
    x = check_array(x, op)
    weight = check_array(weight, op, "weight")
    p = dropconnect_arguments(x.shape, weight.shape, p, training, op)
    source = source_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    if not training or p == 0.0:
        keep, divisor = np.ones(weight.shape, dtype=np.bool_), 1.0
    elif p == 1.0:
        keep, divisor = np.zeros(weight.shape, dtype=np.bool_), 1.0
    else:
        keep, divisor = _keep(source, op, weight.shape, weight.shape, 1.0 - p), 1.0 - p
    n_out, n_in = weight.shape
    with np.errstate(all="ignore"):
        wide = weight.astype(np.float64)
        effective = np.where(keep, wide / divisor, wide * 0.0).astype(weight.dtype).astype(np.float64)
        del wide, keep
        rows = x.astype(np.float64).reshape(numel(x.shape[:-1]), n_in)
    result = NUMPY_FORMATS[promote(*(get_dtype(_FORMAT_NAMES[a.dtype]) for a in (x, weight))).name]
    y = np.empty((len(rows), n_out), dtype=result)
    step = max(1, _PRODUCTS_BLOCK // max(1, len(rows) * n_in))  # outputs whose products are formed at once
    for start in range(0, n_out, step):
        block = effective[start:start + step]
        with np.errstate(all="ignore"):
            products = (rows[:, None, :] * block[None, :, :]).reshape(len(rows) * len(block), n_in)
            y[:, start:start + len(block)] = _fsums(products).reshape(len(rows), len(block)).astype(result)
    return y.reshape(x.shape[:-1] + (n_out,))


def dropblock2d_bulk(x: np.ndarray, p: float = 0.5, *, block_size: int, training: bool = True,
                     seed: int | None = None, generator: Source = None) -> np.ndarray:
    """``functional.dropblock2d`` on a numpy array (VARIANTS-13 to VARIANTS-15): seeds at rate γ, each
    dropping the b x b block below and right of it, y = x M count(M) / count_ones(M)."""
    op = "dropblock2d"
    x = check_array(x, op)
    p, b = dropblock_arguments(x.shape, p, block_size, training, op)
    n, c, height, width = x.shape
    source = source_for(seed, generator, op, needed=training and p > 0.0)
    if not training or p == 0.0:
        return x
    rows, cols = height - b + 1, width - b + 1
    seeds = draw(source, op, "bernoulli", (n, c, rows, cols), seed_rate(p, b, height, width))
    # seed (i, j) at its own position of the map, then shifted by r W + s for r, s < b: a shift never
    # leaves the seed's map (i + r < H, j + s < W), so the maps lie end to end in one flat array
    placed = np.zeros(x.shape, dtype=np.bool_)
    placed[:, :, :rows, :cols] = seeds
    del seeds
    placed = placed.ravel()
    dropped = placed.copy()
    for offset in {r * width + s for r in range(b) for s in range(b)} - {0}:
        dropped[offset:] |= placed[:-offset]
    del placed
    dropped = dropped.reshape(x.shape)
    kept = int(x.size) - int(np.count_nonzero(dropped))
    scale = int(x.size) / kept if kept else 0.0
    with np.errstate(all="ignore"):  # IEEE results (0 * inf is NaN) without warnings
        wide = x.astype(np.float64)  # x M s, M s 0 or s, in float64 as _affine takes it, without an array of M s
        np.multiply(wide, 0.0, out=wide, where=dropped)
        np.multiply(wide, scale, out=wide, where=np.logical_not(dropped, out=dropped))
        return wide.astype(x.dtype, copy=False)  # one rounding; none for float64
