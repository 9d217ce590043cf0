"""Checks of spec/recurrent.md: LSTM and GRU layers with between-layer and with variational dropout.

An implementation builds a network of either semantics from weights in PyTorch's layout
(capabilities ``recurrent_between_layers`` and ``recurrent_variational``); every check runs each
semantics the implementation has. Checks of where masks lie, and of how they repeat, read the
multipliers a call applied (capability ``recurrent_masks``) and recompute the call from them with
the reference (``RecurrentLayer.run``), so that a reported mask is also a mask that was used.
Exact checks charge nothing to the run's budget; the statistical ones size their samples from
the run's plan: keep rates at the plan's keep-rate MDE, independence at CORRELATION_MDE.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

from hypothesis import strategies as st

from ..contract import Implementation, has_capability, policies_of
from ..nn.recurrent import GRU, LSTM, RecurrentLayer, RecurrentMasks
from ..random import Generator
from ..stats import (
    DecisionPlan,
    binomial_test,
    correlation_power,
    lag_independence_test,
    samples_for_power,
    successive_independence_test,
)
from ..tensor import Tensor
from . import sampling
from .cases import RecurrentCase, recurrent_cases
from .kit import judge
from .registry import Context, check
from .search import search
from .verdict import Outcome, Verdict

__all__ = [
    "CELLS", "SEMANTICS", "RATES", "TOLERANCE", "CORRELATION_MDE", "STATISTICAL_CELL", "FRESH_STEPS", "Rates",
    "independence_pairs", "network_weights", "sequence",
]

CELLS = ("lstm", "gru")
LAYERS: dict[str, type[RecurrentLayer]] = {"lstm": LSTM, "gru": GRU}
SEMANTICS = ("between_layers", "variational")
TOLERANCE = 2.0**-40  # |y - y_reference| for float64 outputs in (-1, 1): thousands of roundings
CORRELATION_MDE = 0.1  # |corr| between two mask elements that must be independent
STATISTICAL_CELL = "lstm"  # masks do not depend on the cell; the exact checks cover both cells

# the exact checks' network: T steps, B batch elements, I inputs, H hidden units, L layers
STEPS, BATCH, INPUT, HIDDEN, DEPTH = 4, 3, 3, 4, 2


@dataclass(frozen=True)
class Rates:
    """The rates a check builds its networks with: p between layers, p on x_t and p on h_(t-1)."""

    dropout: float
    input: float
    recurrent: float


RATES = Rates(dropout=0.3, input=0.2, recurrent=0.6)  # three different keep rates: a swap is visible
NO_DROPOUT = Rates(0.0, 0.0, 0.0)


# --- sample sizes ---------------------------------------------------------------------------------


@cache
def _independence_pairs(alpha: float, power: float) -> int:
    keep_probs = (1.0 - RATES.dropout, 1.0 - RATES.input, 1.0 - RATES.recurrent)
    return max(samples_for_power(lambda n: correlation_power(CORRELATION_MDE, n, alpha, keep_prob=q), power,
                                 start=1_000) for q in keep_probs)


def independence_pairs(plan: DecisionPlan) -> int:
    """Disjoint pairs a pair test needs to detect |corr| = CORRELATION_MDE at each keep rate of
    RATES (RECURRENT-8, -10, -11): the most any of them needs."""
    return _independence_pairs(plan.alpha, plan.power)


# --- networks -------------------------------------------------------------------------------------


def _uniform(generator: Generator, shape: tuple[int, ...], bound: float) -> Tensor:
    return Tensor.from_flat([bound * (2.0 * u - 1.0) for u in generator.uniform(shape).data], shape)


def network_weights(cell: str, input_size: int, hidden_size: int, layers: int, seed: int) -> list[tuple]:
    """PyTorch-layout weights (W_ih, W_hh, b_ih, b_hh) per layer, U(-1/sqrt(H), 1/sqrt(H)), as
    plain tensors (no gradient recorded)."""
    rows, bound = len(LAYERS[cell].cell.gates) * hidden_size, 1.0 / math.sqrt(hidden_size)
    generator = Generator(seed)
    return [(_uniform(generator, (rows, input_size if layer == 0 else hidden_size), bound),
             _uniform(generator, (rows, hidden_size), bound),
             _uniform(generator, (rows,), bound), _uniform(generator, (rows,), bound)) for layer in range(layers)]


def sequence(steps: int, batch: int, size: int, seed: int, stream: int = 1) -> Tensor:
    """A sequence (T, B, I) of values U(-2, 2), from child ``stream`` of ``Generator(seed)``."""
    return _uniform(Generator(seed).fold_in(stream), (steps, batch, size), 2.0)


def _semantics(impl: Implementation) -> list[str]:
    return [s for s in SEMANTICS if has_capability(impl, f"recurrent_{s}")]


def _net(impl: Implementation, semantics: str, cell: str, weights: list[tuple], rates: Rates, seed: int):
    """A network of ``impl`` with ``semantics`` and the rates it uses, its masks drawn from ``seed``."""
    if semantics == "between_layers":
        return impl.recurrent_between_layers(cell, weights, rates.dropout, seed=seed)
    return impl.recurrent_variational(cell, weights, rates.input, rates.recurrent, seed=seed)


def _rates_of(semantics: str, rates: Rates) -> Rates:
    """The rates a network of ``semantics`` applies: the other semantics' rates are 0."""
    if semantics == "between_layers":
        return Rates(rates.dropout, 0.0, 0.0)
    return Rates(0.0, rates.input, rates.recurrent)


