"""A module for every dropout variant (spec/modes.md, MODES-3): the op of refdropout.dropout, with its
rate, options and generator held by the module and its mode resolved at call time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..functional import (
    alpha_dropout,
    attention_dropout,
    channel_dropout,
    drop_path,
    dropblock2d,
    dropconnect,
    dropout,
    feature_alpha_dropout,
    gaussian_dropout,
)
from ..functional.arguments import check_rate, resolve_generator
from ..random import Generator
from ..tensor import Tensor
from .layers import Linear
from .module import Module

__all__ = [
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "ChannelDropout", "AlphaDropout", "FeatureAlphaDropout",
    "GaussianDropout", "DropPath", "DropBlock2d", "AttentionDropout", "DropConnectLinear",
]


class _DropoutModule(Module):
    """A dropout op with its rate, fixed options and a generator it draws from in training mode."""

    op: Callable[..., Tensor]
    fixed: dict[str, Any] = {}

    def __init__(self, p: float = 0.5, *, seed: int | None = None, generator: Generator | None = None, **options: Any):
        super().__init__()
        name = type(self).__name__
        self.p = check_rate(p, name)
        self.generator = resolve_generator(seed, generator, name)
        self.options = {**type(self).fixed, **options}

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        return type(self).op(x, self.p, training=training, generator=self.generator, **self.options)

    def __repr__(self) -> str:
        options = "".join(f", {k}={v!r}" for k, v in self.options.items())
        return f"{type(self).__name__}(p={self.p}{options})"


class Dropout(_DropoutModule):
    op = staticmethod(dropout)


class ChannelDropout(_DropoutModule):
    op = staticmethod(channel_dropout)


class Dropout1d(ChannelDropout):
    fixed = {"spatial_dims": 1}


class Dropout2d(ChannelDropout):
    fixed = {"spatial_dims": 2}


class Dropout3d(ChannelDropout):
    fixed = {"spatial_dims": 3}


class AlphaDropout(_DropoutModule):
    op = staticmethod(alpha_dropout)


class FeatureAlphaDropout(_DropoutModule):
    op = staticmethod(feature_alpha_dropout)


class GaussianDropout(_DropoutModule):
    op = staticmethod(gaussian_dropout)

    def __init__(self, p: float = 0.5, **kwargs: Any) -> None:
        super().__init__(p, **kwargs)
        if self.p == 1.0:  # refused when made, not at the first call (MODES-3)
            raise ValueError("GaussianDropout: p must be in [0, 1): the noise variance p / (1 - p) is infinite at"
                             " p = 1, got 1.0")


class DropPath(_DropoutModule):
    op = staticmethod(drop_path)


class DropBlock2d(_DropoutModule):
    op = staticmethod(dropblock2d)


class AttentionDropout(_DropoutModule):
    op = staticmethod(attention_dropout)


class DropConnectLinear(Linear):
    """A Linear layer whose weights are dropped in training: y = x (W * M / q)^T + b."""

    def __init__(self, in_features: int, out_features: int, p: float = 0.5, *, bias: bool = True, seed: int,
                 generator: Generator | None = None) -> None:
        super().__init__(in_features, out_features, bias=bias, seed=seed)
        self.p = check_rate(p, "DropConnectLinear")
        self.generator = generator if generator is not None else Generator(seed).fold_in(1)

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        y = dropconnect(x, self.weight, self.p, training=training, generator=self.generator)
        return y if self.bias is None else y + self.bias
