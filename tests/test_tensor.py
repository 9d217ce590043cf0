"""spec/tensor.md: the reference engine against independent oracles (TENSOR-1 to TENSOR-18).

The oracle is never the engine itself: NumPy and scipy.special give values and shapes, ``struct``
packing and bit-level rules give the value formats, exact rational arithmetic (``fractions``)
gives sums, and hand-derived values give the kink conventions and the non-finite results.
Gradients are checked against central differences (``refdropout.gradcheck``) away from kinks, and
for the ops that only move values, against an exact scatter of the upstream gradient.
TENSOR-19 (standard library only) is tested in tests/test_packaging.py.
"""

from __future__ import annotations

import gc
import math
import re
import struct
import sys
import weakref
from fractions import Fraction

import numpy as np
import pytest
import scipy.integrate
import scipy.special
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import refdropout as rd
from refdropout import GradcheckError, Tensor, gradcheck
from refdropout.autograd import attach

# Pure Python is slow and its timing noisy: no per-example deadline.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# The SELU constants as spec/tensor.md (TENSOR-8) writes them.
SELU_LAMBDA = 1.0507009873554804934193349852946
SELU_ALPHA = 1.6732632423543772848170429916717

FLOATING = ("float64", "float32", "float16", "bfloat16")


# ---- conversions and comparisons --------------------------------------------------------------


def tensor_of(array, dtype=None, requires_grad: bool = False) -> Tensor:
    """The engine tensor of a NumPy array's values, built from nested lists (TENSOR-2)."""
    array = np.asarray(array, dtype=float)
    if array.size == 0:  # nested lists lose the trailing sizes of an empty array: reshape a flat one
        return Tensor([], dtype=dtype).reshape(array.shape).detach()
    return Tensor(array.tolist(), dtype=dtype, requires_grad=requires_grad)


def array_of(t: Tensor) -> np.ndarray:
    """A tensor's values as a NumPy array, read through ``tolist()`` (TENSOR-1)."""
    return np.array(t.tolist(), dtype=bool if t.dtype is rd.bool_ else float).reshape(t.shape)


def assert_equal_values(got: Tensor, expected) -> None:
    """Same shape and the same values (NaN matches NaN)."""
    expected = np.asarray(expected)
    assert got.shape == expected.shape
    np.testing.assert_array_equal(array_of(got), expected)


def assert_same_signs(got: Tensor, expected: np.ndarray) -> None:
    """The sign bits agree wherever neither value is NaN (so +0.0 and -0.0 are told apart)."""
    g = array_of(got)
    compared = ~(np.isnan(g) | np.isnan(expected))
    np.testing.assert_array_equal(np.signbit(g)[compared], np.signbit(expected)[compared])


def assert_within_ulps(got: Tensor, expected, ulps: float) -> None:
    """Same shape; each value within ``ulps`` units in the last place of the expected one."""
    expected = np.asarray(expected, dtype=float)
    assert got.shape == expected.shape
    g = array_of(got)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf; the spacing of inf
        close = np.abs(g - expected) <= ulps * np.spacing(np.abs(expected))
    agree = (g == expected) | (np.isnan(g) & np.isnan(expected)) | (np.isfinite(expected) & close)
    assert agree.all(), f"got {g[~agree]}, expected {expected[~agree]}"


def same_float(a: float, b: float) -> bool:
    """Equal with the same sign (so -0.0 differs from 0.0), or both NaN."""
    return (a != a and b != b) or (a == b and math.copysign(1.0, a) == math.copysign(1.0, b))


def exact_sum(values) -> float:
    """The correctly rounded sum: exact rational arithmetic, rounded once by ``float()``."""
    return float(sum(map(Fraction, values), Fraction(0)))


# ---- format oracles (TENSOR-5) ----------------------------------------------------------------

F32_OVERFLOW = (2 - 2**-24) * 2**127  # float32 max + half an ulp: ties to 2^128, i.e. inf
F16_OVERFLOW = 65520.0  # float16 max 65504 + half an ulp (32 / 2)
BF16_MAX = (2 - 2**-7) * 2**127


def round_float32(x: float) -> float:
    """C's (float) cast through ``struct``; past the overflow threshold struct raises, so inf by hand."""
    try:
        rounded = struct.unpack("<f", struct.pack("<f", x))[0]
    except OverflowError:
        assert abs(x) >= F32_OVERFLOW
        return math.copysign(math.inf, x)
    assert not abs(x) >= F32_OVERFLOW or math.isinf(x)
    return rounded


def round_float16(x: float) -> float:
    """IEEE binary16 through ``struct``'s 'e' format; it raises exactly where the result is inf."""
    try:
        rounded = struct.unpack("<e", struct.pack("<e", x))[0]
    except OverflowError:
        assert abs(x) >= F16_OVERFLOW
        return math.copysign(math.inf, x)
    assert not abs(x) >= F16_OVERFLOW or math.isinf(x)
    return rounded


def float32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def float32_from_bits(b: int) -> float:
    return struct.unpack("<f", struct.pack("<I", b))[0]


def round_bfloat16(x: float) -> float:
    """The bit rule on a float32-representable x: keep the upper 16 bits, rounded to nearest even."""
    b = float32_bits(x)
    return float32_from_bits(((b + 0x7FFF + ((b >> 16) & 1)) >> 16) << 16)


def round_bfloat16_from_float64(x: float) -> float:
    """The same bit rule on binary64 bits (52 - 7 = 45 bits dropped), exact in bfloat16's normal range."""
    assert x == 0.0 or math.isinf(x) or abs(x) >= 2.0**-126
    b = struct.unpack("<Q", struct.pack("<d", x))[0]
    rounded = struct.unpack("<d", struct.pack("<Q", ((b + (1 << 44) - 1 + ((b >> 45) & 1)) >> 45) << 45))[0]
    return math.copysign(math.inf, x) if abs(rounded) > BF16_MAX else rounded


ROUND_TO = {  # dtype: the oracle's rounding of a binary64 value to it
    "float64": float, "float32": round_float32, "float16": round_float16, "bfloat16": round_bfloat16_from_float64,
}


# ---- strategies -------------------------------------------------------------------------------

FINITE = st.floats(-1e3, 1e3)
WIDE = st.one_of(st.floats(-30, 30), st.floats(allow_nan=False, allow_infinity=False))
SHAPES = hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=5)
GRAD_SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)


def arrays(shape, elements=FINITE):
    return hnp.arrays(np.float64, shape, elements=elements)


def binade_floats(low: int, high: int):
    """Floats s * m * 2^e, 1 <= m < 2, with e in [low, high]: every exponent equally likely."""
    return st.builds(
        lambda sign, m, e: sign * math.ldexp(m, e),
        st.sampled_from([1.0, -1.0]), st.floats(1.0, 2.0, exclude_max=True), st.integers(low, high),
    )


def away_from_zero(low: float, high: float):
    """Floats with low <= |x| <= high, either sign: kept off the kink at 0."""
    return st.builds(lambda sign, m: sign * m, st.sampled_from([1.0, -1.0]), st.floats(low, high))


@st.composite
def axis_args(draw, ndim: int):
    """A reduction's ``axis``: None, an int or a tuple of distinct ints, each maybe negative."""
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none" or (kind == "int" and ndim == 0):
        return None
    if kind == "int":
        axes = [draw(st.integers(0, ndim - 1))]
    else:
        axes = draw(st.permutations(range(ndim)))[: draw(st.integers(0, ndim))]
    axes = [a - ndim if draw(st.booleans()) else a for a in axes]
    return axes[0] if kind == "int" else tuple(axes)


def normalized_axes(axis, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,))))


@st.composite
def reshapes(draw, size: int):
    """A shape of ``size`` elements, one entry maybe -1."""
    if size == 1 and draw(st.booleans()):
        return ()
    dims, rest = [], size
    for _ in range(draw(st.integers(0, 3))):
        d = draw(st.sampled_from([d for d in range(1, rest + 1) if rest % d == 0]))
        dims.append(d)
        rest //= d
    if rest != 1 or not dims or draw(st.booleans()):
        dims.append(rest)
    dims = draw(st.permutations(dims))
    if dims and draw(st.booleans()):
        dims[draw(st.integers(0, len(dims) - 1))] = -1
    return tuple(dims)


@st.composite
def basic_keys(draw, shape: tuple[int, ...]):
    """A NumPy basic index for ``shape``: ints, slices with steps, None and at most one Ellipsis."""
    ndim = len(shape)
    consumed = draw(st.integers(0, ndim))
    if draw(st.booleans()):  # with an Ellipsis: the first `lead` parts index leading axes, the rest trailing ones
        lead = draw(st.integers(0, consumed))
        axes = list(range(lead)) + list(range(ndim - consumed + lead, ndim))
        cut = lead
    else:
        axes, cut = list(range(consumed)), None
    parts: list = []
    for a in axes:
        n = shape[a]
        if draw(st.booleans()):
            parts.append(draw(st.integers(-n, n - 1)))
        else:
            bound = st.none() | st.integers(-n - 2, n + 2)
            step = st.none() | st.integers(-3, 3).filter(bool)
            parts.append(slice(draw(bound), draw(bound), draw(step)))
    if cut is not None:
        parts.insert(cut, Ellipsis)
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


# ---- TENSOR-1, TENSOR-2: layout and creation -------------------------------------------------


@pytest.mark.clause("TENSOR-1")
@relaxed
@given(arr=SHAPES.flatmap(arrays))
@example(arr=np.zeros((2, 0)))
@example(arr=np.zeros((1, 0, 3)))
def test_row_major_layout_matches_numpy(arr):
    t = tensor_of(arr)
    assert t.shape == arr.shape and t.ndim == arr.ndim and t.size == arr.size
    assert t.data == arr.ravel(order="C").tolist()
    assert t.tolist() == arr.tolist()
    # strides by the formula: s_{k-1} = 1, s_j = d_{j+1} s_{j+1}
    strides = [1] * arr.ndim
    for j in range(arr.ndim - 2, -1, -1):
        strides[j] = arr.shape[j + 1] * strides[j + 1]
    if arr.size:  # NumPy's strides of an empty array are arbitrary
        assert tuple(s * arr.itemsize for s in strides) == arr.strides
    for index in np.ndindex(*arr.shape):
        assert t.data[sum(i * s for i, s in zip(index, strides))] == arr[index]


