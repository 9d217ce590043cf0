"""Tests of spec/ensemble.md: dropout as an ensemble of 2^n sub-networks.

The theory (refdropout.theory) is tested exactly: in Fraction arithmetic where the statement is
rational, to a derived rounding bound where it is not. The checks of
refdropout.conformance.ensemble are run against the reference, under both scaling policies, and
against the broken implementations of tests/broken/ensemble.py and some mutants of
refdropout.mutants, each of which a check rejects.
"""

from __future__ import annotations

import contextlib
import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from broken.dropout import ScaleInFloat32
from broken.ensemble import (
    AlternatingMasks,
    ClassicMisdeclared,
    MCDropoutSwitchedOff,
    MCFalsyRate,
    MCOneMaskForAllPasses,
    StaleMask,
)
from helpers import SPEC_DIR, assert_fails, assert_passes, assert_same_bits, declaring, exact, seeds, statistical
from refdropout import ops
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance.ensemble import (
    MC_NETWORK,
    MC_OUTPUT,
    MC_RATES,
    MC_SAMPLES,
    MEAN_MDE,
    MEAN_RATES,
    mean_samples,
    monte_carlo_decisions,
    monte_carlo_replicates,
    pass_law,
    pass_outputs,
    readout_decision,
    readout_law,
    square_log_mgf,
)
from refdropout.functional import dropconnect as dropconnect_op
from refdropout.functional import dropout
from refdropout.mutants.mode import MCPassesInEvalMode, MCSwitchesEveryModule
from refdropout.mutants.randomness import SameMaskEveryCall
from refdropout.mutants.scale import NoRescale
from refdropout.nn import MLP, BatchNorm1d, Dropout, Linear, Module, Sequential, Tanh, learning_phase
from refdropout.nn.mc import mc_predict
from refdropout.random import Generator
from refdropout.stats import binomial_test
from refdropout.tensor import Tensor
from refdropout.theory import (
    TABLE_NETWORKS,
    TABLE_RATES,
    Layer,
    Network,
    column_mask,
    dropconnect,
    dropconnect_gap_bound,
    ensemble,
    ensemble_outputs,
    exact_rate,
    mask_matrix,
    normalized_geometric_mean,
    sub_networks,
    table_input,
    toy_network,
    weight_scaling_gaps,
    weight_scaling_table,
)

SPEC = SPEC_DIR / "ensemble.md"
U = 2.0**-53  # float64 unit roundoff

# floats with a full 53-bit significand and |v| in [2^-113, 2^13]: products neither overflow nor underflow
wide_floats = st.builds(math.ldexp, st.integers(-(2**53) + 1, 2**53 - 1), st.integers(-113, -40))
small_fractions = st.fractions(-4, 4, max_denominator=16)
open_rates = st.one_of(st.fractions(0, 1, max_denominator=64), st.floats(0.0, 1.0)).filter(lambda p: p < 1)
SCALINGS = ("inverted", "classic")


# --- ENSEMBLE-1: dropping a unit drops its outgoing weights -------------------------------------


@pytest.mark.clause("ENSEMBLE-1")
@given(
    rows=st.integers(1, 4), n=st.integers(1, 8), seed=seeds, data=st.data(),
    p=st.one_of(st.floats(0.01, 0.99), st.sampled_from([0.5, 0.75, 0.875, 0.96875])),
)
def test_unit_dropout_is_dropconnect_with_a_column_mask(rows: int, n: int, seed: int, data: st.DataObject,
                                                        p: float) -> None:
    x = Tensor(data.draw(st.lists(wide_floats, min_size=n, max_size=n)))
    weight = Tensor(data.draw(st.lists(wide_floats, min_size=rows * n, max_size=rows * n))).reshape(rows, n)
    q = 1.0 - p
    thinned, keep = dropout(x, p, seed=seed, scaling="classic", return_mask=True)  # x * m
    dropped, same_keep = dropout(x, p, seed=seed, return_mask=True)  # x * m / q, the same mask
    assert same_keep.data == keep.data
    mask = column_mask(keep, rows)
    assert mask.data == [float(k) for _ in range(rows) for k in keep.data]  # M_ij = m_j
    # without the division, and with the division after the sum: bit for bit
    assert_same_bits(weight @ thinned, dropconnect(weight, mask, x, 1.0))
    assert_same_bits((weight @ thinned) / q, dropconnect(weight, mask, x, 1.0) / q)
    unit, connect = (weight @ dropped).data, dropconnect(weight, mask, x, q).data
    if math.frexp(q)[0] == 0.5:  # q a power of two: dividing by it is exact
        assert_same_bits(unit, connect)
    bound = dropconnect_gap_bound(weight, x, keep, q, U)
    assert all(abs(a - b) <= tol for a, b, tol in zip(unit, connect, bound))


