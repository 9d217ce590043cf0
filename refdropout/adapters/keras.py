"""Keras 3 as conformance targets: its dropout layers on each backend, one target per backend.

``KerasDropout`` is Keras 3's layers on the backend Keras was imported with: ``Dropout`` (with
``noise_shape``), the mode being the ``training=`` call argument, ``Sequential``,
``SpatialDropout1D/2D/3D`` (channel dropout), ``AlphaDropout`` (with ``noise_shape``: feature alpha
dropout), ``GaussianDropout`` and Monte Carlo dropout through ``Dense`` layers. Not covered: the
``dropout`` and ``recurrent_dropout`` of Keras's LSTM and GRU. What differs between backends (how a
seed fits the layer's seed state, gradients, the format of modules) is a :class:`_Backend` each.

Targets. ``keras`` is KerasDropout on TensorFlow, in the run's process. Keras picks its backend once
per process, when it is first imported (``KERAS_BACKEND``), so ``keras-jax`` and ``keras-torch``
(:class:`KerasJaxDropout`, :class:`KerasTorchDropout`) run KerasDropout in a child process of their
own with ``KERAS_BACKEND`` set there (refdropout.adapters.isolated): they can be checked in a process
that imported Keras on any backend, and beside the ``keras`` target. Each call crosses as numpy
arrays (or engine tensors) through a pipe, under the run's guard.

Seeds. A layer owns a ``SeedGenerator`` whose state starts at [seed, 0] and counts up one per call,
in the backend's seed format: int64 on TensorFlow, which takes the 64-bit seed as the int64 of the
same bits (s − 2^64 from 2^63 on: one-to-one) and then reduces each state word modulo 2^31 − 2
before the stateless op, so seeds s and s + 2^31 − 2 draw one mask; uint32 on JAX, whose state is
the raw Threefry key [seed, counter] itself (the seed's low 32 bits; Keras refuses a seed beyond
uint32); int32 on torch, the low 32 bits read as an int32, and each call seeds a torch.Generator
with (seed + counter) mod 2^32 (keras.src.backend.torch.random.torch_seed_generator), so the second
call of a stream of seed s draws the mask of the first call of seed s + 1 (no clause asks). Only the low
32 bits of the seed count on JAX and torch: seed_bits 32. Each layer kind is made once per rate,
format and options and its state put back to [seed, 0] before a call, where a fresh layer's starts.
Every layer is made in the dtype policy of its input's format (Keras's default policy would cast
every input to float32); modules and containers, made before any input is seen, in the backend's
widest format (float64; float32 on JAX, which has no float64 unless x64 is enabled, and Keras does
not enable it: a float64 input is computed and returned in float32).

Policies, as measured on the CPU (keras 3.15.1; TensorFlow 2.21, JAX 0.10.2, torch 2.13.0): inverted
scaling; a dropped NaN or ±inf becomes 0 (every backend selects 0, it does not multiply); Keras
returns zeros at p = 1 and x at p = 0 without drawing, and takes True and False as rates 1 and 0
(p_validation "bool_as_number"). TensorFlow's and XLA's CPU kernels flush subnormals (subnormals
"flushed"); torch's keep them. On JAX, x / q divides by the Python float q, which JAX rounds to x's
format first (scale_format "input"). ``refdropout probe keras-jax`` and ``probe keras-torch`` find
these values. On TensorFlow, Keras's state words, reduced modulo 2^31 − 2, are a seed pair of
TensorFlow's stateless Philox: the target ``keras`` declares the algorithm "tf-stateless-philox" with
the seed pair of ``algorithm_key``, and its stream's schedule "keras-seed-generator" (spec/exact.md,
EXACT-1, EXACT-2; measured bit for bit on the CPU). KNOWN_DEVIATIONS lists what no policy allows, per target. Importing
this module never needs Keras; making an adapter does. Before TensorFlow is first imported the
TensorFlow backend sets refdropout.adapters.tensorflow's ENVIRONMENT (no start-up logging, oneDNN's
memory pool off), as the tensorflow target does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import DTYPES, NUMPY_FORMATS, as_array, in_kind, to_numpy
from ..exact.streams import keras_seed_pair
from ..nn.mc import MCPrediction
from ..tensor import Tensor
from ..theory import Network
from . import INSTALL as COMMANDS
from . import import_framework
from .isolated import Isolated
from .jax import CACHE_CHECK, XLA_RECIPROCAL_OVERFLOW, _resident_bytes, bounded_caches
from .tensorflow import prepare_environment
from .torch import _from_torch, _to_torch  # the torch target's exact conversions

__all__ = ["KerasDropout", "KerasJaxDropout", "KerasTorchDropout", "KNOWN_DEVIATIONS"]

INSTALL = {"tensorflow": COMMANDS["keras"], "jax": COMMANDS["keras-jax"], "torch": COMMANDS["keras-torch"]}
# measured (Keras 3.15.1): with KERAS_BACKEND=jax the TensorFlow backend's calls meet jax arrays ("'ArrayImpl' object
# has no attribute 'numpy'") and its int64 seeds jax's uint32 ones: errors of the adapter, once reported as FAILs
OTHER_BACKEND = ("the keras target runs Keras 3 on its TensorFlow backend, and Keras was imported with the {backend} "
                 "backend (KERAS_BACKEND, or ~/.keras/keras.json): check the target keras-{backend}, which runs Keras "
                 "in a process of its own, or unset KERAS_BACKEND")
_ANY_ARRAY = np.empty(0)  # _from_torch answers a numpy array where its ``like`` is one
_ACTIVATIONS = {"identity": None, "tanh": "tanh", "relu": "relu"}  # refdropout.theory's names -> Keras's
_NO_FLOAT64 = ("JAX without x64, which Keras leaves off, has no float64: a float64 x is computed in float32 and "
               "answered in float32 (UserWarning: 'Explicitly requested dtype float64 requested in asarray is not "
               "available'), so its kept values and its evaluation are float32's")
_REMAT_JAX = ("keras.remat (jax.checkpoint) of a Dropout layer called with training=True raises "
              "jax.errors.UnexpectedTracerError: the layer's SeedGenerator state is assigned inside the traced "
              "function, a uint32[2] DynamicJaxprTracer escaping it")
_KERAS_GRADIENT_NAN = ("Dropout scales by 1 / q in x's format, inf in float16 at q below 2^-16, so every dropped "
                       "element's gradient is 0 * inf = NaN at p = 0.99999, at p = 1 - 2^-16 (the clause's case of "
                       "an overflowing scale: g = 2^-14 gives NaN at element 0, dropped) and at p = 1 - 2^-25")

# target -> clause -> what the framework does that the spec forbids and no policy allows
KNOWN_DEVIATIONS: dict[str, dict[str, str]] = {
    "keras": {
        "MODES-4": "a Keras layer casts its input to its own dtype policy, made before any input is seen: "
                   "after eval() Dropout returns x in the layer's format, not x's (the target's float64 modules "
                   "give float64 for float32, float16 and bfloat16 x; a layer of the default float32 policy "
                   "rounds a float64 x, 0.1 -> 0.10000000149011612: evaluation is not the identity); keras "
                   "3.15.1, found by the generated cases",
        "GRADIENTS-1": f"as tensorflow's: {_KERAS_GRADIENT_NAN} (keras 3.15.1 on TensorFlow 2.21.0; found by the "
                       "generated cases)",
        "VARIANTS-4": "AlphaDropout at p = 1 raises ZeroDivisionError (0.0 ** -0.5) instead of giving 0, "
                      "the limit of a alpha' (1 - p); and in float16 at p = 1 - 2^-53 (any q <= 1.2e-10 or so) "
                      "every element is NaN, as VARIANTS-6 finds",
        "VARIANTS-6": "AlphaDropout with a noise_shape raises ZeroDivisionError at p = 1, as VARIANTS-4 finds "
                      "(the clause's fixed case at p = 1); in float16 at p = 1 - 2^-53 or 1 - 2^-33 it gives NaN "
                      "for every element of x = 0 (Keras 3.15: its multipliers pass float16's largest finite "
                      "value); the dropped value a alpha' q is about -1e-8 (found by the clause's generated cases)",
        "DROPOUT-16": "Dropout calls TensorFlow's dropout, which draws its uniforms in x's format: in float16 "
                      "the keep rate at p = 0.001 is 0.99805, in bfloat16 0.99219, and 0 at p = 0.999",
        "TRAINING-1": "keras.remat (tf.recompute_grad on the TensorFlow backend) calls the Dropout layer again in "
                      "the backward pass, and the layer's SeedGenerator has moved on (its counter goes 1 -> 2): "
                      "the replay draws a fresh mask (about 2pq of the elements differ) and the gradient is "
                      "not that of the forward pass",
        "ENSEMBLE-10": "model(x, training=True), Keras's Monte Carlo dropout (keras-team/keras#9412), runs "
                       "BatchNormalization in training mode too: each pass normalises by the batch's moments and "
                       "moves the moving statistics (momentum 0.99: the moving mean -1.25 -> -1.143 after 4 "
                       "passes), so at p = 0 a class probability is 0.416 where the model in inference gives "
                       "0.904; Keras has no switch for the dropout layers alone",
        "DROPOUT-11": "Dropout(noise_shape=...) refuses an entry of 0, the size of an empty axis (\"Expected all "
                      "dimensions to be positive integers or None\"): x of shape (0, 3) cannot be dropped with "
                      "its noise shape (0, 1); found by the generated cases (keras 3.15.1)",
    },
    # measured with `refdropout check keras-jax --profile quick --seed 0` (keras 3.15.1, jax 0.10.2, x64 off)
    "keras-jax": {
        "DROPOUT-2": f"as flax's and equinox's, Keras's `x / keep_prob` on JAX: {XLA_RECIPROCAL_OVERFLOW}; keras "
                     "3.15.1 on jax 0.10.2 gave inf for x = 2^-14 at p = 1 - 2^-16",
        **{clause: f"{_NO_FLOAT64} ({what})" for clause, what in (
            ("DROPOUT-11", "Dropout with a noise_shape, float64 x"), ("MODES-4", "a Dropout module after eval()"),
            ("VARIANTS-1", "SpatialDropout1D/2D/3D"), ("VARIANTS-2", "SpatialDropout on unbatched input"),
            ("VARIANTS-7", "GaussianDropout in evaluation and at p = 0"))},
        "GRADIENTS-1": "Dropout computes x / q with q rounded to x's format (JAX's weak type): in float16 at "
                       "p = 1 - 2^-25, q is 0 and a dropped element's gradient is NaN, not 0 (g = "
                       "[0, 65504, 6e-8, -0, 1, 1]; found by the generated cases); at p = 1 - 2^-16 XLA's "
                       "x * fl16(1 / q) overflows and a dropped element's gradient is 0 * inf = NaN (keras 3.15.1 "
                       "on jax 0.10.2: g = 2^-14 gives NaN at element 0, dropped; the clause's case of an "
                       "overflowing scale)",
        "TRAINING-1": f"{_REMAT_JAX} (every checkpointed step at p = 0.3)",
        "TRAINING-2": f"{_REMAT_JAX} (successive checkpointed steps)",
        "ENSEMBLE-10": "as keras's: model(x, training=True) runs BatchNormalization in training mode too (the "
                       "moving mean -1.25 -> -1.143 after 4 passes at p = 0; keras-team/keras#9412)",
        "VARIANTS-4": "as keras's: AlphaDropout at p = 1 raises ZeroDivisionError (0.0 ** -0.5) instead of "
                      "giving 0",
        "VARIANTS-6": "as keras's: AlphaDropout with a noise_shape raises ZeroDivisionError at p = 1 (the "
                      f"clause's fixed case at p = 1); and {_NO_FLOAT64} (an element 0.3090399503707886, neither "
                      "the float64 kept nor dropped value; float32 in evaluation)",
    },
    # measured with `refdropout check keras-torch --profile quick --seed 0` (keras 3.15.1, torch 2.13.0+cpu)
    "keras-torch": {
        "DROPOUT-9": "Dropout (of the default float32 policy) casts an int32 input to float32 and drops it: "
                     "integers accepted and returned as floats ([1, -2, 5, 7] at p = 0.1 -> [1.1111112, "
                     "-2.2222223, 5.5555558, 7.777778]), neither refused nor kept integer",
        "DROPOUT-11": "as keras's: Dropout(noise_shape=...) refuses an entry of 0, the size of an empty axis "
                      "(\"Expected all dimensions to be positive integers or None\")",
        "MODES-4": "as keras's: a layer casts its input to its own dtype policy, made before any input is seen: "
                   "after eval() the target's float64 modules give float64 for a float32 x",
        "TRAINING-1": "keras.remat (torch.utils.checkpoint on the torch backend) calls the Dropout layer again in "
                      "the backward pass, its SeedGenerator moved on: the replay draws a fresh mask (434 of 1,024 "
                      "elements differ at step 1) and the gradient is not that of the forward pass",
        "ENSEMBLE-10": "as keras's: model(x, training=True) runs BatchNormalization in training mode too (the "
                       "moving mean -1.25 -> -1.143 after 4 passes at p = 0; keras-team/keras#9412)",
        "VARIANTS-4": "as keras's: AlphaDropout at p = 1 raises ZeroDivisionError (0.0 ** -0.5) instead of "
                      "giving 0",
        "VARIANTS-6": "as keras's: AlphaDropout with a noise_shape raises ZeroDivisionError at p = 1 (the "
                      "clause's fixed case at p = 1); in float16 at p = 1 - 2^-53 it gives NaN for every element "
                      "of x = 0 (found by the clause's generated cases)",
    },
}


# ---- what differs between Keras's backends ------------------------------------------------------------


class _Backend:
    """A Keras backend as the adapter needs it: tensors to and from numpy, the seed a SeedGenerator of
    its format holds, a VJP, and the format of modules made before their input is seen."""

    name = ""
    module_dtype = "float64"

    def __init__(self, keras: Any) -> None:
        self.keras = keras

    def tensor(self, a: np.ndarray) -> Any:
        """A numpy array as the backend's tensor of its shape and (where the backend has it) format."""
        return self.keras.ops.convert_to_tensor(a)

    def numpy(self, y: Any) -> np.ndarray:
        return np.asarray(self.keras.ops.convert_to_numpy(y))

    @staticmethod
    def seed(seed: int) -> int:
        """The integer a layer's SeedGenerator takes for the 64-bit ``seed``."""
        raise NotImplementedError

    def vjp(self, forward: Callable[[Any], Any], t: Any, g: Any) -> tuple[Any, Any]:
        """(y, dL/dt) of y = forward(t) with cotangent g (a function not reaching t has gradient 0)."""
        raise NotImplementedError