@pytest.mark.clause("TENSOR-1")
@pytest.mark.parametrize("shape", [(), (1,), (1, 1, 1), (0,), (2,), (2, 1), (1, 0, 3)])
def test_item_needs_one_element(shape):
    t = Tensor([2.5] * math.prod(shape)).reshape(shape)
    if math.prod(shape) == 1:
        assert t.item() == 2.5 and float(t) == 2.5
        assert Tensor([True]).reshape(shape).item() is True
    else:
        with pytest.raises(ValueError, match="one element"):
            t.item()


@pytest.mark.clause("TENSOR-2")
@relaxed
@given(arr=SHAPES.flatmap(arrays), as_tuples=st.booleans(), flags=hnp.arrays(bool, st.integers(1, 6)))
def test_creation_round_trips_nested_lists(arr, as_tuples, flags):
    nested = arr.tolist()
    if as_tuples and isinstance(nested, list):
        def to_tuples(v):
            return tuple(map(to_tuples, v)) if isinstance(v, list) else v
        nested = to_tuples(nested)
    t = Tensor(nested)
    assert t.dtype is rd.float64 and t.shape == arr.shape and t.tolist() == arr.tolist()
    # integers become floats; bools alone make a bool tensor; bools mixed with numbers do not
    ints = Tensor([[1, -2], [3, 4]])
    assert ints.dtype is rd.float64 and ints.tolist() == [[1.0, -2.0], [3.0, 4.0]]
    assert all(type(v) is float for v in ints.data)
    masks = Tensor(flags.tolist())
    assert masks.dtype is rd.bool_ and masks.tolist() == flags.tolist()
    assert Tensor([True, 1.0]).dtype is rd.float64
    assert Tensor([]).shape == (0,) and Tensor([[], []]).shape == (2, 0)
    # dtype= rounds every value (TENSOR-5)
    assert Tensor(nested, dtype="float16").data == [round_float16(v) for v in arr.ravel().tolist()]


@pytest.mark.clause("TENSOR-2")
def test_creation_rejects_bad_data():
    with pytest.raises(ValueError, match=r"\(2,\).*\(1,\)"):
        Tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match=r"\(\).*\(1,\)"):
        Tensor([1.0, [2.0]])
    for bad, type_name in (("abc", "str"), ([1.0, None], "NoneType"), ([[1.0, 1 + 2j]], "complex"), ({1: 2}, "dict")):
        with pytest.raises(TypeError, match=type_name):
            Tensor(bad)


# ---- TENSOR-3: broadcasting -------------------------------------------------------------------


@pytest.mark.clause("TENSOR-3")
@relaxed
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=4, max_side=4),
    data=st.data(),
)
def test_broadcasting_matches_numpy(shapes, data):
    (s1, s2, s3), full = shapes
    x1, x2 = (data.draw(arrays(s, st.integers(-5, 5).map(float))) for s in (s1, s2))
    condition = data.draw(hnp.arrays(bool, s3))
    a, b, c = tensor_of(x1), tensor_of(x2), Tensor(condition.tolist())
    pair = np.broadcast_shapes(s1, s2)
    for op, oracle in ((rd.add, np.add), (rd.mul, np.multiply), (rd.maximum, np.maximum), (rd.less, np.less)):
        result = op(a, b)
        assert result.shape == pair
        assert_equal_values(result, oracle(x1, x2))
    assert_equal_values(rd.where(c, a, b), np.where(condition, x1, x2))
    assert_equal_values(rd.broadcast_to(a, full), np.broadcast_to(x1, full))
    # expand: -1 keeps the size of an existing axis
    lead = len(full) - len(s1)
    sizes = [-1 if j >= lead and s1[j - lead] == n and data.draw(st.booleans()) else n for j, n in enumerate(full)]
    assert_equal_values(rd.expand(a, *sizes), np.broadcast_to(x1, full))


@pytest.mark.clause("TENSOR-3")
@pytest.mark.parametrize("src, dst", [((3, 1), (3, 4)), ((4,), (2, 3, 4)), ((2, 1, 3), (2, 5, 3)), ((2, 3), (2, 3)),
                                      ((70_000, 1), (70_000, 2)), ((1, 1), (300, 300))])
def test_broadcast_index_is_numpys_and_keeps_no_large_map(src, dst):
    """The flat source position of every destination position is numpy's, whether the map is the
    identity (a range), small (cached) or beyond CACHED_POSITIONS (made at each call, never cached)."""
    from refdropout import shapes

    expected = np.broadcast_to(np.arange(math.prod(src)).reshape(src), dst).ravel()
    shapes._cached_broadcast_index.cache_clear()
    index = shapes.broadcast_index(src, dst)
    assert list(index) == expected.tolist()
    cached = shapes._cached_broadcast_index.cache_info().currsize
    assert cached == (src != dst and math.prod(dst) <= shapes.CACHED_POSITIONS)
    assert isinstance(index, range) == (src == dst)


