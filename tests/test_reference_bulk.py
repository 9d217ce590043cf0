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
from refdropout import functional
from refdropout.adapters import reference_variants_bulk as bulk
from refdropout.adapters.numpy_philox import NumpyGenerator
from refdropout.adapters.reference import ReferenceDropout
from refdropout.adapters.reference_bulk import dropout_bulk, dropout_vjp_bulk
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
def arrays(draw: st.DrawFn, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """An array of any format numpy holds here (of ``shape``, or a drawn one), each element a raw bit
    pattern (every NaN payload, signalling NaNs, subnormals), an ordinary number rounded to the format,
    or a special value."""
    dtype = draw(st.sampled_from(list(NUMPY_FORMATS.values())))
    shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3))) if shape is None else shape
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


@seed(15_105)
@exact(100)
@given(x=arrays(), p=rates, s=seeds, kwargs=options)
def test_the_vjp_is_the_engines(x: np.ndarray, p: object, s: int, kwargs: dict) -> None:
    """dropout_vjp_bulk, and the reference target handed arrays, give the engine's backward pass bit for
    bit (g: x's elements reversed, so that every special value reaches g too)."""
    g = x.ravel()[::-1].reshape(x.shape).copy()
    training = kwargs.pop("training")
    y, dx = dropout_vjp_bulk(x, p, g, training=training, seed=s, **kwargs)
    impl = ReferenceDropout(**kwargs)
    expected_y, expected_dx = impl.dropout_vjp(from_numpy(x), p, from_numpy(g), training=training, seed=s)
    assert float64_bytes(y.astype(np.float64)) == float64_bytes(expected_y.data)
    assert dx.dtype == x.dtype and dx.shape == x.shape
    assert float64_bytes(dx.astype(np.float64)) == float64_bytes(expected_dx.data), (x, g, dx, expected_dx.data)
    assert _bits(impl.dropout_vjp(x, p, g, training=training, seed=s)[1]) == _bits(dx)


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


# ---- the variants of spec/variants.md: reference_variants_bulk ---------------------------------------


@st.composite
def shapes(draw: st.DrawFn, min_dims: int = 0, max_dims: int = 3, least: int = 0) -> tuple[int, ...]:
    return tuple(draw(st.lists(st.integers(least, 4), min_size=min_dims, max_size=max_dims)))


@st.composite
def channel_calls(draw: st.DrawFn) -> tuple[tuple, dict]:
    d = draw(st.integers(1, 2))
    x = draw(arrays(draw(shapes(d + draw(st.integers(1, 2)), d + 2))))
    return (x,), {"spatial_dims": d, "data_format": draw(st.sampled_from(["channels_first", "channels_last"]))}


NONFINITE = st.sampled_from(["multiply", "select"]) | st.just("zero")  # the policies, and one refused


@st.composite
def alpha_calls(draw: st.DrawFn) -> tuple[tuple, dict]:
    x = draw(arrays())
    return (x,), {"noise_shape": draw(st.none() | noise_shapes(x.shape)), "nonfinite": draw(NONFINITE)}


@st.composite
def feature_alpha_calls(draw: st.DrawFn) -> tuple[tuple, dict]:
    args, kwargs = draw(channel_calls())
    return args, {**kwargs, "nonfinite": draw(NONFINITE)}


@st.composite
def plain_calls(draw: st.DrawFn, min_dims: int = 0) -> tuple[tuple, dict]:
    return (draw(arrays(draw(shapes(min_dims, 3)))),), {}


@st.composite
def drop_path_calls(draw: st.DrawFn) -> tuple[tuple, dict]:
    return (draw(arrays()),), {"mode": draw(st.sampled_from(["row", "batch"])),
                               "scaling": draw(st.sampled_from(["inverted", "classic"]))}


@st.composite
def dropconnect_calls(draw: st.DrawFn) -> tuple[tuple, dict]:
    n_in, n_out = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    x = draw(arrays(draw(shapes(0, 2)) + (n_in,)))
    return (x, draw(arrays((n_out, n_in)))), {}


