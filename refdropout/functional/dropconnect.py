"""DropConnect: dropout of the weights of a linear layer rather than of its units, as Wan et al.
(2013) introduced it, under the spec's convention (spec/variants.md, VARIANTS-9).

Each weight is kept with probability q = 1 - p, independently, and rescaled by 1/q:

    y = (W ⊙ M / q) x,     M_kj ~ Bernoulli(q)

written for a batch of row vectors x of shape (..., in) and W of shape (out, in) as
y = x (W ⊙ M / q)^T, PyTorch's convention for a linear layer; evaluation is x W^T. The 1/q and the
deterministic evaluation are inverted dropout's convention carried over to the weights, not Wan et
al.'s: they train with the unscaled M ⊙ W and infer by moment matching (a Gaussian fitted to each
unit's pre-activation, sampled through the activation). The reference draws one mask per call,
shared by every row of the batch; Wan et al. draw one per example, which is the same op called once
per example with fresh draws.
"""

from __future__ import annotations

from .. import autograd
from ..autograd import no_grad
from ..ops.linalg import matmul
from ..ops.movement import transpose
from ..random import Generator
from ..shapes import Shape, numel
from ..tensor import Tensor
from .arguments import check_flag, check_input, check_rate
from .noise import draw_keep, generator_for

__all__ = ["dropconnect", "dropconnect_arguments"]


def _masked_linear(x: Tensor, weight: Tensor, keep: list[bool], divisor: float) -> Tensor:
    """One graph node: y = x W'^T with W' = W ⊙ M / divisor (dropped weights W * 0).

    VJPs, with the forward mask:  dL/dx = g W',   dL/dW = (g^T x) ⊙ M / divisor.
    """
    n_out, n_in = weight.shape
    batch = numel(x.shape[:-1])
    effective = [w / divisor if k else w * 0.0 for w, k in zip(weight.data, keep)]
    with no_grad():
        w_eff = Tensor.from_flat(effective, weight.shape, weight.dtype)
        rows = Tensor.from_flat(x.data, (batch, n_in), x.dtype)
        y = matmul(rows, transpose(w_eff))
    out = Tensor.from_flat(y.data, x.shape[:-1] + (n_out,), y.dtype)
    w64 = Tensor.from_flat(w_eff.data, weight.shape)

    def masked_linear_vjp(g: list) -> tuple[list | None, list | None]:
        gx = gw = None
        with no_grad():
            g_rows = Tensor.from_flat(g, (batch, n_out))
            if x.requires_grad:
                gx = matmul(g_rows, w64).data
            if weight.requires_grad:
                outer = matmul(transpose(g_rows), rows).data
                gw = [v / divisor if k else 0.0 for v, k in zip(outer, keep)]
        return gx, gw

    return autograd.attach(out, (x, weight), masked_linear_vjp)


def dropconnect_arguments(x_shape: Shape, weight_shape: Shape, p: object, training: object, op: str) -> float:
    """The checked p of a call (VARIANTS-18): weight of shape (out, in), x of shape (..., in), training a bool."""
    p = check_rate(p, op)
    check_flag(training, op, "training")
    if len(weight_shape) != 2:
        raise ValueError(f"{op}: weight must have shape (out_features, in_features), got shape {weight_shape}")
    if not x_shape or x_shape[-1] != weight_shape[1]:
        raise ValueError(f"{op}: x must have shape (..., {weight_shape[1]}) to match weight of shape "
                         f"{weight_shape}, got shape {x_shape}")
    return p


def dropconnect(
    x: Tensor,
    weight: Tensor,
    p: float = 0.5,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """A linear layer whose weights are dropped with probability ``p`` (VARIANTS-9).

    training:  y = x (W ⊙ M / q)^T,  M of W's shape (out, in), one draw per call
    eval:      y = x W^T

    ``x`` has shape (..., in) and y shape (..., out). VJPs with the forward mask:
    dL/dx = g (W ⊙ M / q) and dL/dW = (g^T x) ⊙ M / q, summed over the batch (M = 1, q = 1
    in eval mode and at p = 0; M = 0 at p = 1).
    """
    op = "dropconnect"
    x = check_input(x, op)
    weight = check_input(weight, op, "weight")
    p = dropconnect_arguments(x.shape, weight.shape, p, training, op)
    source = generator_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    if not training or p == 0.0:
        return _masked_linear(x, weight, [True] * weight.size, 1.0)
    if p == 1.0:
        return _masked_linear(x, weight, [False] * weight.size, 1.0)
    q = 1.0 - p
    return _masked_linear(x, weight, draw_keep(source, weight.shape, weight.shape, q), q)
