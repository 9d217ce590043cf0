"""A small multilayer perceptron with dropout between its layers (spec/modes.md)."""

from __future__ import annotations

from ..functional.arguments import check_int, check_rate
from ..random import Generator
from ..values import shown
from .dropout import Dropout
from .init import check_drawable, child_seed
from .layers import Activation, Linear, ReLU, Sequential
from .module import Module

__all__ = ["MLP"]


class MLP(Sequential):
    """Linear layers of the given sizes with an activation and dropout between them.

    ``MLP([16, 32, 1], p=0.2, seed=0)`` is Linear(16, 32), ReLU, Dropout(0.2), Linear(32, 1).
    Linear layer j is initialised from a seed drawn from ``fold_in(2 j)`` of the seed's generator;
    the dropout layer after it draws from ``fold_in(2 j + 1)``.
    """

    def __init__(self, sizes: list[int], *, p: float = 0.0, activation: type[Activation] = ReLU, seed: int) -> None:
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError(f"MLP: sizes must list at least an input and an output size, got {shown(sizes)}")
        for j, n in enumerate(sizes):  # refused in the caller's terms, not as Linear's in_features
            check_int(n, "MLP", f"sizes[{j}]", 1)
        for j, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            check_drawable((n_out, n_in), f"MLP: sizes[{j}] = {shown(n_in)} and sizes[{j + 1}] = {shown(n_out)}")
        p = check_rate(p, "MLP")
        if not (isinstance(activation, type) and issubclass(activation, Module)):
            raise TypeError(f"MLP: activation must be a Module class such as ReLU, got {shown(activation)}")
        root = Generator(seed)
        layers: list[Module] = []
        for j, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
            layers.append(Linear(n_in, n_out, seed=child_seed(root, 2 * j)))
            if j < len(sizes) - 2:
                layers += [activation(), Dropout(p, generator=root.fold_in(2 * j + 1))]
        super().__init__(*layers)