@st.composite
def dropblock_calls(draw: st.DrawFn) -> tuple[tuple, dict]:
    shape = draw(shapes(4, 4, least=1))
    return (draw(arrays(shape)),), {"block_size": draw(st.integers(1, min(shape[2:])))}


CALLS = {  # each variant's inputs and its own keyword arguments
    "channel_dropout": channel_calls(), "alpha_dropout": alpha_calls(), "feature_alpha_dropout": feature_alpha_calls(),
    "gaussian_dropout": plain_calls(), "dropconnect": dropconnect_calls(), "drop_path": drop_path_calls(),
    "dropblock2d": dropblock_calls(), "attention_dropout": plain_calls(2),
}
VARIANTS = {name: (getattr(functional, name), getattr(bulk, f"{name}_bulk"), calls) for name, calls in CALLS.items()}


def outcome(call) -> tuple:
    """What a call gives: the format and shape of its result and its bits as float64, or the refusal."""
    try:
        y = call()
    except (TypeError, ValueError) as error:
        return type(error), str(error)
    y = to_numpy(y) if isinstance(y, Tensor) else y
    return y.dtype, y.shape, _bits(y)


def engine_call(variant: str, args: tuple, p: object, **kwargs: object):
    return lambda: VARIANTS[variant][0](*map(from_numpy, args), p, **kwargs)


def bulk_call(variant: str, args: tuple, p: object, **kwargs: object):
    return lambda: VARIANTS[variant][1](*args, p, **kwargs)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_are_the_engines_bit_for_bit(variant: str) -> None:
    """Each bulk variant gives the engine's format, shape and bits, or the engine's refusal, on inputs of
    every format with every kind of value, at every rate, seed and mode."""
    @seed(15_110)
    @exact(60)
    @given(call=VARIANTS[variant][2], p=rates, s=seeds, training=st.booleans())
    def run(call: tuple[tuple, dict], p: object, s: int, training: bool) -> None:
        args, kwargs = call
        expected = outcome(engine_call(variant, args, p, training=training, seed=s, **kwargs))
        assert outcome(bulk_call(variant, args, p, training=training, seed=s, **kwargs)) == expected

    run()


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_move_generators_on_as_the_engines_do(variant: str) -> None:
    """A bulk variant takes the engine's draws, one per drawing call and none otherwise, from a numpy
    generator or an engine one, and leaves it in the engine's state."""
    @seed(15_111)
    @exact(25)
    @given(call=VARIANTS[variant][2], p=rates, s=seeds, training=st.booleans(), calls=st.integers(1, 3))
    def run(call: tuple[tuple, dict], p: object, s: int, training: bool, calls: int) -> None:
        args, kwargs = call
        engine, bulk_numpy, bulk_engine = Generator(s), NumpyGenerator(s), Generator(s)
        for _ in range(calls):
            expected = outcome(engine_call(variant, args, p, training=training, generator=engine, **kwargs))
            for generator in (bulk_numpy, bulk_engine):
                assert outcome(bulk_call(variant, args, p, training=training, generator=generator,
                                         **kwargs)) == expected
            assert bulk_numpy.state == bulk_engine.state == engine.state

    run()


X4 = np.ones((2, 3, 4, 5), dtype=np.float32)
VARIANT_CALLS = {
    "channel_dropout": ((X4,), {"spatial_dims": 2, "data_format": "channels_first"}),
    "alpha_dropout": ((X4,), {}),
    "feature_alpha_dropout": ((X4,), {"spatial_dims": 2, "data_format": "channels_last"}),
    "gaussian_dropout": ((X4,), {}),
    "dropconnect": ((X4, np.ones((3, 5), dtype=np.float16)), {}),
    "drop_path": ((X4,), {"mode": "row", "scaling": "inverted"}),
    "dropblock2d": ((X4,), {"block_size": 2}),
    "attention_dropout": ((X4,), {}),
}
VARIANT_BAD_CALLS = [
    {"p": -0.1}, {"p": 1.5}, {"p": float("nan")}, {"p": True}, {"p": "0.5"}, {"p": 1.0}, {"training": 1},
    {"seed": -1}, {"seed": 2**64}, {"seed": 1.0}, {"seed": 1, "generator": Generator(1)},
    {"seed": 1, "generator": NumpyGenerator(1)}, {"generator": object()}, {"seed": None},
    {"training": False, "seed": "1"}, {"spatial_dims": 3}, {"spatial_dims": 0}, {"data_format": "nchw"},
    {"noise_shape": (2,)}, {"mode": "sample"}, {"scaling": "upscale"}, {"block_size": 5}, {"block_size": 0},
    {"block_size": 2.0},
]


