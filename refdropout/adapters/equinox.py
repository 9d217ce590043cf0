"""Equinox as a conformance target: ``eqx.nn.Dropout`` and ``eqx.nn.Sequential`` behind the protocol.

Target ``equinox`` (:class:`EquinoxDropout`) calls ``eqx.nn.Dropout(p)(x, key=key, inference=not
training)``, whose body (equinox/nn/_dropout.py, Equinox 0.13) is

    if isinstance(p, (int, float)) and p == 0: inference = True
    if inference: return x
    q = 1 - lax.stop_gradient(p)
    mask = jax.random.bernoulli(key, q, x.shape)
    return jnp.where(mask, x / q, 0)

It has no noise shape, no channel or alpha dropout: those capabilities are absent.

Keys. An Equinox layer takes its key at every call. The key of a call with seed s is the jax
target's, ``jax.random.key(numpy.uint64(s))`` under ``jax.enable_x64(True)`` (scoped), so all 64
bits of the seed count (refdropout.adapters.jax explains why: by default JAX keeps the low 32).
State is the caller's key, split before each call that draws, as Equinox's examples do: a stream
splits ``key, sub = split(key)`` before each training call at 0 < p and draws with ``sub``
(the jax target's stream); a module made with
``dropout_module(p, seed=s)`` holds the key of s and splits it before each call in training, and
is called without a key in evaluation (Equinox needs none there); a container made by
``sequential`` is an ``eqx.nn.Sequential`` of its modules' layers, called with a split of its
first module's key, which Sequential splits among its layers; ``train()`` and ``eval()`` are
``eqx.nn.inference_mode(model, False/True)``, which reaches every nested layer.

Policies, as measured on the CPU (Equinox 0.13.8, JAX 0.10.2): inverted scaling; a dropped NaN
or ±inf becomes 0 (``jnp.where``: "select"); p = 1 gives zeros (q = 0: nothing is kept, and the
unselected x / 0 is discarded); q is a weakly typed array, rounded to x's format first, and XLA's
CPU arithmetic flushes subnormals (scale_format "input", subnormals "flushed", as the jax
target); the masks are JAX's Threefry bernoulli of the key of the seed (algorithm
"jax-threefry"), and a stream's drawing call c takes the c-th key of the split idiom above
(stream_keys "jax-split", EXACT-2; measured bit for bit on the CPU, as the jax target's).
KNOWN_DEVIATIONS lists what no policy allows. The module imports jax and equinox only when an
adapter is made.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import in_kind
from ..tensor import Tensor
from . import INSTALL as COMMANDS
from . import import_framework
from .jax import XLA_RECIPROCAL_OVERFLOW, JaxDropout, _Jax, elements

__all__ = ["EquinoxDropout", "INSTALL", "KNOWN_DEVIATIONS"]

INSTALL = COMMANDS["equinox"]

# clause -> what Equinox does that the spec forbids and no policy allows; measured with Equinox 0.13.8,
# JAX 0.10.2 on the CPU by `refdropout check equinox --profile quick` (seed 0) and by hand:
#   eqx.nn.Dropout(-0.1)(jnp.arange(1., 5.), key=k)          -> x / 1.1, every element kept
#   eqx.nn.Dropout(0.1)(jnp.arange(1, 5, dtype=int32), key=k) -> float32 values
#   jax.grad(lambda a: eqx.nn.Dropout(1.0)(a, key=k).sum())(x) -> [nan nan nan nan]
KNOWN_DEVIATIONS: dict[str, str] = {
    "DROPOUT-2": XLA_RECIPROCAL_OVERFLOW,
    "DROPOUT-3": "eqx.nn.Dropout checks no rate: p = -0.1, 1.5, ±inf, NaN and False are used as they are in "
                 "training (p = -0.1 keeps everything and divides by 1.1; 1.5, ±inf and NaN give zeros), and "
                 "evaluation accepts anything",
    "DROPOUT-9": "`x / q` of an int32 x silently promotes it to floating point: integers are scaled, not refused",
    "GRADIENTS-1": "as at p = 1 (GRADIENTS-4), in float16 at p = 1 - 2^-25, where q rounds to 0: "
                   "`jnp.where(mask, x / q, 0)` sends the zeroed cotangent through x / 0, and every dropped "
                   "element's gradient is 0 / 0 = NaN, not 0 (equinox 0.13.8; found by the generated cases); "
                   "and at p = 1 - 2^-16, where XLA's x * fl16(1 / q) overflows, through 0 * inf = NaN (found "
                   "by the clause's case of an overflowing scale: g = 2^-14 gives NaN at element 0, dropped)",
    "GRADIENTS-4": "at p = 1 the VJP is NaN, not 0: `jnp.where(mask, x / q, 0)` with q = 0 sends the zero "
                   "cotangent through x / 0, and 0 / 0 is NaN (the forward pass gives zeros)",
}


class EquinoxDropout(_Jax):
    """``eqx.nn.Dropout`` behind the conformance protocol, keyed by ``jax.random.key`` of the seed."""

    name = "equinox"
    framework = "equinox"
    install = INSTALL
    policies = Policies(scaling="inverted", nonfinite="select", subnormals="flushed", scale_format="input",
                        algorithm="jax-threefry", stream_keys="jax-split")
    known_deviations = KNOWN_DEVIATIONS
    dropout_noise_shape = None  # eqx.nn.Dropout draws one mask value per element only

    def __init__(self) -> None:
        super().__init__()
        self.eqx = import_framework("equinox", target=self.name, install=self.install)

    def _drop(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        """``eqx.nn.Dropout(p)(x, key=key, inference=not training)``."""
        return self.eqx.nn.Dropout(p)(x, key=key, inference=not training)

    # the Haiku idiom's stream, which is Equinox's too: split the key before each drawing call
    dropout_stream = JaxDropout.dropout_stream
    dropout_stream_state = JaxDropout.dropout_stream_state

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        """``eqx.nn.Dropout(p)`` with the key of ``seed``, split before each training call."""
        with self._x64():
            return _Module(self, self.eqx.nn.Dropout(p), _Key(self._key(seed)))

    def sequential(self, *modules: _Module) -> _Module:
        """``eqx.nn.Sequential`` of the modules' layers, drawing with the first module's key."""
        if not modules:
            raise ValueError("sequential needs at least one module, got none")
        return _Module(self, self.eqx.nn.Sequential([m.module for m in modules]), modules[0].key)


class _Key:
    """A key that a module and the containers around it share: split before each training call."""

    def __init__(self, key: Any) -> None:
        self.key = key

    def next(self, jax: Any) -> Any:
        self.key, sub = jax.random.split(self.key)
        return sub


class _Module:
    """An Equinox model as the protocol's layer: train() and eval() through ``eqx.nn.inference_mode``;
    a training call draws with a fresh split of its key, an evaluation call takes no key."""

    def __init__(self, adapter: EquinoxDropout, module: Any, key: _Key) -> None:
        self.adapter, self.module, self.key, self.training = adapter, module, key, True

    def _mode(self, training: bool) -> _Module:
        self.module = self.adapter.eqx.nn.inference_mode(self.module, value=not training)
        self.training = training
        return self

    def train(self) -> _Module:
        return self._mode(True)

    def eval(self) -> _Module:
        return self._mode(False)

    def __call__(self, x: Tensor) -> Tensor:
        adapter = self.adapter
        with adapter._x64(elements(x)):
            key = self.key.next(adapter.jax) if self.training else None
            return in_kind(np.asarray(self.module(adapter._array(x), key=key)), x)
