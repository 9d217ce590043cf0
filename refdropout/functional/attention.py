"""Attention dropout: dropout of the attention weights (Vaswani et al. 2017; spec/variants.md,
VARIANTS-16).

Attention weights A = softmax(Q K^T / sqrt(d)) form a row-stochastic matrix: every row is a
probability vector over the keys. Transformers drop these weights elementwise, after the
softmax and before they multiply V:

    y_ij = A_ij m_ij / q,     E[y_ij] = A_ij,     E[Σ_j y_ij] = 1

A realised row of y sums to Σ_j A_ij m_ij / q, which is not 1 in general: the rows of y are
row-stochastic in expectation only, and are not renormalised.
"""

from __future__ import annotations

from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .arguments import check_flag, check_input, check_rate
from .noise import generator_for
from .standard import dropout

__all__ = ["attention_dropout", "attention_arguments"]


def attention_arguments(shape: Shape, p: object, training: object, op: str) -> float:
    """The checked p of a call on weights of ``shape``, which must be (..., queries, keys)."""
    p = check_rate(p, op)
    check_flag(training, op, "training")
    if len(shape) < 2:
        raise ValueError(f"{op}: weights must have shape (..., queries, keys), got shape {shape}")
    return p


def attention_dropout(
    weights: Tensor,
    p: float = 0.5,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """Inverted dropout of attention ``weights`` of shape (..., queries, keys) (VARIANTS-16).

    Each row along the last axis is one query's probability vector; every weight is dropped
    independently and the rows are not renormalised. VJP: dL/dA = g * m / q with the forward
    mask (dropout's own node); g in eval mode.
    """
    op = "attention_dropout"
    weights = check_input(weights, op, "weights")
    p = attention_arguments(weights.shape, p, training, op)
    source = generator_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    return dropout(weights, p, training=training, generator=source)
