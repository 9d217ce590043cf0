"""TensorFlow and Keras as conformance targets: two adapters on one framework.

``TensorflowDropout`` (target ``tensorflow``) is ``tf.nn.experimental.stateless_dropout``: a
pure function of its seed, given as the pair ``[lo, hi]`` of the 64-bit seed's two 32-bit
halves, so every bit of the seed counts. It has no mode: the evaluation pass of a model built on
it skips the call, and so does the adapter (x itself). A stream is TensorFlow's own pattern for
stateful dropout: ``general_dropout`` drawing its uniforms from one seeded ``tf.random.Generator``.
Covered: dropout, its mask, its VJP by ``tf.GradientTape``, a stream, ``noise_shape``.

``KerasDropout`` (target ``keras``) is Keras 3's layers on the TensorFlow backend: ``Dropout``
(with ``noise_shape``), the mode being the ``training=`` call argument, ``Sequential``,
``SpatialDropout1D/2D/3D`` (channel dropout), ``AlphaDropout`` (with ``noise_shape``: feature alpha
dropout), ``GaussianDropout`` and Monte Carlo dropout through ``Dense`` layers. Not covered: the
``dropout`` and ``recurrent_dropout`` of Keras's LSTM and GRU. A layer owns a ``SeedGenerator``
whose int64 state starts at [seed, 0] and counts up one per call; the 64-bit seed is passed as
the int64 of the same bits (s − 2^64 from 2^63 on), which is one-to-one. Keras then reduces each
state word modulo 2^31 − 2 before the stateless op, so seeds s and s + 2^31 − 2 draw one mask.
Every layer is made in the dtype policy of its input's format (Keras's default policy would cast
every input to float32); modules and containers, made before any input is seen, in float64's.

Policies, as measured on the CPU (TensorFlow 2.21, Keras 3.15): inverted scaling (x * fl(1/q)
where kept); a dropped NaN or ±inf becomes 0 ("select": the kernel selects 0, it does not
multiply); the CPU kernels flush subnormals to ±0 (subnormals "flushed"). ``stateless_dropout``
rejects p = 1 (its rate lies in [0, 1): p_one "refused") and, having no mode, reads p in training
only (p_validation "training_only"); Keras returns zeros at p = 1 and x at p = 0 without drawing,
and takes True and False as rates 1 and 0 (p_validation "bool_as_number"). KNOWN_DEVIATIONS
lists what no policy allows. The target ``tensorflow`` declares the algorithm "tf-stateless-philox"
with the default key [lo, hi] (spec/exact.md, EXACT-1), and its stream's schedule "tf-generator"
(``from_seed(s)`` holds the Philox counter s under the key (0, 0), moved on 256 per element drawn:
EXACT-2, measured bit for bit on the CPU); Keras's state words, reduced modulo
2^31 − 2, follow no declared key. Importing this module never needs TensorFlow, making an adapter
does; before TensorFlow is first imported the adapter sets, unless the environment already does,
``TF_CPP_MIN_LOG_LEVEL`` to 2 (no start-up logging) and ``TF_ENABLE_ONEDNN_OPTS`` to 0 (ENVIRONMENT).
With oneDNN's options on, TensorFlow's CPU tensors come from oneDNN's allocator, a BFC pool that
keeps every byte it has held: one SpatialDropout1D call on 9.7 M float64 elements (VARIANTS-3 at
standard) left the process 356 MB larger for good, and keras at standard peaked at 2.2 GB (issue 15).
oneDNN's kernels are not the dropout ops', nor float64 Dense's: the verdicts and p-values of both
targets at quick, seed 0, are the same either way (measured). A user's own setting of either variable
is kept: ``TF_ENABLE_ONEDNN_OPTS=1 refdropout check keras`` runs with oneDNN.
Keras's backend is fixed when keras is first imported (KERAS_BACKEND): the keras target refuses to
start on any other backend than TensorFlow, a setup error, rather than report its own TensorFlow calls
failing on jax or torch arrays as the target's FAILs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import DTYPES, as_array, in_kind, to_numpy
from ..nn.mc import MCPrediction
from ..tensor import Tensor
from ..theory import Network
from . import import_framework

__all__ = ["TensorflowDropout", "KerasDropout", "INSTALL", "KNOWN_DEVIATIONS"]

INSTALL = "pip install tensorflow-cpu keras"
SEED_BITS = 64
# set before TensorFlow is first imported, unless already set: no start-up logging; TensorFlow's plain CPU
# allocator, which gives memory back, not oneDNN's pool, which keeps it
ENVIRONMENT = (("TF_CPP_MIN_LOG_LEVEL", "2"), ("TF_ENABLE_ONEDNN_OPTS", "0"))
MODULE_DTYPE = "float64"  # the format of Keras modules, made before their input is seen
# measured (Keras 3.15.1): with KERAS_BACKEND=jax the adapter's TensorFlow calls meet jax arrays ("'ArrayImpl' object
# has no attribute 'numpy'") and its int64 seeds jax's uint32 ones: errors of the adapter, once reported as FAILs
OTHER_BACKEND = ("the keras target runs Keras 3 on its TensorFlow backend, and Keras was imported with the {backend} "
                 "backend (KERAS_BACKEND, or ~/.keras/keras.json): unset KERAS_BACKEND, or check the {backend} backend "
                 "in a process of its own through a plain function `f(x, p, *, training, seed)`")
_ACTIVATIONS = {"identity": None, "tanh": "tanh", "relu": "relu"}  # refdropout.theory's names -> Keras's

# target -> clause -> what the framework does that the spec forbids and no policy allows
KNOWN_DEVIATIONS: dict[str, dict[str, str]] = {
    "tensorflow": {
        "DROPOUT-3": "stateless_dropout accepts p = NaN (every element dropped) and p = False in training",
        "DROPOUT-16": "stateless_dropout draws its uniforms in x's format and keeps u >= p rounded to it: in "
                      "float16 the uniforms take 1,024 values (keep rate 0.99805, not 0.999, at p = 0.001), in "
                      "bfloat16 128 values (0.99219 at p = 0.001, 0.6953 at p = 0.3, 0 at p = 0.999)",
        "GRADIENTS-1": "stateless_dropout computes x * scale, scale = 1 / q converted to x's format, then "
                       "selects: in float16 at q below 2^-16 the scale is inf, and the gradient of a dropped "
                       "element is 0 * inf = NaN, not 0 (every one at p = 0.99999 and at p = 1 - 2^-25, "
                       "TensorFlow 2.21.0; found by the generated cases)",
    },
    "keras": {
        "MODES-4": "a Keras layer casts its input to its own dtype policy, made before any input is seen: "
                   "after eval() Dropout returns x in the layer's format, not x's (the target's float64 modules "
                   "give float64 for float32, float16 and bfloat16 x; a layer of the default float32 policy "
                   "rounds a float64 x, 0.1 -> 0.10000000149011612: evaluation is not the identity); keras "
                   "3.15.1, found by the generated cases",
        "GRADIENTS-1": "as tensorflow's: Dropout scales by 1 / q in x's format, inf in float16 at q below 2^-16, "
                       "so every dropped element's gradient is 0 * inf = NaN at p = 0.99999 and at p = 1 - 2^-25 "
                       "(keras 3.15.1 on TensorFlow 2.21.0; found by the generated cases)",
        "VARIANTS-4": "AlphaDropout at p = 1 raises ZeroDivisionError (0.0 ** -0.5) instead of giving 0, "
                      "the limit of a alpha' (1 - p); and in float16 at p = 1 - 2^-53 (any q <= 1.2e-10 or so) "
                      "every element is NaN, as VARIANTS-6 finds",
        "VARIANTS-6": "AlphaDropout with a noise_shape, in float16 at p = 1 - 2^-53 or 1 - 2^-33, gives NaN for "
                      "every element of x = 0 (Keras 3.15: its multipliers pass float16's largest finite value); "
                      "the dropped value a alpha' q is about -1e-8 (found by the clause's generated cases)",
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
}


def _prepare_environment() -> None:
    """ENVIRONMENT's settings, where the environment has none of its own (they count only before
    TensorFlow is first imported)."""
    for name, value in ENVIRONMENT:
        os.environ.setdefault(name, value)


def _to_tf(tf: Any, x: Tensor | np.ndarray) -> Any:
    """x (an engine tensor or a numpy array) as a TensorFlow tensor of its shape and format (exact, via numpy)."""
    return tf.convert_to_tensor(as_array(x))


def _from_tf(y: Any, like: object) -> Tensor | np.ndarray:
    """y in the kind of ``like``: a numpy array for a numpy array, an engine tensor otherwise."""
    return in_kind(np.asarray(y.numpy()), like)  # np.asarray(y) fails on a 0-d bfloat16 tensor


def _resolved(noise_shape: Sequence[int | None], shape: tuple[int, ...]) -> tuple[int, ...]:
    """noise_shape with each None replaced by x's extent on that axis."""
    return tuple(n if m is None else m for m, n in zip(noise_shape, shape))


