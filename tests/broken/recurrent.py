"""Broken implementations for spec/recurrent.md: each gets one thing about recurrent dropout wrong.

Each is the reference with one method, one declaration or one layer behaviour changed (a mixin
over the reference's LSTM and GRU layers), so a failing check names exactly that fault. The ones
that model public bugs are mutants of refdropout.mutants.structure.
"""

from __future__ import annotations

from collections.abc import Sequence

from refdropout import ops
from refdropout.adapters.reference import ReferenceDropout
from refdropout.contract import Policies
from refdropout.functional import dropout
from refdropout.mutants.structure import layers_with, step_masks
from refdropout.nn.recurrent import GRU, RecurrentLayer, RecurrentMasks
from refdropout.nn.rnn_cells import GRUCell, project
from refdropout.tensor import Tensor

# --- cell equations (RECURRENT-1, RECURRENT-2) ----------------------------------------------------


class GateOrderIGFO(ReferenceDropout):
    """Reads the LSTM's gate blocks in TensorFlow 1's order i, g, f, o instead of PyTorch's i, f, g, o."""

    name = "gate-order-igfo"

    @staticmethod
    def _swapped(cell: str, layers: Sequence[tuple]) -> list[tuple]:
        if cell != "lstm":
            return list(layers)

        def reorder(t: Tensor) -> Tensor:
            h = t.shape[0] // 4
            return ops.concatenate([t[0:h], t[2 * h : 3 * h], t[h : 2 * h], t[3 * h :]])

        return [tuple(reorder(t) for t in layer) for layer in layers]

    def recurrent_between_layers(self, cell, layers, p, *, seed):
        return super().recurrent_between_layers(cell, self._swapped(cell, layers), p, seed=seed)

    def recurrent_variational(self, cell, layers, input_p, recurrent_p, *, seed):
        return super().recurrent_variational(cell, self._swapped(cell, layers), input_p, recurrent_p, seed=seed)


class _ResetBeforeCell(GRUCell):
    def step(self, x, state, x_masks=None, h_masks=None, weights=None):
        w = self.gate_weights() if weights is None else weights
        x_r, x_z, x_n = project(x, x_masks, w.ih, w.bias_ih)
        h_r, h_z, _ = project(state, h_masks, w.hh, w.bias_hh)
        r, z = ops.sigmoid(x_r + h_r), ops.sigmoid(x_z + h_z)
        n = ops.tanh(x_n + ops.matmul(r * state, w.hh[2]) + w.bias_hh[2])
        return (1.0 - z) * n + z * state


class _ResetBeforeGRU(GRU):
    cell = _ResetBeforeCell


class ResetBeforeProjection(ReferenceDropout):
    """GRU of Cho et al. 2014 (Keras reset_after=False): n = tanh(W_in x + b_in + W_hn (r h) + b_hn)."""

    name = "reset-before-projection"
    recurrent_layers = {**ReferenceDropout.recurrent_layers, "gru": _ResetBeforeGRU}


# --- where the masks lie (RECURRENT-5, RECURRENT-6) -----------------------------------------------


class _DropsLastLayer:
    def forward(self, x, state=None, *, training):
        y, final, masks = super().forward(x, state, training=training)
        return dropout(y, self.dropout, training=training, generator=self.generator), final, masks


class DropsLastLayer(ReferenceDropout):
    """Between-layer dropout on the last layer's outputs too, a mask it does not report."""

    name = "drops-last-layer"
    recurrent_layers = layers_with(_DropsLastLayer)


class _ReportsEightStepsOfMasks:
    def forward(self, x, state=None, *, training):
        y, final, masks = super().forward(x, state, training=training)
        held = tuple(per_step[:8] + (per_step[7],) * (len(per_step) - 8) if len(per_step) > 8 else per_step
                     for per_step in masks.between_layers)
        return y, final, RecurrentMasks(masks.inputs, masks.recurrent, held)


class ReportsEightStepsOfMasks(ReferenceDropout):
    """Applies a fresh between-layer mask at every step but reports, past step 8, the mask of step 7 again,
    as a kernel that keeps the masks it applied in a buffer of 8 steps (the fixed cases' sequences have 4)."""

    name = "reports-eight-steps-of-masks"
    recurrent_layers = layers_with(_ReportsEightStepsOfMasks)


class _ReportsTwoLayersOfInputMasks:
    def forward(self, x, state=None, *, training):
        y, final, masks = super().forward(x, state, training=training)
        if len(masks.inputs) <= 2:
            return y, final, masks
        inputs = masks.inputs[:2] + (masks.inputs[1],) * (len(masks.inputs) - 2)
        return y, final, RecurrentMasks(inputs, masks.recurrent, masks.between_layers)


