"""Channel dropout: whole feature maps dropped at once (Tompson et al. 2015; spec/variants.md).

Neighbouring positions of a convolutional feature map are strongly correlated, so dropping them
one by one hardly regularises; channel dropout (PyTorch's Dropout1d/2d/3d, Keras's
SpatialDropout1D/2D/3D) draws one mask value per (sample, channel) and shares it over the
spatial axes:

    y[n, c, s] = x[n, c, s] m[n, c] / q,        m[n, c] ~ Bernoulli(q)

It is standard dropout with the noise shape that is 1 on every spatial axis (VARIANTS-1).
"""

from __future__ import annotations

from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .arguments import check_choice, check_flag, check_input, check_int, check_rate
from .noise import generator_for
from .standard import dropout

__all__ = ["channel_dropout", "channel_arguments", "channel_noise_shape", "DATA_FORMATS"]

DATA_FORMATS = ("channels_first", "channels_last")


def channel_noise_shape(shape: Shape, spatial_dims: object, data_format: object, op: str) -> Shape:
    """The mask shape that shares one value per (sample, channel) (VARIANTS-1, VARIANTS-2).

    With d = ``spatial_dims``, an input of d + 2 axes is a batch, (N, C, *spatial) or
    (N, *spatial, C); an input of d + 1 axes is one unbatched sample, (C, *spatial) or
    (*spatial, C). Every other rank raises. The mask keeps the batch and channel axes and is
    1 on the spatial ones.
    """
    d = check_int(spatial_dims, op, "spatial_dims", 1)
    check_choice(data_format, DATA_FORMATS, op, "data_format")
    ndim = len(shape)
    if ndim not in (d + 1, d + 2):
        raise ValueError(
            f"{op}: with spatial_dims={d} x must have {d + 2} axes (a batch) or {d + 1} "
            f"(one unbatched sample), got shape {shape}"
        )
    channel = ndim - 1 if data_format == "channels_last" else ndim - d - 1
    shared = [1] * ndim
    shared[channel] = shape[channel]
    if ndim == d + 2:
        shared[0] = shape[0]
    return tuple(shared)


def channel_arguments(shape: Shape, p: object, spatial_dims: object, data_format: object, training: object,
                      op: str) -> tuple[float, Shape]:
    """The checked p and the mask shape (``channel_noise_shape``) of a call on an input of ``shape``."""
    p = check_rate(p, op)
    check_flag(training, op, "training")
    return p, channel_noise_shape(shape, spatial_dims, data_format, op)


def channel_dropout(
    x: Tensor,
    p: float = 0.5,
    *,
    spatial_dims: int,
    data_format: str = "channels_first",
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """Drop whole channels of ``x`` with probability ``p`` (VARIANTS-1, VARIANTS-2, VARIANTS-3).

    training:  y = x * m / q,   m of shape ``channel_noise_shape(x.shape, ...)``, broadcast
    eval:      y = x

    ``spatial_dims`` is 1, 2 or 3 for Dropout1d/2d/3d (any positive int is accepted);
    ``data_format`` names where the channel axis is. VJP: dL/dx = g * m / q with the forward
    mask, broadcast over the spatial axes (dropout's own node, GRADIENTS-1); g in eval mode.
    """
    op = "channel_dropout"
    x = check_input(x, op)
    p, noise_shape = channel_arguments(x.shape, p, spatial_dims, data_format, training, op)
    source = generator_for(seed, generator, op, needed=training and p not in (0.0, 1.0))
    return dropout(x, p, training=training, generator=source, noise_shape=noise_shape)