def _groups(impl: Implementation, cell: str) -> int:
    """G: masks per cell input under the declared policy, 1 (shared) or one per gate."""
    return 1 if policies_of(impl).gate_masks == "shared" else len(LAYERS[cell].cell.gates)


def _reference(impl: Implementation, cell: str, weights: list[tuple]) -> RecurrentLayer:
    """The reference layer with these weights, to recompute a call from its multipliers."""
    return LAYERS[cell].from_weights(weights, gate_masks=policies_of(impl).gate_masks, seed=0)


def _no_applicable_semantics(clause: str) -> Verdict:
    return Verdict(clause, Outcome.NOT_APPLICABLE, "needs recurrent_between_layers or recurrent_variational")


def _apart(name: str, got: Tensor, expected: Tensor, tolerance: float = TOLERANCE) -> list[str]:
    """A failure unless ``got`` has the shape of ``expected`` and every element within ``tolerance``."""
    if not isinstance(got, Tensor) or got.shape != expected.shape:
        return [f"{name}: got {getattr(got, 'shape', type(got).__name__)}, expected shape {expected.shape}"]
    for i, (a, b) in enumerate(zip(got.data, expected.data)):
        if not abs(a - b) <= tolerance:  # a NaN fails
            return [f"{name}: element {i} is {a!r}, expected {b!r} ({abs(a - b):.3g} apart, allowed {tolerance:.3g})"]
    return []


# --- the multipliers a call reports ---------------------------------------------------------------


def _multiplier_faults(name: str, multiplier: object, shape: tuple[int, ...], p: float) -> list[str]:
    """A failure unless ``multiplier`` has ``shape`` and holds only 0 and 1/q (only 1 when p = 0)."""
    if not isinstance(multiplier, Tensor) or multiplier.shape != shape:
        return [f"{name}: got {getattr(multiplier, 'shape', type(multiplier).__name__)}, expected shape {shape}"]
    kept = 1.0 / (1.0 - p) if p < 1.0 else 0.0
    allowed = (kept,) if p == 0.0 else (0.0, kept)
    for i, v in enumerate(multiplier.data):
        if not any(abs(v - a) <= TOLERANCE * a or v == a for a in allowed):
            return [f"{name}: element {i} is {v!r}; a multiplier is 0 (dropped) or 1/q = {kept!r} (kept)"]
    return []


def _mask_faults(masks: object, impl: Implementation, cell: str, sizes: tuple[int, ...], rates: Rates) -> list[str]:
    """The ways ``masks`` fails to be the multipliers of a call of T steps on B elements through
    layers of sizes (I, H, ..., H) at ``rates``: the placement of RECURRENT-5 and RECURRENT-6."""
    if not isinstance(masks, RecurrentMasks):
        return [f"recurrent_masks returned {type(masks).__name__}, not RecurrentMasks"]
    steps, batch, *widths = sizes
    depth, hidden, g = len(widths) - 1, widths[-1], _groups(impl, cell)
    expected = {
        "inputs": [((g, batch, widths[layer]), rates.input) for layer in range(depth)],
        "recurrent": [((g, batch, hidden), rates.recurrent)] * depth,
        "between_layers": [((batch, hidden), rates.dropout)] * (depth - 1),
    }
    failures = []
    for field, layers in expected.items():
        reported = getattr(masks, field)
        if len(reported) != len(layers) or any(len(steps_) != steps for steps_ in reported):
            failures.append(f"masks.{field}: {len(reported)} layers of {[len(s) for s in reported]} steps, "
                            f"expected {len(layers)} layers of {steps} steps")
            continue
        for layer, (per_step, (shape, p)) in enumerate(zip(reported, layers)):
            for t, multiplier in enumerate(per_step):
                failures += _multiplier_faults(f"masks.{field}[{layer}][{t}]", multiplier, shape, p)
    return failures


