"""Batch normalisation with running statistics (Ioffe and Szegedy 2015): the layer whose inference
mode is not the identity of its training mode, which Monte Carlo dropout must leave in inference
(spec/ensemble.md, ENSEMBLE-10).

On x of shape (N, C), per feature c:

    training:   y = (x - mean_B) / sqrt(var_B + eps) w + b,  mean_B, var_B the batch's (biased) moments,
                running_mean <- (1 - momentum) running_mean + momentum mean_B,
                running_var  <- (1 - momentum) running_var + momentum var_B N / (N - 1)
    inference:  y = (x - running_mean) / sqrt(running_var + eps) w + b

as PyTorch's ``BatchNorm1d`` (momentum 0.1, the unbiased variance in the running one) and Keras's
``BatchNormalization`` (its ``momentum`` is 1 - ours) define them. The running statistics are plain
lists of floats: state, not parameters.
"""

from __future__ import annotations

from .. import ops
from ..autograd import no_grad
from ..functional.arguments import check_input
from ..tensor import Tensor
from ..values import shown
from .module import Module

__all__ = ["BatchNorm1d"]


class BatchNorm1d(Module):
    """Normalisation of each of ``features`` over the batch, with running statistics for inference."""

    def __init__(self, features: int, *, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        layer = type(self).__name__
        if isinstance(features, bool) or not isinstance(features, int) or features < 1:
            raise ValueError(f"{layer}: features must be a positive int, got {shown(features)}")
        for name, value, allowed in (("eps", eps, eps > 0), ("momentum", momentum, 0 <= momentum <= 1)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not allowed:
                raise ValueError(f"{layer}: {name} must be {'> 0' if name == 'eps' else 'in [0, 1]'}, got "
                                 f"{shown(value)}")
        self.features, self.eps, self.momentum = features, float(eps), float(momentum)
        self.weight = Tensor([1.0] * features, requires_grad=True)
        self.bias = Tensor([0.0] * features, requires_grad=True)
        self.running_mean, self.running_var = [0.0] * features, [1.0] * features

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        x = check_input(x, type(self).__name__)
        if x.ndim != 2 or x.shape[1] != self.features:
            raise ValueError(f"{type(self).__name__}: x must have shape (N, {self.features}), got {x.shape}")
        if training:
            if x.shape[0] < 2:
                raise ValueError(f"{type(self).__name__}: training needs a batch of 2 or more, got {x.shape[0]}")
            mean = ops.mean(x, axis=0)
            var = ops.mean((x - mean) * (x - mean), axis=0)
            self._update(mean, var, x.shape[0])
        else:
            mean, var = (Tensor.from_flat(list(v), (self.features,)) for v in (self.running_mean, self.running_var))
        return (x - mean) / ops.sqrt(var + self.eps) * self.weight + self.bias

    def _update(self, mean: Tensor, var: Tensor, n: int) -> None:
        m = self.momentum
        with no_grad():
            self.running_mean = [(1 - m) * r + m * v for r, v in zip(self.running_mean, mean.data)]
            self.running_var = [(1 - m) * r + m * v * n / (n - 1) for r, v in zip(self.running_var, var.data)]

    def __repr__(self) -> str:
        return f"BatchNorm1d({self.features}, eps={self.eps}, momentum={self.momentum})"
