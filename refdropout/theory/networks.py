"""Small networks whose whole dropout ensemble can be enumerated (ENSEMBLE-4, ENSEMBLE-5).

A :class:`Network` is a stack of dense layers ending in class logits; any layer may drop its
input units. With the 2^n keep masks as the rows of a batch (``mask_matrix``) one forward pass
evaluates every sub-network, and the ensemble's two averages can be set against the single
weight-scaled network that evaluation mode runs:

* the arithmetic mean  A_k = sum_m P(m) s_k(m), what Monte Carlo averaging estimates;
* the normalised geometric mean  G_k = prod_m s_k(m)^P(m) / sum_c prod_m s_c(m)^P(m),
  which for one softmax layer is exactly the weight-scaled network's output (ENSEMBLE-4).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .. import ops
from ..functional import SCALINGS
from ..random import Generator
from ..tensor import Tensor
from ..values import shown
from .subnetworks import Distribution, exact_rate, mask_matrix, sub_networks

__all__ = [
    "Layer", "Network", "toy_network", "ensemble_outputs", "output_distribution", "arithmetic_mean",
    "normalized_geometric_mean", "weight_scaling_gaps", "TABLE_NETWORKS", "TABLE_RATES", "table_input",
    "weight_scaling_table",
]

ACTIVATIONS = {"identity": lambda h: h, "tanh": ops.tanh, "relu": ops.relu}


@dataclass(frozen=True)
class Layer:
    """h -> activation(h W^T + b), with W of shape (out, in); ``dropout``: its input units are dropped."""

    weight: Tensor
    bias: Tensor
    activation: str = "identity"
    dropout: bool = False


@dataclass(frozen=True)
class Network:
    """Dense layers; the last one's outputs are class logits z, its probabilities softmax(z)."""

    layers: tuple[Layer, ...]

    @property
    def droppable(self) -> int:
        """n: the number of units dropout acts on, so the ensemble has 2^n sub-networks."""
        return sum(layer.weight.shape[1] for layer in self.layers if layer.dropout)

    def logits(self, x: Tensor, keep: Tensor | None = None, divisor: float = 1.0) -> Tensor:
        """Logits of a batch x (B, in). ``keep`` (B, n): row b runs sub-network keep[b], its units
        h * m / divisor (divisor q: inverted scaling, 1: classic); without it every unit stays."""
        h, start = x, 0
        for layer in self.layers:
            if layer.dropout and keep is not None:
                width = layer.weight.shape[1]
                h = h * keep[:, start : start + width] / divisor
                start += width
            h = ACTIVATIONS[layer.activation](h @ layer.weight.T + layer.bias)
        return h


def toy_network(seed: int, widths: Sequence[int], activation: str, dropout: Sequence[bool],
                scale: float = 2.0) -> Network:
    """Weights and biases uniform on [-scale / sqrt(fan_in), scale / sqrt(fan_in)), drawn from
    Generator(seed); the last layer is linear (its outputs are logits)."""
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"toy_network: activation must be one of {tuple(ACTIVATIONS)}, got {shown(activation)}")
    if len(dropout) != len(widths) - 1:
        raise ValueError(f"toy_network: dropout needs one flag per layer ({len(widths) - 1}), got {len(dropout)}")
    g = Generator(seed)
    layers = []
    for j, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        bound = scale / math.sqrt(fan_in)
        weight = (g.uniform((fan_out, fan_in)) * 2.0 - 1.0) * bound
        bias = (g.uniform((fan_out,)) * 2.0 - 1.0) * bound
        last = j == len(widths) - 2
        layers.append(Layer(weight, bias, "identity" if last else activation, dropout[j]))
    return Network(tuple(layers))


def ensemble_outputs(network: Network, x: Tensor, p: object,
                     scaling: str = "inverted") -> tuple[Tensor, list[Fraction]]:
    """The log-probabilities log s(m) of every sub-network (rows in mask order) and their P(m)."""
    if not isinstance(scaling, str) or scaling not in SCALINGS:
        raise ValueError(f"ensemble_outputs: scaling must be one of {SCALINGS}, got {shown(scaling)}")
    n = network.droppable
    probabilities = [s.probability for s in sub_networks(n, p)]
    batch = ops.broadcast_to(x.reshape(1, x.size), (2**n, x.size))
    divisor = float(1 - exact_rate(p)) if scaling == "inverted" else 1.0
    return ops.log_softmax(network.logits(batch, mask_matrix(n), divisor)), probabilities


