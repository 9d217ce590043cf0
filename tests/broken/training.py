"""Broken implementations for spec/training.md: each gets one thing about recomputation or stream state wrong.

Each is the reference with one capability changed, so a failing check names exactly that fault. The
ones that model a public report are mutants of the catalogue, in refdropout.mutants.streams.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from refdropout import autograd
from refdropout.adapters.reference import ReferenceDropout, _Stream
from refdropout.mutants.streams import Forward, checkpointed_steps
from refdropout.random import Generator, GeneratorState
from refdropout.tensor import Tensor


class RecomputationHoldsTheStream(ReferenceDropout):
    """Runs the forward pass under recomputation on a copy of the generator, as the replay does, and never
    advances the generator itself: each step's replay draws its forward mask, but every recomputed step
    draws the first step's mask, where the run without recomputation draws a fresh one."""

    name = "recomputation-holds-the-stream"

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        def run(generator: Generator, forward: Forward, leaf: Tensor, checkpoint: bool) -> Tensor:
            return autograd.checkpoint(forward, leaf, generator=generator.copy()) if checkpoint else \
                forward(generator, leaf)

        return checkpointed_steps(seed, self.policy_options(), run)


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
