"""Checks of spec/dropout.md: standard dropout, y = x ⊙ m / q with m_i ~ Bernoulli(q) i.i.d.

Each check calls ``dropout(x, p, *, training, seed)`` and, where its clause needs more, one of the
capabilities ``dropout_with_mask``, ``dropout_vjp``, ``dropout_stream`` or ``dropout_noise_shape``.
Masks are read off outputs: for x = 1 a kept element is nonzero (1/q, or 1 under classic
scaling) and a dropped one is 0. Values are checked in every floating format the implementation
declares (``dtypes``). Exact checks charge nothing to the run's budget; a statistical check
registers the decisions it makes and sizes its sample from the run's plan for the minimum
detectable effect (MDE) its clause states, at the plan's power (STATS-1, STATS-3).
Checks of many elements hand the implementation numpy arrays and read numpy arrays back
(contract: answers in kind), and draw statistical samples through :mod:`.sampling`: in calls of
at most sampling.CHUNK elements, judged on running counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import cache

import numpy as np
from hypothesis import strategies as st

from ..contract import Implementation, dtypes_of, eval_value, policies_of, reads_p_in_float32
from ..contract.arrays import NUMPY_FORMATS, as_array
from ..contract.protocol import FLOATING_FORMATS
from ..dtypes import DType, bool_, float32, float64, within_one_ulp
from ..shapes import broadcast_index
from ..stats import (
    DecisionPlan,
    PairCounts,
    Tally,
    binomial_power,
    binomial_test,
    class_pair_counts_test,
    correlation_power,
    dispersion_counts_test,
    dispersion_power,
    homogeneity_counts_test,
    homogeneity_power,
    one_position_power,
    pair_counts_test,
    samples_for_power,
    samples_needed,
    two_point_mean_test,
    two_point_variance_test,
    variance_roots,
)
from ..tensor import Tensor
from .cases import cases, corners, noise_cases, noise_corners, overflow_corners, probabilities, with_rates
from .kit import (
    array_like,
    child_seed,
    drawn_seeds,
    edged,
    edged_array,
    identical,
    identical_array,
    judge,
    keep_mask_array,
    kept_value_of,
    mismatch,
    ones,
    ones_array,
    plainly_zero_or_kept,
    successive_seeds,
    tensor_like,
)
from .registry import Context, check
from .sampling import calls, class_lag_counts, keep_count, keep_masks, lag_counts, outputs, pair_counts
from .search import search
from .verdict import Verdict

__all__ = [
    "RATES", "KEEP_COUNT_RATES", "STRUCTURE_RATE", "LAGS", "CORRELATION_MDE", "POSITIONS", "POSITION_MDE",
    "DISPERSION_SIZE", "DISPERSION_MDE", "MEAN_MDE", "VARIANCE_MDE", "BAD_RATES",
    "CLASS_WIDTHS", "TAIL_WIDTHS", "TAIL_SIZE", "TAIL_MDE", "AXIS_MDE", "BATCH_AXES", "LAG_CLASS_WIDTH",
    "LAG_CLASS_MDE",
    "SPECIAL_SEEDS", "SMALL_SIZES", "BULK_SIZE", "FIXED_HIGH_PAIRS", "HIGH_FLIPS", "HIGH_PAIRS_MDE",
    "independence_pairs", "lag_mask_size", "high_bit_call_size", "small_rounds", "homogeneity_masks",
    "class_mask_size", "batch_side",
    "tail_calls", "axis_size", "dispersion_masks",
    "mean_samples", "variance_samples", "OVERFLOW_P", "overflow_size", "overflow_inputs", "scaled_array_faults",
]

RATES = (0.1, 0.3, 0.7, 0.999)  # never 0.5 alone: there p = q, and a p/q swap goes unseen
KEEP_COUNT_RATES = (0.001, 0.1, 0.3, 0.7, 0.999)
STRUCTURE_RATE = 0.3  # p of the structure and moment checks
SIZE = (8, 16, 32)  # shape of the inputs of the value checks: 4096 elements
NOISE_INPUT = (8, 16, 8)
NOISE_SHAPES = ((8, 1, 8), (1, 16, 1), (None, 1, None), (1, 1, 1))
BAD_RATES = (-0.1, -5e-324, math.nextafter(1.0, 2.0), 1.5, math.inf, -math.inf, math.nan,
             True, False, "0.5", None, 0.5j)
LAGS = range(1, 17)
CORRELATION_MDE = 0.02  # |corr| between the two elements of a pair
LAG_CLASS_WIDTH = 64  # DROPOUT-19 by position class: the pairs (m_i, m_(i+l)) of each class i mod 64
LAG_CLASS_MDE = 0.15  # |corr| of the pairs of one class of the 64, the others independent
POSITIONS = 16
POSITION_MDE = 0.05  # one of the 16 positions kept at q + 0.05 or q - 0.05
CLASS_WIDTHS = (2, 4, 8, 16, 32, 64)  # position classes: index mod m
TAIL_WIDTHS = (8, 16, 32, 64)  # vector widths whose remainder loop handles the tail
CLASS_EXTRA = 61  # DROPOUT-22's sizes are 64 k + 61: tails of 5, 13, 29 and 61 past the multiples of 8, 16, 32, 64
TAIL_SIZE = 64 * 4 + CLASS_EXTRA  # elements of each call of DROPOUT-22's tail test
TAIL_MDE = 0.05  # the tail past the last multiple of a width kept at q + 0.05 or q - 0.05
AXIS_MDE = 0.1  # one row, or one column, of a 2-D input kept at q + 0.1 or q - 0.1
BATCH_AXES = 4  # DROPOUT-23's second input: (batch, channels, height, width), each axis's pairs judged
DISPERSION_SIZE = 100
DISPERSION_MDE = 0.7  # keep counts whose variance is at most 0.7 n q (1 - q)
MEAN_MDE = 0.01  # |E[y] - y_eval| >= 0.01 |y_eval|
VARIANCE_MDE = 0.02  # |Var[y] - y_eval^2 p / q| >= 0.02 y_eval^2 p / q
# DROPOUT-12 and DROPOUT-13: the seeds a special case or a narrowing mishandles, and the paths a kernel takes
SPECIAL_SEEDS = (0, 1, 2**31 - 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1)
SMALL_SIZES = (1, 7, 17, 33, 65)  # one element, and sizes around the vector widths 8, 16, 32, 64
BULK_SIZE = 2**16 + 1  # past the size at which kernels switch to a vectorised or parallel bulk path
FIXED_HIGH_PAIRS = ((0, 2**32), (2**32 - 1, 2**64 - 1))  # seeds that differ only above bit 31
HIGH_FLIPS = (32, 63)  # then drawn seeds s against s ^ 2^32 and s ^ 2^63, in turn
HIGH_KINDS = len(FIXED_HIGH_PAIRS) + len(HIGH_FLIPS)  # pairs of seeds of DROPOUT-13's bulk decision
HIGH_PAIRS_MDE = 0.01  # |corr| over the bulk calls' pooled pairs: one kind of four at 0.04
HIGH_TEST = "high seed bits independence"  # the test named in DROPOUT-13's decisions on seeds s, s ^ 2^32, ...


# --- sample sizes: the least that detect each clause's MDE with the plan's power at its alpha ------


def _ratio_moments(p: float) -> tuple[float, float]:
    """The variance and fourth central moment of y / y_eval = m / q: p / q and p (p^3 + q^3) / q^3."""
    q = 1.0 - p
    return p / q, p * (p**3 + q**3) / q**3


def _pairs_for(correlation: float, plan: DecisionPlan, start: int) -> int:
    """Pairs for a 2x2 independence test to detect |corr| = ``correlation`` at p = STRUCTURE_RATE."""
    q = 1.0 - STRUCTURE_RATE
    return samples_for_power(lambda n: correlation_power(correlation, n, plan.alpha, keep_prob=q), plan.power,
                             start=start)


@cache
def independence_pairs(plan: DecisionPlan) -> int:
    """Pairs for a 2x2 independence test to detect |corr| = CORRELATION_MDE at p = STRUCTURE_RATE
    (DROPOUT-13, -14, -19)."""
    return _pairs_for(CORRELATION_MDE, plan, 100_000)


@cache
def lag_mask_size(plan: DecisionPlan) -> int:
    """DROPOUT-19's mask: its disjoint pairs detect |corr| = CORRELATION_MDE at every lag, and each class
    i mod LAG_CLASS_WIDTH has the pairs that detect |corr| = LAG_CLASS_MDE in that class alone at
    alpha / LAG_CLASS_WIDTH (the Bonferroni share of class_pair_counts_test)."""
    q = 1.0 - STRUCTURE_RATE
    per_class = samples_for_power(lambda n: correlation_power(LAG_CLASS_MDE, n, plan.alpha / LAG_CLASS_WIDTH,
                                                              keep_prob=q), plan.power, start=3_000)
    return max(2 * independence_pairs(plan) + 2 * max(LAGS), LAG_CLASS_WIDTH * (per_class + 1) + max(LAGS))


@cache
def high_bit_call_size(plan: DecisionPlan) -> int:
    """Elements of each bulk call of DROPOUT-13's high-bit decision: its HIGH_KINDS pairs of seeds share
    the pairs that detect |corr| = HIGH_PAIRS_MDE, and each call is at least BULK_SIZE."""
    return max(BULK_SIZE, math.ceil(_pairs_for(HIGH_PAIRS_MDE, plan, 400_000) / HIGH_KINDS))


@cache
def small_rounds(plan: DecisionPlan) -> dict[int, int]:
    """Calls with each seed of a pair at each of the SMALL_SIZES (the largest first) in DROPOUT-13's small-call
    decision: ceil(P / size) for the least P at which identical masks at any one size, a correlation of that
    size's share (about a fifth) of the pooled pairs, are detected with the plan's power."""
    q = 1.0 - STRUCTURE_RATE

    def rounds(per_size: int) -> dict[int, int]:
        return {size: math.ceil(per_size / size) for size in sorted(SMALL_SIZES, reverse=True)}

    def power_at(per_size: int) -> float:
        pooled = sum(size * count for size, count in rounds(per_size).items())
        return min(correlation_power(size * count / pooled, pooled, plan.alpha, keep_prob=q)
                   for size, count in rounds(per_size).items())

    return rounds(samples_for_power(power_at, plan.power, start=300))


@cache
def homogeneity_masks(plan: DecisionPlan) -> int:
    """Masks of POSITIONS elements for the homogeneity test to detect one position at q ± POSITION_MDE
    (DROPOUT-18)."""
    q = 1.0 - STRUCTURE_RATE

    def power_at(masks: int) -> float:
        return min(homogeneity_power([q + shift] + [q] * (POSITIONS - 1), masks, plan.alpha)
                   for shift in (POSITION_MDE, -POSITION_MDE))

    return samples_for_power(power_at, plan.power, start=5_000)


@cache
def class_mask_size(plan: DecisionPlan) -> int:
    """Elements of DROPOUT-22's mask, 64 k + CLASS_EXTRA: 64 times the elements per class the homogeneity
    test needs to detect one class of the 64 at q ± POSITION_MDE. (The narrower widths have more elements
    per class at this n and detect the same MDE with more power: tests/test_dropout.py.)"""
    q = 1.0 - STRUCTURE_RATE
    widest = max(CLASS_WIDTHS)

    def power_at(per_class: int) -> float:
        return min(one_position_power(q, shift, widest, per_class, plan.alpha)
                   for shift in (POSITION_MDE, -POSITION_MDE))

    return widest * samples_for_power(power_at, plan.power, start=5_000) + CLASS_EXTRA


@cache
def axis_size(plan: DecisionPlan) -> int:
    """Rows, and columns, of DROPOUT-23's square input: the least s at which the homogeneity test of s
    positions kept s times each detects one at q ± AXIS_MDE."""
    q = 1.0 - STRUCTURE_RATE

    def power_at(side: int) -> float:
        return min(one_position_power(q, shift, side, side, plan.alpha) for shift in (AXIS_MDE, -AXIS_MDE))

    return samples_for_power(power_at, plan.power, start=2_000)


@cache
def batch_side(plan: DecisionPlan) -> int:
    """The side a of DROPOUT-23's 4-axis input (a, a, a, a): the least even a at which the pairs of
    elements that differ only in one axis's index, 2t and 2t + 1 (a^4 / 2 of them), are at least
    independence_pairs(plan): each axis detects |corr| = CORRELATION_MDE."""
    side = math.ceil((2 * independence_pairs(plan)) ** 0.25)
    while side**4 < 2 * independence_pairs(plan):  # the float root may fall short by one
        side += 1
    return side + side % 2


@cache
def tail_calls(plan: DecisionPlan) -> int:
    """Calls of TAIL_SIZE elements for the binomial test of the shortest tail (5 elements, past the last
    multiple of 8) to detect a keep rate q ± TAIL_MDE (DROPOUT-22)."""
    shortest = min(TAIL_SIZE % m for m in TAIL_WIDTHS)
    return math.ceil(samples_needed(1.0 - STRUCTURE_RATE, TAIL_MDE, plan.alpha, plan.power) / shortest)


@cache
def dispersion_masks(plan: DecisionPlan) -> int:
    """Masks of DISPERSION_SIZE elements for the dispersion test to detect counts of variance
    DISPERSION_MDE n q (1 - q) (DROPOUT-17)."""
    q = 1.0 - STRUCTURE_RATE
    return samples_for_power(lambda m: dispersion_power(DISPERSION_MDE, m, DISPERSION_SIZE, q, plan.alpha),
                             plan.power, start=1_000)


def _two_point_samples(plan: DecisionPlan, cases: tuple[tuple[float, float], ...], start: int) -> int:
    """The least n at which the exact binomial test of the keep count at each case's null rate detects
    its true rate with the plan's power, in every case (null rate, true rate) (STATS-3, STATS-15)."""
    def power_at(n: int) -> float:
        return min(binomial_power(n, null, true, plan.alpha) for null, true in cases)

    return samples_for_power(power_at, plan.power, start=start)