def sum_to_shape(full: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum an array over the axes that broadcasting added to ``shape`` (leading or size 1)."""
    lead = full.ndim - len(shape)
    summed = full.sum(axis=tuple(range(lead))) if lead else full
    axes = tuple(j for j, n in enumerate(shape) if n == 1 and summed.shape[j] != 1)
    return summed.sum(axis=axes, keepdims=True) if axes else summed


@pytest.mark.clause("TENSOR-3")
@relaxed
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=4), data=st.data())
def test_broadcast_gradient_sums_back(shapes, data):
    (s1, s2), full = shapes
    integers = st.integers(-8, 8).map(float)  # integer values: every sum below is exact
    x1, x2, upstream = (data.draw(arrays(s, integers)) for s in (s1, s2, full))
    a1, a2, up = np.broadcast_to(x1, full), np.broadcast_to(x2, full), upstream
    partials = [  # (op, d op / d a, d op / d b), on the broadcast shape
        (rd.add, np.ones(full), np.ones(full)),
        (rd.sub, np.ones(full), -np.ones(full)),
        (rd.mul, a2, a1),
    ]
    for op, da, db in partials:
        a, b = tensor_of(x1, requires_grad=True), tensor_of(x2, requires_grad=True)
        op(a, b).backward(tensor_of(up))
        assert_equal_values(a.grad, sum_to_shape(up * da, s1))
        assert_equal_values(b.grad, sum_to_shape(up * db, s2))


@pytest.mark.clause("TENSOR-3")
@relaxed
@given(
    s1=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    s2=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(["add", "sub", "mul", "div", "pow", "maximum", "minimum", "equal", "less"]),
)
def test_incompatible_shapes_name_both(s1, s2, op):
    a, b = tensor_of(np.ones(s1)), tensor_of(np.full(s2, 2.0))
    try:
        expected = np.broadcast_shapes(s1, s2)
    except ValueError:
        with pytest.raises(ValueError) as error:
            getattr(rd, op)(a, b)
        message = str(error.value)
        assert op in message and str(s1) in message and str(s2) in message
    else:
        assert getattr(rd, op)(a, b).shape == expected


# ---- TENSOR-4: reshape, permute, join, index --------------------------------------------------


@pytest.mark.clause("TENSOR-4")
@relaxed
@given(data=st.data(), arr=SHAPES.flatmap(arrays))
def test_reshape_laws(data, arr):
    t = tensor_of(arr)
    shape = data.draw(reshapes(arr.size))
    reshaped = t.reshape(shape)
    expected = arr.reshape(shape)
    assert_equal_values(reshaped, expected)
    assert reshaped.data == t.data  # the row-major sequence is kept
    assert_equal_values(reshaped.reshape(arr.shape), arr)  # the round trip
    assert_equal_values(rd.reshape(t, -1), arr.ravel())
    with pytest.raises(ValueError, match="reshape"):
        t.reshape(arr.size + 1)


@pytest.mark.clause("TENSOR-4")
@relaxed
@given(data=st.data(), arr=SHAPES.flatmap(arrays))
def test_permute_and_transpose_laws(data, arr):
    t = tensor_of(arr)
    p = tuple(data.draw(st.permutations(range(arr.ndim))))
    assert_equal_values(t.permute(p), np.transpose(arr, p))
    assert_equal_values(t.permute(p).permute(tuple(int(i) for i in np.argsort(p))), arr)  # permute by p, then by p^-1
    assert_equal_values(t.T, arr.T)
    assert_equal_values(t.T.T, arr)
    if arr.ndim >= 2:
        i, j = (data.draw(st.integers(-arr.ndim, arr.ndim - 1)) for _ in range(2))
        assert_equal_values(t.transpose(i, j), np.swapaxes(arr, i, j))
        assert_equal_values(t.transpose(i, j).transpose(i, j), arr)  # a swap twice
        assert_equal_values(t.transpose(), np.swapaxes(arr, -2, -1))  # default: the last two axes
    with pytest.raises(ValueError, match="permute"):
        t.permute(tuple(range(arr.ndim + 1)))


@pytest.mark.clause("TENSOR-4")
@relaxed
@given(data=st.data(), base=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3), count=st.integers(1, 3))
def test_concatenate_and_stack_match_numpy(data, base, count):
    ndim = len(base)
    axis = data.draw(st.integers(-ndim, ndim - 1))
    joined = []
    for _ in range(count):
        shape = list(base)
        shape[axis] = data.draw(st.integers(1, 3))
        joined.append(data.draw(arrays(tuple(shape))))
    assert_equal_values(rd.concatenate([tensor_of(x) for x in joined], axis=axis), np.concatenate(joined, axis=axis))
    same = [data.draw(arrays(base)) for _ in range(count)]
    new_axis = data.draw(st.integers(-ndim - 1, ndim))
    assert_equal_values(rd.stack([tensor_of(x) for x in same], axis=new_axis), np.stack(same, axis=new_axis))
    mismatched = [tensor_of(np.ones(base)), tensor_of(np.ones(base[:-1] + (base[-1] + 1,)))]
    with pytest.raises(ValueError, match="stack"):
        rd.stack(mismatched)


@pytest.mark.clause("TENSOR-4")
@relaxed
@given(data=st.data(), arr=SHAPES.flatmap(arrays))
def test_basic_indexing_matches_numpy(data, arr):
    t = tensor_of(arr)
    key = data.draw(basic_keys(arr.shape))
    assert_equal_values(t[key], np.asarray(arr[key]))
    if arr.ndim:
        axis = data.draw(st.integers(0, arr.ndim - 1))
        n = arr.shape[axis]
        bad = data.draw(st.sampled_from([n, -n - 1]))
        key = (slice(None),) * axis + (bad,)
        with pytest.raises(IndexError):
            arr[key]  # the oracle agrees that it is out of range
        with pytest.raises(IndexError):
            t[key]


@st.composite
def movement_cases(draw):
    """(shapes of the inputs, engine op on tensors, NumPy op on arrays) for one movement op."""
    name = draw(st.sampled_from(
        ["reshape", "permute", "transpose", "T", "broadcast_to", "expand", "getitem", "concatenate", "stack", "astype"]
    ))
    shape = draw(hnp.array_shapes(min_dims=1 if name in ("transpose", "concatenate") else 0, max_dims=3, max_side=3))
    ndim = len(shape)
    if name == "reshape":
        new = draw(reshapes(math.prod(shape)))
        return [shape], lambda x: x.reshape(new), lambda x: x.reshape(new)
    if name == "permute":
        p = tuple(draw(st.permutations(range(ndim))))
        return [shape], lambda x: x.permute(p), lambda x: np.transpose(x, p)
    if name == "transpose":
        i, j = draw(st.integers(0, ndim - 1)), draw(st.integers(0, ndim - 1))
        return [shape], lambda x: x.transpose(i, j), lambda x: np.swapaxes(x, i, j)
    if name == "T":
        return [shape], lambda x: x.T, lambda x: x.T
    if name in ("broadcast_to", "expand"):
        lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
        target = lead + tuple(draw(st.integers(1, 3)) if n == 1 else n for n in shape)
        if name == "broadcast_to":
            return [shape], lambda x: rd.broadcast_to(x, target), lambda x: np.broadcast_to(x, target)
        sizes = lead + tuple(-1 if n == m and draw(st.booleans()) else n for n, m in zip(target[len(lead):], shape))
        return [shape], lambda x: x.expand(*sizes), lambda x: np.broadcast_to(x, target)
    if name == "getitem":
        key = draw(basic_keys(shape))
        return [shape], lambda x: x[key], lambda x: np.asarray(x[key])
    if name == "astype":
        return [shape], lambda x: x.astype("float32"), lambda x: x
    axis = draw(st.integers(-ndim, ndim - 1)) if name == "concatenate" else draw(st.integers(-ndim - 1, ndim))
    count = draw(st.integers(1, 3))
    shapes = [tuple(draw(st.integers(1, 3)) if j == axis % ndim else n for j, n in enumerate(shape))
              for _ in range(count)] if name == "concatenate" else [shape] * count
    join, oracle = (rd.concatenate, np.concatenate) if name == "concatenate" else (rd.stack, np.stack)
    return shapes, lambda *xs: join(list(xs), axis=axis), lambda *xs: oracle(xs, axis=axis)


@pytest.mark.clause("TENSOR-4")
@relaxed
@given(case=movement_cases(), data=st.data())
def test_movement_vjps(case, data):
    """Every upstream gradient element goes back to the position its value came from.

    The oracle runs the op on the positions themselves (0, 1, 2, ... across all inputs): the
    output then says where each value came from, and the gradient is the upstream gradient
    scattered, and summed where a value was repeated, onto those positions (np.bincount).
    """
    shapes, engine_op, numpy_op = case
    sizes = [math.prod(s) for s in shapes]
    offsets = np.cumsum([0] + sizes)
    positions = [np.arange(o, o + n).reshape(s) for o, n, s in zip(offsets, sizes, shapes)]
    source = np.asarray(numpy_op(*positions))
    inputs = [tensor_of(p + 0.5, requires_grad=True) for p in positions]  # values in float32 exactly
    out = engine_op(*inputs)
    assert_equal_values(out, source + 0.5)
    upstream = data.draw(arrays(source.shape, st.integers(-9, 9).map(float)))
    out.backward(tensor_of(upstream))
    scattered = np.bincount(source.ravel(), weights=upstream.ravel(), minlength=offsets[-1])
    for t, o, n, s in zip(inputs, offsets, sizes, shapes):
        assert_equal_values(t.grad, scattered[o : o + n].reshape(s))


# ---- TENSOR-5: rounding to a binary format ----------------------------------------------------


@pytest.mark.clause("TENSOR-5")
@relaxed
@given(x=st.one_of(st.floats(allow_nan=False), st.floats(width=32), binade_floats(-155, 130)))
@example(x=F32_OVERFLOW)
@example(x=sys.float_info.max)
@example(x=math.nextafter(F32_OVERFLOW, 0.0))
@example(x=-F32_OVERFLOW)
def test_float32_rounding_matches_struct(x):
    assert same_float(Tensor(x, dtype="float32").item(), round_float32(x))
    assert same_float(Tensor([x], dtype=rd.float32).data[0], round_float32(x))


@pytest.mark.clause("TENSOR-5")
@relaxed
@given(x=st.one_of(st.floats(allow_nan=False), st.floats(width=16), binade_floats(-30, 17)))
@example(x=F16_OVERFLOW)
@example(x=-sys.float_info.max)
@example(x=math.nextafter(F16_OVERFLOW, 0.0))
@example(x=-F16_OVERFLOW)
def test_float16_rounding_matches_struct(x):
    assert same_float(Tensor(x, dtype="float16").item(), round_float16(x))


@pytest.mark.clause("TENSOR-5")
@relaxed
@given(x=st.one_of(
    st.floats(width=32, allow_nan=False),
    binade_floats(-150, 128).map(lambda v: round_float32(v)).filter(lambda v: not math.isinf(v)),
    st.integers(0, 2**32 - 1).map(float32_from_bits).filter(lambda v: v == v),  # every bit pattern
))
def test_bfloat16_rounding_matches_bit_rule(x):
    assert same_float(Tensor(x, dtype="bfloat16").item(), round_bfloat16(x))


def format_ties(precision: int) -> list[tuple[float, float]]:
    """(x, its rounding) at exact ties of a format of ``precision`` significand bits, by hand.

    Near 1 the spacing is u = 2^(1-P): 1 + u/2 lies halfway between 1 (even) and 1 + u (odd).
    """
    half = 2.0**-precision  # u / 2
    u = 2 * half
    return [
        (1 + half, 1.0),  # tie: down to the even neighbour 1
        (1 + 3 * half, 1 + 2 * u),  # tie between 1 + u (odd) and 1 + 2u (even): up
        (1 + 5 * half, 1 + 2 * u),  # tie between 1 + 2u (even) and 1 + 3u: down
        (math.nextafter(1 + half, 2.0), 1 + u),  # just past the tie: up
        (math.nextafter(1 + half, 0.0), 1.0),  # just short of it: down
        (-(1 + half), -1.0),
        (-(1 + 3 * half), -(1 + 2 * u)),
        (2 - half, 2.0),  # between the largest value below 2 (odd: all ones) and 2
        (2.0**10 * (1 + 3 * half), 2.0**10 * (1 + 2 * u)),  # ties scale with the binade
        (2.0**-10 * (1 + half), 2.0**-10),
    ]


@pytest.mark.clause("TENSOR-5")
@pytest.mark.parametrize("dtype, precision", [("float32", 24), ("float16", 11), ("bfloat16", 8)])
def test_rounding_ties_go_to_even(dtype, precision):
    for x, expected in format_ties(precision):
        assert same_float(Tensor(x, dtype=dtype).item(), expected), (dtype, x)
        assert same_float(ROUND_TO[dtype](x), expected), (dtype, x)  # and so do the other tests' oracles


@pytest.mark.clause("TENSOR-5")
@pytest.mark.parametrize(
    "dtype, precision, emax, max_value, tiny",
    [
        ("float64", 53, 1023, 1.7976931348623157e308, 2.0**-1074),
        ("float32", 24, 127, 3.4028234663852886e38, 2.0**-149),
        ("float16", 11, 15, 65504.0, 2.0**-24),
        ("bfloat16", 8, 127, 3.3895313892515355e38, 2.0**-133),
    ],
)
def test_overflow_and_subnormals(dtype, precision, emax, max_value, tiny):
    """The table of TENSOR-5, and the values around its overflow threshold and its subnormals."""
    def rounded(x: float) -> float:
        return Tensor(x, dtype=dtype).item()

    emin = 1 - emax
    assert max_value == (2 - 2.0 ** (1 - precision)) * 2.0**emax
    assert tiny == 2.0 ** (emin - precision + 1)
    assert rounded(max_value) == max_value and rounded(-max_value) == -max_value
    assert rounded(tiny) == tiny and rounded(-tiny) == -tiny
    assert rounded(2.0**emin) == 2.0**emin  # smallest normal
    assert rounded(2.0**emin - tiny) == 2.0**emin - tiny  # largest subnormal
    for special in (math.inf, -math.inf, 0.0, -0.0):
        assert same_float(rounded(special), special)
    assert math.isnan(rounded(math.nan))
    if dtype == "float64":
        return
    midpoint = max_value + 2.0 ** (emax - precision)  # halfway to 2^(emax+1): ties to even, i.e. inf
    assert rounded(midpoint) == math.inf and rounded(-midpoint) == -math.inf
    assert rounded(math.nextafter(midpoint, 0.0)) == max_value
    assert rounded(2.0 ** (emax + 1)) == math.inf and rounded(-1e308) == -math.inf
    assert rounded(sys.float_info.max) == math.inf and rounded(-sys.float_info.max) == -math.inf
    assert same_float(rounded(tiny / 2), 0.0)  # a tie between 0 (even) and tiny: 0, sign kept
    assert same_float(rounded(-tiny / 2), -0.0)
    assert same_float(rounded(-tiny / 4), -0.0)
    assert rounded(math.nextafter(tiny / 2, 1.0)) == tiny
    assert rounded(1.5 * tiny) == 2 * tiny  # tie between tiny (odd) and 2 tiny (even)
    assert rounded(2.5 * tiny) == 2 * tiny
    assert rounded(3.5 * tiny) == 4 * tiny
    assert rounded(2.0**emin - tiny / 2) == 2.0**emin  # tie between the largest subnormal (odd) and 2^emin
    assert same_float(rounded(-5e-324), -0.0)


# ---- TENSOR-6, TENSOR-7: reduced precision and promotion ---------------------------------------


def bfloat16_values():
    """Every bfloat16 bit pattern but NaN, and values of moderate exponent."""
    return st.one_of(
        st.integers(0, 0xFFFF).map(lambda h: float32_from_bits(h << 16)),
        binade_floats(-20, 20).map(round_bfloat16_from_float64),
    ).filter(lambda v: v == v)


REDUCED = {  # dtype: the values of the format
    "float32": st.floats(width=32, allow_nan=False),
    "float16": st.floats(width=16, allow_nan=False),
    "bfloat16": bfloat16_values(),
}
BINARY64 = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}


@pytest.mark.clause("TENSOR-6")
@relaxed
@given(dtype=st.sampled_from(sorted(REDUCED)), op=st.sampled_from(["add", "sub", "mul", "div", "sqrt", "sum"]),
       data=st.data())
def test_reduced_dtype_ops_round_once(dtype, op, data):
    values, round_to = REDUCED[dtype], ROUND_TO[dtype]
    if op == "sum":  # non-finite sums are TENSOR-9's; here the exact sum must exist
        values = values.filter(math.isfinite)
    a = data.draw(st.lists(values, min_size=1, max_size=4))
    b = data.draw(st.lists(values, min_size=len(a), max_size=len(a)))
    x, y = Tensor(a, dtype=dtype), Tensor(b, dtype=dtype)
    assert x.data == a and y.data == b  # the operands are values of the format
    with np.errstate(all="ignore"):
        if op == "sqrt":
            got, binary64 = rd.sqrt(x), np.sqrt(a)
        elif op == "sum":
            got, binary64 = rd.sum(x, keepdims=True), [exact_sum(a)]
        else:
            got, binary64 = getattr(rd, op)(x, y), BINARY64[op](np.array(a), np.array(b))
    assert got.dtype.name == dtype
    for g, v in zip(got.data, map(float, binary64)):
        if dtype == "bfloat16" and 0.0 < abs(v) < 2.0**-126:
            continue  # below bfloat16's normal range the bit-rule oracle does not hold; TENSOR-5 covers it
        expected = v if v != v else round_to(v)
        # (an exact sum of zero has no sign to compare)
        assert same_float(g, expected) or (op == "sum" and g == expected == 0.0), (a, b, g, expected)


@pytest.mark.clause("TENSOR-6")
@relaxed
@given(arr=arrays(hnp.array_shapes(max_dims=2, max_side=4), st.floats(allow_nan=False)),
       upstream=st.floats(-4, 4))
@example(arr=np.array([sys.float_info.max, -sys.float_info.max]), upstream=1.0)
def test_astype_rounds(arr, upstream):
    x = tensor_of(arr, requires_grad=True)
    half = x.astype("float16")
    assert half.dtype is rd.float16 and half.data == [round_float16(v) for v in arr.ravel().tolist()]
    assert x.astype(rd.float32).data == [round_float32(v) for v in arr.ravel().tolist()]
    assert x.astype("bool").data == [v != 0.0 for v in arr.ravel().tolist()]
    assert x.astype("bool").requires_grad is False
    assert Tensor([math.nan, -0.0]).astype("bool").tolist() == [True, False]
    assert Tensor([True, False]).astype("float16").tolist() == [1.0, 0.0]
    # between floating formats the VJP is g
    half.backward(tensor_of(np.full(arr.shape, upstream), dtype="float16"))
    assert x.grad.data == [round_float16(upstream)] * arr.size
    # a leaf's .grad is rounded to the leaf's dtype
    leaf = Tensor([1.0, 2.0], dtype="float16", requires_grad=True)
    rd.sum(leaf.astype("float64") * 0.1).backward()
    assert leaf.grad.dtype is rd.float16 and leaf.grad.data == [round_float16(0.1)] * 2


@pytest.mark.clause("TENSOR-6")
@pytest.mark.parametrize("make", [
    lambda: Tensor(1.0, dtype="float8"),
    lambda: Tensor([1.0]).astype("int32"),
    lambda: Tensor([1.0], dtype="Float32"),
])
def test_unknown_dtype_lists_known(make):
    with pytest.raises(ValueError) as error:
        make()
    for known in ("float64", "float32", "float16", "bfloat16", "bool"):
        assert known in str(error.value)


PROMOTION = {  # TENSOR-7, written out by hand
    ("float64", "float64"): "float64", ("float64", "float32"): "float64", ("float64", "float16"): "float64",
    ("float64", "bfloat16"): "float64", ("float32", "float32"): "float32", ("float32", "float16"): "float32",
    ("float32", "bfloat16"): "float32", ("float16", "float16"): "float16", ("bfloat16", "bfloat16"): "bfloat16",
    ("float16", "bfloat16"): "float32",
}


@pytest.mark.clause("TENSOR-7")
@pytest.mark.parametrize("left, right", [(a, b) for a in FLOATING for b in FLOATING])
def test_type_promotion_table(left, right):
    expected = PROMOTION.get((left, right)) or PROMOTION[(right, left)]
    a, b = Tensor([1.5, 3.0], dtype=left), Tensor([0.1, 0.7], dtype=right)
    for op in (rd.add, rd.sub, rd.mul, rd.div, rd.pow, rd.maximum, rd.minimum):
        assert op(a, b).dtype.name == expected, op
    assert rd.where(Tensor([True, False]), a, b).dtype.name == expected
    assert rd.less(a, b).dtype is rd.bool_
    product = rd.mul(a, b)  # computed in binary64 from the operands' values, rounded once to the result
    assert product.data == [ROUND_TO[expected](x * y) for x, y in zip(a.data, b.data)]


@pytest.mark.clause("TENSOR-7")
@relaxed
@given(values=st.lists(st.floats(-65504, 65504, width=16), min_size=1, max_size=6),
       scalar=st.one_of(st.floats(-100, 100), st.integers(-100, 100)))
def test_python_scalars_are_weak(values, scalar):
    x = Tensor(values, dtype="float16")
    weak = round_float16(float(scalar))
    for got in (x * scalar, scalar * x):
        assert got.dtype is rd.float16
        assert got.data == [round_float16(v * weak) for v in values]
    assert (scalar - x).data == [round_float16(weak - v) for v in values]
    # 3 * round16(0.1) and 3 * 0.1 round to different float16 values: the scalar is rounded first
    assert (Tensor([3.0], dtype="float16") * 0.1).item() == round_float16(3.0 * round_float16(0.1)) == 0.2998046875
    assert round_float16(3.0 * 0.1) != 0.2998046875
    assert (Tensor([1.0], dtype="float32") + 0.1).item() == round_float32(1.0 + round_float32(0.1))


@pytest.mark.clause("TENSOR-7")
@pytest.mark.parametrize("op", [
    lambda b, f: b + b, lambda b, f: b + 1.0, lambda b, f: f * b, lambda b, f: b / f, lambda b, f: -b,
    lambda b, f: rd.exp(b), lambda b, f: rd.sum(b), lambda b, f: rd.matmul(b, b), lambda b, f: rd.maximum(b, f),
    lambda b, f: rd.relu(b), lambda b, f: rd.softmax(b),
])
def test_bool_arithmetic_raises(op):
    with pytest.raises(TypeError, match="bool"):
        op(Tensor([True, False]), Tensor([1.0, 2.0]))


# ---- TENSOR-8: op values -----------------------------------------------------------------------


def elu_oracle(x, alpha=1.0):
    return np.where(x > 0, x, alpha * np.expm1(x))


UNARY = {  # name: (engine op, NumPy expression of the definition, ulps)
    "neg": (rd.neg, np.negative, 0),
    "abs": (rd.abs, np.abs, 0),
    "relu": (rd.relu, lambda x: np.maximum(x, 0.0), 0),
    "exp": (rd.exp, np.exp, 2),
    "log": (rd.log, np.log, 2),
    "sqrt": (rd.sqrt, np.sqrt, 0),
    "tanh": (rd.tanh, np.tanh, 2),
    "sigmoid": (rd.sigmoid, scipy.special.expit, 4),
    "elu": (rd.elu, elu_oracle, 2),
    "selu": (rd.selu, lambda x: SELU_LAMBDA * elu_oracle(x, SELU_ALPHA), 4),
}


@pytest.mark.clause("TENSOR-8")
@relaxed
@given(name=st.sampled_from(sorted(UNARY)), x=SHAPES.flatmap(lambda s: arrays(s, WIDE)))
def test_unary_ops_match_numpy(name, x):
    op, oracle, ulps = UNARY[name]
    with np.errstate(all="ignore"):
        expected = oracle(x)
    got = op(tensor_of(x))
    assert got.dtype is rd.float64
    assert_within_ulps(got, expected, ulps)
    if name == "neg":
        assert_same_signs(got, expected)


BINARY = {  # name: (engine op, NumPy op, ulps)
    "add": (rd.add, np.add, 0),
    "sub": (rd.sub, np.subtract, 0),
    "mul": (rd.mul, np.multiply, 0),
    "div": (rd.div, np.divide, 0),
    "pow": (rd.pow, np.power, 2),
    "maximum": (rd.maximum, np.maximum, 0),
    "minimum": (rd.minimum, np.minimum, 0),
}
OPERANDS = st.one_of(st.floats(-100, 100), st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0, -3.0, 0.5]), WIDE)


@pytest.mark.clause("TENSOR-8")
@relaxed
@given(name=st.sampled_from(sorted(BINARY)), data=st.data(),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=4))
def test_binary_ops_match_numpy(name, shapes, data):
    op, oracle, ulps = BINARY[name]
    (s1, s2), _ = shapes
    x1, x2 = data.draw(arrays(s1, OPERANDS)), data.draw(arrays(s2, OPERANDS))
    with np.errstate(all="ignore"):
        expected = oracle(x1, x2)
    got = op(tensor_of(x1), tensor_of(x2))
    assert_within_ulps(got, expected, ulps)
    if name in ("add", "sub", "mul", "div"):  # correctly rounded IEEE arithmetic, signed zeros included
        assert_same_signs(got, expected)


SPECIALS = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, math.nan, math.inf, -math.inf])


@pytest.mark.clause("TENSOR-8")
@relaxed
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=4), data=st.data())
def test_comparisons_and_where_match_numpy(shapes, data):
    (s1, s2, s3), _ = shapes
    x1, x2 = data.draw(arrays(s1, SPECIALS)), data.draw(arrays(s2, SPECIALS))
    condition = data.draw(hnp.arrays(bool, s3))
    a, b = tensor_of(x1, requires_grad=True), tensor_of(x2)
    for op, oracle in ((rd.equal, np.equal), (rd.not_equal, np.not_equal), (rd.less, np.less),
                       (rd.less_equal, np.less_equal), (rd.greater, np.greater), (rd.greater_equal, np.greater_equal)):
        got = op(a, b)
        assert got.dtype is rd.bool_ and got.requires_grad is False
        assert_equal_values(got, oracle(x1, x2))
    assert_equal_values(a == b, np.equal(x1, x2))
    assert_equal_values(a < 1.0, np.less(x1, 1.0))
    assert_equal_values(rd.where(Tensor(condition.tolist()), a, b), np.where(condition, x1, x2))
    assert_equal_values(rd.where(Tensor(condition.tolist()), 1.5, b), np.where(condition, 1.5, x2))


@pytest.mark.clause("TENSOR-8")
@relaxed
@given(x=st.floats(-40, 40), alpha=st.floats(0.05, 3.0))
def test_activations_match_definitions(x, alpha):
    t = Tensor([x])
    expected = x if x > 0 else alpha * math.expm1(x)
    assert math.isclose(rd.elu(t, alpha=alpha).item(), expected, rel_tol=4e-16, abs_tol=0.0)
    assert math.isclose(rd.selu(t).item(), SELU_LAMBDA * (x if x > 0 else SELU_ALPHA * math.expm1(x)), rel_tol=6e-16)
    assert math.isclose(rd.sigmoid(t).item(), 1 / (1 + math.exp(-x)), rel_tol=1e-15)
    assert rd.relu(t).item() == max(x, 0.0)
    assert rd.selu(Tensor([1.0])).item() == SELU_LAMBDA
    assert rd.elu(Tensor([-math.inf]), alpha=alpha).item() == -alpha
    assert rd.sigmoid(Tensor([0.0])).item() == 0.5


@pytest.mark.clause("TENSOR-8")
def test_selu_constants_self_normalise():
    """With the spec's λ and α, selu maps N(0, 1) to mean 0 and variance 1 (Klambauer et al. 2017, eq. 14)."""
    def selu(z: float) -> float:
        return rd.selu(Tensor([z])).item()

    def moment(k: int) -> float:
        def weighted(z: float) -> float:  # selu(z)^k times the standard normal density
            return selu(z) ** k * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

        return sum(scipy.integrate.quad(weighted, lo, hi, epsabs=1e-13, epsrel=1e-13)[0]
                   for lo, hi in ((-math.inf, 0.0), (0.0, math.inf)))

    assert abs(moment(1)) < 1e-9
    assert abs(moment(2) - 1.0) < 1e-9


# ---- TENSOR-9: non-finite values ------------------------------------------------------------------

inf, nan = math.inf, math.nan
NON_FINITE = [  # (expression, its IEEE 754 / C99 Annex F value)
    ("div(1, 0)", lambda: rd.div(Tensor([1.0]), 0.0), [inf]),
    ("div(-1, 0)", lambda: rd.div(Tensor([-1.0]), 0.0), [-inf]),
    ("div(1, -0)", lambda: rd.div(Tensor([1.0]), -0.0), [-inf]),
    ("div(0, 0)", lambda: rd.div(Tensor([0.0]), 0.0), [nan]),
    ("log(0)", lambda: rd.log(Tensor([0.0, -0.0])), [-inf, -inf]),
    ("log(x < 0)", lambda: rd.log(Tensor([-1.0, -inf])), [nan, nan]),
    ("sqrt(x < 0)", lambda: rd.sqrt(Tensor([-1.0, -inf])), [nan, nan]),
    ("exp overflows", lambda: rd.exp(Tensor([1000.0, inf, -inf])), [inf, inf, 0.0]),
    ("pow(0, y < 0)", lambda: rd.pow(Tensor([0.0, 0.0, -0.0]), Tensor([-1.0, -0.5, -1.0])), [inf, inf, -inf]),
    ("pow(x < 0, non-integer)", lambda: rd.pow(Tensor([-8.0]), 1 / 3), [nan]),
    ("pow overflows", lambda: rd.pow(Tensor([2.0, -2.0]), Tensor([1e4, 10001.0])), [inf, -inf]),
    ("0 * inf", lambda: rd.mul(Tensor([0.0]), inf), [nan]),
    ("inf - inf", lambda: rd.sub(Tensor([inf]), inf), [nan]),
    ("maximum(nan, x)", lambda: rd.maximum(Tensor([nan, 1.0]), Tensor([1.0, nan])), [nan, nan]),
    ("minimum(nan, x)", lambda: rd.minimum(Tensor([nan, 1.0]), Tensor([1.0, nan])), [nan, nan]),
    ("max of nan", lambda: rd.max(Tensor([[1.0, nan, 3.0], [1.0, 2.0, inf]]), axis=1), [nan, inf]),
    ("tanh, sigmoid at inf", lambda: rd.concatenate([rd.tanh(Tensor([inf, -inf])), rd.sigmoid(Tensor([inf, -inf]))]),
     [1.0, -1.0, 1.0, 0.0]),
    ("relu, elu at inf and nan", lambda: rd.concatenate([rd.relu(Tensor([-inf, nan])), rd.elu(Tensor([-inf, inf]))]),
     [0.0, nan, -1.0, inf]),
    ("sum with inf", lambda: rd.sum(Tensor([inf, 1.0, 2.0])), [inf]),
    ("sum with nan", lambda: rd.sum(Tensor([nan, 1.0])), [nan]),
    ("sum overflows", lambda: rd.sum(Tensor([1e308, 1e308])), [inf]),
    ("sum of inf and -inf", lambda: rd.sum(Tensor([inf, -inf])), [nan]),
    ("mean of inf and -inf", lambda: rd.mean(Tensor([inf, -inf, 1.0])), [nan]),
    ("matmul overflows", lambda: rd.matmul(Tensor([1e308, 1e308]), Tensor([1.0, 1.0])), [inf]),
    ("matmul of inf and -inf", lambda: rd.matmul(Tensor([[inf, -inf]]), Tensor([[1.0], [1.0]])).reshape(-1), [nan]),
    ("mse_loss overflows", lambda: rd.mse_loss(Tensor([1e154, 1e154]), Tensor([0.0, 0.0]), reduction="sum"), [inf]),
]


@pytest.mark.clause("TENSOR-9")
@pytest.mark.parametrize("expression, expected", [case[1:] for case in NON_FINITE], ids=[c[0] for c in NON_FINITE])
def test_non_finite_values_are_data(expression, expected):
    got = expression()
    values = got.data if got.shape else [got.item()]
    assert len(values) == len(expected)
    assert all(same_float(g, e) for g, e in zip(values, expected)), (values, expected)


# ---- TENSOR-10: kinks ----------------------------------------------------------------------------


def gradient_of(fn, *values: list[float], upstream=None) -> list[list[float]]:
    """The gradients backward puts in each input's .grad."""
    inputs = [Tensor(v, requires_grad=True) for v in values]
    out = fn(*inputs)
    out.backward(upstream)
    return [x.grad.data for x in inputs]


KINKS = {  # convention: (function, inputs, upstream gradient, expected gradients), derived by hand
    "relu'(0) = 0": (rd.relu, [[0.0, -0.0, 2.0]], [1.0, 1.0, 1.0], [[0.0, 0.0, 1.0]]),
    "abs'(0) = 0": (rd.abs, [[0.0, -0.0, -2.0]], [1.0, 1.0, 1.0], [[0.0, 0.0, -1.0]]),
    "elu'(0) = alpha": (lambda x: rd.elu(x, alpha=0.25), [[0.0]], [2.0], [[0.5]]),
    "selu'(0) = lambda alpha": (rd.selu, [[0.0]], [1.0], [[SELU_LAMBDA * SELU_ALPHA]]),
    "maximum tie: g/2 each": (rd.maximum, [[2.0, 1.0], [2.0, 3.0]], [3.0, 1.0], [[1.5, 0.0], [1.5, 1.0]]),
    "minimum tie: g/2 each": (rd.minimum, [[2.0, 1.0], [2.0, 3.0]], [3.0, 1.0], [[1.5, 1.0], [1.5, 0.0]]),
    "max tie among 3: g/3 each": (rd.max, [[2.0, 7.0, 7.0, 1.0, 7.0]], 1.0, [[0.0, 1 / 3, 1 / 3, 0.0, 1 / 3]]),
    "max tie along an axis": (lambda x: rd.max(x.reshape(2, 2), axis=1, keepdims=True), [[4.0, 4.0, 3.0, 5.0]],
                              [[6.0], [1.0]], [[3.0, 3.0, 0.0, 1.0]]),
    "sqrt'(0) = inf": (rd.sqrt, [[0.0, 4.0]], [1.0, 1.0], [[inf, 0.25]]),
    "d(a^b)/db = 0 at a = 0": (rd.pow, [[0.0, 0.0], [2.0, 0.5]], [1.0, 1.0], [[0.0, inf], [0.0, 0.0]]),
}


@pytest.mark.clause("TENSOR-10")
@pytest.mark.parametrize("convention", sorted(KINKS))
def test_kink_conventions(convention):
    fn, values, upstream, expected = KINKS[convention]
    upstream = None if isinstance(upstream, float) else Tensor(upstream)
    got = gradient_of(fn, *values, upstream=upstream)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert len(g) == len(e) and all(a == b for a, b in zip(g, e)), (g, e)


@pytest.mark.clause("TENSOR-10")
def test_no_gradient_flows_through_a_comparison():
    x = Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    mask = x > 0.0
    assert mask.requires_grad is False and mask._parents == () and mask._vjp is None
    rd.sum(rd.where(mask, x * 3.0, x * x)).backward()  # the selection is data, not a function of x
    assert x.grad.data == [-2.0, 3.0, 3.0]


# ---- TENSOR-11: reductions ----------------------------------------------------------------------


def reduce_with(arr: np.ndarray, axis, keepdims: bool, fn) -> np.ndarray:
    """Apply ``fn`` to the values of each reduced group, grouping with NumPy."""
    axes = normalized_axes(axis, arr.ndim)
    kept = [j for j in range(arr.ndim) if j not in axes]
    kept_shape = tuple(arr.shape[j] for j in kept)
    groups = np.transpose(arr, kept + list(axes)).reshape(kept_shape + (-1,))
    out = np.empty(kept_shape)
    for index in np.ndindex(*kept_shape):
        out[index] = fn(groups[index].tolist())
    return out.reshape(tuple(1 if j in axes else n for j, n in enumerate(arr.shape))) if keepdims else out


@pytest.mark.clause("TENSOR-11")
@relaxed
@given(data=st.data(), arr=SHAPES.flatmap(lambda s: arrays(s, st.floats(-1e6, 1e6))), keepdims=st.booleans())
def test_reductions_match_numpy(data, arr, keepdims):
    axis = data.draw(axis_args(arr.ndim))
    t = tensor_of(arr)
    for op, oracle, exact in ((rd.sum, np.sum, exact_sum), (rd.mean, np.mean, lambda v: exact_sum(v) / len(v)),
                              (rd.max, np.max, max)):
        got = op(t, axis=axis, keepdims=keepdims)
        expected = oracle(arr, axis=axis, keepdims=keepdims)
        assert got.shape == np.shape(expected)
        np.testing.assert_allclose(array_of(got), expected, rtol=1e-12, atol=1e-6)
        assert_equal_values(got, reduce_with(arr, axis, keepdims, exact))
    assert_equal_values(t.sum(axis, keepdims), reduce_with(arr, axis, keepdims, exact_sum))  # the method spelling


SUMMANDS = st.lists(st.one_of(st.floats(-1e300, 1e300), st.floats(-1, 1), st.integers(-9, 9).map(float)),
                   min_size=1, max_size=40)


@pytest.mark.clause("TENSOR-11")
@relaxed
@given(case=SUMMANDS.flatmap(lambda v: st.tuples(st.just(v), st.lists(st.permutations(v), min_size=1, max_size=3))))
@example(case=([1e16, 1.0, -1e16], [[1.0, 1e16, -1e16], [-1e16, 1e16, 1.0], [1e16, -1e16, 1.0]]))
def test_sums_are_exact_and_order_free(case):
    values, orders = case
    total = exact_sum(values)
    assert same_float(rd.sum(Tensor(values)).item(), total) or total == 0.0
    assert rd.mean(Tensor(values)).item() == total / len(values)
    for order in orders:
        assert same_float(rd.sum(Tensor(order)).item(), rd.sum(Tensor(values)).item())
    assert sum([1e16, 1.0, -1e16]) == 0.0  # what naive left-to-right summation gives for the example
    assert math.isnan(rd.mean(Tensor([])).item())
    assert rd.sum(Tensor([])).item() == 0.0
    empty_rows = rd.mean(Tensor([[], []]), axis=1)
    assert empty_rows.shape == (2,) and all(math.isnan(v) for v in empty_rows.data)


@pytest.mark.clause("TENSOR-11")
@pytest.mark.parametrize("values, expected", [
    ([1e308, 1e308, -1e308], 1e308),
    ([1.7976931348623157e308, 1e292, -1e292], 1.7976931348623157e308),
    ([-1e308, -1e308, 1e308, 5.0], -1e308),
])
def test_sums_never_overflow_midway(values, expected):
    """An exact sum that is finite stays finite, whatever its partial sums do."""
    assert exact_sum(values) == expected
    assert rd.sum(Tensor(values)).item() == expected


@pytest.mark.clause("TENSOR-11")
def test_reduction_axis_errors():
    x = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    for op in (rd.sum, rd.mean, rd.max):
        with pytest.raises(ValueError, match="repeated"):
            op(x, axis=(1, -1))
        for bad in (2, -3, (0, 2)):
            with pytest.raises(ValueError, match="out of range"):
                op(x, axis=bad)
    for empty in (Tensor([]), Tensor([[], []])):
        with pytest.raises(ValueError, match="zero-size"):
            rd.max(empty)
    with pytest.raises(ValueError, match="zero-size"):
        rd.max(Tensor([]).reshape(0, 3), axis=0)
    assert rd.max(Tensor([]).reshape(0, 3), axis=1).shape == (0,)  # the reduced axis has size 3: fine


# ---- TENSOR-12: matmul --------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw, max_side: int, max_batch_dims: int):
    """Operand shapes for matmul: 1-d, 2-d or batched with broadcast batch axes."""
    batches = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=max_batch_dims, max_side=max_side)
    (a_batch, b_batch), _ = draw(batches)
    n, k, m = (draw(st.integers(1, max_side)) for _ in range(3))
    a = (k,) if draw(st.integers(0, 3)) == 0 else a_batch + (n, k)
    b = (k,) if draw(st.integers(0, 3)) == 0 else b_batch + (k, m)
    return a, b