def _kept(y: Any, like: object) -> Tensor | np.ndarray:
    """The keep mask of a dropout of ones, in the kind of ``like``: kept elements are 1/q, dropped ones 0."""
    return in_kind(np.asarray(y.numpy()) != 0, like)


def _packed(tf: Any, keep: Any, n: int) -> np.ndarray:
    """A bool mask of n elements packed 8 a byte (little bit order, as np.packbits) where it lies; only
    the bytes cross to the host."""
    bits = tf.reshape(tf.concat([tf.cast(keep, tf.int32), tf.zeros([-n % 8], tf.int32)], 0), (-1, 8))
    return tf.cast(tf.reduce_sum(bits * tf.constant([1, 2, 4, 8, 16, 32, 64, 128], tf.int32), axis=1), tf.uint8).numpy()


class TensorflowDropout:
    """``tf.nn.experimental.stateless_dropout`` behind the conformance protocol."""

    name = "tensorflow"
    framework = "tensorflow"
    dtypes = DTYPES
    policies = Policies(scaling="inverted", nonfinite="select", p_one="refused", p_validation="training_only",
                        subnormals="flushed", algorithm="tf-stateless-philox", stream_keys="tf-generator")
    known_deviations = KNOWN_DEVIATIONS["tensorflow"]

    def __init__(self) -> None:
        _prepare_environment()
        self._tf = import_framework("tensorflow", target=self.name, install=INSTALL)

    def _seed(self, seed: int) -> Any:
        """The stateless seed [lo, hi]: the low and high 32 bits of the 64-bit seed."""
        return self._tf.constant([seed & 0xFFFFFFFF, seed >> 32], dtype=self._tf.int64)

    def _drop(self, t: Any, p: float, seed: Any, noise_shape: tuple[int, ...] | None = None) -> Any:
        return self._tf.nn.experimental.stateless_dropout(t, p, seed=seed, noise_shape=noise_shape)

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        t = _to_tf(self._tf, x)
        return _from_tf(self._drop(t, p, self._seed(seed)) if training else t, x)

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        t = _to_tf(self._tf, x)
        return _from_tf(self._drop(t, p, self._seed(seed), _resolved(noise_shape, x.shape)) if training else t, x)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        t = self._tf.constant(values, dtype=self._tf.int32)
        return (self._drop(t, p, self._seed(seed)) if training else t).numpy().tolist()

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a call on ones with the same seed: a stateless
        call's draws depend on the seed, shape and dtype only, so the mask is this call's."""
        ones = self._tf.ones(x.shape, dtype=_to_tf(self._tf, x).dtype)
        return self.dropout(x, p, training=True, seed=seed), _kept(self._drop(ones, p, self._seed(seed)), x)

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of stateless_dropout of n ones in ``dtype``, packed 8 elements a byte on the
        tensor's device. Tested on the CPU only: no GPU was available where it was written."""
        ones = self._tf.ones((n,), dtype=dtype)
        return _packed(self._tf, self._drop(ones, p, self._seed(seed)) != 0, n)

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        tf = self._tf
        t = _to_tf(tf, x)
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = self._drop(t, p, self._seed(seed)) if training else tf.identity(t)
        return _from_tf(y, x), _from_tf(tape.gradient(y, t, output_gradients=_to_tf(tf, g)), g)

    def dropout_stream(self, seed: int) -> _GeneratorStream:
        """Successive ``tf.nn.experimental.general_dropout`` calls drawing their uniforms from one
        ``tf.random.Generator``: TensorFlow's dropout on a state, which at p = 0 draws nothing."""
        return _GeneratorStream(self._tf, seed)

    def dropout_stream_state(self, seed: int) -> _GeneratorStream:
        return _GeneratorStream(self._tf, seed)

    def stream_advance(self, n: int, dtype: str) -> int:
        """The Philox counter of a ``tf.random.Generator`` moves 256 per uniform drawn, in every format
        (measured, TensorFlow 2.21)."""
        return 256 * n

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        """Steps of ``stateless_dropout`` whose seed pair a ``tf.random.Generator`` makes per step
        (``make_seeds``) outside the recomputed function; under ``checkpoint`` the forward pass is
        ``tf.recompute_grad`` of it. (``general_dropout`` on the generator itself, recomputed, redraws:
        measured, the replay's mask is fresh and the counter advances twice per step.)"""
        tf = self._tf
        generator = tf.random.Generator.from_seed(seed)

        def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
            pair = generator.make_seeds(1)[:, 0]

            def forward(t: Any) -> Any:
                return self._drop(t, p, pair)

            return _taped_step(tf, tf.recompute_grad(forward) if checkpoint else forward, x, w)

        return step