@pytest.mark.clause("ENSEMBLE-1")
def test_the_two_orders_differ_where_one_over_q_rounds() -> None:
    weight, x, keep, q = Tensor([[3.0]]), Tensor([0.7]), Tensor([True]), 1.0 - 0.3
    unit = (weight @ (x * keep.astype("float64") / q)).item()
    connect = dropconnect(weight, column_mask(keep, 1), x, q).item()
    assert (unit, connect) == (3.0, 2.9999999999999996)
    assert abs(unit - connect) <= dropconnect_gap_bound(weight, x, keep, q, U)[0]


@pytest.mark.clause("ENSEMBLE-1")
@given(n=st.integers(1, 12), seed=seeds, data=st.data(), p=st.sampled_from([0.2, 0.5, 0.7, 0.75]))
def test_dropconnect_of_one_output_unit_is_unit_dropout(n: int, seed: int, data: st.DataObject, p: float) -> None:
    """With one output every weight is its own column: DropConnect draws the mask dropout draws."""
    nonzero = wide_floats.filter(lambda v: v != 0.0)
    x = Tensor(data.draw(st.lists(nonzero, min_size=n, max_size=n)))
    weight = Tensor([data.draw(st.lists(nonzero, min_size=n, max_size=n))], requires_grad=True)
    connect = dropconnect_op(x, weight, p, seed=seed)
    dropped, keep = dropout(x, p, seed=seed, return_mask=True)
    connect.backward(Tensor([1.0]))
    assert [g != 0.0 for g in weight.grad.data] == keep.data  # dL/dW = x * M / q reveals M
    unit, q = (weight.detach() @ dropped).data, 1.0 - p
    if p in (0.5, 0.75):
        assert_same_bits(connect, unit)
    assert abs(connect.item() - unit[0]) <= dropconnect_gap_bound(weight.detach(), x, keep, q, U)[0]


@pytest.mark.clause("ENSEMBLE-1")
@pytest.mark.parametrize("scaling", SCALINGS)
@given(seed=seeds)
@statistical(1)
def test_column_mask_check_passes_reference(scaling: str, seed: int, check_correct) -> None:
    assert_passes(check_correct, "ENSEMBLE-1", ReferenceDropout(scaling=scaling), seed)


@pytest.mark.clause("ENSEMBLE-1")
@pytest.mark.parametrize("broken", [NoRescale, ClassicMisdeclared, StaleMask])
@given(seed=seeds)
@statistical(1)
def test_column_mask_check_rejects_broken(broken: type, seed: int, check_broken) -> None:
    assert_fails(check_broken, "ENSEMBLE-1", broken(), seed)


@pytest.mark.clause("ENSEMBLE-1")
@given(seed=seeds)
@statistical(1)
def test_column_mask_check_follows_the_declared_scale_format(seed: int, check_correct, check_broken) -> None:
    """A float32 scale (ONNX Runtime's) passes when declared, and fails declared "exact"."""
    verdict = assert_passes(check_correct, "ENSEMBLE-1", ScaleInFloat32(), seed)
    assert verdict.policies == ("scale_format = 'float32' (the reference: 'exact')",)
    assert_fails(check_broken, "ENSEMBLE-1", declaring(ScaleInFloat32()), seed)


# --- ENSEMBLE-2: the sub-networks and their probabilities ---------------------------------------


@pytest.mark.clause("ENSEMBLE-2")
@pytest.mark.parametrize("n", range(0, 9))
def test_every_mask_once_in_counting_order(n: int) -> None:
    counting = [tuple((c >> (n - 1 - j)) & 1 for j in range(n)) for c in range(2**n)]
    assert [s.keep for s in sub_networks(n, Fraction(1, 3))] == counting
    matrix = mask_matrix(n)
    assert matrix.shape == (2**n, n)
    assert matrix.data == [float(k) for keep in counting for k in keep]


@pytest.mark.clause("ENSEMBLE-2")
@given(n=st.integers(0, 8), p=st.one_of(st.fractions(0, 1), st.floats(0.0, 1.0), st.sampled_from([0, 1])))
def test_probabilities_sum_to_one_exactly(n: int, p: Fraction | float | int) -> None:
    subs = list(sub_networks(n, p))
    p, q = Fraction(p), 1 - Fraction(p)
    assert all(type(s.probability) is Fraction for s in subs)
    assert sum(s.probability for s in subs) == 1
    assert all(s.probability == q ** sum(s.keep) * p ** (n - sum(s.keep)) for s in subs)
    for j in range(n):  # each unit is kept with probability q, two units together with q^2
        assert sum(s.probability for s in subs if s.keep[j]) == q
        assert sum(s.probability for s in subs if s.keep[j] and s.keep[0]) == (q if j == 0 else q * q)


