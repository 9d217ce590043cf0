"""Tests of spec/recurrent.md: LSTM and GRU layers with between-layer and variational dropout.

The cells are tested against the equations computed by hand in plain floats, the layers against
their cells, and the checks of refdropout.conformance.recurrent against the reference (under both
gate-mask schemes) and against the broken implementations of tests/broken/recurrent.py, each of
which a check rejects. Gradients are checked by refdropout.gradcheck with the seed held fixed.
"""

from __future__ import annotations

import math
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

import refdropout.conformance.recurrent as checks
from broken.recurrent import (
    BatchSharedMasks,
    BetweenLayerKeepsAtP,
    BetweenLayerMaskHeldOverTime,
    CarriedStateMasked,
    DrawsInEval,
    DrawsInEvalOnLongSequences,
    DropsLastLayer,
    GateOrderIGFO,
    MaskDrawsDisagreeWithCalls,
    MaskDrawsLeaveTheStateBehind,
    MaskDrawsOfFourStepsAndTwoLayers,
    PerGateMisdeclared,
    RecomputedWithFreshMasks,
    RecomputedWithFreshMasksOnLongSequences,
    ReportsEightStepsOfMasks,
    ReportsTwoLayersOfInputMasks,
    ResetBeforeProjection,
    StateResetEveryEightSteps,
    SwappedRates,
    VariationalMasksRedrawnEveryEightSteps,
)
from helpers import assert_fails, assert_generated_cases_catch, assert_outcome, assert_passes, exact, seeds, statistical
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import CHECKS, Outcome, sampling
from refdropout.conformance.cases import RecurrentCase, recurrent_cases
from refdropout.conformance.recurrent import _stack_masks, network_weights, sequence
from refdropout.gradcheck import gradcheck
from refdropout.mutants.structure import (
    BetweenLayerMaskRepeatsAfterTheFirstStep,
    RecurrentActiveInEval,
    RecurrentMaskNeverRedrawn,
    RecurrentMaskRedrawnEveryStep,
)
from refdropout.nn.recurrent import GATE_MASKS, GRU, LSTM, RecurrentMasks
from refdropout.nn.rnn_cells import GRUCell, LSTMCell
from refdropout.random import Generator
from refdropout.stats import correlation_power, decision_plan
from refdropout.tensor import Tensor

