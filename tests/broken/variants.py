"""Broken variants of dropout (spec/variants.md): each gets one thing about one variant wrong.

Each is the reference with one capability replaced; every check of
refdropout.conformance.variants and refdropout.conformance.attention rejects at least one of them or
one of the broken variants that model public bugs, the mutants of refdropout.mutants.structure.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from broken.dropout import flush_subnormals
from refdropout.adapters.reference import ReferenceDropout
from refdropout.functional import (
    alpha_dropout,
    channel_dropout,
    drop_path,
    dropblock2d,
    dropconnect,
    dropout,
    feature_alpha_dropout,
    gaussian_dropout,
)
from refdropout.functional.alpha import ALPHA_PRIME
from refdropout.functional.dropblock import block_keep_mask, seed_rate
from refdropout.mutants.fused import FusedWithMask
from refdropout.mutants.structure import alpha_with_constants
from refdropout.random import Generator
from refdropout.tensor import Tensor


def _channel_axis(x: Tensor, spatial_dims: int, data_format: str) -> int:
    return x.ndim - 1 if data_format == "channels_last" else x.ndim - spatial_dims - 1


# --- channel dropout -------------------------------------------------------------------------------


class ChannelAxisWrong(ReferenceDropout):
    """Shares the mask over the channels instead of the spatial axes: one value per (sample, position)."""

    name = "channel-axis-wrong"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        noise = list(x.shape)
        noise[_channel_axis(x, spatial_dims, data_format)] = 1
        return dropout(x, p, training=training, seed=seed, noise_shape=noise)


class ChannelsShareOneMask(ReferenceDropout):
    """Draws one mask value per sample and shares it over all channels (DropPath under another name)."""

    name = "channels-share-one-mask"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        return drop_path(x, p, training=training, seed=seed)


class ChannelMaskSharedAcrossBatch(ReferenceDropout):
    """Draws one mask value per channel and shares it over the batch."""

    name = "channel-mask-shared-across-batch"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        channel = _channel_axis(x, spatial_dims, data_format)
        noise = [n if j == channel else 1 for j, n in enumerate(x.shape)]
        return dropout(x, p, training=training, seed=seed, noise_shape=noise)


class ChannelRatesSwapped(ReferenceDropout):
    """Keeps channels with probability p instead of q (and scales by 1/p)."""

    name = "channel-rates-swapped"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        return channel_dropout(x, 1.0 - p, spatial_dims=spatial_dims, data_format=data_format, training=training,
                               seed=seed)


class ChannelMaskPerElementInHalfPrecision(ReferenceDropout):
    """In float16 and bfloat16 draws one mask value per element, as a half-precision kernel that drops
    the broadcast of the (sample, channel) mask (the fixed cases run float64 only)."""

    name = "channel-mask-per-element-in-half-precision"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        if x.dtype.name in ("float16", "bfloat16"):
            return dropout(x, p, training=training, seed=seed)
        return channel_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training,
                               seed=seed)


class UnbatchedReadAsBatchedInFloat32(ReferenceDropout):
    """In float32 reads an unbatched input as a batch, its first two axes as (sample, channel), as
    F.dropout2d reads a 3-D input (pytorch/pytorch#77081) on a path the fixed cases (float64) never take."""

    name = "unbatched-read-as-batched-in-float32"

    def channel_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        if x.dtype.name == "float32" and x.ndim == spatial_dims + 1:
            return dropout(x, p, training=training, seed=seed, noise_shape=x.shape[:2] + (1,) * (x.ndim - 2))
        return channel_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training,
                               seed=seed)


# --- alpha dropout ---------------------------------------------------------------------------------


class AlphaPrimeSignFlipped(ReferenceDropout):
    """Sets dropped units to +λα instead of -λα (and derives a and b from that)."""

    name = "alpha-prime-sign-flipped"

    def alpha_dropout(self, x, p, *, training, seed):
        if not training or p in (0.0, 1.0):
            return alpha_dropout(x, p, training=training, seed=seed)
        a = ((1 - p) * (1 + p * ALPHA_PRIME**2)) ** -0.5
        return alpha_with_constants(x, p, seed, -ALPHA_PRIME, a, a * ALPHA_PRIME * p)


