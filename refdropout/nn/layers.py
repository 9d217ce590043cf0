"""Layers without randomness at call time: Linear, Sequential, activations, and a small MLP."""

from __future__ import annotations

import math
from typing import Callable

from .. import ops
from ..random import Generator
from ..tensor import Tensor
from .module import Module

__all__ = ["Linear", "Sequential", "Activation", "ReLU", "Tanh", "Sigmoid", "ELU", "SELU", "Softmax", "MLP"]


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features), initialised U(-k, k), k = 1/sqrt(in_features)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, seed: int) -> None:
        super().__init__()
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"Linear: {name} must be a positive int, got {n!r}")
        self.in_features, self.out_features = in_features, out_features
        draws = Generator(seed)
        self.weight = _uniform_parameter(draws, (out_features, in_features), 1.0 / math.sqrt(in_features))
        self.bias = _uniform_parameter(draws, (out_features,), 1.0 / math.sqrt(in_features)) if bias else None

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        y = ops.matmul(x, ops.transpose(self.weight))
        return y if self.bias is None else y + self.bias


def _uniform_parameter(draws: Generator, shape: tuple[int, ...], bound: float) -> Tensor:
    """A leaf that requires grad, with values U(-bound, bound) from the next draw."""
    leaf = Tensor.from_flat([bound * (2.0 * u - 1.0) for u in draws.uniform(shape).data], shape)
    leaf.requires_grad = True
    return leaf


class Sequential(Module):
    """Modules applied in order, each resolving its own mode (MODES-5)."""

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for j, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: layer {j} must be a Module, got {type(layer).__name__}")
            setattr(self, str(j), layer)

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, j: int) -> Module:
        return list(self.children())[j]

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        for layer in self.children():
            x = layer(x)
        return x


class Activation(Module):
    """An elementwise function as a module."""

    function: Callable[[Tensor], Tensor]

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return type(self).function(x)


class ReLU(Activation):
    function = staticmethod(ops.relu)


class Tanh(Activation):
    function = staticmethod(ops.tanh)


class Sigmoid(Activation):
    function = staticmethod(ops.sigmoid)


class ELU(Activation):
    function = staticmethod(ops.elu)


class SELU(Activation):
    function = staticmethod(ops.selu)


class Softmax(Activation):
    """softmax over the last axis: class probabilities from logits."""

    function = staticmethod(ops.softmax)


class MLP(Sequential):
    """Linear layers of the given sizes with an activation and dropout between them.

    ``MLP([16, 32, 1], p=0.2, seed=0)`` is Linear(16, 32), ReLU, Dropout(0.2), Linear(32, 1).
    Linear layer j is initialised from a seed drawn from ``fold_in(2 j)`` of the seed's generator;
    the dropout layer after it draws from ``fold_in(2 j + 1)``.
    """

    def __init__(self, sizes: list[int], *, p: float = 0.0, activation: type[Activation] = ReLU, seed: int) -> None:
        from .dropout import Dropout

        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError(f"MLP: sizes must list at least an input and an output size, got {sizes!r}")
        root = Generator(seed)
        layers: list[Module] = []
        for j, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            layers.append(Linear(n_in, n_out, seed=_child_seed(root, 2 * j)))
            if j < len(sizes) - 2:
                layers += [activation(), Dropout(p, generator=root.fold_in(2 * j + 1))]
        super().__init__(*layers)


def _child_seed(root: Generator, j: int) -> int:
    """A 64-bit seed from child stream j of ``root``."""
    low, high = root.fold_in(j).random_words(2)
    return low | high << 32
