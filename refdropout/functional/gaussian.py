"""Gaussian dropout: multiplicative noise N(1, p/q) in place of the Bernoulli mask
(Srivastava et al. 2014, section 10; Keras GaussianDropout; spec/variants.md, VARIANTS-7, VARIANTS-8).

Inverted dropout multiplies each unit by m/q, which has mean 1 and variance p/q. Gaussian
dropout keeps those two moments and replaces the distribution by a normal one:

    y = x ε,     ε ~ N(1, σ^2),     σ^2 = p / q

so E[y] = x and Var[y] = x^2 p / q, as for standard dropout; evaluation is the identity.
"""

from __future__ import annotations

import math

from ..random import Generator
from ..tensor import Tensor
from .arguments import check_flag, check_input, check_rate
from .noise import affine, generator_for

__all__ = ["gaussian_dropout", "gaussian_arguments", "standard_normal"]


def standard_normal(source: Generator, n: int) -> list[float]:
    """n standard normal variates from one draw of 2n uniforms, by Box–Muller (VARIANTS-8).

    With u_k the uniforms of ``source.uniform((2n,))`` (53-bit, in [0, 1)):

        z_i = sqrt(-2 ln(1 - u_{2i})) cos(2π u_{2i+1})

    1 - u_{2i} is exact and lies in (0, 1], so the logarithm is finite and |z_i| <= sqrt(106 ln 2).
    """
    u = source.uniform((2 * n,)).data
    log, sqrt, cos, tau = math.log, math.sqrt, math.cos, math.tau
    return [sqrt(-2.0 * log(1.0 - u1)) * cos(tau * u2) for u1, u2 in zip(u[0::2], u[1::2])]


def gaussian_arguments(p: object, training: object, op: str) -> float:
    """The checked p of a call: in [0, 1), since at p = 1 the noise variance p / (1 - p) is infinite."""
    p = check_rate(p, op)
    if p == 1.0:
        raise ValueError(f"{op}: p must be in [0, 1): the noise variance p / (1 - p) is infinite at p = 1, got {p!r}")
    check_flag(training, op, "training")
    return p


def gaussian_dropout(
    x: Tensor,
    p: float = 0.5,
    *,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """Multiply ``x`` by noise ε = 1 + σ z, z ~ N(0, 1), σ = sqrt(p / (1 - p)) (VARIANTS-7).

    p must be in [0, 1): at p = 1 the variance p/q is infinite. Eval mode and p = 0 are the
    identity and draw nothing. VJP: dL/dx = g * ε with the forward noise; g in eval mode.
    """
    op = "gaussian_dropout"
    x = check_input(x, op)
    p = gaussian_arguments(p, training, op)
    source = generator_for(seed, generator, op, needed=training and p > 0.0)
    if not training or p == 0.0:
        return x
    sigma = math.sqrt(p / (1.0 - p))
    return affine(x, [1.0 + sigma * z for z in standard_normal(source, x.size)])