class AlphaStandardScale(ReferenceDropout):
    """Uses standard dropout's a = q^(-1/2) scale, forgetting the α' term of the variance."""

    name = "alpha-standard-scale"

    def alpha_dropout(self, x, p, *, training, seed):
        if not training or p in (0.0, 1.0):
            return alpha_dropout(x, p, training=training, seed=seed)
        a = (1 - p) ** -0.5
        return alpha_with_constants(x, p, seed, ALPHA_PRIME, a, -a * ALPHA_PRIME * p)


class AlphaIdentityAtPOne(ReferenceDropout):
    """Returns x at p = 1 (Keras's AlphaDropout at rate 1) instead of 0."""

    name = "alpha-identity-at-p-one"

    def alpha_dropout(self, x, p, *, training, seed):
        return x if p == 1.0 else alpha_dropout(x, p, training=training, seed=seed)


class AlphaMultipliesUnderSelect(ReferenceDropout):
    """Declares nonfinite = "select" while its alpha and feature alpha dropout at p = 1 give NaN for NaN
    and ±inf.

    Its standard dropout drops NaN and ±inf to 0, as declared; its alpha dropouts compute 0 · x at p = 1,
    as PaddlePaddle's alpha_dropout does (paddle.scale(x, 0.0)). VARIANTS-6's fixed cases (x = 0, and
    evaluation) miss it: only its generated cases at p = 1 draw NaN and ±inf."""

    name = "alpha-multiplies-under-select"

    def __init__(self) -> None:
        super().__init__(nonfinite="select")

    def alpha_dropout(self, x, p, *, training, seed):
        return alpha_dropout(x, p, training=training, seed=seed, nonfinite="multiply")

    def feature_alpha_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        return feature_alpha_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training,
                                     seed=seed, nonfinite="multiply")


class AlphaZerosBatchesAtPOne(ReferenceDropout):
    """At p = 1 gives 0 for NaN and ±inf of an x of two or more axes while declaring "multiply".

    A batched kernel's early exit to zeros; a vector (the fixed case's) gets the reference's 0 · x."""

    name = "alpha-zeros-batches-at-p-one"

    def alpha_dropout(self, x, p, *, training, seed):
        if training and p == 1.0 and x.ndim >= 2:
            return Tensor.from_flat([0.0] * x.size, x.shape, x.dtype)
        return alpha_dropout(x, p, training=training, seed=seed)


class AlphaUnderFlushToZero(ReferenceDropout):
    """Alpha and feature alpha dropout as a CPU or GPU kernel under FTZ/DAZ computes them: a subnormal
    input read as ±0 and a subnormal result written as ±0. Keras 3 on TensorFlow does (its kernels flush;
    at p = 5e-324, x = 0 it gives 0.0 where b = 1e-323). Correct where it declares subnormals =
    "flushed" (``declared``); a deviation where it does not."""

    name = "alpha-under-flush-to-zero"

    def __init__(self, *, declared: bool = True) -> None:
        super().__init__()
        if declared:
            self.policies = replace(self.policies, subnormals="flushed")

    def alpha_dropout(self, x, p, *, training, seed):
        if not training or p == 0.0:  # the identity computes nothing (Keras: `if training and rate > 0`)
            return alpha_dropout(x, p, training=training, seed=seed)
        return flush_subnormals(alpha_dropout(flush_subnormals(x), p, training=training, seed=seed))

    def feature_alpha_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        options = {"spatial_dims": spatial_dims, "data_format": data_format, "training": training, "seed": seed}
        if not training or p == 0.0:
            return feature_alpha_dropout(x, p, **options)
        return flush_subnormals(feature_alpha_dropout(flush_subnormals(x), p, **options))


