"""Checks of spec/gradients.md: the vector-Jacobian product of dropout.

For a fixed keep mask m, training-mode dropout is the linear map y = s m ⊙ x with s = 1/q
(inverted scaling) or s = 1 (classic), so its VJP is

    dL/dx = s m ⊙ g

with the mask of the forward pass. The checks call ``dropout_vjp(x, p, g, *, training, seed)``,
which returns the forward output y and dL/dx together; the mask is read off y, whose kept
elements are nonzero because the inputs are. Each check runs in every format the
implementation declares (``dtypes_of``). Every check here is exact: no statistics, no
decisions charged to the run's budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from hypothesis import strategies as st

from ..contract import Implementation, dtypes_of, eval_value, policies_of
from ..dtypes import DType, float64, within_one_ulp
from ..random import Generator
from ..tensor import Tensor
from .cases import Case, cases, corners, overflow_corners, probabilities
from .dropout import OVERFLOW_P, _read_as_one, _refusable, _refused, overflow_inputs, scaled_array_faults
from .kit import array_like, edged, edges, identical, kept_value_of, nonzero, ones
from .registry import Context, check
from .search import search
from .verdict import Outcome, Verdict

__all__ = ["FD_STEP", "FD_TOLERANCE"]

RATES = (0.2, 0.7, 0.999)  # never 0.5: there p = q, and a p/q swap would go unseen
SIZE = 64  # elements per case: a redrawn mask agrees with the forward one w.p. <= 0.68^64 < 3e-11 at p = 0.2
FD_SHAPE = (3, 4)
FD_STEP = 1.0  # h: a power of two, so x ± h and the division by 2h are exact for dyadic x with |x| <= 2
FD_TOLERANCE = 16 * 2.0**-53  # 16 u, relative to sum_k |J_ki g_k|; GRADIENTS-6 derives a bound of 10 u
NEEDS = ("dropout_vjp",)


def _scaled(impl: Implementation, ctx: Context, g: Tensor, kept: list[bool], p: float) -> list[float]:
    """s m ⊙ g: each kept g_i scaled as the forward pass scales a kept x_i (1/q under inverted scaling,
    q as the declared scale_format computes it; 1 under classic), each dropped one 0."""
    if policies_of(impl).scaling == "inverted":
        ctx.policy(impl, "scale_format")
    return [kept_value_of(impl, gi, p, g.dtype) if k else 0.0 for gi, k in zip(g.data, kept)]


def _data(seed: int, n: int, dtype: DType) -> tuple[Tensor, Tensor]:
    """Inputs x and upstream gradients g of n elements, every one nonzero: |x_i|, |g_i| in [1, 2)."""
    x_noise, g_noise = (gen.uniform(n).data for gen in Generator(seed).spawn(2))
    return Tensor(nonzero(x_noise), dtype=dtype), Tensor(nonzero(g_noise, period=2), dtype=dtype)


def _compare(name: str, dx: Tensor, expected: list[float], dtype: DType, exact: bool = False,
             shape: tuple[int, ...] | None = None) -> list[str]:
    """Failures where dx is not ``expected`` (of ``shape``, by default 1-axis): equal (==, so -0 is 0) if
    ``exact``, else within one ulp of dtype."""
    shape = (len(expected),) if shape is None else shape
    if dx.shape != shape or dx.dtype is not dtype:
        return [f"{name}: dL/dx has shape {dx.shape} and dtype {dx.dtype.name}, not {shape} and {dtype.name}"]
    for i, (got, want) in enumerate(zip(dx.data, expected)):
        if not (got == want if exact else within_one_ulp(got, want, dtype)):  # a NaN fails both
            return [f"{name}: element {i}: dL/dx = {got!r}, expected {want!r}" + ("" if exact else " within one ulp")]
    return []


def _overflowing_scale(impl: Implementation, ctx: Context) -> list[str]:
    """GRADIENTS-1's case of an overflowing scale: DROPOUT-2's (``overflow_inputs`` at the plan's power:
    float16, p = 1 - 2^-16, x the least normal value on enough elements that one is kept with that
    power), with g = x, so that a kept s g = 4 is finite where g · fl16(1/q) is inf (PyTorch's CPU
    float16 backward, g · bernoulli(q).div_(q)); m is read off y (x/q = 4, nonzero)."""
    if policies_of(impl).scaling == "inverted":
        ctx.policy(impl, "scale_format")
    for name, dtype, x in overflow_inputs(impl, ctx.plan.power):
        y, dx = impl.dropout_vjp(x, OVERFLOW_P, x.copy(), training=True, seed=ctx.seed)
        failures = (array_like(f"{name}, y", y, x) or array_like(f"{name}, dL/dx", dx, x)
                    or scaled_array_faults(impl, f"{name}, dL/dx (g = x)", dx, x, y != 0, dtype, OVERFLOW_P,
                                           flushed=False))
        if failures:
            return failures
    return []


@check("GRADIENTS-1", needs=NEEDS)
def check_vjp_uses_forward_mask(impl: Implementation, ctx: Context) -> Verdict:
    """GRADIENTS-1: dL/dx = s m ⊙ g within one ulp, m the mask of this very forward pass. Then the case
    of an overflowing scale (float16), then generated cases (x = 1, so that m reads off y; finite g of
    any shape, format and seed; p in (0, 1))."""
    failures = []
    for dtype in dtypes_of(impl):
        x, g = _data(ctx.seed, SIZE, dtype)
        for p in RATES:
            y, dx = impl.dropout_vjp(x, p, g, training=True, seed=ctx.seed)
            expected = _scaled(impl, ctx, g, [yi != 0.0 for yi in y.data], p)
            failures += _compare(f"{dtype.name}, p = {p}", dx, expected, dtype)
    if not failures:
        failures = _overflowing_scale(impl, ctx)

    def judge(case: Case) -> list[str]:
        if _refusable(impl, ctx, case.p):
            return _refused("dL/dx", lambda: case.called(impl))
        y, dx = case.called(impl)
        expected = _scaled(impl, ctx, case.g, [yi != 0.0 for yi in y.data], case.p)
        return _compare("dL/dx", dx, expected, case.dtype, shape=case.shape)

    if not failures:
        failures = search(ctx, cases(impl, capability="dropout_vjp", ones=True), judge,
                          [*corners(impl, ctx.seed, "dropout_vjp"), *overflow_corners(impl, ctx.seed, "dropout_vjp")])
    return ctx.verdict("GRADIENTS-1", failures)


@check("GRADIENTS-2", needs=NEEDS)
def check_eval_vjp(impl: Implementation, ctx: Context) -> Verdict:
    """GRADIENTS-2: in eval mode dL/dx = g (inverted, bit for bit: g led by the format's edges, NaN and
    ±inf, as DROPOUT-7's x) or q g (classic, within one ulp; g finite); under p_one = "refused" the call
    at p = 1 may raise instead. Then generated cases (x and g of any shape, format and seed, NaN and ±inf
    included under inverted scaling; p in [0, 1])."""
    inverted = policies_of(impl).scaling == "inverted"
    refused = ctx.policy(impl, "p_one") == "refused"
    if not inverted:  # q g: q as the declared scale_format computes it
        ctx.policy(impl, "scale_format")

    def evaluated(name: str, g: Tensor, p: float, call: Callable[[], tuple[Tensor, Tensor]]) -> list[str]:
        try:
            _, dx = call()
        except Exception:  # a foreign implementation's error type is its own
            if refused and _read_as_one(impl, p):
                return []
            raise
        if inverted:
            return identical(f"{name}, dL/dx (x standing for g)", dx, g)
        expected = [eval_value(policies_of(impl), gi, p, g.dtype) for gi in g.data]
        return _compare(name, dx, expected, g.dtype, shape=g.shape)

    failures = []
    for dtype in dtypes_of(impl):
        x, g = _data(ctx.seed, SIZE, dtype)
        if inverted:  # every value of the format is g's bits to keep: NaN and ±inf among them
            g = edged(ctx.seed, (SIZE,), dtype, nonfinite=True)
        for p in (0.0, *RATES, 1.0):
            failures += evaluated(f"{dtype.name}, p = {p}, eval", g, p,
                                  lambda: impl.dropout_vjp(x, p, g, training=False, seed=ctx.seed))
    if not failures:
        drawn = cases(impl, p=probabilities, nonfinite=inverted, training=False, capability="dropout_vjp")
        failures = search(ctx, drawn, lambda case: evaluated("eval", case.g, case.p, lambda: case.called(impl)))
    return ctx.verdict("GRADIENTS-2", failures)


@check("GRADIENTS-3", needs=NEEDS)
def check_vjp_at_p_zero(impl: Implementation, ctx: Context) -> Verdict:
    """GRADIENTS-3: at p = 0 training-mode dL/dx = g, bit for bit, in every dtype; then generated cases
    (x and g of any values of the format, NaN and ±inf included, of any shape, format and seed)."""
    failures = []
    for dtype in dtypes_of(impl):
        x, g = _data(ctx.seed, 4 * SIZE, dtype)
        _, dx = impl.dropout_vjp(x, 0.0, g, training=True, seed=ctx.seed)
        failures += _compare(f"{dtype.name}, p = 0", dx, g.data, dtype, exact=True)
    if not failures:
        failures = search(ctx, cases(impl, p=st.just(0.0), nonfinite=True, capability="dropout_vjp"),
                          lambda case: identical("dL/dx, x standing for g", case.called(impl)[1], case.g))
    return ctx.verdict("GRADIENTS-3", failures)


def _special_finite(seed: int, dtype: DType) -> tuple[Tensor, Tensor]:
    """x and g as ``_data`` gives them, led by ±0, ±tiny and ±max: the finite values at which a
    backward pass computing g m / q at q = 0 shows 0 / 0 or max / 0."""
    leading = edges(dtype)
    x, g = _data(seed, SIZE, dtype)
    return (Tensor(leading + x.data[len(leading):], dtype=dtype),
            Tensor(leading[::-1] + g.data[len(leading):], dtype=dtype))


@check("GRADIENTS-4", needs=NEEDS)
def check_vjp_at_p_one(impl: Implementation, ctx: Context) -> Verdict:
    """GRADIENTS-4: at p = 1 training-mode dL/dx = 0 everywhere, for finite x and g: no 0/0; under
    p_one = "refused" the call raises instead."""
    refused = ctx.policy(impl, "p_one") == "refused"
    failures = []
    for dtype in dtypes_of(impl):
        x, g = _special_finite(ctx.seed, dtype)
        name = f"{dtype.name}, p = 1"
        try:
            _, dx = impl.dropout_vjp(x, 1.0, g, training=True, seed=ctx.seed)
        except Exception:  # a foreign implementation's error type is its own
            if refused:
                continue
            raise
        failures += (_compare(name, dx, [0.0] * SIZE, dtype, exact=True) if not refused
                     else [f"{name}: accepted, but the implementation declares p_one = 'refused'"])
    return ctx.verdict("GRADIENTS-4", failures)


def _special_inputs(dtype: DType) -> Tensor:
    """Values a mask must not be read from: zeros of both signs, infinities, NaN, the extremes."""
    values = [0.0, -0.0, math.inf, -math.inf, math.nan, dtype.tiny, -dtype.max, 1.0]
    return Tensor(values * (SIZE // len(values)), dtype=dtype)


@check("GRADIENTS-5", needs=NEEDS)
def check_vjp_independent_of_x(impl: Implementation, ctx: Context) -> Verdict:
    """GRADIENTS-5: dL/dx = s m ⊙ g whatever the values of x: zeros, infinities and NaN included."""
    failures = []
    for dtype in dtypes_of(impl):
        all_ones, g = ones(SIZE, dtype), _data(ctx.seed, SIZE, dtype)[1]
        for p in RATES:
            mask = [yi != 0.0 for yi in impl.dropout_vjp(all_ones, p, g, training=True, seed=ctx.seed)[0].data]
            _, dx = impl.dropout_vjp(_special_inputs(dtype), p, g, training=True, seed=ctx.seed)
            expected = _scaled(impl, ctx, g, mask, p)
            failures += _compare(f"{dtype.name}, p = {p}, non-finite and zero x", dx, expected, dtype)
    return ctx.verdict("GRADIENTS-5", failures)


def _dyadic(generator: Generator, n: int) -> list[float]:
    """n float64 values k / 256 - 2 with 0 <= k <= 1024: x ± FD_STEP is exact for each."""
    return [math.floor(u * 1025) / 256 - 2.0 for u in generator.uniform(n).data]


@check("GRADIENTS-6", needs=("dropout", "dropout_vjp"))
def check_finite_differences(impl: Implementation, ctx: Context) -> Verdict:
    """GRADIENTS-6: central differences of the forward, seed held fixed, give the VJP to 16 u."""
    if float64 not in dtypes_of(impl):
        return Verdict("GRADIENTS-6", Outcome.NOT_APPLICABLE, "central differences need float64")
    n = math.prod(FD_SHAPE)
    x, g_values = (_dyadic(generator, n) for generator in Generator(ctx.seed).spawn(2))
    g = Tensor(g_values).reshape(FD_SHAPE)
    failures = []
    for p in RATES[:2]:
        _, dx = impl.dropout_vjp(Tensor(x).reshape(FD_SHAPE), p, g, training=True, seed=ctx.seed)
        for i in range(n):
            up, down = (impl.dropout(Tensor(x[:i] + [x[i] + step] + x[i + 1:]).reshape(FD_SHAPE), p,
                                     training=True, seed=ctx.seed).data for step in (FD_STEP, -FD_STEP))
            terms = [(a - b) / (2 * FD_STEP) * gk for a, b, gk in zip(up, down, g_values)]  # J_ki g_k
            numeric, bound = math.fsum(terms), FD_TOLERANCE * math.fsum(map(abs, terms))
            if not abs(dx.data[i] - numeric) <= bound:
                failures.append(f"p = {p}, element {i}: VJP {dx.data[i]!r} but central differences give "
                                f"(J^T g)_i = {numeric!r} (tolerance {bound!r})")
                break
    return ctx.verdict("GRADIENTS-6", failures)
