"""Alpha dropout: dropout that keeps a SELU network self-normalising (Klambauer et al. 2017;
spec/variants.md, VARIANTS-4 to VARIANTS-6).

SELU activations saturate at -λα for large negative inputs, so a dropped unit is set to that
value α' = -λα rather than to 0, and an affine map a (.) + b restores zero mean and unit
variance. For kept units m = 1 and dropped units m = 0:

    y = a (x m + α' (1 - m)) + b,     a = ((1 - p)(1 + p α'^2))^(-1/2),     b = -a α' p

so a kept unit becomes a x + b and a dropped one a α' + b = a α' (1 - p). For inputs with
mean 0 and variance 1, E[y] = 0 and Var[y] = 1 (VARIANTS-5). A dropped non-finite x follows standard
dropout's ``nonfinite`` policy (DROPOUT-10, VARIANTS-4): x · 0 + c, NaN for NaN and ±inf ("multiply"),
or the dropped value c itself ("select").
"""

from __future__ import annotations

from collections.abc import Sequence

from ..ops.elementwise import SELU_ALPHA, SELU_SCALE
from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .arguments import check_choice, check_flag, check_input, check_rate, resolve_noise_shape
from .channel import channel_arguments
from .noise import affine, draw_keep, generator_for
from .standard import NONFINITE_POLICIES

__all__ = ["alpha_dropout", "feature_alpha_dropout", "alpha_arguments", "alpha_constants", "ALPHA_PRIME"]

# α' = -λα, the value SELU saturates to, in binary64: -1.7580993408473766
ALPHA_PRIME = -SELU_SCALE * SELU_ALPHA


def alpha_constants(p: float) -> tuple[float, float]:
    """The affine correction (a, b) of alpha dropout at drop probability p in [0, 1) (VARIANTS-4).

    a = ((1 - p)(1 + p α'^2))^(-1/2),  b = -a α' p,  evaluated in binary64 in this order.
    """
    a = ((1.0 - p) * (1.0 + p * ALPHA_PRIME * ALPHA_PRIME)) ** -0.5
    return a, -a * ALPHA_PRIME * p


def alpha_arguments(shape: Shape, p: object, noise_shape: Sequence[int | None] | None, training: object,
                    op: str) -> tuple[float, Shape]:
    """The checked p and the mask shape (``noise_shape`` resolved against ``shape``) of a call."""
    p = check_rate(p, op)
    check_flag(training, op, "training")
    return p, resolve_noise_shape(shape, noise_shape, None, op)


def _alpha(x: Tensor, p: float, mask_shape: Shape, training: bool, seed: int | None,
           generator: Generator | None, nonfinite: str, op: str) -> Tensor:
    """The shared body of alpha and feature alpha dropout, once the mask shape is known; a dropped unit
    by standard dropout's ``nonfinite`` policy (``affine``; VARIANTS-4)."""
    check_choice(nonfinite, NONFINITE_POLICIES, op, "nonfinite")
    source = generator_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    if not training or p == 0.0:  # the identity, consuming no randomness
        return x
    if p == 1.0:  # the limit of a α' (1 - p) as p -> 1: every finite unit 0, a non-finite one by the policy
        return affine(x, [0.0] * x.size, [0.0] * x.size, nonfinite)
    a, b = alpha_constants(p)
    dropped = a * ALPHA_PRIME + b
    keep = draw_keep(source, mask_shape, x.shape, 1.0 - p)
    return affine(x, [a if k else 0.0 for k in keep], [b if k else dropped for k in keep], nonfinite)


def alpha_dropout(
    x: Tensor,
    p: float = 0.5,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
    noise_shape: Sequence[int | None] | None = None,
    nonfinite: str = "multiply",
) -> Tensor:
    """Alpha dropout of every element of ``x`` (VARIANTS-4, VARIANTS-5).

    training, 0 < p < 1:  y = a (x m + α' (1 - m)) + b,  m ~ Bernoulli(1 - p) of shape
                          ``noise_shape`` (Keras's spelling; None means x's shape), broadcast
    training, p = 1:      y = 0 for every finite element (the limit; PyTorch's value)
    eval, or p = 0:       y = x

    A dropped non-finite x follows ``nonfinite``, standard dropout's policy (DROPOUT-10, VARIANTS-4):
    "multiply" (the default; PyTorch's) computes x · 0 + a α' + b, NaN for NaN and ±inf; "select" gives
    a α' + b (0 at p = 1) whatever x is.

    VJP: dL/dx = g * a * m with the forward mask (0 where dropped and at p = 1); g in eval mode.
    """
    op = "alpha_dropout"
    x = check_input(x, op)
    p, mask_shape = alpha_arguments(x.shape, p, noise_shape, training, op)
    return _alpha(x, p, mask_shape, training, seed, generator, nonfinite, op)


def feature_alpha_dropout(
    x: Tensor,
    p: float = 0.5,
    *,
    spatial_dims: int,
    data_format: str = "channels_first",
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
    nonfinite: str = "multiply",
) -> Tensor:
    """Alpha dropout with one mask value per (sample, channel) (VARIANTS-6).

    The mask has the shape channel dropout uses (``channel_noise_shape``, VARIANTS-1 and
    VARIANTS-2); the constants, the ``nonfinite`` policy and the VJP g * a * m are those of
    ``alpha_dropout``.
    """
    op = "feature_alpha_dropout"
    x = check_input(x, op)
    p, mask_shape = channel_arguments(x.shape, p, spatial_dims, data_format, training, op)
    return _alpha(x, p, mask_shape, training, seed, generator, nonfinite, op)
