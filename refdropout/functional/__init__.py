"""The dropout family as differentiable ops of the engine (spec/dropout.md, spec/variants.md).

One module per idea: standard dropout, and its variants (channel, alpha, Gaussian, DropConnect,
DropPath, DropBlock, attention), and scaled dot-product attention with dropout of its weights. Every
op is one graph node whose VJP reuses the forward noise.
"""

from .alpha import ALPHA_PRIME, alpha_constants, alpha_dropout, feature_alpha_dropout
from .attention import attention_dropout
from .channel import DATA_FORMATS, channel_dropout
from .dropblock import dropblock2d
from .dropconnect import dropconnect
from .droppath import DROP_PATH_MODES, drop_path
from .gaussian import gaussian_dropout
from .sdpa import scaled_dot_product_attention
from .standard import NONFINITE_POLICIES, SCALINGS, dropout

__all__ = [
    "dropout", "SCALINGS", "NONFINITE_POLICIES",
    "channel_dropout", "DATA_FORMATS",
    "alpha_dropout", "feature_alpha_dropout", "alpha_constants", "ALPHA_PRIME",
    "gaussian_dropout",
    "dropconnect",
    "drop_path", "DROP_PATH_MODES",
    "dropblock2d",
    "attention_dropout", "scaled_dot_product_attention",
]
