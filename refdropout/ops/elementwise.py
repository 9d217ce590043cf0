"""Elementwise arithmetic and functions, each with its VJP (spec/tensor.md, TENSOR-8, TENSOR-9, TENSOR-10).

Values are computed in binary64 and rounded once to the result dtype. Binary ops broadcast
(TENSOR-3) and sum their gradients back over the broadcast axes.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable

from .. import autograd
from ..dtypes import promote
from ..shapes import broadcast_shapes
from ..tensor import Tensor
from ..values import shown, to_float
from . import ieee
from .common import as_tensor, expand_data, require_floating, unbroadcast

__all__ = [
    "add", "sub", "mul", "div", "pow", "maximum", "minimum",
    "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "elu", "selu",
    "SELU_ALPHA", "SELU_SCALE",
]

# Klambauer et al. (2017), "Self-Normalizing Neural Networks", eq. (14), to double precision.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

Binary = Callable[[float, float], float]
# (a, b, y, g) -> (g_a, g_b) at one element, y = f(a, b)
BinaryVJP = Callable[[list, list, list, list], tuple[list, list]]


def _binary(name: str, a: object, b: object, f: Callable[[list, list], list], vjp: BinaryVJP) -> Tensor:
    """One broadcasting binary op node: ``f`` maps two equal-length lists to the output list."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: at least one operand must be a Tensor, got {type(a).__name__} and {type(b).__name__}")
    like = (a if isinstance(a, Tensor) else b).dtype
    a, b = as_tensor(a, like, name), as_tensor(b, like, name)
    require_floating(a, name)
    require_floating(b, name)
    shape = broadcast_shapes(a.shape, b.shape, op=name)
    ad, bd = expand_data(a, shape), expand_data(b, shape)
    y = f(ad, bd)
    out = Tensor.from_flat(y, shape, promote(a.dtype, b.dtype))
    a_shape, b_shape = a.shape, b.shape

    def binary_vjp(g: list) -> tuple[list, list]:
        ga, gb = vjp(ad, bd, y, g)
        return unbroadcast(ga, shape, a_shape), unbroadcast(gb, shape, b_shape)

    return autograd.attach(out, (a, b), binary_vjp)


def _neg_all(g: list) -> list:
    return [-v for v in g]


def add(a: object, b: object) -> Tensor:
    return _binary("add", a, b, lambda x, y: list(map(operator.add, x, y)), lambda a, b, y, g: (g, g))


def sub(a: object, b: object) -> Tensor:
    return _binary("sub", a, b, lambda x, y: list(map(operator.sub, x, y)), lambda a, b, y, g: (g, _neg_all(g)))


def mul(a: object, b: object) -> Tensor:
    return _binary(
        "mul", a, b,
        lambda x, y: list(map(operator.mul, x, y)),
        lambda a, b, y, g: (list(map(operator.mul, g, b)), list(map(operator.mul, g, a))),
    )


def _div_vjp(a: list, b: list, y: list, g: list) -> tuple[list, list]:
    # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2 = -y/b
    ga = ieee.map2_ieee(operator.truediv, ieee.div, g, b)
    gb = [-v for v in ieee.map2_ieee(operator.truediv, ieee.div, list(map(operator.mul, g, y)), b)]
    return ga, gb


def div(a: object, b: object) -> Tensor:
    return _binary("div", a, b, lambda x, y: ieee.map2_ieee(operator.truediv, ieee.div, x, y), _div_vjp)


def _pow_vjp(a: list, b: list, y: list, g: list) -> tuple[list, list]:
    # d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log a, taken as 0 at a = 0 (TENSOR-10)
    ga = [gi * bi * ieee.pow(ai, bi - 1.0) for gi, ai, bi in zip(g, a, b)]
    gb = [0.0 if ai == 0.0 else gi * yi * ieee.log(ai) for gi, ai, yi in zip(g, a, y)]
    return ga, gb


def pow(a: object, b: object) -> Tensor:
    return _binary("pow", a, b, lambda x, y: list(map(ieee.pow, x, y)), _pow_vjp)


def _select_vjp(pick_a: Binary) -> BinaryVJP:
    """VJP of max/min: the gradient goes to the selected operand, half to each on a tie (TENSOR-10)."""

    def vjp(a: list, b: list, y: list, g: list) -> tuple[list, list]:
        share = [1.0 if pick_a(ai, bi) else 0.5 if ai == bi else 0.0 for ai, bi in zip(a, b)]
        ga = list(map(operator.mul, g, share))
        gb = [gi * (1.0 - s) if ai == ai and bi == bi else 0.0 for gi, s, ai, bi in zip(g, share, a, b)]
        return ga, gb

    return vjp


def _maximum(a: float, b: float) -> float:
    if a >= b:
        return a
    return b if b > a else a + b  # a + b is NaN when either is