class ReportsTwoLayersOfInputMasks(ReferenceDropout):
    """Applies a variational input mask of its own in every layer but reports, for layers past the second,
    the second layer's again, as a kernel that keeps its masks for two layers (the fixed cases have two)."""

    name = "reports-two-layers-of-input-masks"
    recurrent_between_layers = None
    recurrent_layers = layers_with(_ReportsTwoLayersOfInputMasks)


class _CarriedStateMaskedCell(GRUCell):
    def step(self, x, state, x_masks=None, h_masks=None, weights=None):
        masked = state if h_masks is None else state * h_masks[0]
        return super().step(x, masked, x_masks, None, weights)


class _CarriedStateMaskedGRU(GRU):
    cell = _CarriedStateMaskedCell


class CarriedStateMasked(ReferenceDropout):
    """The GRU's recurrent mask also thins the state it carries: h' = (1 - z) n + z (h m / q)."""

    name = "carried-state-masked"
    recurrent_layers = {**ReferenceDropout.recurrent_layers, "gru": _CarriedStateMaskedGRU}


class PerGateMisdeclared(ReferenceDropout):
    """Declares one mask per gate, but all gates share one."""

    name = "per-gate-misdeclared"

    def __init__(self) -> None:
        super().__init__(gate_masks="shared")
        self.policies = Policies(gate_masks="per_gate")

    def recurrent_variational(self, cell, layers, input_p, recurrent_p, *, seed):
        return ReferenceDropout().recurrent_variational(cell, layers, input_p, recurrent_p, seed=seed)


# --- how masks repeat (RECURRENT-7, RECURRENT-8, RECURRENT-10, RECURRENT-11) ----------------------


class _HeldOverTime:
    def draw_masks(self, steps, batch):
        return step_masks([super().draw_masks(1, batch)] * steps)


class BetweenLayerMaskHeldOverTime(ReferenceDropout):
    """Between-layer masks drawn once per sequence and reused at every step."""

    name = "between-layer-mask-held-over-time"
    recurrent_layers = layers_with(_HeldOverTime)


