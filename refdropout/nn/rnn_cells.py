"""LSTM and GRU cells with PyTorch's equations and weight layout (spec/recurrent.md, RECURRENT-1, RECURRENT-2).

A cell maps an input x (B, I) and a state to the next state. It is written as two affine
projections per gate k, one of the input and one of the hidden state, W_ih and W_hh holding the
gates' rows block by block (PyTorch's layout),

    a^x_k = W_ih,k x + b_ih,k,    a^h_k = W_hh,k h + b_hh,k,

followed by the gate equations of the cell. Keeping the two projections apart is what lets a
recurrent layer multiply x and h by dropout masks before they are projected (RECURRENT-6) while
the state carried from step to step (the LSTM's c, the h the GRU interpolates) stays unmasked.
A cell itself applies no dropout, as in PyTorch: the layers of refdropout.nn.recurrent do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import ops
from ..functional.arguments import check_flag, check_input, check_int
from ..random import Generator
from ..tensor import Tensor
from ..values import shown
from .init import uniform_parameters
from .module import Module

__all__ = ["LSTMCell", "GRUCell", "RecurrentCell", "GateWeights", "project"]

State = Tensor | tuple[Tensor, Tensor]
Gated = list[Tensor]  # one (B, H) tensor per gate, in the order of the weight rows


@dataclass(frozen=True)
class GateWeights:
    """A cell's weights split by gate g: W_ih,g^T (I, H), W_hh,g^T (H, H), and b_ih,g and b_hh,g (H),
    None without bias."""

    ih: Gated
    hh: Gated
    bias_ih: list[Tensor | None]
    bias_hh: list[Tensor | None]


def project(v: Tensor, multipliers: Sequence[Tensor] | None, weights: Gated, biases: list[Tensor | None]) -> Gated:
    """a_g = (v ⊙ m_g) W_g^T + b_g for every gate g, for v of shape (B, n).

    ``multipliers`` is None (no dropout), one (B, n) multiplier that every gate shares, or one per
    gate: gate g's multiplier meets only gate g's rows of W.
    """
    masked = [v] if multipliers is None else [v * m for m in multipliers]
    out = []
    for g, (w, b) in enumerate(zip(weights, biases)):
        a = ops.matmul(masked[g if len(masked) > 1 else 0], w)
        out.append(a if b is None else a + b)
    return out


class RecurrentCell(Module):
    """Weights W_ih (G H, I), W_hh (G H, H), b_ih and b_hh (G H), each U(-1/sqrt(H), 1/sqrt(H)).

    Drawn in that order from ``Generator(seed)``, as PyTorch initialises them and names them.
    """

    gates: tuple[str, ...]

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True, seed: int) -> None:
        super().__init__()
        name = type(self).__name__
        self.input_size = check_int(input_size, name, "input_size", 1)
        self.hidden_size = check_int(hidden_size, name, "hidden_size", 1)
        check_flag(bias, name, "bias")
        rows = len(self.gates) * hidden_size
        shapes = [(rows, input_size), (rows, hidden_size)] + ([(rows,), (rows,)] if bias else [])
        owner = f"{name}(input_size={shown(input_size)}, hidden_size={shown(hidden_size)})"
        self.weight_ih, self.weight_hh, *biases = uniform_parameters(Generator(seed), shapes, hidden_size, owner)
        self.bias_ih, self.bias_hh = biases if bias else (None, None)

    def weights(self) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """(W_ih, W_hh, b_ih, b_hh): the cell's weights in PyTorch's order."""
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def gate_weights(self) -> GateWeights:
        """The weights split by gate, once per call rather than once per step."""
        h, gates = self.hidden_size, range(len(self.gates))

        def rows(t: Tensor | None, transpose: bool) -> list:
            blocks = [None if t is None else t[g * h : (g + 1) * h] for g in gates]
            return [ops.transpose(b) for b in blocks] if transpose else blocks

        return GateWeights(rows(self.weight_ih, True), rows(self.weight_hh, True),
                           rows(self.bias_ih, False), rows(self.bias_hh, False))

    def step(self, x: Tensor, state: State, x_masks: Sequence[Tensor] | None = None,
             h_masks: Sequence[Tensor] | None = None, weights: GateWeights | None = None) -> State:
        """The next state from input x and ``state``, x and h multiplied by the masks given, if any
        (one shared by every gate, or one per gate)."""
        w = self.gate_weights() if weights is None else weights
        a_x = project(x, x_masks, w.ih, w.bias_ih)
        a_h = project(self.hidden(state), h_masks, w.hh, w.bias_hh)
        return self.equations(a_x, a_h, state)

    def forward(self, x: Tensor, state: State | None = None, *, training: bool) -> State:
        """One step on x (B, I) from ``state`` (zeros when None); no dropout, in either mode."""
        x = check_input(x, type(self).__name__)
        if x.ndim != 2 or x.shape[1] != self.input_size:
            raise ValueError(f"{type(self).__name__}: x must have shape (batch, {self.input_size}), got {x.shape}")
        return self.step(x, self.zero_state(x.shape[0]) if state is None else state)

    # each cell states its own state, its hidden part, and its equations
    def zero_state(self, batch: int) -> State:
        raise NotImplementedError

    @staticmethod
    def hidden(state: State) -> Tensor:
        raise NotImplementedError

    @staticmethod
    def equations(a_x: Gated, a_h: Gated, state: State) -> State:
        raise NotImplementedError


def _zeros(batch: int, size: int) -> Tensor:
    return Tensor.from_flat([0.0] * (batch * size), (batch, size))


class LSTMCell(RecurrentCell):
    """Long short-term memory (Hochreiter and Schmidhuber 1997, with the forget gate of Gers et al.
    2000), gates i, f, g, o in that order; the state is (h, c)."""

    gates = ("i", "f", "g", "o")

    def zero_state(self, batch: int) -> tuple[Tensor, Tensor]:
        return _zeros(batch, self.hidden_size), _zeros(batch, self.hidden_size)

    @staticmethod
    def hidden(state: tuple[Tensor, Tensor]) -> Tensor:
        return state[0]

    @staticmethod
    def equations(a_x: Gated, a_h: Gated, state: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o) with a = a^x + a^h;
        c' = f ⊙ c + i ⊙ g,  h' = o ⊙ tanh(c')."""
        a_i, a_f, a_g, a_o = (x + h for x, h in zip(a_x, a_h))
        c = ops.sigmoid(a_f) * state[1] + ops.sigmoid(a_i) * ops.tanh(a_g)
        return ops.sigmoid(a_o) * ops.tanh(c), c


class GRUCell(RecurrentCell):
    """Gated recurrent unit (Cho et al. 2014) as PyTorch and cuDNN compute it, gates r, z, n in that
    order: the reset gate multiplies the projected state W_hn h + b_hn, after the product (Keras's
    ``reset_after=True``), not h before it as in Cho et al.; the state is h."""

    gates = ("r", "z", "n")

    def zero_state(self, batch: int) -> Tensor:
        return _zeros(batch, self.hidden_size)

    @staticmethod
    def hidden(state: Tensor) -> Tensor:
        return state

    @staticmethod
    def equations(a_x: Gated, a_h: Gated, state: Tensor) -> Tensor:
        """r = σ(a^x_r + a^h_r), z = σ(a^x_z + a^h_z), n = tanh(a^x_n + r ⊙ a^h_n);
        h' = (1 − z) ⊙ n + z ⊙ h."""
        (x_r, x_z, x_n), (h_r, h_z, h_n) = a_x, a_h
        r, z = ops.sigmoid(x_r + h_r), ops.sigmoid(x_z + h_z)
        n = ops.tanh(x_n + r * h_n)
        return (1.0 - z) * n + z * state
