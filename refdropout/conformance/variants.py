"""Checks of spec/variants.md: channel, alpha, Gaussian, DropConnect, DropPath, DropBlock and
attention dropout.

Each check needs the capability named after its variant (protocol.CAPABILITIES) and calls it
with float64 inputs: numpy arrays where a call holds a large sample (they answer in kind and are
read at C speed, protocol.py), engine tensors otherwise. Masks are read off outputs: for x = 1 a kept element of an
inverted variant is 1/q and a dropped one 0; for alpha dropout x = 0 gives b (kept) or
a α' q (dropped). Exact checks charge nothing to the run's budget; a statistical check
registers its decisions and sizes its sample from the run's plan for the MDE its clause states.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from functools import cache

import numpy as np
from hypothesis import strategies as st
from scipy.stats import norm

from ..contract import Implementation, eval_value, kept_value, policies_of
from ..dtypes import DType, float64, within_one_ulp
from ..functional.alpha import ALPHA_PRIME, alpha_constants
from ..shapes import broadcast_index, strides
from ..stats import (
    DecisionPlan,
    LogMGF,
    PairCounts,
    Tally,
    bernstein_mean_power,
    bernstein_mean_test,
    bernstein_variance_power,
    bernstein_variance_test,
    binomial_test,
    chernoff_mean_power,
    chernoff_mean_test,
    chernoff_variance_power,
    chernoff_variance_test,
    ks_samples_needed,
    ks_test,
    ks_test_of_parts,
    log_add_exp,
    pair_counts_test,
    samples_for_power,
    samples_needed,
)
from ..tensor import Tensor
from . import sampling
from .cases import (
    CORNER_RATE,
    DropConnectCase,
    VariantCase,
    block_layouts,
    channel_corners,
    channel_layouts,
    dropconnect_cases,
    mask_rates,
    path_layouts,
    probabilities,
    shapes,
    variant_cases,
    variant_corners,
    with_rates,
)
from .dropout import DROPPED, _nonfinite_outcome, _refusable
from .kit import (
    array_of_shape,
    constant,
    distinct,
    identical,
    identical_array,
    input_seed,
    judge,
    keep_mask_array,
    mismatch,
    ones,
    ones_array,
    successive_seeds,
    tensor_of_shape,
)
from .registry import Context, check
from .sampling import Drawn, calls, lag_counts
from .search import search
from .verdict import Verdict

__all__ = ["P", "ALPHA_P", "ATTENTION_ROW", "alpha_dropped_value", "alpha_fourth_moment", "row_sum_moments",
           "seed_rate", "seed_coverage", "most_covered", "sample_sizes", "SEED_RATE_CASES",
           "DROPCONNECT_COLUMNS"]

P = 0.3  # p of every check but alpha dropout's; never 0.5, where a p/q swap goes unseen
ALPHA_P = 0.2
# the generated cases of VARIANTS-4 try these first in every format: where a = ((1 - p)(1 + p α'^2))^(-1/2)
# and b = -a α' p pass float16's largest finite value (p = 1 - 2^-53), and where q is 0 in float16
ALPHA_CORNER_RATES = (math.nextafter(1.0, 0.0), CORNER_RATE)
U = 2.0**-53  # unit roundoff of float64
# (N, C, *spatial) and (C, *spatial), channels first: a mask laid along a spatial axis varies
# within a channel with probability 1 - q^S - p^S for S positions along it
BATCHED = {1: (3, 4, 8), 2: (3, 4, 6, 3), 3: (3, 4, 4, 3, 3)}
UNBATCHED = {1: (4, 8), 2: (4, 6, 3), 3: (4, 4, 3, 3)}
BLOCK_CASES = (((4, 3, 7, 6), 3, 0.3), ((2, 2, 5, 5), 2, 0.5))  # (shape, block size, p)
# (H, W, b) of the seed-rate check: H < W and H > W, two block sizes, so that a rate computed from
# one side length, or right for one block size only, is off by 0.03 or more
SEED_RATE_CASES = ((3, 7, 2), (8, 4, 3))
DROPCONNECT_COLUMNS = 4  # in_features of VARIANTS-9's W: x = I_4
ATTENTION_ROW = tuple((j + 1) / 36 for j in range(8))  # a probability vector: sums to 1


# --- the variants' constants, as the spec states them ---------------------------------------------


def alpha_dropped_value(p: float) -> float:
    """What alpha dropout sets a dropped unit to, a α' (1 - p), with a and α' the engine's
    (functional.alpha_constants) (VARIANTS-4)."""
    a, _ = alpha_constants(p)
    return a * ALPHA_PRIME * (1.0 - p)


def alpha_fourth_moment(p: float) -> float:
    """The fourth central moment of alpha dropout's output for N(0, 1) inputs (VARIANTS-5)."""
    (a, b), dropped = alpha_constants(p), alpha_dropped_value(p)
    return (1.0 - p) * (3 * a**4 + 6 * a * a * b * b + b**4) + p * dropped**4


def alpha_log_mgfs(p: float) -> tuple[LogMGF, LogMGF]:
    """The log moment generating functions of y and of y^2, alpha dropout's output for N(0, 1) inputs
    (VARIANTS-5): y is a x + b with probability q, else d, so

        log E e^{λ y}   = log(q e^{λ b + λ^2 a^2 / 2} + p e^{λ d}),
        log E e^{λ y^2} = log(q (1 - 2 λ a^2)^{-1/2} e^{λ b^2 / (1 - 2 λ a^2)} + p e^{λ d^2}),  λ < 1 / (2 a^2)."""
    (a, b), d, q = alpha_constants(p), alpha_dropped_value(p), 1.0 - p
    log_q, log_p = math.log(q), math.log(p)  # once: a plan evaluates these functions thousands of times

    def of_y(lam: float) -> float:
        return log_add_exp(log_q + lam * b + lam * lam * a * a / 2, log_p + lam * d)

    def of_square(lam: float) -> float:
        shrink = 1.0 - 2.0 * lam * a * a
        return log_add_exp(log_q - math.log(shrink) / 2 + lam * b * b / shrink, log_p + lam * d * d)

    return (of_y, 50.0, 50.0), (of_square, 50.0, (1.0 - 1e-9) / (2 * a * a))


@cache
def alpha_samples(plan: DecisionPlan) -> int:
    """Outputs for VARIANTS-5's Chernoff tests to detect, with the plan's power, the MDEs the z-tests had on n
    outputs: (z_{alpha/2} + z_{1-power}) / sqrt(n) for the mean, times sqrt(mu4 - 1) for the variance."""
    z = norm.isf(plan.alpha / 2) + norm.isf(1.0 - plan.power)
    mu4 = alpha_fourth_moment(ALPHA_P)
    of_y, of_square = alpha_log_mgfs(ALPHA_P)

    def power_at(n: int) -> float:
        return min(chernoff_mean_power(z / math.sqrt(plan.n), n, 0.0, 1.0, of_y, plan.alpha),
                   chernoff_variance_power(z * math.sqrt((mu4 - 1.0) / plan.n), n, 0.0, 1.0, mu4, of_y, of_square,
                                           plan.alpha))

    return samples_for_power(power_at, plan.power, start=plan.n)


