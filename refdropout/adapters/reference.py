"""The reference implementation as a conformance target: refdropout's own engine.

It has every capability of the protocol (refdropout.contract), so every clause
applies to it; it is the first user of the checks and must pass them all. Handed numpy arrays, its
capabilities answer in kind (contract.arrays.EngineArrays): converted to engine tensors and back,
except dropout itself (``dropout``, ``dropout_with_mask``, ``dropout_noise_shape`` and the calls of
``dropout_stream``), which runs on the arrays through ``reference_bulk.dropout_bulk``, and the variants
of spec/variants.md, which run through ``reference_variants_bulk``: bit for bit the engine's results and
the engine's random stream, at numpy's speed, so a statistics-sized call costs what the reference's
arithmetic costs rather than millions of Python floats.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import autograd, nn
from ..contract import Policies
from ..contract.arrays import NUMPY_FORMATS, EngineArrays, answers_in_kind
from ..functional import (
    alpha_dropout,
    attention_dropout,
    channel_dropout,
    drop_path,
    dropblock2d,
    dropconnect,
    dropout,
    feature_alpha_dropout,
    gaussian_dropout,
    scaled_dot_product_attention,
)
from ..nn.layers import Softmax
from ..nn.mc import MCPrediction, mc_predict
from ..nn.recurrent import GRU, LSTM, RecurrentLayer, RecurrentMasks
from ..random import Generator, GeneratorState
from ..tensor import Tensor
from ..theory import Network
from . import reference_variants_bulk as bulk
from .numpy_philox import NumpyGenerator
from .reference_attention_bulk import fused_attention_bulk
from .reference_bulk import dropout_bulk, dropout_vjp_bulk

__all__ = ["ReferenceDropout", "model_of"]


def _bulk_for_arrays(method: Callable) -> Callable:
    """A capability that takes numpy arrays itself (the bulk path) rather than through EngineArrays'
    conversion to engine tensors."""
    method.answers_in_kind = True  # type: ignore[attr-defined]
    return method


def _arrays_through(bulk_function: Callable, policies: Sequence[str] = ()) -> Callable[[Callable], Callable]:
    """A capability that, handed numpy arrays only, runs ``bulk_function`` on them (its arguments are the
    capability's, and the declared ``policies`` named, as keywords); handed engine tensors, or a mix, it runs
    on tensors as EngineArrays would."""
    def decorate(method: Callable) -> Callable:
        engine = answers_in_kind(method)

        @functools.wraps(method)
        def call(self: ReferenceDropout, *args: Any, **kwargs: Any) -> Any:
            values = [v for v in (*args, *kwargs.values()) if isinstance(v, (np.ndarray, Tensor))]
            if values and all(isinstance(v, np.ndarray) for v in values):
                return bulk_function(*args, **kwargs, **{name: getattr(self.policies, name) for name in policies})
            return engine(self, *args, **kwargs)

        return _bulk_for_arrays(call)

    return decorate


class ReferenceDropout(EngineArrays):
    """``refdropout.functional.dropout`` behind the conformance protocol."""

    name = "reference"
    dtypes = ("float64", "float32", "float16", "bfloat16")  # every format the engine emulates

    def __init__(self, scaling: str = "inverted", nonfinite: str = "multiply", gate_masks: str = "shared") -> None:
        self.policies = Policies(scaling=scaling, nonfinite=nonfinite, gate_masks=gate_masks)

    def policy_options(self) -> dict[str, str]:
        """The keyword arguments that carry the declared policies to refdropout.functional.dropout and
        nn.Dropout (``scaling``, ``nonfinite``): the hook through which a subclass runs other ones."""
        return {"scaling": self.policies.scaling, "nonfinite": self.policies.nonfinite}

    @_bulk_for_arrays
    def dropout(self, x: Tensor | np.ndarray, p: float, *, training: bool, seed: int) -> Tensor | np.ndarray:
        if isinstance(x, np.ndarray):
            return dropout_bulk(x, p, training=training, seed=seed, **self.policy_options())[0]
        return dropout(x, p, training=training, seed=seed, **self.policy_options())

    @_bulk_for_arrays
    def dropout_with_mask(self, x: Tensor | np.ndarray, p: float, *, seed: int) -> tuple:
        if isinstance(x, np.ndarray):
            return dropout_bulk(x, p, training=True, seed=seed, **self.policy_options())
        return dropout(x, p, training=True, seed=seed, return_mask=True, **self.policy_options())

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        """The engine has no integer tensors: integers reach it as a list, which it refuses (DROPOUT-9)."""
        return dropout(values, p, training=training, seed=seed, **self.policy_options()).data

    @_bulk_for_arrays
    def dropout_vjp(self, x: Tensor | np.ndarray, p: float, g: Tensor | np.ndarray, *, training: bool,
                    seed: int) -> tuple:
        if isinstance(x, np.ndarray) and isinstance(g, np.ndarray):
            return dropout_vjp_bulk(x, p, g, training=training, seed=seed, **self.policy_options())
        return answers_in_kind(ReferenceDropout._engine_vjp)(self, x, p, g, training=training, seed=seed)

    def _engine_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        """``dropout_vjp`` on engine tensors: the engine's backward pass of ``dropout``."""
        leaf = Tensor.from_flat(x.data, x.shape, x.dtype)
        leaf.requires_grad = True
        y = dropout(leaf, p, training=training, seed=seed, **self.policy_options())
        if not y.requires_grad:  # an identity that returned its input: the gradient is g
            return y, g
        y.backward(g)
        return y, leaf.grad

    @_bulk_for_arrays
    def dropout_stream(self, seed: int) -> Callable[..., Tensor | np.ndarray]:
        return _Stream(self, Generator(seed).state)

    def _stream_call(self, state: GeneratorState, x: Tensor | np.ndarray, p: float,
                     training: bool) -> tuple[Tensor | np.ndarray, GeneratorState]:
        """One call of a stream in ``state``, on whichever kind it is given: (y, the state after it)."""
        if isinstance(x, np.ndarray):
            generator = NumpyGenerator.from_state(state)
            y, _ = dropout_bulk(x, p, training=training, generator=generator, **self.policy_options())
        else:
            generator = Generator.from_state(state)
            y = dropout(x, p, training=training, generator=generator, **self.policy_options())
        return y, generator.state

    # ---- spec/training.md ------------------------------------------------------------------

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        """Steps on one Generator; under ``checkpoint`` the forward pass is ``autograd.checkpoint``,
        which replays it in the backward pass from the generator's state saved at the forward pass."""
        generator, options = Generator(seed), self.policy_options()

        def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
            leaf = x.detach()
            leaf.requires_grad = True

            def forward(drawing: Generator, t: Tensor) -> Tensor:
                return dropout(t, p, training=True, generator=drawing, **options)

            y = autograd.checkpoint(forward, leaf, generator=generator) if checkpoint else forward(generator, leaf)
            (w * y).sum().backward()
            return y, leaf.grad

        return step

    @_bulk_for_arrays
    def dropout_stream_state(self, seed: int) -> _Stream:
        return _Stream(self, Generator(seed).state)

    def stream_advance(self, n: int, dtype: str) -> int:
        """One draw index per drawing call, whatever its size (RANDOM-4)."""
        return 1

    @_bulk_for_arrays
    def rank_streams(self, seed: int, ranks: int, *, replicated: bool) -> list[_Stream]:
        """Rank r's stream: Generator(seed) on every rank of a replicated region, Generator(seed).fold_in(r) in
        a region whose ranks hold other data (RANDOM-6: distinct keys and streams, no shared counter), as
        Megatron's model_parallel_cuda_manual_seed seeds its default state alike on every rank and its
        model-parallel state from the rank (TRAINING-5, TRAINING-6)."""
        root = Generator(seed)
        if not isinstance(ranks, int) or isinstance(ranks, bool):
            raise TypeError(f"rank_streams: ranks must be an int in [1, 2**32], got {ranks!r}")
        if not 1 <= ranks <= 2**32:
            raise ValueError(f"rank_streams: ranks must be in [1, 2**32], got {ranks}")
        return [_Stream(self, root.state if replicated else root.fold_in(rank).state) for rank in range(ranks)]

    def devices(self) -> tuple[str, ...]:
        """The engine runs on the host's CPU only."""
        return ("cpu",)

    def device_mask_bits(self, device: str, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of the bulk path's dropout of n ones, packed as np.packbits(bitorder="little")."""
        if device not in self.devices():
            raise ValueError(f"device_mask_bits: device must be one of {self.devices()}, got {device!r}")
        _, keep = dropout_bulk(np.ones(n, dtype=NUMPY_FORMATS[dtype]), p, training=True, seed=seed,
                               **self.policy_options())
        return np.packbits(keep, bitorder="little")

    @_bulk_for_arrays
    def dropout_noise_shape(self, x: Tensor | np.ndarray, p: float, noise_shape: Sequence[int | None], *,
                            training: bool, seed: int) -> Tensor | np.ndarray:
        if isinstance(x, np.ndarray):
            return dropout_bulk(x, p, training=training, seed=seed, noise_shape=noise_shape,
                                **self.policy_options())[0]
        return dropout(x, p, training=training, seed=seed, noise_shape=noise_shape, **self.policy_options())

    # ---- spec/variants.md ----------------------------------------------------------------

    @_arrays_through(bulk.channel_dropout_bulk)
    def channel_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                        seed: int) -> Tensor:
        return channel_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training, seed=seed)

    @_arrays_through(bulk.alpha_dropout_bulk, ("nonfinite",))
    def alpha_dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        """A dropped non-finite x by the declared nonfinite policy, as standard dropout's (VARIANTS-4)."""
        return alpha_dropout(x, p, training=training, seed=seed, nonfinite=self.policies.nonfinite)

    @_arrays_through(bulk.feature_alpha_dropout_bulk, ("nonfinite",))
    def feature_alpha_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                              seed: int) -> Tensor:
        """A dropped non-finite x by the declared nonfinite policy, as standard dropout's (VARIANTS-4, VARIANTS-6)."""
        return feature_alpha_dropout(x, p, spatial_dims=spatial_dims, data_format=data_format, training=training,
                                     seed=seed, nonfinite=self.policies.nonfinite)

    @_arrays_through(bulk.gaussian_dropout_bulk)
    def gaussian_dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return gaussian_dropout(x, p, training=training, seed=seed)

    @_arrays_through(bulk.dropconnect_bulk)
    def dropconnect(self, x: Tensor, weight: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return dropconnect(x, weight, p, training=training, seed=seed)

    @_arrays_through(bulk.drop_path_bulk)
    def drop_path(self, x: Tensor, p: float, *, mode: str, scaling: str, training: bool, seed: int) -> Tensor:
        return drop_path(x, p, mode=mode, scaling=scaling, training=training, seed=seed)

    @_arrays_through(bulk.dropblock2d_bulk)
    def dropblock2d(self, x: Tensor, p: float, *, block_size: int, training: bool, seed: int) -> Tensor:
        return dropblock2d(x, p, block_size=block_size, training=training, seed=seed)

    @_arrays_through(bulk.attention_dropout_bulk)
    def attention_dropout(self, weights: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return attention_dropout(weights, p, training=training, seed=seed)

    def attention_backends(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """One kernel, the engine's ops (VARIANTS-20 to VARIANTS-22), in every format it emulates."""
        return (("engine", self.dtypes),)

    @_arrays_through(fused_attention_bulk)
    def fused_attention(self, q: Tensor, k: Tensor, v: Tensor, g: Tensor, p: float, *, backend: str, training: bool,
                        seed: int) -> tuple[Tensor, Tensor]:
        """``scaled_dot_product_attention`` and dL/dv for upstream gradient g, by the engine's autograd."""
        if backend != "engine":
            raise ValueError(f"fused_attention: backend must be 'engine', the reference's only kernel, got {backend!r}")
        leaf = Tensor.from_flat(v.data, v.shape, v.dtype)
        leaf.requires_grad = True
        o = scaled_dot_product_attention(q, k, leaf, p, training=training, seed=seed)
        o.backward(g)
        return o, leaf.grad

    # ---- spec/modes.md -------------------------------------------------------------------

    def dropout_module(self, p: float, *, seed: int) -> nn.Dropout:
        return nn.Dropout(p, seed=seed, **self.policy_options())

    def sequential(self, *modules: nn.Module) -> nn.Sequential:
        return nn.Sequential(*modules)

    # ---- spec/recurrent.md ---------------------------------------------------------------

    recurrent_layers: dict[str, type[RecurrentLayer]] = {"lstm": LSTM, "gru": GRU}

    def recurrent_between_layers(self, cell: str, layers: Sequence[tuple], p: float, *, seed: int) -> _RecurrentNet:
        return _RecurrentNet(self.recurrent_layers[cell].from_weights(
            layers, dropout=p, gate_masks=self.policies.gate_masks, seed=seed))

    def recurrent_variational(self, cell: str, layers: Sequence[tuple], input_p: float, recurrent_p: float, *,
                              seed: int) -> _RecurrentNet:
        return _RecurrentNet(self.recurrent_layers[cell].from_weights(
            layers, input_dropout=input_p, recurrent_dropout=recurrent_p, gate_masks=self.policies.gate_masks,
            seed=seed))

    def recurrent_masks(self, net: _RecurrentNet, x: Tensor, *, training: bool) -> tuple[Tensor, RecurrentMasks]:
        y, _, masks = net.layer(x, training=training, return_masks=True)
        return y, masks

    def recurrent_mask_draws(self, net: _RecurrentNet, x_shape: tuple[int, ...], *, training: bool) -> RecurrentMasks:
        return net.layer.mask_draws(x_shape, training=training)

    def recurrent_vjp(self, net: _RecurrentNet, x: Tensor, g: Tensor, *, training: bool) -> tuple[Tensor, Tensor]:
        leaf = Tensor.from_flat(x.data, x.shape, x.dtype)
        leaf.requires_grad = True
        y = net(leaf, training=training)
        y.backward(g)
        return y, leaf.grad

    # ---- spec/ensemble.md, Monte Carlo dropout ----------------------------------------------

    def mc_predict(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int) -> MCPrediction:
        return mc_predict(model_of(network, p, **self.policy_options()), x, samples, seed)

    def mc_predict_normalised(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int,
                              running_mean: list[float], running_var: list[float]) -> tuple:
        """``mc_predict`` of ``normalised_model`` (ENSEMBLE-10), and the running statistics afterwards."""
        model, norm = self.normalised_model(network, p, running_mean, running_var)
        return (*mc_predict(model, x, samples, seed), norm.running_mean, norm.running_var)

    def normalised_model(self, network: Network, p: float, running_mean: list[float],
                         running_var: list[float]) -> tuple[nn.Sequential, nn.BatchNorm1d]:
        """``model_of(network, p)`` with ``nn.BatchNorm1d(eps=1e-3)`` of these running statistics after its
        first Linear, and that layer."""
        layers = list(model_of(network, p, **self.policy_options()).children())
        first = next(j for j, m in enumerate(layers) if isinstance(m, nn.Linear))
        norm = nn.BatchNorm1d(len(running_mean), eps=1e-3)
        norm.running_mean, norm.running_var = list(running_mean), list(running_var)
        return nn.Sequential(*layers[:first + 1], norm, *layers[first + 1:]), norm


_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def model_of(network: Network, p: float, *, scaling: str = "inverted", nonfinite: str = "multiply") -> nn.Sequential:
    """The refdropout.theory network as modules: Dropout(p, scaling=..., nonfinite=...) before each
    layer that drops its inputs, the layer's own weights, its activation, and a Softmax over the logits."""
    modules: list[nn.Module] = []
    for layer in network.layers:
        if layer.dropout:
            modules.append(nn.Dropout(p, seed=0, scaling=scaling, nonfinite=nonfinite))  # mc_predict reseeds it
        fan_out, fan_in = layer.weight.shape
        linear = nn.Linear(fan_in, fan_out, seed=0)
        linear.weight, linear.bias = layer.weight, layer.bias
        modules.append(linear)
        if layer.activation in _ACTIVATIONS:
            modules.append(_ACTIVATIONS[layer.activation]())
    return nn.Sequential(*modules, Softmax())


class _RecurrentNet:
    """A reference recurrent layer as the protocol's net: net(x, *, training) -> y."""

    def __init__(self, layer: RecurrentLayer) -> None:
        self.layer = layer

    def __call__(self, x: Tensor, *, training: bool) -> Tensor:
        return self.layer(x, training=training)[0]


class _Stream:
    """The reference's stream: s(x, p, *, training) draws from a GeneratorState it keeps; save() is
    that state (immutable), restore(state) puts one back, position() is its draw index."""

    def __init__(self, adapter: ReferenceDropout, state: GeneratorState) -> None:
        self.adapter, self.state = adapter, state

    def __call__(self, x: Tensor | np.ndarray, p: float, *, training: bool) -> Tensor | np.ndarray:
        y, self.state = self.adapter._stream_call(self.state, x, p, training)
        return y

    def save(self) -> GeneratorState:
        return self.state

    def restore(self, snapshot: GeneratorState) -> None:
        if not isinstance(snapshot, GeneratorState):
            raise TypeError(f"restore: snapshot must be a GeneratorState, got {type(snapshot).__name__}")
        self.state = snapshot

    def position(self) -> int:
        return self.state.draws
