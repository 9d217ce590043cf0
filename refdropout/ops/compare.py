"""Comparisons (bool results, not differentiable) and ``where`` (spec/tensor.md, TENSOR-8)."""

from __future__ import annotations

import operator
from collections.abc import Callable

from .. import autograd
from ..dtypes import bool_, promote
from ..shapes import broadcast_shapes
from ..tensor import Tensor
from .common import as_tensor, expand_data, require_floating, unbroadcast

__all__ = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "where"]


def _compare(name: str, a: object, b: object, relation: Callable[[float, float], bool]) -> Tensor:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{name}: at least one operand must be a Tensor")
    like = (a if isinstance(a, Tensor) else b).dtype
    a, b = as_tensor(a, like, name), as_tensor(b, like, name)
    shape = broadcast_shapes(a.shape, b.shape, op=name)
    return Tensor.from_flat(list(map(relation, expand_data(a, shape), expand_data(b, shape))), shape, bool_)


def equal(a: object, b: object) -> Tensor:
    return _compare("equal", a, b, operator.eq)


def not_equal(a: object, b: object) -> Tensor:
    return _compare("not_equal", a, b, operator.ne)


def less(a: object, b: object) -> Tensor:
    return _compare("less", a, b, operator.lt)


def less_equal(a: object, b: object) -> Tensor:
    return _compare("less_equal", a, b, operator.le)


def greater(a: object, b: object) -> Tensor:
    return _compare("greater", a, b, operator.gt)


def greater_equal(a: object, b: object) -> Tensor:
    return _compare("greater_equal", a, b, operator.ge)


def where(condition: Tensor, a: object, b: object) -> Tensor:
    """a where ``condition`` holds, else b; the gradient reaches only the selected operand."""
    if not isinstance(condition, Tensor) or condition.dtype is not bool_:
        got = getattr(condition, "dtype", type(condition).__name__)
        raise TypeError(f"where: condition must be a bool Tensor, got {got}")
    like = (a if isinstance(a, Tensor) else b if isinstance(b, Tensor) else condition).dtype
    like = like if like.is_floating else None
    a, b = (as_tensor(v, like, "where") if like else as_tensor(v, op="where") for v in (a, b))
    require_floating(a, "where")
    require_floating(b, "where")
    shape = broadcast_shapes(condition.shape, a.shape, b.shape, op="where")
    c = expand_data(condition, shape)
    out = Tensor.from_flat(
        [x if ci else y for ci, x, y in zip(c, expand_data(a, shape), expand_data(b, shape))],
        shape,
        promote(a.dtype, b.dtype),
    )
    a_shape, b_shape = a.shape, b.shape

    def where_vjp(g: list) -> tuple[list, list]:
        ga = [gi if ci else 0.0 for ci, gi in zip(c, g)]
        gb = [0.0 if ci else gi for ci, gi in zip(c, g)]
        return unbroadcast(ga, shape, a_shape), unbroadcast(gb, shape, b_shape)

    return autograd.attach(out, (a, b), where_vjp)
