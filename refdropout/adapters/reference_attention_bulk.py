"""``functional.scaled_dot_product_attention`` and its backward pass on numpy arrays, in bulk
(spec/variants.md, VARIANTS-20 to VARIANTS-22).

The mask is the engine's, draw for draw: the weights are dropped by ``attention_dropout_bulk``
(one ``bernoulli`` draw of the weights' shape from the same generator), so a call drops the weights
the engine drops. The arithmetic is numpy's in float64, rounded once to the inputs' format: on the
inputs of the checks (q = k = 0, L a power of two, v and g one-hot) every step is exact and the
results are the engine's bit for bit; elsewhere they may differ from the engine's in the last bits
(numpy's exponential and summation order).
"""

from __future__ import annotations

import math

import numpy as np

from ..functional.sdpa import attention_shapes
from .reference_bulk import check_array
from .reference_variants_bulk import attention_dropout_bulk

__all__ = ["fused_attention_bulk"]

_OP = "scaled_dot_product_attention"


def fused_attention_bulk(q: np.ndarray, k: np.ndarray, v: np.ndarray, g: np.ndarray, p: float, *, backend: str,
                         training: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(o, dL/dv) of the reference's attention with dropout of its weights, for upstream gradient g."""
    if backend != "engine":
        raise ValueError(f"{_OP}: backend must be 'engine', the reference's only kernel, got {backend!r}")
    q, k, v, g = (check_array(a, _OP, name) for a, name in ((q, "query"), (k, "key"), (v, "value"), (g, "g")))
    attention_shapes(q.shape, k.shape, v.shape, _OP)
    scores = np.matmul(q.astype(np.float64), np.swapaxes(k, -1, -2).astype(np.float64)) * (1.0 / math.sqrt(q.shape[-1]))
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    dropped = attention_dropout_bulk(weights.astype(q.dtype), p, training=training, seed=seed).astype(np.float64)
    o = np.matmul(dropped, v.astype(np.float64)).astype(v.dtype)
    dv = np.matmul(np.swapaxes(dropped, -1, -2), g.astype(np.float64)).astype(v.dtype)
    return o, dv