@cache
def mean_samples(plan: DecisionPlan) -> int:
    """Samples for the exact test of the mean of m / q to detect a relative bias MEAN_MDE (DROPOUT-20):
    a keep rate q (1 ± MDE) against q, or a kept value (1 ± MDE) / q, whose null rate is q / (1 ± MDE),
    against the true rate q."""
    q, e = 1.0 - STRUCTURE_RATE, MEAN_MDE
    return _two_point_samples(plan, ((q, q * (1 + e)), (q, q * (1 - e)), (q / (1 + e), q), (q / (1 - e), q)), 300_000)


def _near_root(value: float, variance: float) -> float:
    """The rate near q = 1 - STRUCTURE_RATE at which v m has the variance (stats.variance_roots)."""
    roots = variance_roots(value, variance)
    assert roots is not None  # the plan's variances are near p / q, whose roots are p and q
    return roots[1] if 1.0 - STRUCTURE_RATE > 0.5 else roots[0]


@cache
def variance_samples(plan: DecisionPlan) -> int:
    """Samples for the exact test of the variance of m / q to detect a relative change VARIANCE_MDE
    (DROPOUT-21): a keep rate whose variance is (1 ± MDE) p / q against q, or a kept value
    sqrt(1 ± MDE) / q, whose null rate is near q, against the true rate q. The power is that of the
    near root's test; the far root's (p) rejects too, K being about n q, with probability 1 - 10^-1000
    at the plan's sizes."""
    q = 1.0 - STRUCTURE_RATE
    var, _ = _ratio_moments(STRUCTURE_RATE)
    cases = []
    for factor in (1 + VARIANCE_MDE, 1 - VARIANCE_MDE):
        cases.append((q, _near_root(1.0 / q, factor * var)))
        cases.append((_near_root(math.sqrt(factor) / q, var), q))
    return _two_point_samples(plan, tuple(cases), 150_000)


