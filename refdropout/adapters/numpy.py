"""A textbook numpy dropout: an independent second implementation of spec/dropout.md.

It shares nothing with the reference engine but the conversion of arrays. Each call draws
u ~ U[0, 1) from ``numpy.random.Generator(Philox(seed))`` and keeps where u < q:

    y = x ⊙ m / q,    m = [u < q],    q = 1 − p    (DROPOUT-1, DROPOUT-2)

In evaluation, and at p = 0, it returns x and draws nothing (DROPOUT-4, DROPOUT-7, DROPOUT-15);
at p = 1 it returns x ⊙ 0 (DROPOUT-5). A stream is one Generator whose state successive calls
advance (DROPOUT-14); the VJP is g ⊙ m / q with the forward mask (GRADIENTS-1); ``noise_shape``
draws one mask value per position of the noise shape and broadcasts it (DROPOUT-11).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence

import numpy as np

from ..contract.arrays import DTYPES, NUMPY_FORMATS, as_array, in_kind
from ..tensor import Tensor

__all__ = ["NumpyDropout", "dropout"]


def keep_prob(p: object) -> float:
    """q = 1 − p for a real p in [0, 1]; anything else raises (DROPOUT-3)."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"p must be a real number in [0, 1], got {p!r} of type {type(p).__name__}")
    if not 0.0 <= p <= 1.0:  # NaN fails the comparison too
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    return 1.0 - float(p)


def dropout(x: np.ndarray, p: float, *, training: bool, generator: np.random.Generator,
            noise_shape: Sequence[int | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(y, m): inverted dropout of x and its keep mask, broadcast against x; integer and bool
    arrays are refused (DROPOUT-9)."""
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        raise TypeError(f"x must be a floating-point array, got dtype {x.dtype}")
    q = keep_prob(p)
    if not training or q == 1.0:
        return x, np.ones(x.shape, dtype=np.bool_)
    mask_shape = x.shape if noise_shape is None else tuple(n if m is None else m for m, n in zip(noise_shape, x.shape))
    m = generator.random(mask_shape) < q
    return scaled(x, m, q), np.broadcast_to(m, x.shape)


def scaled(v: np.ndarray, m: np.ndarray, q: float) -> np.ndarray:
    """v ⊙ m / q rounded once to v's dtype, and v ⊙ m at q = 0 where every element is dropped; IEEE
    arithmetic throughout (0 · inf = NaN, an overflow is inf), so numpy's warnings about them are
    silenced. q divides as a float64: a Python float is weakly typed (NEP 50) and would be rounded to
    v's dtype first, 0 in float16 for q <= 2^-25, where a dropped 0 / 0 is NaN (DROPOUT-2)."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (v * m / np.float64(q) if q > 0.0 else v * m).astype(v.dtype, copy=False)


def _generator(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(seed))


class NumpyDropout:
    """The numpy dropout behind the conformance protocol: numpy arrays in, numpy arrays out; engine
    tensors converted in and out."""

    name = "numpy"
    dtypes = DTYPES

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        y, _ = dropout(as_array(x), p, training=training, generator=_generator(seed))
        return in_kind(y, x)

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        y, m = dropout(as_array(x), p, training=True, generator=_generator(seed))
        return in_kind(y, x), in_kind(m, x)

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of dropout of n ones in ``dtype``, packed 8 elements a byte (little bit order)."""
        _, m = dropout(np.ones(n, dtype=NUMPY_FORMATS[dtype]), p, training=True, generator=_generator(seed))
        return np.packbits(m, bitorder="little")

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        y, _ = dropout(np.asarray(values, dtype=np.int32), p, training=training, generator=_generator(seed))
        return y.tolist()

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        y, m = dropout(as_array(x), p, training=training, generator=_generator(seed))
        return in_kind(y, x), in_kind(scaled(as_array(g), m, keep_prob(p)) if training else as_array(g), g)

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        generator = _generator(seed)

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            return in_kind(dropout(as_array(x), p, training=training, generator=generator)[0], x)

        return call

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        y, _ = dropout(as_array(x), p, training=training, generator=_generator(seed), noise_shape=noise_shape)
        return in_kind(y, x)