class _TensorflowBackend(_Backend):
    name = "tensorflow"

    def __init__(self, keras: Any) -> None:
        super().__init__(keras)
        self.tf = import_framework("tensorflow", target="keras", install=INSTALL["tensorflow"])

    def tensor(self, a: np.ndarray) -> Any:
        return self.tf.convert_to_tensor(a)

    def numpy(self, y: Any) -> np.ndarray:
        return np.asarray(y.numpy())  # np.asarray(y) fails on a 0-d bfloat16 tensor

    @staticmethod
    def seed(seed: int) -> int:
        """The int64 with the 64 bits of ``seed`` (Keras keeps a layer's seed in an int64 variable)."""
        return seed - 2**64 if seed >= 2**63 else seed

    def vjp(self, forward: Callable[[Any], Any], t: Any, g: Any) -> tuple[Any, Any]:
        tf = self.tf
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = tf.identity(forward(t))
        # at p = 1 Keras returns zeros_like(x), not connected to x: its gradient is zero, not None
        return y, tape.gradient(y, t, output_gradients=g, unconnected_gradients=tf.UnconnectedGradients.ZERO)


class _JaxBackend(_Backend):
    name = "jax"
    module_dtype = "float32"  # no float64 without x64, which Keras leaves off

    def __init__(self, keras: Any) -> None:
        super().__init__(keras)
        self.jax = import_framework("jax", target="keras-jax", install=INSTALL["jax"])
        self.calls = 0  # tensors made so far: every CACHE_CHECK-th looks at the resident size
        self.floor = _resident_bytes()  # the child's resident size before Keras compiled anything

    def tensor(self, a: np.ndarray) -> Any:
        """As every backend's, and every CACHE_CHECK calls JAX's caches bounded as the jax target's are
        (refdropout.adapters.jax.bounded_caches): Keras runs JAX eagerly, an executable per op and shape."""
        self.calls += 1
        if self.calls % CACHE_CHECK == 0:
            bounded_caches(self.jax, self.floor)
        return super().tensor(a)

    @staticmethod
    def seed(seed: int) -> int:
        """The seed's low 32 bits: the state is the raw uint32 key [seed, counter]."""
        return seed & 0xFFFFFFFF

    def vjp(self, forward: Callable[[Any], Any], t: Any, g: Any) -> tuple[Any, Any]:
        y, pullback = self.jax.vjp(forward, t)
        return y, pullback(g)[0]


