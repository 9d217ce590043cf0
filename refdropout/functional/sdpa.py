"""Scaled dot-product attention with dropout of its weights, the op a fused attention kernel computes
(spec/variants.md, VARIANTS-20 to VARIANTS-22):

    A = softmax(Q K^T / sqrt(d)),    O = (A ⊙ m / q) V,    dL/dV = (A ⊙ m / q)^T dL/dO

for Q of shape (..., L, d), K of shape (..., S, d) and V of shape (..., S, d_v). The weights are
dropped by ``attention_dropout`` (VARIANTS-16), one graph node whose VJP reuses its mask, so the
backward pass applies the forward mask: that is what a fused kernel must reproduce without
keeping the (..., L, S) weights.
"""

from __future__ import annotations

import math

from .. import ops
from ..random import Generator
from ..tensor import Tensor
from .arguments import check_input
from .attention import attention_dropout

__all__ = ["scaled_dot_product_attention", "attention_shapes"]


def attention_shapes(query: tuple[int, ...], key: tuple[int, ...], value: tuple[int, ...], op: str) -> None:
    """Refuse shapes that are not (..., L, d), (..., S, d) and (..., S, d_v) with one batch shape."""
    shapes = {"query": query, "key": key, "value": value}
    for name, shape in shapes.items():
        if len(shape) < 2:
            raise ValueError(f"{op}: {name} must have shape (..., length, features), got shape {shape}")
    if key[:-1] != value[:-1] or query[:-2] != key[:-2] or query[-1] != key[-1]:
        raise ValueError(f"{op}: query, key and value must have shapes (..., L, d), (..., S, d) and (..., S, d_v), "
                         f"got {query}, {key} and {value}")


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    p: float = 0.0,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """softmax(query key^T / sqrt(d)) dropped at rate ``p`` (inverted, VARIANTS-16), times ``value``.

    The mask is one draw of the weights' shape (..., L, S) from ``seed`` or ``generator``, as
    ``attention_dropout`` draws it; gradients reach query, key and value through the engine's graph,
    whose dropout node reuses the forward mask (VARIANTS-22).
    """
    op = "scaled_dot_product_attention"
    query, key, value = (check_input(t, op, name) for t, name in ((query, "query"), (key, "key"), (value, "value")))
    attention_shapes(query.shape, key.shape, value.shape, op)
    scores = ops.matmul(query, ops.transpose(key)) * (1.0 / math.sqrt(query.shape[-1]))
    weights = attention_dropout(ops.softmax(scores), p, training=training, seed=seed, generator=generator)
    return ops.matmul(weights, value)
