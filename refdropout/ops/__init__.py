"""The engine's ops: one graph node per tensor op, each with its vector-Jacobian product."""

from .compare import equal, greater, greater_equal, less, less_equal, not_equal, where
from .elementwise import (
    abs,
    add,
    div,
    elu,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    relu,
    selu,
    sigmoid,
    sqrt,
    sub,
    tanh,
)
from .linalg import matmul
from .movement import astype, broadcast_to, concatenate, expand, getitem, permute, reshape, stack, transpose
from .nn import cross_entropy, log_softmax, mse_loss, softmax
from .reduce import max, mean, sum

__all__ = [
    "abs", "add", "astype", "broadcast_to", "concatenate", "cross_entropy", "div", "elu", "equal", "exp",
    "expand", "getitem", "greater", "greater_equal", "less", "less_equal", "log", "log_softmax", "matmul",
    "max", "maximum", "mean", "minimum", "mse_loss", "mul", "neg", "not_equal", "permute", "pow", "relu",
    "reshape", "selu", "sigmoid", "softmax", "sqrt", "stack", "sub", "sum", "tanh", "transpose", "where",
]
