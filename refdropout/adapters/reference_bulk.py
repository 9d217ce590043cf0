"""``refdropout.functional.dropout`` on numpy arrays, bit for bit and in bulk (spec/dropout.md).

``dropout_bulk(x, p, ...)`` returns what the engine's ``dropout(from_numpy(x), p, ...,
return_mask=True)`` returns, as numpy arrays: the same checks and refusals (the engine's own
argument checks), the same randomness consumed (none in evaluation, at p = 0 or at p = 1;
otherwise one ``bernoulli`` draw of the mask shape, made by ``NumpyGenerator``), and every value
computed as the engine computes it: in float64, x_i / divisor where kept and x_i * 0.0
("multiply") or +0.0 ("select") where dropped, then rounded once to x's format (numpy's
casts round to nearest, ties to even, as ``DType.round`` does). Signed zeros and NaN payloads
come out as the engine's, since the same IEEE operations make them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..contract.arrays import DTYPES, NUMPY_FORMATS
from ..functional.arguments import check_choice, check_flag, check_rate, resolve_generator, resolve_noise_shape
from ..functional.standard import NONFINITE_POLICIES, SCALINGS
from ..random import Generator
from ..shapes import numel
from .numpy_philox import NumpyGenerator

__all__ = ["dropout_bulk", "dropout_vjp_bulk", "check_array", "source_for", "draw"]

_OP = "dropout"
SMALL_DRAW = 512  # elements: a draw of fewer is made by an engine generator itself, faster than by numpy's arrays


def check_array(x: object, op: str = _OP, name: str = "x") -> np.ndarray:
    """A numpy array of a floating format numpy holds here (DROPOUT-9)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a floating-point numpy array, got {type(x).__name__}")
    if x.dtype not in NUMPY_FORMATS.values():
        raise TypeError(f"{op}: {name} must be a floating-point numpy array of {', '.join(DTYPES)}, "
                        f"got dtype {x.dtype}")
    return x


def source_for(seed: int | None, generator: Generator | NumpyGenerator | None, op: str = _OP,
               needed: bool = False) -> Generator | NumpyGenerator | None:
    """The generator a training call would draw from, checked in every mode as the engine checks it
    (``functional.noise.generator_for``): None when neither is given and the call draws nothing."""
    if isinstance(generator, NumpyGenerator):
        if seed is not None:
            raise ValueError(f"{op}: pass seed= or generator=, not both")
        return generator
    if seed is None and generator is None and not needed:
        return None
    return resolve_generator(seed, generator, op)


def draw(source: Generator | NumpyGenerator | None, op: str, kind: str, shape: tuple[int, ...],
         *args: float) -> np.ndarray:
    """The engine's ``source.<kind>(shape, *args)`` (``bernoulli`` as bools, ``uniform``) as a numpy
    array; an engine generator's state moves on by the one draw its own call would have taken
    (RANDOM-4: a draw of any size takes one). An engine generator makes a draw of fewer than
    ``SMALL_DRAW`` elements itself: the same draw, without numpy's fixed cost per Philox round."""
    if isinstance(source, NumpyGenerator):
        return getattr(source, kind)(shape, *args)
    source = resolve_generator(None, None, op) if source is None else source  # None raises: no hidden generator
    if numel(shape) < SMALL_DRAW:  # the engine's own draw, at its speed for a few
        values = np.array(getattr(source, kind)(shape, *args).data, dtype=np.float64).reshape(shape)
        return values == 1.0 if kind == "bernoulli" else values
    out = getattr(NumpyGenerator.from_state(source.state), kind)(shape, *args)  # refuses before any draw is taken
    source.random_words(0)
    return out


def dropout_bulk(
    x: np.ndarray,
    p: float = 0.5,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | NumpyGenerator | None = None,
    noise_shape: Sequence[int | None] | None = None,
    broadcast_dims: Sequence[int] | None = None,
    scaling: str = "inverted",
    nonfinite: str = "multiply",
) -> tuple[np.ndarray, np.ndarray]:
    """``refdropout.functional.dropout`` with ``return_mask=True`` on a numpy array: (y, keep), y in
    x's format and shape, keep a bool array of x's shape (DROPOUT-1 to DROPOUT-21). The identity
    (evaluation with inverted scaling, or p = 0) returns x itself, as the engine does."""
    x = check_array(x)
    p = check_rate(p, _OP)
    check_flag(training, _OP, "training")
    check_choice(scaling, SCALINGS, _OP, "scaling")
    check_choice(nonfinite, NONFINITE_POLICIES, _OP, "nonfinite")
    mask_shape = resolve_noise_shape(x.shape, noise_shape, broadcast_dims, _OP)
    q = 1.0 - p
    source = source_for(seed, generator)

    with np.errstate(all="ignore"):  # IEEE results, as the engine's floats give them, without warnings
        if not training or p == 0.0:  # the identity, consuming no randomness (DROPOUT-4, DROPOUT-7, DROPOUT-15)
            keep = np.ones(x.shape, dtype=np.bool_)
            if training or scaling == "inverted":
                return x, keep
            return (x.astype(np.float64) * q).astype(x.dtype), keep  # q x rounded once, as the engine's _eval_scaled
        if p == 1.0:  # every unit dropped, nothing divided by q = 0 (DROPOUT-5)
            keep, divisor = np.zeros(x.shape, dtype=np.bool_), 1.0
        else:
            keep = np.broadcast_to(draw(source, _OP, "bernoulli", mask_shape, q), x.shape).copy()
            divisor = q if scaling == "inverted" else 1.0
        wide = x.astype(np.float64)  # multiply: a dropped NaN or inf gives NaN, -x gives -0.0
        dropped = wide * 0.0 if nonfinite == "multiply" else 0.0
        return np.where(keep, wide / divisor, dropped).astype(x.dtype), keep


def dropout_vjp_bulk(x: np.ndarray, p: float, g: np.ndarray, *, training: bool, seed: int,
                     scaling: str = "inverted", nonfinite: str = "multiply") -> tuple[np.ndarray, np.ndarray]:
    """The reference's ``dropout_vjp`` on numpy arrays: (y, dL/dx) as the engine's backward pass of
    ``dropout`` gives them (GRADIENTS-1 to GRADIENTS-5): g itself where the forward pass is the identity,
    q g_i rounded once in classic evaluation, and in training g_i / divisor where the forward mask
    keeps, 0.0 where it drops, each computed in float64 and rounded once to g's format."""
    y, keep = dropout_bulk(x, p, training=training, seed=seed, scaling=scaling, nonfinite=nonfinite)
    g = check_array(g, _OP, "g")
    if g.shape != x.shape or g.dtype != x.dtype:
        raise ValueError(f"{_OP}: g must have x's shape {x.shape} and dtype {x.dtype}, got {g.shape} and {g.dtype}")
    p = check_rate(p, _OP)
    q = 1.0 - p
    with np.errstate(all="ignore"):
        if not training or p == 0.0:
            return y, g if training or scaling == "inverted" else (g.astype(np.float64) * q).astype(g.dtype)
        divisor = q if scaling == "inverted" and p != 1.0 else 1.0
        return y, np.where(keep, g.astype(np.float64) / divisor, 0.0).astype(g.dtype)