cells = st.sampled_from(["lstm", "gru"])
LAYERS = {"lstm": LSTM, "gru": GRU}
CELLS = {"lstm": LSTMCell, "gru": GRUCell}
PYTORCH_WARNING = ("dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                   "num_layers greater than 1, but got dropout={p} and num_layers=1")


# the conformance suite's networks (refdropout.conformance.cases): either semantics and cell, 1 to 17 steps, 1 to 3
# batch elements, 1 to 4 inputs and hidden units, 1 to 3 layers, rates in (0, 1), any seed
networks = recurrent_cases(("between_layers", "variational"), ("lstm", "gru"))


def layer_of(case: RecurrentCase, **options: object) -> LSTM | GRU:
    """The reference layer of ``case``'s cell, sizes, seed and rates (its semantics' rates, the others 0),
    ``options`` over them; one layer with between-layer dropout warns (RECURRENT-4), silenced here."""
    between, on_input, on_state = case.rates
    rates = {"dropout": between} if case.semantics == "between_layers" else {"input_dropout": on_input,
                                                                             "recurrent_dropout": on_state}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return LAYERS[case.cell](case.inputs, case.hidden, case.layers, seed=case.seed, **{**rates, **options})


def reference(gate_masks: str = "shared") -> ReferenceDropout:
    return ReferenceDropout(gate_masks=gate_masks)


def mask_values(masks: RecurrentMasks) -> tuple:
    """Every multiplier of ``masks`` as (shape, values), field by field, layer by layer, step by step."""
    return tuple(tuple(tuple((m.shape, tuple(m.data)) for m in per_step) for per_step in getattr(masks, field))
                 for field in ("inputs", "recurrent", "between_layers"))


def rows(t: Tensor) -> list[list[float]]:
    """A 2-d tensor as a list of rows of floats."""
    n = t.shape[-1]
    return [t.data[i * n : (i + 1) * n] for i in range(t.size // n)]


# --- the equations by hand, in plain floats -------------------------------------------------------


def sigma(a: float) -> float:
    return 1.0 / (1.0 + math.exp(-a))


def affine(weight: Tensor, bias: Tensor, v: list[float], row: int) -> float:
    """Row ``row`` of W v + b, summed exactly."""
    return math.fsum([w * x for w, x in zip(rows(weight)[row], v)] + [bias.data[row]])


def lstm_by_hand(cell: LSTMCell, x: list[float], h: list[float], c: list[float]) -> tuple[list[float], list[float]]:
    """RECURRENT-1 for one batch element: gates i, f, g, o in the order of the weight rows."""
    n = cell.hidden_size
    a = [affine(cell.weight_ih, cell.bias_ih, x, r) + affine(cell.weight_hh, cell.bias_hh, h, r) for r in range(4 * n)]
    i, f, g, o = ([a[k * n + j] for j in range(n)] for k in range(4))
    c_new = [sigma(f[j]) * c[j] + sigma(i[j]) * math.tanh(g[j]) for j in range(n)]
    return [sigma(o[j]) * math.tanh(c_new[j]) for j in range(n)], c_new


def gru_by_hand(cell: GRUCell, x: list[float], h: list[float]) -> list[float]:
    """RECURRENT-2 for one batch element: the reset gate multiplies W_hn h + b_hn."""
    n = cell.hidden_size
    ax = [affine(cell.weight_ih, cell.bias_ih, x, r) for r in range(3 * n)]
    ah = [affine(cell.weight_hh, cell.bias_hh, h, r) for r in range(3 * n)]
    out = []
    for j in range(n):
        r, z = sigma(ax[j] + ah[j]), sigma(ax[n + j] + ah[n + j])
        new = math.tanh(ax[2 * n + j] + r * ah[2 * n + j])
        out.append((1 - z) * new + z * h[j])
    return out


def close(got: list[float], expected: list[float], tolerance: float = 1e-12) -> bool:
    return len(got) == len(expected) and all(abs(a - b) <= tolerance for a, b in zip(got, expected))


def states(seed: int, batch: int, size: int) -> Tensor:
    return sequence(1, batch, size, seed)[0] * 0.5


# --- RECURRENT-1, RECURRENT-2: the cells -------------------------------------------------------------


@pytest.mark.clause("RECURRENT-1")
@exact(20)
@given(seed=seeds, batch=st.integers(1, 3), size=st.integers(1, 4), hidden=st.integers(1, 4))
def test_lstm_cell_computes_pytorchs_equations(seed: int, batch: int, size: int, hidden: int) -> None:
    cell = LSTMCell(size, hidden, seed=seed)
    x, h, c = states(seed, batch, size), states(seed ^ 1, batch, hidden), states(seed ^ 2, batch, hidden)
    h_new, c_new = cell(x, (h, c))
    for b in range(batch):
        h_hand, c_hand = lstm_by_hand(cell, rows(x)[b], rows(h)[b], rows(c)[b])
        assert close(rows(h_new)[b], h_hand) and close(rows(c_new)[b], c_hand)


@pytest.mark.clause("RECURRENT-2")
@exact(20)
@given(seed=seeds, batch=st.integers(1, 3), size=st.integers(1, 4), hidden=st.integers(1, 4))
def test_gru_cell_computes_pytorchs_equations(seed: int, batch: int, size: int, hidden: int) -> None:
    cell = GRUCell(size, hidden, seed=seed)
    x, h = states(seed, batch, size), states(seed ^ 1, batch, hidden)
    h_new = cell(x, h)
    for b in range(batch):
        assert close(rows(h_new)[b], gru_by_hand(cell, rows(x)[b], rows(h)[b]))


@pytest.mark.clause("RECURRENT-1", "RECURRENT-2", "RECURRENT-3")
@exact(10)
@given(case=networks)
def test_layers_are_their_cells_unrolled(case: RecurrentCase) -> None:
    layer, cell, steps = layer_of(case), case.cell, case.steps
    x = sequence(steps, case.batch, case.inputs, case.seed)
    y, final = layer(x, training=False)
    inputs = [x[t] for t in range(steps)]
    for depth, c in enumerate(layer.cells()):
        state = c.zero_state(case.batch)
        outputs = []
        for v in inputs:
            state = c(v, state)
            outputs.append(c.hidden(state))
        last_h = final[0][depth] if cell == "lstm" else final[depth]
        assert last_h.data == c.hidden(state).data
        inputs = outputs
    assert y.data == [v for h in inputs for v in h.data]  # bit for bit: the same ops in the same order


@pytest.mark.clause("RECURRENT-1", "RECURRENT-2")
@exact(5)
@given(seed=seeds, cell=cells, size=st.integers(1, 5), hidden=st.integers(1, 5))
def test_cells_have_pytorchs_weight_shapes_and_initialisation(seed: int, cell: str, size: int, hidden: int) -> None:
    c = CELLS[cell](size, hidden, seed=seed)
    gates = 4 if cell == "lstm" else 3
    names = [name for name, _ in c.named_parameters()]
    assert names == ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    assert [p.shape for p in c.parameters()] == [(gates * hidden, size), (gates * hidden, hidden), (gates * hidden,),
                                                 (gates * hidden,)]
    bound = 1 / math.sqrt(hidden)
    assert all(-bound <= v <= bound for p in c.parameters() for v in p.data)
    assert CELLS[cell](size, hidden, bias=False, seed=seed).bias_ih is None


@pytest.mark.clause("RECURRENT-1", "RECURRENT-2")
@exact(5)
@given(seed=seeds, gate_masks=st.sampled_from(GATE_MASKS))
def test_equation_checks_pass_reference(check_correct, seed: int, gate_masks: str) -> None:
    for clause in ("RECURRENT-1", "RECURRENT-2"):
        assert_passes(check_correct, clause, reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-1")
@exact(5)
@given(seed=seeds)
def test_lstm_equation_check_rejects_tensorflow_gate_order(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-1", GateOrderIGFO(), seed)
    assert "lstm output" in verdict.detail, verdict.detail
    assert_outcome(check_broken, "RECURRENT-2", GateOrderIGFO(), seed, Outcome.PASS)  # the GRU is untouched


@pytest.mark.clause("RECURRENT-2")
@exact(5)
@given(seed=seeds)
def test_gru_equation_check_rejects_reset_before_projection(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-2", ResetBeforeProjection(), seed)
    assert "gru output" in verdict.detail, verdict.detail


@pytest.mark.clause("RECURRENT-1", "RECURRENT-2")
@pytest.mark.parametrize("clause, cell", [("RECURRENT-1", "lstm"), ("RECURRENT-2", "gru")])
def test_generated_cases_catch_a_state_reset_every_eight_steps(quick_plan, clause: str, cell: str) -> None:
    verdict = assert_generated_cases_catch(quick_plan, clause, StateResetEveryEightSteps())
    assert f"'{cell}', w, 0.0" in verdict.detail and "y = net(x, training=True)" in verdict.detail, verdict.detail
    assert f"the {cell} output" in verdict.detail, verdict.detail


class _NoRecurrentNetwork(ReferenceDropout):
    """Plain dropout only: neither recurrent semantics."""

    recurrent_between_layers = None
    recurrent_variational = None


@pytest.mark.clause("RECURRENT-1", "RECURRENT-2")
def test_checks_without_a_recurrent_network_are_not_applicable(check_broken) -> None:
    for clause in ("RECURRENT-1", "RECURRENT-2", "RECURRENT-5", "RECURRENT-9", "RECURRENT-12", "RECURRENT-13"):
        assert_outcome(check_broken, clause, _NoRecurrentNetwork(), 0, Outcome.NOT_APPLICABLE)


# --- RECURRENT-3: layers, sequences and state ----------------------------------------------------


@pytest.mark.clause("RECURRENT-3")
@exact(10)
@given(case=networks, training=st.booleans())
def test_layer_shapes_and_final_states(case: RecurrentCase, training: bool) -> None:
    steps, batch, hidden, layers = case.steps, case.batch, case.hidden, case.layers
    layer = layer_of(case, input_dropout=0.25)
    y, final, masks = layer(sequence(steps, batch, case.inputs, case.seed), training=training, return_masks=True)
    assert y.shape == (steps, batch, hidden)
    h_n = final[0] if case.cell == "lstm" else final
    assert h_n.shape == (layers, batch, hidden) and (case.cell == "gru" or final[1].shape == (layers, batch, hidden))
    assert h_n[layers - 1].data == y[steps - 1].data  # the last layer's last h, which no mask follows
    assert isinstance(masks, RecurrentMasks) and len(masks.inputs) == layers and len(masks.between_layers) == layers - 1


@pytest.mark.clause("RECURRENT-3")
@exact(10)
@given(case=networks, data=st.data())
def test_a_sequence_continues_from_its_final_state(case: RecurrentCase, data: st.DataObject) -> None:
    layer, cell = layer_of(case), case.cell
    x = sequence(case.steps + 1, case.batch, case.inputs, case.seed)  # two parts of one step or more
    split = data.draw(st.integers(1, case.steps), label="split")
    whole, final = layer(x, training=False)
    first, middle = layer(x[:split], training=False)
    second, final_again = layer(x[split:], middle, training=False)
    assert first.data + second.data == whole.data
    for again, once in zip(final_again, final) if cell == "lstm" else [(final_again, final)]:
        assert again.data == once.data


@pytest.mark.clause("RECURRENT-3")
@exact(5)
@given(case=networks)
def test_same_seed_same_masks(case: RecurrentCase) -> None:
    between, on_input, on_state = case.rates
    options = {"dropout": between, "input_dropout": on_input, "recurrent_dropout": on_state}  # both semantics
    a, b = layer_of(case, **options), layer_of(case, **options)
    x = sequence(case.steps, case.batch, case.inputs, case.seed)
    for _ in range(2):  # call for call
        (ya, _, ma), (yb, _, mb) = a(x, return_masks=True), b(x, return_masks=True)
        assert ya.data == yb.data and mask_values(ma) == mask_values(mb)
    given = layer_of(case, **options, generator=Generator(case.seed))
    assert given(x)[0].data == layer_of(case, **options, generator=Generator(case.seed))(x)[0].data


RATE_CHOICES = st.sampled_from([0.0, 0.3, 1.0])  # no draw at 0 and 1


@pytest.mark.clause("RECURRENT-3")
@exact(40)
@given(case=networks, gate_masks=st.sampled_from(GATE_MASKS), rates=st.tuples(RATE_CHOICES, RATE_CHOICES) | st.none(),
       batch=st.integers(0, 3), calls=st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=4))
def test_mask_draws_are_the_masks_and_the_draws_of_a_call(case: RecurrentCase, gate_masks: str,
                                                          rates: tuple[float, float] | None, batch: int,
                                                          calls: list[tuple[bool, bool]]) -> None:
    """Two layers of one seed, call for call: one is called, the other draws its masks alone or is
    called; each time both apply the same masks and leave their generators in the same state. Rates of
    the network's semantics as drawn, or 0 and 1 (no draw) among them; batches of 0 elements too."""
    steps = case.steps
    options = {} if rates is None else {"dropout": rates[0]} if case.semantics == "between_layers" else {
        "input_dropout": rates[0], "recurrent_dropout": rates[1]}
    called, drawn = (layer_of(case, gate_masks=gate_masks, **options) for _ in range(2))
    x = sequence(steps, batch, case.inputs, case.seed)
    for training, masks_only in calls:
        applied = called(x, training=training, return_masks=True)[2]
        got = drawn.mask_draws(x.shape, training=training) if masks_only else \
            drawn(x, training=training, return_masks=True)[2]
        assert mask_values(got) == mask_values(applied)
        assert drawn.generator.state == called.generator.state
    state = drawn.generator.state
    drawn.eval()  # training=None: the layer's own mode, as a call
    assert mask_values(drawn.mask_draws(list(x.shape))) == mask_values(drawn.no_masks(steps, batch))
    assert drawn.generator.state == state


@pytest.mark.clause("RECURRENT-3")
def test_layers_reject_bad_shapes() -> None:
    layer = LSTM(2, 3, 2, seed=0)
    with pytest.raises(ValueError, match=r"x must have shape \(steps, batch, 2\), got \(3, 2\)"):
        layer(Tensor([[1.0, 2.0]] * 3))
    with pytest.raises(ValueError, match=r"x must have shape \(steps, batch, 2\), got \(1, 1, 3\)"):
        layer(Tensor([[[1.0, 2.0, 3.0]]]))
    with pytest.raises(ValueError, match=r"x must have shape \(steps, batch, 2\), got \(1, 1, 3\)"):
        layer.mask_draws((1, 1, 3))
    with pytest.raises(ValueError, match=r"x has 0 time steps \(shape \(0, 1, 2\)\)"):
        layer.mask_draws((0, 1, 2))
    with pytest.raises(TypeError, match=r"mask_draws: x_shape\[1\] must be an int >= 0, got 1.0 of type float"):
        layer.mask_draws((1, 1.0, 2))
    with pytest.raises(TypeError, match=r"mask_draws: x_shape must be a tuple \(steps, batch, 2\), got Tensor"):
        layer.mask_draws(sequence(1, 1, 2, 0))
    x = sequence(2, 1, 2, 0)
    with pytest.raises(ValueError, match=r"initial h_0 must have shape \(2, 1, 3\), got \(1, 1, 3\)"):
        layer(x, (states(0, 1, 3).reshape(1, 1, 3), states(1, 1, 3).reshape(1, 1, 3)))
    with pytest.raises(TypeError, match="state must be a tuple"):
        layer(x, states(0, 1, 3))
    with pytest.raises(ValueError, match=r"initial h_0 must have shape \(1, 1, 3\)"):
        GRU(2, 3, seed=0)(x, states(0, 2, 3))
    weights = network_weights("gru", 2, 3, 1, 0)
    with pytest.raises(ValueError, match=r"layer 0's weight_ih must be a Tensor of shape \(12, 2\), got \(9, 2\)"):
        LSTM.from_weights(weights, seed=0)
    with pytest.raises(ValueError, match="2 layers of weights given for 1 layers"):
        GRU(2, 3, seed=0).load_weights(weights * 2)


# --- RECURRENT-4: arguments ------------------------------------------------------------------------


@pytest.mark.clause("RECURRENT-4")
@given(argument=st.sampled_from(["dropout", "input_dropout", "recurrent_dropout"]),
       rate=st.one_of(st.floats(allow_nan=True).filter(lambda p: not 0 <= p <= 1), st.sampled_from(
           [-1e-300, math.nextafter(1.0, 2.0), 1.5, math.inf, math.nan, -1]), st.integers(2, 10**6)))
def test_rates_outside_the_unit_interval_raise(argument: str, rate: float) -> None:
    with pytest.raises(ValueError, match=rf"LSTM: {argument} must be in \[0, 1\], got {re_float(rate)}"):
        LSTM(2, 3, 2, seed=0, **{argument: rate})


def re_float(rate: float) -> str:
    """How the error message writes a rate: as a float."""
    return str(float(rate)).replace("+", r"\+").replace(".", r"\.")


@pytest.mark.clause("RECURRENT-4")
def test_bad_options_raise() -> None:
    for rate in ("0.5", None, 0.5j, True):
        with pytest.raises(TypeError, match=r"GRU: recurrent_dropout must be a real number in \[0, 1\]"):
            GRU(2, 3, seed=0, recurrent_dropout=rate)
    with pytest.raises(ValueError, match=r"gate_masks must be one of \('shared', 'per_gate'\), got 'tied'"):
        LSTM(2, 3, seed=0, gate_masks="tied")
    for layers, error in ((0, ValueError), (1.0, TypeError), (True, TypeError)):
        with pytest.raises(error, match="num_layers"):
            LSTM(2, 3, layers, seed=0)
    with pytest.raises(TypeError, match="return_masks must be a bool"):
        LSTM(2, 3, seed=0)(sequence(1, 1, 2, 0), return_masks=1)
    assert LSTM(2, 3, 2, seed=0, dropout=1.0, input_dropout=1, recurrent_dropout=0).input_dropout == 1.0


@pytest.mark.clause("RECURRENT-4")
@given(p=st.floats(0.0, 1.0, exclude_min=True), cell=cells)
def test_one_layer_with_dropout_warns_as_pytorch_does(p: float, cell: str) -> None:
    with pytest.warns(UserWarning) as record:
        LAYERS[cell](2, 3, seed=0, dropout=p)
    assert [str(w.message) for w in record] == [PYTORCH_WARNING.format(p=p)]
    assert record[0].filename == __file__  # attributed to the caller, as PyTorch's is


@pytest.mark.clause("RECURRENT-4")
@given(layers=st.integers(1, 3), p=st.floats(0.0, 1.0), cell=cells)
def test_no_warning_without_between_layer_dropout(layers: int, p: float, cell: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LAYERS[cell](2, 3, layers, seed=0, input_dropout=p, recurrent_dropout=p, dropout=p if layers > 1 else 0.0)


# --- RECURRENT-5, RECURRENT-6: where the masks lie -------------------------------------------------


@pytest.mark.clause("RECURRENT-5")
@exact(5)
@given(seed=seeds, gate_masks=st.sampled_from(GATE_MASKS))
def test_between_layer_check_passes_reference(check_correct, seed: int, gate_masks: str) -> None:
    assert_passes(check_correct, "RECURRENT-5", reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-5")
@exact(5)
@given(seed=seeds)
def test_between_layer_check_rejects_dropout_after_the_last_layer(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-5", DropsLastLayer(), seed)
    assert "the output" in verdict.detail, verdict.detail


@pytest.mark.clause("RECURRENT-5")
def test_generated_cases_catch_masks_reported_from_a_buffer_of_eight_steps(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "RECURRENT-5", ReportsEightStepsOfMasks())
    assert "impl.recurrent_between_layers(" in verdict.detail and "the output" in verdict.detail


@pytest.mark.clause("RECURRENT-5")
@exact(10)
@given(seed=seeds, cell=cells, layers=st.integers(2, 3))
def test_between_layer_masks_lie_on_hidden_outputs_only(seed: int, cell: str, layers: int) -> None:
    layer = LAYERS[cell](2, 3, layers, dropout=0.5, seed=seed)
    x = sequence(3, 2, 2, seed)
    y, final, masks = layer(x, training=True, return_masks=True)
    assert all(v == 1.0 for field in (masks.inputs, masks.recurrent) for per_step in field for m in per_step
               for v in m.data)
    assert all(set(m.data) <= {0.0, 2.0} for per_step in masks.between_layers for m in per_step)
    assert layer.run(x, masks)[0].data == y.data
    # the final state of layer 0 is its own last h, before the mask its outputs then meet
    alone = LAYERS[cell].from_weights([layer.cells()[0].weights()], seed=0)
    h_n = final[0] if cell == "lstm" else final
    assert h_n[0].data == alone(x, training=False)[0][2].data


@pytest.mark.clause("RECURRENT-5", "RECURRENT-6")
@exact(5)
@given(seed=seeds)
def test_placement_checks_hold_mask_draws_to_the_calls(check_broken, seed: int) -> None:
    lying = assert_fails(check_broken, "RECURRENT-5", MaskDrawsDisagreeWithCalls(), seed)
    assert "recurrent_mask_draws vs the masks of the first call" in lying.detail, lying.detail
    for clause in ("RECURRENT-5", "RECURRENT-6"):
        behind = assert_fails(check_broken, clause, MaskDrawsLeaveTheStateBehind(), seed)
        assert "the call after recurrent_mask_draws vs the second call" in behind.detail, behind.detail


@pytest.mark.clause("RECURRENT-5", "RECURRENT-6")
@pytest.mark.parametrize("clause, field", [("RECURRENT-5", "between_layers"), ("RECURRENT-6", "inputs")])
def test_generated_cases_catch_mask_draws_buffered_for_four_steps_and_two_layers(quick_plan, clause: str,
                                                                                 field: str) -> None:
    verdict = assert_generated_cases_catch(quick_plan, clause, MaskDrawsOfFourStepsAndTwoLayers())
    assert "drawn = impl.recurrent_mask_draws(net, x.shape, training=True)" in verdict.detail, verdict.detail
    assert f"recurrent_mask_draws vs the masks of the first call: masks.{field}" in verdict.detail, verdict.detail


@pytest.mark.clause("RECURRENT-6")
@exact(5)
@given(seed=seeds, gate_masks=st.sampled_from(GATE_MASKS))
def test_variational_check_passes_reference(check_correct, seed: int, gate_masks: str) -> None:
    assert_passes(check_correct, "RECURRENT-6", reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-6")
@exact(5)
@given(seed=seeds)
def test_variational_check_rejects_a_masked_carried_state_and_a_misdeclared_scheme(check_broken, seed: int) -> None:
    carried = assert_fails(check_broken, "RECURRENT-6", CarriedStateMasked(), seed)
    assert "gru: the output" in carried.detail, carried.detail
    misdeclared = assert_fails(check_broken, "RECURRENT-6", PerGateMisdeclared(), seed)
    assert "expected shape (4, 3, 3)" in misdeclared.detail, misdeclared.detail


@pytest.mark.clause("RECURRENT-6")
def test_generated_cases_catch_input_masks_reported_for_two_layers(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "RECURRENT-6", ReportsTwoLayersOfInputMasks())
    assert "impl.recurrent_variational(" in verdict.detail and "the output" in verdict.detail


@pytest.mark.clause("RECURRENT-6")
@exact(10)
@given(seed=seeds, cell=cells, gate_masks=st.sampled_from(GATE_MASKS))
def test_variational_rates_of_one_leave_only_the_biases(seed: int, cell: str, gate_masks: str) -> None:
    """Every x_t and h_(t-1) dropped: each projection is its bias, and the LSTM's carried c still
    accumulates, c_t = f c_(t-1) + i g with constant gates, because c is never masked."""
    dropped = LAYERS[cell](2, 3, 2, input_dropout=1.0, recurrent_dropout=1.0, gate_masks=gate_masks, seed=seed)
    y, _ = dropped(sequence(3, 2, 2, seed), training=True)
    zero_weights = [(w_ih * 0, w_hh * 0, b_ih, b_hh) for w_ih, w_hh, b_ih, b_hh in
                    (c.weights() for c in dropped.cells())]
    biases_only = LAYERS[cell].from_weights(zero_weights, seed=seed)
    assert y.data == biases_only(sequence(3, 2, 2, seed ^ 1), training=False)[0].data
    if cell == "lstm":
        assert y[0].data != y[1].data  # c_1 = (1 + f) c_0 ≠ c_0


@pytest.mark.clause("RECURRENT-6")
@exact(5)
@given(seed=seeds, cell=cells)
def test_per_gate_masks_are_separate_draws(seed: int, cell: str) -> None:
    layer = LAYERS[cell](8, 8, input_dropout=0.5, recurrent_dropout=0.5, gate_masks="per_gate", seed=seed)
    _, _, masks = layer(sequence(1, 4, 8, seed), training=True, return_masks=True)
    gates = 4 if cell == "lstm" else 3
    for m in (masks.inputs[0][0], masks.recurrent[0][0]):
        assert m.shape == (gates, 4, 8)
        per_gate = [m.data[k * 32 : (k + 1) * 32] for k in range(gates)]
        assert len({tuple(g) for g in per_gate}) == gates  # 32 coin flips each: equal with probability 2^-32


# --- RECURRENT-7, RECURRENT-8: how masks repeat over time ------------------------------------------


@pytest.mark.clause("RECURRENT-7")
@exact(5)
@given(seed=seeds, gate_masks=st.sampled_from(GATE_MASKS))
def test_constant_mask_check_passes_reference(check_correct, seed: int, gate_masks: str) -> None:
    assert_passes(check_correct, "RECURRENT-7", reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-7")
@exact(5)
@given(seed=seeds)
def test_constant_mask_check_rejects_masks_redrawn_every_step(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-7", RecurrentMaskRedrawnEveryStep(), seed)
    assert "differs from its step-0 mask" in verdict.detail, verdict.detail


@pytest.mark.clause("RECURRENT-7")
def test_generated_cases_catch_masks_redrawn_every_eight_steps(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "RECURRENT-7", VariationalMasksRedrawnEveryEightSteps())
    assert "impl.recurrent_variational(" in verdict.detail and "differs from its step-0 mask" in verdict.detail


@pytest.mark.clause("RECURRENT-7")
@exact(5)
@given(seed=seeds, cell=cells)
def test_variational_masks_repeat_within_a_call_and_change_between_calls(seed: int, cell: str) -> None:
    layer = LAYERS[cell](4, 4, 2, input_dropout=0.5, recurrent_dropout=0.5, seed=seed)
    x = sequence(5, 3, 4, seed)
    first, second = (layer(x, training=True, return_masks=True)[2] for _ in range(2))
    for field in ("inputs", "recurrent"):
        for per_step in getattr(first, field):
            assert all(m.data == per_step[0].data for m in per_step)
        # 2 layers of 12 coin flips per call: the calls agree with probability 2^-24
        assert [s[0].data for s in getattr(first, field)] != [s[0].data for s in getattr(second, field)]


@pytest.mark.clause("RECURRENT-8")
@statistical(2)
@given(seed=seeds)
def test_fresh_mask_check_passes_reference(check_correct, seed: int) -> None:
    assert_passes(check_correct, "RECURRENT-8", reference(), seed)


@pytest.mark.clause("RECURRENT-8")
@statistical(1)
@given(seed=seeds)
def test_fresh_mask_check_rejects_a_mask_held_over_time(check_broken, seed: int) -> None:
    assert_fails(check_broken, "RECURRENT-8", BetweenLayerMaskHeldOverTime(), seed)


@pytest.mark.clause("RECURRENT-8")
@statistical(1)
@given(seed=seeds)
def test_fresh_mask_check_rejects_a_mask_fresh_at_the_first_step_only(check_broken, seed: int) -> None:
    """Masks fresh from step 0 to step 1 and repeated after it (the catalogue's model of
    tensorflow/tensorflow#2789): the steps 0 and 1 decision passes them, a later transition rejects."""
    impl = BetweenLayerMaskRepeatsAfterTheFirstStep()
    verdict = assert_fails(check_broken, "RECURRENT-8", impl, seed)
    rejected = [record.name for record in verdict.records if record.reject]
    assert "RECURRENT-8 between-layer masks at steps 1 and 2" in rejected, rejected
    assert "RECURRENT-8 between-layer masks at steps 0 and 1" not in rejected, rejected


@pytest.mark.clause("RECURRENT-8")
def test_fresh_mask_plan_covers_three_transitions(quick_plan) -> None:
    """FRESH_STEPS = 4 steps, one decision per transition t -> t + 1, each on the N pairs that detect
    a correlation of CORRELATION_MDE (7526 at the quick plan)."""
    assert checks.FRESH_STEPS == 4 and CHECKS["RECURRENT-8"].decisions == 3
    pairs = checks.independence_pairs(quick_plan)
    assert pairs == 7526
    for q in (0.7, 0.8, 0.4):
        assert correlation_power(checks.CORRELATION_MDE, pairs, quick_plan.alpha, keep_prob=q) >= quick_plan.power


# --- RECURRENT-9 to RECURRENT-11: keep rates and independence --------------------------------------


class _CountingCalls(ReferenceDropout):
    """The reference, counting the calls whose masks are read off the forward pass; without
    recurrent_mask_draws when ``draws`` is False."""

    def __init__(self, gate_masks: str, draws: bool) -> None:
        super().__init__(gate_masks=gate_masks)
        self.forward_calls = 0
        if not draws:
            self.recurrent_mask_draws = None

    def recurrent_masks(self, net, x, *, training):
        self.forward_calls += 1
        return super().recurrent_masks(net, x, training=training)


@pytest.mark.clause("RECURRENT-8", "RECURRENT-9", "RECURRENT-10", "RECURRENT-11")
@exact(10)
@given(seed=seeds, semantics=st.sampled_from(["between_layers", "variational"]),
       gate_masks=st.sampled_from(GATE_MASKS), depth=st.integers(1, 3), steps=st.integers(1, 3),
       batch=st.integers(1, 4), width=st.integers(1, 3), calls=st.integers(1, 3))
def test_statistical_checks_read_the_masks_of_the_calls_without_running_them(
        seed: int, semantics: str, gate_masks: str, depth: int, steps: int, batch: int, width: int, calls: int) -> None:
    """_stack_masks draws the masks alone where the implementation can, and they are the masks its
    successive calls apply; without recurrent_mask_draws it reads them off the calls."""
    sizes = {"steps": steps, "batch": batch, "depth": depth, "seed": seed, "width": width, "calls": calls}
    drawing, calling = _CountingCalls(gate_masks, draws=True), _CountingCalls(gate_masks, draws=False)
    with warnings.catch_warnings():  # one layer with between-layer dropout warns
        warnings.simplefilter("ignore", UserWarning)
        drawn, read = list(_stack_masks(drawing, semantics, **sizes)), list(_stack_masks(calling, semantics, **sizes))
    assert (drawing.forward_calls, calling.forward_calls) == (0, calls)
    assert [mask_values(m) for m in drawn] == [mask_values(m) for m in read]


@pytest.mark.clause("RECURRENT-9")
@pytest.mark.parametrize("gate_masks", GATE_MASKS)
@statistical(1)
@given(seed=seeds)
def test_keep_rate_check_passes_reference(check_correct, gate_masks: str, seed: int) -> None:
    verdict = assert_passes(check_correct, "RECURRENT-9", reference(gate_masks), seed)
    assert len(verdict.records) == 3


@pytest.mark.clause("RECURRENT-9")
@statistical(1)
@given(seed=seeds)
def test_keep_rate_check_rejects_wrong_rates(check_broken, seed: int) -> None:
    swapped = assert_fails(check_broken, "RECURRENT-9", SwappedRates(gate_masks="per_gate"), seed)
    assert "inputs keep rate" in swapped.detail and "recurrent" in swapped.detail, swapped.detail
    assert_fails(check_broken, "RECURRENT-9", BetweenLayerKeepsAtP(), seed)


def test_keep_rate_samples_fit_one_call_up_to_a_chunk() -> None:
    """A sample that fits CHUNK // ENGINE_WIDTH mask elements (the masks are engine tensors) is one call
    (quick and standard: data unchanged); a larger one, calls of at most that many that draw at least the
    sample."""
    bound = sampling.CHUNK // sampling.ENGINE_WIDTH
    assert checks._in_calls(bound // 3, 3) == (bound // 3, 1)
    batch, calls = checks._in_calls(bound, 3)
    assert batch * 3 <= bound and batch * calls >= bound and calls == 4
    n = decision_plan("standard").n
    assert checks._in_calls(-(-n // 2), 2)[1] == 1


@pytest.mark.clause("RECURRENT-9")
@statistical(1)
@given(seed=seeds)
def test_keep_rates_beyond_a_chunk_are_judged_over_bounded_calls(check_correct, check_broken, quick_plan,
                                                                 seed: int) -> None:
    """With calls of at most 4,096 mask elements (the deep profile's situation at the quick size),
    the reference passes at the full sample size and a wrong rate is still rejected."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sampling, "CHUNK", 4096 * sampling.ENGINE_WIDTH)  # calls on engine tensors: CHUNK // ENGINE_WIDTH
        verdict = assert_passes(check_correct, "RECURRENT-9", reference("per_gate"), seed)
        assert all(record.n >= quick_plan.n for record in verdict.records), verdict.records
        assert_fails(check_broken, "RECURRENT-9", BetweenLayerKeepsAtP(), seed)


@pytest.mark.clause("RECURRENT-10")
@pytest.mark.parametrize("gate_masks", GATE_MASKS)
@statistical(2)
@given(seed=seeds)
def test_batch_independence_check_passes_reference(check_correct, gate_masks: str, seed: int) -> None:
    verdict = assert_passes(check_correct, "RECURRENT-10", reference(gate_masks), seed)
    assert len(verdict.records) == (3 if gate_masks == "shared" else 5)


@pytest.mark.clause("RECURRENT-10")
@statistical(1)
@given(seed=seeds)
def test_batch_independence_check_rejects_batch_shared_masks(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-10", BatchSharedMasks(), seed)
    assert all(f"{kind} masks of batch elements" in verdict.detail for kind in ("between-layer", "inputs", "recurrent"))


@pytest.mark.clause("RECURRENT-11")
@pytest.mark.parametrize("gate_masks", GATE_MASKS)
@statistical(2)
@given(seed=seeds)
def test_call_independence_check_passes_reference(check_correct, gate_masks: str, seed: int) -> None:
    assert_passes(check_correct, "RECURRENT-11", reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-11")
@statistical(1)
@given(seed=seeds)
def test_call_independence_check_rejects_cached_masks(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-11", RecurrentMaskNeverRedrawn(), seed)
    assert all(f"{kind} masks of calls 1 and 2" in verdict.detail for kind in ("between-layer", "inputs", "recurrent"))


# --- RECURRENT-12: evaluation --------------------------------------------------------------------


@pytest.mark.clause("RECURRENT-12")
@exact(5)
@given(seed=seeds, gate_masks=st.sampled_from(GATE_MASKS))
def test_eval_check_passes_reference(check_correct, seed: int, gate_masks: str) -> None:
    assert_passes(check_correct, "RECURRENT-12", reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-12")
@exact(5)
@given(seed=seeds)
def test_eval_check_rejects_dropout_in_eval_and_draws_in_eval(check_broken, seed: int) -> None:
    active = assert_fails(check_broken, "RECURRENT-12", RecurrentActiveInEval(), seed)
    assert "eval vs the rate-0 network" in active.detail, active.detail
    draws = assert_fails(check_broken, "RECURRENT-12", DrawsInEval(), seed)
    assert "after two eval calls" in draws.detail, draws.detail
    assert "eval vs the rate-0 network" not in draws.detail


@pytest.mark.clause("RECURRENT-12")
def test_generated_cases_catch_draws_in_eval_on_long_sequences(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "RECURRENT-12", DrawsInEvalOnLongSequences())
    assert "y = net(x, training=False)" in verdict.detail and "after two eval calls" in verdict.detail


@pytest.mark.clause("RECURRENT-12")
@exact(10)
@given(seed=seeds, cell=cells, gate_masks=st.sampled_from(GATE_MASKS))
def test_eval_is_the_rate_zero_network_and_draws_nothing(seed: int, cell: str, gate_masks: str) -> None:
    layer = LAYERS[cell](2, 3, 2, dropout=0.5, input_dropout=0.25, recurrent_dropout=0.75, gate_masks=gate_masks,
                         seed=seed)
    without = LAYERS[cell](2, 3, 2, gate_masks=gate_masks, seed=seed)
    x = sequence(3, 2, 2, seed)
    state = layer.generator.state
    layer.eval()
    y, _, masks = layer(x, return_masks=True)
    assert layer.generator.state == state
    assert y.data == without(x, training=True)[0].data
    assert all(v == 1.0 for field in (masks.inputs, masks.recurrent, masks.between_layers) for per_step in field
               for m in per_step for v in m.data)


# --- RECURRENT-13: backpropagation through time ----------------------------------------------------


@pytest.mark.clause("RECURRENT-13")
@exact(5)
@given(seed=seeds, gate_masks=st.sampled_from(GATE_MASKS))
def test_bptt_check_passes_reference(check_correct, seed: int, gate_masks: str) -> None:
    assert_passes(check_correct, "RECURRENT-13", reference(gate_masks), seed)


@pytest.mark.clause("RECURRENT-13")
@exact(5)
@given(seed=seeds)
def test_bptt_check_rejects_recomputation_with_fresh_masks(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "RECURRENT-13", RecomputedWithFreshMasks(), seed)
    assert "central differences" in verdict.detail, verdict.detail


@pytest.mark.clause("RECURRENT-13")
def test_generated_cases_catch_fresh_masks_in_the_backward_of_long_sequences(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "RECURRENT-13", RecomputedWithFreshMasksOnLongSequences())
    assert "y, dx = impl.recurrent_vjp(net, x, g, training=True)" in verdict.detail, verdict.detail
    assert "central differences along v" in verdict.detail, verdict.detail


SEMANTICS = {"between_layers": {"dropout": 0.5}, "variational": {"input_dropout": 0.3, "recurrent_dropout": 0.6},
             "per_gate": {"input_dropout": 0.3, "recurrent_dropout": 0.6, "gate_masks": "per_gate"}}


@pytest.mark.clause("RECURRENT-13")
@exact(6)
@given(seed=seeds, cell=cells, semantics=st.sampled_from(sorted(SEMANTICS)))
def test_gradcheck_through_time_with_the_seed_fixed(seed: int, cell: str, semantics: str) -> None:
    """d<g, y>/d(x, h_0, W_ih of layer 0, W_hh of layer 1) against central differences, each
    evaluation a fresh layer of one seed: its first call draws the masks the gradient was taken at."""
    steps, batch, size, hidden = 3, 2, 2, 3
    weights = network_weights(cell, size, hidden, 2, seed)
    x, h_0 = sequence(steps, batch, size, seed), sequence(2, batch, hidden, seed ^ 1)

    def forward(x: Tensor, h_0: Tensor, w_ih: Tensor, w_hh: Tensor) -> Tensor:
        layers = [(w_ih, *weights[0][1:]), (weights[1][0], w_hh, *weights[1][2:])]
        layer = LAYERS[cell].from_weights(layers, seed=seed, **SEMANTICS[semantics])
        state = (h_0, h_0 * 0.5) if cell == "lstm" else h_0
        return layer(x, state, training=True)[0]

    assert gradcheck(forward, x, h_0, weights[0][0], weights[1][1])