def exact_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """fsum_j a_ij b_jk of the rounded products, by exact rational sums, with matmul's 1-d rules."""
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    products = a2[..., :, :, None] * b2[..., None, :, :]  # (..., n, k, m), rounded as IEEE multiplies
    out = np.apply_along_axis(exact_sum, -2, products)
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


@pytest.mark.clause("TENSOR-12")
@relaxed
@given(shapes=matmul_shapes(max_side=4, max_batch_dims=2), data=st.data())
def test_matmul_matches_numpy(shapes, data):
    a, b = (data.draw(arrays(s, st.floats(-100, 100))) for s in shapes)
    got = rd.matmul(tensor_of(a), tensor_of(b))
    expected = np.matmul(a, b)
    assert got.shape == expected.shape
    np.testing.assert_allclose(array_of(got), expected, rtol=1e-9, atol=1e-9)
    assert_equal_values(got, exact_matmul(a, b).reshape(expected.shape))
    assert_equal_values(tensor_of(a) @ tensor_of(b), exact_matmul(a, b).reshape(expected.shape))
    # cancellation: the correctly rounded dot product of [1e16, 1, -1e16] and ones is 1
    assert rd.matmul(Tensor([1e16, 1.0, -1e16]), Tensor([1.0, 1.0, 1.0])).item() == 1.0