def seed_rate(p: float, block: int, height: int, width: int) -> float:
    """DropBlock's γ = p H W / (b^2 (H - b + 1)(W - b + 1)) (VARIANTS-14)."""
    return p * height * width / (block * block * (height - block + 1) * (width - block + 1))


def seed_coverage(position: tuple[int, int], height: int, width: int, block: int) -> int:
    """k: how many seed positions of an H x W map have a b x b block covering ``position`` (VARIANTS-14)."""
    def along(i: int, side: int) -> int:  # seeds at s in 0..side - b cover i when s <= i <= s + b - 1
        return min(i, side - block) - max(0, i - block + 1) + 1

    return along(position[0], height) * along(position[1], width)


def most_covered(height: int, width: int, block: int) -> tuple[int, int]:
    """The first position, in row-major order, that the most seed blocks cover (VARIANTS-14)."""
    positions = [(i, j) for i in range(height) for j in range(width)]
    return max(positions, key=lambda position: seed_coverage(position, height, width, block))


def row_sum_moments(row: tuple[float, ...], p: float) -> tuple[float, float]:
    """Variance and fourth central moment of Σ_j A_j m_j / q (VARIANTS-16)."""
    q = 1.0 - p
    second, fourth = p / q, p * (p**3 + q**3) / q**3  # of m / q - 1
    squares = [a * a for a in row]
    variance = second * math.fsum(squares)
    mu4 = fourth * math.fsum(s * s for s in squares) + 3 * second * second * (
        math.fsum(squares) ** 2 - math.fsum(s * s for s in squares))
    return variance, mu4


def row_sum_bound(p: float) -> float:
    """The largest |S - 1| of a row sum S = Σ_j A_j m_j / q of a probability vector A: S lies in
    [0, 1 / q] (VARIANTS-16)."""
    return max(1.0, 1.0 / (1.0 - p) - 1.0)


def attention_mdes(plan: DecisionPlan) -> tuple[float, float]:
    """VARIANTS-16's MDEs of the mean and the variance of a row sum: what the two-sided z-tests on
    ceil(n / 8) rows detect with the plan's power, (z_{alpha/2} + z_{1-power}) sd / sqrt(rows), sd
    that of a row sum and of a squared deviation, sqrt(mu4 - var^2)."""
    rows = math.ceil(plan.n / len(ATTENTION_ROW))
    variance, mu4 = row_sum_moments(ATTENTION_ROW, P)
    z = norm.isf(plan.alpha / 2) + norm.isf(1.0 - plan.power)
    return z * math.sqrt(variance / rows), z * math.sqrt((mu4 - variance * variance) / rows)


@cache
def attention_rows(plan: DecisionPlan) -> int:
    """Rows for VARIANTS-16's Bernstein tests to detect attention_mdes(plan) with the plan's power (STATS-3)."""
    variance, mu4 = row_sum_moments(ATTENTION_ROW, P)
    bound, (mean_mde, variance_mde) = row_sum_bound(P), attention_mdes(plan)

    def power_at(rows: int) -> float:
        return min(bernstein_mean_power(mean_mde, rows, variance, bound, plan.alpha),
                   bernstein_variance_power(variance_mde, rows, variance, mu4, bound, plan.alpha))

    return samples_for_power(power_at, plan.power, start=math.ceil(plan.n / len(ATTENTION_ROW)))


@cache
def _rate_samples(mde: float, alpha: float, power: float) -> int:
    return samples_needed(0.5, mde, alpha, power)


def sample_sizes(plan: DecisionPlan) -> dict[str, int]:
    """The sample size of every statistical check under ``plan`` (STATS-3), from its n draws:

    VARIANTS-3: samples of 2 channels, 2 x samples = n channels;  VARIANTS-5: outputs (alpha_samples);
    VARIANTS-7: the KS size for sup-distance keep_rate_mde;  VARIANTS-9: rows of a 4-column W,
    4 x rows = n weights;  VARIANTS-10: rows, n rounded up to even (two halves);  VARIANTS-11: calls,
    the keep-rate size for an MDE 5 x the plan's;  VARIANTS-14: maps of each case, the size for 2 x
    the plan's;  VARIANTS-16: rows of 8 attention weights for its Bernstein tests (attention_rows).
    """
    n = plan.n
    return {
        "VARIANTS-3": math.ceil(n / 2),
        "VARIANTS-5": alpha_samples(plan),
        "VARIANTS-7": ks_samples_needed(plan.keep_rate_mde, plan.alpha, plan.power),
        "VARIANTS-9": math.ceil(n / DROPCONNECT_COLUMNS),
        "VARIANTS-10": 2 * math.ceil(n / 2),
        "VARIANTS-11": _rate_samples(5 * plan.keep_rate_mde, plan.alpha, plan.power),
        "VARIANTS-14": _rate_samples(2 * plan.keep_rate_mde, plan.alpha, plan.power),
        "VARIANTS-16": attention_rows(plan),
    }


# --- layouts and mask outcomes --------------------------------------------------------------------


def _last(shape: tuple[int, ...], channel: int) -> tuple[int, ...]:
    """``shape`` with its axis ``channel`` moved last: the channels-last layout."""
    return shape[:channel] + shape[channel + 1:] + (shape[channel],)


def _channel_mask_shape(shape: tuple[int, ...], batched: bool, data_format: str) -> tuple[int, ...]:
    """One mask value per (sample, channel): 1 on every spatial axis (VARIANTS-1, VARIANTS-2)."""
    channel = len(shape) - 1 if data_format == "channels_last" else int(batched)
    return tuple(n if j == channel or (batched and j == 0) else 1 for j, n in enumerate(shape))


def _kept(v: float, value: float) -> bool:
    """v is ``value`` (a float64 result) within one ulp."""
    return abs(v - value) <= math.ulp(value)


def _shared(name: str, y: object, shape: tuple[int, ...], mask_shape: tuple[int, ...],
            outcome: Callable[[float], bool | None]) -> list[str]:
    """Failures unless every element is kept or dropped (``outcome`` True / False, None: neither)
    and elements at one position of ``mask_shape`` broadcast to ``shape`` share their outcome."""
    failures = tensor_of_shape(name, y, shape)
    if failures:
        return failures
    seen: dict[int, bool] = {}
    for i, (group, v) in enumerate(zip(broadcast_index(mask_shape, shape), y.data)):
        kept = outcome(v)
        if kept is None:
            return [f"{name}: element {i} is {v!r}, neither the kept nor the dropped value"]
        if seen.setdefault(group, kept) != kept:
            return [f"{name}: element {i} is {'kept' if kept else 'dropped'} but others sharing its mask value "
                    f"(mask shape {mask_shape}) are not"]
    return []


def _shared_array(name: str, y: object, shape: tuple[int, ...], mask_shape: tuple[int, ...],
                  kept: float) -> list[str]:
    """:func:`_shared` of ``_inverted`` outcomes on a numpy array, at C speed: failures unless every
    element is ``kept`` within one ulp or 0, elements at one position of ``mask_shape`` broadcast to
    ``shape`` sharing their outcome; the first element at fault named as :func:`_shared` names it."""
    failures = array_of_shape(name, y, shape)
    if failures:
        return failures
    v = y.astype(np.float64, copy=False)
    outcome = np.abs(v - kept) <= math.ulp(kept)
    neither = ~outcome & (v != 0.0)
    # each group's first element in row-major order: index 0 on every axis the mask broadcasts along
    first = outcome[tuple(slice(0, 1) if m == 1 else slice(None) for m in mask_shape)]
    at_fault = np.flatnonzero((neither | (outcome != first)).reshape(-1))
    if not at_fault.size:
        return []
    i = int(at_fault[0])
    if neither.flat[i]:
        return [f"{name}: element {i} is {float(v.flat[i])!r}, neither the kept nor the dropped value"]
    return [f"{name}: element {i} is {'kept' if outcome.flat[i] else 'dropped'} but others sharing its mask value "
            f"(mask shape {mask_shape}) are not"]


