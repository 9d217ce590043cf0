"""Mutants of the kind "structure": the right noise applied to the wrong units (spec/variants.md,
spec/recurrent.md): the channel axis, the recurrent masks' lifetime, alpha dropout's constants,
Gaussian dropout's variance, DropBlock's seed rate on rectangles, DropConnect's and DropPath's masks
tied across rows. Each is the reference narrowed to the capability it breaks.
"""

from __future__ import annotations

import dataclasses
import math

from ..functional import alpha_dropout, channel_dropout, drop_path, dropconnect, dropout
from ..functional.alpha import ALPHA_PRIME
from ..functional.dropblock import block_keep_mask, seed_rate
from ..nn.recurrent import RecurrentLayer, RecurrentMasks
from ..random import Generator
from ..tensor import Tensor
from .narrowed import reference_with
from .registry import mutant

__all__ = [
    "DataFormatIgnored", "Dropout2dReads3DAsBatched", "RecurrentMaskRedrawnEveryStep", "RecurrentMaskNeverRedrawn",
    "BetweenLayerMaskRepeatsAfterTheFirstStep", "RecurrentActiveInEval", "AlphaWithoutAffineCorrection",
    "GaussianVarianceP", "GaussianStddevPOverQ", "DropBlockSeedRateFromHeight", "DropConnectRowsShifted",
    "DropPathShardsShareMasks", "layers_with", "step_masks", "alpha_with_constants", "dropblock_at_rate",
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


# --- the recurrent masks' lifetime (RECURRENT-7, RECURRENT-8, RECURRENT-11, RECURRENT-12) -----------

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


class _RepeatsAfterTheFirstStep:
    def draw_masks(self, steps, batch):
        masks = super().draw_masks(steps, batch)
        repeated = tuple(layer[:1] + layer[1:2] * (steps - 1) for layer in masks.between_layers)
        return dataclasses.replace(masks, between_layers=repeated)


@mutant("structure", models="tensorflow/tensorflow#2789: DropoutWrapper has unintended mask behavior when random "
        "seed is set", caught_by=("RECURRENT-8",))
class BetweenLayerMaskRepeatsAfterTheFirstStep(Recurrent):
    """Applies step 1's between-layer mask again at every later step: the masks are fresh from step 0
    to step 1 only.

    Generalises the report, where a seeded DropoutWrapper in a statically unrolled rnn draws the same
    mask at every step (the same units dropped at all steps), to a first step seeded apart, as a step
    built before the loop that builds the rest: a check of steps 0 and 1 alone passes it.
    """

    name = "between-layer-mask-repeats-after-the-first-step"
    recurrent_layers = layers_with(_RepeatsAfterTheFirstStep)


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


# --- DropBlock's seed rate on maps that are not square (VARIANTS-14) -----------------------------------

Blocks = reference_with("dropblock2d")


def dropblock_at_rate(x: Tensor, block: int, seed: int, gamma: float) -> Tensor:
    """The reference's DropBlock with the seed rate ``gamma``: seeds, b x b blocks, count / count_ones."""
    n, c, height, width = x.shape
    seeds = Generator(seed).bernoulli((n, c, height - block + 1, width - block + 1), gamma).data
    keep = block_keep_mask(seeds, n * c, height, width, block)
    kept = sum(keep)
    scale = len(keep) / kept if kept else 0.0
    return Tensor.from_flat([v * scale if k else 0.0 for v, k in zip(x.data, keep)], x.shape)


@mutant("structure", models="miguelvr/dropblock#10: About feat_size?", caught_by=("VARIANTS-14",))
class DropBlockSeedRateFromHeight(Blocks):
    """Computes γ from the height alone, the paper's square formula fed one side: right on square maps only."""

    name = "dropblock-seed-rate-from-height"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if not (training and p):
            return x
        height = x.shape[2]
        return dropblock_at_rate(x, block_size, seed, seed_rate(p, block_size, height, height))


# --- DropConnect's weights, tied across rows (VARIANTS-9) -------------------------------------------------

Connections = reference_with("dropconnect")


@mutant("structure",
        models="AMReX-Codes/amrex#5662: SYCL: give each device RNG engine its own window of the Philox stream",
        caught_by=("VARIANTS-9",))
class DropConnectRowsShifted(Connections):
    """Reads row r's mask from one Bernoulli sequence at offset r, M[r, j] = m[r + j]: every weight
    keeps at q, but M[r, j + 1] = M[r + 1, j] (streams one element apart)."""

    name = "dropconnect-rows-shifted"

    def dropconnect(self, x, weight, p, *, training, seed):
        if not training or p in (0.0, 1.0):
            return dropconnect(x, weight, p, training=training, seed=seed)
        rows, cols = weight.shape
        base = Generator(seed).bernoulli((rows + cols - 1,), 1.0 - p).data
        q = 1.0 - p
        dropped = [w / q if base[k // cols + k % cols] else 0.0 for k, w in enumerate(weight.data)]
        return dropconnect(x, Tensor.from_flat(dropped, weight.shape), p, training=False)


# --- DropPath's rows, repeated across shards (VARIANTS-10) ----------------------------------------------

Paths = reference_with("drop_path")


@mutant("structure", models="tenstorrent/tt-metal#16823: [TT-Train] Add multidevice support to dropout",
        caught_by=("VARIANTS-10",))
class DropPathShardsShareMasks(Paths):
    """Row mode on a batch split between two data-parallel shards seeded alike: both shards draw the
    same row masks, so rows r and r + N / 2 share theirs."""

    name = "drop-path-shards-share-masks"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        if mode != "row" or not training or p in (0.0, 1.0) or x.shape[0] % 2:
            return drop_path(x, p, mode=mode, scaling=scaling, training=training, seed=seed)
        half = x.size // 2
        shape = (x.shape[0] // 2,) + x.shape[1:]
        shards = [drop_path(Tensor.from_flat(x.data[start:start + half], shape), p, mode=mode, scaling=scaling,
                            training=training, seed=seed).data for start in (0, half)]
        return Tensor.from_flat(list(shards[0]) + list(shards[1]), x.shape)