COMMON_ARGUMENTS = {"p", "training", "seed", "generator"}
# each variant with the bad calls of the arguments it takes
VARIANT_REFUSALS = [(variant, bad) for variant in VARIANTS for bad in VARIANT_BAD_CALLS
                    if set(bad) <= COMMON_ARGUMENTS | set(VARIANT_CALLS[variant][1])]


@pytest.mark.parametrize(("variant", "kwargs"), VARIANT_REFUSALS,
                         ids=[f"{variant}-{described(bad)}" for variant, bad in VARIANT_REFUSALS])
def test_variants_refuse_bad_arguments_as_the_engine_does(variant: str, kwargs: dict) -> None:
    args, known = VARIANT_CALLS[variant]
    kwargs = {"p": 0.5, "training": True, "seed": 7, **known, **kwargs}
    p = kwargs.pop("p")
    generator = kwargs.get("generator")
    engine_kwargs = {**kwargs, "generator": Generator(1)} if isinstance(generator, NumpyGenerator) else kwargs
    assert outcome(bulk_call(variant, args, p, **kwargs)) == outcome(engine_call(variant, args, p, **engine_kwargs))


@pytest.mark.parametrize("variant", VARIANTS)
def test_variants_refuse_what_is_not_a_floating_array(variant: str) -> None:
    args, kwargs = VARIANT_CALLS[variant]
    with pytest.raises(TypeError, match=f"{variant}: (x|weights) must be a floating-point numpy array"):
        VARIANTS[variant][1](args[0].astype(np.int32), *args[1:], 0.5, training=True, seed=0, **kwargs)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_reference_target_answers_variants_through_the_bulk_path(variant: str) -> None:
    """Handed numpy arrays, the reference's capability answers with numpy arrays, bit for bit its answer on
    engine tensors (which a mix of arrays and tensors also gets, as arrays)."""
    impl = ReferenceDropout()
    args, kwargs = VARIANT_CALLS[variant]
    capability = getattr(impl, variant)
    y = capability(*args, 0.5, training=True, seed=3, **kwargs)
    expected = capability(*map(from_numpy, args), 0.5, training=True, seed=3, **kwargs)
    assert isinstance(y, np.ndarray) and isinstance(expected, Tensor) and _bits(y) == _bits(expected)
    mixed = capability(from_numpy(args[0]), *args[1:], 0.5, training=True, seed=3, **kwargs)
    assert _bits(mixed) == _bits(expected)


@pytest.mark.parametrize("chunk", [1 << 16, 7_000])
def test_gaussian_noise_is_the_engines_over_many_values(monkeypatch, chunk: int) -> None:
    """Box–Muller's log and cos come from the math module: numpy's vectorised log differs from it in the
    last bit on about one value in 300, which 40 000 values would show; in one pass or in several, the
    last one shorter."""
    monkeypatch.setattr(bulk, "_MATH_CHUNK", chunk)
    x = np.random.default_rng(15_112).standard_normal(40_000)
    expected = outcome(engine_call("gaussian_dropout", (x,), 0.3, training=True, seed=11))
    assert outcome(bulk_call("gaussian_dropout", (x,), 0.3, training=True, seed=11)) == expected


def _values(shape: tuple[int, ...], dtype: type = np.float64) -> np.ndarray:
    """Normal values with a signed zero, infinities and a NaN among them, in ``dtype``."""
    x = np.random.default_rng(15_113).standard_normal(shape).ravel()
    x[:4] = [-0.0, np.inf, -np.inf, np.nan]
    return x.astype(dtype).reshape(shape)


