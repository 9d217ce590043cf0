"""Mutants of vectorised kernels (kind "randomness", refdropout.mutants.registry.KINDS): a lane, or the
remainder loop past the last whole vector, draws its keep decisions wrongly (issue 16, section 2).

Each derives from :class:`~refdropout.mutants.textbook.Textbook` and overrides its ``keep`` step. Calls of
16 elements (DROPOUT-18) never reach the broken lane or tail, and on the sizes DROPOUT-16 draws the overall
keep rate moves by a part in a thousand or less: the decisions by position class and by tail (DROPOUT-22)
and the pairs by position class (DROPOUT-19) are made to see them.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = ["TailKeptInThe16BitKernel", "SmallNumbersInTheLastLane", "LaneReusesItsNeighbour"]

WIDTH = 64  # the lanes of one vector of the kernels below: the widest vector width DROPOUT-22 judges


@mutant("randomness", models="stew675/llama-cpp-rdna-boosts#19: Block 13: moe_weighted_reduction_f32 float4 rewrite "
        "drops the last n_embd % 4 columns (silent wrong output)", caught_by=("DROPOUT-22",))
class TailKeptInThe16BitKernel(Textbook):
    """Its 16-bit kernel leaves the keep mask past the last multiple of 8 at its initial all-ones: float16 and
    bfloat16 tails are always kept.

    Those elements are scaled by 1/q as kept ones are; float64 and float32 are right. The report's vectorised
    rewrite indexes in whole vectors of 4 and silently leaves the last n mod 4 outputs unwritten; here a
    float16/bfloat16 kernel of 8 lanes leaves its tail's mask so. The overall rate moves by at most 7/n, and
    DROPOUT-22's tails in float64 pass: its tails in a 16-bit format fail (and so do DROPOUT-13's float16 calls
    of 7 elements, kept whole under every seed).
    """

    name = "tail-kept-in-the-16-bit-kernel"
    narrow = False  # whether the call runs the 16-bit kernel (set by each forward pass)

    def forward(self, generator: Generator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        self.narrow = x.dtype.itemsize == 2  # the 16-bit kernel: its own vector width and remainder loop
        return super().forward(generator, x, p, training=training, noise_shape=noise_shape)

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        drawn = super().keep(generator, shape, p)
        if not self.narrow:
            return drawn
        whole = len(drawn) // 8 * 8
        return drawn[:whole] + [True] * (len(drawn) - whole)


@mutant("randomness", models="lemire/simdpcg#2: avx512bis_pcg32_random_r: Every second 32 bit integer is between 0 "
        "and 31?", caught_by=("DROPOUT-22",))
class SmallNumbersInTheLastLane(Textbook):
    """Lane 63 of every 64 draws its numbers from [0, 0.92) only: it keeps with probability min(1, q / 0.92),
    0.76 at p = 0.3.

    Every other element keeps at q. The report finds one lane in two of a vectorised generator giving small
    numbers (below 32 in 32 bits); here one lane of 64 is off, by less: the overall rate moves by 0.0012 at p =
    0.1, which DROPOUT-16's pooled count sees at the standard profile (4.8 million elements) and not at quick.
    """

    name = "small-numbers-in-the-last-lane"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        u = generator.uniform(shape).data
        return [(v * 0.92 if i % WIDTH == WIDTH - 1 else v) < 1.0 - p for i, v in enumerate(u)]


@mutant("randomness", models="pytorch/pytorch#68909: Bug about Dropout CUDA Kernel", caught_by=("DROPOUT-19",))
class LaneReusesItsNeighbour(Textbook):
    """Element 64 k + 32 takes the keep decision of element 64 k + 31: every element keeps at q, but one
    position class of 64 copies its neighbour.

    A kernel whose second half-vector starts from the last random number of the first does this (a correlation
    of 1 at lag 1 in that class). The report shows PyTorch's CUDA dropout kernel with 2 lanes meant to reuse the
    two unused numbers of each draw of 4 in its next iteration, and the bookkeeping of which numbers a lane
    reuses wrong (it never reuses them); this mutant gets that bookkeeping wrong the other way, a lane reading a
    number its neighbour has used. The pooled lag-1 pairs of DROPOUT-19, (2 j, 2 j + 1), never pair 31 with 32:
    only its pairs by position class see it.
    """

    name = "lane-reuses-its-neighbour"

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        drawn = super().keep(generator, shape, p)
        for i in range(WIDTH // 2, len(drawn), WIDTH):
            drawn[i] = drawn[i - 1]
        return drawn
