"""The Tensor: a flat row-major list of Python floats with a shape and a dtype (spec/tensor.md).

The data list of a tensor is never mutated after creation, so views (reshape, detach)
may share it. Arithmetic, reductions and the rest live in ``refdropout.ops``; the methods
here only dispatch to them.

Tensor and ``refdropout.ops`` import each other, deliberately: the operator overloads and
methods here (``x + y``, ``x.sum()``) call the ops, and every op builds its result as a
Tensor. Neither makes sense without the other, and splitting the circle would move either
the operators away from the class or the ops into it. The circle closes at the end of this
module (``from . import ops``), once the class exists for the ops to import; ``autograd``,
which records the graph the ops build, names Tensor in its types only. It is the package's
one import cycle (tests/test_architecture.py).
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from itertools import accumulate
from operator import mul
from typing import Any

from . import autograd
from .dtypes import DType, float64, get_dtype
from .shapes import Shape, numel
from .values import shown, to_float

__all__ = ["Tensor", "tensor"]


def _leading_shape(data: Any, name: str = "data") -> Shape:
    """The lengths down the first elements, len(data), len(data[0]), ...: the shape that nested
    data has if it is rectangular. A list that holds itself on that path has no shape."""
    shape, path = [], set()
    while isinstance(data, (list, tuple)):
        if id(data) in path:
            raise ValueError(f"Tensor: {name} holds itself: nested lists that contain themselves have no shape")
        path.add(id(data))
        shape.append(len(data))
        if not data:
            break
        data = data[0]
    return tuple(shape)


def _element(k: int, shape: Shape) -> str:
    """How the caller writes element k of the row-major order of ``shape``: data[i][j]..."""
    index = []
    for n in reversed(shape):
        k, i = divmod(k, n)
        index.append(f"[{i}]")
    return "data" + "".join(reversed(index))


def _parse_nested(data: Any) -> tuple[list, Shape]:
    """Flatten nested sequences of real numbers into (flat list, shape) (TENSOR-2).

    The shape is read down the first elements (``_leading_shape``); then, depth by depth, every
    element at depth d must be a list or tuple of length shape[d], and every element below the
    last a real number. Depth by depth rather than recursively, so that data of any depth converts.
    """
    shape = _leading_shape(data)
    level = [data]
    for depth, size in enumerate(shape):
        for k, item in enumerate(level):
            if not isinstance(item, (list, tuple)) or len(item) != size:
                _refuse(item, k, shape, depth)
        level = [v for item in level for v in item]
    for k, v in enumerate(level):
        if not isinstance(v, numbers.Real):
            _refuse(v, k, shape, len(shape))
    return level, shape


def _refuse(item: Any, k: int, shape: Shape, depth: int) -> None:
    """Raise for element k at ``depth``, which is not what data[0][0]... (at that depth) says it must be."""
    name = _element(k, shape[:depth])
    if not isinstance(item, (list, tuple, numbers.Real)):
        raise TypeError(f"Tensor: data must be a real number or nested lists of them, but {name} is a"
                        f" {type(item).__name__}")
    raise ValueError(f"Tensor: ragged nested data: {_element(0, shape[:depth])} has shape {shape[depth:]} but"
                     f" {name} has shape {_leading_shape(item, name)}")


def _as_floats(values: list, shape: Shape) -> list[float]:
    """The real numbers of data as floats; one beyond the float64 range is named (to_float)."""
    try:
        return [float(v) for v in values]
    except OverflowError:  # again, naming each value, to raise at the one that overflows
        return [to_float(v, f"Tensor: {_element(k, shape)}") for k, v in enumerate(values)]


def _identity(items: list) -> list:
    return items


def _nest(flat: list, shape: Shape, join: Callable[[list], Any] = _identity) -> Any:
    """Row-major values as nested rows of ``shape`` (TENSOR-1), built from the innermost axis out:
    each run of shape[d] consecutive items at depth d + 1 becomes one item ``join(run)`` at depth d.
    Level by level rather than recursively, so that a tensor of any number of axes converts."""
    counts = list(accumulate(shape, mul, initial=1))  # counts[d]: how many items lie at depth d
    items = flat
    for depth in range(len(shape) - 1, -1, -1):
        size = shape[depth]
        items = [join(items[i * size : (i + 1) * size]) for i in range(counts[depth])]
    return items[0]


def _bracketed(items: list[str]) -> str:
    return f"[{', '.join(items)}]"


class Tensor:
    """An n-dimensional array of floats that records the ops applied to it for autodiff."""

    __slots__ = ("data", "shape", "dtype", "requires_grad", "grad", "_parents", "_vjp", "__weakref__")

    def __init__(self, data: Any, dtype: DType | str | None = None, requires_grad: bool = False):
        if isinstance(data, Tensor):
            flat, shape = data.data, data.shape
            inferred = data.dtype
        else:
            flat, shape = _parse_nested(data)
            is_bool = bool(flat) and all(isinstance(v, bool) for v in flat)
            inferred = get_dtype("bool") if is_bool else float64
            flat = [bool(v) for v in flat] if is_bool else _as_floats(flat, shape)
        target = inferred if dtype is None else get_dtype(dtype)
        if target.is_floating:
            flat = target.round_all([float(v) for v in flat])
        else:
            flat = [bool(v) for v in flat]
        if not isinstance(requires_grad, bool):
            raise TypeError(f"Tensor: requires_grad must be a bool, got {shown(requires_grad)}")
        if requires_grad and not target.is_floating:
            raise TypeError(f"Tensor: only floating tensors can require gradients, not dtype {target.name}")
        self._init(flat, shape, target)
        self.requires_grad = requires_grad

    def _init(self, data: list, shape: Shape, dtype: DType) -> None:
        self.data = data
        self.shape = shape
        self.dtype = dtype
        self.requires_grad = False
        self.grad: Tensor | None = None
        self._parents: tuple[Tensor, ...] = ()
        self._vjp = None

    @classmethod
    def from_flat(cls, data: list, shape: Shape, dtype: DType | str = float64, *, rounded: bool = False) -> Tensor:
        """A tensor of ``shape`` over ``data``, a flat row-major list of prod(shape) values, taken
        as it is (not copied). Floating values are rounded to ``dtype`` unless ``rounded`` says that
        they already lie in it (values read from an array of that format): then nothing is done per
        element. The caller vouches for the length and, with ``rounded``, for the values."""
        dtype = get_dtype(dtype)
        out = cls.__new__(cls)
        out._init(dtype.round_all(data) if dtype.is_floating and not rounded else data, tuple(shape), dtype)
        return out

    # ---- inspection ---------------------------------------------------------------

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return numel(self.shape)

    def tolist(self) -> Any:
        """Nested Python lists (a bare number for a 0-d tensor)."""
        return _nest(self.data, self.shape)

    def item(self) -> float | bool:
        if self.size != 1:
            raise ValueError("item: only a tensor of one element converts to a number,"
                             f" this one has shape {self.shape}")
        return self.data[0]

    def __repr__(self) -> str:
        """``Tensor(<tolist()>, dtype=...)``. An empty tensor of two or more axes, whose nested lists
        would not show its shape (and may be astronomically many: shape (2**40, 0)), is written as
        NumPy writes it, ``Tensor([], shape=(2, 0), dtype=...)``."""
        grad = ", requires_grad=True" if self.requires_grad else ""
        if self.size == 0 and self.ndim > 1:
            shape = ", ".join(shown(n) for n in self.shape)
            return f"Tensor([], shape=({shape}), dtype={self.dtype.name}{grad})"
        values = _nest([repr(v) for v in self.data], self.shape, _bracketed)  # repr(tolist()), for any ndim
        return f"Tensor({values}, dtype={self.dtype.name}{grad})"

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __bool__(self) -> bool:
        return bool(self.item())

    def __float__(self) -> float:
        return float(self.item())

    __hash__ = object.__hash__  # == is elementwise, identity hashing stays

    # ---- autodiff -----------------------------------------------------------------

    def backward(self, gradient: Tensor | Sequence | float | None = None) -> None:
        """Accumulate d(self)/d(leaf) . gradient into every leaf's ``.grad`` (TENSOR-15)."""
        if not self.requires_grad:
            raise ValueError("backward: this tensor does not require grad and has no graph")
        if gradient is None:
            if self.size != 1:
                raise ValueError(f"backward: an implicit gradient needs a one-element output, not shape {self.shape};"
                                 " pass gradient=")
            upstream = [1.0]
        else:
            g = gradient if isinstance(gradient, Tensor) else Tensor(gradient)
            if g.shape != self.shape:
                raise ValueError(f"backward: gradient shape {g.shape} does not match output shape {self.shape}")
            upstream = [float(v) for v in g.data]
        autograd.backward(self, upstream)

    def _accumulate_grad(self, g: list) -> None:
        if self.grad is not None:
            g = [a + b for a, b in zip(self.grad.data, g)]
        self.grad = Tensor.from_flat(g, self.shape, self.dtype)

    def detach(self) -> Tensor:
        """The same values, cut from the graph (shares the immutable data list)."""
        return Tensor.from_flat(self.data, self.shape, self.dtype)

    def zero_grad(self) -> None:
        self.grad = None

    # ---- ops (defined in refdropout.ops) ---------------------------------------------

    def __add__(self, other): return ops.add(self, other)
    def __radd__(self, other): return ops.add(other, self)
    def __sub__(self, other): return ops.sub(self, other)
    def __rsub__(self, other): return ops.sub(other, self)
    def __mul__(self, other): return ops.mul(self, other)
    def __rmul__(self, other): return ops.mul(other, self)
    def __truediv__(self, other): return ops.div(self, other)
    def __rtruediv__(self, other): return ops.div(other, self)
    def __pow__(self, other): return ops.pow(self, other)
    def __rpow__(self, other): return ops.pow(other, self)
    def __matmul__(self, other): return ops.matmul(self, other)
    def __rmatmul__(self, other): return ops.matmul(other, self)
    def __neg__(self): return ops.neg(self)
    def __abs__(self): return ops.abs(self)
    def __eq__(self, other): return ops.equal(self, other)
    def __ne__(self, other): return ops.not_equal(self, other)
    def __lt__(self, other): return ops.less(self, other)
    def __le__(self, other): return ops.less_equal(self, other)
    def __gt__(self, other): return ops.greater(self, other)
    def __ge__(self, other): return ops.greater_equal(self, other)
    def __getitem__(self, key): return ops.getitem(self, key)

    def exp(self) -> Tensor: return ops.exp(self)
    def log(self) -> Tensor: return ops.log(self)
    def sqrt(self) -> Tensor: return ops.sqrt(self)
    def tanh(self) -> Tensor: return ops.tanh(self)
    def sigmoid(self) -> Tensor: return ops.sigmoid(self)
    def relu(self) -> Tensor: return ops.relu(self)

    def sum(self, axis=None, keepdims: bool = False) -> Tensor: return ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims: bool = False) -> Tensor: return ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims: bool = False) -> Tensor: return ops.max(self, axis, keepdims)

    def reshape(self, *shape) -> Tensor:
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def permute(self, *axes) -> Tensor:
        return ops.permute(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes)

    def transpose(self, axis0: int = -2, axis1: int = -1) -> Tensor: return ops.transpose(self, axis0, axis1)
    def broadcast_to(self, shape) -> Tensor: return ops.broadcast_to(self, shape)
    def expand(self, *sizes) -> Tensor: return ops.expand(self, *sizes)
    def astype(self, dtype) -> Tensor: return ops.astype(self, dtype)

    @property
    def T(self) -> Tensor:
        """The axes reversed (NumPy's ``.T``)."""
        return ops.permute(self, tuple(reversed(range(self.ndim))))


def tensor(data: Any, dtype: DType | str | None = None, requires_grad: bool = False) -> Tensor:
    """Create a tensor from a number or nested lists (alias of the constructor)."""
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


from . import ops  # noqa: E402  (ops import Tensor: bound after the class exists)