class _RedrawnEveryEightSteps:
    def draw_masks(self, steps, batch):
        blocks = [super(_RedrawnEveryEightSteps, self).draw_masks(1, batch) for _ in range(0, steps, 8)]
        return step_masks([blocks[t // 8] for t in range(steps)])


class VariationalMasksRedrawnEveryEightSteps(ReferenceDropout):
    """Variational masks drawn afresh for every block of 8 time steps, as a kernel that runs a long sequence
    in blocks and draws its masks per block (the fixed cases' sequences have 5 steps)."""

    name = "variational-masks-redrawn-every-eight-steps"
    recurrent_layers = layers_with(_RedrawnEveryEightSteps)


# --- masks drawn without the forward pass, held to the calls (RECURRENT-5, RECURRENT-6) -------------


class MaskDrawsDisagreeWithCalls(BetweenLayerMaskHeldOverTime):
    """Its calls hold between-layer masks over time, but recurrent_mask_draws reports masks drawn
    afresh at every step: a masks-only path that is not the forward's, which RECURRENT-8 would trust."""

    name = "mask-draws-disagree-with-calls"

    def recurrent_mask_draws(self, net, x_shape, *, training):
        return RecurrentLayer.draw_masks(net.layer, x_shape[0], x_shape[1])  # the reference's, not the layer's


class MaskDrawsLeaveTheStateBehind(ReferenceDropout):
    """recurrent_mask_draws draws from a copy of the network's generator: the call after it draws
    the masks it reported again, not the masks a second call draws."""

    name = "mask-draws-leave-the-state-behind"

    def recurrent_mask_draws(self, net, x_shape, *, training):
        generator = net.layer.generator
        net.layer.generator = generator.copy()
        try:
            return super().recurrent_mask_draws(net, x_shape, training=training)
        finally:
            net.layer.generator = generator


class _SharedAcrossBatch:
    def draw_masks(self, steps, batch):
        one = super().draw_masks(steps, 1)

        def spread(field: str) -> tuple:
            return tuple(tuple(ops.broadcast_to(m, m.shape[:-2] + (batch, m.shape[-1])) for m in per_step)
                         for per_step in getattr(one, field))

        return RecurrentMasks(spread("inputs"), spread("recurrent"), spread("between_layers"))


class BatchSharedMasks(ReferenceDropout):
    """One mask for the whole batch, broadcast over its elements (noise_shape (1, features))."""

    name = "batch-shared-masks"
    recurrent_layers = layers_with(_SharedAcrossBatch)


# --- keep rates (RECURRENT-9) ---------------------------------------------------------------------


class SwappedRates(ReferenceDropout):
    """Variational only: drops the inputs at the recurrent rate and the state at the input rate."""

    name = "swapped-rates"
    recurrent_between_layers = None

    def recurrent_variational(self, cell, layers, input_p, recurrent_p, *, seed):
        return super().recurrent_variational(cell, layers, recurrent_p, input_p, seed=seed)


class BetweenLayerKeepsAtP(ReferenceDropout):
    """Between layers only: keeps with probability p instead of dropping with it."""

    name = "between-layer-keeps-at-p"
    recurrent_variational = None

    def recurrent_between_layers(self, cell, layers, p, *, seed):
        return super().recurrent_between_layers(cell, layers, 1.0 - p, seed=seed)


# --- evaluation (RECURRENT-12) --------------------------------------------------------------------


class _DrawsInEval:
    def forward(self, x, state=None, *, training):
        if not training:
            self.draw_masks(x.shape[0], x.shape[1])  # drawn, then thrown away
        return super().forward(x, state, training=training)


class DrawsInEval(ReferenceDropout):
    """Evaluation calls apply no dropout but draw masks, advancing the generator."""

    name = "draws-in-eval"
    recurrent_layers = layers_with(_DrawsInEval)


class _DrawsInEvalOnLongSequences:
    def forward(self, x, state=None, *, training):
        if not training and x.shape[0] > 8:
            self.draw_masks(x.shape[0], x.shape[1])  # drawn, then thrown away
        return super().forward(x, state, training=training)


class DrawsInEvalOnLongSequences(ReferenceDropout):
    """Evaluation calls on sequences of more than 8 steps draw masks, advancing the generator, as a kernel
    whose long-sequence path draws before it checks the mode (the fixed cases' sequences have 4 steps)."""

    name = "draws-in-eval-on-long-sequences"
    recurrent_layers = layers_with(_DrawsInEvalOnLongSequences)


class _MaskDrawsOfFourStepsAndTwoLayers:
    def mask_draws(self, x_shape, *, training=None):
        drawn = super().mask_draws(x_shape, training=training)
        between = tuple(per_step[:4] + (per_step[3],) * (len(per_step) - 4) if len(per_step) > 4 else per_step
                        for per_step in drawn.between_layers)
        inputs = drawn.inputs[:2] + (drawn.inputs[1],) * (len(drawn.inputs) - 2) if len(drawn.inputs) > 2 else \
            drawn.inputs
        return RecurrentMasks(inputs, drawn.recurrent, between)


class MaskDrawsOfFourStepsAndTwoLayers(ReferenceDropout):
    """recurrent_mask_draws draws what a call draws but reports, past step 4, the between-layer mask of step 3
    again, and for layers past the second the second layer's input mask: a masks-only path with buffers sized
    for the fixed cases (4 steps, 2 layers), whose masks the statistical checks would trust."""

    name = "mask-draws-of-four-steps-and-two-layers"
    recurrent_layers = layers_with(_MaskDrawsOfFourStepsAndTwoLayers)


# --- stacking and sequences (RECURRENT-1, RECURRENT-2 over generated networks) --------------------------


class _StateResetEveryEightSteps:
    def run(self, x, masks, state=None):
        if x.shape[0] <= 8:
            return super().run(x, masks, state)
        head = RecurrentMasks(*(tuple(per_step[:8] for per_step in getattr(masks, field))
                                for field in ("inputs", "recurrent", "between_layers")))
        tail = RecurrentMasks(*(tuple(per_step[8:] for per_step in getattr(masks, field))
                                for field in ("inputs", "recurrent", "between_layers")))
        first, _ = super().run(x[:8], head, state)
        rest, final = super().run(x[8:], tail)  # the state of step 7 forgotten: zeros again
        return ops.concatenate([first, rest]), final


class StateResetEveryEightSteps(ReferenceDropout):
    """Runs sequences in chunks of 8 steps and starts each chunk from the zero state, as a kernel that tiles
    time and forgets to carry the state across tiles (the fixed cases' sequences have 4 steps)."""

    name = "state-reset-every-eight-steps"
    recurrent_layers = layers_with(_StateResetEveryEightSteps)


# --- backpropagation through time (RECURRENT-13) --------------------------------------------------


class RecomputedWithFreshMasks(ReferenceDropout):
    """Backward recomputes the forward pass with the generator's next masks (checkpointing that does
    not restore the random state)."""

    name = "recomputed-with-fresh-masks"

    def recurrent_vjp(self, net, x, g, *, training):
        y = net(x, training=training)
        return y, super().recurrent_vjp(net, x, g, training=training)[1]


class RecomputedWithFreshMasksOnLongSequences(ReferenceDropout):
    """Backward of a sequence of more than 8 steps recomputes the forward pass with the generator's next
    masks, as a checkpointed BPTT whose window is 8 steps and that does not restore the random state (the
    fixed case has 3 steps)."""

    name = "recomputed-with-fresh-masks-on-long-sequences"

    def recurrent_vjp(self, net, x, g, *, training):
        if x.shape[0] <= 8:
            return super().recurrent_vjp(net, x, g, training=training)
        y = net(x, training=training)
        return y, super().recurrent_vjp(net, x, g, training=training)[1]
