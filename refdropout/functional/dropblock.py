"""DropBlock: dropping contiguous square regions of a feature map (Ghiasi, Lin and Le 2018;
spec/variants.md, VARIANTS-13 to VARIANTS-15).

For an input of shape (N, C, H, W) and a block size b, the reference follows the paper's
Algorithm 1 and its official TensorFlow implementation:

1. seeds s[n, c, i, j] ~ Bernoulli(γ) at the (H - b + 1)(W - b + 1) positions where a whole
   block fits, independently for every sample and channel, with the seed rate

       γ = p H W / (b^2 (H - b + 1)(W - b + 1))

   (the paper's p / b^2 * feat^2 / (feat - b + 1)^2 for a square map): the expected number of
   seeds times the block area is p H W;
2. a seed at (i, j) drops the block of rows i .. i + b - 1 and columns j .. j + b - 1;
3. with M the resulting 0/1 mask over the whole tensor, the output is renormalised by the
   realised kept fraction:

       y = x ⊙ M · count(M) / count_ones(M)      (y = 0 when nothing is kept)
"""

from __future__ import annotations

from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from ..values import shown
from .arguments import check_flag, check_input, check_int, check_rate
from .noise import affine, generator_for

__all__ = ["dropblock2d", "dropblock_arguments", "seed_rate", "block_keep_mask"]


def seed_rate(p: float, block_size: int, height: int, width: int) -> float:
    """γ = p H W / (b^2 (H - b + 1)(W - b + 1)), the Bernoulli rate of block seeds (VARIANTS-14).

    γ <= p, since b (H - b + 1) >= H and b (W - b + 1) >= W for 1 <= b <= min(H, W).
    """
    b = block_size
    return p * height * width / (b * b * (height - b + 1) * (width - b + 1))


def block_keep_mask(seeds: list[float], slices: int, height: int, width: int, block_size: int) -> list[bool]:
    """The keep mask of ``slices`` maps of H x W: False in the b x b block below and to the
    right of every seed; ``seeds`` lays out (slices, H - b + 1, W - b + 1) row-major (VARIANTS-13)."""
    b = block_size
    rows, cols = height - b + 1, width - b + 1
    keep = [True] * (slices * height * width)
    dropped_row = [False] * b
    for flat, seed in enumerate(seeds):
        if seed:
            k, rest = divmod(flat, rows * cols)
            i, j = divmod(rest, cols)
            for r in range(i, i + b):
                start = (k * height + r) * width + j
                keep[start:start + b] = dropped_row
    return keep


def dropblock_arguments(shape: Shape, p: object, block_size: object, training: object, op: str) -> tuple[float, int]:
    """The checked (p, block_size) of a call on an input of ``shape`` (VARIANTS-18): shape (N, C, H, W),
    block_size an int in [1, min(H, W)], training a bool."""
    p = check_rate(p, op)
    check_flag(training, op, "training")
    if len(shape) != 4:
        raise ValueError(f"{op}: x must have shape (N, C, H, W), got shape {shape}")
    height, width = shape[2:]
    b = check_int(block_size, op, "block_size", 1)
    if min(height, width) == 0:
        raise ValueError(f"{op}: x of shape {shape} has an empty feature map (H = {height}, W = {width}): no block"
                         f" fits, for block_size must be in [1, min(H, W)]; got block_size = {shown(b)}")
    return p, check_int(b, op, "block_size", 1, min(height, width))


def dropblock2d(
    x: Tensor,
    p: float = 0.5,
    *,
    block_size: int,
    training: bool = True,
    seed: int | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """DropBlock on ``x`` of shape (N, C, H, W) with square blocks of side ``block_size``.

    training:  y = x ⊙ M · count(M) / count_ones(M),  M built from seeds at rate γ (module doc)
    eval, p = 0:  y = x, drawing nothing

    ``block_size`` is an int in [1, min(H, W)]; block_size 1 is standard dropout renormalised
    by the realised kept fraction. VJP: dL/dx = g ⊙ M · count(M) / count_ones(M) with the
    forward mask (0 when nothing is kept); g in eval mode.
    """
    op = "dropblock2d"
    x = check_input(x, op)
    p, b = dropblock_arguments(x.shape, p, block_size, training, op)
    n, c, height, width = x.shape
    source = generator_for(seed, generator, op, needed=training and p > 0.0)
    if not training or p == 0.0:
        return x
    gamma = seed_rate(p, b, height, width)
    seeds = source.bernoulli((n, c, height - b + 1, width - b + 1), gamma).data
    keep = block_keep_mask(seeds, n * c, height, width, b)
    kept = sum(keep)
    scale = x.size / kept if kept else 0.0
    return affine(x, [scale if k else 0.0 for k in keep])
