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
from functools import cache

import numpy as np

from .. import ops
from ..contract import Implementation, Policies, dtypes_of, policies_of
from ..contract.policies import keep_factor
from ..dtypes import DType, float64
from ..random import Generator
from ..stats import (
    Decision,
    LogMGF,
    average_square_log_mgf,
    chernoff_mean_test,
    chernoff_thresholds,
    finite_log_mgf,
    samples_for_power,
    thresholds_power,
    z_power,
)
from ..tensor import Tensor
from ..theory import (
    TABLE_NETWORKS,
    Distribution,
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

__all__ = [
    "mean_samples", "monte_carlo_replicates", "readout_decision", "monte_carlo_decisions", "readout_law", "pass_law",
    "pass_outputs",
    "MEAN_MDE", "MSE_RATIO_MDE", "MC_SAMPLES",
]

U64 = 2.0**-53  # the unit roundoff of float64, in which every readout, output and average is computed

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
# |f - f(m)| for one output computed in float64 from the same inputs, by the enumeration or by the check:
# each logit is a correctly rounded sum of at most 8 rounded products of magnitude below 8, each within
# 1e-14; tanh (1-Lipschitz) and the softmax's class probability (1/2-Lipschitz in the logits) add a few
# units of 2^-53 each. 1e-12 is ten times that, for each of the two computations.
NETWORK_ROUNDING = 1e-12
PLAN_STEPS = 30  # bisection steps of a planned threshold: to a billionth of its bracket


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


@cache
def readout_law(p: float, scaling: str) -> Distribution:
    """The exact law over the 2^8 sub-networks of the readout r(m) = w . (x * m / d) (ENSEMBLE-3)."""
    terms = [Fraction(w) * Fraction(v) for w, v in zip(READOUT, READOUT_INPUT)]
    divisor = 1 - exact_rate(p) if scaling == "inverted" else Fraction(1)
    return ensemble(lambda keep: sum(t * k for t, k in zip(terms, keep)) / divisor, len(terms), p)


def _readout(y: list[float]) -> float:
    return math.fsum(w * v for w, v in zip(READOUT, y))


def _evaluated_mean(mean: Fraction, p: float, dtype: DType, scale_format: str) -> float:
    """What classic evaluation's readout should be: evaluation is q' x with q' = q as ``scale_format``
    computes it (DROPOUT-7), so its readout is q' / q times the ensemble mean (the mean itself for "exact")."""
    if scale_format == "exact":
        return float(mean)
    return float(mean * Fraction(keep_factor(Policies(scale_format=scale_format), p, dtype)) / (1 - exact_rate(p)))


@cache
def _log_mgf(law: Distribution) -> LogMGF:
    return finite_log_mgf([float(v) for v in law.values], law.probabilities)


@cache
def mean_samples(alpha: float, power: float, scaling: str = "inverted") -> int:
    """N: the sub-networks the Chernoff test of the readout's mean samples, so that it detects a shift by
    MEAN_MDE sigma with ``power`` at every rate of MEAN_RATES."""
    laws = [readout_law(p, scaling) for p in MEAN_RATES]
    moments = [(float(law.mean), float(law.variance), _log_mgf(law)) for law in laws]

    def power_at(n: int) -> float:  # one radius for both sides: a shift either way has the same power
        return min(thresholds_power(chernoff_thresholds(n, mu, v, mgf, alpha, steps=PLAN_STEPS),
                                    MEAN_MDE * math.sqrt(v), v, n) for mu, v, mgf in moments)

    z_test = samples_for_power(lambda n: z_power(MEAN_MDE * math.sqrt(n), alpha), power)
    return samples_for_power(power_at, power, start=round(1.1 * z_test))  # Chernoff's bound costs about 10% more


def _kept_error(impl: Implementation, v: float, p: float, dtype: DType, divisor: Fraction) -> float:
    """A bound on |y - v / d| for a kept element y of v: the declared scale_format moves the kept value
    (contract.kept_value) and DROPOUT-2 allows one ulp of it in ``dtype`` (with its rounding, 3 u_T)."""
    kept = kept_value_of(impl, v, p, dtype)
    return abs(kept - float(Fraction(v) / divisor)) + 4 * (dtype.eps / 2) * abs(kept) + 2 * U64 * abs(kept)


def readout_decision(readouts: list[float], p: float, scaling: str, alpha: float, error: float) -> Decision:
    """ENSEMBLE-3's decision on readouts each within ``error`` of its sub-network's r(m): Chernoff's bound with
    r's exact generating function, charged that error and the rounding of r(m) and of the mean."""
    exact = readout_law(p, scaling)
    slack = error + 4 * U64 * max(abs(float(v)) for v in exact.values)
    return chernoff_mean_test(math.fsum(readouts) / len(readouts), len(readouts), float(exact.mean), _log_mgf(exact),
                              alpha=alpha, slack=slack)


@check("ENSEMBLE-3", decisions=len(MEAN_RATES))
def check_ensemble_mean_is_eval_output(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-3: the mean of w . dropout(x) over sampled sub-networks is w . eval(x), which is the
    exact ensemble mean under the declared scaling: w . x (inverted) or q w . x (classic, evaluation's
    q as the declared scale_format computes it, DROPOUT-7)."""
    scaling = policies_of(impl).scaling
    n, rows = len(READOUT_INPUT), mean_samples(ctx.alpha, ctx.plan.power, scaling)
    dtype = _working_dtype(impl)
    scale_format = ctx.policy(impl, "scale_format") if scaling == "classic" else "exact"
    x = Tensor(list(READOUT_INPUT), dtype=dtype)
    batch = ops.broadcast_to(x.reshape(1, n), (rows, n))
    u = dtype.eps / 2
    failures = []
    for p, seed in zip(MEAN_RATES, drawn_seeds(ctx.seed, len(MEAN_RATES))):
        exact = readout_law(p, scaling)
        target, sigma = float(exact.mean), math.sqrt(exact.variance)
        scaled = _evaluated_mean(exact.mean, p, dtype, scale_format)
        divisor = 1 - exact_rate(p) if scaling == "inverted" else Fraction(1)
        evaluated = _readout(impl.dropout(x, p, training=False, seed=seed).data)
        tolerance = EVAL_ROUNDOFFS * u * math.fsum(abs(w * v) for w, v in zip(READOUT, READOUT_INPUT))
        if not abs(evaluated - scaled) <= tolerance:
            shown = "" if scaled == target else f" ({scaled!r} with q as scale_format {scale_format!r} computes it)"
            failures.append(f"p = {p}: the eval output's readout is {evaluated!r}, but the ensemble mean under "
                            f"{scaling} scaling is {target!r}{shown}")
        y = impl.dropout(batch, p, training=True, seed=seed).data
        readouts = [_readout(y[r * n : (r + 1) * n]) for r in range(rows)]
        error = math.fsum(abs(w) * _kept_error(impl, v, p, dtype, divisor) for w, v in zip(READOUT, READOUT_INPUT))
        decision = readout_decision(readouts, p, scaling, ctx.alpha, error)
        if ctx.decide(f"ENSEMBLE-3: mean of {rows} sub-networks, p = {p}", decision):
            failures.append(f"p = {p}: the mean over {rows} sampled sub-networks is {decision.observed!r}, the exact "
                            f"ensemble mean {target!r} ({(decision.observed - target) / sigma:+.2f} sigma, "
                            f"sigma = {sigma:.4g})")
    return ctx.verdict("ENSEMBLE-3", failures)


def pass_law(p: float, scaling: str, dtype_name: str = "float64") -> Distribution:
    """The exact law over the 2^8 sub-networks of f, the class-1 probability of the table's tanh network
    on its input rounded to ``dtype_name`` (ENSEMBLE-6)."""
    return _pass_law(p, scaling, dtype_name)  # cached under every argument, the default spelt out or not


@cache
def _pass_law(p: float, scaling: str, dtype_name: str) -> Distribution:
    x = table_input(MC_NETWORK).astype(dtype_name).astype("float64")
    return output_distribution(MC_NETWORK, x, p, MC_OUTPUT, scaling)


def square_log_mgf(p: float, scaling: str, samples: int, dtype_name: str = "float64") -> LogMGF:
    """A bound on the generating function of (f_T - E_m f)^2, T = ``samples``, from pass_law on a lattice."""
    return _square_log_mgf(p, scaling, samples, dtype_name)  # one lattice for the plan's call and the check's


@cache
def _square_log_mgf(p: float, scaling: str, samples: int, dtype_name: str) -> LogMGF:
    law = pass_law(p, scaling, dtype_name)
    return average_square_log_mgf([float(v) for v in law.values], law.probabilities, law.mean, samples)


def _mse_moments(law: Distribution, samples: int) -> tuple[float, float]:
    """E w and Var w for w = (f_T - mu)^2: sigma^2 / T and (mu4 + 3 (T - 1) sigma^4) / T^3 - (sigma^2 / T)^2."""
    variance, mu4 = law.variance, law.central_moment(4)
    mse = variance / samples
    return float(mse), float((mu4 + 3 * (samples - 1) * variance**2) / samples**3 - mse**2)


@cache
def monte_carlo_replicates(alpha: float, power: float, scaling: str = "inverted") -> int:
    """R: Monte Carlo averages per sample size, so that the Chernoff test of the mean squared error of the R
    averages detects one MSE_RATIO_MDE times too large or too small with ``power``, at T and 4T and at every
    rate. The plan takes the statistic as normal with the alternative's spread: the null's averages' deviations
    scaled by sqrt(k) for an error k times the null's (STATS-16)."""
    plans = []
    for p, t in itertools.product(MC_RATES, (MC_SAMPLES, 4 * MC_SAMPLES)):
        mse, spread = _mse_moments(pass_law(p, scaling), t)
        plans.append((mse, spread, square_log_mgf(p, scaling, t)))

    def power_at(r: int) -> float:
        powers = []
        for mse, spread, mgf in plans:
            thresholds = chernoff_thresholds(r, mse, spread, mgf, alpha, split=True, steps=PLAN_STEPS)
            powers += [thresholds_power(thresholds, (k - 1) * mse, k * k * spread, r)
                       for k in (MSE_RATIO_MDE, 1 / MSE_RATIO_MDE)]
        return min(powers)

    return samples_for_power(power_at, power, start=400)


def _output_error(impl: Implementation, x: Tensor, p: float, dtype: DType) -> float:
    """A bound on |f - f(m)| for an output f computed from the implementation's thinned input: each kept
    input within _kept_error of the enumeration's x_j / d (d rounded to float64 as the enumeration rounds it),
    moved through the network (tanh 1-Lipschitz, the class probability 1/2-Lipschitz in the logits), plus the
    rounding of the two float64 evaluations."""
    divisor = Fraction(float(1 - exact_rate(p))) if policies_of(impl).scaling == "inverted" else Fraction(1)
    inputs = [_kept_error(impl, v, p, dtype, divisor) for v in x.data]
    first, last = (layer.weight for layer in MC_NETWORK.layers)
    hidden = [math.fsum(abs(w) * e for w, e in zip(first.data[i * len(inputs) : (i + 1) * len(inputs)], inputs))
              for i in range(first.shape[0])]
    logits = max(math.fsum(abs(w) * e for w, e in zip(last.data[k * len(hidden) : (k + 1) * len(hidden)], hidden))
                 for k in range(last.shape[0]))
    return 1.01 * logits / 2 + 2 * NETWORK_ROUNDING


def monte_carlo_decisions(outputs: list[float], p: float, scaling: str, dtype_name: str, alpha: float,
                          error: float) -> tuple[dict[str, Decision], dict[int, float]]:
    """ENSEMBLE-6's decisions on the outputs of R runs of 5T passes (the first T of a run averaged, then the
    other 4T), each output within ``error`` of its sub-network's f(m); and the mean squared errors."""
    t = MC_SAMPLES
    exact = pass_law(p, scaling, dtype_name)
    mu, replicates = float(exact.mean), len(outputs) // (5 * t)
    runs = [outputs[r * 5 * t : (r + 1) * 5 * t] for r in range(replicates)]
    averages = {t: [math.fsum(run[:t]) / t for run in runs], 4 * t: [math.fsum(run[t:]) / (4 * t) for run in runs]}
    mse = {k: math.fsum((v - mu) ** 2 for v in a) / replicates for k, a in averages.items()}
    # an average's deviation from mu lies within error + 3u of the null's (its rounding, mu's), so its square
    # within 2 (error + 3u) + (error + 3u)^2 (|f - mu| <= 1), plus the rounding of the mean of the squares
    near = error + 3 * U64
    decisions = {
        f"mean of {len(outputs)} passes": chernoff_mean_test(
            math.fsum(outputs) / len(outputs), len(outputs), mu, _log_mgf(exact), alpha=alpha, slack=error + 2 * U64),
        **{f"mean squared error of {replicates} averages of T = {k}": chernoff_mean_test(
            mse[k], replicates, float(exact.variance / k), square_log_mgf(p, scaling, k, dtype_name), alpha=alpha,
            slack=2 * near + near * near + 4 * U64, split=True)
           for k in averages},
    }
    return decisions, mse


def pass_outputs(thinned: Tensor, classes: int) -> list[float]:
    """f of each pass, the class-MC_OUTPUT probability of MC_NETWORK on its row of ``thinned`` (passes, inputs),
    the engine's network run once per distinct row, told apart by its bits: a row's output depends on that row
    alone, and the passes of ENSEMBLE-6 repeat at most 2^8 sub-networks' inputs, so the outputs are those of
    the whole batch bit for bit at a sixtieth of the cost (issue 15)."""
    rows = np.asarray(thinned.data, dtype=np.float64).reshape(thinned.shape[0], -1)
    distinct, which = np.unique(rows.view(np.uint64), axis=0, return_inverse=True)
    inputs = distinct.view(np.float64)
    batch = Tensor.from_flat(inputs.ravel().tolist(), (len(inputs), *thinned.shape[1:]), float64, rounded=True)
    outputs = ops.softmax(MC_NETWORK.logits(batch)).data[MC_OUTPUT::classes]
    return [outputs[i] for i in which.ravel().tolist()]


@check("ENSEMBLE-6", needs=("dropout_stream",), decisions=3 * len(MC_RATES))
def check_monte_carlo_converges(impl: Implementation, ctx: Context) -> Verdict:
    """ENSEMBLE-6: averages of T and 4T forward passes of one stream have mean E f and mean squared
    errors sigma^2 / T and sigma^2 / (4T): the RMS error halves when T quadruples."""
    scaling = policies_of(impl).scaling
    t, replicates = MC_SAMPLES, monte_carlo_replicates(ctx.alpha, ctx.plan.power, scaling)
    dtype = _working_dtype(impl)
    x = table_input(MC_NETWORK).astype(dtype)
    classes = MC_NETWORK.layers[-1].weight.shape[0]
    failures = []
    for p, seed in zip(MC_RATES, drawn_seeds(ctx.seed, len(MC_RATES))):
        call = impl.dropout_stream(seed)
        thinned = ops.stack([call(x, p, training=True) for _ in range(5 * t * replicates)]).astype("float64")
        outputs = pass_outputs(thinned, classes)
        decisions, mse = monte_carlo_decisions(outputs, p, scaling, dtype.name, ctx.alpha,
                                               _output_error(impl, x, p, dtype))
        for name, decision in decisions.items():
            if ctx.decide(f"ENSEMBLE-6: {name}, p = {p}", decision):
                failures.append(f"p = {p}, {name}: observed {decision.observed!r}, expected {decision.expected!r} "
                                f"(RMS error {math.sqrt(mse[t]):.4g} at T = {t}, {math.sqrt(mse[4 * t]):.4g} at "
                                f"T = {4 * t}: ratio {math.sqrt(mse[t] / mse[4 * t]):.3f}; the mean squares' ratio "
                                f"is 4 in expectation)")
    return ctx.verdict("ENSEMBLE-6", failures)