def output_distribution(network: Network, x: Tensor, p: object, output: int, scaling: str = "inverted") -> Distribution:
    """The distribution over the sub-networks of s_output, the probability of one class."""
    log_outputs, probabilities = ensemble_outputs(network, x, p, scaling)
    classes = log_outputs.shape[1]
    return Distribution.of(probabilities, [math.exp(v) for v in log_outputs.data[output::classes]])


def _columns(t: Tensor) -> list[list[float]]:
    rows, cols = t.shape
    return [t.data[k::cols] for k in range(cols)]


def arithmetic_mean(log_outputs: Tensor, probabilities: list[Fraction]) -> list[float]:
    """A_k = sum_m P(m) s_k(m), rounded once from the exact sum of the rounded s_k(m)."""
    return [
        float(sum((w * Fraction(math.exp(v)) for w, v in zip(probabilities, column)), Fraction(0)))
        for column in _columns(log_outputs)
    ]


def normalized_geometric_mean(log_outputs: Tensor, probabilities: list[Fraction]) -> list[float]:
    """G = softmax(sum_m P(m) log s(m)): the normalised weighted geometric mean, in log space."""
    weights = [float(w) for w in probabilities]
    log_g = [math.fsum(w * v for w, v in zip(weights, column)) for column in _columns(log_outputs)]
    return ops.softmax(Tensor(log_g)).data


def weight_scaling_gaps(network: Network, x: Tensor, p: object) -> tuple[float, float]:
    """max_k |A_k - s_k(eval)| and max_k |G_k - s_k(eval)|: how far each ensemble average lies
    from the one network that evaluation mode runs."""
    log_outputs, probabilities = ensemble_outputs(network, x, p)
    s_eval = ops.softmax(network.logits(x.reshape(1, x.size))).data
    return tuple(
        max(abs(a - s) for a, s in zip(mean(log_outputs, probabilities), s_eval))
        for mean in (arithmetic_mean, normalized_geometric_mean)
    )


# The networks and rates of the table in spec/ensemble.md (ENSEMBLE-5), with their input.
TABLE_INPUT_SEED = 20130724
TABLE_NETWORKS: dict[str, Network] = {
    "softmax layer 8-2 (logistic unit)": toy_network(1, (8, 2), "identity", (True,)),
    "softmax layer 8-3": toy_network(2, (8, 3), "identity", (True,)),
    "8-6-3, tanh, inputs dropped": toy_network(3, (8, 6, 3), "tanh", (True, False)),
    "8-6-3, ReLU, inputs dropped": toy_network(4, (8, 6, 3), "relu", (True, False)),
    "6-6-3, tanh, inputs and hidden dropped": toy_network(5, (6, 6, 3), "tanh", (True, True)),
}
TABLE_RATES = (Fraction(1, 5), Fraction(1, 2))
EXACT_FLOOR = 1e-12  # a gap below this is rounding, shown as such


def table_input(network: Network) -> Tensor:
    """The input the table evaluates ``network`` at: uniform on [-2, 2), from Generator(TABLE_INPUT_SEED)."""
    return Generator(TABLE_INPUT_SEED).uniform((network.layers[0].weight.shape[1],)) * 4.0 - 2.0


def _cell(gap: float) -> str:
    return f"< {EXACT_FLOOR:g}" if gap < EXACT_FLOOR else f"{gap:.3g}"


def weight_scaling_table() -> str:
    """The table of spec/ensemble.md (ENSEMBLE-5), recomputed: every network at every rate."""
    lines = [
        "| network | n | p | max_k abs(A_k - s_k) | max_k abs(G_k - s_k) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, network in TABLE_NETWORKS.items():
        for p in TABLE_RATES:
            arithmetic, geometric = weight_scaling_gaps(network, table_input(network), p)
            lines.append(f"| {name} | {network.droppable} | {p} | {_cell(arithmetic)} | {_cell(geometric)} |")
    return "\n".join(lines)