# --- what the checks of this chapter share beyond the kit -----------------------------------------


def _masks_of_calls(impl: Implementation, seed: int, size: int, count: int,
                    dtype: DType = float64) -> Iterator[np.ndarray]:
    """The masks of ``count`` separate training calls on ``size`` ones of ``dtype`` at p = STRUCTURE_RATE,
    seeded ``seed``, ``seed + 1``, ..., one at a time."""
    x = ones_array(size, dtype)
    for call_seed in successive_seeds(seed, count):
        yield keep_mask_array(impl.dropout(x, STRUCTURE_RATE, training=True, seed=call_seed))


def _subnormal(v: float, dtype: DType) -> bool:
    return v != 0.0 and abs(dtype.round(v)) < math.ldexp(1.0, dtype.emin)


def _refused(name: str, call: Callable[[], object]) -> list[str]:
    """A failure unless ``call()`` raises: the p = 1 of an implementation that declares p_one = "refused"."""
    try:
        call()
    except Exception:  # noqa: BLE001  (a foreign implementation's error type is its own)
        return []
    return [f"{name}: p = 1 was accepted, but the implementation declares p_one = 'refused'"]


def _read_as_one(impl: Implementation, p: float) -> bool:
    """True when ``impl`` reads p as 1: p = 1, or p rounding to 1 in binary32 under a scale_format that reads p
    as a float32 (DROPOUT-3), where p_one = "refused" lets a call refuse it."""
    return p == 1.0 or (reads_p_in_float32(policies_of(impl)) and float32.round(p) == 1.0)


def _refusable(impl: Implementation, ctx: Context, p: float) -> bool:
    """True when ``impl`` reads p as 1 and declares p_one = "refused" (the verdict then relies on it)."""
    return _read_as_one(impl, p) and ctx.policy(impl, "p_one") == "refused"


def _eval_value(impl: Implementation, v: float, p: float, dtype: DType = float64) -> float:
    """What evaluation returns: x (inverted) or q x (classic, q as the declared scale_format computes it)."""
    return eval_value(policies_of(impl), v, p, dtype)


def _evaluation(impl: Implementation, name: str, x: Tensor, p: float, y: object) -> list[str]:
    """DROPOUT-7's failures of an evaluation output y of x: x bit for bit (inverted), q x within one ulp
    (classic, q as the declared scale_format computes it); MODES-4 and MODES-7 judge a network's alike."""
    if policies_of(impl).scaling == "inverted":
        return identical(name, y, x)
    return mismatch(name, y, x, lambda i, got, v: None if within_one_ulp(
        got, _eval_value(impl, v, p, x.dtype), x.dtype)
        else f"not q x = {x.dtype.round(_eval_value(impl, v, p, x.dtype))!r} within one ulp")


# --- exact checks ---------------------------------------------------------------------------------


def _scaled_fault(impl: Implementation, kept: bool, got: float, v: float, p: float, dtype: DType,
                  flushed: bool) -> str | None:
    """What is wrong with y_i = ``got`` of x_i = ``v`` (DROPOUT-2): a dropped one not 0, a kept one not the
    kept value within one ulp (±0 where flushed allows it); None where it is right."""
    if not kept:
        return None if got == 0.0 else "dropped, not 0"
    value = kept_value_of(impl, v, p, dtype)
    if within_one_ulp(got, value, dtype) or (flushed and got == 0.0 and (_subnormal(v, dtype) or
                                                                         _subnormal(value, dtype))):
        return None
    return f"kept, not x/q = {dtype.round(value)!r} within one ulp"


def _scaled_mask(impl: Implementation, name: str, x: Tensor, p: float, returned: object, flushed: bool) -> list[str]:
    """DROPOUT-2's failures of ``returned``, (y, keep) of ``dropout_with_mask(x, p)``: keep a bool tensor of
    x's shape, a dropped y_i 0, a kept y_i the kept value within one ulp (±0 where flushed allows it)."""
    y, keep = returned
    if not isinstance(keep, Tensor) or keep.shape != x.shape or keep.dtype is not bool_:
        return [f"{name}: the mask is not a bool tensor of shape {x.shape}"]
    if plainly_zero_or_kept(impl, y, x, p, keep.data):  # at C speed; else read element by element below
        return []
    return mismatch(name, y, x, lambda i, got, v: _scaled_fault(impl, keep.data[i], got, v, p, x.dtype, flushed))


OVERFLOW_Q = 2**-16  # 1/q = 2^16 passes float16's largest value, 65504, where x/q of x below 1 does not
OVERFLOW_P = 1.0 - OVERFLOW_Q  # exact in binary64 and binary32; q = 2^-16 exact in float16


def overflow_size(power: float) -> int:
    """The elements of the case of an overflowing scale: the fewest n at which some element is kept with
    probability ``power`` or more, 1 - (1 - OVERFLOW_Q)^n >= power."""
    return math.ceil(math.log1p(-power) / math.log1p(-OVERFLOW_Q))


def overflow_inputs(impl: Implementation, power: float) -> list[tuple[str, DType, np.ndarray]]:
    """The case of an overflowing scale (DROPOUT-2, GRADIENTS-1) in each declared format whose largest
    value is below 1/OVERFLOW_Q (float16): (its name, the format, x) with x of overflow_size(power)
    elements, each the format's least normal value, as a numpy array, to be dropped at p = OVERFLOW_P;
    a kept x/q is finite (4 in float16), where x · fl_T(1/q) is inf."""
    inputs = []
    for dtype in dtypes_of(impl):
        if dtype.max < 1.0 / OVERFLOW_Q:
            x = np.full(overflow_size(power), math.ldexp(1.0, dtype.emin), dtype=NUMPY_FORMATS[dtype.name])
            inputs.append((f"{dtype.name}, p = 1 - 2^-16, {x.size} elements", dtype, x))
    return inputs


def _overflowing_scale(impl: Implementation, ctx: Context, flushed: bool) -> list[str]:
    """DROPOUT-2's case of an overflowing scale (:func:`overflow_inputs`, the plan's power)."""
    failures: list[str] = []
    for name, dtype, x in overflow_inputs(impl, ctx.plan.power):
        failures += _scaled_mask_array(impl, name, x, dtype, OVERFLOW_P,
                                       impl.dropout_with_mask(x, OVERFLOW_P, seed=ctx.seed), flushed)
    return failures


def scaled_array_faults(impl: Implementation, name: str, y: np.ndarray, x: np.ndarray, keep: np.ndarray,
                        dtype: DType, p: float, flushed: bool) -> list[str]:
    """The first element of y (x's shape) that is not x_i scaled as a kept value (keep_i) or 0 (dropped),
    within one ulp (DROPOUT-2; GRADIENTS-1 with g for x): the elements kept, and those dropped but not 0,
    read one by one (a large x at a tiny q keeps a few)."""
    flat_y, flat_keep, flat_x = y.reshape(-1), keep.reshape(-1), x.reshape(-1)
    for i in np.flatnonzero(flat_keep | (flat_y != 0)).tolist():
        got, v = float(flat_y[i]), float(flat_x[i])
        fault = _scaled_fault(impl, bool(flat_keep[i]), got, v, p, dtype, flushed)
        if fault is not None:
            return [f"{name}: element {i}: x = {v!r} gave {got!r}, {fault}"]
    return []