LARGE_CALLS = {  # every draw of SMALL_DRAW elements or more: numpy's Philox rather than the engine's
    "channel_dropout": ((_values((8, 80, 3)),), {"spatial_dims": 1, "data_format": "channels_first"}),
    "alpha_dropout": ((_values((30, 40), np.float32),), {}),
    "feature_alpha_dropout": ((_values((8, 3, 80), np.float16),), {"spatial_dims": 1, "data_format": "channels_last"}),
    "gaussian_dropout": ((_values((30, 40)),), {}),
    "dropconnect": ((_values((3, 40)), _values((20, 40), np.float32)), {}),
    "drop_path": ((_values((600, 2)),), {"mode": "row", "scaling": "classic"}),
    "dropblock2d": ((_values((2, 3, 12, 12)),), {"block_size": 3}),
    "attention_dropout": ((_values((30, 40)),), {}),
}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_large_draws_are_the_engines(variant: str, p: float) -> None:
    """Above SMALL_DRAW elements the bulk variants draw with numpy's Philox: still the engine's bits."""
    args, kwargs = LARGE_CALLS[variant]
    expected = outcome(engine_call(variant, args, p, training=True, seed=15_114, **kwargs))
    assert outcome(bulk_call(variant, args, p, training=True, seed=15_114, **kwargs)) == expected


@pytest.mark.parametrize("variant", ["alpha_dropout", "feature_alpha_dropout"])
@pytest.mark.parametrize("nonfinite", ["multiply", "select"])
@pytest.mark.parametrize("p", [0.5, 1.0])
def test_alpha_variants_drop_nonfinite_values_by_either_policy_as_the_engine_does(variant: str, nonfinite: str,
                                                                                   p: float) -> None:
    """Alpha dropout's x m is standard dropout's under the declared nonfinite policy (VARIANTS-4): bulk and
    engine agree bit for bit on large draws with NaN and ±inf, and the reference adapter passes its policy
    on to both paths: at p = 1 a non-finite x gives NaN ("multiply") or 0 ("select")."""
    args, kwargs = LARGE_CALLS[variant]
    expected = outcome(engine_call(variant, args, p, training=True, seed=15_117, nonfinite=nonfinite, **kwargs))
    assert outcome(bulk_call(variant, args, p, training=True, seed=15_117, nonfinite=nonfinite, **kwargs)) == expected
    capability = getattr(ReferenceDropout(nonfinite=nonfinite), variant)
    y = capability(*args, p, training=True, seed=15_117, **kwargs)
    assert _bits(y) == _bits(capability(*map(from_numpy, args), p, training=True, seed=15_117, **kwargs))
    assert expected[2] == _bits(y)
    if p == 1.0:
        nonfinite_x = ~np.isfinite(args[0].ravel())
        assert np.isnan(y.ravel()[nonfinite_x]).all() if nonfinite == "multiply" else (y.ravel() == 0).all()


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropconnect_rows_of_one_product_are_summed_as_the_engine_sums_them(p: float) -> None:
    """x = I (and -I): every dot product has one non-zero term, which numpy sums; zeros sum to +0.0, and a
    non-finite weight leaves the row to fsum."""
    x, weight = np.concatenate([np.eye(4), -np.eye(4)]), _values((300, 4))
    expected = outcome(engine_call("dropconnect", (x, weight), p, training=True, seed=15_115))
    assert outcome(bulk_call("dropconnect", (x, weight), p, training=True, seed=15_115)) == expected


@pytest.mark.parametrize("block", [1, 5, 64])
def test_dropconnect_forms_its_products_in_blocks_of_outputs(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """dropconnect_bulk forms at most _PRODUCTS_BLOCK products at once (not batch x out x in: VARIANTS-9's W
    at the deep profile, issue 15), block by block of outputs: the engine's bits whatever the block."""
    monkeypatch.setattr(bulk, "_PRODUCTS_BLOCK", block)
    x, weight = np.concatenate([np.eye(4), -np.eye(4)]), _values((300, 4))
    for args in ((x, weight), (_values((3, 40)), _values((20, 40), np.float32)), (x[:0], weight), (x, weight[:0])):
        expected = outcome(engine_call("dropconnect", args, 0.5, training=True, seed=15_116))
        assert outcome(bulk_call("dropconnect", args, 0.5, training=True, seed=15_116)) == expected