def _same_masks(name: str, got: RecurrentMasks, expected: RecurrentMasks) -> list[str]:
    """A failure at the first multiplier of ``got`` that is not bit for bit that of ``expected``
    (both already of the shapes _mask_faults asks for)."""
    for field in ("inputs", "recurrent", "between_layers"):
        for layer, (per_step, expected_steps) in enumerate(zip(getattr(got, field), getattr(expected, field))):
            for t, (m, e) in enumerate(zip(per_step, expected_steps)):
                faults = _apart(f"{name}: masks.{field}[{layer}][{t}]", m, e, 0.0)
                if faults:
                    return faults
    return []


def _draws_faults(impl: Implementation, semantics: str, cell: str, weights: list[tuple], x: Tensor, seed: int,
                  calls: list[RecurrentMasks], rates: Rates) -> list[str]:
    """The ways ``recurrent_mask_draws`` on a fresh network of ``seed`` and ``rates`` differs from the masks
    ``calls`` that its first two calls reported: the masks it draws must be the first call's, and
    the call that follows it must apply the second call's (RECURRENT-5, RECURRENT-6)."""
    net = _net(impl, semantics, cell, weights, rates, seed)
    drawn = impl.recurrent_mask_draws(net, x.shape, training=True)
    _, following = impl.recurrent_masks(net, x, training=True)
    sizes = x.shape + (weights[0][1].shape[1],) * len(weights)  # (T, B, I, H, ..., H)
    for name, masks in (("recurrent_mask_draws", drawn), ("the second call", calls[1]),
                        ("the call after recurrent_mask_draws", following)):
        faults = _mask_faults(masks, impl, cell, sizes, _rates_of(semantics, rates))
        if faults:
            return [f"{name}: {fault}" for fault in faults]
    return (_same_masks("recurrent_mask_draws vs the masks of the first call", drawn, calls[0])
            + _same_masks("the call after recurrent_mask_draws vs the second call", following, calls[1]))


def _recomputed(impl: Implementation, ctx: Context, semantics: str) -> list[str]:
    """Run one training call of each cell with its masks and compare it with the reference
    recomputed from those masks (RECURRENT-5, RECURRENT-6); with ``recurrent_mask_draws``, hold
    the masks it draws to those the calls apply."""
    rates = _rates_of(semantics, RATES)
    failures = []
    for cell in CELLS:
        weights = network_weights(cell, INPUT, HIDDEN, DEPTH, ctx.seed)
        x = sequence(STEPS, BATCH, INPUT, ctx.seed)
        net = _net(impl, semantics, cell, weights, RATES, ctx.seed)
        y, masks = impl.recurrent_masks(net, x, training=True)
        faults = _mask_faults(masks, impl, cell, (STEPS, BATCH, INPUT) + (HIDDEN,) * DEPTH, rates)
        if not faults:
            expected, _ = _reference(impl, cell, weights).run(x, masks)
            faults = _apart("the output", y, expected)
        if not faults and has_capability(impl, "recurrent_mask_draws"):
            second = impl.recurrent_masks(net, x, training=True)[1]
            faults = _draws_faults(impl, semantics, cell, weights, x, ctx.seed, [masks, second], RATES)
        failures += [f"{semantics}, {cell}: {fault}" for fault in faults]
    return failures


def _recomputed_case(impl: Implementation, case: RecurrentCase) -> list[str]:
    """The judge of a generated case of RECURRENT-5 or RECURRENT-6: the call's multipliers where its
    semantics puts them, and its output the reference's recomputed from them; with
    ``recurrent_mask_draws`` (``case.call`` "draws"), the masks a fresh network draws held to those of
    the first two calls."""
    weights = network_weights(case.cell, case.inputs, case.hidden, case.layers, case.seed)
    x = sequence(case.steps, case.batch, case.inputs, case.seed)
    rates = Rates(*case.rates)
    net = _net(impl, case.semantics, case.cell, weights, rates, case.seed)
    y, masks = impl.recurrent_masks(net, x, training=True)
    sizes = (case.steps, case.batch, case.inputs) + (case.hidden,) * case.layers
    faults = _mask_faults(masks, impl, case.cell, sizes, _rates_of(case.semantics, rates))
    faults = faults or _apart("the output", y, _reference(impl, case.cell, weights).run(x, masks)[0])
    if faults or case.call != "draws":
        return faults
    second = impl.recurrent_masks(net, x, training=True)[1]
    return _draws_faults(impl, case.semantics, case.cell, weights, x, case.seed, [masks, second], rates)


