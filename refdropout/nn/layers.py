"""Layers without randomness at call time: Linear, Sequential and the activations."""

from __future__ import annotations

from collections.abc import Callable

from .. import ops
from ..functional.arguments import check_flag, check_input
from ..random import Generator
from ..tensor import Tensor
from ..values import shown
from .init import uniform_parameters
from .module import Module

__all__ = ["Linear", "Sequential", "Activation", "ReLU", "Tanh", "Sigmoid", "ELU", "SELU", "Softmax"]


class Linear(Module):
    """y = x W^T + b, W of shape (out_features, in_features), initialised U(-k, k), k = 1/sqrt(in_features)."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True, seed: int) -> None:
        super().__init__()
        layer = type(self).__name__
        for name, n in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ValueError(f"{layer}: {name} must be a positive int, got {shown(n)}")
        check_flag(bias, layer, "bias")
        self.in_features, self.out_features = in_features, out_features
        shapes = [(out_features, in_features)] + ([(out_features,)] if bias else [])
        owner = f"{layer}(in_features={shown(in_features)}, out_features={shown(out_features)})"
        self.weight, *b = uniform_parameters(Generator(seed), shapes, in_features, owner)
        self.bias = b[0] if bias else None

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        x = check_input(x, type(self).__name__)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"{type(self).__name__}: x must have shape (..., {self.in_features}), got {x.shape}")
        y = ops.matmul(x, ops.transpose(self.weight))
        return y if self.bias is None else y + self.bias


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
