"""TensorFlow as a conformance target: ``tf.nn.experimental.stateless_dropout``.

``TensorflowDropout`` (target ``tensorflow``) is ``tf.nn.experimental.stateless_dropout``: a
pure function of its seed, given as the pair ``[lo, hi]`` of the 64-bit seed's two 32-bit
halves, so every bit of the seed counts. It has no mode: the evaluation pass of a model built on
it skips the call, and so does the adapter (x itself). A stream is TensorFlow's own pattern for
stateful dropout: ``general_dropout`` drawing its uniforms from one seeded ``tf.random.Generator``.
Covered: dropout, its mask, its VJP by ``tf.GradientTape``, a stream, ``noise_shape``. Keras 3's
layers on TensorFlow (target ``keras``) are refdropout.adapters.keras.

Policies, as measured on the CPU (TensorFlow 2.21): inverted scaling (x * fl(1/q) where kept); a
dropped NaN or ±inf becomes 0 ("select": the kernel selects 0, it does not multiply); the CPU
kernels flush subnormals to ±0 (subnormals "flushed"). ``stateless_dropout`` rejects p = 1 (its
rate lies in [0, 1): p_one "refused") and, having no mode, reads p in training only (p_validation
"training_only"). KNOWN_DEVIATIONS lists what no policy allows. The target declares the algorithm
"tf-stateless-philox" with the default key [lo, hi] (spec/exact.md, EXACT-1), and its stream's
schedule "tf-generator" (``from_seed(s)`` holds the Philox counter s under the key (0, 0), moved on
256 per element drawn: EXACT-2, measured bit for bit on the CPU). Importing this
module never needs TensorFlow, making an adapter does; before TensorFlow is first imported the
adapter (and the keras target's) sets, unless the environment already does,
``TF_CPP_MIN_LOG_LEVEL`` to 2 (no start-up logging) and ``TF_ENABLE_ONEDNN_OPTS`` to 0 (ENVIRONMENT).
With oneDNN's options on, TensorFlow's CPU tensors come from oneDNN's allocator, a BFC pool that
keeps every byte it has held: one SpatialDropout1D call on 9.7 M float64 elements (VARIANTS-3 at
standard) left the process 356 MB larger for good, and keras at standard peaked at 2.2 GB (issue 15).
oneDNN's kernels are not the dropout ops', nor float64 Dense's: the verdicts and p-values of the
tensorflow and keras targets at quick, seed 0, are the same either way (measured). A user's own
setting of either variable is kept: ``TF_ENABLE_ONEDNN_OPTS=1 refdropout check keras`` runs with oneDNN.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import DTYPES, as_array, in_kind
from ..tensor import Tensor
from . import import_framework

__all__ = ["TensorflowDropout", "ENVIRONMENT", "INSTALL", "KNOWN_DEVIATIONS", "prepare_environment"]

INSTALL = "pip install tensorflow-cpu keras"
# set before TensorFlow is first imported, unless already set: no start-up logging; TensorFlow's plain CPU
# allocator, which gives memory back, not oneDNN's pool, which keeps it
ENVIRONMENT = (("TF_CPP_MIN_LOG_LEVEL", "2"), ("TF_ENABLE_ONEDNN_OPTS", "0"))

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
}


def prepare_environment() -> None:
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
        prepare_environment()
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
