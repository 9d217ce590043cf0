"""Mutants of the kind "randomness" inside a training system (spec/training.md, spec/exact.md): a
stream that recomputation replays, a checkpoint restores, ranks share, or a counter addresses,
handled wrongly while every single mask still has the right distribution.

Each is the reference with one capability changed (``checkpointed_dropout``, ``dropout_stream_state``,
``rank_streams``), or, for the counter, the textbook dropout drawing JAX's Threefry stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import autograd
from ..adapters.numpy_threefry import packed, threefry_bernoulli_float64
from ..adapters.reference import ReferenceDropout, _Stream
from ..contract import Policies
from ..exact import jax_random
from ..functional import dropout
from ..random import Generator, GeneratorState
from ..shapes import Shape, numel
from ..tensor import Tensor
from .registry import mutant
from .textbook import Textbook

__all__ = [
    "CounterOffByOne", "EveryRankSeededAlike", "GraphedStepReusesOneMask", "ReplayFromTheLiveGenerator",
    "ReplicatedRegionSeededByRank", "RestoreRestartsTheStream", "ThreefryKey", "checkpointed_steps",
]

Forward = Callable[[Generator, Tensor], Tensor]


def checkpointed_steps(seed: int, p_options: dict, run: Callable[[Generator, Forward, Tensor, bool], Tensor]
                       ) -> Callable[..., tuple[Tensor, Tensor]]:
    """checkpointed_dropout's steps on one Generator, the forward pass run by ``run(generator, forward,
    leaf, checkpoint)`` (TRAINING-1, TRAINING-2)."""
    generator = Generator(seed)

    def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
        leaf = x.detach()
        leaf.requires_grad = True

        def forward(drawing: Generator, t: Tensor) -> Tensor:
            return dropout(t, p, training=True, generator=drawing, **p_options)

        y = run(generator, forward, leaf, checkpoint)
        (w * y).sum().backward()
        return y, leaf.grad

    return step


# --- recomputation (TRAINING-1, TRAINING-2) ----------------------------------------------------------------


@mutant("randomness", models="allenai/OLMo-core#828: Preserve RNG state across activation-checkpoint recompute "
        "when dropout is active", caught_by=("TRAINING-1",))
class ReplayFromTheLiveGenerator(ReferenceDropout):
    """Recomputes without the generator state saved at the forward pass: the replay draws a fresh mask
    from the live generator, as torch.utils.checkpoint(..., preserve_rng_state=False), tf.recompute_grad
    of a stateful generator and the recomputation of OLMo-core before its PR 828 do."""

    name = "replay-from-the-live-generator"

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        def run(generator: Generator, forward: Forward, leaf: Tensor, checkpoint: bool) -> Tensor:
            live = lambda t: forward(generator, t)  # noqa: E731  (the replay reads the generator as it is then)
            return autograd.checkpoint(live, leaf) if checkpoint else live(leaf)

        return checkpointed_steps(seed, self.policy_options(), run)


@mutant("randomness", models="pytorch/pytorch#84614: torch.cuda.make_graphed_callables causes incorrect results "
        "in dropout", caught_by=("TRAINING-2",))
class GraphedStepReusesOneMask(ReferenceDropout):
    """Every step, recomputed or not, replays a step captured once (a CUDA graph) from the offset it was
    captured at: forward and replay agree, but all steps draw one mask (pytorch/pytorch#84614)."""

    name = "graphed-step-reuses-one-mask"

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        captured = Generator(seed).state

        def run(generator: Generator, forward: Forward, leaf: Tensor, checkpoint: bool) -> Tensor:
            replayed = Generator.from_state(captured)
            return autograd.checkpoint(forward, leaf, generator=replayed) if checkpoint else forward(replayed, leaf)

        return checkpointed_steps(seed, self.policy_options(), run)


# --- save and restore (TRAINING-3) ---------------------------------------------------------------------------


class _Restarting(_Stream):
    """A stream whose restore() ignores the snapshot and starts again from the stream's first state."""

    def __init__(self, adapter: ReferenceDropout, state: GeneratorState) -> None:
        super().__init__(adapter, state)
        self.first = state

    def restore(self, snapshot: GeneratorState) -> None:
        self.state = self.first


@mutant("randomness", models="AI-Hypercomputer/maxtext#4343: [NNX] Checkpoint: persist rngs/dropout across resumes; "
        "policy for missing weights", caught_by=("TRAINING-3",))
class RestoreRestartsTheStream(ReferenceDropout):
    """A resumed run's dropout stream starts again from its seed instead of from the saved state: the
    checkpoint did not keep the stream, so every resume replays the masks of the run's first steps."""

    name = "restore-restarts-the-stream"

    def dropout_stream_state(self, seed: int) -> _Stream:
        return _Restarting(self, Generator(seed).state)


# --- data parallelism (TRAINING-5, TRAINING-6) -------------------------------------------------------------


@mutant("randomness", models="huggingface/transformers#31412: Dropout sync across GPUs causes major performance "
        "drops", caught_by=("TRAINING-5",))
class EveryRankSeededAlike(ReferenceDropout):
    """Seeds every rank's stream with the seed alone, whatever the region: the classic data-parallel bug of
    calling manual_seed(seed) on every rank, so that all ranks drop the same units of their different data
    (what Megatron's model_parallel_cuda_manual_seed avoids by seeding its model-parallel state from the rank)."""

    name = "every-rank-seeded-alike"

    def rank_streams(self, seed: int, ranks: int, *, replicated: bool) -> list[_Stream]:
        return super().rank_streams(seed, ranks, replicated=True)


@mutant("randomness", models="tenstorrent/tt-metal#55947: [tt-train] TTML dropout needs mesh-axis-aware seeding "
        "for DP+TP", caught_by=("TRAINING-6",))
class ReplicatedRegionSeededByRank(ReferenceDropout):
    """Seeds a replicated region's streams from the rank too: ranks that hold the same activations drop
    different units of them, and the replicas drift apart."""

    name = "replicated-region-seeded-by-rank"

    def rank_streams(self, seed: int, ranks: int, *, replicated: bool) -> list[_Stream]:
        return super().rank_streams(seed, ranks, replicated=False)


# --- a counter off by one (EXACT-1) ------------------------------------------------------------------------


class ThreefryKey:
    """A JAX key as a draw's state: a single call draws with it, a stream splits it before each draw."""

    def __init__(self, seed: int, *, stream: bool) -> None:
        self.key, self.stream = divmod(seed, 2**32), stream

    def next(self) -> tuple[int, int]:
        if not self.stream:
            return self.key
        self.key, sub = jax_random.split(self.key)
        return sub


@mutant("randomness", models="ROCm/composable_kernel#574: fixed bug in philox_rand.hpp", caught_by=("EXACT-1",))
class CounterOffByOne(Textbook):
    """Draws JAX's Threefry masks, but element i with i mod 10^6 = 10^6 - 1 reads counter i + 1: one bit in 10^6 wrong.

    It declares the algorithm "jax-threefry" with the default key (hi, lo) of the seed, as the jax
    target does; the mask is bernoulli(key, 1 - p) in float64, except that every millionth element
    is decided by its neighbour's counter, as an increment off by one at a block boundary would
    (the report fixes the Philox counters of the dropout of AMD's attention kernels, which repeated
    random numbers). The distribution of every mask is untouched, so only the exact clause can see it.
    Its masks for the statistical clauses come through ``dropout_mask_bits``, the same bits drawn with
    numpy (adapters.numpy_threefry; tests/test_exact.py holds the two equal).
    """

    name = "counter-off-by-one"
    policies = Policies(scaling="inverted", nonfinite="multiply", algorithm="jax-threefry")
    PERIOD = 10**6

    def generator(self, seed: int) -> ThreefryKey:
        return ThreefryKey(seed, stream=False)

    def keep(self, generator: ThreefryKey, shape: Shape, p: float) -> list[bool]:
        n = numel(shape)
        drawn = jax_random.bernoulli(generator.next(), 1.0 - p, n + 1, "float64").data
        return [drawn[i + 1 if i % self.PERIOD == self.PERIOD - 1 else i] == 1.0 for i in range(n)]

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        key = ThreefryKey(seed, stream=True)
        return lambda x, p, *, training: self.forward(key, x, p, training=training)[0]

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> Any:
        drawn = threefry_bernoulli_float64(divmod(seed, 2**32), 1.0 - p, n + 1)
        keep = drawn[:n].copy()
        keep[self.PERIOD - 1 :: self.PERIOD] = drawn[self.PERIOD :: self.PERIOD]  # element i reads counter i + 1
        return packed(keep)