def _taped_step(tf: Any, forward: Callable[[Any], Any], x: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """(y, dL/dx) of y = forward(x), L = sum(w ⊙ y), by a GradientTape."""
    t = _to_tf(tf, x)
    with tf.GradientTape() as tape:
        tape.watch(t)
        y = forward(t)
        loss = tf.reduce_sum(_to_tf(tf, w) * y)
    return _from_tf(y, x), _from_tf(tape.gradient(loss, t), w)


class _GeneratorStream:
    """general_dropout on one tf.random.Generator; save() copies its state, restore() resets it, and
    position() is how far its 128-bit Philox counter has moved since seeding."""

    def __init__(self, tf: Any, seed: int) -> None:
        self.tf, self.generator = tf, tf.random.Generator.from_seed(seed)
        self.seeded = self._counter()

    def _counter(self) -> int:
        low, high = (int(v) % 2**64 for v in self.generator.state.numpy()[:2])
        return low + (high << 64)

    def __call__(self, x: Tensor, p: float, *, training: bool) -> Tensor:
        t = _to_tf(self.tf, x)
        return _from_tf(self.tf.nn.experimental.general_dropout(t, p, self.generator.uniform) if training else t, x)

    def save(self) -> np.ndarray:
        return self.generator.state.numpy().copy()

    def restore(self, snapshot: np.ndarray) -> None:
        self.generator.reset(snapshot)

    def position(self) -> int:
        return (self._counter() - self.seeded) % 2**128


def _keras_seed(seed: int) -> int:
    """The int64 with the 64 bits of ``seed`` (Keras keeps a layer's seed in an int64 variable)."""
    return seed - 2**SEED_BITS if seed >= 2 ** (SEED_BITS - 1) else seed


class KerasDropout:
    """Keras 3's dropout layers (TensorFlow backend) behind the conformance protocol."""

    name = "keras"
    framework = "keras"
    dtypes = DTYPES
    policies = Policies(scaling="inverted", nonfinite="select", p_validation="bool_as_number", subnormals="flushed")
    known_deviations = KNOWN_DEVIATIONS["keras"]

    def __init__(self) -> None:
        _prepare_environment()
        self._keras = import_framework("keras", target=self.name, install=INSTALL)
        backend = self._keras.backend.backend()
        if backend != "tensorflow":  # fixed when keras is first imported; this adapter's calls are TensorFlow's
            raise RuntimeError(OTHER_BACKEND.format(backend=backend))
        self._tf = import_framework("tensorflow", target=self.name, install=INSTALL)
        self._layers: dict[tuple, Any] = {}  # (kind, type(p), p, dtype, options) -> a layer made once

    def _call(self, layer: Any, x: Tensor, training: bool) -> Tensor:
        return _from_tf(layer(_to_tf(self._tf, x), training=training), x)

    def _dropout_layer(self, p: float, seed: int, dtype: str, noise_shape: Sequence[int | None] | None = None) -> Any:
        """A fresh Dropout layer, for the callers that keep one (modules, streams, checkpointed steps)."""
        return self._keras.layers.Dropout(p, noise_shape=noise_shape, seed=_keras_seed(seed), dtype=dtype)

    def _seeded(self, kind: str, p: float, seed: int, dtype: str | None, **options: Any) -> Any:
        """``keras.layers.<kind>(p, seed=seed, dtype=dtype, **options)`` as a fresh layer is: one layer per
        (kind, p, dtype, options), made once, its SeedGenerator's state put back to [seed, 0], where a fresh
        layer's starts, so the call draws what a fresh layer's first call would. Keras and TensorFlow keep
        native memory for every layer made (measured: 5,000 fresh seeded Dropout layers grew the process by
        180 MB, and 5,000 more by 173 MB; one layer called 10,000 times, by 8 MB; issue 15), which a layer
        per call made grow with the run."""
        key = (kind, type(p), p, dtype, tuple(sorted(options.items())))
        layer = _made_once(self._layers, key,
                           lambda: getattr(self._keras.layers, kind)(p, seed=_keras_seed(seed), dtype=dtype, **options))
        generator = getattr(layer, "seed_generator", None)  # none at rate 0: such a layer never draws
        if generator is not None:
            generator.state.assign(np.array([_keras_seed(seed), 0], dtype=np.int64))
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
        return self._tf.convert_to_tensor(layer(self._tf.constant(values, dtype=self._tf.int32),
                                                training=training)).numpy().tolist()

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a layer of the same seed on ones."""
        ones = self._tf.ones(x.shape, dtype=_to_tf(self._tf, x).dtype)
        keep = _kept(self._seeded_dropout(p, seed, x.dtype.name)(ones, training=True), x)
        return self.dropout(x, p, training=True, seed=seed), keep

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of a Dropout layer of ``dtype`` on n ones, packed 8 elements a byte on the
        tensor's device. Tested on the CPU only: no GPU was available where it was written."""
        ones = self._tf.ones((n,), dtype=dtype)
        return _packed(self._tf, self._seeded_dropout(p, seed, dtype)(ones, training=True) != 0, n)

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        tf = self._tf
        t = _to_tf(tf, x)
        layer = self._seeded_dropout(p, seed, x.dtype.name)
        with tf.GradientTape() as tape:
            tape.watch(t)
            y = tf.identity(layer(t, training=training))
        # at p = 1 Keras returns zeros_like(x), not connected to x: its gradient is zero, not None
        dx = tape.gradient(y, t, output_gradients=_to_tf(tf, g), unconnected_gradients=tf.UnconnectedGradients.ZERO)
        return _from_tf(y, x), _from_tf(dx, g)

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
        ``keras.remat`` of the layer's call (``tf.recompute_grad`` on the TensorFlow backend)."""
        layers: dict[tuple[float, str], Any] = {}

        def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
            layer = _made_once(layers, (p, x.dtype.name), lambda: self._dropout_layer(p, seed, x.dtype.name))

            def forward(t: Any) -> Any:
                return layer(t, training=True)

            return _taped_step(self._tf, self._keras.remat(forward) if checkpoint else forward, x, w)

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
        tf = self._tf
        t = _to_tf(tf, x)
        unbatched = len(x.shape) == spatial_dims + 1
        if unbatched:
            t = t[tf.newaxis]
        transposed = spatial_dims == 1 and data_format == "channels_first"
        options = {} if spatial_dims == 1 else {"data_format": data_format}
        layer = self._seeded(f"SpatialDropout{spatial_dims}D", p, seed, x.dtype.name, **options)
        y = layer(tf.transpose(t, (0, 2, 1)) if transposed else t, training=training)
        y = tf.transpose(y, (0, 2, 1)) if transposed else y
        return _from_tf(y[0] if unbatched else y, x)

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
        Keras Sequential in float64: Dropout(p) before each layer that drops its inputs, Dense with
        its activation, and softmax over the logits."""
        return self._mc_passes(self._keras.Sequential(self._mc_stack(network, p, seed)), x, samples)

    def _mc_stack(self, network: Network, p: float, seed: int, norm: Any = None) -> list[Any]:
        """The network as Keras layers: Dropout(p) before each layer that drops its inputs, Dense with its
        activation (``norm``, where given, between the first Dense and its activation), and softmax."""
        keras = self._keras
        stack: list[Any] = []
        for depth, layer in enumerate(network.layers):
            fan_out, fan_in = layer.weight.shape
            split = norm is not None and depth == 0
            dense = keras.layers.Dense(fan_out, activation=None if split else _ACTIVATIONS[layer.activation],
                                       dtype=MODULE_DTYPE)
            dense.build((None, fan_in))
            dense.set_weights([to_numpy(layer.weight).T, to_numpy(layer.bias)])
            if layer.dropout:
                # a seed of its own per layer (seed + depth): layers of one seed would draw one mask
                layer_seed = _keras_seed((seed + depth) % 2**SEED_BITS)
                stack.append(keras.layers.Dropout(p, seed=layer_seed, dtype=MODULE_DTYPE))
            stack += [dense, norm, keras.layers.Activation(_ACTIVATIONS[layer.activation], dtype=MODULE_DTYPE)] \
                if split else [dense]
        return [*stack, keras.layers.Softmax(dtype=MODULE_DTYPE)]

    def _mc_passes(self, model: Any, x: Tensor, samples: int) -> MCPrediction:
        """Mean and variance of ``samples`` calls ``model(x, training=True)``, Keras's Monte Carlo dropout."""
        tf = self._tf
        t = _to_tf(tf, x)
        passes = tf.stack([model(t, training=True) for _ in range(samples)])
        mean = tf.reduce_mean(passes, axis=0)
        return MCPrediction(_from_tf(mean, x), _from_tf(tf.reduce_mean((passes - mean) ** 2, axis=0), x))

    def mc_predict_normalised(self, network: Network, p: float, x: Tensor, samples: int, *, seed: int,
                              running_mean: list[float], running_var: list[float]) -> tuple:
        """``mc_predict`` with ``BatchNormalization(epsilon=1e-3)`` between the first Dense and its activation,
        its moving statistics set to the running ones: ``model(x, training=True)`` switches it to training
        too (keras-team/keras#9412), the known deviation of ENSEMBLE-10."""
        norm = self._keras.layers.BatchNormalization(epsilon=1e-3, dtype=MODULE_DTYPE)
        norm.build((None, len(running_mean)))
        width = len(running_mean)
        norm.set_weights([np.ones(width), np.zeros(width), np.array(running_mean), np.array(running_var)])
        prediction = self._mc_passes(self._keras.Sequential(self._mc_stack(network, p, seed, norm)), x, samples)
        moving_mean, moving_var = (np.asarray(w).tolist() for w in norm.get_weights()[2:])
        return (*prediction, moving_mean, moving_var)

    # ---- spec/modes.md: Dropout inside Sequential, the mode a call argument -----------------------

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        return _Module(self, self._dropout_layer(p, seed, MODULE_DTYPE))

    def sequential(self, *modules: _Module) -> _Module:
        container = self._keras.Sequential([m.layer for m in modules])
        container.dtype_policy = MODULE_DTYPE  # a Sequential casts its input to its first layer's format
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
        self.state = adapter._keras.random.SeedGenerator(_keras_seed(seed)).state.numpy()
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
        self.state = generator.state.numpy()
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