def _minimum(a: float, b: float) -> float:
    if a <= b:
        return a
    return b if b < a else a + b


def maximum(a: object, b: object) -> Tensor:
    """Elementwise maximum; NaN propagates (NumPy's ``maximum``)."""
    return _binary("maximum", a, b, lambda x, y: list(map(_maximum, x, y)), _select_vjp(operator.gt))


def minimum(a: object, b: object) -> Tensor:
    """Elementwise minimum; NaN propagates (NumPy's ``minimum``)."""
    return _binary("minimum", a, b, lambda x, y: list(map(_minimum, x, y)), _select_vjp(operator.lt))


# ---- unary ------------------------------------------------------------------------

# (x, y, g) -> g_x, y = f(x)
UnaryVJP = Callable[[list, list, list], list]


def _unary(name: str, x: Tensor, f: Callable[[list], list], vjp: UnaryVJP) -> Tensor:
    """One elementwise unary op node: ``f`` maps the input list to the output list."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: expected a Tensor, got {type(x).__name__}")
    require_floating(x, name)
    xd = x.data
    y = f(xd)
    out = Tensor.from_flat(y, x.shape, x.dtype)
    return autograd.attach(out, (x,), lambda g: (vjp(xd, y, g),))


def neg(x: Tensor) -> Tensor:
    return _unary("neg", x, _neg_all, lambda x, y, g: _neg_all(g))


def exp(x: Tensor) -> Tensor:
    return _unary(
        "exp", x,
        lambda d: ieee.map_ieee(math.exp, ieee.exp, d),
        lambda x, y, g: list(map(operator.mul, g, y)),
    )


def log(x: Tensor) -> Tensor:
    return _unary(
        "log", x,
        lambda d: list(map(ieee.log, d)),
        lambda x, y, g: ieee.map2_ieee(operator.truediv, ieee.div, g, x),
    )


def sqrt(x: Tensor) -> Tensor:
    # d sqrt(x)/dx = 1 / (2 sqrt(x)): infinite at 0
    return _unary(
        "sqrt", x,
        lambda d: list(map(ieee.sqrt, d)),
        lambda x, y, g: [ieee.div(gi, 2.0 * yi) for gi, yi in zip(g, y)],
    )


def _sign(v: float) -> float:
    return 1.0 if v > 0.0 else -1.0 if v < 0.0 else v * 0.0  # 0 at 0, NaN at NaN


def abs(x: Tensor) -> Tensor:
    """|x|; its derivative at 0 is taken as 0 (TENSOR-10)."""
    return _unary(
        "abs", x,
        lambda d: list(map(math.fabs, d)),
        lambda x, y, g: [gi * _sign(xi) for gi, xi in zip(g, x)],
    )


def tanh(x: Tensor) -> Tensor:
    return _unary(
        "tanh", x,
        lambda d: list(map(math.tanh, d)),
        lambda x, y, g: [gi * (1.0 - yi * yi) for gi, yi in zip(g, y)],
    )


def sigmoid(x: Tensor) -> Tensor:
    return _unary(
        "sigmoid", x,
        lambda d: list(map(ieee.sigmoid, d)),
        lambda x, y, g: [gi * yi * (1.0 - yi) for gi, yi in zip(g, y)],
    )


def relu(x: Tensor) -> Tensor:
    """max(x, 0); relu'(0) = 0 (TENSOR-10); NaN stays NaN."""
    return _unary(
        "relu", x,
        lambda d: [0.0 if v <= 0.0 else v for v in d],
        lambda x, y, g: [gi if xi > 0.0 else 0.0 for gi, xi in zip(g, x)],
    )


def _elu_forward(d: list, alpha: float, scale: float) -> list:
    return [scale * v if v > 0.0 else scale * alpha * math.expm1(v) for v in d]


def _elu_vjp(alpha: float, scale: float) -> UnaryVJP:
    # for x <= 0 the derivative is scale * alpha * e^x: the left branch holds at 0 (TENSOR-10)
    return lambda x, y, g: [gi * scale if xi > 0.0 else gi * scale * alpha * math.exp(xi) for gi, xi in zip(g, x)]


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise (Clevert et al. 2016); alpha is any real number."""
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise TypeError(f"elu: alpha must be a real number, got {shown(alpha)} of type {type(alpha).__name__}")
    alpha = to_float(alpha, "elu: alpha")
    return _unary("elu", x, lambda d: _elu_forward(d, alpha, 1.0), _elu_vjp(alpha, 1.0))


def selu(x: Tensor) -> Tensor:
    """lambda * elu(x, alpha) with the self-normalising constants of Klambauer et al. (2017)."""
    return _unary("selu", x, lambda d: _elu_forward(d, SELU_ALPHA, SELU_SCALE), _elu_vjp(SELU_ALPHA, SELU_SCALE))
