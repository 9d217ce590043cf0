"""Seeded initialisation shared by the layers: parameters drawn uniformly, and child seeds.

A layer built from a seed draws its parameters from ``Generator(seed)``; a container hands each
child a seed of its own from a stream folded in from its root (spec/random.md), so that adding
a layer never changes the draws of the others.
"""

from __future__ import annotations

from ..random import Generator
from ..tensor import Tensor

__all__ = ["uniform_parameter", "child_seed"]


def uniform_parameter(draws: Generator, shape: tuple[int, ...], bound: float) -> Tensor:
    """A leaf that requires grad, with values U(-bound, bound) from the next draw."""
    leaf = Tensor.from_flat([bound * (2.0 * u - 1.0) for u in draws.uniform(shape).data], shape)
    leaf.requires_grad = True
    return leaf


def child_seed(root: Generator, j: int) -> int:
    """A 64-bit seed from child stream j of ``root``."""
    low, high = root.fold_in(j).random_words(2)
    return low | high << 32