def _inverted(p: float) -> Callable[[float], bool | None]:
    """The outcome of x = 1 under inverted scaling: 1/q kept, 0 dropped."""
    return lambda v: True if _kept(v, 1.0 / (1.0 - p)) else False if v == 0.0 else None


# --- channel dropout --------------------------------------------------------------------------------


def _channel_cases(table: dict[int, tuple[int, ...]], batched: bool):
    """(spatial_dims, data_format, shape) for every case of ``table`` in both layouts."""
    for d, shape in table.items():
        yield d, "channels_first", shape
        yield d, "channels_last", _last(shape, int(batched))


def _kept_in(impl: Implementation, p: float, dtype: DType, scaling: str = "inverted") -> Callable[[float], bool | None]:
    """The outcome of x = 1 of ``dtype`` under ``scaling``: kept (True) where it is the kept value, exact
    or as the declared scale_format computes it (contract.kept_value), within one ulp of ``dtype``;
    dropped (False) where 0, else None."""
    declared = replace(policies_of(impl), scaling=scaling)
    values = {kept_value(declared, 1.0, p, dtype), kept_value(replace(declared, scale_format="exact"), 1.0, p, dtype)}
    return lambda v: True if any(within_one_ulp(v, kept, dtype) for kept in values) else False if v == 0.0 else None


def _called(impl: Implementation, ctx: Context, case: VariantCase) -> object | None:
    """What the case's call returns; None where it raised at a p that ``impl`` reads as 1 and declares
    p_one = "refused" (DROPOUT-7), which such a call may refuse."""
    try:
        return case.called(impl)
    except Exception:  # a foreign implementation's error type is its own
        if _refusable(impl, ctx, case.p):
            return None
        raise


Judged = Callable[[VariantCase, object], list[str]]  # the failures of a case's output


def _variant_judge(impl: Implementation, ctx: Context, trained: Judged, evaluated: Judged | None = None
                   ) -> Callable[[VariantCase], list[str]]:
    """The judge of a variant's generated case: nothing where the call refused a p read as 1 that it may
    refuse (:func:`_called`); at p = 0 the identity, bit for bit; in evaluation ``evaluated`` (the
    identity by default); else ``trained``."""
    def judged(case: VariantCase) -> list[str]:
        y = _called(impl, ctx, case)
        if y is None:
            return []
        if case.training and case.p == 0.0 or not case.training and evaluated is None:
            return identical("y", y, case.x)
        return trained(case, y) if case.training else evaluated(case, y)

    return judged


def _mixed(impl: Implementation, capability: str, layouts: st.SearchStrategy, training: st.SearchStrategy,
           *others: st.SearchStrategy) -> st.SearchStrategy[VariantCase]:
    """``training`` three cases in five, else x of any values, NaN and ±inf included, in evaluation at p
    in [0, 1] or in training at p = 0 (or one of ``others``)."""
    return st.one_of(training, training, training,
                     variant_cases(impl, capability, layouts, p=probabilities, nonfinite=True, training=False),
                     variant_cases(impl, capability, layouts, p=st.just(0.0), nonfinite=True), *others)


def _channel_cases_of(impl: Implementation, capability: str, batched: bool) -> st.SearchStrategy[VariantCase]:
    """VARIANTS-1's (``batched``) or VARIANTS-2's generated cases of ``capability``: x = 1 in training at
    p in (0, 1) (:data:`mask_rates`), and the identity's cases (:func:`_mixed`)."""
    layouts = channel_layouts(batched)
    return _mixed(impl, capability, layouts, variant_cases(impl, capability, layouts, p=mask_rates, ones=True))


def _channel_case(impl: Implementation, ctx: Context, batched: bool) -> Callable[[VariantCase], list[str]]:
    """The judge of a generated case of channel dropout: in training at p > 0 every (sample, channel) all
    kept or all dropped, the kept value in x's format; else the identity, bit for bit."""
    def trained(case: VariantCase, y: object) -> list[str]:
        mask_shape = _channel_mask_shape(case.shape, batched, case.options["data_format"])
        return _shared("y", y, case.shape, mask_shape, _kept_in(impl, case.p, case.dtype))

    return _variant_judge(impl, ctx, trained)


