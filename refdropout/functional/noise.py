"""What the dropout variants share: where their randomness comes from, how a keep mask is drawn,
and the one graph node that applies noise (spec/variants.md, VARIANTS-17, VARIANTS-19).

Every variant of this package multiplies its input by noise drawn once per call, and some add a
constant where a unit is dropped:

    y_i = x_i s_i + c_i,        dL/dx_i = g_i s_i

with ``s`` and ``c`` fixed by the forward draw. Because the noise is held fixed, the op is affine
in x and its vector-Jacobian product reuses the forward noise (VARIANTS-17).
"""

from __future__ import annotations

from .. import autograd
from ..random import Generator
from ..shapes import Shape, broadcast_index
from ..tensor import Tensor
from .arguments import resolve_generator

__all__ = ["generator_for", "draw_keep", "affine"]


def generator_for(seed: int | None, generator: Generator | None, op: str, needed: bool) -> Generator | None:
    """The source of a call's randomness, checked in every mode (VARIANTS-19).

    ``needed`` is True when the call draws (training with a rate that leaves the mask random);
    a call that does not draw may omit ``seed`` and ``generator``, and then gets None.
    """
    if seed is None and generator is None and not needed:
        return None
    return resolve_generator(seed, generator, op)


def draw_keep(source: Generator, mask_shape: Shape, shape: Shape, keep_prob: float) -> list[bool]:
    """One draw of ``bernoulli(mask_shape, keep_prob)``, broadcast to ``shape``: True where kept."""
    mask = source.bernoulli(mask_shape, keep_prob).data
    return [mask[i] == 1.0 for i in broadcast_index(mask_shape, shape)]


def affine(x: Tensor, scale: list[float], shift: list[float] | None = None, nonfinite: str = "multiply") -> Tensor:
    """One graph node: y_i = x_i s_i + c_i (c = 0 when ``shift`` is None), VJP g_i s_i.

    A dropped unit has s_i = 0. Under ``nonfinite`` = "multiply" it is x_i · 0 + c_i, so a dropped NaN or
    infinity gives NaN, as IEEE 0 * NaN does; under "select" it is c_i, x_i unread: the two policies of
    standard dropout (DROPOUT-10), which alpha dropout follows (VARIANTS-4).
    """
    xd = x.data
    if shift is None and nonfinite == "select":
        shift = [0.0] * x.size
    if shift is None:
        y = [v * s for v, s in zip(xd, scale)]
    elif nonfinite == "multiply":
        y = [v * s + c for v, s, c in zip(xd, scale, shift)]
    else:
        y = [v * s + c if s else c for v, s, c in zip(xd, scale, shift)]
    out = Tensor.from_flat(y, x.shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: ([gi * s for gi, s in zip(g, scale)],))