@pytest.mark.clause("ENSEMBLE-2")
@given(n=st.integers(0, 6), p=st.one_of(st.fractions(0, 1), st.floats(0.0, 1.0)), data=st.data())
def test_moments_are_the_sums_of_the_fractions(n: int, p: Fraction | float, data: st.DataObject) -> None:
    """A Distribution's mean and central moments, computed over common denominators, are the sums of
    w (v - mean)^k term by term in Fractions, for values that are Fractions, ints and floats."""
    values = data.draw(st.lists(st.one_of(small_fractions, st.integers(-9, 9), st.floats(-1e6, 1e6)),
                                min_size=2**n, max_size=2**n))
    f = ensemble(lambda keep: values[int("".join(map(str, keep)) or "0", 2)], n, p)
    mean = sum((w * v for w, v in zip(f.probabilities, f.values)), Fraction(0))
    assert f.mean == mean
    for order in (1, 2, 3, 4):
        assert f.central_moment(order) == sum((w * (v - mean) ** order for w, v in zip(f.probabilities, f.values)),
                                              Fraction(0))


@pytest.mark.clause("ENSEMBLE-2")
@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: exact_rate(True), TypeError, "p must be a Fraction, an int or a float in \\[0, 1\\], got True"),
        (lambda: exact_rate("0.5"), TypeError, "got '0.5' of type str"),
        (lambda: exact_rate(Decimal("0.5")), TypeError, "of type Decimal"),
        (lambda: exact_rate(0.5j), TypeError, "of type complex"),
        (lambda: exact_rate(1.5), ValueError, "p must be in \\[0, 1\\], got 1.5"),
        (lambda: exact_rate(-0.0001), ValueError, "got -0.0001"),
        (lambda: exact_rate(math.nan), ValueError, "got nan"),
        (lambda: exact_rate(Fraction(3, 2)), ValueError, "got Fraction\\(3, 2\\)"),
        (lambda: list(sub_networks(-1, 0.5)), ValueError, "n \\(the number of droppable units\\) .* got -1"),
        (lambda: list(sub_networks(2.0, 0.5)), ValueError, "got 2.0"),
        (lambda: mask_matrix(True), ValueError, "got True"),
        (lambda: list(sub_networks(3, math.inf)), ValueError, "got inf"),
    ],
)
def test_rates_are_exact_and_validated(call, error: type, message: str) -> None:
    assert exact_rate(0.1) == Fraction(3602879701896397, 2**55)
    assert exact_rate(Fraction(1, 10)) == Fraction(1, 10) and exact_rate(1) == 1
    with pytest.raises(error, match=message):
        call()


# --- ENSEMBLE-3: a linear model's ensemble mean is its evaluation output -------------------------


@pytest.mark.clause("ENSEMBLE-3")
@given(n=st.integers(1, 6), outputs=st.integers(1, 2), p=open_rates, data=st.data())
def test_linear_ensemble_mean_is_the_eval_output(n: int, outputs: int, p: Fraction | float,
                                                 data: st.DataObject) -> None:
    x = data.draw(st.lists(small_fractions, min_size=n, max_size=n))
    weight = data.draw(st.lists(st.lists(small_fractions, min_size=n, max_size=n), min_size=outputs, max_size=outputs))
    bias = data.draw(st.lists(small_fractions, min_size=outputs, max_size=outputs))
    p = Fraction(p)
    q = 1 - p
    for d, evaluation in ((q, x), (Fraction(1), [q * v for v in x])):  # inverted, classic
        for w, b in zip(weight, bias):
            y = ensemble(lambda keep: sum(wj * xj * mj for wj, xj, mj in zip(w, x, keep)) / d + b, n, p)
            assert y.mean == sum(wj * ej for wj, ej in zip(w, evaluation)) + b
            assert y.variance == sum(wj**2 * xj**2 for wj, xj in zip(w, x)) * p * q / d**2


@pytest.mark.clause("ENSEMBLE-3")
@pytest.mark.parametrize("scaling", SCALINGS)
@given(seed=seeds)
@statistical(2)
def test_ensemble_mean_check_passes_reference(scaling: str, seed: int, check_correct) -> None:
    assert_passes(check_correct, "ENSEMBLE-3", ReferenceDropout(scaling=scaling), seed)


@pytest.mark.clause("ENSEMBLE-3")
@pytest.mark.parametrize("broken", [NoRescale, ClassicMisdeclared])
@given(seed=seeds)
@statistical(1)
def test_ensemble_mean_check_rejects_broken(broken: type, seed: int, check_broken) -> None:
    assert_fails(check_broken, "ENSEMBLE-3", broken(), seed)


