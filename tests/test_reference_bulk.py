"""dropout_bulk returns, bit for bit, what refdropout.functional.dropout returns (spec/dropout.md).

Inputs are drawn as raw bit patterns of every format numpy holds here (so every NaN payload,
signalling NaNs, infinities, subnormals and signed zeros occur) and compared with the engine
through float64 views of the bytes, together with the keep mask and the generator's state after.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, seed
from hypothesis import strategies as st

from helpers import exact, seeds
from refdropout.adapters.numpy_philox import NumpyGenerator
from refdropout.adapters.reference import ReferenceDropout
from refdropout.adapters.reference_bulk import dropout_bulk
from refdropout.contract.arrays import NUMPY_FORMATS, from_numpy, to_numpy
from refdropout.functional import dropout
from refdropout.random import Generator
from refdropout.tensor import Tensor

UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
SPECIAL = [0.0, -0.0, 1.0, -1.5, float("inf"), float("-inf"), float("nan"), 5e-324, -1e-310, 65504.0, 1e300]
rates = st.one_of(st.sampled_from([0.0, 1.0, 0, 1, 2.0**-53, 5e-324, 1 - 2.0**-53, 0.5, Fraction(1, 3),
                                   np.float32(0.1), np.float64(0.9)]), st.floats(0.0, 1.0))
options = st.fixed_dictionaries({
    "training": st.booleans(), "scaling": st.sampled_from(["inverted", "classic"]),
    "nonfinite": st.sampled_from(["multiply", "select"]),
})


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    """An array of any format numpy holds here, each element a raw bit pattern (every NaN payload,
    signalling NaNs, subnormals), an ordinary number rounded to the format, or a special value."""
    dtype = draw(st.sampled_from(list(NUMPY_FORMATS.values())))
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
    size = int(np.prod(shape))
    bits = st.integers(0, 2 ** (8 * dtype.itemsize) - 1).map(
        lambda b: np.array(b, dtype=UNSIGNED[dtype.itemsize]).view(dtype).item())
    numbers = st.one_of(st.floats(-1e4, 1e4), st.sampled_from(SPECIAL))
    elements = draw(st.lists(st.one_of(bits, numbers), min_size=size, max_size=size))
    with np.errstate(all="ignore"):  # numbers beyond a format's range round to infinity, as the engine's do
        return np.array([np.array(e).astype(dtype) for e in elements], dtype=dtype).reshape(shape)


def float64_bytes(values: object) -> bytes:
    return np.asarray(values, dtype=np.float64).tobytes()


def assert_as_the_engine(x: np.ndarray, p: object, **kwargs: object) -> None:
    """dropout_bulk and the engine on the same input: the same bits, mask, format and shape."""
    engine_x = from_numpy(x)
    y, keep = dropout_bulk(x, p, **kwargs)
    expected, expected_keep = dropout(engine_x, p, return_mask=True, **kwargs)
    assert y.dtype == x.dtype and y.shape == x.shape and keep.shape == x.shape and keep.dtype == np.bool_
    assert float64_bytes(y.astype(np.float64)) == float64_bytes(expected.data), (x, y, expected.data)
    assert keep.ravel().tolist() == expected_keep.data


@seed(15_101)
@exact(150)
@given(x=arrays(), p=rates, s=seeds, kwargs=options)
def test_values_and_masks_are_the_engines(x: np.ndarray, p: object, s: int, kwargs: dict) -> None:
    assert_as_the_engine(x, p, seed=s, **kwargs)


@st.composite
def noise_shapes(draw: st.DrawFn, shape: tuple[int, ...]) -> list[int | None]:
    return [draw(st.sampled_from([1, n, None])) for n in shape]


@seed(15_102)
@exact(60)
@given(data=st.data(), x=arrays(), p=rates, s=seeds, kwargs=options)
def test_shared_masks_are_the_engines(data: st.DataObject, x: np.ndarray, p: object, s: int, kwargs: dict) -> None:
    assert_as_the_engine(x, p, seed=s, noise_shape=data.draw(noise_shapes(x.shape)), **kwargs)
    if x.ndim:
        dims = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), max_size=x.ndim))
        assert_as_the_engine(x, p, seed=s, broadcast_dims=dims, **kwargs)


@seed(15_103)
@exact(40)
@given(x=arrays(), p=rates, s=seeds, kwargs=options, calls=st.integers(1, 3))
def test_generators_move_on_as_the_engines_does(x: np.ndarray, p: object, s: int, kwargs: dict, calls: int) -> None:
    """Randomness is consumed only by a training call with 0 < p < 1, one draw each (DROPOUT-15)."""
    engine, bulk, engine_driven = Generator(s), NumpyGenerator(s), Generator(s)
    for _ in range(calls):
        y, keep = dropout_bulk(x, p, generator=bulk, **kwargs)
        y_engine_driven, _ = dropout_bulk(x, p, generator=engine_driven, **kwargs)
        expected, expected_keep = dropout(from_numpy(x), p, generator=engine, return_mask=True, **kwargs)
        assert float64_bytes(y.astype(np.float64)) == float64_bytes(expected.data)
        assert float64_bytes(y_engine_driven.astype(np.float64)) == float64_bytes(expected.data)
        assert keep.ravel().tolist() == expected_keep.data
        assert bulk.state == engine.state == engine_driven.state


def test_the_identity_returns_x_itself() -> None:
    x = np.array([1.0, -0.0, np.nan])
    for kwargs in ({"training": False}, {"training": True, "seed": 1}):
        y, keep = dropout_bulk(x, 0.0 if kwargs["training"] else 0.3, **kwargs)
        assert y is x and keep.all()


def refusal(call) -> tuple[type, str]:
    try:
        call()
    except (TypeError, ValueError) as error:
        return type(error), str(error)
    raise AssertionError("expected a refusal")


X = np.ones((2, 3), dtype=np.float32)
BAD_CALLS = [
    {"p": -0.1}, {"p": 1.5}, {"p": float("nan")}, {"p": True}, {"p": "0.5"}, {"p": 10**400},
    {"training": 1}, {"scaling": "upscale"}, {"nonfinite": "mask"}, {"noise_shape": (2,)}, {"noise_shape": (2, 2)},
    {"noise_shape": "23"}, {"broadcast_dims": (5,)}, {"noise_shape": (1, 3), "broadcast_dims": (0,)},
    {"seed": -1}, {"seed": 2**64}, {"seed": 1.0}, {"seed": 1, "generator": Generator(1)},
    {"generator": object()}, {"seed": None}, {"training": False, "seed": "1"},
]


def described(kwargs: dict) -> str:
    """A test ID that is the same in every process: objects by their type, not their address."""
    plain = (int, float, str, tuple, type(None))
    return ", ".join(f"{k}={v!r}" if isinstance(v, plain) else f"{k}={type(v).__name__}" for k, v in kwargs.items())


@pytest.mark.parametrize("kwargs", BAD_CALLS, ids=described)
def test_bad_arguments_are_refused_as_the_engine_refuses_them(kwargs: dict) -> None:
    kwargs = {"p": 0.5, "training": True, "seed": 7, **kwargs}
    p = kwargs.pop("p")
    assert refusal(lambda: dropout_bulk(X, p, **kwargs)) == refusal(lambda: dropout(from_numpy(X), p, **kwargs))


def test_a_numpy_generator_and_a_seed_are_refused_together() -> None:
    with pytest.raises(ValueError, match="pass seed= or generator=, not both"):
        dropout_bulk(X, 0.5, seed=1, generator=NumpyGenerator(1))


@pytest.mark.parametrize("x", [[1.0, 2.0], np.arange(3), np.ones(2, dtype=np.complex128), np.ones(2, dtype=bool)],
                         ids=repr)
def test_inputs_that_are_not_floating_arrays_are_refused(x: object) -> None:
    with pytest.raises(TypeError, match="dropout: x must be a floating-point numpy array"):
        dropout_bulk(x, 0.5, training=True, seed=0)


def _bits(y: object) -> bytes:
    return float64_bytes(np.asarray(to_numpy(y) if isinstance(y, Tensor) else y).astype(np.float64))


@seed(15_104)
@exact(40)
@given(x=arrays(), p=rates, s=seeds, kinds=st.lists(st.booleans(), min_size=1, max_size=4),
       policies=st.fixed_dictionaries({"scaling": st.sampled_from(["inverted", "classic"]),
                                        "nonfinite": st.sampled_from(["multiply", "select"])}))
def test_the_reference_target_answers_arrays_through_the_bulk_path(x: np.ndarray, p: object, s: int,
                                                                   kinds: list[bool], policies: dict) -> None:
    """The reference adapter handed numpy arrays answers with numpy arrays bit for bit its answers on
    engine tensors, and one stream stays one stream whichever kind each call is given."""
    impl, tensor = ReferenceDropout(**policies), from_numpy(x)
    y = impl.dropout(x, p, training=True, seed=s)
    assert isinstance(y, np.ndarray) and _bits(y) == _bits(impl.dropout(tensor, p, training=True, seed=s))
    (y, keep), (expected, expected_keep) = (impl.dropout_with_mask(v, p, seed=s) for v in (x, tensor))
    assert _bits(y) == _bits(expected) and keep.ravel().tolist() == expected_keep.data
    noise_shape = [1] * x.ndim
    assert _bits(impl.dropout_noise_shape(x, p, noise_shape, training=True, seed=s)) == _bits(
        impl.dropout_noise_shape(tensor, p, noise_shape, training=True, seed=s))
    mixed, engine = impl.dropout_stream(s), impl.dropout_stream(s)
    for as_array in kinds:
        assert _bits(mixed(x if as_array else tensor, p, training=True)) == _bits(engine(tensor, p, training=True))
