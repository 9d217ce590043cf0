"""The engine at the edges of its input: any depth, any number of axes, numbers beyond float64,
empty sizes, huge sizes (spec/tensor.md TENSOR-2 and TENSOR-18, spec/random.md RANDOM-6 and
RANDOM-9, spec/dropout.md DROPOUT-3, spec/variants.md VARIANTS-18, spec/recurrent.md RECURRENT-3).

Bad input gets a ValueError or TypeError that names the argument; nothing else escapes: no
RecursionError, OverflowError, IndexError or ZeroDivisionError from inside the engine. The last
test throws random argument vectors at the public API and holds it to that.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import refdropout as rd
from refdropout import Tensor, nn, theory
from refdropout.random import Generator, GeneratorState, philox4x32, philox4x32_lanes

# ---- TENSOR-2: any depth, and the element that is wrong -----------------------------------------


def nested(depth: int, leaf: object = 1.5) -> object:
    """``leaf`` inside ``depth`` one-element lists, built without recursion."""
    for _ in range(depth):
        leaf = [leaf]
    return leaf


@pytest.mark.clause("TENSOR-2")
@pytest.mark.parametrize("depth", [0, 1, 495, 1000, 20_000])
def test_any_depth_converts_and_prints(depth: int) -> None:
    t = rd.tensor(nested(depth))
    assert t.shape == (1,) * depth and t.data == [1.5]
    assert repr(t) == f"Tensor({'[' * depth}1.5{']' * depth}, dtype=float64)"
    back = t.tolist()
    for _ in range(depth):
        assert isinstance(back, list) and len(back) == 1
        back = back[0]
    assert back == 1.5
    many_axes = Tensor.from_flat([True], (1,) * 3000, "bool")
    assert repr(many_axes) == f"Tensor({'[' * 3000}True{']' * 3000}, dtype=bool)"


@pytest.mark.clause("TENSOR-2")
def test_creation_names_the_bad_element() -> None:
    for bad, message in (
        ([[1.0, 2.0], [3.0]], r"ragged nested data: data\[0\] has shape \(2,\) but data\[1\] has shape \(1,\)"),
        ([[1.0], [2.0, [3.0]]], r"data\[0\] has shape \(1,\) but data\[1\] has shape \(2,\)"),
        ([[[1.0]], [[2.0], [3.0]]], r"data\[0\] has shape \(1, 1\) but data\[1\] has shape \(2, 1\)"),
        ([[1.0, 2.0], [3.0, [4.0]]], r"data\[0\]\[0\] has shape \(\) but data\[1\]\[1\] has shape \(1,\)"),
        ([10**400], r"data\[0\] must be a real number within the float64 range.*<an int of 1329 bits>"),
        ([[0.5, -(10**5000)]], r"data\[0\]\[1\] must be .*<a negative int of 16610 bits>"),
    ):
        with pytest.raises(ValueError, match=message):
            rd.tensor(bad)
    for bad, message in ((["a"], r"data\[0\] is a str"), ([[1.0, None]], r"data\[0\]\[1\] is a NoneType")):
        with pytest.raises(TypeError, match=message):
            rd.tensor(bad)
    loop: list = []
    loop.append(loop)
    for bad, name in ((loop, "data"), ([[1.0], loop], re.escape("data[1][0]"))):
        with pytest.raises(ValueError, match=f"{name} holds itself"):
            rd.tensor(bad)
    assert rd.tensor(2**1023).item() == 2.0**1023  # the largest power of two is in range


@pytest.mark.clause("TENSOR-2")
def test_empty_tensors_print_their_shape() -> None:
    assert repr(rd.tensor([])) == "Tensor([], dtype=float64)"
    assert repr(rd.tensor([[], []])) == "Tensor([], shape=(2, 0), dtype=float64)"  # not [[], []]: (2, 0, 5) too
    huge = Generator(0).uniform((2**40, 0, 3))  # 2^40 empty rows: printed by shape, not built as lists
    assert repr(huge) == "Tensor([], shape=(1099511627776, 0, 3), dtype=float64)"


# ---- real numbers beyond float64, ints beyond printing ------------------------------------------

BEYOND_FLOAT64 = (10**400, -(10**400), Fraction(10**400, 3), 2**1024)


def rate_takers() -> dict[str, Callable[[object], object]]:
    """Every public engine callable that takes a drop probability, by the name its message uses."""
    x4 = Tensor.from_flat([1.0] * 16, (1, 1, 4, 4))
    return {
        "dropout: p": lambda p: rd.dropout(x4, p, seed=0),
        "channel_dropout: p": lambda p: rd.channel_dropout(x4, p, spatial_dims=2, seed=0),
        "alpha_dropout: p": lambda p: rd.alpha_dropout(x4, p, seed=0),
        "feature_alpha_dropout: p": lambda p: rd.feature_alpha_dropout(x4, p, spatial_dims=2, seed=0),
        "gaussian_dropout: p": lambda p: rd.gaussian_dropout(x4, p, seed=0),
        "drop_path: p": lambda p: rd.drop_path(x4, p, seed=0),
        "dropblock2d: p": lambda p: rd.dropblock2d(x4, p, block_size=2, seed=0),
        "attention_dropout: p": lambda p: rd.attention_dropout(x4, p, seed=0),
        "dropconnect: p": lambda p: rd.dropconnect(x4, Tensor.from_flat([1.0] * 8, (2, 4)), p, seed=0),
        "Dropout: p": lambda p: nn.Dropout(p, seed=0),
        "GaussianDropout: p": lambda p: nn.GaussianDropout(p, seed=0),
        "DropConnectLinear: p": lambda p: nn.DropConnectLinear(2, 2, p, seed=0),
        "MLP: p": lambda p: nn.MLP([2, 2, 2], p=p, seed=0),
        "LSTM: dropout": lambda p: nn.LSTM(2, 2, 2, dropout=p, seed=0),
        "GRU: input_dropout": lambda p: nn.GRU(2, 2, input_dropout=p, seed=0),
        "LSTM: recurrent_dropout": lambda p: nn.LSTM(2, 2, recurrent_dropout=p, seed=0),
    }


@pytest.mark.clause("DROPOUT-3")
@pytest.mark.parametrize("p", BEYOND_FLOAT64, ids=repr)
def test_rates_beyond_float64_name_their_argument(p: object) -> None:
    for name, call in rate_takers().items():
        with pytest.raises(ValueError, match=re.escape(name) + r" must be (a real number )?in \[0, 1\]"):
            call(p)
    with pytest.raises(ValueError, match=r"bernoulli: keep_prob must be in \[0, 1\]"):
        Generator(0).bernoulli(2, p)


@pytest.mark.clause("TENSOR-18")
@pytest.mark.parametrize("big", BEYOND_FLOAT64, ids=repr)
def test_real_arguments_beyond_float64_name_themselves(big: object) -> None:
    x = rd.tensor([1.0, -2.0])
    for name, call in (
        ("add: operand", lambda: x + big), ("mul: operand", lambda: big * x), ("pow: operand", lambda: x**big),
        ("maximum: operand", lambda: rd.maximum(x, big)), ("where: operand", lambda: rd.where(x > 0, big, x)),
        ("less: operand", lambda: x < big), ("elu: alpha", lambda: rd.elu(x, big)),
        ("gradcheck: eps", lambda: rd.gradcheck(rd.tanh, x, eps=big)),
        ("gradcheck: atol", lambda: rd.gradcheck(rd.tanh, x, atol=big)),
    ):
        with pytest.raises(ValueError, match=re.escape(name) + " must be"):
            call()
    assert (x + 2**1023).data == [2.0**1023, 2.0**1023]  # in range: a float as before


@pytest.mark.clause("TENSOR-4", "TENSOR-13", "ENSEMBLE-2")
def test_ops_refuse_sizes_and_labels_by_name() -> None:
    x, huge = rd.tensor([[1.0, 2.0], [3.0, 4.0]]), 10**5000
    for call, message in (
        (lambda: x.reshape(huge), r"reshape: cannot reshape a tensor of shape \(2, 2\) \(4 elements\) into"
                                  r" \(<an int of 16610 bits>,\)"),
        (lambda: x.expand(-2, 2, 2), r"broadcast_to: sizes must be >= 0, got shape \(-2, 2, 2\)"),  # was empty
        (lambda: x.broadcast_to((-1, 2)), r"sizes must be >= 0"),
        (lambda: rd.cross_entropy(x, [huge, 0]), r"class index <an int of 16610 bits> at position 0 is not an integer"),
        (lambda: rd.cross_entropy(x, [0, math.nan]), r"class index nan at position 1"),
        (lambda: rd.cross_entropy(x, [0, math.inf]), r"class index inf at position 1"),
        (lambda: rd.cross_entropy(x, ["1", 0]), r"class index '1' at position 0"),  # not read as the number 1
        (lambda: theory.mask_matrix(65), r"n \(the number of droppable units\) must be .* at most 64.* got 65"),
        (lambda: list(theory.sub_networks(2**70, 0.5)), r"at most 64.*got 1180591620717411303424"),
    ):
        with pytest.raises(ValueError, match=message):
            call()
    assert rd.cross_entropy(x, [1.0, Fraction(0)]).item() == rd.cross_entropy(x, [1, 0]).item()  # integral values


@pytest.mark.clause("RANDOM-9")
def test_huge_ints_are_refused_by_name() -> None:
    huge, shown_as = 10**5000, r"<(an|a negative) int of 16610 bits>"
    g = Generator(0)
    for name, call in (
        ("Generator: seed", lambda: Generator(huge)), ("fold_in: data", lambda: g.fold_in(huge)),
        ("uniform: a draw holds", lambda: g.uniform(2, offset=huge)),
        ("random_words: a draw holds", lambda: g.random_words(huge)),
        ("philox4x32: counter[1]", lambda: philox4x32((0, huge, 0, 0), (0, 0))),
        ("philox4x32: rounds", lambda: philox4x32((0, 0, 0, 0), (0, 0), -huge)),
    ):
        with pytest.raises(ValueError, match=re.escape(name) + ".*" + shown_as):
            call()
    with pytest.raises(ValueError, match=r"spawn: n = <an int of 16610 bits> exceeds"):
        g.spawn(huge)
    with pytest.raises(ValueError, match=r"uniform: a draw holds .* offset \+ numel\(shape\) = 0 \+ " + shown_as):
        g.uniform((huge,))
    assert g.state == Generator(0).state  # a refused call consumes nothing


# ---- empty and huge sizes, in the caller's terms --------------------------------------------------


def zeros(*shape: int) -> Tensor:
    return Tensor.from_flat([0.0] * math.prod(shape), shape)


@pytest.mark.clause("VARIANTS-18", "MODES-2", "RECURRENT-3")
def test_empty_sizes_are_refused_in_the_callers_terms() -> None:
    for call, error, message in (
        (lambda: rd.dropblock2d(zeros(1, 1, 0, 0), 0.5, block_size=1, seed=0), ValueError,
         r"dropblock2d: x of shape \(1, 1, 0, 0\) has an empty feature map \(H = 0, W = 0\): no block fits"),
        (lambda: rd.dropblock2d(zeros(2, 3, 4, 0), 0.5, block_size=2, seed=0), ValueError, r"empty feature map"),
        (lambda: rd.dropblock2d(zeros(1, 1, 0, 0), 0.5, block_size=0, seed=0), ValueError, r"block_size must be an"),
        (lambda: nn.LSTM(2, 3, seed=0)(zeros(0, 1, 2)), ValueError,
         r"LSTM: x has 0 time steps \(shape \(0, 1, 2\)\); a sequence needs at least one"),
        (lambda: nn.GRU(2, 3, 2, seed=0).run(zeros(0, 4, 2), None), ValueError, r"GRU: x has 0 time steps"),
        (lambda: nn.LSTM(0, 3, seed=0), ValueError, r"LSTM: input_size must be an int >= 1, got 0"),
        (lambda: nn.GRU(2, 0, seed=0), ValueError, r"GRU: hidden_size must be an int >= 1, got 0"),
        (lambda: nn.LSTM(2, 3, bias=None, seed=0), TypeError, r"LSTM: bias must be a bool"),
        (lambda: nn.MLP([3, 0, 1], seed=0), ValueError, r"MLP: sizes\[1\] must be an int >= 1, got 0"),
        (lambda: nn.MLP([3, 2.0], seed=0), TypeError, r"MLP: sizes\[1\] must be an int >= 1, got 2.0"),
        (lambda: nn.MLP([3, 2, 1], p=1.5, seed=0), ValueError, r"MLP: p must be in \[0, 1\]"),
        (lambda: nn.MLP([3, 2, 1], activation=rd.relu, seed=0), TypeError, r"MLP: activation must be a Module class"),
        (lambda: nn.DropConnectLinear(0, 2, seed=0), ValueError, r"DropConnectLinear: in_features must be a positive"),
        (lambda: nn.Linear(2, 2, bias="yes", seed=0), TypeError, r"Linear: bias must be a bool"),
        (lambda: rd.dropout(rd.tensor(1.0), 0.5, seed=0, broadcast_dims=[0]), ValueError,
         r"dropout: axis 0 \(broadcast_dims\[0\]\) is out of range for a tensor of 0 dimensions; a 0-d tensor has"),
        (lambda: nn.Linear(3, 2, seed=0)(rd.tensor([1.0, 2.0])), ValueError,
         r"Linear: x must have shape \(\.\.\., 3\), got \(2,\)"),
    ):
        with pytest.raises(error, match=message):
            call()
    # empty batches, channels and maps that a block fits in have a result, the empty tensor
    for x, call in (
        (zeros(0, 3, 4, 4), lambda x: rd.dropblock2d(x, 0.5, block_size=2, seed=0)),
        (zeros(2, 0, 4, 4), lambda x: rd.dropblock2d(x, 0.5, block_size=2, seed=0)),
        (zeros(2, 0, 3), lambda x: rd.channel_dropout(x, 0.5, spatial_dims=1, seed=0)),
        (zeros(0, 3), lambda x: rd.dropout(x, 0.5, seed=0, noise_shape=(0, 1))),
        (zeros(0, 3), lambda x: rd.drop_path(x, 0.5, seed=0)),
        (zeros(0, 0), lambda x: rd.attention_dropout(x, 0.5, seed=0)),
        (zeros(0), lambda x: rd.gaussian_dropout(x, 0.5, seed=0)),
        (zeros(0), lambda x: rd.alpha_dropout(x, 0.5, seed=0)),
    ):
        y = call(x)
        assert y.shape == x.shape and y.data == []
    y, (h, c) = nn.LSTM(2, 3, input_dropout=0.5, seed=0)(zeros(2, 0, 2), training=True)
    assert y.shape == (2, 0, 3) and h.shape == c.shape == (1, 0, 3)


@pytest.mark.clause("MODES-2", "RECURRENT-3")
def test_sizes_beyond_one_draw_are_refused_before_drawing() -> None:
    big = 2**40
    for call, message in (
        (lambda: nn.Linear(big, 2**20, seed=0), r"Linear\(in_features=1099511627776, out_features=1048576\): "
                                                r"a parameter of shape \(1048576, 1099511627776\) needs"),
        (lambda: nn.DropConnectLinear(2, 10**5000, seed=0), r"DropConnectLinear\(in_features=2, out_features="
                                                            r"<an int of 16610 bits>\)"),
        (lambda: nn.LSTMCell(1, big, seed=0), r"LSTMCell\(input_size=1, hidden_size=1099511627776\)"),
        (lambda: nn.GRU(big, 1, seed=0), r"GRUCell\(input_size=1099511627776, hidden_size=1\)"),
        (lambda: nn.MLP([2, big], seed=0), r"MLP: sizes\[0\] = 2 and sizes\[1\] = 1099511627776"),
    ):
        with pytest.raises(ValueError, match=message + ".*more than the 2\\*\\*33 uniforms one draw gives"):
            call()


# ---- the fuzz: random argument vectors at the public API ------------------------------------------
#
# Each target is a public callable of the engine with, for every argument, a strategy of values it
# accepts, mixed one in four with anything at all: ints of any size (up to 4000 digits), floats
# (NaN, infinities, subnormals, -0.0), bools, fractions, strings, None, nested lists, lists nested
# a thousand deep, tensors of any dtype and of shapes with zeros. Whatever comes, only ValueError or
# TypeError may escape, and its message must name one of the target's arguments.
#
# The engine has no limit on sizes other than what one draw of a generator holds (2^32 blocks):
# a tensor, a layer or a loop count below that is computed, however long it takes. So sizes are
# drawn small (0 to 5) or far past that limit (2^40 and up, refused at once), never in between,
# and the loop counts that no draw bounds (philox rounds, num_layers, mc_predict's samples, the
# length of MLP's sizes) are drawn small.

OMIT = type("Omitted", (), {"__repr__": lambda self: "OMIT"})()  # an optional argument left out
# (Hypothesis prints what it drew, and Python prints no int of more than 4300 digits: 10**4000 is the
# largest here; test_huge_ints_are_refused_by_name goes past it)
HUGE_INTS = st.sampled_from([2**40, 2**63, 2**64, 2**1024, 10**400, 10**4000, -(2**64), -(10**4000)])
EDGE_INTS = st.sampled_from([2**31, 2**32 - 3, 2**32 - 2, 2**32 - 1, 2**32, 2**33 - 1, 2**64 - 1])  # the limits
SIZES = st.one_of(st.integers(0, 5), HUGE_INTS, st.integers(-3, -1))  # never 2^31: that would be computed
INDICES = st.one_of(SIZES, EDGE_INTS)  # a seed, word, offset or child number: cheap at any size
SHAPES = st.one_of(SIZES, st.lists(SIZES, max_size=4), st.lists(SIZES, max_size=4).map(tuple))
DTYPES = st.sampled_from(["float64", "float32", "float16", "bfloat16", "bool"])
RATES = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0), st.fractions(0, 1))
SMALL_SHAPES = st.lists(st.integers(0, 3), max_size=4).map(tuple)


@st.composite
def tensors(draw: st.DrawFn, shape: st.SearchStrategy = SMALL_SHAPES, dtype: st.SearchStrategy = DTYPES) -> Tensor:
    """A tensor of a small shape (zeros included) and any dtype, its values any floats."""
    shape, dtype = draw(shape), draw(dtype)
    values = draw(st.lists(st.floats(width=64), min_size=math.prod(shape), max_size=math.prod(shape)))
    if dtype == "bool":
        return Tensor.from_flat([v != 0.0 for v in values], shape, "bool")
    return Tensor.from_flat(values, shape, dtype)


def anything(ints: st.SearchStrategy) -> st.SearchStrategy:
    """Any value at all, its ints drawn from ``ints``."""
    scalars = st.one_of(ints, st.floats(), st.booleans(), st.none(), st.text(max_size=4), st.fractions(),
                        st.complex_numbers(max_magnitude=2))
    nested_lists = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner),
                                max_leaves=10)
    deep = st.integers(400, 2500).map(lambda depth: nested(depth, 0.5))
    return st.one_of(scalars, nested_lists, deep, tensors(), st.builds(Generator, st.integers(0, 2**64 - 1)))


ANYTHING = anything(st.one_of(st.integers(-100, 100), HUGE_INTS))
BOUNDED = anything(st.integers(-100, 100))  # for a loop count, which nothing bounds but time
SOURCES = {"seed": st.integers(0, 2**64 - 1), "generator": st.builds(Generator, st.integers(0, 9))}
Target = tuple[Callable, dict[str, st.SearchStrategy]]  # a callable, and a strategy for each of its arguments
LOOP_COUNTS = ("rounds", "num_layers", "samples")  # what nothing bounds but time: never a huge int


def arg(valid: st.SearchStrategy, name: str = "") -> st.SearchStrategy:
    """A value argument ``name`` accepts three times in four, anything the fourth."""
    other = BOUNDED if name in LOOP_COUNTS else ANYTHING
    return st.one_of(valid, valid, valid, other)


def optional(valid: st.SearchStrategy, name: str = "") -> st.SearchStrategy:
    return st.one_of(st.just(OMIT), arg(valid, name))


def op_target(op: Callable, first: str = "x", **valid: st.SearchStrategy) -> Target:
    """An op called with its arguments by keyword: its tensor ``first``, p, training, the source of
    randomness, and those of ``valid``."""
    arguments = {first: tensors(), "p": RATES, "training": st.booleans(), **SOURCES, **valid}
    return op, {name: arg(s) if name in (first, "weight") else optional(s) for name, s in arguments.items()}


def module_target(module: type, build: dict[str, st.SearchStrategy],
                  call: dict[str, st.SearchStrategy]) -> Target:
    """A module made from ``build`` and called on ``call['x']`` (positionally, as Module.__call__ takes it)."""
    def made_and_called(x: object = OMIT, **kwargs: object) -> object:
        at_call = {name: kwargs.pop(name) for name in list(kwargs) if name in call}
        layer = module(**kwargs)
        return layer(x, **at_call)
    return made_and_called, {name: optional(s, name) for name, s in build.items()} | {
        name: arg(s) if name == "x" else optional(s) for name, s in call.items()}


RECURRENT = {"input_size": st.integers(0, 3), "hidden_size": st.integers(0, 3), "num_layers": st.integers(0, 3),
             "bias": st.booleans(), "dropout": RATES, "input_dropout": RATES, "recurrent_dropout": RATES,
             "gate_masks": st.sampled_from(["shared", "per_gate"]), "seed": st.integers(0, 9), **SOURCES}
SEQUENCE_CALL = {"x": tensors(st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 3))),
                 "state": tensors(st.tuples(st.integers(1, 2), st.integers(0, 2), st.integers(0, 3))),
                 "training": st.booleans(), "return_masks": st.booleans()}
DROPOUT_MODULE = {"p": RATES, **SOURCES}
MODULE_CALL = {"x": tensors(), "training": st.booleans()}


def generator_method(method: str, **valid: st.SearchStrategy) -> Target:
    def called(seed: object = 0, **kwargs: object) -> object:
        return getattr(Generator(seed), method)(**kwargs)
    return called, {"seed": arg(st.integers(0, 2**64 - 1)), **{name: arg(s) for name, s in valid.items()}}


def phase_set_and_unset(phase: object = None) -> None:
    """set_learning_phase(phase), then the global learning phase unset again for the other tests."""
    try:
        nn.set_learning_phase(phase)
    finally:
        nn.set_learning_phase(None)


FUZZ_TARGETS: dict[str, Target] = {
    "tensor": (rd.tensor, {"data": arg(tensors().map(Tensor.tolist)), "dtype": optional(DTYPES),
                           "requires_grad": optional(st.booleans())}),
    "dropout": op_target(rd.dropout, noise_shape=SHAPES, broadcast_dims=st.lists(st.integers(-4, 4), max_size=3),
                         scaling=st.sampled_from(["inverted", "classic"]),
                         nonfinite=st.sampled_from(["multiply", "select"]), return_mask=st.booleans()),
    "channel_dropout": op_target(rd.channel_dropout, spatial_dims=SIZES,
                                 data_format=st.sampled_from(["channels_first", "channels_last"])),
    "alpha_dropout": op_target(rd.alpha_dropout, noise_shape=SHAPES),
    "feature_alpha_dropout": op_target(rd.feature_alpha_dropout, spatial_dims=SIZES,
                                       data_format=st.sampled_from(["channels_first", "channels_last"])),
    "gaussian_dropout": op_target(rd.gaussian_dropout),
    "dropconnect": op_target(rd.dropconnect, weight=tensors(st.tuples(st.integers(0, 3), st.integers(0, 3)))),
    "drop_path": op_target(rd.drop_path, mode=st.sampled_from(["row", "batch"]),
                           scaling=st.sampled_from(["inverted", "classic"])),
    "dropblock2d": op_target(rd.dropblock2d, x=tensors(st.lists(st.integers(0, 4), min_size=4, max_size=4).map(tuple)),
                             block_size=SIZES),
    "attention_dropout": op_target(rd.attention_dropout, "weights"),
    "Generator.uniform": generator_method("uniform", shape=SHAPES, offset=INDICES),
    "Generator.bernoulli": generator_method("bernoulli", shape=SHAPES, keep_prob=RATES, offset=INDICES),
    "Generator.random_words": generator_method("random_words", count=SIZES, offset=INDICES),
    "Generator.spawn": generator_method("spawn", n=INDICES),
    "Generator.fold_in": generator_method("fold_in", data=INDICES),
    "GeneratorState": (GeneratorState, {"key": arg(st.tuples(INDICES, INDICES)),
                                        "stream": arg(st.tuples(INDICES, INDICES)),
                                        "draws": optional(INDICES), "spawned": optional(INDICES)}),
    "philox4x32_lanes": (philox4x32_lanes, {"counters": arg(st.lists(st.lists(INDICES, max_size=3), min_size=4,
                                                                    max_size=4)),
                                            "key": arg(st.tuples(INDICES, INDICES)),
                                            "rounds": optional(st.integers(-2, 12), "rounds")}),
    "philox4x32": (philox4x32, {"counter": arg(st.tuples(INDICES, INDICES, INDICES, INDICES)),
                                "key": arg(st.tuples(INDICES, INDICES)),
                                "rounds": optional(st.integers(-2, 12), "rounds")}),
    "Dropout": module_target(nn.Dropout, DROPOUT_MODULE, MODULE_CALL),
    "Dropout2d": module_target(nn.Dropout2d, DROPOUT_MODULE, MODULE_CALL),
    "DropBlock2d": module_target(nn.DropBlock2d, {**DROPOUT_MODULE, "block_size": SIZES}, MODULE_CALL),
    "GaussianDropout": module_target(nn.GaussianDropout, DROPOUT_MODULE, MODULE_CALL),
    "Linear": module_target(nn.Linear, {"in_features": SIZES, "out_features": SIZES, "bias": st.booleans(),
                                        "seed": st.integers(0, 9)}, MODULE_CALL),
    "DropConnectLinear": module_target(nn.DropConnectLinear, {"in_features": SIZES, "out_features": SIZES,
                                                              "p": RATES, "bias": st.booleans(), **SOURCES},
                                       MODULE_CALL),
    "MLP": module_target(nn.MLP, {"sizes": st.lists(SIZES, max_size=4), "p": RATES, "seed": st.integers(0, 9),
                                  "activation": st.sampled_from([nn.ReLU, nn.Tanh, nn.SELU])}, MODULE_CALL),
    "LSTM": module_target(nn.LSTM, RECURRENT, SEQUENCE_CALL),
    "GRU": module_target(nn.GRU, RECURRENT, SEQUENCE_CALL),
    "LSTMCell": module_target(nn.LSTMCell, {"input_size": SIZES, "hidden_size": SIZES, "bias": st.booleans(),
                                            "seed": st.integers(0, 9)},
                              {"x": tensors(st.tuples(st.integers(0, 2), st.integers(0, 3))),
                               "training": st.booleans()}),
    "mc_predict": (lambda model=OMIT, **kw: nn.mc_predict(nn.Dropout(0.5, seed=0) if model is OMIT else model, **kw),
                   {"model": optional(st.just(nn.Dropout(0.5, seed=0))), "x": arg(tensors()),
                    "samples": arg(st.integers(0, 3), "samples"), "seed": arg(st.integers(0, 2**64 - 1))}),
    "learning_phase": (phase_set_and_unset, {"phase": arg(st.sampled_from([0, 1, None]))}),
}
# the components a message may name for its argument: the parts of a recurrent state, a shape's axes
ALSO_NAMED = {"LSTM": ("h_0", "c_0", "masks"), "GRU": ("h_0", "masks")}


@pytest.mark.parametrize("target", list(FUZZ_TARGETS))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_arguments_raise_only_named_value_and_type_errors(target: str, data: st.DataObject) -> None:
    """Any argument vector: a result, or a ValueError or TypeError that names an argument; nothing else."""
    call, arguments = FUZZ_TARGETS[target]
    kwargs = {name: data.draw(strategy, label=name) for name, strategy in arguments.items()}
    kwargs = {name: value for name, value in kwargs.items() if value is not OMIT}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # LSTM's dropout warning, PyTorch's word for word
            call(**kwargs)
    except (ValueError, TypeError) as error:
        assert type(error) in (ValueError, TypeError), f"{target}: {type(error).__name__} escaped: {error}"
        names = (*arguments, *ALSO_NAMED.get(target, ()))
        assert re.search(r"\b(" + "|".join(map(re.escape, names)) + r")\b", str(error)), (
            f"{target}: the message names none of {names}: {error}")