class AlphaNeverDrops(ReferenceDropout):
    """Applies the affine correction a x + b but drops nothing."""

    name = "alpha-never-drops"

    def alpha_dropout(self, x, p, *, training, seed):
        if not training or p in (0.0, 1.0):
            return alpha_dropout(x, p, training=training, seed=seed)
        a = ((1 - p) * (1 + p * ALPHA_PRIME**2)) ** -0.5
        return Tensor.from_flat([a * v - a * ALPHA_PRIME * p for v in x.data], x.shape)


class AlphaTailStandardScale(ReferenceDropout):
    """Past the last multiple of 8 elements uses standard dropout's a = q^(-1/2), as a remainder loop
    written from the plain dropout kernel (the fixed case's 64 elements have no remainder)."""

    name = "alpha-tail-standard-scale"

    def alpha_dropout(self, x, p, *, training, seed):
        y = alpha_dropout(x, p, training=training, seed=seed)
        if not training or p in (0.0, 1.0) or x.size % 8 == 0:
            return y
        keep = dropout(x, p, seed=seed, return_mask=True)[1].data
        a = (1 - p) ** -0.5
        tail = range(x.size // 8 * 8, x.size)
        data = list(y.data)
        for i in tail:
            data[i] = x.dtype.round(a * (x.data[i] if keep[i] else ALPHA_PRIME) - a * ALPHA_PRIME * p)
        return Tensor.from_flat(data, y.shape, y.dtype)


class FeatureAlphaElementwise(ReferenceDropout):
    """Feature alpha dropout with one mask value per element, as plain alpha dropout."""

    name = "feature-alpha-elementwise"

    def feature_alpha_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        return alpha_dropout(x, p, training=training, seed=seed)


class FeatureAlphaElementwiseUnbatchedChannelsLast(ReferenceDropout):
    """Feature alpha dropout with one mask value per element on an unbatched channels-last input, as a
    kernel that takes the first two axes as (sample, channel) whatever the layout (the fixed cases'
    unbatched input is channels-first)."""

    name = "feature-alpha-elementwise-unbatched-channels-last"

    def feature_alpha_dropout(self, x, p, *, spatial_dims, data_format, training, seed):
        if data_format == "channels_last" and x.ndim == spatial_dims + 1:
            return alpha_dropout(x, p, training=training, seed=seed)
        return feature_alpha_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training,
                                     seed=seed)



class GaussianActiveInEvalAtSeedZero(ReferenceDropout):
    """In evaluation with seed 0 draws noise as in training, as an implementation that takes seed 0 for "no
    seed given" and then reads its mode from a global flag (the fixed cases' seeds are hashes)."""

    name = "gaussian-active-in-eval-at-seed-zero"

    def gaussian_dropout(self, x, p, *, training, seed):
        return gaussian_dropout(x, p, training=training or seed == 0, seed=seed)

# --- DropConnect -----------------------------------------------------------------------------------


class DropConnectNoRescale(ReferenceDropout):
    """Masks the weights without the 1/q: y = x (W ⊙ M)^T."""

    name = "dropconnect-no-rescale"

    def dropconnect(self, x, weight, p, *, training, seed):
        if training:
            weight = dropout(weight, p, seed=seed, scaling="classic")
        return dropconnect(x, weight, p, training=False)


class DropConnectRatesSwapped(ReferenceDropout):
    """Keeps weights with probability p instead of q (and scales by 1/p)."""

    name = "dropconnect-rates-swapped"

    def dropconnect(self, x, weight, p, *, training, seed):
        return dropconnect(x, weight, 1.0 - p if training else p, training=training, seed=seed)


class DropConnectTailColumnsUnscaled(ReferenceDropout):
    """Forgets the 1/q on the weights of the input columns past the last multiple of 4, as a kernel of 4
    lanes whose remainder loop takes the unscaled path (the fixed cases' W has 4 columns)."""

    name = "dropconnect-tail-columns-unscaled"

    def dropconnect(self, x, weight, p, *, training, seed):
        columns = weight.shape[-1]
        tail = columns - columns % 4
        if not training or tail == columns:
            return super().dropconnect(x, weight, p, training=training, seed=seed)
        q = 1.0 - p  # the same mask (drawn from the shape alone), the tail's weights pre-multiplied by q
        scaled = [w * q if k % columns >= tail else w for k, w in enumerate(weight.data)]
        return super().dropconnect(x, Tensor.from_flat(scaled, weight.shape, weight.dtype), p, training=training,
                                   seed=seed)


