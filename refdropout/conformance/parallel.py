"""Checks of spec/training.md's data parallelism and devices: ranks of one seed, and the bits a declared
set of devices promises.

TRAINING-5 and TRAINING-6 call ``rank_streams(seed, RANKS, replicated=...)``: one stream per rank of a
data-parallel group given one seed. In a region whose ranks hold other data the ranks' masks must be
independent (one decision, planned as DROPOUT-14's: the same test, STATS-8, of the same MDE on as many
pairs); in a replicated region they must be the same bits (exact). TRAINING-7 compares the packed keep
masks of one (n, p, seed, dtype) on every declared device that is present (``devices``,
``device_mask_bits``), bit for bit; it applies only where ``policies.reproducible_across`` is declared.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..contract import Implementation, declared_devices, dtypes_of, policies_of
from ..dtypes import DType
from ..stats import PairCounts, pair_counts_test
from .dropout import STRUCTURE_RATE, independence_pairs
from .kit import identical, judge, keep_mask_array, ones, ones_array
from .registry import Context, check
from .sampling import pair_counts
from .training import FRESH_SIZE, RESTORED_CALLS
from .verdict import Outcome, Verdict

__all__ = ["RANKS", "MATCHINGS", "rank_rounds", "DEVICE_SIZES", "DEVICE_RATES", "DEVICE_SEEDS"]

RANKS = 4  # ranks of the data-parallel group TRAINING-5 and TRAINING-6 simulate
# the perfect matchings of 4 ranks: round t pairs the ranks of MATCHINGS[t mod 3], so every pair of ranks is
# judged in a third of the rounds and the pairs of one round share no rank
MATCHINGS = (((0, 1), (2, 3)), ((0, 2), (1, 3)), ((0, 3), (1, 2)))
DEVICE_SIZES = (1, 7, 1000, 2**16 + 1)  # one element, a vector width, a call, past the bulk-path switch
DEVICE_RATES = (0.1, 0.3, 0.7)
DEVICE_SEEDS = (0, 2**32 - 1, 2**32, 2**64 - 1)  # besides the clause's, at 1,000 elements and p = 0.3


def rank_rounds(ctx: Context) -> int:
    """Rounds of TRAINING-5, each a call of FRESH_SIZE elements on every rank and RANKS / 2 pairs of ranks per
    position: enough for DROPOUT-14's planned pairs (independence_pairs: MDE |corr| = 0.02)."""
    return math.ceil(independence_pairs(ctx.plan) / (FRESH_SIZE * RANKS // 2))


def _streams(impl: Implementation, seed: int, replicated: bool) -> tuple[Sequence | None, list[str]]:
    """The implementation's rank streams, or a failure saying how the answer is not RANKS streams."""
    streams = impl.rank_streams(seed, RANKS, replicated=replicated)
    if not isinstance(streams, Sequence) or len(streams) != RANKS or not all(map(callable, streams)):
        return None, [f"rank_streams(seed, {RANKS}, replicated={replicated}) returned {type(streams).__name__}, "
                      f"not a sequence of {RANKS} streams"]
    return streams, []


@check("TRAINING-5", needs=("rank_streams",), decisions=1)
def check_ranks_of_one_seed_draw_independent_masks(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-5: in a region that is not replicated, the masks of two ranks at one position and one call
    are independent, pooled over the rounds and the pairs of ranks of MATCHINGS."""
    streams, failures = _streams(impl, ctx.seed, replicated=False)
    if streams is None:
        return ctx.verdict("TRAINING-5", failures)
    x = ones_array(FRESH_SIZE)
    table, same = PairCounts(), dict.fromkeys([pair for matching in MATCHINGS for pair in matching], 0)
    rounds = rank_rounds(ctx)
    for t in range(rounds):
        masks = [keep_mask_array(stream(x, STRUCTURE_RATE, training=True)) for stream in streams]
        for a, b in MATCHINGS[t % len(MATCHINGS)]:
            table += pair_counts(masks[a], masks[b])
            same[a, b] += bool(np.array_equal(masks[a], masks[b]))
    judge(ctx, "TRAINING-5 ranks of one seed", pair_counts_test(table, alpha=ctx.alpha, test="rank independence"),
          failures)
    alike = [f"ranks {a} and {b}" for (a, b), count in same.items() if count and count == _rounds_of(rounds, a, b)]
    if failures and alike:
        failures.append(f"{', '.join(alike)} drew the same mask at every call: ranks seeded alike, as in a "
                        f"replicated region")
    return ctx.verdict("TRAINING-5", failures)


def _rounds_of(rounds: int, a: int, b: int) -> int:
    """How many of ``rounds`` pair ranks a and b."""
    k = next(i for i, matching in enumerate(MATCHINGS) if (a, b) in matching)
    return len(range(k, rounds, len(MATCHINGS)))


@check("TRAINING-6", needs=("rank_streams",))
def check_a_replicated_region_draws_one_mask_on_every_rank(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-6: in a replicated region every rank's call i gives rank 0's call i bit for bit, the ranks
    calling in turn (call 1 on every rank, then call 2, ...)."""
    streams, failures = _streams(impl, ctx.seed, replicated=True)
    for i, (n, p, training) in enumerate(RESTORED_CALLS if streams is not None else ()):
        first, *others = (stream(ones(n), p, training=training) for stream in streams)
        for rank, y in enumerate(others, 1):
            failures += identical(f"call {i + 1} ({n} elements at p = {p}{'' if training else ', evaluation'}) on "
                                  f"rank {rank}", y, first, earlier="rank 0")
        if failures:
            break
    return ctx.verdict("TRAINING-6", failures)


def _device_cases(seed: int, dtypes: tuple[DType, ...]) -> list[tuple[int, float, int, DType]]:
    """(n, p, seed, dtype) of TRAINING-7: every size and rate at the clause's seed, and the special seeds at
    1,000 elements and p = 0.3, in every declared format."""
    own = [(n, p, seed) for n in DEVICE_SIZES for p in DEVICE_RATES]
    return [(*case, dtype) for dtype in dtypes for case in own + [(1000, STRUCTURE_RATE, s) for s in DEVICE_SEEDS]]


def _bits_differ(impl: Implementation, devices: tuple[str, ...], case: tuple[int, float, int, DType]) -> str | None:
    """The first device whose mask of ``case`` is not the first device's, and its first differing element."""
    n, p, seed, dtype = case
    masks = [impl.device_mask_bits(device, n, p, seed=seed, dtype=dtype.name) for device in devices]
    shape = ((n + 7) // 8,)
    for device, mask in zip(devices, masks):
        if not isinstance(mask, np.ndarray) or mask.dtype != np.uint8 or mask.shape != shape:
            return (f"device_mask_bits({device!r}, {n}, ...) returned {type(mask).__name__} "
                    f"{getattr(mask, 'dtype', '')} {getattr(mask, 'shape', '')}, not uint8 of shape {shape}")
    first = np.unpackbits(masks[0], count=n, bitorder="little")
    for device, mask in zip(devices[1:], masks[1:]):
        keep = np.unpackbits(mask, count=n, bitorder="little")
        differ = np.flatnonzero(keep != first)
        if differ.size:
            i = int(differ[0])
            return (f"{n} {dtype.name} elements at p = {p}, seed {seed}: element {i} is "
                    f"{'kept' if first[i] else 'dropped'} on {devices[0]} and {'kept' if keep[i] else 'dropped'} on "
                    f"{device}; {differ.size} of {n} elements differ")
    return None


@check("TRAINING-7", needs=("devices", "device_mask_bits"))
def check_declared_devices_draw_the_same_bits(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-7: on every declared device that is present, the keep mask of one (n, p, seed, dtype) is the
    first such device's bit for bit; not applicable without a declaration or with fewer than two present."""
    declared = declared_devices(policies_of(impl))
    if not declared:
        return Verdict("TRAINING-7", Outcome.NOT_APPLICABLE, "declares no reproducible_across (policies)")
    present = impl.devices()
    if not isinstance(present, (tuple, list)) or not all(isinstance(d, str) for d in present):
        return ctx.verdict("TRAINING-7", [f"devices() returned {present!r}, not a tuple of device names"])
    devices = tuple(d for d in declared if d in present)
    if len(devices) < 2:
        return Verdict("TRAINING-7", Outcome.NOT_APPLICABLE,
                       f"declares reproducible_across = {'+'.join(declared)!r}, but of those only "
                       f"{', '.join(devices) or 'none'} is present here (devices() = {tuple(present)!r})")
    for case in _device_cases(ctx.seed, dtypes_of(impl)):
        difference = _bits_differ(impl, devices, case)
        if difference is not None:  # the first differing case is the verdict
            return ctx.verdict("TRAINING-7", [difference])
    return ctx.verdict("TRAINING-7", [])
