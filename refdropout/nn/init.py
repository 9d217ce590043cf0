"""Seeded initialisation shared by the layers: parameters drawn uniformly, and child seeds.

A layer built from a seed draws its parameters from ``Generator(seed)``; a container hands each
child a seed of its own from a stream folded in from its root (spec/random.md), so that adding
a layer never changes the draws of the others.
"""

from __future__ import annotations

import math

from ..random import UNIFORMS_PER_DRAW, Generator
from ..tensor import Tensor
from ..values import shown

__all__ = ["check_drawable", "uniform_parameters", "child_seed"]


def check_drawable(shape: tuple[int, ...], owner: str) -> None:
    """A parameter of ``shape`` is drawn in one draw: refused, naming ``owner``, if one draw is too short."""
    if math.prod(shape) > UNIFORMS_PER_DRAW:
        raise ValueError(f"{owner}: a parameter of shape {shown(shape)} needs {shown(math.prod(shape))} values,"
                         " more than the 2**33 uniforms one draw gives")


def uniform_parameters(draws: Generator, shapes: list[tuple[int, ...]], size: int, owner: str) -> list[Tensor]:
    """Leaves that require grad, one per shape, with values U(-k, k), k = 1/sqrt(size) (PyTorch's
    initialisation: ``size`` is a Linear layer's in_features, a recurrent cell's hidden_size), each
    from the next draw.

    ``owner`` is the layer's call with the sizes that made the shapes (``Linear(in_features=..,
    out_features=..)``): a shape needing more values than one draw gives is refused in its terms
    before anything is drawn."""
    for shape in shapes:
        check_drawable(shape, owner)
    bound, leaves = 1.0 / math.sqrt(size), []
    for shape in shapes:
        leaf = Tensor.from_flat([bound * (2.0 * u - 1.0) for u in draws.uniform(shape).data], shape)
        leaf.requires_grad = True
        leaves.append(leaf)
    return leaves


def child_seed(root: Generator, j: int) -> int:
    """A 64-bit seed from child stream j of ``root``."""
    low, high = root.fold_in(j).random_words(2)
    return low | high << 32