@pytest.mark.clause("ENSEMBLE-3")
def test_classic_evaluation_in_a_declared_scale_format_is_its_ensemble_mean(check_correct, check_broken) -> None:
    """Classic evaluation as fl32(1 - fl32(p)) x (PaddlePaddle's downscale_in_infer) misses q w . x by
    far more than the exact part's 8 u: it passes declared scale_format "float32", which DROPOUT-7
    allows (and ENSEMBLE-3 then relies on), and fails undeclared."""
    from refdropout.adapters import load_target

    classic = [("scaling", "classic")]
    declared = load_target("probed:classic_in_float32", policies=[*classic, ("scale_format", "float32")]).impl
    verdict = assert_passes(check_correct, "ENSEMBLE-3", declared, 0)
    assert [relied.split(" = ")[0] for relied in verdict.policies] == ["scale_format"]
    undeclared = load_target("probed:classic_in_float32", policies=classic).impl
    assert "with q as scale_format" not in assert_fails(check_broken, "ENSEMBLE-3", undeclared, 0).detail


def _draws(law, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
    """Draws of a sub-network's value from its exact law (numpy's generator, an independent source)."""
    values = np.array([float(v) for v in law.values])
    return values[rng.choice(len(values), size=size, p=np.array([float(w) for w in law.probabilities]))]


def _not_above(rejected: int, trials: int, rate: float) -> bool:
    """The exact one-sided binomial test of P(event) <= rate does not reject at 1e-4 (a declared decision)."""
    return not binomial_test(rejected, trials, rate, alpha=1e-4, alternative="greater").reject


@pytest.mark.clause("ENSEMBLE-3")
def test_ensemble_mean_plan_is_the_specs() -> None:
    """The sample sizes spec/ensemble.md states: N = 7,879 (quick) and 8,502 (standard), either scaling."""
    for scaling in SCALINGS:
        assert [mean_samples(alpha, 0.99, scaling) for alpha in (1e-9, 1e-10)] == [7_879, 8_502]


@pytest.mark.clause("ENSEMBLE-3")
@pytest.mark.parametrize("scaling", SCALINGS)
def test_ensemble_mean_test_holds_its_level(scaling: str) -> None:
    """400 null samples of N readouts drawn from the exact law (numpy), tested at 0.05: the rejections are
    no more frequent than 0.05; a mean shifted by the MDE is rejected at the plan's power."""
    rng, alpha = np.random.default_rng(31), 0.05
    n = mean_samples(alpha, 0.99, scaling)
    for p in MEAN_RATES:
        sigma = math.sqrt(readout_law(p, scaling).variance)
        samples = _draws(readout_law(p, scaling), rng, (400, n))
        rejected = sum(readout_decision(r.tolist(), p, scaling, alpha, 0.0).reject for r in samples)
        assert _not_above(rejected, 400, alpha), rejected
        missed = sum(not readout_decision((r + MEAN_MDE * sigma).tolist(), p, scaling, alpha, 0.0).reject
                     for r in samples)
        assert _not_above(missed, 400, 0.01), missed


# --- ENSEMBLE-4: one softmax layer: the geometric mean is weight scaling -------------------------


@pytest.mark.clause("ENSEMBLE-4")
@given(
    n=st.integers(1, 7), classes=st.integers(2, 4), net_seed=seeds, scale=st.sampled_from([0.5, 2.0, 10.0, 50.0]),
    p=st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, Fraction(1, 3)]), scaling=st.sampled_from(SCALINGS), data=st.data(),
)
def test_softmax_geometric_mean_is_weight_scaling(
    n: int, classes: int, net_seed: int, scale: float, p: float, scaling: str, data: st.DataObject
) -> None:
    layer = toy_network(net_seed, (n, classes), "identity", (True,), scale).layers[0]
    x = Tensor(data.draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n)))
    q = float(1 - exact_rate(p))
    d = q if scaling == "inverted" else 1.0
    log_outputs, probabilities = ensemble_outputs(Network((layer,)), x, p, scaling)
    geometric = normalized_geometric_mean(log_outputs, probabilities)
    scaled = layer if scaling == "inverted" else Layer(layer.weight * q, layer.bias)  # outgoing weights times q
    s = ops.softmax(Network((scaled,)).logits(x.reshape(1, n))).data
    w, b = layer.weight.data, layer.bias.data
    z = max(math.fsum(abs(w[k * n + j] * x.data[j]) for j in range(n)) / d + abs(b[k]) for k in range(classes))
    big_l = max(abs(v) for v in log_outputs.data)
    for g_k, s_k in zip(geometric, s):
        assert abs(g_k - s_k) <= 32 * U * (1 + z + big_l) * s_k


