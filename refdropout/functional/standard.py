"""Standard dropout (Srivastava et al. 2014; spec/dropout.md).

Each unit is kept with probability q = 1 - p, independently: m_i ~ Bernoulli(q). With
*inverted* scaling (what every major framework does) training computes y = x * m / q and
evaluation is the identity; with the *classic* scheme of the original paper training
computes y = x * m and evaluation scales by q, y = q x. Either way E[y_train] = y_eval.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import autograd
from ..random import Generator
from ..shapes import broadcast_index
from ..tensor import Tensor
from .arguments import check_choice, check_flag, check_input, check_rate, resolve_generator, resolve_noise_shape

__all__ = ["dropout", "SCALINGS", "NONFINITE_POLICIES"]

SCALINGS = ("inverted", "classic")
NONFINITE_POLICIES = ("multiply", "select")


def _masked(x: Tensor, keep: list[bool], divisor: float, nonfinite: str) -> Tensor:
    """One graph node: y_i = x_i / divisor where kept, else x_i * 0 ("multiply") or 0 ("select")
    (DROPOUT-2, DROPOUT-10).

    Its VJP is g_i / divisor where kept and 0 where dropped: the forward mask, reused (GRADIENTS-1).
    """
    xd = x.data
    if nonfinite == "multiply":  # IEEE: a dropped NaN or inf gives NaN, a dropped -x gives -0.0
        y = [v / divisor if k else v * 0.0 for v, k in zip(xd, keep)]
    else:
        y = [v / divisor if k else 0.0 for v, k in zip(xd, keep)]
    out = Tensor.from_flat(y, x.shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: ([gi / divisor if k else 0.0 for gi, k in zip(g, keep)],))


def _eval_scaled(x: Tensor, q: float) -> Tensor:
    """One graph node: y_i = q x_i, each product rounded once to x's format, q not rounded first (classic
    evaluation, DROPOUT-7: in float16 at q = 2^-25 a weak scalar q rounds to 0 and q x to 0, while
    fl16(q x) of x = 65504 is 0.00195). Its VJP is q g_i, rounded once alike (GRADIENTS-2)."""
    out = Tensor.from_flat([v * q for v in x.data], x.shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: ([gi * q for gi in g],))


def dropout(
    x: Tensor,
    p: float = 0.5,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
    noise_shape: Sequence[int | None] | None = None,
    broadcast_dims: Sequence[int] | None = None,
    scaling: str = "inverted",
    nonfinite: str = "multiply",
    return_mask: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Drop each element of ``x`` with probability ``p`` (spec/dropout.md, DROPOUT-1 to DROPOUT-21).

    training, inverted:  y = x * m / q        eval, inverted:  y = x
    training, classic:   y = x * m            eval, classic:   y = q x

    ``m`` has the shape ``noise_shape`` (or ``x.shape`` with size 1 on ``broadcast_dims``) and
    is broadcast over ``x``. Randomness comes from ``seed`` or ``generator`` and is consumed only
    by a training call with 0 < p < 1. With ``return_mask`` the keep mask (bool, broadcast to
    ``x.shape``) is returned too.
    """
    op = "dropout"
    x = check_input(x, op)
    p = check_rate(p, op)
    check_flag(training, op, "training")
    check_flag(return_mask, op, "return_mask")
    check_choice(scaling, SCALINGS, op, "scaling")
    check_choice(nonfinite, NONFINITE_POLICIES, op, "nonfinite")
    mask_shape = resolve_noise_shape(x.shape, noise_shape, broadcast_dims, op)
    q = 1.0 - p

    # the source of randomness is checked in every mode, but drawn from only when it is needed
    source = None if seed is None and generator is None else resolve_generator(seed, generator, op)
    if not training or p == 0.0:  # the identity (DROPOUT-4, DROPOUT-7), consuming no randomness (DROPOUT-15)
        keep = [True] * x.size
        y = _eval_scaled(x, q) if not training and scaling == "classic" else x
    elif p == 1.0:  # the mask is known: every unit dropped, and nothing divided by q = 0 (DROPOUT-5)
        keep = [False] * x.size
        y = _masked(x, keep, 1.0, nonfinite)
    else:
        if source is None:
            resolve_generator(None, None, op)  # raises: training-mode dropout needs a seed or a generator
        mask = source.bernoulli(mask_shape, q).data
        keep = [mask[i] == 1.0 for i in broadcast_index(mask_shape, x.shape)]
        y = _masked(x, keep, q if scaling == "inverted" else 1.0, nonfinite)
    return (y, Tensor.from_flat(keep, x.shape, "bool")) if return_mask else y