@check("VARIANTS-1", needs=("channel_dropout",))
def check_channel_dropout_drops_whole_channels(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-1: one mask value per (sample, channel) for d = 1, 2, 3 in both layouts; eval and p = 0
    identities. Then generated cases (batched shapes of any sizes, any format, p and seed)."""
    failures = []
    for d, fmt, shape in _channel_cases(BATCHED, batched=True):
        name = f"spatial_dims={d}, {fmt}, shape {shape}"
        y = impl.channel_dropout(ones(shape), P, spatial_dims=d, data_format=fmt, training=True, seed=ctx.seed)
        failures += _shared(name, y, shape, _channel_mask_shape(shape, True, fmt), _inverted(P))
        x = distinct(shape)
        for p, training, mode in ((P, False, "eval"), (0.0, True, "p = 0")):
            y = impl.channel_dropout(x, p, spatial_dims=d, data_format=fmt, training=training, seed=ctx.seed)
            failures += identical(f"{name}, {mode}", y, x)
    if not failures:
        failures = search(ctx, _channel_cases_of(impl, "channel_dropout", True), _channel_case(impl, ctx, True),
                          channel_corners(impl, ctx.seed, "channel_dropout"))
    return ctx.verdict("VARIANTS-1", failures)


@check("VARIANTS-2", needs=("channel_dropout",))
def check_unbatched_input_is_one_sample(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-2: an input of spatial_dims + 1 axes has one mask value per channel. Then generated cases
    (unbatched shapes of any sizes, any format, p and seed; the identity in eval and at p = 0)."""
    failures = []
    for d, fmt, shape in _channel_cases(UNBATCHED, batched=False):
        y = impl.channel_dropout(ones(shape), P, spatial_dims=d, data_format=fmt, training=True, seed=ctx.seed)
        failures += _shared(f"unbatched, spatial_dims={d}, {fmt}, shape {shape}", y, shape,
                            _channel_mask_shape(shape, False, fmt), _inverted(P))
    if not failures:
        failures = search(ctx, _channel_cases_of(impl, "channel_dropout", False), _channel_case(impl, ctx, False),
                          channel_corners(impl, ctx.seed, "channel_dropout", batched=False))
    return ctx.verdict("VARIANTS-2", failures)


@check("VARIANTS-3", needs=("channel_dropout",), decisions=3)
def check_channels_are_dropped_independently(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-3: keep rate of N x 2 channels, and independence across channels and across samples."""
    samples = sample_sizes(ctx.plan)["VARIANTS-3"]
    kept, across_channels, across_samples = 0, PairCounts(), PairCounts()
    for size, seed in calls(samples, ctx.seed, width=4):  # an even number of samples a call
        shape = (size, 2, 2)
        y = impl.channel_dropout(ones_array(shape), P, spatial_dims=1, data_format="channels_first", training=True,
                                 seed=seed)
        failures = array_of_shape("VARIANTS-3", y, shape)
        if failures:
            return ctx.verdict("VARIANTS-3", failures)
        mask = keep_mask_array(y).reshape(-1)[0::2]  # m[n, c] at 2n + c: one element of each channel
        kept += int(np.count_nonzero(mask))
        # disjoint pairs at lag 1 in this sequence are exactly (m[n, 0], m[n, 1]) for every n, and at
        # lag 2 exactly the successive pairs (m[n, c], m[n + 1, c]) for even n: one flat mask, no N small ones
        across_channels += lag_counts(mask, 1)
        across_samples += lag_counts(mask, 2)
    judge(ctx, "VARIANTS-3 keep rate", binomial_test(kept, 2 * samples, 1.0 - P, alpha=ctx.alpha), failures)
    judge(ctx, "VARIANTS-3 across channels",
          pair_counts_test(across_channels, alpha=ctx.alpha, test="lag independence"), failures)
    judge(ctx, "VARIANTS-3 across samples",
          pair_counts_test(across_samples, alpha=ctx.alpha, test="lag independence"), failures)
    return ctx.verdict("VARIANTS-3", failures)


# --- alpha dropout ----------------------------------------------------------------------------------


def _alpha_outcome(x: float, p: float, dtype: DType = float64, *,
                   flushed: bool = False) -> Callable[[float], bool | None]:
    """None, or whether alpha dropout's output for input x is the kept a x + b (True) or the
    dropped a α' q (False), within the bounds of VARIANTS-4 in ``dtype`` (u its unit roundoff, plus its
    least subnormal; ±inf for a kept value where |a x| + |b| exceeds its largest finite value); a
    function of the output. ``flushed`` (subnormals = "flushed", DROPOUT-2's policy): a subnormal x may
    be read as ±0, and a value within its bound of the subnormals may be written as ±0."""
    (a, b), dropped = alpha_constants(p), alpha_dropped_value(p)
    u, least_normal = math.ldexp(1.0, -dtype.precision), math.ldexp(1.0, dtype.emin)
    reads = (x, 0.0) if flushed and 0.0 < abs(x) < least_normal else (x,)

    def near(v: float, value: float, bound: float) -> bool:
        return abs(v - value) <= bound or (flushed and v == 0.0 and abs(value) < least_normal + bound)

    def kept(v: float, read: float) -> bool:
        value, spread = a * read + b, abs(a * read) + abs(b)
        overflowed = spread > dtype.max and v == math.copysign(math.inf, value)
        return near(v, value, 4 * u * spread + dtype.tiny) or overflowed

    def outcome(v: float) -> bool | None:
        if any(kept(v, read) for read in reads):
            return True
        return False if near(v, dropped, 4 * u * abs(a * ALPHA_PRIME) + dtype.tiny) else None

    return outcome


def _alpha_cases(impl: Implementation) -> st.SearchStrategy[VariantCase]:
    """VARIANTS-4's generated cases: x of any finite values of any shape, format and seed in training at
    p in (0, 1), x of any values (NaN and ±inf included) at p = 1, and the identity's cases (:func:`_mixed`)."""
    layouts = shapes().map(lambda shape: (shape, ()))
    return _mixed(impl, "alpha_dropout", layouts, variant_cases(impl, "alpha_dropout", layouts),
                  variant_cases(impl, "alpha_dropout", layouts, p=st.just(1.0), nonfinite=True))


def _alpha_values(name: str, y: object, x: Tensor, p: float, flushed: bool) -> list[str]:
    """A failure unless y has x's shape and each element is alpha dropout's kept or dropped value of x's
    element at p, within the bounds of VARIANTS-4 in x's format (``flushed``: under subnormals = "flushed")."""
    failures = tensor_of_shape(name, y, x.shape)
    for i, (v, xi) in enumerate(zip(y.data, x.data) if not failures else ()):
        if _alpha_outcome(xi, p, x.dtype, flushed=flushed)(v) is None:
            return [f"{name}: p = {p}: element {i}: x = {xi!r} gave {v!r}, neither a x + b nor a α' q"]
    return failures


def _alpha_at_one(name: str, y: object, x: Tensor, nonfinite: str) -> list[str]:
    """A failure unless y has x's shape and is alpha dropout's value at p = 1 (VARIANTS-4): 0 (of either
    sign) for a finite element of x, and for NaN and ±inf what a dropped one gives under the declared
    ``nonfinite`` policy of standard dropout (DROPOUT-10's DROPPED: NaN for "multiply", 0 for "select")."""
    failures = tensor_of_shape(name, y, x.shape)
    for i, (v, xi) in enumerate(zip(y.data, x.data) if not failures else ()):
        if math.isfinite(xi) and v != 0.0:
            return [f"{name}: p = 1: element {i}: x = {xi!r} gave {v!r}, not 0"]
        if not math.isfinite(xi) and _nonfinite_outcome(xi, v) not in DROPPED[nonfinite]:
            return [f"{name}: p = 1: element {i}: x = {xi!r} gave {v!r}, not what a dropped {xi!r} gives under "
                    f"the declared nonfinite = {nonfinite!r} (DROPOUT-10)"]
    return failures


def _alpha_case(impl: Implementation, ctx: Context, nonfinite: str,
                flushed: bool) -> Callable[[VariantCase], list[str]]:
    """The judge of a generated case of alpha dropout (VARIANTS-4): at p = 1 :func:`_alpha_at_one` under
    the declared ``nonfinite`` policy, else :func:`_alpha_values` under the declared subnormals."""
    def trained(case: VariantCase, y: object) -> list[str]:
        if case.p == 1.0:
            return _alpha_at_one("y", y, case.x, nonfinite)
        return _alpha_values("y", y, case.x, case.p, flushed)

    return _variant_judge(impl, ctx, trained)


@check("VARIANTS-4", needs=("alpha_dropout",))
def check_alpha_dropout_values(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-4: kept a x + b, dropped a α' q; identity in eval and at p = 0; at p = 1 zeros, and NaN and
    ±inf as the declared nonfinite policy drops them. Then generated cases (x of any shape, format, values
    and seed; p with its extremes), the bounds in x's format; under subnormals = "flushed" a subnormal x,
    or a subnormal result, may give ±0."""
    nonfinite = ctx.policy(impl, "nonfinite")
    flushed = ctx.policy(impl, "subnormals") == "flushed"
    x = Tensor.from_flat([(i % 7) - 3.25 for i in range(64)], (64,))
    failures = _alpha_values("training", impl.alpha_dropout(x, ALPHA_P, training=True, seed=ctx.seed), x, ALPHA_P,
                             flushed)
    for p, training, mode in ((ALPHA_P, False, "eval"), (0.0, True, "p = 0")):
        failures += identical(mode, impl.alpha_dropout(x, p, training=training, seed=ctx.seed), x)
    special = Tensor.from_flat([*x.data, math.nan, math.inf, -math.inf], (67,))
    failures += _alpha_at_one("training", impl.alpha_dropout(special, 1.0, training=True, seed=ctx.seed), special,
                              nonfinite)
    if not failures:
        failures = search(ctx, _alpha_cases(impl), _alpha_case(impl, ctx, nonfinite, flushed),
                          variant_corners(impl, ctx.seed, "alpha_dropout", ALPHA_CORNER_RATES))
    return ctx.verdict("VARIANTS-4", failures)


@check("VARIANTS-5", needs=("alpha_dropout",), decisions=2)
def check_alpha_dropout_keeps_mean_and_variance(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-5: for N(0, 1) inputs, E[y] = 0 and Var[y] = 1, by Chernoff's bound with the exact moment
    generating functions of y and y^2 (stats.chernoff): size at most alpha at every n."""
    n = sample_sizes(ctx.plan)["VARIANTS-5"]
    parts = calls(n, ctx.seed)

    def outputs() -> Iterator[np.ndarray]:  # the same inputs and seeds each time: the same outputs
        for size, seed in parts:
            x = norm.rvs(size=size, random_state=input_seed(seed))  # drawn at C speed
            y = impl.alpha_dropout(x, ALPHA_P, training=True, seed=seed)
            failures.extend(array_of_shape("VARIANTS-5", y, x.shape))
            yield y

    failures: list[str] = []
    # one call (quick, standard): the array, summed as it is; more (deep): sums over the calls
    if len(parts) == 1:
        first = next(outputs())
        sample = Drawn(n, lambda: iter([first]))
    else:
        sample = Drawn(n, outputs)
    of_y, of_square = alpha_log_mgfs(ALPHA_P)

    def spread() -> float:
        mean = sample.fsum() / n
        return sample.fsum(lambda v: (v - mean) ** 2) / n

    decisions = {"VARIANTS-5 mean": lambda: chernoff_mean_test(sample.fsum() / n, n, 0.0, of_y, alpha=ctx.alpha),
                 "VARIANTS-5 variance": lambda: chernoff_variance_test(spread(), n, 0.0, 1.0, of_y, of_square,
                                                                       alpha=ctx.alpha)}
    for name, decide in decisions.items():
        decision = None if failures else decide()  # a call of the wrong shape while summing decides nothing
        if decision is not None and not failures:
            judge(ctx, name, decision, failures)
    return ctx.verdict("VARIANTS-5", failures)


def _feature_alpha_case(impl: Implementation, ctx: Context, nonfinite: str,
                        flushed: bool) -> Callable[[VariantCase], list[str]]:
    """The judge of a generated case of feature alpha dropout (VARIANTS-6): at p = 1 :func:`_alpha_at_one`
    under the declared ``nonfinite`` policy; in training at 0 < p < 1 every (sample, channel) of x = 0 all b
    or all a α' q, within VARIANTS-4's bounds in x's format under the declared subnormals; else the
    identity, bit for bit."""
    def trained(case: VariantCase, y: object) -> list[str]:
        if case.p == 1.0:
            return _alpha_at_one("y", y, case.x, nonfinite)
        options = case.options
        batched = len(case.shape) == options["spatial_dims"] + 2
        mask_shape = _channel_mask_shape(case.shape, batched, options["data_format"])
        return _shared("y", y, case.shape, mask_shape, _alpha_outcome(0.0, case.p, case.dtype, flushed=flushed))

    return _variant_judge(impl, ctx, trained)


def _feature_alpha_cases(impl: Implementation) -> st.SearchStrategy[VariantCase]:
    """VARIANTS-6's generated cases: batched and unbatched layouts; x = 0 in training at p in (0, 1)
    (:data:`mask_rates`), x of any values (NaN and ±inf included) at p = 1, and the identity's cases
    (:func:`_mixed`)."""
    layouts = channel_layouts(True) | channel_layouts(False)
    return _mixed(impl, "feature_alpha_dropout", layouts,
                  variant_cases(impl, "feature_alpha_dropout", layouts, p=mask_rates, ones=True).map(
                      lambda case: replace(case, palette=(0.0,))),
                  variant_cases(impl, "feature_alpha_dropout", layouts, p=st.just(1.0), nonfinite=True))


@check("VARIANTS-6", needs=("feature_alpha_dropout",))
def check_feature_alpha_dropout_drops_whole_channels(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-6: for x = 0 every (sample, channel) is all b or all a α' q; identity in eval; at p = 1
    zeros, and NaN and ±inf as the declared nonfinite policy drops them (VARIANTS-4's rule). Then generated
    cases (batched and unbatched shapes of any sizes, any format, p and seed); under subnormals = "flushed"
    a subnormal b or a α' q may be ±0."""
    nonfinite = ctx.policy(impl, "nonfinite")
    flushed = ctx.policy(impl, "subnormals") == "flushed"
    cases = [(d, fmt, shape, True) for d, fmt, shape in _channel_cases({1: BATCHED[1], 2: BATCHED[2]}, batched=True)]
    cases.append((2, "channels_first", UNBATCHED[2], False))
    failures = []
    for d, fmt, shape, batched in cases:
        name = f"spatial_dims={d}, {fmt}, shape {shape}"
        y = impl.feature_alpha_dropout(constant(shape, 0.0), ALPHA_P, spatial_dims=d, data_format=fmt, training=True,
                                       seed=ctx.seed)
        failures += _shared(name, y, shape, _channel_mask_shape(shape, batched, fmt),
                            _alpha_outcome(0.0, ALPHA_P, flushed=flushed))
        x = distinct(shape)
        y = impl.feature_alpha_dropout(x, ALPHA_P, spatial_dims=d, data_format=fmt, training=False, seed=ctx.seed)
        failures += identical(f"{name}, eval", y, x)
    special = Tensor.from_flat([math.nan, math.inf, -math.inf, *((i % 7) - 3.25 for i in range(9))], (2, 3, 2))
    y = impl.feature_alpha_dropout(special, 1.0, spatial_dims=1, data_format="channels_first", training=True,
                                   seed=ctx.seed)
    failures += _alpha_at_one("spatial_dims=1, channels_first, shape (2, 3, 2), training", y, special, nonfinite)
    if not failures:
        failures = search(ctx, _feature_alpha_cases(impl), _feature_alpha_case(impl, ctx, nonfinite, flushed),
                          channel_corners(impl, ctx.seed, "feature_alpha_dropout", ALPHA_CORNER_RATES, 0.0))
    return ctx.verdict("VARIANTS-6", failures)


# --- Gaussian dropout -------------------------------------------------------------------------------


@check("VARIANTS-7", needs=("gaussian_dropout",), decisions=1)
def check_gaussian_noise_is_normal(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-7: y / x ~ N(1, p/q) by the KS test at the profile's MDE; identity in eval and at p = 0, then
    over generated cases (eval at p in [0, 1), where the variance is finite, and training at p = 0)."""
    n = sample_sizes(ctx.plan)["VARIANTS-7"]
    parts, failures = calls(n, ctx.seed), []

    def outputs() -> Iterator[np.ndarray]:  # the same inputs and seeds each time: the same outputs
        for size, seed in parts:
            y = impl.gaussian_dropout(ones_array(size), P, training=True, seed=seed)
            failures.extend([] if failures else array_of_shape("VARIANTS-7", y, (size,)))
            if failures:  # a call of the wrong shape ends the reading, and the check decides nothing
                return
            yield y.astype(np.float64, copy=False)

    noise = norm(1.0, math.sqrt(P / (1.0 - P)))
    if len(parts) == 1:  # quick, standard: the one call's array, tested whole
        y = next(outputs(), None)
        decision = None if failures else ks_test(y, noise, alpha=ctx.alpha)
    else:  # deep: read in passes over the calls, at most CHUNK values held (stats.ks_test_of_parts)
        decision = None if next(outputs(), None) is None else ks_test_of_parts(outputs, noise, alpha=ctx.alpha,
                                                                                 held=sampling.CHUNK)
    if decision is not None and not failures:
        judge(ctx, "VARIANTS-7 noise distribution", decision, failures)
    x = distinct((4, 5))
    for p, training, mode in ((P, False, "eval"), (0.0, True, "p = 0")):
        failures += identical(mode, impl.gaussian_dropout(x, p, training=training, seed=ctx.seed), x)
    if not failures:  # the identities over generated cases: x of any values, shape, format and seed
        layouts = shapes().map(lambda shape: (shape, ()))
        failures = search(ctx, variant_cases(impl, "gaussian_dropout", layouts, p=with_rates(st.just(0.0)),
                                             nonfinite=True, training=False)
                          | variant_cases(impl, "gaussian_dropout", layouts, p=st.just(0.0), nonfinite=True),
                          _variant_judge(impl, ctx, lambda case, y: []))
    return ctx.verdict("VARIANTS-7", failures)


# --- DropConnect ------------------------------------------------------------------------------------


def _weights(rows: int, cols: int) -> np.ndarray:
    """W[r, j] = 1 + (k mod 7) / 8 for the weight k = r cols + j: exact, nonzero, seven values."""
    return (1.0 + (np.arange(rows * cols) % 7) / 8).reshape(rows, cols)


@check("VARIANTS-9", needs=("dropconnect",), decisions=1 + DROPCONNECT_COLUMNS)
def check_dropconnect_masks_weights(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-9: with x = I, y^T = W ⊙ M / q: each 0 or W/q, the number kept Binomial(size, q), and
    weights l = 1..cols apart in W's row-major order independent; eval gives W^T. The rows of W are drawn in
    calls of at most sampling.CHUNK weights (one call at quick and standard), counted as they come."""
    cols = DROPCONNECT_COLUMNS
    rows = sample_sizes(ctx.plan)["VARIANTS-9"]
    kept, apart, failures = 0, [PairCounts() for _ in range(cols)], []
    for size, seed in calls(rows, ctx.seed, width=cols):
        keep, failures = _dropconnect_keep(impl, size, seed)
        if failures:
            break
        kept += int(np.count_nonzero(keep))
        # lag l < cols pairs M[r, j] with M[r, j + l] and M[r + 1, j + l - cols]: the neighbours of a row and
        # the next row's shifted; lag cols pairs M[r, j] with M[r + 1, j], one input in two rows
        for lag in range(1, cols + 1):
            apart[lag - 1] += lag_counts(keep, lag)
    if not failures:
        judge(ctx, "VARIANTS-9 keep rate", binomial_test(kept, rows * cols, 1.0 - P, alpha=ctx.alpha), failures)
        for lag, counts in enumerate(apart, start=1):
            judge(ctx, f"VARIANTS-9 weights {lag} apart",
                  pair_counts_test(counts, alpha=ctx.alpha, test="lag independence"), failures)
    small = _weights(5, cols)
    for p, training, mode in ((P, False, "eval"), (0.0, True, "p = 0")):
        y = impl.dropconnect(np.eye(cols), small, p, training=training, seed=ctx.seed)
        failures += identical_array(f"{mode}: x W^T", y, np.ascontiguousarray(small.T))
    if not failures:  # the exact part over generated cases: W of any shape, format and values, any p and seed
        largest = _largest_multiplier(impl)
        trained = dropconnect_cases(impl, largest)
        failures = search(ctx, st.one_of(trained, trained, trained,
                                         dropconnect_cases(impl, largest, p=probabilities, training=False),
                                         dropconnect_cases(impl, largest, p=st.just(0.0))),
                          _dropconnect_case(impl, ctx))
    return ctx.verdict("VARIANTS-9", failures)


def _dropconnect_keep(impl: Implementation, rows: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """(keep mask of W's weights in row-major order, failures) of one training call at P with x = I on
    ``rows`` rows of _weights: a failure where y is not of shape (cols, rows) or an effective weight is
    neither 0 nor W / q within one ulp (NaN included)."""
    cols = DROPCONNECT_COLUMNS
    w = _weights(rows, cols)
    y = impl.dropconnect(np.eye(cols), w, P, training=True, seed=seed)
    failures = array_of_shape("training", y, (cols, rows))
    if failures:
        return np.zeros(0, dtype=np.bool_), failures
    got = y.T.reshape(-1).astype(np.float64)  # y[j, r] = W'[r, j]: the weights in W's row-major order
    kept_value = w.reshape(-1) / (1.0 - P)
    wrong = np.flatnonzero((got != 0.0) & ~(np.abs(got - kept_value) <= np.spacing(np.abs(kept_value))))
    if wrong.size:
        k = int(wrong[0])
        failures.append(f"weight {divmod(k, cols)}: W = {float(w.flat[k])!r} became {float(got[k])!r}, "
                        f"neither 0 nor W / q")
    return got != 0.0, failures


def _largest_multiplier(impl: Implementation) -> Callable[[float, DType], float]:
    """The largest multiplier a kept weight may get at p in a format: 1/q exact or as the declared
    scale_format computes it (at least 1)."""
    declared = policies_of(impl)
    rules = (declared, replace(declared, scale_format="exact"))
    return lambda p, dtype: max([1.0] + [abs(kept_value(rule, 1.0, p, dtype)) for rule in rules])


def _dropconnect_case(impl: Implementation, ctx: Context) -> Callable[[DropConnectCase], list[str]]:
    """The judge of a generated case of VARIANTS-9: y of (batch, out); in training at p > 0 each y[i, r] 0 or
    W[r, i mod in] / q within one ulp of W's format (q exact or as the declared scale_format computes it);
    in evaluation and at p = 0, W[r, i mod in] exactly (x W^T)."""
    declared = policies_of(impl)
    rules = (declared, replace(declared, scale_format="exact"))

    def judged(case: DropConnectCase) -> list[str]:
        y = _called(impl, ctx, case)
        if y is None:
            return []
        (out, columns), masked = case.shape, case.training and case.p > 0.0
        failures = tensor_of_shape("y", y, (case.batch, out))
        for k, got in enumerate(y.data if not failures else ()):
            i, r = divmod(k, out)
            v = case.weight.data[r * columns + i % columns]
            if masked and not (got == 0.0 or any(within_one_ulp(got, kept_value(rule, v, case.p, case.dtype),
                                                                 case.dtype) for rule in rules)):
                return [f"y[{i}, {r}]: W[{r}, {i % columns}] = {v!r} gave {got!r}, neither 0 nor W / q within one ulp"]
            if not masked and got != v:
                return [f"y[{i}, {r}]: W[{r}, {i % columns}] = {v!r} gave {got!r}, not W exactly (x W^T)"]
        return failures

    return judged


# --- DropPath -----------------------------------------------------------------------------------------


@check("VARIANTS-10", needs=("drop_path",), decisions=3)
def check_row_mode_drops_whole_samples(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-10: one mask value per row of x = 1 of shape (N, 2); the number of rows kept Binomial(N, q);
    the masks of rows r and r + 1, and of rows r and r + N / 2 (the two halves of the batch), independent.
    The rows are drawn in calls of at most sampling.CHUNK elements (one call at quick and standard), an even
    number of rows each; at deep the halves are those of each call's batch."""
    rows = sample_sizes(ctx.plan)["VARIANTS-10"]
    kept, successive, halves, failures = 0, PairCounts(), PairCounts(), []
    for size, seed in calls(rows, ctx.seed, width=2):
        shape = (size, 2)
        y = impl.drop_path(ones_array(shape), P, mode="row", scaling="inverted", training=True, seed=seed)
        failures = _shared_array("row mode", y, shape, (size, 1), 1.0 / (1.0 - P))
        if failures:
            break
        mask = keep_mask_array(y[:, 0])
        kept += int(np.count_nonzero(mask))
        successive += lag_counts(mask, 1)
        halves += lag_counts(mask, size // 2)
    if not failures:
        judge(ctx, "VARIANTS-10 rows kept", binomial_test(kept, rows, 1.0 - P, alpha=ctx.alpha), failures)
        for name, counts in (("rows r and r + 1", successive), ("the two halves of the batch", halves)):
            judge(ctx, f"VARIANTS-10 {name}",
                  pair_counts_test(counts, alpha=ctx.alpha, test="lag independence"), failures)
    return ctx.verdict("VARIANTS-10", failures)


@check("VARIANTS-11", needs=("drop_path",), decisions=1)
def check_batch_mode_drops_the_whole_batch(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-11: one mask value per call; the number of calls kept Binomial(T, q), T for MDE 5 x the profile's."""
    calls = sample_sizes(ctx.plan)["VARIANTS-11"]
    shape = (3, 2)
    x = ones(shape)
    failures: list[str] = []
    kept = 0
    for t, seed in enumerate(successive_seeds(ctx.seed, calls)):
        y = impl.drop_path(x, P, mode="batch", scaling="inverted", training=True, seed=seed)
        failures += _shared(f"batch mode, call {t}", y, shape, (1, 1), _inverted(P))
        if failures:
            return ctx.verdict("VARIANTS-11", failures)
        kept += y.data[0] != 0.0
    judge(ctx, "VARIANTS-11 calls kept", binomial_test(kept, calls, 1.0 - P, alpha=ctx.alpha), failures)
    return ctx.verdict("VARIANTS-11", failures)


def _drop_path_case(impl: Implementation, ctx: Context) -> Callable[[VariantCase], list[str]]:
    """The judge of a generated case of DropPath (VARIANTS-12): in training at p > 0 x = 1 kept (1/q or 1,
    in x's format) or dropped per sample ("row") or per call ("batch"); in evaluation x ("inverted") or q x
    within one ulp of x's format ("classic", q exact or as the declared scale_format computes it)."""
    def trained(case: VariantCase, y: object) -> list[str]:
        options = case.options
        mask_shape = case.shape[:1] + (1,) * (len(case.shape) - 1) if options["mode"] == "row" else (1,) * len(
            case.shape)
        return _shared("y", y, case.shape, mask_shape, _kept_in(impl, case.p, case.dtype, options["scaling"]))

    def evaluated(case: VariantCase, y: object) -> list[str]:
        if case.options["scaling"] == "inverted":
            return identical("y", y, case.x)
        declared = replace(policies_of(impl), scaling="classic")
        rules = (declared, replace(declared, scale_format="exact"))
        return mismatch("y", y, case.x, lambda i, got, v: None if any(
            within_one_ulp(got, eval_value(rule, v, case.p, case.dtype), case.dtype) for rule in rules)
            else f"not q x = {case.dtype.round(eval_value(declared, v, case.p, case.dtype))!r} within one ulp")

    return _variant_judge(impl, ctx, trained, evaluated)


@check("VARIANTS-12", needs=("drop_path",))
def check_drop_path_scaling(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-12: inverted (1/q kept, eval x) and classic (1 kept, eval q x) in both modes; p = 0 the identity.
    Then generated cases (either mode and scaling, any shape, format, values, p and seed)."""
    shape = (6, 3)
    q = 1.0 - P
    all_ones, x = ones(shape), distinct(shape)
    failures = []
    for mode, mask_shape in (("row", (6, 1)), ("batch", (1, 1))):
        for scaling, kept in (("inverted", 1.0 / q), ("classic", 1.0)):
            name = f"{mode}, {scaling}"
            y = impl.drop_path(all_ones, P, mode=mode, scaling=scaling, training=True, seed=ctx.seed)
            failures += _shared(name, y, shape, mask_shape,
                                lambda v, kept=kept: True if _kept(v, kept) else False if v == 0.0 else None)
            y = impl.drop_path(x, P, mode=mode, scaling=scaling, training=False, seed=ctx.seed)
            if scaling == "inverted":
                failures += identical(f"{name}, eval", y, x)
            elif (tensor_of_shape(f"{name}, eval", y, shape)
                  or any(not _kept(v, q * xi) for v, xi in zip(y.data, x.data))):
                failures.append(f"{name}, eval: not q x within one ulp")
            y = impl.drop_path(x, 0.0, mode=mode, scaling=scaling, training=True, seed=ctx.seed)
            failures += identical(f"{name}, p = 0", y, x)
    if not failures:
        layouts = path_layouts()
        failures = search(ctx, _mixed(impl, "drop_path", layouts,
                                      variant_cases(impl, "drop_path", layouts, p=mask_rates, ones=True)),
                          _drop_path_case(impl, ctx))
    return ctx.verdict("VARIANTS-12", failures)


# --- DropBlock ----------------------------------------------------------------------------------------


def _block_failure(zeros: set[tuple[int, int]], height: int, width: int, block: int) -> tuple[int, int] | None:
    """A dropped position that no b x b square inside the map and inside the dropped set covers."""
    covered: set[tuple[int, int]] = set()
    for i in range(height - block + 1):
        for j in range(width - block + 1):
            square = {(i + r, j + c) for r in range(block) for c in range(block)}
            if square <= zeros:
                covered |= square
    stray = zeros - covered
    return min(stray) if stray else None


def _blocks(name: str, y: object, shape: tuple[int, ...], block: int) -> list[str]:
    """A failure unless y has ``shape`` (N, C, H, W) and the zeros of every map are a union of ``block`` x
    ``block`` squares inside it (VARIANTS-13)."""
    failures = tensor_of_shape(name, y, shape)
    if failures:
        return failures
    n, c, height, width = shape
    for k in range(n * c):
        base = k * height * width
        zeros = {divmod(i, width) for i in range(height * width) if y.data[base + i] == 0.0}
        stray = _block_failure(zeros, height, width, block)
        if stray is not None:
            return [f"{name}, b = {block}, map {divmod(k, c)}: dropped position {stray} lies in no {block} x {block} "
                    f"block of dropped positions inside the map"]
    return []


@check("VARIANTS-13", needs=("dropblock2d",))
def check_dropblock_drops_whole_blocks(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-13: the zeros of every map of x = 1 are a union of b x b squares inside the map. Then generated
    cases (maps of any sides, H and W apart, any block size, format, p and seed)."""
    failures: list[str] = []
    for shape, block, p in BLOCK_CASES:
        y = impl.dropblock2d(ones(shape), p, block_size=block, training=True, seed=ctx.seed)
        failures += _blocks(f"shape {shape}", y, shape, block)
        if failures:
            break
    if not failures:
        failures = search(ctx, variant_cases(impl, "dropblock2d", block_layouts(), p=mask_rates, ones=True),
                          lambda case: _blocks("y", case.called(impl), case.shape, case.options["block_size"]))
    return ctx.verdict("VARIANTS-13", failures)


@check("VARIANTS-14", needs=("dropblock2d",), decisions=2 * len(SEED_RATE_CASES))
def check_dropblock_seed_rate(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-14: on H x W maps, H < W and H > W, at b = 2 and 3, the corner is dropped w.p. γ and
    the most covered position, covered by k seed blocks, w.p. 1 - (1 - γ)^k. Each case's maps are drawn in
    calls of at most sampling.CHUNK elements (one call at quick and standard), counted as they come."""
    maps = sample_sizes(ctx.plan)["VARIANTS-14"]
    failures: list[str] = []
    for (height, width, block), case_seed in zip(SEED_RATE_CASES, successive_seeds(ctx.seed, len(SEED_RATE_CASES))):
        case = f"{height} x {width}, b = {block}"
        positions = (("corner", (0, 0)), ("most covered", most_covered(height, width, block)))
        offsets = [sum(i * stride for i, stride in zip(position, strides((height, width))))
                   for _, position in positions]
        dropped = [0] * len(positions)
        for size, seed in calls(maps, case_seed, width=height * width):
            shape = (size, 1, height, width)
            y = impl.dropblock2d(ones_array(shape), P, block_size=block, training=True, seed=seed)
            failures += array_of_shape(f"VARIANTS-14 {case}", y, shape)
            if failures:
                return ctx.verdict("VARIANTS-14", failures)
            for k, offset in enumerate(offsets):  # the position in every map
                dropped[k] += int(np.count_nonzero(y.reshape(-1)[offset::height * width] == 0))
            del y  # before the next call: two outputs of a call's maps are never held at once
        gamma = seed_rate(P, block, height, width)
        for (name, position), count in zip(positions, dropped):
            covering = seed_coverage(position, height, width, block)
            decision = binomial_test(count, maps, 1.0 - (1.0 - gamma) ** covering, alpha=ctx.alpha)
            judge(ctx, f"VARIANTS-14 {case}, {name} {position} dropped", decision, failures)
    return ctx.verdict("VARIANTS-14", failures)


def _renormalised(name: str, y: object, shape: tuple[int, ...], dtype: DType) -> list[str]:
    """A failure unless y has ``shape`` and every kept (nonzero) value of x = 1 is count / count_ones within a
    relative 1e-6 or one ulp of ``dtype`` (VARIANTS-15)."""
    failures = tensor_of_shape(name, y, shape)
    kept = [v for v in y.data if v != 0.0] if not failures else []
    if kept:
        scale = len(y.data) / len(kept)
        stray = next((v for v in kept if abs(v - scale) > 1e-6 * scale and not within_one_ulp(v, scale, dtype)), None)
        if stray is not None:
            failures.append(f"{name}: a kept element is {stray!r}, not count / count_ones = {scale!r} within a "
                            f"relative 1e-6 or one ulp of {dtype.name}")
    return failures


@check("VARIANTS-15", needs=("dropblock2d",))
def check_dropblock_renormalises(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-15: every kept value of x = 1 is count / count_ones within 1e-6; identity in eval and at p = 0.
    Then generated cases (VARIANTS-13's layouts; x = 1 in training, x of any values in eval and at p = 0)."""
    shape, block, _ = BLOCK_CASES[0]
    y = impl.dropblock2d(ones(shape), P, block_size=block, training=True, seed=ctx.seed)
    failures = _renormalised("training", y, shape, float64)
    x = distinct(shape)
    for p, training, mode in ((P, False, "eval"), (0.0, True, "p = 0")):
        failures += identical(mode, impl.dropblock2d(x, p, block_size=block, training=training, seed=ctx.seed), x)
    if not failures:
        layouts = block_layouts()
        failures = search(ctx, _mixed(impl, "dropblock2d", layouts,
                                      variant_cases(impl, "dropblock2d", layouts, p=mask_rates, ones=True)),
                          _variant_judge(impl, ctx, lambda case, y: _renormalised("y", y, case.shape, case.dtype)))
    return ctx.verdict("VARIANTS-15", failures)


# --- attention dropout ----------------------------------------------------------------------------


def _row_sums(y: np.ndarray) -> Tally:
    """The tally of the row sums of y, each the exact sum of its row rounded once (math.fsum), taken
    once per distinct row: rows grouped by a 64-bit hash of their bits, the grouping verified bit for
    bit (one row's fsum per row where two distinct rows share a hash)."""
    rows = np.ascontiguousarray(y, dtype=np.float64)
    words = rows.view(np.uint64)
    hashed = np.zeros(len(rows), dtype=np.uint64)
    for column in words.T:
        hashed = hashed * np.uint64(0x9E3779B97F4A7C15) ^ column
    _, first, inverse, counts = np.unique(hashed, return_index=True, return_inverse=True, return_counts=True)
    if not np.array_equal(words[first[inverse]], words):  # a collision: sum every row
        first, counts = np.arange(len(rows)), np.ones(len(rows), dtype=np.int64)
    tally: dict[float, int] = {}
    for row, count in zip(rows[first].tolist(), counts.tolist()):
        total = math.fsum(row)
        tally[total] = tally.get(total, 0) + count
    return Tally(tally)


@check("VARIANTS-16", needs=("attention_dropout",), decisions=2)
def check_attention_rows_sum_to_one_in_expectation(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-16: row sums of dropped attention weights have mean 1 and variance (p/q) Σ A_j^2, by
    Bernstein's inequality on the row sums, which lie within row_sum_bound(p) of 1: size at most alpha
    at every number of rows (stats.bernstein)."""
    width = len(ATTENTION_ROW)
    rows = sample_sizes(ctx.plan)["VARIANTS-16"]
    sums, failures = Tally({}), []
    for size, seed in calls(rows, ctx.seed, width=width):
        y = impl.attention_dropout(np.tile(ATTENTION_ROW, (size, 1)), P, training=True, seed=seed)
        failures = array_of_shape("VARIANTS-16", y, (size, width))
        if failures:
            break
        sums += _row_sums(y)
    if not failures:
        variance, mu4 = row_sum_moments(ATTENTION_ROW, P)
        bound, mean = row_sum_bound(P), sums.fsum() / rows
        spread = sums.fsum(lambda v: (v - mean) ** 2) / rows  # (1/R) Σ (S_r - mean)^2
        judge(ctx, "VARIANTS-16 mean row sum",
              bernstein_mean_test(mean, rows, 1.0, variance, bound, alpha=ctx.alpha), failures)
        judge(ctx, "VARIANTS-16 row sum variance",
              bernstein_variance_test(spread, rows, variance, mu4, bound, alpha=ctx.alpha), failures)
    return ctx.verdict("VARIANTS-16", failures)