def _dropconnect_with_mask(x: Tensor, weight: Tensor, p: float, keep: list) -> Tensor:
    """x (W ⊙ M / q)^T with the given keep mask M of W's shape, flat and row-major."""
    q = 1.0 - p
    dropped = Tensor.from_flat([w / q if k else 0.0 for w, k in zip(weight.data, keep)], weight.shape)
    return dropconnect(x, dropped, p, training=False)


class DropConnectPerOutputUnit(ReferenceDropout):
    """Draws one mask value per row of W, shared by its inputs: dropout of the output units, not of
    the connections (M[r, j] = m[r])."""

    name = "dropconnect-per-output-unit"

    def dropconnect(self, x, weight, p, *, training, seed):
        if not training or p in (0.0, 1.0):
            return dropconnect(x, weight, p, training=training, seed=seed)
        rows, cols = weight.shape
        per_row = Generator(seed).bernoulli((rows,), 1.0 - p).data
        return _dropconnect_with_mask(x, weight, p, [per_row[r] for r in range(rows) for _ in range(cols)])


# --- DropPath ----------------------------------------------------------------------------------------


class DropPathSharedAcrossBatch(ReferenceDropout):
    """Row mode draws one mask value for the whole batch, as batch mode does."""

    name = "drop-path-shared-across-batch"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        return drop_path(x, p, mode="batch", scaling=scaling, training=training, seed=seed)


class DropPathPerElement(ReferenceDropout):
    """Drops elements one by one: standard dropout in place of either mode."""

    name = "drop-path-per-element"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        return dropout(x, p, training=training, seed=seed, scaling=scaling)