@pytest.mark.clause("TENSOR-12")
@pytest.mark.parametrize("a, b", [
    ((2, 3), (4, 2)), ((3,), (2,)), ((5, 3), (2,)),  # misaligned inner sizes
    ((2, 2, 3), (3, 3, 1)),  # batch axes that do not broadcast
    ((), (2,)), ((3, 2), ()),  # 0-d operands
])
def test_matmul_errors(a, b):
    with pytest.raises(ValueError) as error:
        rd.matmul(tensor_of(np.ones(a)), tensor_of(np.ones(b)))
    message = str(error.value)
    assert "matmul" in message and str(a) in message and str(b) in message


# ---- TENSOR-13: softmax and losses ----------------------------------------------------------------


@pytest.mark.clause("TENSOR-13")
@relaxed
@given(data=st.data(), arr=hnp.array_shapes(min_dims=1, max_dims=3, max_side=5).flatmap(
    lambda s: arrays(s, st.floats(-20, 20))))
def test_softmax_family_matches_numpy(data, arr):
    axis = data.draw(st.integers(-arr.ndim, arr.ndim - 1))
    t = tensor_of(arr)
    np.testing.assert_allclose(array_of(rd.softmax(t, axis=axis)), scipy.special.softmax(arr, axis=axis),
                               rtol=1e-13, atol=0)
    np.testing.assert_allclose(array_of(rd.log_softmax(t, axis=axis)), scipy.special.log_softmax(arr, axis=axis),
                               rtol=1e-13, atol=1e-13)
    if axis in (-1, arr.ndim - 1):
        np.testing.assert_allclose(array_of(rd.softmax(t)), scipy.special.softmax(arr, axis=-1), rtol=1e-13)


