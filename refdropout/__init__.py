"""refdropout: the executable specification of dropout.

Importing it gives the engine's public names (tensors, the ops, the dropout family, ``nn``), which
use only the standard library; ARCHITECTURE.md maps the rest (the contract, adapters, checks, reports).
"""

from . import functional, nn, ops
from .autograd import enable_grad, is_grad_enabled, no_grad
from .dtypes import DType, bfloat16, bool_, float16, float32, float64
from .functional import (
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
from .gradcheck import GradcheckError, gradcheck
from .ops import (
    abs,
    add,
    astype,
    broadcast_to,
    concatenate,
    cross_entropy,
    div,
    elu,
    equal,
    exp,
    expand,
    getitem,
    greater,
    greater_equal,
    less,
    less_equal,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    minimum,
    mse_loss,
    mul,
    neg,
    not_equal,
    permute,
    pow,
    relu,
    reshape,
    selu,
    sigmoid,
    softmax,
    sqrt,
    stack,
    sub,
    sum,
    tanh,
    transpose,
    where,
)
from .tensor import Tensor, tensor

__version__ = "0.1.0"

__all__ = [
    # the engine's modules
    "functional", "nn", "ops",
    # tensors, their formats and the gradient machinery
    "DType", "GradcheckError", "Tensor", "bfloat16", "bool_", "enable_grad", "float16", "float32", "float64",
    "gradcheck", "is_grad_enabled", "no_grad", "tensor",
    # the ops (refdropout.ops)
    "abs", "add", "astype", "broadcast_to", "concatenate", "cross_entropy", "div", "elu", "equal", "exp",
    "expand", "getitem", "greater", "greater_equal", "less", "less_equal", "log", "log_softmax", "matmul",
    "max", "maximum", "mean", "minimum", "mse_loss", "mul", "neg", "not_equal", "permute", "pow", "relu",
    "reshape", "selu", "sigmoid", "softmax", "sqrt", "stack", "sub", "sum", "tanh", "transpose", "where",
    # the dropout family (refdropout.functional)
    "alpha_dropout", "attention_dropout", "channel_dropout", "drop_path", "dropblock2d", "dropconnect", "dropout",
    "feature_alpha_dropout", "gaussian_dropout",
]
