"""Checks of spec/variants.md for fused attention dropout: VARIANTS-20 to VARIANTS-22.

A fused kernel never shows its weight matrix, so the checks choose inputs that make its mask
observable in what it returns (capability ``fused_attention``, on each kernel that
``attention_backends`` names): Q = K = 0 makes every weight 1/L, V = I_L (L a power of two) makes
the output the dropped weights themselves, o_ij = m_ij / (q L), and an upstream gradient g = I_L
makes dL/dV their transpose, dv_ji = m_ij / (q L) with the mask the backward pass applied.
VARIANTS-20 judges the keep rate by the exact binomial test (DROPOUT-16's plan); VARIANTS-21 and
VARIANTS-22 are exact.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from ..contract import Implementation, kept_value, policies_of
from ..contract.protocol import ContractViolation
from ..dtypes import DType, get_dtype, within_one_ulp
from ..stats import DecisionPlan, binomial_test
from .cases import FusedCase, fused_cases, fused_corners, fused_inputs, probabilities
from .kit import array_of_shape, child_seed, judge, keep_mask_array
from .registry import Context, check
from .sampling import calls
from .search import search
from .verdict import Verdict

__all__ = ["FUSED_RATES", "FUSED_LENGTH", "FUSED_HEADS", "MAX_BACKENDS", "EXACT_SHAPE", "fused_batch",
           "fused_inputs", "backends_of"]

FUSED_RATES = (0.001, 0.1, 0.7)  # 0.001: an 8-bit threshold keeps at 255/256 (FlashAttention on CUDA)
FUSED_LENGTH, FUSED_HEADS = 64, 4  # VARIANTS-20's calls: (batch, 4, 64, 64) weights
SHARED_RATES = (0.1, 0.7)  # where two independent 64 x 64 masks agree with probability below 1e-300
MAX_BACKENDS = 4  # the kernels a target may name: PyTorch on CUDA offers math, flash, efficient and cuDNN
EXACT_SHAPE = (2, 2, 32, 32)  # VARIANTS-21 and VARIANTS-22: small calls in every format
SCALE_RATES = (0.1, 0.7)
BACKWARD_RATE = 0.3


def fused_batch(plan: DecisionPlan) -> int:
    """The batch of VARIANTS-20's calls: the least that holds the plan's keep-rate n weights."""
    return math.ceil(plan.n / (FUSED_HEADS * FUSED_LENGTH**2))


def backends_of(impl: Implementation) -> list[tuple[str, tuple[DType, ...]]]:
    """The kernels ``impl`` names, each with its formats; ContractViolation for what the protocol
    does not allow (none, more than MAX_BACKENDS, a kernel without a format)."""
    named = impl.attention_backends()
    if not isinstance(named, (tuple, list)) or not 0 < len(named) <= MAX_BACKENDS:
        raise ContractViolation(f"attention_backends() must name 1 to {MAX_BACKENDS} kernels, got {named!r}")
    backends = []
    for backend, formats in named:
        if not formats:
            raise ContractViolation(f"attention_backends(): kernel {backend!r} names no format")
        backends.append((str(backend), tuple(get_dtype(name) for name in formats)))
    return backends


def _call(impl: Implementation, backend: str, shape: tuple[int, ...], dtype: DType, p: float, seed: int, *,
          training: bool = True) -> tuple[object, object, list[str]]:
    """(o, dL/dv, failures) of one fused_attention call on fused_inputs, the results' shapes checked."""
    o, dv = impl.fused_attention(*fused_inputs(shape, dtype), p, backend=backend, training=training, seed=seed)
    name = f"{backend}, {dtype.name}, p = {p}"
    return o, dv, array_of_shape(f"{name}: o", o, shape) + array_of_shape(f"{name}: dL/dv", dv, shape)


def _shared_slices(name: str, keep: np.ndarray) -> list[str]:
    """A failure where head 1 or sample 1 has the mask of head 0 of sample 0, element for element."""
    for other, where in ((keep[0, 1], "head 1 of sample 0"), (keep[1, 0], "head 0 of sample 1")):
        if np.array_equal(keep[0, 0], other):
            return [f"{name}: {where} has the mask of head 0 of sample 0 ({keep.shape[-1]}^2 weights): one mask "
                    f"shared across heads or samples, not drawn per weight"]
    return []