class _TorchBackend(_Backend):
    name = "torch"

    def __init__(self, keras: Any) -> None:
        super().__init__(keras)
        self.torch = import_framework("torch", target="keras-torch", install=INSTALL["torch"])

    def tensor(self, a: np.ndarray) -> Any:
        """The torch target's exact conversion: bfloat16 through its 16-bit pattern, where Keras's own
        (through float32, cast by torch) turns every NaN into 0xFFFF: p = 0 and evaluation, which return
        x itself, changed a bfloat16 NaN's bits (measured, the quick run's DROPOUT-4 and -7)."""
        return _to_torch(self.torch, a, "cpu")

    def numpy(self, y: Any) -> np.ndarray:
        return _from_torch(y, _ANY_ARRAY)

    @staticmethod
    def seed(seed: int) -> int:
        """The seed's low 32 bits read as an int32, the state's format (Keras reads it back as uint32)."""
        return ((seed & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000

    def vjp(self, forward: Callable[[Any], Any], t: Any, g: Any) -> tuple[Any, Any]:
        t = t.detach().requires_grad_(True)
        y = forward(t)
        dx = self.torch.autograd.grad(y, t, g, allow_unused=True)[0] if y.requires_grad else None
        return y.detach(), self.torch.zeros_like(t) if dx is None else dx


BACKENDS: dict[str, type[_Backend]] = {b.name: b for b in (_TensorflowBackend, _JaxBackend, _TorchBackend)}


# ---- the adapter ----------------------------------------------------------------------------------


class KerasDropout:
    """Keras 3's dropout layers behind the conformance protocol, on ``backend``, which must be the one
    Keras was imported with (the target ``keras``: TensorFlow)."""

    name = "keras"
    framework = "keras"
    dtypes = DTYPES
    policies = Policies(scaling="inverted", nonfinite="select", p_validation="bool_as_number", subnormals="flushed",
                        algorithm="tf-stateless-philox", stream_keys="keras-seed-generator")
    known_deviations = KNOWN_DEVIATIONS["keras"]

    def __init__(self, backend: str = "tensorflow") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if backend == "tensorflow":
            prepare_environment()
        self._keras = import_framework("keras", target=self.name, install=INSTALL[backend])
        imported = self._keras.backend.backend()
        if imported != backend:  # fixed when keras is first imported
            raise RuntimeError(OTHER_BACKEND.format(backend=imported))
        self._backend = BACKENDS[backend](self._keras)
        self._layers: dict[tuple, Any] = {}  # (kind, type(p), p, dtype, options) -> a layer made once

    def algorithm_key(self, seed: int) -> tuple[int, int]:
        """The seed pair a fresh layer seeded ``seed`` hands ``stateless_dropout`` on TensorFlow: its
        SeedGenerator's [int64(seed), 0], each word modulo 2^31 - 2 (keras's ``_cast_seed``; spec/exact.md)."""
        return keras_seed_pair(seed)

    def _tensor(self, x: Tensor | np.ndarray) -> Any:
        return self._backend.tensor(as_array(x))

    def _from(self, y: Any, like: object) -> Tensor | np.ndarray:
        """y in the kind of ``like``: a numpy array for a numpy array, an engine tensor otherwise."""
        return in_kind(self._backend.numpy(y), like)

    def _call(self, layer: Any, x: Tensor, training: bool) -> Tensor:
        return self._from(layer(self._tensor(x), training=training), x)

    def _dropout_layer(self, p: float, seed: int, dtype: str, noise_shape: Sequence[int | None] | None = None) -> Any:
        """A fresh Dropout layer, for the callers that keep one (modules, streams, checkpointed steps)."""
        return self._keras.layers.Dropout(p, noise_shape=noise_shape, seed=self._backend.seed(seed), dtype=dtype)

    def _seeded(self, kind: str, p: float, seed: int, dtype: str | None, **options: Any) -> Any:
        """``keras.layers.<kind>(p, seed=seed, dtype=dtype, **options)`` as a fresh layer is: one layer per
        (kind, p, dtype, options), made once, its SeedGenerator's state put back to [seed, 0], where a fresh
        layer's starts, so the call draws what a fresh layer's first call would. Keras and TensorFlow keep
        native memory for every layer made (measured: 5,000 fresh seeded Dropout layers grew the process by
        180 MB, and 5,000 more by 173 MB; one layer called 10,000 times, by 8 MB; issue 15), which a layer
        per call made grow with the run."""
        key = (kind, type(p), p, dtype, tuple(sorted(options.items())))
        layer = _made_once(self._layers, key, lambda: getattr(self._keras.layers, kind)(
            p, seed=self._backend.seed(seed), dtype=dtype, **options))
        generator = getattr(layer, "seed_generator", None)  # none at rate 0: such a layer never draws
        if generator is not None:
            generator.state.assign(np.array([self._backend.seed(seed), 0], dtype=generator.state.dtype))
        return layer

    def _seeded_dropout(self, p: float, seed: int, dtype: str | None,
                        noise_shape: Sequence[int | None] | None = None) -> Any:
        """The Dropout layer of (p, dtype, noise_shape) seeded ``seed`` (``_seeded``)."""
        return self._seeded("Dropout", p, seed, dtype, noise_shape=None if noise_shape is None else tuple(noise_shape))

    # ---- spec/dropout.md and spec/gradients.md: keras.layers.Dropout -----------------------------

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._call(self._seeded_dropout(p, seed, x.dtype.name), x, training)

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        return self._call(self._seeded_dropout(p, seed, x.dtype.name, noise_shape), x, training)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        """A Dropout layer of the default float32 policy called on an int32 tensor."""
        layer = self._seeded_dropout(p, seed, None)
        return self._backend.numpy(layer(self._backend.tensor(np.array(values, dtype=np.int32)),
                                         training=training)).tolist()

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a layer of the same seed on ones."""
        ones = self._tensor(np.ones(x.shape, dtype=as_array(x).dtype))
        keep = in_kind(self._backend.numpy(self._seeded_dropout(p, seed, x.dtype.name)(ones, training=True)) != 0, x)
        return self.dropout(x, p, training=True, seed=seed), keep

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of a Dropout layer of ``dtype`` on n ones, packed 8 elements a byte on the host."""
        ones = self._tensor(np.ones((n,), dtype=NUMPY_FORMATS[dtype]))
        y = self._backend.numpy(self._seeded_dropout(p, seed, dtype)(ones, training=True))
        return np.packbits(y != 0, bitorder="little")

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        layer = self._seeded_dropout(p, seed, x.dtype.name)
        y, dx = self._backend.vjp(lambda t: layer(t, training=training), self._tensor(x), self._tensor(g))
        return self._from(y, x), self._from(dx, g)

    def dropout_stream(self, seed: int) -> _SeedStream:
        """Successive calls of Dropout layers, one per rate and format, sharing one seed state: the
        state a call leaves in its layer's SeedGenerator is put into the next call's layer (a layer
        of rate 0 has no generator: it never draws)."""
        return _SeedStream(self, seed)

    def dropout_stream_state(self, seed: int) -> _SeedStream:
        return _SeedStream(self, seed)

    def stream_advance(self, n: int, dtype: str) -> int:
        """A SeedGenerator's counter moves one per call that draws, whatever its size."""
        return 1

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        """Steps of one Dropout layer per rate and format; under ``checkpoint`` the forward pass is
        ``keras.remat`` of the layer's call (``tf.recompute_grad``, ``jax.checkpoint``,
        ``torch.utils.checkpoint``); the gradient is the VJP of L = sum(w ⊙ y)."""
        layers: dict[tuple[float, str], Any] = {}

        def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
            layer = _made_once(layers, (p, x.dtype.name), lambda: self._dropout_layer(p, seed, x.dtype.name))

            def forward(t: Any) -> Any:
                return layer(t, training=True)

            y, dx = self._backend.vjp(self._keras.remat(forward) if checkpoint else forward, self._tensor(x),
                                      self._tensor(w))
            return self._from(y, x), self._from(dx, w)

        return step

    # ---- spec/variants.md ----------------------------------------------------------------------------

    def channel_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                        seed: int) -> Tensor:
        """``SpatialDropout1D/2D/3D``, which read batches only: an unbatched sample is given a
        batch axis of one. ``SpatialDropout1D`` reads channels last only: a channels-first x has
        its channel axis moved there and back."""
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
        a = as_array(x)
        unbatched = a.ndim == spatial_dims + 1
        a = a[np.newaxis] if unbatched else a
        transposed = spatial_dims == 1 and data_format == "channels_first"
        options = {} if spatial_dims == 1 else {"data_format": data_format}
        layer = self._seeded(f"SpatialDropout{spatial_dims}D", p, seed, x.dtype.name, **options)
        y = self._backend.numpy(layer(self._tensor(a.transpose(0, 2, 1) if transposed else a), training=training))
        y = y.transpose(0, 2, 1) if transposed else y
        return in_kind(y[0] if unbatched else y, x)

    def alpha_dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._call(self._seeded("AlphaDropout", p, seed, x.dtype.name), x, training)

    def feature_alpha_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                              seed: int) -> Tensor:
        """``AlphaDropout`` with a ``noise_shape`` of 1 on the spatial axes: one mask value per
        (sample, channel); an unbatched sample (spatial_dims + 1 axes) has its channel axis alone."""
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
        batched = len(x.shape) - spatial_dims - 1
        channel = batched if data_format == "channels_first" else len(x.shape) - 1
        noise_shape = tuple(n if axis < batched or axis == channel else 1 for axis, n in enumerate(x.shape))
        return self._call(self._seeded("AlphaDropout", p, seed, x.dtype.name, noise_shape=noise_shape), x, training)

    def gaussian_dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._call(self._seeded("GaussianDropout", p, seed, x.dtype.name), x, training)

    # ---- spec/ensemble.md: Monte Carlo dropout with Dropout layers ----------------------------------

    def mc_predict(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int) -> MCPrediction:
        """Mean and variance (1/S) Σ (y_s - mean)^2 of S training-mode passes of the network as a
        Keras Sequential in the module format: Dropout(p) before each layer that drops its inputs,
        Dense with its activation, and softmax over the logits."""
        return self._mc_passes(self._keras.Sequential(self._mc_stack(network, p, seed)), x, samples)

    def _mc_stack(self, network: Network, p: float, seed: int, norm: Any = None) -> list[Any]:
        """The network as Keras layers: Dropout(p) before each layer that drops its inputs, Dense with its
        activation (``norm``, where given, between the first Dense and its activation), and softmax."""
        keras, dtype = self._keras, self._backend.module_dtype
        stack: list[Any] = []
        for depth, layer in enumerate(network.layers):
            fan_out, fan_in = layer.weight.shape
            split = norm is not None and depth == 0
            dense = keras.layers.Dense(fan_out, activation=None if split else _ACTIVATIONS[layer.activation],
                                       dtype=dtype)
            dense.build((None, fan_in))
            dense.set_weights([to_numpy(layer.weight).T, to_numpy(layer.bias)])
            if layer.dropout:
                # a seed of its own per layer (seed + depth): layers of one seed would draw one mask
                stack.append(self._dropout_layer(p, (seed + depth) % 2**64, dtype))
            stack += [dense, norm, keras.layers.Activation(_ACTIVATIONS[layer.activation], dtype=dtype)] \
                if split else [dense]
        return [*stack, keras.layers.Softmax(dtype=dtype)]

    def _mc_passes(self, model: Any, x: Tensor, samples: int) -> MCPrediction:
        """Mean and variance of ``samples`` calls ``model(x, training=True)``, Keras's Monte Carlo dropout."""
        ops = self._keras.ops
        t = self._tensor(x)
        passes = ops.stack([model(t, training=True) for _ in range(samples)])
        mean = ops.mean(passes, axis=0)
        return MCPrediction(self._from(mean, x), self._from(ops.mean((passes - mean) ** 2, axis=0), x))

    def mc_predict_normalised(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int,
                              running_mean: list[float], running_var: list[float]) -> tuple:
        """``mc_predict`` with ``BatchNormalization(epsilon=1e-3)`` between the first Dense and its activation,
        its moving statistics set to the running ones: ``model(x, training=True)`` switches it to training
        too (keras-team/keras#9412), the known deviation of ENSEMBLE-10."""
        norm = self._keras.layers.BatchNormalization(epsilon=1e-3, dtype=self._backend.module_dtype)
        norm.build((None, len(running_mean)))
        width = len(running_mean)
        norm.set_weights([np.ones(width), np.zeros(width), np.array(running_mean), np.array(running_var)])
        prediction = self._mc_passes(self._keras.Sequential(self._mc_stack(network, p, seed, norm)), x, samples)
        moving_mean, moving_var = (np.asarray(w).tolist() for w in norm.get_weights()[2:])
        return (*prediction, moving_mean, moving_var)

    # ---- spec/modes.md: Dropout inside Sequential, the mode a call argument -----------------------

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        return _Module(self, self._dropout_layer(p, seed, self._backend.module_dtype))

    def sequential(self, *modules: _Module) -> _Module:
        container = self._keras.Sequential([m.layer for m in modules])
        container.dtype_policy = self._backend.module_dtype  # a Sequential casts its input to its first layer's
        return _Module(self, container)


