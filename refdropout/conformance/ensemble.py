"""Checks of spec/ensemble.md: dropout as an implicit ensemble of 2^n sub-networks.

An implementation's dropout is used as the thinning of a small network's input units; the
reference side of every comparison comes from ``refdropout.theory``, which enumerates the whole
ensemble exactly. ENSEMBLE-1 is exact; ENSEMBLE-3 and ENSEMBLE-6 are statistical, each decision
at the run's level α with a sample size that follows from the run's plan.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

from .. import ops
from ..contract import Implementation, Policies, dtypes_of, policies_of
from ..contract.policies import keep_factor
from ..dtypes import DType, float64
from ..random import Generator
from ..stats import mean_z_test, samples_for_power, variance_power, variance_test, z_power
from ..tensor import Tensor
from ..theory import (
    TABLE_NETWORKS,
    column_mask,
    dropconnect,
    dropconnect_gap_bound,
    ensemble,
    exact_rate,
    output_distribution,
    table_input,
)
from .kit import drawn_seeds, eighths, kept_value_of
from .registry import Context, check
from .verdict import Verdict

__all__ = ["mean_samples", "monte_carlo_replicates", "MEAN_MDE", "MSE_RATIO_MDE", "MC_SAMPLES"]

# ENSEMBLE-1: a (outputs, inputs) layer on dyadic inputs k/8, nonzero, |x| <= 4, at three rates
LAYER_SHAPE = (5, 16)
DROPCONNECT_RATES = (0.2, 0.5, 0.7)

# ENSEMBLE-3: a linear readout w . y of dropout(x), w_j x_j > 0, so that a wrong scale moves the mean
READOUT = (0.5, -1.0, 0.25, -0.5, 1.0, 0.75, -0.25, 2.0)
READOUT_INPUT = (1.5, -0.75, 2.0, -1.25, 0.5, 1.0, -2.0, 0.25)
MEAN_RATES = (0.2, 0.7)  # never 0.5: there p = q, and a p/q swap leaves the mean in place
MEAN_MDE = 0.1  # a shift of the mean by 0.1 sigma is detected with the plan's power
EVAL_ROUNDOFFS = 8  # eval readout vs exact ensemble mean, in units of u sum_j |w_j x_j|

# ENSEMBLE-6: Monte Carlo averages of the table's tanh network, class 1, over T and 4T sampled masks
MC_NETWORK = TABLE_NETWORKS["8-6-3, tanh, inputs dropped"]
MC_OUTPUT = 1
MC_RATES = (0.3, 0.7)  # pq > 1/6: the output's excess kurtosis is negative at both, by enumeration
MC_SAMPLES = 8  # T
MSE_RATIO_MDE = 2.0  # a mean squared error off by a factor 2 either way is detected with the plan's power


def _working_dtype(impl: Implementation) -> DType:
    """The format the statistical checks run in: float64 where declared, else the first declared."""
    declared = dtypes_of(impl)
    return float64 if float64 in declared else declared[0]


def _divisor(impl: Implementation, p: float, dtype: DType) -> float:
    """What a kept unit is divided by in training under the declared scaling and scale_format: q,
    fl_T(q), fl32(1 - fl32(p)), or 1 (classic) (contract.kept_value)."""
    return 1.0 / kept_value_of(impl, 1.0, p, dtype)


@check("ENSEMBLE-1", needs=("dropout_with_mask",))
def check_unit_dropout_is_dropconnect(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-1: W dropout(x) = (W * M / q) x with M_ij = m_j, to 8 u sum_j |W_ij x_j| m_j / q, q as the
    declared scale_format rounds it."""
    ctx.policy(impl, "scale_format")
    rows, n = LAYER_SHAPE
    x_gen, w_gen = Generator(ctx.seed).spawn(2)
    x, weight = Tensor(eighths(x_gen, n)), Tensor(eighths(w_gen, rows * n)).reshape(rows, n)
    failures = []
    for dtype, p in itertools.product(dtypes_of(impl), DROPCONNECT_RATES):
        y, keep = impl.dropout_with_mask(x.astype(dtype), p, seed=ctx.seed)
        if keep.shape != x.shape:
            failures.append(f"{dtype.name}, p = {p}: the mask has shape {keep.shape}, not the input's {x.shape}")
            continue
        divisor = _divisor(impl, p, dtype)
        unit = (weight @ y.astype("float64")).data
        connect = dropconnect(weight, column_mask(keep, rows), x, divisor).data
        bound = dropconnect_gap_bound(weight, x, keep, divisor, dtype.eps / 2)
        for i, (a, b, tol) in enumerate(zip(unit, connect, bound)):
            if not abs(a - b) <= tol:  # a NaN fails
                failures.append(f"{dtype.name}, p = {p}, output {i}: W dropout(x) = {a!r} but (W * M / {divisor!r}) x "
                                f"= {b!r}, {abs(a - b)!r} apart (allowed {tol!r})")
                break
    return ctx.verdict("ENSEMBLE-1", failures)


def mean_samples(alpha: float, power: float) -> int:
    """N: the sub-networks the mean z-test samples, so that it detects MEAN_MDE sigma with ``power``."""
    return samples_for_power(lambda n: z_power(MEAN_MDE * math.sqrt(n), alpha), power)


def _readout(y: list[float]) -> float:
    return math.fsum(w * v for w, v in zip(READOUT, y))


def _evaluated_mean(mean: Fraction, p: float, dtype: DType, scale_format: str) -> float:
    """What classic evaluation's readout should be: evaluation is q' x with q' = q as ``scale_format``
    computes it (DROPOUT-7), so its readout is q' / q times the ensemble mean (the mean itself for "exact")."""
    if scale_format == "exact":
        return float(mean)
    return float(mean * Fraction(keep_factor(Policies(scale_format=scale_format), p, dtype)) / (1 - exact_rate(p)))