@pytest.mark.clause("TENSOR-13")
@relaxed
@given(row=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=6))
def test_softmax_is_stable(row):
    p = rd.softmax(Tensor(row)).data
    assert all(0.0 <= v <= 1.0 for v in p)
    assert math.isclose(math.fsum(p), 1.0, rel_tol=1e-12)
    assert all(v == v and v <= 0.0 for v in rd.log_softmax(Tensor(row)).data)
    # the values of the definition, derived by hand: large offsets cancel exactly in x - max x
    assert rd.softmax(Tensor([1000.0, 1000.0])).data == [0.5, 0.5]
    assert rd.softmax(Tensor([-1000.0, -1000.0])).data == [0.5, 0.5]
    assert rd.log_softmax(Tensor([1000.0, 0.0])).data == [0.0, -1000.0]
    np.testing.assert_allclose(rd.softmax(Tensor([1000.0, 999.0, 998.0])).data,
                               scipy.special.softmax([2.0, 1.0, 0.0]), rtol=1e-15)


@pytest.mark.clause("TENSOR-13")
@relaxed
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_losses_match_definitions(data, shape, reduction):
    y, target = (data.draw(arrays(shape, st.floats(-100, 100))) for _ in range(2))
    squares = (y - target) ** 2  # IEEE subtract and square, as the definition rounds them
    total = exact_sum(squares.ravel())
    expected = {"none": squares, "sum": total, "mean": total / y.size}[reduction]
    assert_equal_values(rd.mse_loss(tensor_of(y), tensor_of(target), reduction=reduction), np.asarray(expected))

    classes = shape[-1]
    logits = data.draw(arrays(shape, st.floats(-20, 20)))
    labels = data.draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, classes - 1)))
    probabilities = data.draw(arrays(shape, st.floats(0, 1)))
    log_p = scipy.special.log_softmax(logits, axis=-1)
    per_row = {
        "labels": -np.take_along_axis(log_p, labels[..., None], axis=-1)[..., 0],
        "probabilities": -(probabilities * log_p).sum(axis=-1),
    }
    for kind, target in (("labels", tensor_of(labels)), ("probabilities", tensor_of(probabilities))):
        rows = per_row[kind]
        expected = {"none": rows, "sum": rows.sum(), "mean": rows.mean()}[reduction]
        got = rd.cross_entropy(tensor_of(logits), target, reduction=reduction)
        assert got.shape == np.shape(expected)
        np.testing.assert_allclose(array_of(got), expected, rtol=1e-12, atol=1e-12)
    if len(shape) == 2:
        assert_equal_values(rd.cross_entropy(tensor_of(logits), labels.tolist(), reduction=reduction),
                            rd.cross_entropy(tensor_of(logits), tensor_of(labels), reduction=reduction).tolist())
    for bad in (-1, classes, 0.5):
        bad_labels = np.full(shape[:-1], bad, dtype=float)
        with pytest.raises(ValueError, match="cross_entropy"):
            rd.cross_entropy(tensor_of(logits), tensor_of(bad_labels))


