"""DropPath, or stochastic depth: dropping a whole residual branch (Huang et al. 2016;
spec/variants.md, VARIANTS-10 to VARIANTS-12).

A residual block computes x + f(x); stochastic depth drops f(x) as a whole. ``drop_path`` is
applied to the branch output f(x), the residual sum is the caller's. Two modes:

* "row" (timm's DropPath, torchvision's stochastic_depth mode="row"): one mask value per
  sample, shared by all of that sample's elements: mask shape (N, 1, ..., 1);
* "batch" (torchvision's mode="batch"): one mask value for the whole call: shape (1, ..., 1).

Scaling follows standard dropout: "inverted" (train f m / q, eval f; timm's default
scale_by_keep=True, torchvision) or "classic" (train f m, eval q f; Huang et al.'s test rule).
"""

from __future__ import annotations

from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .arguments import check_choice, check_flag, check_input, check_rate
from .noise import generator_for
from .standard import SCALINGS, dropout

__all__ = ["drop_path", "drop_path_arguments", "DROP_PATH_MODES"]

DROP_PATH_MODES = ("row", "batch")


def drop_path_arguments(shape: Shape, p: object, mode: object, scaling: object, training: object, op: str
                        ) -> tuple[float, Shape]:
    """The checked p and the mask shape of a call on an input of ``shape`` (VARIANTS-10, VARIANTS-11):
    (N, 1, ..., 1) in "row" mode, which needs a batch axis, and (1, ..., 1) in "batch" mode."""
    p = check_rate(p, op)
    check_flag(training, op, "training")
    check_choice(mode, DROP_PATH_MODES, op, "mode")
    check_choice(scaling, SCALINGS, op, "scaling")
    if mode == "row" and not shape:
        raise ValueError(f"{op}: mode 'row' needs a batch axis, got a 0-d tensor")
    return p, (shape[0],) + (1,) * (len(shape) - 1) if mode == "row" else (1,) * len(shape)


def drop_path(
    x: Tensor,
    p: float = 0.5,
    *,
    mode: str = "row",
    scaling: str = "inverted",
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """Drop whole samples ("row") or the whole batch ("batch") of ``x`` with probability ``p``.

    inverted:  train y = x m / q,  eval y = x          (VARIANTS-12)
    classic:   train y = x m,      eval y = q x

    with m of shape (N, 1, ..., 1) in "row" mode (VARIANTS-10) and (1, ..., 1) in "batch" mode
    (VARIANTS-11), broadcast over x. VJP: dL/dx = g * m / q (inverted) or g * m (classic) with
    the forward mask; g (inverted) or q g (classic) in eval mode (dropout's own node).
    """
    op = "drop_path"
    x = check_input(x, op)
    p, noise_shape = drop_path_arguments(x.shape, p, mode, scaling, training, op)
    source = generator_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    return dropout(x, p, training=training, generator=source, noise_shape=noise_shape, scaling=scaling)