def _made_once(layers: dict[tuple, Any], key: tuple, make: Callable[[], Any]) -> Any:
    """The layer of ``key``, made by ``make`` the first time only: ``dict.setdefault(key, make())`` would
    build a Keras layer (and its SeedGenerator) on every call, which Keras keeps and which costs ms
    (measured: ENSEMBLE-6 at quick peaked at 1.69 GB that way, 756 MB with each layer made once)."""
    if key not in layers:
        layers[key] = make()
    return layers[key]


class _SeedStream:
    """Keras Dropout layers sharing one SeedGenerator state ([seed, counter]): save() copies it,
    restore() puts it back, position() is how far the counter has moved since seeding."""

    def __init__(self, adapter: KerasDropout, seed: int) -> None:
        self.adapter, self.seed = adapter, seed
        generator = adapter._keras.random.SeedGenerator(adapter._backend.seed(seed))
        self.state = adapter._backend.numpy(generator.state.value)
        self.seeded = int(self.state[1])
        self.layers: dict[tuple[float, str], Any] = {}

    def __call__(self, x: Tensor, p: float, *, training: bool) -> Tensor:
        layer = _made_once(self.layers, (p, x.dtype.name),
                           lambda: self.adapter._dropout_layer(p, self.seed, x.dtype.name))
        generator = getattr(layer, "seed_generator", None)
        if generator is None:
            return self.adapter._call(layer, x, training)
        generator.state.assign(self.state)
        y = self.adapter._call(layer, x, training)
        self.state = self.adapter._backend.numpy(generator.state.value)
        return y

    def save(self) -> np.ndarray:
        return self.state.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        self.state = np.array(snapshot, copy=True)

    def position(self) -> int:
        return int(self.state[1]) - self.seeded