# ---- TENSOR-14 to TENSOR-16: the graph --------------------------------------------------------


def graph_nodes(root: Tensor) -> list[Tensor]:
    """Every tensor reachable from ``root`` through ``_parents`` (the root included)."""
    seen, stack, nodes = set(), [root], []
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen.add(id(t))
            nodes.append(t)
            stack.extend(t._parents)
    return nodes


@pytest.mark.clause("TENSOR-14")
def test_one_node_per_op():
    a = Tensor([float(i) for i in range(1000)], requires_grad=True)
    b = Tensor([0.5] * 1000, requires_grad=True)
    c = a * b
    assert len(c._parents) == 2 and c._parents[0] is a and c._parents[1] is b and callable(c._vjp)
    assert len(graph_nodes(c)) == 3  # one node for 1000 products, and the two leaves
    grads = c._vjp([1.0] * 1000)  # one call gives the whole gradient of every parent
    assert len(grads) == 2 and grads[0] == b.data and grads[1] == a.data
    assert a._vjp is None and a._parents == ()

    x = Tensor([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]], requires_grad=True)
    chain = [rd.exp, rd.tanh, lambda t: t * 2.0, lambda t: t.T, lambda t: rd.softmax(t, axis=0),
             lambda t: t[0], rd.relu, lambda t: rd.sum(t)]
    y = x
    for op in chain:
        y = op(y)
    nodes = graph_nodes(y)
    assert sum(n._vjp is not None for n in nodes) == len(chain)  # k ops, k nodes
    leaves = [n for n in nodes if n.requires_grad and n._vjp is None]
    assert len(leaves) == 1 and leaves[0] is x
    # with no input that requires a gradient, an op records nothing
    z = rd.exp(x.detach()) * 2.0
    assert z.requires_grad is False and z._parents == () and z._vjp is None


def every_op_graph(x: Tensor, w: Tensor) -> list[Tensor]:
    """A graph that applies every differentiable op once; the last tensor is a scalar loss."""
    nodes = [x @ w]
    nodes.append(rd.relu(nodes[-1] + 0.5))
    for op in (rd.exp, rd.tanh, rd.sigmoid, rd.elu, rd.selu, rd.abs, rd.neg, lambda t: rd.sqrt(t * t + 1.0),
               lambda t: rd.log(t * t + 1.0), lambda t: rd.pow(t * t + 1.0, 1.5), lambda t: t / 2.0 - t,
               lambda t: rd.maximum(t, t * 0.5), lambda t: rd.minimum(t, t * 0.5),
               lambda t: rd.where(t > 0.1, t, w[0, 0]),
               lambda t: t.reshape(-1), lambda t: t.reshape(2, 2).permute(1, 0).transpose(),
               lambda t: rd.concatenate([t, rd.stack([t[0], t[1]])], axis=0),
               lambda t: rd.broadcast_to(t[None], (2, 4, 2)).expand(2, -1, -1), lambda t: rd.max(t, axis=0),
               lambda t: rd.mean(t, axis=1, keepdims=True) * rd.sum(t), lambda t: t.astype("float32"),
               lambda t: rd.softmax(t.T, axis=-1) + rd.log_softmax(t.T)):
        nodes.append(op(nodes[-1]))
    nodes.append(rd.cross_entropy(nodes[-1], [1]) + rd.mse_loss(nodes[-1], Tensor([[0.0, 1.0, 0.0, 1.0]])))
    return nodes


@pytest.mark.clause("TENSOR-14")
def test_graph_has_no_reference_cycles():
    """Dropping a graph's output frees every node at once: reference counting alone, the collector off."""
    rng = np.random.default_rng(20240417)  # a fixed seed: the data only needs to be generic
    x = tensor_of(rng.normal(size=(8, 4)))
    target = tensor_of(rng.normal(size=(8, 1)))
    w1, b1 = tensor_of(rng.normal(size=(4, 16)), requires_grad=True), tensor_of(np.zeros(16), requires_grad=True)
    w2, b2 = tensor_of(rng.normal(size=(16, 1)), requires_grad=True), tensor_of(np.zeros(1), requires_grad=True)
    u = tensor_of(rng.normal(size=(2, 2)), requires_grad=True)
    v = tensor_of(rng.normal(size=(2, 2)), requires_grad=True)
    gc.collect()
    gc.disable()
    try:
        hidden = rd.relu(x @ w1 + b1)
        loss = rd.mse_loss(hidden @ w2 + b2, target)
        loss.backward()
        refs = [weakref.ref(hidden), weakref.ref(loss)]
        del hidden, loss
        assert all(r() is None for r in refs)

        nodes = every_op_graph(u, v)
        nodes[-1].backward()
        refs = [weakref.ref(n) for n in nodes]
        del nodes
        assert all(r() is None for r in refs)
        assert gc.collect() == 0  # and nothing was left for the cyclic collector to find
    finally:
        gc.enable()
    assert w1.grad is not None and u.grad is not None and v.grad is not None


@pytest.mark.clause("TENSOR-15")
def test_backward_accumulates():
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = rd.sum(x * x)
    y.backward()
    assert x.grad.data == [2.0, -4.0, 6.0]
    y.backward()  # the same graph again: added to .grad
    assert x.grad.data == [4.0, -8.0, 12.0]
    rd.sum(x * 3.0).backward()  # another graph: added too
    assert x.grad.data == [7.0, -5.0, 15.0]
    x.zero_grad()
    assert x.grad is None
    # an explicit upstream gradient: .grad = J^T g; a leaf used twice gets both contributions
    w = Tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    h = w * 3.0
    out = h + w
    out.backward(Tensor([[1.0, 0.0], [0.5, 2.0]]))
    assert w.grad.tolist() == [[4.0, 0.0], [2.0, 8.0]]
    assert h.grad is None and out.grad is None  # intermediates keep no gradient


