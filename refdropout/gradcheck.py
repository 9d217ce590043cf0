"""Gradient checking by central differences (spec/tensor.md, TENSOR-17).

For a function f of tensors, the VJP the engine computes for every output element e_k,
row k of the Jacobian, is compared with the central difference

    d f_k / d x_i  ~  (f_k(x + eps e_i) - f_k(x - eps e_i)) / (2 eps)

in float64; they agree when |analytic - numeric| <= atol + rtol |numeric|.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

from .autograd import no_grad
from .dtypes import float64
from .tensor import Tensor
from .values import shown, to_float

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` with the input, element and both derivative values."""


def _unravel(flat: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    index = []
    for n in reversed(shape):
        flat, i = divmod(flat, n)
        index.append(i)
    return tuple(reversed(index))


def _evaluate(fn: Callable[..., Tensor], inputs: list[Tensor]) -> list:
    with no_grad():
        out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out.data


def gradcheck(fn: Callable[..., Tensor], *inputs: Tensor, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3) -> bool:
    """Compare ``fn``'s VJPs with central differences at ``inputs``; True, or GradcheckError."""
    if not inputs or not all(isinstance(x, Tensor) for x in inputs):
        raise TypeError("gradcheck: pass one or more Tensor inputs")
    tolerances = []
    for name, value, allowed in (("eps", eps, "a positive finite number"), ("atol", atol, "a non-negative number"),
                                 ("rtol", rtol, "a non-negative number")):
        if not isinstance(value, numbers.Real) or isinstance(value, bool):
            raise TypeError(f"gradcheck: {name} must be {allowed}, got {shown(value)} of type {type(value).__name__}")
        value = to_float(value, f"gradcheck: {name}", allowed)
        if not value >= 0 or (name == "eps" and not 0 < value < math.inf):  # NaN fails every comparison
            raise ValueError(f"gradcheck: {name} must be {allowed}, got {value!r}")
        tolerances.append(value)
    eps, atol, rtol = tolerances
    xs = [Tensor.from_flat(list(map(float, x.data)), x.shape, float64) for x in inputs]
    for x in xs:
        x.requires_grad = True
    out = fn(*xs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")

    analytic = [[[0.0] * out.size for _ in range(x.size)] for x in xs]  # [input][element][output]
    for k in range(out.size):
        for x in xs:
            x.grad = None
        if out.requires_grad:
            one_hot = [0.0] * out.size
            one_hot[k] = 1.0
            out.backward(Tensor.from_flat(one_hot, out.shape))
        for a, x in zip(analytic, xs):
            if x.grad is not None:
                for i, v in enumerate(x.grad.data):
                    a[i][k] = v

    for n, (x, a) in enumerate(zip(xs, analytic)):
        for i in range(x.size):
            probe = []
            for step in (eps, -eps):
                moved = list(x.data)
                moved[i] += step
                shifted = [Tensor.from_flat(moved, x.shape) if j == n else y for j, y in enumerate(xs)]
                probe.append(_evaluate(fn, shifted))
            for k, (up, down) in enumerate(zip(*probe)):
                numeric = (up - down) / (2.0 * eps)
                if not abs(a[i][k] - numeric) <= atol + rtol * abs(numeric):
                    where = f"output element {_unravel(k, out.shape)}" if out.shape else "the output"
                    raise GradcheckError(
                        f"gradcheck: input {n}, element {_unravel(i, x.shape)}, {where}: "
                        f"analytic {a[i][k]!r} != numeric {numeric!r} (atol={atol}, rtol={rtol})"
                    )
    return True