def _placement_cases(impl: Implementation, semantics: str) -> st.SearchStrategy[RecurrentCase]:
    """RECURRENT-5's or RECURRENT-6's generated cases: their snippets show the draws where ``impl`` has
    ``recurrent_mask_draws``, which the judge then holds to the calls."""
    call = "draws" if has_capability(impl, "recurrent_mask_draws") else "masks"
    return recurrent_cases((semantics,), CELLS, call)


# --- exact checks ---------------------------------------------------------------------------------


def _equations(impl: Implementation, ctx: Context, clause: str, cell: str) -> Verdict:
    """Without dropout, the network is the reference's cells stacked (RECURRENT-1, RECURRENT-2). Then
    generated cases: networks of ``cell`` of any sizes and seed, each semantics the implementation has."""
    semantics = _semantics(impl)
    if not semantics:
        return _no_applicable_semantics(clause)
    weights = network_weights(cell, INPUT, HIDDEN, DEPTH, ctx.seed)
    x = sequence(STEPS, BATCH, INPUT, ctx.seed)
    failures = []
    for s in semantics:
        faults = _equation_faults(impl, s, cell, weights, x, ctx.seed)
        failures += [f"{s}, rates 0: {fault}" for fault in faults]
    if not failures:
        failures = search(ctx, recurrent_cases(tuple(semantics), (cell,), "train", st.just(0.0)),
                          lambda case: _equation_case(impl, case))
    return ctx.verdict(clause, failures)


def _equation_faults(impl: Implementation, semantics: str, cell: str, weights: list[tuple], x: Tensor,
                     seed: int) -> list[str]:
    """A failure unless a training call of the network of ``semantics`` with every rate 0 is the
    reference's stack of ``cell`` cells with these weights."""
    expected, _ = LAYERS[cell].from_weights(weights, seed=0)(x, training=False)
    y = _net(impl, semantics, cell, weights, NO_DROPOUT, seed)(x, training=True)
    return _apart(f"the {cell} output", y, expected)


def _equation_case(impl: Implementation, case: RecurrentCase) -> list[str]:
    """The judge of a generated case of RECURRENT-1 or RECURRENT-2 (every rate 0)."""
    weights = network_weights(case.cell, case.inputs, case.hidden, case.layers, case.seed)
    x = sequence(case.steps, case.batch, case.inputs, case.seed)
    return _equation_faults(impl, case.semantics, case.cell, weights, x, case.seed)