@pytest.mark.clause("ENSEMBLE-4")
@given(n=st.integers(1, 6), p=open_rates, scaling=st.sampled_from(SCALINGS), data=st.data())
def test_expected_logits_are_weight_scaled_exactly(n: int, p: Fraction | float, scaling: str,
                                                   data: st.DataObject) -> None:
    """A logistic unit, the two-class case (Baldi and Sadowski): the rational core E_m[z] = w (q x / d) + b
    exactly, then G = sigmoid(E_m[z]) by code that shares nothing with the engine's softmax."""
    x, w = (data.draw(st.lists(small_fractions, min_size=n, max_size=n)) for _ in range(2))
    b = data.draw(small_fractions)
    p = Fraction(p)
    q = 1 - p
    d = q if scaling == "inverted" else Fraction(1)
    subs = list(sub_networks(n, p))
    logits = [sum(wj * xj * mj for wj, xj, mj in zip(w, x, s.keep)) / d + b for s in subs]
    mean_logit = sum(s.probability * z for s, z in zip(subs, logits))
    assert mean_logit == sum(wj * q * xj for wj, xj in zip(w, x)) / d + b

    def log_sigmoid(z: float) -> float:  # log(1 / (1 + e^-z)), without overflow
        return -math.log1p(math.exp(-z)) if z >= 0 else z - math.log1p(math.exp(z))

    log_g1 = math.fsum(float(s.probability) * log_sigmoid(float(z)) for s, z in zip(subs, logits))
    log_g0 = math.fsum(float(s.probability) * log_sigmoid(-float(z)) for s, z in zip(subs, logits))
    geometric = 1 / (1 + math.exp(log_g0 - log_g1))
    expected = math.exp(log_sigmoid(float(mean_logit)))
    big_l = max(abs(log_sigmoid(float(z))) + abs(log_sigmoid(-float(z))) for z in logits)
    big_z = sum(abs(wj * xj) for wj, xj in zip(w, x)) / d + abs(b)
    assert abs(geometric - expected) <= 32 * U * (1 + float(big_z) + big_l) * expected


# --- ENSEMBLE-5: beyond one layer, weight scaling is an approximation ----------------------------


@pytest.mark.clause("ENSEMBLE-5")
def test_weight_scaling_table_is_recomputed() -> None:
    table = weight_scaling_table()
    assert table.count("\n") == 1 + len(TABLE_NETWORKS) * len(TABLE_RATES)
    assert table in SPEC.read_text(encoding="utf-8")


@pytest.mark.clause("ENSEMBLE-5")
def test_weight_scaling_is_exact_only_for_one_layer() -> None:
    for network in TABLE_NETWORKS.values():
        one_layer = len(network.layers) == 1
        for p in TABLE_RATES:
            arithmetic, geometric = weight_scaling_gaps(network, table_input(network), p)
            assert arithmetic > 1e-3  # the arithmetic mean is never the evaluation output here
            assert (geometric < 1e-12) if one_layer else (geometric > 1e-3)


# --- ENSEMBLE-6: Monte Carlo averages converge at rate 1/sqrt(T) --------------------------------


@pytest.mark.clause("ENSEMBLE-6")
@given(n=st.integers(1, 3), p=st.fractions(0, 1, max_denominator=8), data=st.data())
def test_monte_carlo_error_is_sigma_over_root_t_exactly(n: int, p: Fraction, data: st.DataObject) -> None:
    values = data.draw(st.lists(small_fractions, min_size=2**n, max_size=2**n))
    f = ensemble(lambda keep: values[int("".join(map(str, keep)), 2)], n, p)
    for t in range(1, 4):
        if (2**n) ** t <= 512:
            assert f.monte_carlo_mse(t) == f.variance / t
    if n == 1:  # the RMS error halves when T quadruples
        assert f.monte_carlo_mse(1) == 4 * f.monte_carlo_mse(4)


@pytest.mark.clause("ENSEMBLE-6")
@pytest.mark.parametrize("scaling", SCALINGS)
@given(seed=seeds)
@statistical(2)
def test_monte_carlo_check_passes_reference(scaling: str, seed: int, check_correct) -> None:
    assert_passes(check_correct, "ENSEMBLE-6", ReferenceDropout(scaling=scaling), seed)


@pytest.mark.clause("ENSEMBLE-6")
@pytest.mark.parametrize("broken", [SameMaskEveryCall, AlternatingMasks, NoRescale])
@given(seed=seeds)
@statistical(1)
def test_monte_carlo_check_rejects_broken(broken: type, seed: int, check_broken) -> None:
    assert_fails(check_broken, "ENSEMBLE-6", broken(), seed)


@pytest.mark.clause("ENSEMBLE-6")
def test_monte_carlo_plan_is_the_specs() -> None:
    """The replicates spec/ensemble.md states: R = 376 (quick) and 408 (standard), either scaling."""
    for scaling in SCALINGS:
        assert [monte_carlo_replicates(alpha, 0.99, scaling) for alpha in (1e-9, 1e-10)] == [376, 408]