class _Module:
    """A Keras layer as the protocol's module. Keras layers have no mode of their own: the mode
    is the ``training=`` argument of each call, which a container passes on to its layers, so
    train() and eval() set the argument this wrapper's calls give."""

    def __init__(self, adapter: KerasDropout, layer: Any) -> None:
        self.adapter, self.layer, self.training = adapter, layer, True

    def train(self) -> _Module:
        self.training = True
        return self

    def eval(self) -> _Module:
        self.training = False
        return self

    def __call__(self, x: Tensor) -> Tensor:
        return self.adapter._call(self.layer, x, self.training)


# ---- Keras on the other backends, each in a process of its own ----------------------------------------


class KerasJaxDropout(Isolated, serves=KerasDropout):
    """Keras 3's dropout layers on the JAX backend, in a child process with KERAS_BACKEND=jax."""

    name = "keras-jax"
    framework = "keras"
    options = {"backend": "jax"}
    environment = {"KERAS_BACKEND": "jax"}
    dtypes = ("float32", "float16", "bfloat16")
    policies = Policies(scaling="inverted", nonfinite="select", p_validation="bool_as_number", subnormals="flushed",
                        scale_format="input", seed_bits=32)
    known_deviations = KNOWN_DEVIATIONS["keras-jax"]


class KerasTorchDropout(Isolated, serves=KerasDropout):
    """Keras 3's dropout layers on the torch backend, in a child process with KERAS_BACKEND=torch."""

    name = "keras-torch"
    framework = "keras"
    options = {"backend": "torch"}
    environment = {"KERAS_BACKEND": "torch"}
    dtypes = DTYPES
    policies = Policies(scaling="inverted", nonfinite="select", p_validation="bool_as_number", seed_bits=32)
    known_deviations = KNOWN_DEVIATIONS["keras-torch"]
