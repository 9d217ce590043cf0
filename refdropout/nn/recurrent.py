"""Multi-layer LSTM and GRU layers with both recurrent dropout semantics (spec/recurrent.md).

A layer runs L cells (refdropout.nn.rnn_cells) over a sequence x of shape (T, B, I), layer l + 1
reading the outputs of layer l, and returns the last layer's outputs (T, B, H) and the final
state of every layer. Each semantics of dropout has its own arguments, so that a rate never
changes meaning with another argument (RECURRENT-4):

* ``dropout`` — between layers, PyTorch's ``dropout``: the outputs of every layer but the last
  are multiplied by a mask drawn afresh at every time step, before the next layer reads them
  (RECURRENT-5, RECURRENT-8).
* ``input_dropout`` and ``recurrent_dropout`` — variational (Gal and Ghahramani 2016), Keras's
  ``dropout`` and ``recurrent_dropout``: every layer multiplies its input x_t and its state
  h_(t-1) by masks drawn once per call, one per batch element, and reused at every time step
  (RECURRENT-6, RECURRENT-7). ``gate_masks="shared"`` uses one mask on x and one on h for all
  gates (Keras 3; tf.keras with implementation=2); ``"per_gate"`` one of each per gate (Gal and
  Ghahramani's untied form; tf.keras with implementation=1).

A mask multiplies by m / q: 0 where a unit is dropped and 1/q where it is kept (inverted
dropout). Calling a layer with ``return_masks=True`` also returns the multipliers it applied
(:class:`RecurrentMasks`), and :meth:`RecurrentLayer.run` computes the layer under given
multipliers, so that every mask is observable and every output reproducible from its masks.
:meth:`RecurrentLayer.mask_draws` gives the masks of a call without computing it: a call and a
masks-only draw take their masks from one method, :meth:`RecurrentLayer.masks`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .. import ops
from ..functional.arguments import check_choice, check_flag, check_input, check_int, check_rate, resolve_generator
from ..random import Generator
from ..tensor import Tensor
from .init import child_seed
from .modes import resolve_mode
from .module import Module
from .rnn_cells import GRUCell, LSTMCell, RecurrentCell

__all__ = ["LSTM", "GRU", "RecurrentLayer", "RecurrentMasks", "GATE_MASKS", "MASK_STREAM"]

GATE_MASKS = ("shared", "per_gate")
MASK_STREAM = 2**32 - 1  # Generator(seed).fold_in(MASK_STREAM) draws the masks; fold_in(l) seeds cell l

Steps = tuple[Tensor, ...]


@dataclass(frozen=True)
class RecurrentMasks:
    """The multipliers one call applied, per layer l and time step t: 0 where a unit was dropped,
    1/q where it was kept, 1 where no dropout applied (evaluation, or a rate of 0).

    ``inputs[l][t]``: (G, B, I_l) on x_t, the input of layer l at step t;
    ``recurrent[l][t]``: (G, B, H) on h_(t-1) of layer l at step t;
    ``between_layers[l][t]``: (B, H) on the output of layer l at step t, for l < L - 1.
    G is 1 when every gate shares one mask and the number of gates under per-gate masks.
    """

    inputs: tuple[Steps, ...]
    recurrent: tuple[Steps, ...]
    between_layers: tuple[Steps, ...]

    @staticmethod
    def keep(multiplier: Tensor) -> list[int]:
        """The keep mask of a multiplier, flat: 1 where the unit was kept, 0 where it was dropped."""
        return [int(v != 0.0) for v in multiplier.data]


def _constant(value: float, shape: tuple[int, ...]) -> Tensor:
    return Tensor.from_flat([value] * math.prod(shape), shape)


def _multiplier(generator: Generator, shape: tuple[int, ...], p: float) -> Tensor:
    """m / q with m ~ Bernoulli(q) elementwise, one draw; no draw when p is 0 (all 1) or 1 (all 0)."""
    if p in (0.0, 1.0):
        return _constant(1.0 - p, shape)
    q = 1.0 - p
    kept = 1.0 / q  # one float shared by every kept element: m / q is 1 / q or 0
    return Tensor.from_flat([kept if m else 0.0 for m in generator.bernoulli(shape, q).data], shape)


def _leading_slices(constant: Tensor) -> list[Tensor]:
    """t[0], t[1], ... of a tensor that records no gradient (a mask), without a graph node."""
    n, shape = constant.shape[0], constant.shape[1:]
    size = math.prod(shape)
    return [Tensor.from_flat(constant.data[k * size : (k + 1) * size], shape, constant.dtype) for k in range(n)]


class _GateSplit:
    """A (G, B, n) multiplier as its G (B, n) slices, each distinct tensor split once: a mask
    reused at every step is split once per call, not once per step."""

    def __init__(self) -> None:
        self._split: dict[int, tuple[Tensor, list[Tensor]]] = {}

    def __call__(self, multiplier: Tensor) -> list[Tensor]:
        if id(multiplier) not in self._split:  # the tensor is kept with its slices, so its id stays its own
            self._split[id(multiplier)] = (multiplier, _leading_slices(multiplier))
        return self._split[id(multiplier)][1]


class RecurrentLayer(Module):
    """A stack of ``num_layers`` recurrent cells unrolled over time; see the module docstring.

    Cell l is seeded from ``Generator(seed).fold_in(l)``; masks are drawn from ``generator``, or
    from ``Generator(seed).fold_in(MASK_STREAM)`` when none is given.
    """

    cell: type[RecurrentCell]

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        *,
        bias: bool = True,
        dropout: float = 0.0,
        input_dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        gate_masks: str = "shared",
        seed: int,
        generator: Generator | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        check_int(input_size, name, "input_size", 1)  # refused in the layer's terms, not its cells'
        check_int(hidden_size, name, "hidden_size", 1)
        num_layers = check_int(num_layers, name, "num_layers", 1)
        check_flag(bias, name, "bias")
        self.dropout = check_rate(dropout, name, "dropout")
        self.input_dropout = check_rate(input_dropout, name, "input_dropout")
        self.recurrent_dropout = check_rate(recurrent_dropout, name, "recurrent_dropout")
        self.gate_masks = check_choice(gate_masks, GATE_MASKS, name, "gate_masks")
        if self.dropout > 0 and num_layers == 1:  # PyTorch's warning, word for word
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                          UserWarning, stacklevel=2)
        root = Generator(seed)
        for depth in range(num_layers):
            cell = type(self).cell(input_size if depth == 0 else hidden_size, hidden_size, bias=bias,
                                   seed=child_seed(root, depth))
            setattr(self, f"cell{depth}", cell)
        self.input_size, self.hidden_size, self.num_layers, self.bias = input_size, hidden_size, num_layers, bias
        self.generator = resolve_generator(None, root.fold_in(MASK_STREAM) if generator is None else generator, name)

    @classmethod
    def from_weights(cls, layers: Sequence[Sequence[Tensor | None]], **options: Any) -> RecurrentLayer:
        """A layer whose cell l has the weights ``layers[l] = (W_ih, W_hh, b_ih, b_hh)`` (PyTorch's
        layout; biases both None for a layer without bias); ``options`` as for the constructor."""
        if not layers or len(layers[0]) != 4 or not all(isinstance(w, Tensor) for w in layers[0][:2]):
            raise ValueError(f"{cls.__name__}.from_weights: layers must hold one (W_ih, W_hh, b_ih, b_hh) per layer")
        weight_ih, weight_hh, bias_ih, _ = layers[0]
        layer = cls(weight_ih.shape[1], weight_hh.shape[1], len(layers), bias=bias_ih is not None, **options)
        layer.load_weights(layers)
        return layer

    def load_weights(self, layers: Sequence[Sequence[Tensor | None]]) -> None:
        """Use ``layers[l] = (W_ih, W_hh, b_ih, b_hh)`` as the weights of cell l, shapes checked."""
        name = type(self).__name__
        if len(layers) != self.num_layers:
            raise ValueError(f"{name}.load_weights: {len(layers)} layers of weights given for {self.num_layers} layers")
        for depth, (cell, weights) in enumerate(zip(self.cells(), layers)):
            if len(weights) != 4:
                raise ValueError(f"{name}.load_weights: layer {depth} must give (W_ih, W_hh, b_ih, b_hh), "
                                 f"got {len(weights)} tensors")
            for attribute, old, new in zip(("weight_ih", "weight_hh", "bias_ih", "bias_hh"), cell.weights(), weights):
                if (new is None) != (old is None) or (new is not None and getattr(new, "shape", None) != old.shape):
                    expected = "None" if old is None else f"a Tensor of shape {old.shape}"
                    got = "None" if new is None else f"{getattr(new, 'shape', type(new).__name__)}"
                    raise ValueError(f"{name}.load_weights: layer {depth}'s {attribute} must be {expected}, got {got}")
                setattr(cell, attribute, new)

    def cells(self) -> list[RecurrentCell]:
        return list(self.children())

    # ---- masks -------------------------------------------------------------------------------

    def _groups(self) -> int:
        """G: how many masks lie on one input of a cell (1, or one per gate)."""
        return 1 if self.gate_masks == "shared" else len(self.cell.gates)

    def draw_masks(self, steps: int, batch: int) -> RecurrentMasks:
        """The masks of one training call, drawn from the layer's generator layer by layer: layer
        l's input mask (G, B, I_l), its recurrent mask (G, B, H), then, for l < L - 1, the masks of
        its outputs at every step (T, B, H). A rate of 0 or 1 draws nothing."""
        g, h = self._groups(), self.hidden_size
        inputs, recurrent, between = [], [], []
        for depth, cell in enumerate(self.cells()):
            x_mask = _multiplier(self.generator, (g, batch, cell.input_size), self.input_dropout)
            h_mask = _multiplier(self.generator, (g, batch, h), self.recurrent_dropout)
            inputs.append((x_mask,) * steps)  # one mask per sequence, reused at every step
            recurrent.append((h_mask,) * steps)
            if depth < self.num_layers - 1:
                fresh = _multiplier(self.generator, (steps, batch, h), self.dropout)  # a new mask every step
                between.append(tuple(_leading_slices(fresh)))
        return RecurrentMasks(tuple(inputs), tuple(recurrent), tuple(between))

    def no_masks(self, steps: int, batch: int) -> RecurrentMasks:
        """Multipliers of 1 everywhere: what an evaluation call applies. Nothing is drawn."""
        g, h = self._groups(), self.hidden_size
        ones = _constant(1.0, (batch, h))
        return RecurrentMasks(
            tuple((_constant(1.0, (g, batch, cell.input_size)),) * steps for cell in self.cells()),
            tuple((_constant(1.0, (g, batch, h)),) * steps for _ in range(self.num_layers)),
            tuple((ones,) * steps for _ in range(self.num_layers - 1)),
        )

    def masks(self, steps: int, batch: int, *, training: bool) -> RecurrentMasks:
        """The multipliers of one call of ``steps`` steps on ``batch`` elements: drawn in training
        (:meth:`draw_masks`), all 1 in evaluation (:meth:`no_masks`). A call (:meth:`forward`) and a
        masks-only draw (:meth:`mask_draws`) both take their masks here, so they cannot differ."""
        return self.draw_masks(steps, batch) if training else self.no_masks(steps, batch)

    def mask_draws(self, x_shape: Sequence[int], *, training: bool | None = None) -> RecurrentMasks:
        """The masks a call on an x of shape ``x_shape`` (T, B, I) would apply, drawn from the
        layer's generator as that call draws them, without computing the call: the next call draws
        what it would have drawn after the call (RECURRENT-3). ``training`` resolves as a call's
        mode does (refdropout.nn.modes); x_shape is refused as the call refuses its x."""
        name = type(self).__name__
        if not isinstance(x_shape, (tuple, list)):
            raise TypeError(f"{name}.mask_draws: x_shape must be a tuple (steps, batch, {self.input_size}), "
                            f"got {type(x_shape).__name__}")
        shape = tuple(check_int(n, f"{name}.mask_draws", f"x_shape[{i}]", 0) for i, n in enumerate(x_shape))
        steps, batch = self._steps_and_batch(shape)
        return self.masks(steps, batch, training=resolve_mode(training, self.training))

    def _check_masks(self, masks: RecurrentMasks, steps: int, batch: int) -> None:
        name = type(self).__name__
        if not isinstance(masks, RecurrentMasks):
            raise TypeError(f"{name}.run: masks must be RecurrentMasks, got {type(masks).__name__}")
        g, h = self._groups(), self.hidden_size
        expected = {
            "inputs": [(g, batch, cell.input_size) for cell in self.cells()],
            "recurrent": [(g, batch, h)] * self.num_layers,
            "between_layers": [(batch, h)] * (self.num_layers - 1),
        }
        for field, shapes in expected.items():
            per_layer = getattr(masks, field)
            if len(per_layer) != len(shapes) or any(len(m) != steps for m in per_layer):
                raise ValueError(f"{name}.run: masks.{field} must hold {len(shapes)} layers of {steps} steps")
            for depth, (layer_masks, shape) in enumerate(zip(per_layer, shapes)):
                for t, m in enumerate(layer_masks):
                    if m.shape != shape:
                        raise ValueError(f"{name}.run: masks.{field}[{depth}][{t}] must have shape {shape},"
                                         f" got {m.shape}")

    # ---- computing -------------------------------------------------------------------------

    def _steps_and_batch(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """(T, B) of a sequence of ``shape``, refused unless it is (T, B, I) with T >= 1."""
        name = type(self).__name__
        if len(shape) != 3 or shape[2] != self.input_size:
            raise ValueError(f"{name}: x must have shape (steps, batch, {self.input_size}), got {shape}")
        if shape[0] == 0:  # PyTorch refuses it too: there is no last step to take h_n from
            raise ValueError(f"{name}: x has 0 time steps (shape {shape}); a sequence needs at least one")
        return shape[0], shape[1]

    def run(self, x: Tensor, masks: RecurrentMasks, state: Any = None) -> tuple[Tensor, Any]:
        """The outputs (T, B, H) and final state of the layer on x (T, B, I) under the multipliers
        ``masks``: what a call computes once its masks are drawn."""
        steps, batch = self._steps_and_batch(check_input(x, type(self).__name__).shape)
        self._check_masks(masks, steps, batch)
        by_gate = _GateSplit()
        inputs = [x[t] for t in range(steps)]
        finals = []
        for depth, (cell, s) in enumerate(zip(self.cells(), self._initial(state, batch))):
            weights, outputs = cell.gate_weights(), []
            for t in range(steps):
                s = cell.step(inputs[t], s, by_gate(masks.inputs[depth][t]), by_gate(masks.recurrent[depth][t]),
                              weights)
                outputs.append(cell.hidden(s))
            finals.append(s)
            between = depth < self.num_layers - 1
            inputs = [h * m for h, m in zip(outputs, masks.between_layers[depth])] if between else outputs
        return ops.stack(inputs), self._final(finals)

    def forward(self, x: Tensor, state: Any = None, *, training: bool) -> tuple[Tensor, Any, RecurrentMasks]:
        """(outputs, final state, masks) of one call: masks drawn in training, none in evaluation."""
        steps, batch = self._steps_and_batch(check_input(x, type(self).__name__).shape)
        masks = self.masks(steps, batch, training=training)
        output, final = self.run(x, masks, state)
        return output, final, masks

    def __call__(self, x: Tensor, state: Any = None, *, training: bool | None = None,
                 return_masks: bool = False) -> tuple:
        """(outputs, final state), and the masks applied with ``return_masks=True``."""
        check_flag(return_masks, type(self).__name__, "return_masks")
        output, final, masks = super().__call__(x, state, training=training)
        return (output, final, masks) if return_masks else (output, final)

    # each layer states the form of its state
    def _initial(self, state: Any, batch: int) -> list:
        raise NotImplementedError

    def _final(self, states: list) -> Any:
        raise NotImplementedError

    def _layer_states(self, h: object, batch: int, what: str) -> list[Tensor]:
        """The per-layer (B, H) slices of a (L, B, H) initial state, checked."""
        expected = (self.num_layers, batch, self.hidden_size)
        if not isinstance(h, Tensor) or h.shape != expected:
            got = h.shape if isinstance(h, Tensor) else type(h).__name__
            raise ValueError(f"{type(self).__name__}: the initial {what} must have shape {expected}, got {got}")
        return [h[depth] for depth in range(self.num_layers)]


class LSTM(RecurrentLayer):
    """A stack of LSTM cells. The state is (h, c), each (L, B, H); zeros when not given."""

    cell = LSTMCell

    def _initial(self, state: tuple[Tensor, Tensor] | None, batch: int) -> list[tuple[Tensor, Tensor]]:
        if state is None:
            return [cell.zero_state(batch) for cell in self.cells()]
        if not isinstance(state, tuple) or len(state) != 2:
            raise TypeError(f"LSTM: state must be a tuple (h_0, c_0), got {type(state).__name__}")
        return list(zip(self._layer_states(state[0], batch, "h_0"), self._layer_states(state[1], batch, "c_0")))

    def _final(self, states: list[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return ops.stack([h for h, _ in states]), ops.stack([c for _, c in states])


class GRU(RecurrentLayer):
    """A stack of GRU cells. The state is h, (L, B, H); zeros when not given."""

    cell = GRUCell

    def _initial(self, state: Tensor | None, batch: int) -> list[Tensor]:
        if state is None:
            return [cell.zero_state(batch) for cell in self.cells()]
        return self._layer_states(state, batch, "h_0")

    def _final(self, states: list[Tensor]) -> Tensor:
        return ops.stack(states)