@check("VARIANTS-20", needs=("attention_backends", "fused_attention"), decisions=MAX_BACKENDS * len(FUSED_RATES))
def check_fused_kernels_keep_each_weight_at_rate_q(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-20: every kernel keeps the weights of (batch, 4, 64, 64) calls independently at rate q:
    the kept count by the exact binomial test at each rate, and no mask shared by two heads or samples.
    The batch is drawn in calls of at most sampling.CHUNK / 2 weights (one call at quick and standard), the
    kept weights counted as they come; the shared masks are looked for in the first call."""
    failures: list[str] = []
    batch, weights = max(2, fused_batch(ctx.plan)), FUSED_HEADS * FUSED_LENGTH**2
    for b, (backend, formats) in enumerate(backends_of(impl)):
        dtype = formats[0]
        for i, p in enumerate(FUSED_RATES):
            name, kept = f"VARIANTS-20 {backend}, {dtype.name}, p = {p}", 0
            # a weight is held six times in a call (q, k, v, g in; o and dL/dv out): two elements of CHUNK each
            for k, (size, seed) in enumerate(calls(batch, child_seed(ctx.seed, len(FUSED_RATES) * b + i),
                                                   width=2 * weights)):
                o, _, wrong = _call(impl, backend, (size, FUSED_HEADS, FUSED_LENGTH, FUSED_LENGTH), dtype, p, seed)
                failures += wrong
                if wrong:
                    break
                keep = keep_mask_array(o)
                del o
                if p in SHARED_RATES and k == 0:
                    failures += _shared_slices(name, keep)
                kept += int(np.count_nonzero(keep))
            else:
                judge(ctx, name, binomial_test(kept, batch * weights, 1.0 - p, alpha=ctx.alpha), failures)
    return ctx.verdict("VARIANTS-20", failures)


def _misplaced(name: str, got: np.ndarray, expected: float, dtype: DType, rule: str) -> list[str]:
    """A failure naming the first element of ``got`` that is neither 0 nor ``expected`` within one ulp."""
    flat = got.reshape(-1).astype(np.float64)
    for value in np.unique(flat):
        if value != 0.0 and not within_one_ulp(float(value), expected, dtype):
            i = int(np.flatnonzero((flat == value) | (np.isnan(flat) & np.isnan(value)))[0])  # NaN is no value
            return [f"{name}: element {i} is {float(value)!r}, {rule} {expected!r} (within one ulp)"]
    return []


def _scaled(impl: Implementation, name: str, o: object, shape: tuple[int, ...], dtype: DType, p: float,
            training: bool) -> list[str]:
    """VARIANTS-21's failures of o of a call on fused_inputs(shape, dtype): in training every element 0 or
    the kept weight (1/L)/q within one ulp, q in the declared scale_format; in evaluation every one 1/L."""
    weight = 1.0 / shape[-1]
    failures = array_of_shape(f"{name}: o", o, shape)
    if failures or not training:
        return failures or ([] if np.all(o.astype(np.float64) == weight) else [
            f"{name}: evaluation changed the weights 1/L = {weight!r}: got values "
            f"{sorted({float(v) for v in np.unique(o)})[:4]}"])
    inverted = replace(policies_of(impl), scaling="inverted")  # attention dropout is inverted (VARIANTS-16)
    return _misplaced(name, o, kept_value(inverted, weight, p, dtype), dtype, "neither 0 (dropped) nor the kept value")


def _scaled_case(impl: Implementation, case: FusedCase) -> list[str]:
    """The judge of a generated case of VARIANTS-21."""
    o, _ = case.called(impl)
    return _scaled(impl, "o", o, case.shape, case.dtype, case.p, case.training)


@check("VARIANTS-21", needs=("attention_backends", "fused_attention"))
def check_fused_kernels_scale_the_kept_weights(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-21: a kept weight 1/L comes out as (1/L)/q within one ulp, q in the declared scale_format,
    a dropped one as 0; evaluation returns every weight 1/L undropped. Then generated cases (any kernel and
    format it names, 1 to 3 samples of 1 to 4 heads of L x L weights, L a power of two up to 64, any p and
    seed, in training and in evaluation)."""
    ctx.policy(impl, "scale_format")
    failures: list[str] = []
    backends = backends_of(impl)
    for backend, formats in backends:
        for dtype in formats:
            for p in SCALE_RATES:
                o, _, wrong = _call(impl, backend, EXACT_SHAPE, dtype, p, ctx.seed)
                failures += wrong or _scaled(impl, f"{backend}, {dtype.name}, p = {p}", o, EXACT_SHAPE, dtype, p, True)
            o, _, wrong = _call(impl, backend, EXACT_SHAPE, dtype, SCALE_RATES[0], ctx.seed, training=False)
            failures += wrong or _scaled(impl, f"{backend}, {dtype.name}", o, EXACT_SHAPE, dtype, SCALE_RATES[0],
                                         False)
    if not failures:
        training = fused_cases(backends)
        failures = search(ctx, st.one_of(training, training, training,
                                         fused_cases(backends, p=probabilities, training=False)),
                          lambda case: _scaled_case(impl, case), fused_corners(backends, ctx.seed))
    return ctx.verdict("VARIANTS-21", failures)


@check("VARIANTS-22", needs=("attention_backends", "fused_attention"))
def check_fused_backward_reuses_the_forward_mask(impl: Implementation, ctx: Context) -> Verdict:
    """VARIANTS-22: with g = I, dL/dv is the transpose of o: zero at the same weights (the forward mask,
    bit for bit) and within one ulp elsewhere, in every kernel and format. Then generated cases (as
    VARIANTS-21's, in training)."""
    failures: list[str] = []
    for backend, formats in backends_of(impl):
        for dtype in formats:
            o, dv, wrong = _call(impl, backend, EXACT_SHAPE, dtype, BACKWARD_RATE, ctx.seed)
            failures += wrong or _backward_differs(f"{backend}, {dtype.name}", o, np.swapaxes(dv, -1, -2), dtype)
    if not failures:
        backends = backends_of(impl)
        failures = search(ctx, fused_cases(backends), lambda case: _backward_case(impl, case),
                          fused_corners(backends, ctx.seed))
    return ctx.verdict("VARIANTS-22", failures)


def _backward_case(impl: Implementation, case: FusedCase) -> list[str]:
    """The judge of a generated case of VARIANTS-22: dL/dv the transpose of o, mask and values."""
    o, dv = case.called(impl)
    failures = array_of_shape("o", o, case.shape) + array_of_shape("dL/dv", dv, case.shape)
    return failures or _backward_differs("dL/dv", o, np.swapaxes(dv, -1, -2), case.dtype)


def _backward_differs(name: str, o: np.ndarray, dv_t: np.ndarray, dtype: DType) -> list[str]:
    """A failure where the mask of dL/dv^T is not o's, or a value is not o's within one ulp."""
    forward, backward = o.reshape(-1) != 0, dv_t.reshape(-1) != 0
    differ = np.flatnonzero(forward != backward)
    if differ.size:
        i = int(differ[0])
        return [f"{name}: weight {i} was {'kept' if forward[i] else 'dropped'} in the forward pass but "
                f"{'kept' if backward[i] else 'dropped'} in the backward pass ({differ.size} of {forward.size} "
                f"weights differ): the backward pass drew another mask"]
    values, again = o.reshape(-1).astype(np.float64), dv_t.reshape(-1).astype(np.float64)
    for i in np.flatnonzero(forward & (values != again)):  # equal values are within one ulp: read the others
        if not within_one_ulp(float(again[i]), float(values[i]), dtype):
            return [f"{name}: weight {int(i)}: the forward pass gave {float(values[i])!r}, dL/dv "
                    f"{float(again[i])!r}: not the same dropped weight"]
    return []