class DropPathRowPairsShareMasks(ReferenceDropout):
    """Row mode draws one mask value per pair of rows (a mask of N / 2 values repeated element-wise):
    rows 2k and 2k + 1 are dropped together."""

    name = "drop-path-row-pairs-share-masks"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        if mode != "row" or not training or p in (0.0, 1.0):
            return drop_path(x, p, mode=mode, scaling=scaling, training=training, seed=seed)
        rows = x.shape[0]
        per_pair = drop_path(Tensor.from_flat([1.0] * ((rows + 1) // 2), ((rows + 1) // 2,)), p, mode=mode,
                             scaling=scaling, training=training, seed=seed).data
        width = x.size // rows
        return Tensor.from_flat([v * per_pair[i // width // 2] for i, v in enumerate(x.data)], x.shape)


class DropPathBatchModePerSample(ReferenceDropout):
    """Batch mode draws one mask value per sample, as row mode does."""

    name = "drop-path-batch-mode-per-sample"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        return drop_path(x, p, mode="row", scaling=scaling, training=training, seed=seed)


class DropPathUnscaledEval(ReferenceDropout):
    """timm's scale_by_keep=False offered as "classic": train x m, but eval x instead of q x."""

    name = "drop-path-unscaled-eval"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        if scaling == "classic" and not training:
            return x
        return drop_path(x, p, mode=mode, scaling=scaling, training=training, seed=seed)


class DropPathRowModePerChannelOnManyAxes(ReferenceDropout):
    """In row mode on inputs of 3 or more axes draws one mask value per (sample, channel), as a kernel that
    reshapes such inputs to (N C, -1) rows before masking them (the fixed cases' inputs have 2 axes)."""

    name = "drop-path-row-mode-per-channel-on-many-axes"

    def drop_path(self, x, p, *, mode, scaling, training, seed):
        if mode == "row" and x.ndim >= 3 and training:
            noise = x.shape[:2] + (1,) * (x.ndim - 2)
            return dropout(x, p, training=training, seed=seed, scaling=scaling, noise_shape=noise)
        return drop_path(x, p, mode=mode, scaling=scaling, training=training, seed=seed)


# --- DropBlock ----------------------------------------------------------------------------------------


def _dropblock(x: Tensor, p: float, block: int, seed: int, gamma: float, normalise: str = "tensor") -> Tensor:
    """DropBlock with the reference's blocks but a given seed rate and normalisation
    ("tensor": the reference's, "sample": per sample, "none")."""
    n, c, h, w = x.shape
    seeds = Generator(seed).bernoulli((n, c, h - block + 1, w - block + 1), gamma).data
    keep = block_keep_mask(seeds, n * c, h, w, block)
    per = len(keep) // n if normalise == "sample" else len(keep)
    scales = [1.0] * len(keep)
    if normalise != "none":
        for start in range(0, len(keep), per):
            kept = sum(keep[start:start + per])
            scales[start:start + per] = [per / kept if kept else 0.0] * per
    return Tensor.from_flat([v * s if k else 0.0 for v, s, k in zip(x.data, scales, keep)], x.shape)


class DropBlockSeedRateP(ReferenceDropout):
    """Seeds blocks at rate p, ignoring the block area and the border."""

    name = "dropblock-seed-rate-p"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        return _dropblock(x, p, block_size, seed, p) if training and p else x


class DropBlockNoBorderCorrection(ReferenceDropout):
    """Seeds blocks at rate p / b^2, ignoring that seeds only fit (H - b + 1)(W - b + 1) positions."""

    name = "dropblock-no-border-correction"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        return _dropblock(x, p, block_size, seed, p / block_size**2) if training and p else x


class DropBlockBorderForBlockSize2(ReferenceDropout):
    """Corrects for the border as if b were 2, (H - 1)(W - 1) seed positions: right for b = 2 only."""

    name = "dropblock-border-for-block-size-2"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if not (training and p):
            return x
        height, width = x.shape[2:]
        gamma = p * height * width / (block_size**2 * (height - 1) * (width - 1))
        return _dropblock(x, p, block_size, seed, gamma)


class DropBlockNoNormalisation(ReferenceDropout):
    """Applies the block mask without renormalising: y = x ⊙ M."""

    name = "dropblock-no-normalisation"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if not (training and p):
            return x
        return _dropblock(x, p, block_size, seed, seed_rate(p, block_size, *x.shape[2:]), "none")


class DropBlockPerSampleNormalisation(ReferenceDropout):
    """Renormalises each sample by its own kept fraction instead of the whole tensor's."""

    name = "dropblock-per-sample-normalisation"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if not (training and p):
            return x
        return _dropblock(x, p, block_size, seed, seed_rate(p, block_size, *x.shape[2:]), "sample")


class DropBlockClippedBlocks(ReferenceDropout):
    """Seeds blocks at every position and clips them at the border (centred blocks, 'SAME' padding)."""

    name = "dropblock-clipped-blocks"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if not (training and p):
            return x
        n, c, h, w = x.shape
        seeds = Generator(seed).bernoulli((n, c, h, w), seed_rate(p, block_size, h, w)).data
        keep = [True] * x.size
        half = block_size // 2
        for flat, s in enumerate(seeds):
            if s:
                k, rest = divmod(flat, h * w)
                i, j = divmod(rest, w)
                for r in range(max(0, i - half), min(h, i - half + block_size)):
                    for col in range(max(0, j - half), min(w, j - half + block_size)):
                        keep[k * h * w + r * w + col] = False
        scale = x.size / sum(keep) if any(keep) else 0.0
        return Tensor.from_flat([v * scale if k else 0.0 for v, k in zip(x.data, keep)], x.shape)


class DropBlockClippedForLargeBlocks(DropBlockClippedBlocks):
    """Clips blocks at the border (as DropBlockClippedBlocks) for b >= 4 only, as timm's fast variant taken
    for large blocks (the fixed cases' blocks are 2 and 3)."""

    name = "dropblock-clipped-for-large-blocks"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if block_size >= 4:
            return super().dropblock2d(x, p, block_size=block_size, training=training, seed=seed)
        return dropblock2d(x, p, block_size=block_size, training=training, seed=seed)


class DropBlockFlushesSubnormals(ReferenceDropout):
    """Flushes subnormal inputs to 0 (of their sign) whatever the mode, as a kernel run with the CPU's
    flush-to-zero flags set: evaluation and p = 0 then change x (the fixed cases' x has no subnormal)."""

    name = "dropblock-flushes-subnormals"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        return dropblock2d(flush_subnormals(x), p, block_size=block_size, training=training, seed=seed)


# --- attention dropout --------------------------------------------------------------------------------


class AttentionRenormalisedRows(ReferenceDropout):
    """Renormalises every dropped row to sum to 1, biasing the weights towards the kept keys."""

    name = "attention-renormalised-rows"

    def attention_dropout(self, weights, p, *, training, seed):
        y = dropout(weights, p, training=training, seed=seed)
        if not training:
            return y
        width = y.shape[-1]
        rows = [y.data[i:i + width] for i in range(0, y.size, width)]
        return Tensor.from_flat([v / total if total else 0.0
                                 for row in rows for total in (math.fsum(row),) for v in row], y.shape)


class AttentionNoRescale(ReferenceDropout):
    """Drops weights without the 1/q: rows then sum to q in expectation."""

    name = "attention-no-rescale"

    def attention_dropout(self, weights, p, *, training, seed):
        return dropout(weights, p, training=training, seed=seed, scaling="classic") if training else weights


# --- fused attention dropout --------------------------------------------------------------------------


class FusedBroadcastMask(FusedWithMask):
    """Flax's default broadcast_dropout=True: one (L, S) mask shared by every sample and head."""

    name = "fused-broadcast-mask"

    def keep(self, shape, p, seed):
        return np.broadcast_to(super().keep(shape[-2:], p, seed), shape)


class FusedBackwardRedrawsTheMask(ReferenceDropout):
    """A backward pass that regenerates the mask from the next Philox offset instead of the forward
    pass's: dL/dv applies a fresh mask (TRAINING-1's defect inside one kernel)."""

    name = "fused-backward-redraws-the-mask"

    def fused_attention(self, q, k, v, g, p, *, backend, training, seed):
        o, _ = super().fused_attention(q, k, v, g, p, backend=backend, training=training, seed=seed)
        _, dv = super().fused_attention(q, k, v, g, p, backend=backend, training=training,
                                     seed=(seed + 1) % 2**64)
        return o, dv


class FusedShortRowsUnscaled(FusedWithMask):
    """Drops at the right rate but forgets the 1/q on rows of fewer than 32 keys, as a kernel whose path for
    short sequences was written apart (the fixed cases' rows have 32 keys)."""

    name = "fused-short-rows-unscaled"

    def fused_attention(self, q, k, v, g, p, *, backend, training, seed):
        self.short = k.shape[-2] < 32
        return super().fused_attention(q, k, v, g, p, backend=backend, training=training, seed=seed)

    fused_attention.answers_in_kind = True  # the checks' numpy arrays as they are (contract.arrays)

    def scale(self, p):
        return 1.0 if self.short else super().scale(p)


class FusedBackwardRedrawsForManyHeads(ReferenceDropout):
    """Applies the forward mask in the backward pass on up to 2 heads, and a fresh one on more, as a kernel
    that splits many heads across programs and offsets their random counters wrongly in the backward pass
    (the fixed cases have 2 heads)."""

    name = "fused-backward-redraws-for-many-heads"

    def fused_attention(self, q, k, v, g, p, *, backend, training, seed):
        o, dv = super().fused_attention(q, k, v, g, p, backend=backend, training=training, seed=seed)
        if q.shape[1] > 2:
            _, dv = super().fused_attention(q, k, v, g, p, backend=backend, training=training,
                                         seed=(seed + 1) % 2**64)
        return o, dv