def _scaled_mask_array(impl: Implementation, name: str, x: np.ndarray, dtype: DType, p: float, returned: object,
                       flushed: bool) -> list[str]:
    """:func:`_scaled_mask` on numpy arrays: (y, keep) of x's shape, y of x's format, keep bool, each
    element as :func:`scaled_array_faults` reads it."""
    y, keep = returned
    failures = array_like(name, y, x)
    if failures:
        return failures
    if not isinstance(keep, np.ndarray) or keep.shape != x.shape or keep.dtype != np.bool_:
        return [f"{name}: the mask is not a bool array of shape {x.shape}"]
    return scaled_array_faults(impl, name, y, x, keep, dtype, p, flushed)


@check("DROPOUT-2", needs=("dropout_with_mask",))
def check_output_is_the_scaled_mask(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-2: y = x ⊙ m / q (inverted) or x ⊙ m (classic) for the mask m the call returns, the
    kept value as the declared scale_format computes it; under subnormals = "flushed" a subnormal x,
    or a subnormal kept value, may give ±0. The fixed cases first (4,096 elements at RATES, then the
    overflowing scale's case of float16), then generated ones (finite x, p in (0, 1), any shape, format
    and seed)."""
    ctx.policy(impl, "scaling")
    ctx.policy(impl, "scale_format")
    flushed = ctx.policy(impl, "subnormals") == "flushed"
    failures = []
    for dtype in dtypes_of(impl):
        x = edged(ctx.seed, SIZE, dtype)
        for p in RATES:
            failures += _scaled_mask(impl, f"{dtype.name}, p = {p}", x, p, impl.dropout_with_mask(x, p, seed=ctx.seed),
                                     flushed)
    if not failures:
        failures = _overflowing_scale(impl, ctx, flushed)
    if not failures:
        failures = search(ctx, cases(impl, capability="dropout_with_mask"), lambda case: (
            _refused("y", lambda: case.called(impl)) if _refusable(impl, ctx, case.p)
            else _scaled_mask(impl, "y", case.x, case.p, case.called(impl), flushed)),
            corners(impl, ctx.seed, "dropout_with_mask"))
    return ctx.verdict("DROPOUT-2", failures)


@check("DROPOUT-3")
def check_rates_outside_the_unit_interval_raise(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-3: every p outside [0, 1], NaN, a bool or a non-real raises, in both modes (any exception),
    except where the declared p_validation lets a call accept it (a bool under "bool_as_number", an
    evaluation call under "training_only", both under "bool_as_number+training_only") or p rounded to
    float32 lies in [0, 1] under scale_format = "float32" or "float32_reciprocal"."""
    validation = set(ctx.policy(impl, "p_validation").split("+"))
    in_float32 = ctx.policy(impl, "scale_format").startswith("float32")
    x = ones(4)
    failures = []
    for p in BAD_RATES:
        if isinstance(p, bool) and "bool_as_number" in validation:
            continue
        if in_float32 and isinstance(p, float) and 0.0 <= float32.round(p) <= 1.0:
            continue
        for training in (True,) if "training_only" in validation else (True, False):
            try:
                impl.dropout(x, p, training=training, seed=ctx.seed)
            except Exception:  # noqa: BLE001  (a foreign implementation's error type is its own)
                continue
            failures.append(f"p = {p!r} (training={training}) was accepted")
    return ctx.verdict("DROPOUT-3", failures)


def _any_size(n: int) -> tuple[tuple[int, ...], ...]:
    """A 0-d tensor, two empty ones, a small 3-d one and n elements."""
    return ((), (0,), (3, 0, 2), (2, 3, 4), (n,))


@check("DROPOUT-4")
def check_p_zero_is_the_identity(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-4: training at p = 0 returns x bit for bit, in every dtype, at every size up to the plan's n
    (the plan's n in calls of at most sampling.CHUNK elements); then generated cases (any x, NaN and ±inf
    included, of any shape, format and seed)."""
    dtypes = dtypes_of(impl)
    failed: dict[str, list[str]] = {dtype.name: [] for dtype in dtypes}
    *small, _ = _any_size(ctx.plan.n)
    sizes = [(shape, ctx.seed) for shape in small] + [((size,), seed) for size, seed in calls(ctx.plan.n, ctx.seed)]
    for shape, seed in sizes:  # every format of one size in turn: its random bits are drawn once (inputs._draw)
        for dtype in dtypes:
            x = edged_array(seed, shape, dtype, nonfinite=True)
            y = impl.dropout(x, 0.0, training=True, seed=seed)
            failed[dtype.name] += identical_array(f"{dtype.name}, shape {shape}", y, x)
    failures = [failure for dtype in dtypes for failure in failed[dtype.name]]
    if not failures:
        failures = search(ctx, cases(impl, p=st.just(0.0), nonfinite=True),
                          lambda case: identical("y", case.called(impl), case.x))
    return ctx.verdict("DROPOUT-4", failures)


def _not_zero(i: int, got: float, v: float) -> str | None:
    return None if got == 0.0 else "not 0"


@check("DROPOUT-5")
def check_p_one_gives_finite_zeros(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-5: training at p = 1 maps every finite x to 0 (of either sign), in every dtype, or raises
    under p_one = "refused"; then generated cases (finite x of any shape, format and seed)."""
    refused = ctx.policy(impl, "p_one") == "refused"

    def zeros(name: str, x: Tensor, call: Callable[[], object]) -> list[str]:
        return _refused(name, call) if refused else mismatch(name, call(), x, _not_zero)

    failures = []
    for dtype in dtypes_of(impl):
        x = edged(ctx.seed, SIZE, dtype)
        failures += zeros(dtype.name, x, lambda: impl.dropout(x, 1.0, training=True, seed=ctx.seed))
    if not failures:
        failures = search(ctx, cases(impl, p=st.just(1.0)), lambda case: zeros("y", case.x, lambda: case.called(impl)))
    return ctx.verdict("DROPOUT-5", failures)


@check("DROPOUT-7")
def check_eval_is_the_identity(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-7: eval returns x bit for bit (inverted) or q x within one ulp (classic), for every p;
    under p_one = "refused" an evaluation call at p = 1 may raise instead. Then generated cases (x of
    any shape, format and seed, NaN and ±inf included under inverted scaling; p in [0, 1])."""
    inverted = policies_of(impl).scaling == "inverted"
    refused = ctx.policy(impl, "p_one") == "refused"
    if not inverted:  # q x: q as the declared scale_format computes it
        ctx.policy(impl, "scale_format")

    def evaluated(name: str, x: Tensor, p: float, call: Callable[[], object]) -> list[str]:
        try:
            y = call()
        except Exception:  # a foreign implementation's error type is its own
            if refused and _read_as_one(impl, p):
                return []
            raise
        return _evaluation(impl, name, x, p, y)

    failures = []
    for dtype in dtypes_of(impl):
        x = edged(ctx.seed, SIZE, dtype, nonfinite=inverted)
        for p in (0.0, *RATES, 1.0):
            failures += evaluated(f"{dtype.name}, p = {p}, eval", x, p,
                                  lambda: impl.dropout(x, p, training=False, seed=ctx.seed))
    if not failures:
        failures = search(ctx, cases(impl, p=probabilities, nonfinite=inverted, training=False),
                          lambda case: evaluated("y", case.x, case.p, lambda: case.called(impl)))
    return ctx.verdict("DROPOUT-7", failures)


@check("DROPOUT-8")
def check_every_element_is_zero_or_the_kept_value(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-8: each element is exactly 0 or x/q (classic: x) within one ulp, the kept value as the
    declared scale_format computes it; shape and dtype preserved. Then generated cases (finite x of any
    shape, format and seed, p in (0, 1))."""
    ctx.policy(impl, "scale_format")

    def zero_or_kept(name: str, x: Tensor, p: float, y: object) -> list[str]:
        if plainly_zero_or_kept(impl, y, x, p):  # at C speed; else read element by element below
            return []

        def wrong(i: int, got: float, v: float) -> str | None:
            kept = kept_value_of(impl, v, p, x.dtype)
            if got == 0.0 or within_one_ulp(got, kept, x.dtype):
                return None
            return f"neither 0 nor the kept value {x.dtype.round(kept)!r} within one ulp"

        return mismatch(name, y, x, wrong)

    failures = []
    for dtype in dtypes_of(impl):
        x = edged(ctx.seed, SIZE, dtype)
        for p in RATES:
            failures += zero_or_kept(f"{dtype.name}, p = {p}", x, p, impl.dropout(x, p, training=True, seed=ctx.seed))
        for shape in _any_size(1)[:3]:  # 0-d and empty tensors keep their shape too
            x = edged(ctx.seed, shape, dtype)
            y = impl.dropout(x, 0.3, training=True, seed=ctx.seed)
            failures += tensor_like(f"{dtype.name}, shape {shape}", y, x)
    if not failures:
        failures = search(ctx, cases(impl), lambda case: (
            _refused("y", lambda: case.called(impl)) if _refusable(impl, ctx, case.p)
            else zero_or_kept("y", case.x, case.p, case.called(impl))),
            [*corners(impl, ctx.seed), *overflow_corners(impl, ctx.seed)])
    return ctx.verdict("DROPOUT-8", failures)


# x / q has no integer result for q = 0.9 (1 / 0.9 is not an integer): a training call must refuse these
INTEGERS = (1, -2, 5, 7, -11, 2**20 + 1, 3, 0)
INTEGER_CALLS = ((True, 0.1), (True, 0.0), (True, 1.0), (False, 0.1))  # (training, p)


def _integer_result(impl: Implementation, p: float, training: bool) -> list[int] | None:
    """The exact result of dropout of INTEGERS where one exists without scaling: x where nothing is
    dropped or scaled, zeros in training at p = 1; None where the call scales, and so must refuse."""
    if training:
        return list(INTEGERS) if p == 0.0 else [0] * len(INTEGERS) if p == 1.0 else None
    return list(INTEGERS) if p == 0.0 or policies_of(impl).scaling == "inverted" else None


@check("DROPOUT-9", needs=("integer_dropout",))
def check_integer_input_is_refused(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-9: integers are refused by every call that scales them (training at 0 < p < 1); a
    call that scales nothing may instead return their exact result as integers. A refusal is any
    exception but an ArithmeticError, which is the arithmetic running on the integers and crashing."""
    failures = []
    for training, p in INTEGER_CALLS:
        call = f"p = {p} (training={training})"
        exact = _integer_result(impl, p, training)
        try:
            y = list(impl.integer_dropout(list(INTEGERS), p, training=training, seed=ctx.seed))
        except ArithmeticError as error:
            failures.append(f"{call} crashed on integers: {type(error).__name__}: {error}")
            continue
        except Exception:  # noqa: BLE001  (a foreign implementation's error type is its own)
            continue
        if exact is None:
            failures.append(f"{call} accepted integers and returned {y[:4]}...")
        elif not (all(type(v) is int for v in y) and y == exact):
            failures.append(f"{call} returned {y[:4]}..., not the integers {exact[:4]}...")
    return ctx.verdict("DROPOUT-9", failures)


NONFINITE_RATES = (0.3, 1.0)
NONFINITE_COPIES = 200  # of NaN, inf and -inf each; at p = 0.3 no NaN is kept w.p. 0.3^200 < 1e-104
KEPT = {("NaN", "NaN"), ("inf", "inf")}
DROPPED = {"multiply": {("NaN", "NaN"), ("inf", "NaN")}, "select": {("NaN", "0"), ("inf", "0")}}


def _nonfinite_outcome(v: float, got: float) -> tuple[str, str]:
    """(input, output) of a non-finite input v: "NaN" or "inf" (±inf) in; "NaN", "inf" (v itself),
    "0" or "other" out."""
    out = "NaN" if got != got else "0" if got == 0.0 else "inf" if got == v else "other"
    return "NaN" if v != v else "inf", out


@check("DROPOUT-10")
def check_nonfinite_inputs_follow_the_declared_policy(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-10: kept NaN and ±inf stay; dropped ones give NaN ("multiply") or 0 ("select"), as declared;
    p = 1 raises under p_one = "refused". Then generated cases (x of any shape, format and seed with NaN
    and ±inf among its values, p in (0, 1]): each non-finite element kept or the policy's value."""
    declared = ctx.policy(impl, "nonfinite")
    refused = ctx.policy(impl, "p_one") == "refused"

    def outcomes(name: str, x: Tensor, p: float, call: Callable[[], object]) -> set[tuple[str, str]] | list[str]:
        """The (input, output) outcomes of x's non-finite elements, or the failures of the call."""
        if refused and _read_as_one(impl, p):
            return _refused(name, call)
        y = call()
        form = tensor_like(name, y, x)
        if form:
            return form
        seen = {_nonfinite_outcome(v, got) for v, got in zip(x.data, y.data) if not math.isfinite(v)}
        wrong = seen - DROPPED[declared] - (KEPT if p < 1.0 else set())
        if not wrong:
            return seen
        observed = sorted(policy for policy, outs in DROPPED.items() if wrong & outs) or ["neither policy"]
        return [f"{name}: declared {declared!r}, but non-finite inputs gave {sorted(wrong)} "
                f"(as {' and '.join(observed)} would)"]

    failures = []
    for dtype in dtypes_of(impl):
        x = Tensor.from_flat([math.nan, math.inf, -math.inf] * NONFINITE_COPIES, (3 * NONFINITE_COPIES,), dtype)
        for p in NONFINITE_RATES:
            name = f"{dtype.name}, p = {p}"
            seen = outcomes(name, x, p, lambda: impl.dropout(x, p, training=True, seed=ctx.seed))
            if isinstance(seen, list):
                failures += seen
            elif p < 1.0 and not KEPT <= seen:
                failures.append(f"{name}: no {sorted(KEPT - seen)} outcome: kept NaN and ±inf must stay as they are")
    if not failures:
        failures = search(ctx, cases(impl, p=with_rates(st.just(1.0)), nonfinite=True),
                          lambda case: _failures(outcomes("y", case.x, case.p, lambda: case.called(impl))))
    return ctx.verdict("DROPOUT-10", failures)


def _failures(found: set | list[str]) -> list[str]:
    """The failures among a judge's findings: a list of them, or none where it found outcomes (a set)."""
    return found if isinstance(found, list) else []


@check("DROPOUT-11", needs=("dropout_noise_shape",))
def check_noise_shape_shares_mask_values(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-11: with noise_shape, the elements that share a mask value have one output value; then
    generated cases (x = 1 of 1 to 5 axes in any format, each axis of the noise shape its size, None or 1)."""
    def shared(name: str, x: Tensor, p: float, noise_shape: tuple, y: object) -> list[str]:
        kept = kept_value_of(impl, 1.0, p, x.dtype)
        mask_shape = tuple(n if m is None else m for m, n in zip(noise_shape, x.shape))
        positions = broadcast_index(mask_shape, x.shape)  # element -> the mask position it uses
        first: dict[int, float] = {}  # mask position -> the output of the first element that uses it

        def wrong(i: int, got: float, v: float) -> str | None:
            if got != 0.0 and not within_one_ulp(got, kept, x.dtype):
                return f"neither 0 nor {x.dtype.round(kept)!r}"
            seen = first.setdefault(positions[i], got)
            return None if seen == got else f"but an element sharing its mask value gave {seen!r}"

        return mismatch(name, y, x, wrong)

    x = ones(NOISE_INPUT)
    failures = []
    for noise_shape in NOISE_SHAPES:
        y = impl.dropout_noise_shape(x, STRUCTURE_RATE, noise_shape, training=True, seed=ctx.seed)
        failures += shared(f"noise_shape {noise_shape}", x, STRUCTURE_RATE, noise_shape, y)
    if not failures:
        failures = search(ctx, noise_cases(impl),
                          lambda case: shared("y", case.x, case.p, case.noise_shape, case.called(impl)),
                          noise_corners(impl, ctx.seed))
    return ctx.verdict("DROPOUT-11", failures)


@check("DROPOUT-12")
def check_same_seed_same_mask(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-12: two training calls with the same seed return the same output, bit for bit: on float64
    values at each p of RATES, and on ones at p = STRUCTURE_RATE in every declared dtype, at each of the
    SMALL_SIZES and BULK_SIZE, with the clause's seed and each of SPECIAL_SEEDS. Once a dtype has failed, the
    verdict is fixed and the formats left are not called (a slow implementation's failure stays cheap)."""
    x = edged(ctx.seed, SIZE, float64)
    failures = []
    for p in RATES:
        first = impl.dropout(x, p, training=True, seed=ctx.seed)
        failures += identical(f"p = {p}, the same seed again", impl.dropout(x, p, training=True, seed=ctx.seed), first,
                              earlier="the first call")
    for dtype in dtypes_of(impl):
        found = []
        for size in (*SMALL_SIZES, BULK_SIZE):
            ones = ones_array(size, dtype)
            for seed in dict.fromkeys((ctx.seed, *SPECIAL_SEEDS)):
                name = f"{dtype.name}, {size} elements, seed {seed}"
                first = impl.dropout(ones, STRUCTURE_RATE, training=True, seed=seed)
                form = array_like(name, first, ones)
                if form:
                    found += form
                    continue
                first = first.copy()  # an output buffer the second call reuses hides nothing
                second = impl.dropout(ones, STRUCTURE_RATE, training=True, seed=seed)
                found += identical_array(f"{name}, the same seed again", second, first, earlier="the first call")
        failures += found
        if found:
            break
    return ctx.verdict("DROPOUT-12", failures)


@check("DROPOUT-15", needs=("dropout_stream",))
def check_eval_and_p_zero_consume_no_randomness(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-15: on one stream, train, (eval or p = 0), train draws the masks of train, train."""
    x = ones(1024)
    p = STRUCTURE_RATE

    def two_training_calls(between: tuple[float, bool] | None) -> tuple[Tensor, Tensor]:
        call = impl.dropout_stream(ctx.seed)
        first = call(x, p, training=True)
        if between is not None:
            call(x, between[0], training=between[1])
        return first, call(x, p, training=True)

    plain = two_training_calls(None)
    failures = []
    for label, between in (("an eval call", (p, False)), ("a training call at p = 0", (0.0, True))):
        first, second = two_training_calls(between)
        failures += identical("the first call of another stream of the same seed", first, plain[0],
                              earlier="the first call of the first stream")
        failures += identical(f"the training call after {label}", second, plain[1],
                              earlier="the second of two training calls in a row")
    return ctx.verdict("DROPOUT-15", failures)


# --- statistical checks ---------------------------------------------------------------------------


def _high_pairs(seed: int, count: int) -> list[tuple[int, int]]:
    """``count`` pairs of seeds that differ only above bit 31, every seed in one pair only: FIXED_HIGH_PAIRS,
    then (s, s ^ 2^b) of seeds s drawn from ``seed``, b taking the values of HIGH_FLIPS in turn."""
    pairs = list(FIXED_HIGH_PAIRS[:count])
    used = {s for pair in pairs for s in pair}
    batch = 0
    while len(pairs) < count:
        for base in drawn_seeds(child_seed(seed, batch), count):
            pair = (base, base ^ (1 << HIGH_FLIPS[(len(pairs) - len(FIXED_HIGH_PAIRS)) % len(HIGH_FLIPS)]))
            if len(pairs) < count and used.isdisjoint(pair):
                pairs.append(pair)
                used.update(pair)
        batch += 1
    return pairs


def _mask_of(impl: Implementation, size: int, seed: int, dtype: DType) -> np.ndarray:
    """The keep mask of one training call on ``size`` ones at p = STRUCTURE_RATE."""
    (mask,) = keep_masks(impl, size, STRUCTURE_RATE, seed, dtype)
    return mask


def _seed_pair(a: int, b: int) -> str:
    """Two seeds, and the bit they differ in where it is one."""
    bit = (a ^ b).bit_length() - 1
    return f"{a} and {b} (= {a} ^ 2^{bit})" if a ^ b == 1 << bit else f"{a} and {b}"


class _SeedPairs:
    """The pooled 2x2 table of the masks of pairs of seeds, and, per size, which pairs gave identical
    masks: what a failure tells the user."""

    def __init__(self, test: str, above_bit_31: bool = True) -> None:
        self.test, self.above_bit_31 = test, above_bit_31  # whether the seeds differ only above bit 31
        self.table = PairCounts()
        self.identical: dict[int, list[tuple[int, int]]] = {}  # size -> the pairs of identical masks
        self.pairs: dict[int, int] = {}  # size -> pairs of seeds drawn

    def add(self, impl: Implementation, size: int, pair: tuple[int, int], dtype: DType) -> None:
        """The masks of one call of ``size`` elements with each seed of ``pair``."""
        self.add_masks(size, pair, *(_mask_of(impl, size, seed, dtype) for seed in pair))

    def add_masks(self, size: int, pair: tuple[int, int], first: np.ndarray, second: np.ndarray) -> None:
        self.table += pair_counts(first, second)
        self.pairs[size] = self.pairs.get(size, 0) + 1
        if np.array_equal(first, second):
            self.identical.setdefault(size, []).append(pair)

    def told(self) -> str:
        """Which pairs gave identical masks, against what independent masks would, and, for seeds that differ
        only above bit 31, what to declare."""
        q = 1.0 - STRUCTURE_RATE
        by_size = "; ".join(f"{len(self.identical.get(size, []))} of {count} at {size} elements (about "
                            f"{count * (q * q + (1 - q) ** 2) ** size:.3g} by chance)"
                            for size, count in sorted(self.pairs.items()))
        shown = max(self.identical, default=None)
        example = f"seeds {_seed_pair(*self.identical[shown][0])} gave identical masks; " if shown else ""
        told = f"{example}pairs of seeds with identical masks: {by_size}"
        return told + ("; if your implementation uses 32 seed bits, declare seed_bits=32" if self.above_bit_31 else "")


def _judge_pairs(ctx: Context, name: str, pairs: _SeedPairs, failures: list[str]) -> None:
    """Judge pooled pairs of masks by the exact 2x2 independence test (STATS-8); a rejection also says which
    masks were identical."""
    before = len(failures)
    judge(ctx, name, pair_counts_test(pairs.table, alpha=ctx.alpha, test=pairs.test), failures)
    if len(failures) > before:
        failures.append(f"{name}: {pairs.told()}")


@check("DROPOUT-13", decisions=2 + 2 * len(FLOATING_FORMATS))
def check_different_seeds_give_independent_masks(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-13: masks of seeds one bit apart are independent: bit 0 and the highest bit the
    implementation uses below 64 (bit 32 under seed_bits = 64, bit 31 under 32). Under seed_bits = 64,
    in every declared dtype, so are the masks of seeds that differ only above bit 31 (_high_pairs), on
    bulk calls of high_bit_call_size elements (one pair of each kind) and on calls of the SMALL_SIZES
    (small_rounds pairs at each, the fixed pairs at the largest): two pooled decisions. Once a
    dtype's decisions have rejected, the verdict is fixed and the formats left are not drawn."""
    seed_bits = ctx.policy(impl, "seed_bits")
    n, p = independence_pairs(ctx.plan), STRUCTURE_RATE
    firsts = list(keep_masks(impl, n, p, ctx.seed))  # n bytes: about 200,000 at every profile
    failures: list[str] = []
    for bit in (0, 32 if seed_bits == 64 else seed_bits - 1):
        flipped = _SeedPairs("successive independence", above_bit_31=bit >= 32)
        for first, second in zip(firsts, keep_masks(impl, n, p, ctx.seed ^ (1 << bit))):
            flipped.add_masks(first.size, (ctx.seed, ctx.seed ^ (1 << bit)), first, second)
        _judge_pairs(ctx, f"DROPOUT-13 seeds s and s ^ 2^{bit}", flipped, failures)
    rounds = small_rounds(ctx.plan)  # the largest size first: the fixed pairs at 65 elements
    for dtype in dtypes_of(impl) if seed_bits == 64 else ():  # under 32, such seeds MAY give one mask
        found: list[str] = []
        where = _where(dtype)
        bulk = _SeedPairs(HIGH_TEST)
        for pair in _high_pairs(ctx.seed, HIGH_KINDS):
            bulk.add(impl, high_bit_call_size(ctx.plan), pair, dtype)
        _judge_pairs(ctx, f"DROPOUT-13 {where}seeds differing above bit 31, bulk calls", bulk, found)
        small = _SeedPairs(HIGH_TEST)
        pairs = iter(_high_pairs(child_seed(ctx.seed, 1), sum(rounds.values())))
        for size, count in rounds.items():
            for _ in range(count):
                small.add(impl, size, next(pairs), dtype)
        _judge_pairs(ctx, f"DROPOUT-13 {where}seeds differing above bit 31, small calls", small, found)
        failures += found
        if found:
            break
    return ctx.verdict("DROPOUT-13", failures)


@check("DROPOUT-14", needs=("dropout_stream",), decisions=len(FLOATING_FORMATS))
def check_successive_calls_give_independent_masks(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-14: the same position in successive calls on one stream is independent. In every declared
    dtype, each on a stream of float64's seed (float64's decision named without a dtype); once a dtype's
    decision has rejected, the formats left are not drawn."""
    return _in_every_dtype(impl, ctx, "DROPOUT-14", _successive_calls)


def _successive_calls(impl: Implementation, ctx: Context, dtype: DType, failures: list[str]) -> None:
    """DROPOUT-14's decision in one dtype: the disjoint pairs (call 2t, call 2t + 1) of a stream's calls on
    1,000 ones, at every position, counted as the calls come (stats.successive_independence_test's table)."""
    size = 1000
    x = ones_array(size, dtype)
    call = impl.dropout_stream(ctx.seed)
    table = PairCounts()
    for _ in range(math.ceil(independence_pairs(ctx.plan) / size)):
        first = keep_mask_array(call(x, STRUCTURE_RATE, training=True))
        table += pair_counts(first, keep_mask_array(call(x, STRUCTURE_RATE, training=True)))
    judge(ctx, f"DROPOUT-14 {_where(dtype)}successive calls",
          pair_counts_test(table, alpha=ctx.alpha, test="successive independence"), failures)


@check("DROPOUT-16", decisions=len(KEEP_COUNT_RATES) * len(FLOATING_FORMATS))
def check_keep_count_is_binomial(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-16: the number kept of n = plan.n elements is Binomial(n, q), at p across (0, 1), in every
    declared dtype (the seeds of float64's calls in each; float64's decisions named without a dtype)."""
    n = ctx.plan.n
    failures: list[str] = []
    for dtype in dtypes_of(impl):
        where = _where(dtype)
        for p, seed in zip(KEEP_COUNT_RATES, successive_seeds(ctx.seed, len(KEEP_COUNT_RATES))):
            kept = keep_count(impl, n, p, seed, dtype)
            decision = binomial_test(kept, n, 1.0 - p, alpha=ctx.alpha)
            judge(ctx, f"DROPOUT-16 keep count {where}p={p}", decision, failures)
    return ctx.verdict("DROPOUT-16", failures)


@check("DROPOUT-17", decisions=len(FLOATING_FORMATS))
def check_keep_counts_are_not_under_dispersed(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-17: keep counts of separate calls vary as Binomial(n, q) counts do, not less. In every
    declared dtype, each with float64's seeds (float64's decision named without a dtype); once a dtype's
    decision has rejected, the formats left are not drawn."""
    return _in_every_dtype(impl, ctx, "DROPOUT-17", _dispersion)


def _dispersion(impl: Implementation, ctx: Context, dtype: DType, failures: list[str]) -> None:
    """DROPOUT-17's decision in one dtype."""
    counts = [int(np.count_nonzero(mask)) for mask in _masks_of_calls(impl, ctx.seed, DISPERSION_SIZE,
                                                                        dispersion_masks(ctx.plan), dtype)]
    decision = dispersion_counts_test(counts, DISPERSION_SIZE, 1.0 - STRUCTURE_RATE, alpha=ctx.alpha)
    judge(ctx, f"DROPOUT-17 {_where(dtype)}dispersion", decision, failures)


@check("DROPOUT-18", decisions=len(FLOATING_FORMATS))
def check_every_position_is_kept_at_one_rate(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-18: over separate calls on POSITIONS elements, every position keeps at one rate. In every
    declared dtype, each with float64's seeds (float64's decision named without a dtype); once a dtype's
    decision has rejected, the formats left are not drawn."""
    return _in_every_dtype(impl, ctx, "DROPOUT-18", _positions)


def _positions(impl: Implementation, ctx: Context, dtype: DType, failures: list[str]) -> None:
    """DROPOUT-18's decision in one dtype."""
    count = homogeneity_masks(ctx.plan)
    kept = sum((mask.astype(np.int64) for mask in _masks_of_calls(impl, ctx.seed, POSITIONS, count, dtype)),
               np.zeros(POSITIONS, dtype=np.int64))  # per position
    judge(ctx, f"DROPOUT-18 {_where(dtype)}homogeneity", homogeneity_counts_test(kept, count, alpha=ctx.alpha),
          failures)


def _where(dtype: DType) -> str:
    """The prefix of a decision's name made in ``dtype``: none for float64, whose names predate the formats."""
    return "" if dtype is float64 else f"{dtype.name} "


def _in_every_dtype(impl: Implementation, ctx: Context, clause: str,
                    decide: Callable[[Implementation, Context, DType, list[str]], None]) -> Verdict:
    """``clause``'s verdict on the decisions ``decide`` makes in each declared dtype in turn (adding its
    failures to the list it is handed), until a dtype's decisions reject: the formats left are not drawn."""
    failures: list[str] = []
    for dtype in dtypes_of(impl):
        decide(impl, ctx, dtype, failures)
        if failures:
            break
    return ctx.verdict(clause, failures)


@check("DROPOUT-22", decisions=(len(CLASS_WIDTHS) + len(TAIL_WIDTHS)) * len(FLOATING_FORMATS))
def check_every_position_class_is_kept_at_one_rate(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-22: in one mask of 64 k + 61 elements the classes i mod m (m = 2 ... 64) keep at one rate
    (homogeneity over the whole multiples of m of each call); over calls of TAIL_SIZE elements, the
    elements past the last multiple of m = 8 ... 64 keep at q (exact binomial test of their pooled count).
    In every declared dtype, each with float64's seeds (float64's decisions named without a dtype); once
    a dtype's decisions have rejected, the formats left are not drawn."""
    return _in_every_dtype(impl, ctx, "DROPOUT-22", _position_classes)


def _position_classes(impl: Implementation, ctx: Context, dtype: DType, failures: list[str]) -> None:
    """DROPOUT-22's decisions in one dtype."""
    p, where = STRUCTURE_RATE, _where(dtype)
    counts = {m: np.zeros(m, dtype=np.int64) for m in CLASS_WIDTHS}  # kept per residue, whole multiples of m
    n = class_mask_size(ctx.plan)
    for mask in keep_masks(impl, n, p, ctx.seed, dtype):
        for m in CLASS_WIDTHS:
            counts[m] += mask[:mask.size // m * m].reshape(-1, m).sum(axis=0)
    for m in CLASS_WIDTHS:
        rows = sum(size // m for size, _ in calls(n, ctx.seed))  # whole multiples of m over the calls
        judge(ctx, f"DROPOUT-22 {where}index mod {m}", homogeneity_counts_test(counts[m], rows, alpha=ctx.alpha),
              failures)
    count = tail_calls(ctx.plan)
    tails = {m: 0 for m in TAIL_WIDTHS}  # kept past the last multiple of m, over the calls
    for mask in _masks_of_calls(impl, child_seed(ctx.seed, 1), TAIL_SIZE, count, dtype):
        for m in TAIL_WIDTHS:
            tails[m] += int(np.count_nonzero(mask[TAIL_SIZE // m * m:]))
    for m in TAIL_WIDTHS:
        decision = binomial_test(tails[m], count * (TAIL_SIZE % m), 1.0 - p, alpha=ctx.alpha)
        judge(ctx, f"DROPOUT-22 {where}tail past a multiple of {m}", decision, failures)


@check("DROPOUT-23", decisions=(3 + BATCH_AXES) * len(FLOATING_FORMATS))
def check_every_row_and_column_is_kept_at_one_rate(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-23: one training call of plain dropout on s x s ones: the rows keep at one rate, the columns
    keep at one rate (exact homogeneity tests), and rows 2t and 2t + 1 are independent (2x2 test); then
    one call on (a, a, a, a) ones (batch, channels, height, width): along each axis, the elements at
    index 2t and 2t + 1 independent (2x2 test), so that a mask shared over the batch, or over the
    channels, of a 4-axis input only is seen. In every declared dtype, each with float64's seeds
    (float64's decisions named without a dtype); once a dtype's decisions have rejected, the formats left
    are not drawn."""
    return _in_every_dtype(impl, ctx, "DROPOUT-23", _rows_and_axes)


def _rows_and_axes(impl: Implementation, ctx: Context, dtype: DType, failures: list[str]) -> None:
    """DROPOUT-23's decisions in one dtype."""
    where, side = _where(dtype), axis_size(ctx.plan)
    y = impl.dropout(ones_array((side, side), dtype), STRUCTURE_RATE, training=True, seed=ctx.seed)
    mask = keep_mask_array(y).reshape(side, side)
    for axis, name in ((1, "rows"), (0, "columns")):  # kept per row (summed over columns), per column
        decision = homogeneity_counts_test(mask.sum(axis=axis), side, alpha=ctx.alpha)
        judge(ctx, f"DROPOUT-23 {where}{name}", decision, failures)
    pairs = pair_counts(mask[0:side // 2 * 2:2].ravel(), mask[1::2].ravel())
    judge(ctx, f"DROPOUT-23 {where}rows 2t and 2t + 1",
          pair_counts_test(pairs, alpha=ctx.alpha, test="row independence"), failures)
    shape = (batch_side(ctx.plan),) * BATCH_AXES
    y = impl.dropout(ones_array(shape, dtype), STRUCTURE_RATE, training=True, seed=child_seed(ctx.seed, 1))
    mask = keep_mask_array(y).reshape(shape)
    for axis in range(BATCH_AXES):
        along = np.moveaxis(mask, axis, 0)  # index 2t with 2t + 1 of this axis, every other index alike
        judge(ctx, f"DROPOUT-23 {where}4-axis input, axis {axis} entries 2t and 2t + 1",
              pair_counts_test(pair_counts(along[0::2].ravel(), along[1::2].ravel()), alpha=ctx.alpha,
                               test="axis independence"), failures)


@check("DROPOUT-19", decisions=2 * len(LAGS) * len(FLOATING_FORMATS))
def check_elements_are_independent_at_lags(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-19: within one mask, elements l apart are independent, l = 1..16: the disjoint pairs pooled
    (half the elements pair up), then every pair (m_i, m_(i+l)) in the classes i mod LAG_CLASS_WIDTH,
    each class's table on its own (class_pair_counts_test), so that a correlation confined to one
    class of 64, which the pooled pairs average away or never pair, is seen. In every declared dtype,
    each with float64's seed (float64's decisions named without a dtype); once a dtype's decisions have
    rejected, the formats left are not drawn."""
    return _in_every_dtype(impl, ctx, "DROPOUT-19", _lags)


def _lags(impl: Implementation, ctx: Context, dtype: DType, failures: list[str]) -> None:
    """DROPOUT-19's decisions in one dtype."""
    where = _where(dtype)
    tables = {lag: PairCounts() for lag in LAGS}  # pairs within each call's mask
    classes = {lag: [PairCounts()] * LAG_CLASS_WIDTH for lag in LAGS}
    for mask in keep_masks(impl, lag_mask_size(ctx.plan), STRUCTURE_RATE, ctx.seed, dtype):
        for lag in LAGS:
            tables[lag] += lag_counts(mask, lag)
            classes[lag] = [a + b for a, b in zip(classes[lag], class_lag_counts(mask, lag, LAG_CLASS_WIDTH))]
    for lag in LAGS:
        decision = pair_counts_test(tables[lag], alpha=ctx.alpha, test="lag independence")
        judge(ctx, f"DROPOUT-19 {where}lag {lag}", decision, failures)
    for lag in LAGS:
        decision = class_pair_counts_test(classes[lag], alpha=ctx.alpha, test="lag independence by class")
        judge(ctx, f"DROPOUT-19 {where}lag {lag}, index mod {LAG_CLASS_WIDTH}", decision, failures)


def _kept_ratios(impl: Implementation, ctx: Context, n: int) -> tuple[int, float] | str:
    """(K, v): how many of the ratios y / y_eval over n elements of x = 1 at p = STRUCTURE_RATE are
    nonzero, and their one value (1 / q where none is); a failure where the nonzero ratios take more
    than one value, which no m / q (0 or one kept value, DROPOUT-2) does."""
    p = STRUCTURE_RATE
    unit = _eval_value(impl, 1.0, p)
    ratios = sum((Tally.of(as_array(y).astype(np.float64) / unit) for y in outputs(impl, n, p, ctx.seed)), Tally({}))
    kept = {v: c for v, c in ratios.counts.items() if v != 0.0}
    if len(kept) > 1:
        shown = ", ".join(f"{v!r} ({c})" for v, c in sorted(kept.items())[:4])
        return (f"the nonzero ratios y / y_eval of x = 1 take {len(kept)} values: {shown}; "
                f"m / q takes one, so its moments cannot be those of m / q")
    ((value, count),) = kept.items() or ((1.0 / (1.0 - p), 0),)
    return count, value


@check("DROPOUT-20", decisions=1)
def check_expectation_is_the_eval_output(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-20: E[y] = y_eval, by the exact test of the mean of the two-point ratios y / y_eval = v m:
    the keep count against the rate 1 / v (STATS-15)."""
    sample = _kept_ratios(impl, ctx, mean_samples(ctx.plan))
    failures: list[str] = [sample] if isinstance(sample, str) else []
    if not failures:
        count, value = sample
        judge(ctx, "DROPOUT-20 mean", two_point_mean_test(count, mean_samples(ctx.plan), value, 1.0, alpha=ctx.alpha),
              failures)
    return ctx.verdict("DROPOUT-20", failures)


@check("DROPOUT-21", decisions=1)
def check_variance_is_x_squared_p_over_q(impl: Implementation, ctx: Context) -> Verdict:
    """DROPOUT-21: Var[y] = y_eval^2 p / q, by the exact test of the variance of the two-point ratios
    y / y_eval = v m: the keep count against the rates with v^2 rate (1 - rate) = p / q (STATS-15)."""
    variance, _ = _ratio_moments(STRUCTURE_RATE)
    n = variance_samples(ctx.plan)
    sample = _kept_ratios(impl, ctx, n)
    failures: list[str] = [sample] if isinstance(sample, str) else []
    if not failures:
        count, value = sample
        judge(ctx, "DROPOUT-21 variance", two_point_variance_test(count, n, value, variance, alpha=ctx.alpha),
              failures)
    return ctx.verdict("DROPOUT-21", failures)
