"""Mutants of the kind "structure": the right noise applied to the wrong units (spec/variants.md,
spec/recurrent.md): the channel axis, the recurrent masks' lifetime, alpha dropout's constants,
Gaussian dropout's variance. Each is the reference narrowed to the capability it breaks.
"""

from __future__ import annotations

import math

from ..functional import alpha_dropout, channel_dropout, dropout
from ..functional.alpha import ALPHA_PRIME
from ..nn.recurrent import RecurrentLayer, RecurrentMasks
from ..random import Generator
from ..tensor import Tensor
from .narrowed import reference_with
from .registry import mutant

__all__ = [
    "DataFormatIgnored", "Dropout2dReads3DAsBatched", "RecurrentMaskRedrawnEveryStep", "RecurrentMaskNeverRedrawn",
    "RecurrentActiveInEval", "AlphaWithoutAffineCorrection", "GaussianVarianceP", "GaussianStddevPOverQ",
    "layers_with", "step_masks", "alpha_with_constants",
]

# --- the channel axis (VARIANTS-1, VARIANTS-2) --------------------------------------------------------

Channels = reference_with("channel_dropout")


@mutant("structure", models="keras-team/keras#18802: Support channels_first in SpatialDropout",
        caught_by=("VARIANTS-1", "VARIANTS-2"))
class DataFormatIgnored(Channels):
    """Reads every input as channels-last, whatever data_format says: channels-first input is
    dropped along its last spatial axis."""

    name = "data-format-ignored"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        return channel_dropout(x, p, spatial_dims=spatial_dims, data_format="channels_last", training=training,
                               seed=seed)


@mutant("structure", models="pytorch/pytorch#69801: Dropout2d doesn't drop channels for (C, H, W)",
        caught_by=("VARIANTS-2",))
class Dropout2dReads3DAsBatched(Channels):
    """Reads an unbatched (C, H, W) input as a batch (N, C, L): one mask value per row, not per channel."""

    name = "dropout2d-reads-3d-as-batched"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        if x.ndim == spatial_dims + 1:  # PyTorch's feature dropout: the first two axes are (sample, channel)
            return dropout(x, p, training=training, seed=seed, noise_shape=x.shape[:2] + (1,) * (x.ndim - 2))
        return channel_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training, seed=seed)


# --- the recurrent masks' lifetime (RECURRENT-7, RECURRENT-11, RECURRENT-12) ------------------------

Recurrent = reference_with("recurrent_between_layers", "recurrent_variational", "recurrent_masks",
                           "recurrent_mask_draws")


def layers_with(mixin: type) -> dict[str, type[RecurrentLayer]]:
    """The reference's LSTM and GRU layers with ``mixin`` in front."""
    return {cell: type(f"{mixin.__name__}{layer.__name__}", (mixin, layer), {})
            for cell, layer in Recurrent.recurrent_layers.items()}


def step_masks(masks: list[RecurrentMasks]) -> RecurrentMasks:
    """The masks of one-step draws, one draw per step, as the masks of one call."""
    def joined(field: str) -> tuple:
        depths = range(len(getattr(masks[0], field)))
        return tuple(tuple(getattr(m, field)[depth][0] for m in masks) for depth in depths)

    return RecurrentMasks(joined("inputs"), joined("recurrent"), joined("between_layers"))


class _RedrawnEveryStep:
    def draw_masks(self, steps, batch):
        return step_masks([super(_RedrawnEveryStep, self).draw_masks(1, batch) for _ in range(steps)])


@mutant("structure", models="tensorflow/tensorflow#38922: LSTMCell Dropout mask is reset at every call",
        caught_by=("RECURRENT-7",))
class RecurrentMaskRedrawnEveryStep(Recurrent):
    """Variational masks redrawn at every time step: standard dropout on x_t and h_(t-1)."""

    name = "recurrent-mask-redrawn-every-step"
    recurrent_layers = layers_with(_RedrawnEveryStep)


