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
from collections.abc import Callable
from fractions import Fraction

import pytest

import refdropout as rd
from refdropout import Tensor, nn
from refdropout.random import Generator, philox4x32

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
        (lambda: nn.MLP([2, big], seed=0), r"Linear\(in_features=2, out_features=1099511627776\)"),
    ):
        with pytest.raises(ValueError, match=message + ".*more than the 2\\*\\*33 uniforms one draw gives"):
            call()