@pytest.mark.clause("ENSEMBLE-6")
def test_the_plan_and_the_check_share_one_law_and_lattice() -> None:
    """The plan asks for the law and the lattice with the format left out, the check with it named: one
    computation serves both (a lattice costs 0.1 s)."""
    p = MC_RATES[0]
    assert pass_law(p, "inverted") is pass_law(p, "inverted", "float64")
    assert square_log_mgf(p, "inverted", MC_SAMPLES) is square_log_mgf(p, "inverted", MC_SAMPLES, "float64")


@pytest.mark.clause("ENSEMBLE-6")
def test_pass_outputs_are_the_whole_batchs_bit_for_bit() -> None:
    """The network run once per distinct thinned input gives every pass the output the whole batch gives it:
    masks of 8 inputs drawn at random, rows repeated, 0 against -0 and a NaN row among them."""
    x = table_input(MC_NETWORK)
    keep = Generator(5).bernoulli((600, x.shape[0]), 0.5)
    rows = [[v * k / 0.5 for v, k in zip(x.data, keep.data[r * x.shape[0] : (r + 1) * x.shape[0]])]
            for r in range(600)]
    rows[7] = [-0.0] * x.shape[0]
    rows[8] = [0.0] * x.shape[0]
    rows[9] = [math.nan] + rows[9][1:]
    thinned = Tensor([v for row in rows for v in row]).reshape(600, x.shape[0])
    classes = MC_NETWORK.layers[-1].weight.shape[0]
    whole = ops.softmax(MC_NETWORK.logits(thinned)).data[MC_OUTPUT::classes]
    assert_same_bits(pass_outputs(thinned, classes), whole)


def _monte_carlo_rejections(outputs: np.ndarray, p: float, alpha: float) -> list[tuple[bool, ...]]:
    decided = (monte_carlo_decisions(run.tolist(), p, "inverted", "float64", alpha, 0.0)[0] for run in outputs)
    return [tuple(d.reject for d in decisions.values()) for decisions in decided]


@pytest.mark.clause("ENSEMBLE-6")
@pytest.mark.parametrize("p", MC_RATES)
def test_monte_carlo_tests_hold_their_level(p: float) -> None:
    """300 null streams drawn from the exact law of f (numpy), each of R runs of 5T passes at the plan for
    alpha = 0.05: none of the three tests rejects more often than 0.05."""
    rng, alpha = np.random.default_rng(32), 0.05
    replicates = monte_carlo_replicates(alpha, 0.99, "inverted")
    outputs = _draws(pass_law(p, "inverted"), rng, (300, 5 * MC_SAMPLES * replicates))
    for rejected in zip(*_monte_carlo_rejections(outputs, p, alpha)):
        assert _not_above(sum(rejected), 300, alpha), sum(rejected)


