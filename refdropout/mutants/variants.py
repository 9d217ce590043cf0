"""Mutants of the variants' masks (spec/variants.md): the right keep rate, the wrong arrangement.

Each keeps every unit at its rate, so a keep-rate decision passes it; what is wrong is how the
units' masks relate, or the seed rate on maps that are not square. Each is the reference narrowed
to the capability it breaks.
"""

from __future__ import annotations

from ..functional import drop_path, dropconnect
from ..functional.dropblock import block_keep_mask, seed_rate
from ..random import Generator
from ..tensor import Tensor
from .narrowed import reference_with
from .registry import mutant

__all__ = ["DropBlockSeedRateFromHeight", "DropConnectRowsShifted", "DropPathShardsShareMasks", "dropblock_at_rate"]


# --- DropBlock's seed rate (VARIANTS-14) ------------------------------------------------------------------


def dropblock_at_rate(x: Tensor, block: int, seed: int, gamma: float) -> Tensor:
    """The reference's DropBlock with the seed rate ``gamma``: seeds, b x b blocks, count / count_ones."""
    n, c, height, width = x.shape
    seeds = Generator(seed).bernoulli((n, c, height - block + 1, width - block + 1), gamma).data
    keep = block_keep_mask(seeds, n * c, height, width, block)
    kept = sum(keep)
    scale = len(keep) / kept if kept else 0.0
    return Tensor.from_flat([v * scale if k else 0.0 for v, k in zip(x.data, keep)], x.shape)


@mutant("rate", models="miguelvr/dropblock#10: About feat_size?", caught_by=("VARIANTS-14",))
class DropBlockSeedRateFromHeight(reference_with("dropblock2d")):
    """Computes γ from the height alone, the paper's square formula fed one side: right on square maps only."""

    name = "dropblock-seed-rate-from-height"

    def dropblock2d(self, x, p, *, block_size, training, seed):
        if not (training and p):
            return x
        height = x.shape[2]
        return dropblock_at_rate(x, block_size, seed, seed_rate(p, block_size, height, height))


# --- DropConnect's weights (VARIANTS-9) ------------------------------------------------------------------


@mutant("randomness",
        models="AMReX-Codes/amrex#5662: SYCL: give each device RNG engine its own window of the Philox stream",
        caught_by=("VARIANTS-9",))
class DropConnectRowsShifted(reference_with("dropconnect")):
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


# --- DropPath's rows (VARIANTS-10) ---------------------------------------------------------------------


@mutant("randomness", models="tenstorrent/tt-metal#16823: [TT-Train] Add multidevice support to dropout",
        caught_by=("VARIANTS-10",))
class DropPathShardsShareMasks(reference_with("drop_path")):
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