@check("ENSEMBLE-3", decisions=len(MEAN_RATES))
def check_ensemble_mean_is_eval_output(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-3: the mean of w . dropout(x) over sampled sub-networks is w . eval(x), which is the
    exact ensemble mean under the declared scaling: w . x (inverted) or q w . x (classic, evaluation's
    q as the declared scale_format computes it, DROPOUT-7)."""
    n, rows = len(READOUT_INPUT), mean_samples(ctx.alpha, ctx.plan.power)
    dtype = _working_dtype(impl)
    classic = policies_of(impl).scaling == "classic"
    scale_format = ctx.policy(impl, "scale_format") if classic else "exact"
    x = Tensor(list(READOUT_INPUT), dtype=dtype)
    batch = ops.broadcast_to(x.reshape(1, n), (rows, n))
    u = dtype.eps / 2
    terms = [Fraction(w * v) for w, v in zip(READOUT, READOUT_INPUT)]  # w_j x_j, exactly
    failures = []
    for p, seed in zip(MEAN_RATES, drawn_seeds(ctx.seed, len(MEAN_RATES))):
        divisor = 1 - exact_rate(p) if policies_of(impl).scaling == "inverted" else Fraction(1)
        exact = ensemble(lambda keep: sum(t * k for t, k in zip(terms, keep)) / divisor, n, p)
        target, sigma = float(exact.mean), math.sqrt(exact.variance)
        scaled = _evaluated_mean(exact.mean, p, dtype, scale_format)
        evaluated = _readout(impl.dropout(x, p, training=False, seed=seed).data)
        tolerance = EVAL_ROUNDOFFS * u * math.fsum(abs(w * v) for w, v in zip(READOUT, READOUT_INPUT))
        if not abs(evaluated - scaled) <= tolerance:
            shown = "" if scaled == target else f" ({scaled!r} with q as scale_format {scale_format!r} computes it)"
            failures.append(f"p = {p}: the eval output's readout is {evaluated!r}, but the ensemble mean under "
                            f"{policies_of(impl).scaling} scaling is {target!r}{shown}")
        y = impl.dropout(batch, p, training=True, seed=seed).data
        readouts = [_readout(y[r * n : (r + 1) * n]) for r in range(rows)]
        decision = mean_z_test(readouts, target, sigma, alpha=ctx.alpha)
        if ctx.decide(f"ENSEMBLE-3: mean of {rows} sub-networks, p = {p}", decision):
            failures.append(f"p = {p}: the mean over {rows} sampled sub-networks is {decision.observed!r}, the exact "
                            f"ensemble mean {target!r} (z = {decision.statistic:.2f}, sigma = {sigma:.4g})")
    return ctx.verdict("ENSEMBLE-3", failures)


def monte_carlo_replicates(alpha: float, power: float) -> int:
    """R: Monte Carlo averages per sample size, so that the chi-squared variance test of the R
    averages detects a mean squared error MSE_RATIO_MDE times too large or too small with ``power``."""
    return samples_for_power(
        lambda r: min(variance_power(ratio, max(r, 2), alpha) for ratio in (MSE_RATIO_MDE, 1 / MSE_RATIO_MDE)),
        power, start=100,
    )


@check("ENSEMBLE-6", needs=("dropout_stream",), decisions=3 * len(MC_RATES))
def check_monte_carlo_converges(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-6: averages of T and 4T forward passes of one stream have mean E f and mean squared
    errors sigma^2 / T and sigma^2 / (4T): the RMS error halves when T quadruples."""
    t, replicates = MC_SAMPLES, monte_carlo_replicates(ctx.alpha, ctx.plan.power)
    dtype = _working_dtype(impl)
    x = table_input(MC_NETWORK).astype(dtype)
    scaling = policies_of(impl).scaling
    failures = []
    for p, seed in zip(MC_RATES, drawn_seeds(ctx.seed, len(MC_RATES))):
        exact = output_distribution(MC_NETWORK, x.astype("float64"), p, MC_OUTPUT, scaling)
        mu, variance = float(exact.mean), float(exact.variance)
        call = impl.dropout_stream(seed)
        thinned = ops.stack([call(x, p, training=True) for _ in range(5 * t * replicates)]).astype("float64")
        classes = MC_NETWORK.layers[-1].weight.shape[0]
        outputs = ops.softmax(MC_NETWORK.logits(thinned)).data[MC_OUTPUT::classes]
        runs = [outputs[r * 5 * t : (r + 1) * 5 * t] for r in range(replicates)]
        averages = {
            t: [math.fsum(run[:t]) / t for run in runs],
            4 * t: [math.fsum(run[t:]) / (4 * t) for run in runs],
        }
        decisions = {
            f"mean of {len(outputs)} passes": mean_z_test(outputs, mu, math.sqrt(variance), alpha=ctx.alpha),
            **{f"variance of {replicates} averages of T = {k}": variance_test(a, variance / k, alpha=ctx.alpha)
               for k, a in averages.items()},
        }
        rms = {k: math.sqrt(math.fsum((v - mu) ** 2 for v in a) / replicates) for k, a in averages.items()}
        for name, decision in decisions.items():
            if ctx.decide(f"ENSEMBLE-6: {name}, p = {p}", decision):
                failures.append(f"p = {p}, {name}: observed {decision.observed!r}, expected {decision.expected!r} "
                                f"(RMS error {rms[t]:.4g} at T = {t}, {rms[4 * t]:.4g} at T = {4 * t}: "
                                f"ratio {rms[t] / rms[4 * t]:.3f}; the mean squares' ratio is 4 in expectation)")
    return ctx.verdict("ENSEMBLE-6", failures)