class _CachedAcrossCalls:
    def draw_masks(self, steps, batch):
        if not hasattr(self, "cached_masks"):
            self.cached_masks = super().draw_masks(steps, batch)
        return self.cached_masks


@mutant("structure", models="abr/keras-lmu#29: Reset dropout masks in hidden cell", caught_by=("RECURRENT-11",))
class RecurrentMaskNeverRedrawn(Recurrent):
    """Draws its masks on the first call and reuses them on every later sequence (a cache never reset)."""

    name = "recurrent-mask-never-redrawn"
    recurrent_layers = layers_with(_CachedAcrossCalls)


class _ActiveInEval:
    def forward(self, x, state=None, *, training):
        return super().forward(x, state, training=True)


@mutant("structure", models="lmnt-com/haste#18: TF: Dropout still applies on inference if training = False",
        caught_by=("RECURRENT-12",))
class RecurrentActiveInEval(Recurrent):
    """Evaluation calls of the recurrent layer apply dropout as training calls do."""

    name = "recurrent-active-in-eval"
    recurrent_layers = layers_with(_ActiveInEval)


# --- alpha dropout's constants (VARIANTS-4, VARIANTS-5) ------------------------------------------------


def alpha_with_constants(x: Tensor, p: float, seed: int, alpha_prime: float, a: float, b: float) -> Tensor:
    """a (x m + α' (1 - m)) + b with the given constants and the reference's mask."""
    keep = dropout(x, p, seed=seed, return_mask=True)[1].data
    return Tensor.from_flat([a * (v if k else alpha_prime) + b for v, k in zip(x.data, keep)], x.shape)


Alpha = reference_with("alpha_dropout")


@mutant("structure", models="FluxML/Flux.jl#1781: Fix AlphaDropout implementation and add tests",
        caught_by=("VARIANTS-4", "VARIANTS-5"))
class AlphaWithoutAffineCorrection(Alpha):
    """Sets dropped units to α' but leaves out the affine correction: a = 1 and b = 0, so the mean
    and variance drift from 0 and 1."""

    name = "alpha-without-affine-correction"

    def alpha_dropout(self, x, p, *, training, seed):
        if not training or p in (0.0, 1.0):
            return alpha_dropout(x, p, training=training, seed=seed)
        return alpha_with_constants(x, p, seed, ALPHA_PRIME, 1.0, 0.0)


# --- Gaussian dropout's variance (VARIANTS-7) -------------------------------------------------------------

Gaussian = reference_with("gaussian_dropout")


def _gaussian(x: Tensor, seed: int, sigma: float) -> Tensor:
    """x (1 + σ z), z standard normal by Box-Muller from the seed's uniforms."""
    u = Generator(seed).uniform((2 * x.size,)).data
    z = [math.sqrt(-2 * math.log(1 - a)) * math.cos(math.tau * b) for a, b in zip(u[0::2], u[1::2])]
    return Tensor.from_flat([v * (1 + sigma * zi) for v, zi in zip(x.data, z)], x.shape)


@mutant("structure", models="keras-team/keras#1503: Add sqrt for proper noise sigma calculation",
        caught_by=("VARIANTS-7",))
class GaussianStddevPOverQ(Gaussian):
    """Uses p/q as the standard deviation of the noise instead of its variance (the square root left out)."""

    name = "gaussian-stddev-p-over-q"

    def gaussian_dropout(self, x, p, *, training, seed):
        return _gaussian(x, seed, p / (1 - p)) if training and p > 0 else x


@mutant("structure", models="keras-team/keras#1503: Add sqrt for proper noise sigma calculation",
        caught_by=("VARIANTS-7",))
class GaussianVarianceP(Gaussian):
    """Draws noise of variance p instead of p/q (the 1/q left out).

    Generalises the report, a noise scale missing its square root, to one missing its 1/q.
    """

    name = "gaussian-variance-p"

    def gaussian_dropout(self, x, p, *, training, seed):
        return _gaussian(x, seed, math.sqrt(p)) if training and p > 0 else x