@pytest.mark.clause("TENSOR-15")
def test_backward_needs_scalar_or_gradient():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="one-element"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match="shape"):
        (x * 2.0).backward(Tensor([1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="does not require grad"):
        Tensor([1.0]).backward()
    with pytest.raises(ValueError, match="does not require grad"):
        (Tensor([1.0]) * 2.0).backward()
    (x[0:1].reshape(1, 1) * 5.0).backward()  # one element, whatever its shape
    assert x.grad.data == [5.0, 0.0]
    (x * 2.0).backward([1.0, -1.0])  # a nested list is accepted as the gradient
    assert x.grad.data == [7.0, -2.0]


@pytest.mark.clause("TENSOR-15")
def test_deep_graph_backward():
    depth = max(5000, 5 * sys.getrecursionlimit())
    x = Tensor([0.5, -2.0], requires_grad=True)
    y = x
    for _ in range(depth):
        y = y + x  # y = (depth + 1) x, one node per step
    rd.sum(y * 0.5).backward()
    assert y.data == [0.5 * (depth + 1), -2.0 * (depth + 1)]
    assert x.grad.data == [0.5 * (depth + 1)] * 2
    x.zero_grad()
    z = x
    for _ in range(depth):
        z = rd.tanh(z) * 1.0
    z.backward(Tensor([1.0, 1.0]))  # finite, and the chain rule's value, computed by hand below
    expected, v = [1.0, 1.0], [0.5, -2.0]
    for _ in range(depth):
        expected = [e * (1 - math.tanh(a) ** 2) for e, a in zip(expected, v)]
        v = [math.tanh(a) for a in v]
    assert all(math.isclose(g, e, rel_tol=1e-9) for g, e in zip(x.grad.data, expected))
    del y, z  # freeing a deep graph must not overflow the C stack either


@pytest.mark.clause("TENSOR-16")
def test_no_grad_and_detach():
    x = Tensor([1.0, 2.0], dtype="float16", requires_grad=True)
    with rd.no_grad():
        y = x * 3.0
        assert not rd.is_grad_enabled()
        with rd.enable_grad():
            assert (x * 3.0).requires_grad
    assert rd.is_grad_enabled()
    assert y.requires_grad is False and y._parents == () and y._vjp is None
    assert (x * 3.0).requires_grad is True
    d = (x * 3.0).detach()
    assert d.data == [3.0, 6.0] and d.dtype is rd.float16
    assert d.requires_grad is False and d._parents == () and d._vjp is None
    rd.sum(x.detach() * x).backward()  # only the attached factor carries a gradient
    assert x.grad.data == [1.0, 2.0]


# ---- TENSOR-17: gradients against finite differences ------------------------------------------------

SMOOTH = st.floats(-3, 3)
UNARY_VJP_DOMAINS = {  # name: (op, values kept away from kinks and poles)
    "neg": (rd.neg, SMOOTH), "exp": (rd.exp, SMOOTH), "tanh": (rd.tanh, SMOOTH), "sigmoid": (rd.sigmoid, SMOOTH),
    "log": (rd.log, st.floats(0.1, 5)), "sqrt": (rd.sqrt, st.floats(0.1, 5)),
    "abs": (rd.abs, away_from_zero(1e-3, 3)), "relu": (rd.relu, away_from_zero(1e-3, 3)),
    "elu": (lambda t: rd.elu(t, alpha=0.7), away_from_zero(1e-3, 3)), "selu": (rd.selu, away_from_zero(1e-3, 3)),
}


@pytest.mark.clause("TENSOR-17")
@relaxed
@given(name=st.sampled_from(sorted(UNARY_VJP_DOMAINS)), data=st.data(), shape=GRAD_SHAPES)
def test_unary_vjps_match_finite_differences(name, data, shape):
    op, values = UNARY_VJP_DOMAINS[name]
    assert gradcheck(op, tensor_of(data.draw(arrays(shape, values)))) is True


def interleaved(offset: float):
    """Values k + offset + u, u in [0, 0.2]: two offsets 0.5 apart never come within 0.3 of each other."""
    return st.builds(lambda k, u: k + offset + u, st.integers(-3, 3), st.floats(0, 0.2))


BINARY_VJP_DOMAINS = {  # name: (op, values of a, values of b), away from kinks and poles
    "add": (rd.add, SMOOTH, SMOOTH), "sub": (rd.sub, SMOOTH, SMOOTH), "mul": (rd.mul, SMOOTH, SMOOTH),
    "div": (rd.div, SMOOTH, away_from_zero(0.5, 3)), "pow": (rd.pow, st.floats(0.5, 3), st.floats(-2, 2)),
    "maximum": (rd.maximum, interleaved(0.05), interleaved(0.55)),
    "minimum": (rd.minimum, interleaved(0.05), interleaved(0.55)),
}


@pytest.mark.clause("TENSOR-17")
@relaxed
@given(name=st.sampled_from(sorted(BINARY_VJP_DOMAINS) + ["where"]),
       shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), data=st.data())
def test_binary_vjps_match_finite_differences(name, shapes, data):
    (s1, s2, s3), _ = shapes
    if name == "where":
        condition = Tensor(data.draw(hnp.arrays(bool, s3)).tolist())
        a, b = (tensor_of(data.draw(arrays(s, SMOOTH))) for s in (s1, s2))
        assert gradcheck(lambda x, y: rd.where(condition, x, y), a, b) is True
        return
    op, a_values, b_values = BINARY_VJP_DOMAINS[name]
    a, b = tensor_of(data.draw(arrays(s1, a_values))), tensor_of(data.draw(arrays(s2, b_values)))
    assert gradcheck(op, a, b) is True


@pytest.mark.clause("TENSOR-17")
@relaxed
@given(data=st.data(), shape=GRAD_SHAPES, keepdims=st.booleans(), op=st.sampled_from(["sum", "mean", "max"]))
def test_reduction_vjps_match_finite_differences(data, shape, keepdims, op):
    axis = data.draw(axis_args(len(shape)))
    size = math.prod(shape)
    # distinct values, at least 0.3 apart, so that max has no ties
    ranks = np.array(data.draw(st.permutations(range(size))), dtype=float).reshape(shape)
    x = tensor_of(ranks * 0.5 - 2.0 + data.draw(arrays(shape, st.floats(0, 0.2))))
    assert gradcheck(lambda t: getattr(rd, op)(t, axis=axis, keepdims=keepdims), x) is True


@pytest.mark.clause("TENSOR-17")
@relaxed
@given(shapes=matmul_shapes(max_side=3, max_batch_dims=2), data=st.data())
def test_matmul_vjp_matches_finite_differences(shapes, data):
    a, b = (tensor_of(data.draw(arrays(s, SMOOTH))) for s in shapes)
    assert gradcheck(rd.matmul, a, b) is True
    assert gradcheck(lambda x: rd.matmul(x, b), a) is True  # one side requiring a gradient
    assert gradcheck(lambda y: rd.matmul(a, y), b) is True


@pytest.mark.clause("TENSOR-17")
@relaxed
@given(data=st.data(), shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=3),
       case=st.sampled_from(
           ["softmax", "log_softmax", "mse_loss", "cross_entropy labels", "cross_entropy probabilities"]),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_softmax_and_loss_vjps_match_finite_differences(data, shape, case, reduction):
    z, t = (tensor_of(data.draw(arrays(shape, SMOOTH))) for _ in range(2))
    if case in ("softmax", "log_softmax"):
        axis = data.draw(st.integers(-len(shape), len(shape) - 1))
        assert gradcheck(lambda x: getattr(rd, case)(x, axis=axis), z) is True
    elif case == "mse_loss":
        assert gradcheck(lambda y, target: rd.mse_loss(y, target, reduction=reduction), z, t) is True
    elif case == "cross_entropy labels":
        labels = tensor_of(data.draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, shape[-1] - 1))))
        assert gradcheck(lambda x: rd.cross_entropy(x, labels, reduction=reduction), z) is True
    else:
        p = tensor_of(data.draw(arrays(shape, st.floats(0, 1))))
        assert gradcheck(lambda x, target: rd.cross_entropy(x, target, reduction=reduction), z, p) is True


def square_with_a_wrong_vjp(x: Tensor, wrong_at: int) -> Tensor:
    """x^2 elementwise, whose VJP is 2 x g except at flat position ``wrong_at``, where it is (2 x + 1) g."""
    out = (x * x).detach()
    data = x.data
    return attach(out, (x,), lambda g: ([(2.0 * v + (i == wrong_at)) * gi for i, (v, gi) in enumerate(zip(data, g))],))


@pytest.mark.clause("TENSOR-17")
def test_gradcheck_reports_the_failing_element():
    a = Tensor([[0.5, 1.25, -1.0], [2.0, 2.75, 0.125]])
    b = Tensor([[1.0, -0.5, 3.0], [0.25, 2.75, -2.0]])
    assert gradcheck(lambda x, y: x + square_with_a_wrong_vjp(y, wrong_at=99), a, b) is True  # no wrong element
    with pytest.raises(GradcheckError) as error:
        gradcheck(lambda x, y: x + square_with_a_wrong_vjp(y, wrong_at=4), a, b)
    message = str(error.value)
    assert "input 1" in message and "element (1, 1)" in message
    numbers = [float(v) for v in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", message)]
    assert 6.5 in numbers  # the analytic value: 2 * 2.75 + 1
    assert any(abs(v - 5.5) < 1e-6 for v in numbers)  # the numeric one: 2 * 2.75
    with pytest.raises(GradcheckError, match=r"input 0.*element \(0,\)"):
        gradcheck(lambda x: square_with_a_wrong_vjp(x, wrong_at=0), Tensor([1.0, 2.0]))


# ---- TENSOR-18: what raises ---------------------------------------------------------------------------

ERRORS = {  # case: (call, exception, substrings its message must contain)
    "add shapes": (lambda: rd.add(Tensor([[1.0, 2.0, 3.0]] * 2), Tensor([1.0] * 4)), ValueError,
                   ["add", "(2, 3)", "(4,)"]),
    "mul shapes": (lambda: Tensor([1.0, 2.0]) * Tensor([1.0] * 3), ValueError, ["mul", "(2,)", "(3,)"]),
    "where shapes": (lambda: rd.where(Tensor([True, False]), Tensor([1.0] * 3), 0.0), ValueError,
                     ["where", "(2,)", "(3,)"]),
    "mse_loss shapes": (lambda: rd.mse_loss(Tensor([1.0, 2.0]), Tensor([[1.0, 2.0]])), ValueError,
                        ["mse_loss", "(2,)", "(1, 2)"]),
    "broadcast_to shapes": (lambda: rd.broadcast_to(Tensor([1.0, 2.0]), (3,)), ValueError,
                            ["broadcast_to", "(2,)", "(3,)"]),
    "concatenate shapes": (lambda: rd.concatenate([Tensor([[1.0]]), Tensor([[1.0, 2.0]])]), ValueError,
                           ["concatenate", "(1, 1)", "(1, 2)"]),
    "reshape size": (lambda: Tensor([1.0, 2.0, 3.0]).reshape(2, 2), ValueError, ["reshape", "(3,)", "(2, 2)"]),
    "string data": (lambda: Tensor(["1.0"]), TypeError, ["str"]),
    "None data": (lambda: Tensor([[1.0], [None]]), TypeError, ["NoneType"]),
    "unknown dtype": (lambda: Tensor([1.0], dtype="half"), ValueError, ["half", "float16", "bfloat16", "float32"]),
    "operand str": (lambda: rd.add(Tensor([1.0]), "1"), TypeError, ["add", "str"]),
    "operand list": (lambda: Tensor([1.0]) * [2.0], TypeError, ["mul", "list"]),
    "operand None": (lambda: rd.maximum(None, Tensor([1.0])), TypeError, ["maximum", "NoneType"]),
    "unary operand": (lambda: rd.exp([1.0]), TypeError, ["exp", "list"]),
    "matmul operand": (lambda: rd.matmul(Tensor([[1.0]]), [[1.0]]), TypeError, ["matmul", "list"]),
    "reduction operand": (lambda: rd.sum([1.0, 2.0]), TypeError, ["sum", "list"]),
    "comparison operand": (lambda: rd.less(Tensor([1.0]), "0"), TypeError, ["less", "str"]),
}


@pytest.mark.clause("TENSOR-18")
@pytest.mark.parametrize("case", sorted(ERRORS))
def test_error_messages_name_the_problem(case):
    call, exception, names = ERRORS[case]
    with pytest.raises(exception) as error:
        call()
    for name in names:
        assert name in str(error.value), (name, str(error.value))