@check("RECURRENT-1", needs=())
def check_lstm_equations(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-1: the LSTM, without dropout, computes PyTorch's equations in PyTorch's layout."""
    return _equations(impl, ctx, "RECURRENT-1", "lstm")


@check("RECURRENT-2", needs=())
def check_gru_equations(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-2: the GRU, without dropout, computes PyTorch's equations (reset gate after W_hn h)."""
    return _equations(impl, ctx, "RECURRENT-2", "gru")


@check("RECURRENT-5", needs=("recurrent_between_layers", "recurrent_masks"))
def check_between_layer_placement(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-5: between-layer masks lie on the outputs of layers 0..L-2 only, as m / q."""
    return ctx.verdict("RECURRENT-5", _recomputed(impl, ctx, "between_layers") or search(
        ctx, _placement_cases(impl, "between_layers"), lambda case: _recomputed_case(impl, case)))


@check("RECURRENT-6", needs=("recurrent_variational", "recurrent_masks"))
def check_variational_placement(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-6: variational masks lie on x_t and h_(t-1) before their projections, as m / q,
    one pair shared by every gate or one per gate, as declared."""
    ctx.policy(impl, "gate_masks")
    return ctx.verdict("RECURRENT-6", _recomputed(impl, ctx, "variational") or search(
        ctx, _placement_cases(impl, "variational"), lambda case: _recomputed_case(impl, case)))


def _constant_over_time(name: str, masks: object) -> list[str]:
    """A failure where a variational mask of ``masks`` differs from its step-0 mask at a later step."""
    if not isinstance(masks, RecurrentMasks):
        return [f"{name}: recurrent_masks returned {type(masks).__name__}, not RecurrentMasks"]
    for field in ("inputs", "recurrent"):
        for layer, per_step in enumerate(getattr(masks, field)):
            first = RecurrentMasks.keep(per_step[0]) if per_step else []
            changed = [t for t, m in enumerate(per_step) if RecurrentMasks.keep(m) != first]
            if changed:
                return [f"{name}: masks.{field}[{layer}] differs from its step-0 mask at steps {changed}"]
    return []


def _constant_case(impl: Implementation, case: RecurrentCase) -> list[str]:
    """The judge of a generated case of RECURRENT-7."""
    weights = network_weights(case.cell, case.inputs, case.hidden, case.layers, case.seed)
    x = sequence(case.steps, case.batch, case.inputs, case.seed)
    net = _net(impl, case.semantics, case.cell, weights, Rates(*case.rates), case.seed)
    return _constant_over_time("the call", impl.recurrent_masks(net, x, training=True)[1])


@check("RECURRENT-7", needs=("recurrent_variational", "recurrent_masks"))
def check_variational_masks_constant_over_time(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-7: every variational mask is the same at every time step of a call. Then generated cases
    (either cell, 1 to 17 steps, any batch, sizes, depth, rates and seed)."""
    steps, failures = STEPS + 1, []
    for cell in CELLS:
        weights = network_weights(cell, INPUT, HIDDEN, DEPTH, ctx.seed)
        x = sequence(steps, BATCH, INPUT, ctx.seed)
        _, masks = impl.recurrent_masks(_net(impl, "variational", cell, weights, RATES, ctx.seed), x, training=True)
        failures += _constant_over_time(cell, masks)
    if not failures:
        failures = search(ctx, recurrent_cases(("variational",), CELLS), lambda case: _constant_case(impl, case))
    return ctx.verdict("RECURRENT-7", failures)


def _eval_faults(impl: Implementation, semantics: str, cell: str, weights: list[tuple], x: Tensor, rates: Rates,
                 seed: int) -> list[str]:
    """The ways evaluation of a network of ``rates`` is not the rate-0 network, is not deterministic, or
    moves the masks that training calls draw (RECURRENT-12)."""
    net = _net(impl, semantics, cell, weights, rates, seed)
    evaluated = [net(x, training=False) for _ in range(2)]
    trained = net(x, training=True)
    without = _net(impl, semantics, cell, weights, NO_DROPOUT, seed)(x, training=True)
    fresh = _net(impl, semantics, cell, weights, rates, seed)(x, training=True)
    faults = _apart("eval vs the rate-0 network", evaluated[0], without)
    faults += _apart("a second eval call vs the first", evaluated[1], evaluated[0], 0.0)
    return faults + _apart("a training call after two eval calls vs the first call of a fresh network", trained, fresh,
                           0.0)


def _eval_case(impl: Implementation, case: RecurrentCase) -> list[str]:
    """The judge of a generated case of RECURRENT-12."""
    weights = network_weights(case.cell, case.inputs, case.hidden, case.layers, case.seed)
    x = sequence(case.steps, case.batch, case.inputs, case.seed)
    return _eval_faults(impl, case.semantics, case.cell, weights, x, Rates(*case.rates), case.seed)


@check("RECURRENT-12", needs=())
def check_eval_is_the_network_without_dropout(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-12: evaluation equals the rate-0 network, is deterministic and draws nothing. Then generated
    cases (each semantics the implementation has, either cell, 1 to 17 steps, any batch, sizes, depth, rates
    and seed)."""
    semantics = _semantics(impl)
    if not semantics:
        return _no_applicable_semantics("RECURRENT-12")
    failures = []
    for s in semantics:
        for cell in CELLS:
            weights = network_weights(cell, INPUT, HIDDEN, DEPTH, ctx.seed)
            x = sequence(STEPS, BATCH, INPUT, ctx.seed)
            faults = _eval_faults(impl, s, cell, weights, x, RATES, ctx.seed)
            failures += [f"{s}, {cell}: {fault}" for fault in faults]
    if not failures:
        failures = search(ctx, recurrent_cases(tuple(semantics), CELLS, "eval"), lambda case: _eval_case(impl, case))
    return ctx.verdict("RECURRENT-12", failures)


# RECURRENT-13: x of T x B x I = 3 x 2 x 2 through 2 layers of 3 units, central differences
GRAD_SIZES, GRAD_EPS, GRAD_ATOL, GRAD_RTOL = (3, 2, 2, 3), 1e-6, 1e-5, 1e-3
# the rates of RECURRENT-13's generated cases, in [0.05, 0.95]: a multiplier 1/q of at most 20, so that central
# differences of GRAD_EPS resolve the network (at q = 2^-53 a step of 1e-6 in x moves the next layer's input by
# 9e9). The bounds are written without new literals: Hypothesis mixes the constants of the source it has loaded
# into its draws, and a new one changes the generated cases of every clause
GRAD_RATES = st.sampled_from((0.3, 0.5, 0.7, 1 / 3)) | st.floats(RATES.input / 4, 1 - RATES.input / 4)


def _gradient_faults(impl: Implementation, semantics: str, cell: str, weights: list[tuple], x: Tensor, g: Tensor,
                     rates: Rates, seed: int, direction: Tensor | None = None) -> list[str]:
    """The ways dL/dx of a training call, L = <g, y>, differs from central differences of L over fresh
    networks of ``seed`` (the same masks): element by element, or along ``direction`` where given."""
    def loss(v: list[float]) -> float:
        y = _net(impl, semantics, cell, weights, rates, seed)(Tensor.from_flat(v, x.shape), training=True)
        return math.fsum(a * b for a, b in zip(y.data, g.data))

    def central(step: list[float]) -> float:
        up = [a + GRAD_EPS * d for a, d in zip(x.data, step)]
        down = [a - GRAD_EPS * d for a, d in zip(x.data, step)]
        return (loss(up) - loss(down)) / (2 * GRAD_EPS)

    _, grad = impl.recurrent_vjp(_net(impl, semantics, cell, weights, rates, seed), x, g, training=True)
    if direction is not None:
        analytic, numeric = math.fsum(a * d for a, d in zip(grad.data, direction.data)), central(direction.data)
        if abs(analytic - numeric) <= GRAD_ATOL + GRAD_RTOL * abs(numeric):
            return []
        return [f"<dL/dx, v> is {analytic!r}, central differences along v with the masks held fixed give {numeric!r}"]
    for i in range(x.size):
        numeric = central([float(j == i) for j in range(x.size)])
        if not abs(grad.data[i] - numeric) <= GRAD_ATOL + GRAD_RTOL * abs(numeric):
            return [f"dL/dx element {i} is {grad.data[i]!r}, central differences with the masks held fixed give "
                    f"{numeric!r}"]
    return []


def _gradient_case(impl: Implementation, case: RecurrentCase) -> list[str]:
    """The judge of a generated case of RECURRENT-13: dL/dx along the direction v = sequence(..., stream=3)."""
    weights = network_weights(case.cell, case.inputs, case.hidden, case.layers, case.seed)
    x = sequence(case.steps, case.batch, case.inputs, case.seed)
    g = sequence(case.steps, case.batch, case.hidden, case.seed, stream=2)
    v = sequence(case.steps, case.batch, case.inputs, case.seed, stream=3)
    return _gradient_faults(impl, case.semantics, case.cell, weights, x, g, Rates(*case.rates), case.seed, v)


@check("RECURRENT-13", needs=("recurrent_vjp",))
def check_backpropagation_through_time_uses_the_forward_masks(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-13: dL/dx of a training call equals central differences of L = <g, y(x)> over
    networks with the same seed, hence the same masks. Then generated cases (each semantics the
    implementation has, either cell, 1 to 17 steps, any batch, sizes, depth and seed, rates in [0.05, 0.95]),
    dL/dx along a direction v."""
    semantics = _semantics(impl)
    if not semantics:
        return _no_applicable_semantics("RECURRENT-13")
    steps, batch, size, hidden = GRAD_SIZES
    failures = []
    for s in semantics:
        for cell in CELLS:
            weights = network_weights(cell, size, hidden, DEPTH, ctx.seed)
            x = sequence(steps, batch, size, ctx.seed)
            g = sequence(steps, batch, hidden, ctx.seed, stream=2)
            faults = _gradient_faults(impl, s, cell, weights, x, g, RATES, ctx.seed)
            failures += [f"{s}, {cell}: {fault}" for fault in faults]
    if not failures:
        failures = search(ctx, recurrent_cases(tuple(semantics), CELLS, "vjp", GRAD_RATES),
                          lambda case: _gradient_case(impl, case))
    return ctx.verdict("RECURRENT-13", failures)


# --- statistical checks ---------------------------------------------------------------------------


def _stack_masks(impl: Implementation, semantics: str, *, steps: int, batch: int, depth: int, seed: int, width: int = 1,
                 calls: int = 1) -> Iterator[RecurrentMasks]:
    """The masks of ``calls`` successive training calls of one STATISTICAL_CELL network of ``depth``
    layers of ``width`` inputs and units, one call at a time: one unit is the cheapest network that
    draws the masks. They are drawn without the forward pass (``recurrent_mask_draws``, which
    RECURRENT-5 and RECURRENT-6 hold to the calls) where the implementation can, read off the calls
    otherwise."""
    weights = network_weights(STATISTICAL_CELL, width, width, depth, seed)
    net = _net(impl, semantics, STATISTICAL_CELL, weights, RATES, seed)
    if has_capability(impl, "recurrent_mask_draws"):
        for _ in range(calls):
            yield impl.recurrent_mask_draws(net, (steps, batch, width), training=True)
        return
    x = sequence(steps, batch, width, seed)
    for _ in range(calls):
        yield impl.recurrent_masks(net, x, training=True)[1]


def _in_calls(batch: int, masks_per_item: int) -> tuple[int, int]:
    """(batch of one call, calls) that draw at least ``batch`` items of ``masks_per_item`` mask
    elements each in calls of at most CHUNK // ENGINE_WIDTH elements (the masks are engine tensors): one
    call of ``batch`` when it fits (every sample of the quick and standard profiles: their data unchanged),
    else successive calls of one network, each drawing fresh masks (the deep profile, by design; spec/stats.md)."""
    per_call = min(batch, max(sampling.CHUNK // sampling.ENGINE_WIDTH // masks_per_item, 1))
    return per_call, -(-batch // per_call)


# between-layer masks over FRESH_STEPS steps: the transitions t -> t + 1 for t = 0, 1, 2, the first
# step's and two after it, so that a mask drawn afresh at step 1 only, or every other step, is seen
FRESH_STEPS = 4


@check("RECURRENT-8", needs=("recurrent_between_layers", "recurrent_masks"), decisions=FRESH_STEPS - 1)
def check_between_layer_masks_fresh_every_step(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-8: a unit's between-layer masks at steps t and t + 1 are independent, t = 0 .. FRESH_STEPS - 2."""
    (masks,) = _stack_masks(impl, "between_layers", steps=FRESH_STEPS, batch=independence_pairs(ctx.plan), depth=2,
                            seed=ctx.seed)
    steps = [RecurrentMasks.keep(m) for m in masks.between_layers[0]]
    failures: list[str] = []
    for t in range(FRESH_STEPS - 1):
        judge(ctx, f"RECURRENT-8 between-layer masks at steps {t} and {t + 1}",
              successive_independence_test(steps[t:t + 2], alpha=ctx.alpha), failures)
    return ctx.verdict("RECURRENT-8", failures)


# between-layer keep rates: a stack of KEEP_RATE_DEPTH layers has KEEP_RATE_DEPTH - 1 masks per step
KEEP_RATE_DEPTH = 4


def _kept(multiplier: Tensor) -> int:
    """How many units a multiplier keeps (RecurrentMasks.keep's ones), counted at C speed: its nonzero
    elements, NaN included."""
    return len(multiplier.data) - multiplier.data.count(0.0)


# RECURRENT-9 counts each call's masks through map, not a for loop: a loop's variable would keep one call's
# masks (engine tensors, about 0.5 GiB a call at deep) while the next call draws its own (issue 15)


def _between_counts(masks: RecurrentMasks) -> tuple[int, int]:
    """(kept, elements) of one call's between-layer multipliers."""
    multipliers = [m for per_step in masks.between_layers for m in per_step]
    return sum(map(_kept, multipliers)), sum(len(m.data) for m in multipliers)


def _variational_counts(masks: RecurrentMasks) -> tuple[int, int, int, int]:
    """(kept, elements) of one call's input multipliers, then of its recurrent ones: drawn once per call,
    step 0 holds them."""
    inputs, recurrent = masks.inputs[0][0], masks.recurrent[0][0]
    return _kept(inputs), len(inputs.data), _kept(recurrent), len(recurrent.data)


@check("RECURRENT-9", needs=("recurrent_masks",), decisions=3)
def check_keep_rates(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-9: between-layer, input and recurrent masks keep at q of their own rate."""
    semantics = _semantics(impl)
    if not semantics:
        return _no_applicable_semantics("RECURRENT-9")
    n, failures = ctx.plan.n, []
    if "between_layers" in semantics:
        per_item = KEEP_RATE_DEPTH - 1  # between-layer masks of a batch item: every layer's but the last
        batch, calls = _in_calls(-(-n // per_item), per_item)
        kept, total = map(sum, zip(*map(_between_counts, _stack_masks(
            impl, "between_layers", steps=1, batch=batch, depth=KEEP_RATE_DEPTH, seed=ctx.seed, calls=calls))))
        judge(ctx, f"RECURRENT-9 between-layer keep rate, p = {RATES.dropout}",
               binomial_test(kept, total, 1.0 - RATES.dropout, alpha=ctx.alpha), failures)
    if "variational" in semantics:
        groups = _groups(impl, STATISTICAL_CELL)
        batch, calls = _in_calls(-(-n // groups), groups)
        sums = tuple(map(sum, zip(*map(_variational_counts, _stack_masks(
            impl, "variational", steps=1, batch=batch, depth=1, seed=ctx.seed, calls=calls)))))
        for (field, p), (kept, total) in zip((("inputs", RATES.input), ("recurrent", RATES.recurrent)),
                                             (sums[:2], sums[2:])):
            judge(ctx, f"RECURRENT-9 {field} keep rate, p = {p}",
                   binomial_test(kept, total, 1.0 - p, alpha=ctx.alpha), failures)
    return ctx.verdict("RECURRENT-9", failures)


# batch pairs: a mask shared by the batch repeats across b but varies across units, so the pairs
# (b, j), (b + 1, j) are taken over BATCH_PAIR_WIDTH units j
BATCH_PAIR_WIDTH = 64


@check("RECURRENT-10", needs=("recurrent_masks",), decisions=5)
def check_masks_independent_across_batch_and_gates(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-10: masks of batch elements b and b + 1, and of gates g and g + 1, are independent."""
    semantics = _semantics(impl)
    if not semantics:
        return _no_applicable_semantics("RECURRENT-10")
    pairs, width, failures = independence_pairs(ctx.plan), BATCH_PAIR_WIDTH, []
    if "between_layers" in semantics:
        batch = 2 * -(-pairs // width)
        (masks,) = _stack_masks(impl, "between_layers", steps=1, batch=batch, depth=2, seed=ctx.seed, width=width)
        judge(ctx, "RECURRENT-10 between-layer masks of batch elements b and b + 1",
               lag_independence_test(RecurrentMasks.keep(masks.between_layers[0][0]), width, alpha=ctx.alpha),
               failures)
    if "variational" in semantics:
        groups = _groups(impl, STATISTICAL_CELL)
        batch = 2 * -(-pairs // (width * groups))
        (masks,) = _stack_masks(impl, "variational", steps=1, batch=batch, depth=1, seed=ctx.seed, width=width)
        for field in ("inputs", "recurrent"):
            keep = RecurrentMasks.keep(getattr(masks, field)[0][0])  # (G, B, width), row-major
            judge(ctx, f"RECURRENT-10 {field} masks of batch elements b and b + 1",
                   lag_independence_test(keep, width, alpha=ctx.alpha), failures)
            if groups > 1:  # pairs (g, b, j), (g + 1, b, j) for even g
                judge(ctx, f"RECURRENT-10 {field} masks of gates g and g + 1",
                       lag_independence_test(keep, batch * width, alpha=ctx.alpha), failures)
    return ctx.verdict("RECURRENT-10", failures)


@check("RECURRENT-11", needs=("recurrent_masks",), decisions=3)
def check_masks_independent_across_calls(impl: Implementation, ctx: Context) -> Verdict:
    """RECURRENT-11: the masks of two successive calls of one network are independent."""
    semantics = _semantics(impl)
    if not semantics:
        return _no_applicable_semantics("RECURRENT-11")
    pairs, failures = independence_pairs(ctx.plan), []
    if "between_layers" in semantics:
        calls = list(_stack_masks(impl, "between_layers", steps=1, batch=pairs, depth=2, seed=ctx.seed, calls=2))
        judge(ctx, "RECURRENT-11 between-layer masks of calls 1 and 2",
               successive_independence_test([RecurrentMasks.keep(m.between_layers[0][0]) for m in calls],
                                            alpha=ctx.alpha), failures)
    if "variational" in semantics:
        batch = -(-pairs // _groups(impl, STATISTICAL_CELL))
        calls = list(_stack_masks(impl, "variational", steps=1, batch=batch, depth=1, seed=ctx.seed, calls=2))
        for field in ("inputs", "recurrent"):
            judge(ctx, f"RECURRENT-11 {field} masks of calls 1 and 2",
                   successive_independence_test([RecurrentMasks.keep(getattr(m, field)[0][0]) for m in calls],
                                                alpha=ctx.alpha), failures)
    return ctx.verdict("RECURRENT-11", failures)