@pytest.mark.clause("ENSEMBLE-6")
@pytest.mark.parametrize("p", MC_RATES)
def test_passes_in_identical_pairs_are_caught_with_the_planned_power(p: float) -> None:
    """The ratio RMS_T / RMS_4T stays at 2 for a stream whose passes come in identical pairs, but each mean
    squared error doubles: at the quick plan (alpha = 1e-9, R = 376) both tests reject in at least 99% of
    200 such streams (numpy), and the mean's test holds."""
    rng, alpha = np.random.default_rng(33), 1e-9
    replicates = monte_carlo_replicates(alpha, 0.99, "inverted")
    half = _draws(pass_law(p, "inverted"), rng, (200, 5 * MC_SAMPLES * replicates // 2))
    rejections = _monte_carlo_rejections(np.repeat(half, 2, axis=1), p, alpha)
    mean, at_t, at_4t = (sum(r) for r in zip(*rejections))
    assert mean == 0
    assert _not_above(200 - at_t, 200, 0.01) and _not_above(200 - at_4t, 200, 0.01), (at_t, at_4t)


# ---- Monte Carlo dropout (ENSEMBLE-7 to ENSEMBLE-9) -------------------------------------------

mc_widths = st.lists(st.integers(1, 4), min_size=2, max_size=4)


def _hand_passes(mlp: MLP, x: Tensor, samples: int, seed: int) -> list[Tensor]:
    """The passes of ENSEMBLE-7 written out: dropout layer j draws from Generator(seed).fold_in(j)."""
    streams = [Generator(seed).fold_in(j) for j, _ in enumerate(m for m in mlp.modules() if isinstance(m, Dropout))]
    passes = []
    for _ in range(samples):
        h, j = x, 0
        for layer in mlp.children():
            if isinstance(layer, Dropout):
                h, j = dropout(h, layer.p, training=True, generator=streams[j]), j + 1
            else:
                h = layer(h)
        passes.append(h)
    return passes


@pytest.mark.clause("ENSEMBLE-7")
@exact(20)
@given(widths=mc_widths, p=st.floats(0.0, 1.0), samples=st.integers(1, 6), seed=seeds, model_seed=seeds)
def test_mc_predict_is_the_mean_and_variance_of_seeded_passes(widths, p, samples, seed, model_seed) -> None:
    mlp = MLP(widths, p=p, seed=model_seed)
    x = Generator(seed).uniform((2, widths[0])) * 4.0 - 2.0
    prediction = mc_predict(mlp, x, samples, seed)
    passes = [y.data for y in _hand_passes(mlp, x, samples, seed)]
    for i, values in enumerate(zip(*passes)):
        shifts = [v - values[0] for v in values]
        mean = values[0] + math.fsum(shifts) / samples
        assert prediction.mean.data[i] == mean
        mean_shift = math.fsum(shifts) / samples
        assert prediction.variance.data[i] == math.fsum((d - mean_shift) ** 2 for d in shifts) / samples
    assert prediction.mean.shape == prediction.variance.shape == (2, widths[-1])
    assert not prediction.mean.requires_grad
    assert mc_predict(mlp, x, samples, seed).mean.data == prediction.mean.data  # a function of the seed


class _FailsOnPass(Module):
    def __init__(self, failing: int) -> None:
        super().__init__()
        self.calls, self.failing = 0, failing

    def forward(self, x: Tensor, *, training: bool) -> Tensor:
        self.calls += 1
        if self.calls == self.failing:
            raise ArithmeticError("pass failed")
        return x


@pytest.mark.clause("ENSEMBLE-7")
@exact(10)
@given(seed=seeds, model_seed=seeds, flag=st.booleans())
def test_mc_predict_leaves_the_model_as_it_was(seed, model_seed, flag) -> None:
    model, twin = (MLP([3, 8, 8, 2], p=0.5, seed=model_seed).train(flag) for _ in range(2))
    x = Generator(seed).uniform((1, 3))
    generators = [(m.generator, m.generator.state) for m in model.modules() if isinstance(m, Dropout)]
    with learning_phase(0):  # the dropout modules run in training whatever the phase and the flags
        prediction = mc_predict(model, x, 8, seed)
    assert any(v > 0.0 for v in prediction.variance.data)
    assert [m.training for m in model.modules()] == [flag] * len(list(model.modules()))
    assert [(m.generator, m.generator.state) for m in model.modules() if isinstance(m, Dropout)] == generators
    assert model(x, training=True).data == twin(x, training=True).data  # the training stream did not move
    failing = Sequential(Dropout(0.5, seed=model_seed), _FailsOnPass(3))
    own = failing[0].generator
    with pytest.raises(ArithmeticError):
        mc_predict(failing, x, 5, seed)
    assert failing[0].generator is own and own.state == Generator(model_seed).state


@pytest.mark.clause("ENSEMBLE-7")
def test_mc_predict_rejects_bad_arguments() -> None:
    model, x = Linear(2, 1, seed=0), Tensor([[1.0, 2.0]])
    for samples in (0, -1, True, 2.0, None):
        with pytest.raises(ValueError, match=f"mc_predict: samples must be an int >= 1, got {samples!r}"):
            mc_predict(model, x, samples, 0)
    with pytest.raises(TypeError, match="mc_predict: model must be a refdropout.nn.Module, got function"):
        mc_predict(lambda t: t, x, 2, 0)
    with pytest.raises((TypeError, ValueError), match="seed"):
        mc_predict(model, x, 2, -1)


@pytest.mark.clause("ENSEMBLE-8")
@exact(5)
@given(seed=seeds)
def test_mc_variance_is_zero_at_p_zero(check_correct, check_broken, seed) -> None:
    assert_passes(check_correct, "ENSEMBLE-8", (ReferenceDropout(), ReferenceDropout(scaling="classic")), seed)
    assert_fails(check_broken, "ENSEMBLE-8", MCFalsyRate(), seed)


@pytest.mark.clause("ENSEMBLE-8")
@exact(20)
@given(widths=mc_widths, samples=st.integers(1, 9), seed=seeds, model_seed=seeds)
def test_reference_mc_at_p_zero_is_the_network(widths, samples, seed, model_seed) -> None:
    mlp = MLP(widths, p=0.0, seed=model_seed)
    x = Generator(seed).uniform((3, widths[0])) * 4.0 - 2.0
    prediction = mc_predict(mlp, x, samples, seed)
    assert prediction.mean.data == mlp(x).data
    assert prediction.variance.data == [0.0] * len(prediction.variance.data)


@pytest.mark.clause("ENSEMBLE-9")
@statistical(2)
@given(seed=seeds, classic=st.booleans())
def test_mc_mean_and_variance_converge_to_the_ensemble(check_correct, check_broken, seed, classic) -> None:
    impl = ReferenceDropout(scaling="classic") if classic else ReferenceDropout()
    assert_passes(check_correct, "ENSEMBLE-9", impl, seed)
    assert_fails(check_broken, "ENSEMBLE-9", (MCPassesInEvalMode(), MCOneMaskForAllPasses()), seed)


# --- ENSEMBLE-10: Monte Carlo prediction switches on the dropout layers only ---------------------------


def _normalised_mlp(seed: int, p: float) -> tuple[Sequential, BatchNorm1d]:
    """Linear -> BatchNorm1d (running statistics no batch has) -> Tanh -> Dropout -> Linear."""
    norm = BatchNorm1d(4)
    norm.running_mean, norm.running_var = [0.5, -1.0, 2.0, 0.0], [0.25, 4.0, 1.0, 2.0]
    return Sequential(Linear(3, 4, seed=seed), norm, Tanh(), Dropout(p, seed=seed), Linear(4, 2, seed=seed + 1)), norm


@pytest.mark.clause("ENSEMBLE-10")
@exact(10)
@given(seed=st.integers(0, 2**32), flag=st.booleans(), phase=st.sampled_from([None, 0, 1]))
def test_mc_predict_switches_on_the_dropout_modules_only(seed: int, flag: bool, phase: int | None) -> None:
    """Whatever the flags and the learning phase: at p = 0 the prediction is the model in inference mode,
    exactly, with variance 0; at p = 0.5 the passes differ; the running statistics and the flags stay."""
    x = Generator(seed).uniform((5, 3)) * 4.0 - 2.0
    for p in (0.0, 0.5):
        model, norm = _normalised_mlp(seed, p)
        model.train(flag)
        statistics = (list(norm.running_mean), list(norm.running_var))
        with learning_phase(phase) if phase is not None else contextlib.nullcontext():
            prediction = mc_predict(model, x, 6, seed)
        assert (norm.running_mean, norm.running_var) == statistics
        assert [m.training for m in model.modules()] == [flag] * len(list(model.modules()))
        if p == 0.0:
            assert prediction.mean.data == model(x, training=False).data
            assert set(prediction.variance.data) == {0.0}
        else:
            assert any(v > 0.0 for v in prediction.variance.data)


@pytest.mark.clause("ENSEMBLE-10")
@exact(3)
@given(seed=seeds)
def test_mc_check_passes_the_reference(check_correct, seed: int) -> None:
    assert_passes(check_correct, "ENSEMBLE-10", (ReferenceDropout(), ReferenceDropout(scaling="classic")), seed)


@pytest.mark.clause("ENSEMBLE-10")
@exact(3)
@given(seed=seeds)
def test_mc_check_rejects_a_prediction_that_switches_every_module(check_broken, seed: int) -> None:
    every, off = assert_fails(check_broken, "ENSEMBLE-10", (MCSwitchesEveryModule(), MCDropoutSwitchedOff()), seed)
    assert "the normalisation ran in training mode" in every.detail
    assert "every variance is 0" in off.detail


@pytest.mark.clause("ENSEMBLE-10")
def test_batch_norm_is_pytorchs() -> None:
    """Training: the batch's biased moments, running statistics updated with momentum and the unbiased
    variance; inference: the running statistics; bad arguments refused by name."""
    rows = [[1.0, 2.0, 3.0], [3.0, 1.0, 0.0], [2.0, 2.0, 2.0], [0.0, 1.0, 5.0]]
    norm = BatchNorm1d(3)
    y = norm(Tensor(rows), training=True)
    for c in range(3):
        column = [r[c] for r in rows]
        mean = sum(column) / 4
        var = sum((v - mean) ** 2 for v in column) / 4
        assert y.data[c::3] == pytest.approx([(v - mean) / math.sqrt(var + 1e-5) for v in column], rel=1e-12)
        assert norm.running_mean[c] == pytest.approx(0.1 * mean, rel=1e-12)
        assert norm.running_var[c] == pytest.approx(0.9 + 0.1 * var * 4 / 3, rel=1e-12)
    statistics = (list(norm.running_mean), list(norm.running_var))
    y = norm(Tensor(rows), training=False)
    assert (norm.running_mean, norm.running_var) == statistics
    assert y.data[0] == pytest.approx((1.0 - statistics[0][0]) / math.sqrt(statistics[1][0] + 1e-5), rel=1e-12)
    for call, message in [(lambda: BatchNorm1d(0), "features must be a positive int, got 0"),
                          (lambda: BatchNorm1d(3, eps=0.0), "eps must be > 0, got 0.0"),
                          (lambda: BatchNorm1d(3, momentum=1.5), r"momentum must be in \[0, 1\], got 1.5"),
                          (lambda: norm(Tensor([[1.0, 2.0]]), training=False), r"x must have shape \(N, 3\)"),
                          (lambda: norm(Tensor([[1.0, 2.0, 3.0]]), training=True), "a batch of 2 or more, got 1")]:
        with pytest.raises(ValueError, match=message):
            call()
