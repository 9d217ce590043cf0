"""A dropout to check with ``refdropout check``: the plain-function form and the adapter-class form.

From this directory:

    refdropout check my_dropout:dropout --profile quick      # the function: standard dropout's basic clauses
    refdropout check my_dropout:MyDropout --profile quick    # the class: masks, VJP and streams as well

The function is the whole contract of the plain form: it takes a numpy array ``x`` and returns
one of the same shape and dtype, y = x ⊙ m / q with m_i ~ Bernoulli(q), q = 1 − p, drawn from
``seed``; in evaluation it returns x. The class wraps it in refdropout's protocol to declare more.
"""

from __future__ import annotations

import numbers

import numpy as np

from refdropout.contract import Policies
from refdropout.contract.arrays import as_array, in_kind


def dropout(x: np.ndarray, p: float, *, training: bool, seed: int) -> np.ndarray:
    """Inverted dropout of ``x`` at drop probability ``p``: the plain form."""
    return masked_dropout(x, p, training, np.random.default_rng(seed))[0]


def masked_dropout(x: np.ndarray, p: float, training: bool, generator: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(y, keep mask), drawing the mask from ``generator`` (nothing in evaluation or at p = 0)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be a real number in [0, 1], got {p!r}")
    q = 1.0 - p
    if not training or p == 0.0:
        return x, np.ones(x.shape, dtype=bool)
    keep = generator.random(x.shape) < q
    with np.errstate(invalid="ignore", over="ignore"):  # 0 · inf = NaN and x / q = inf, as IEEE says
        return (x * keep / q if q > 0.0 else x * keep), keep


class MyDropout:
    """The same dropout behind the conformance protocol: engine tensors or numpy arrays in, the same
    kind out (as_array, in_kind), one method per capability (``refdropout.contract.CAPABILITIES``
    lists them all)."""

    name = "my_dropout"
    dtypes = ("float64", "float32", "float16")  # the formats it is checked in
    policies = Policies(scaling="inverted", nonfinite="multiply")  # its choices where the spec allows one

    def dropout(self, x, p, *, training, seed):
        return in_kind(dropout(as_array(x), p, training=training, seed=seed), x)

    def dropout_with_mask(self, x, p, *, seed):
        y, keep = masked_dropout(as_array(x), p, True, np.random.default_rng(seed))
        return in_kind(y, x), in_kind(keep, x)

    def dropout_vjp(self, x, p, g, *, training, seed):
        y, keep = masked_dropout(as_array(x), p, training, np.random.default_rng(seed))
        if not training:
            return in_kind(y, x), g
        q, gradient = 1.0 - p, as_array(g)
        return in_kind(y, x), in_kind(gradient * keep / q if q > 0.0 else gradient * keep, g)

    def dropout_stream(self, seed):
        generator = np.random.default_rng(seed)  # one state that successive calls advance

        def call(x, p, *, training):
            return in_kind(masked_dropout(as_array(x), p, training, generator)[0], x)

        return call
