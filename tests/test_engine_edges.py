"""The engine at the edges of its input: any depth, any number of axes, numbers beyond float64,
empty sizes, huge sizes (spec/tensor.md TENSOR-2 and TENSOR-18, spec/random.md RANDOM-6 and
RANDOM-9, spec/dropout.md DROPOUT-3, spec/variants.md VARIANTS-18, spec/recurrent.md RECURRENT-3).

Bad input gets a ValueError or TypeError that names the argument; nothing else escapes: no
RecursionError, OverflowError, IndexError or ZeroDivisionError from inside the engine. The last
test throws random argument vectors at the public API and holds it to that.
"""

from __future__ import annotations

import re

import pytest

import refdropout as rd
from refdropout import Tensor

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
