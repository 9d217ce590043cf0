"""Broken implementations for spec/training.md: each gets one thing about recomputation or stream state wrong.

Each is the reference with one capability changed, so a failing check names exactly that fault. The
ones that model a public report say which; they live here rather than in refdropout.mutants, whose
catalogue is regenerated into docs/detection-matrix.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from refdropout import autograd
from refdropout.adapters.reference import ReferenceDropout, _Stream
from refdropout.functional import dropout
from refdropout.random import Generator, GeneratorState
from refdropout.tensor import Tensor

Forward = Callable[[Generator, Tensor], Tensor]


def _steps(seed: int, p_options: dict, run: Callable[[Generator, Forward, Tensor, bool], Tensor]
           ) -> Callable[..., tuple[Tensor, Tensor]]:
    """checkpointed_dropout's steps on one Generator, the forward pass run by ``run(generator, forward,
    leaf, checkpoint)``."""
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


class ReplayFromTheLiveGenerator(ReferenceDropout):
    """Recomputes without the generator state saved at the forward pass: the replay draws a fresh mask
    from the live generator, as torch.utils.checkpoint(..., preserve_rng_state=False), tf.recompute_grad
    of a stateful generator and the recomputation of OLMo-core before its PR 828 do."""

    name = "replay-from-the-live-generator"

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        def run(generator: Generator, forward: Forward, leaf: Tensor, checkpoint: bool) -> Tensor:
            live = lambda t: forward(generator, t)  # noqa: E731  (the replay reads the generator as it is then)
            return autograd.checkpoint(live, leaf) if checkpoint else live(leaf)

        return _steps(seed, self.policy_options(), run)


class RecomputationHoldsTheStream(ReferenceDropout):
    """Runs the forward pass under recomputation on a copy of the generator, as the replay does, and never
    advances the generator itself: each step's replay draws its forward mask, but every recomputed step
    draws the first step's mask, where the run without recomputation draws a fresh one."""

    name = "recomputation-holds-the-stream"

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        def run(generator: Generator, forward: Forward, leaf: Tensor, checkpoint: bool) -> Tensor:
            return autograd.checkpoint(forward, leaf, generator=generator.copy()) if checkpoint else \
                forward(generator, leaf)

        return _steps(seed, self.policy_options(), run)


class GraphedStepReusesOneMask(ReferenceDropout):
    """Every step, recomputed or not, replays a step captured once (a CUDA graph) from the offset it was
    captured at: forward and replay agree, but all steps draw one mask (pytorch/pytorch#84614)."""

    name = "graphed-step-reuses-one-mask"

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        captured = Generator(seed).state

        def run(generator: Generator, forward: Forward, leaf: Tensor, checkpoint: bool) -> Tensor:
            replayed = Generator.from_state(captured)
            return autograd.checkpoint(forward, leaf, generator=replayed) if checkpoint else forward(replayed, leaf)

        return _steps(seed, self.policy_options(), run)


class _OffsetLost(_Stream):
    def restore(self, snapshot: GeneratorState) -> None:
        self.state = GeneratorState(snapshot.key, snapshot.stream, self.state.draws, snapshot.spawned)


class RestoreWithoutTheOffset(ReferenceDropout):
    """restore() brings back the key and stream but keeps the current draw index (the offset): the
    resumed stream goes on from where it was instead of from where it was saved."""

    name = "restore-without-the-offset"

    def dropout_stream_state(self, seed: int) -> _Stream:
        return _OffsetLost(self, Generator(seed).state)


class _Aliased(_Stream):
    """A stream whose state lives in a box that save() hands out, not a copy of it."""

    def __init__(self, adapter: ReferenceDropout, state: GeneratorState) -> None:
        super().__init__(adapter, state)
        self.box = [state]

    def __call__(self, x: Tensor, p: float, *, training: bool) -> Tensor:
        y, self.box[0] = self.adapter._stream_call(self.box[0], x, p, training)
        return y

    def save(self) -> list:
        return self.box

    def restore(self, snapshot: list) -> None:
        self.box = snapshot

    def position(self) -> int:
        return self.box[0].draws


class SnapshotAliasesTheState(ReferenceDropout):
    """save() returns the stream's live state, not a copy: it moves on with every call, and restore()
    puts back where the stream is now."""

    name = "snapshot-aliases-the-state"

    def dropout_stream_state(self, seed: int) -> _Stream:
        return _Aliased(self, Generator(seed).state)


class AdvanceDeclaredPerElement(ReferenceDropout):
    """Declares that a call advances the stream by one per element (as a counter per value drawn would),
    while it advances one draw index per call."""

    name = "advance-declared-per-element"

    def stream_advance(self, n: int, dtype: str) -> int:
        return n


# --- data parallelism and devices (TRAINING-5 to TRAINING-7) ----------------------------------------------


class EveryRankSeededAlike(ReferenceDropout):
    """Seeds every rank's stream with the seed alone, whatever the region: the classic data-parallel bug of
    calling manual_seed(seed) on every rank, so that all ranks drop the same units of their different data
    (what Megatron's model_parallel_cuda_manual_seed avoids by seeding its model-parallel state from the rank)."""

    name = "every-rank-seeded-alike"

    def rank_streams(self, seed: int, ranks: int, *, replicated: bool) -> list[_Stream]:
        return super().rank_streams(seed, ranks, replicated=True)


class ReplicatedRegionSeededByRank(ReferenceDropout):
    """Seeds a replicated region's streams from the rank too: ranks that hold the same activations drop
    different units of them, and the replicas drift apart."""

    name = "replicated-region-seeded-by-rank"

    def rank_streams(self, seed: int, ranks: int, *, replicated: bool) -> list[_Stream]:
        return super().rank_streams(seed, ranks, replicated=False)


class RankSeedsWrapAtTwo(ReferenceDropout):
    """Keys rank r from (seed, r mod 2): ranks 0 and 2, and 1 and 3, draw one mask, while ranks next to each
    other are independent (a rank index folded into too few bits)."""

    name = "rank-seeds-wrap-at-two"

    def rank_streams(self, seed: int, ranks: int, *, replicated: bool) -> list[_Stream]:
        return [super(RankSeedsWrapAtTwo, self).rank_streams(seed, 2, replicated=replicated)[rank % 2]
                for rank in range(ranks)]


class _TwoDevices(ReferenceDropout):
    """A fake implementation on two devices, "cpu" and "cuda", that declares reproducible_across="cpu+cuda";
    its "cuda" masks are drawn by ``cuda_seed``."""

    def __init__(self) -> None:
        super().__init__()
        self.policies = replace(self.policies, reproducible_across="cpu+cuda")

    def devices(self) -> tuple[str, ...]:
        return ("cpu", "cuda")

    def device_mask_bits(self, device: str, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        drawn = seed if device == "cpu" else self.cuda_seed(seed, n)
        return super().device_mask_bits("cpu", n, p, seed=drawn, dtype=dtype)

    def cuda_seed(self, seed: int, n: int) -> int:
        return seed


class TwoDevicesAlike(_TwoDevices):
    """Draws one stream on both devices, as it declares: TRAINING-7 passes."""

    name = "two-devices-alike"


class TwoDevicesApartInBulk(_TwoDevices):
    """Draws its "cuda" masks of more than 2^16 elements from another stream (a GPU kernel that switches to a
    generator of its own past a size), while smaller calls agree: the declaration does not hold."""

    name = "two-devices-apart-in-bulk"

    def cuda_seed(self, seed: int, n: int) -> int:
        return seed ^ 1 if n > 2**16 else seed
