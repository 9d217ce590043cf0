"""Checks of spec/training.md: dropout inside a training system.

TRAINING-1 and TRAINING-2 call ``checkpointed_dropout``: steps of y = dropout(x, p) and the gradient
of L = sum(w ⊙ y), with and without the framework's recomputation. A step's forward mask is read off
y (x nonzero: kept elements are nonzero) and the mask of its replay off dL/dx = w ⊙ m / q (w nonzero).
TRAINING-3 and TRAINING-4 call ``dropout_stream_state`` (and ``stream_advance``): a stream whose state
is saved, restored and read as a position. Every check here is exact but TRAINING-2, one decision
planned as DROPOUT-14's: the same test (STATS-8) of the same MDE on as many pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from ..contract import Implementation, dtypes_of
from ..dtypes import DType, float64, within_one_ulp
from ..random import Generator
from ..stats import PairCounts, pair_counts_test
from ..tensor import Tensor
from .dropout import STRUCTURE_RATE, independence_pairs
from .kit import child_seed, distinct, eighths, identical, judge, keep_mask, ones, tensor_like
from .registry import Context, check
from .sampling import pair_counts
from .verdict import Verdict

__all__ = ["STEPS", "STEP_SIZE", "FRESH_SIZE", "RESTORED_CALLS", "ADVANCE_SIZES", "fresh_steps"]

STEPS = 3  # steps of each run of TRAINING-1
STEP_SIZE = 1024  # elements of a step of TRAINING-1
FRESH_SIZE = 1000  # elements of a step of TRAINING-2, as DROPOUT-14's calls
RESTORED_CALLS = ((1000, 0.3, True), (37, 0.3, True), (4097, 0.3, True), (1000, 0.3, False), (1000, 0.7, True))
ADVANCE_SIZES = (1, 7, 1000, 4097)


def fresh_steps(ctx: Context) -> int:
    """Steps of TRAINING-2: pairs (step 2t, step 2t + 1) of FRESH_SIZE positions holding DROPOUT-14's
    planned pairs (independence_pairs: MDE |corr| = 0.02 at the plan's power and alpha)."""
    return 2 * math.ceil(independence_pairs(ctx.plan) / FRESH_SIZE)


def _mask_differs(name: str, forward: list[bool], replay: list[bool]) -> list[str]:
    """A failure naming the first element whose replayed mask is not the forward pass's."""
    for i, (kept, again) in enumerate(zip(forward, replay)):
        if kept != again:
            return [f"{name}: element {i} was {'kept' if kept else 'dropped'} in the forward pass but "
                    f"{'kept' if again else 'dropped'} in the recomputation ({sum(map(bool.__ne__, forward, replay))}"
                    f" of {len(forward)} elements differ)"]
    return []


def _values_differ(name: str, got: Tensor, plain: Tensor) -> list[str]:
    """A failure naming the first element where ``got`` (under recomputation) and ``plain`` (without) are
    not both zero (of either sign) or within one ulp of each other in got's format: a recomputation may
    compile the arithmetic otherwise (x fl(1/q) against x / q, a select against a product)."""
    failures = tensor_like(f"{name} under recomputation", got, plain)
    for i, (a, b) in enumerate(zip(got.data, plain.data) if not failures else ()):
        if (a == 0.0) != (b == 0.0) or not within_one_ulp(a, b, got.dtype):
            return [f"{name}: element {i}: the step without recomputation gave {b!r}, this step {a!r}"]
    return failures


@check("TRAINING-1", needs=("checkpointed_dropout",))
def check_recomputation_replays_the_forward_mask(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-1: under recomputation the replay draws the forward mask, and each step's y and dL/dx
    are those of the same step without recomputation: zero at the same elements, within one ulp elsewhere."""
    x = distinct((STEP_SIZE,))
    w = Tensor.from_flat(eighths(Generator(child_seed(ctx.seed, 1)), STEP_SIZE), (STEP_SIZE,))
    recomputed, plain = impl.checkpointed_dropout(ctx.seed), impl.checkpointed_dropout(ctx.seed)
    failures: list[str] = []
    for t in range(1, STEPS + 1):
        y, dx = recomputed(x, w, STRUCTURE_RATE, checkpoint=True)
        y_plain, dx_plain = plain(x, w, STRUCTURE_RATE, checkpoint=False)
        failures += _mask_differs(f"step {t}", keep_mask(y), keep_mask(dx))
        failures += _values_differ(f"step {t}: y", y, y_plain) + _values_differ(f"step {t}: dL/dx", dx, dx_plain)
        if failures:
            break
    return ctx.verdict("TRAINING-1", failures)


@check("TRAINING-2", needs=("checkpointed_dropout",), decisions=1)
def check_successive_recomputed_steps_draw_independent_masks(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-2: the masks of steps 2t and 2t + 1 under recomputation, read off dL/dx, are independent."""
    x = ones(FRESH_SIZE)
    step = impl.checkpointed_dropout(ctx.seed)
    table = PairCounts()
    for _ in range(fresh_steps(ctx) // 2):
        first, second = (keep_mask(step(x, x, STRUCTURE_RATE, checkpoint=True)[1]) for _ in range(2))
        table += pair_counts(np.array(first), np.array(second))
    failures: list[str] = []
    judge(ctx, "TRAINING-2 successive steps", pair_counts_test(table, alpha=ctx.alpha,
                                                              test="successive independence"), failures)
    return ctx.verdict("TRAINING-2", failures)


def _calls(stream: Callable[..., Tensor]) -> list[Tensor]:
    """The outputs of RESTORED_CALLS on ``stream``, x = 1 in float64."""
    return [stream(ones(n), p, training=training) for n, p, training in RESTORED_CALLS]


def _replayed(where: str, stream: Callable[..., Tensor], after_save: list[Tensor]) -> list[str]:
    """The failures of RESTORED_CALLS on a restored ``stream`` against the calls made after save()."""
    failures = []
    for i, (y, first) in enumerate(zip(_calls(stream), after_save)):
        failures += identical(f"call {i + 1} after restore() on {where}", y, first,
                              earlier=f"call {i + 1} after save()")
    return failures


@check("TRAINING-3", needs=("dropout_stream_state",))
def check_a_restored_state_reproduces_the_masks(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-3: the calls after save() are drawn again after restore(), on the saved stream and on a
    stream of another seed."""
    stream = impl.dropout_stream_state(ctx.seed)
    for _ in range(2):
        stream(ones(FRESH_SIZE), STRUCTURE_RATE, training=True)
    snapshot = stream.save()
    after_save = _calls(stream)
    for _ in range(2):
        stream(ones(FRESH_SIZE), STRUCTURE_RATE, training=True)
    stream.restore(snapshot)
    failures = _replayed("the saved stream", stream, after_save)
    resumed = impl.dropout_stream_state(ctx.seed ^ 1)
    resumed.restore(snapshot)
    failures += _replayed("a new stream of seed s ^ 1", resumed, after_save)
    return ctx.verdict("TRAINING-3", failures)


def _moved(name: str, stream: object, call: Callable[[], object], expected: int) -> list[str]:
    """A failure unless ``call()`` moves the stream's position by ``expected``."""
    before = stream.position()
    call()
    after = stream.position()
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (before, after)):
        return [f"{name}: position() returned {before!r} and {after!r}, not ints"]
    return [] if after - before == expected else [f"{name}: the position moved by {after - before}, "
                                                  f"the declared advance is {expected}"]


@check("TRAINING-4", needs=("dropout_stream_state", "stream_advance"))
def check_a_call_advances_the_state_by_the_declared_amount(impl: Implementation, ctx: Context) -> Verdict:
    """TRAINING-4: a training call on n elements moves position() by stream_advance(n, dtype) > 0,
    eval and p = 0 by 0, and restore() brings back the saved position."""
    stream = impl.dropout_stream_state(ctx.seed)
    failures: list[str] = []
    for dtype in dtypes_of(impl):
        for n in ADVANCE_SIZES:
            declared = impl.stream_advance(n, dtype.name)
            if not isinstance(declared, int) or isinstance(declared, bool) or declared <= 0:
                failures.append(f"stream_advance({n}, {dtype.name!r}) = {declared!r}: not a positive int")
                continue
            failures += _moved(f"a training call on {n} {dtype.name} elements at p = {STRUCTURE_RATE}", stream,
                               _call(stream, n, STRUCTURE_RATE, True, dtype), declared)
    failures += _moved("an evaluation call", stream, _call(stream, FRESH_SIZE, STRUCTURE_RATE, False), 0)
    failures += _moved("a training call at p = 0", stream, _call(stream, FRESH_SIZE, 0.0, True), 0)
    saved, snapshot = stream.position(), stream.save()
    _call(stream, FRESH_SIZE, STRUCTURE_RATE, True)()
    stream.restore(snapshot)
    if stream.position() != saved:
        failures.append(f"restore(): the position is {stream.position()!r}, not the {saved!r} save() saw")
    return ctx.verdict("TRAINING-4", failures)


def _call(stream: Callable[..., Tensor], n: int, p: float, training: bool,
          dtype: DType = float64) -> Callable[[], Tensor]:
    return lambda: stream(ones(n, dtype), p, training=training)
