"""MLX (its CPU build on Linux) as a conformance target: ``mlx.nn.Dropout``, ``Dropout2d`` and
``Dropout3d`` behind the protocol.

Install: ``pip install 'mlx[cpu]'``. On Linux a plain ``pip install mlx`` installs the Python
package without a backend, and ``import mlx.core`` fails with "libmlx.so: cannot open shared object
file"; the ``cpu`` extra adds ``mlx-cpu``, the CPU backend (measured with MLX 0.32.4).

Covered: ``nn.Dropout`` (dropout, its mask, its VJP by ``mx.vjp``, a stream of calls), inside
``nn.Sequential`` with ``train()`` and ``eval()`` (spec/modes.md), and channel dropout with
``nn.Dropout2d`` and ``nn.Dropout3d``, which read channels last; MLX has no ``Dropout1d``, so
spatial_dims = 1 is ``Dropout2d`` on x with a spatial axis of 1 inserted before the channels. MLX
has no functional dropout, no noise shape, no alpha dropout: those capabilities are absent. Each
call makes its layer, ``nn.Dropout(p)``, whose constructor checks p (``p < 0 or p >= 1`` raises)
and whose call is

    if self._p_1 == 1 or not self.training: return x
    mask = mx.random.bernoulli(self._p_1, x.shape)
    return (mask * x) * (1 / self._p_1)

Randomness. The layers take no key: they draw from MLX's global key (``mx.random.state``),
which every draw splits. Every seeded call therefore runs against a state of its own
(:class:`_Seeded`), as the torch target's do: the global key is set to ``mx.random.key(seed)``
(all 64 bits of the seed: the key is its two 32-bit words), and the caller's key is put back
afterwards, so a call is a function of its seed and the caller's random state is untouched. MLX
offers no setter of the global key, only ``mx.random.seed(s)``, which sets it to ``key(s)``; a
key (hi, lo) is ``key(hi · 2^32 + lo)``, so a saved key is put back by seeding with that number
(:func:`_seed_of`, checked against ``mx.random.key`` when an adapter is made). A stream or a module
keeps its key between calls.

Policies, as measured on the CPU (MLX 0.32.4): inverted scaling, a kept x becoming
(1 · x) · fl_T(1 / q) (within one ulp of x / q: "exact"); a dropped NaN or ±inf becomes NaN
(``mask * x``: "multiply"); p = 1 is refused by the constructor (p_one "refused"), which checks p in
evaluation too, and False passes as 0 (p_validation "bool_as_number"); subnormals are kept; float64
runs on the CPU. KNOWN_DEVIATIONS lists what no policy allows. The module imports mlx only when an
adapter is made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import DTYPES, NUMPY_FORMATS, as_array, in_kind
from ..tensor import Tensor
from . import INSTALL as COMMANDS
from . import import_framework
from .held import HeldState
from .layer import ModuleLayer

__all__ = ["MlxDropout", "INSTALL", "KNOWN_DEVIATIONS"]

INSTALL = COMMANDS["mlx"]
SEEDS = 2**64  # a seed is an integer in [0, 2^64)

# clause -> what MLX does that the spec forbids and no policy allows; measured with MLX 0.32.4 (mlx-cpu) on
# Linux by `refdropout check mlx --profile quick` (seed 0) and by hand:
#   nn.Dropout(float("nan"))(mx.array([1., 2., 3., 4.]))      -> [nan nan nan nan]
#   nn.Dropout(0.1)(mx.array([1, 2, 3, 4], dtype=mx.int32))  -> float32 values
#   nn.Dropout(1.0)                                           -> ValueError: ... not in [0, 1)
KNOWN_DEVIATIONS: dict[str, str] = {
    "DROPOUT-3": "the constructor's check `p < 0 or p >= 1` is false for NaN, so p = NaN is accepted: every "
                 "training output is NaN (the mask is all dropped, times 1 / NaN)",
    "DROPOUT-9": "`(mask * x) * (1 / q)` of an int32 x silently promotes it to float32: integers are scaled, "
                 "not refused",
    "DROPOUT-2": "`(mask * x) * (1 / q)` takes the Python float 1 / q in x's format: in float16 at q below 2^-16 "
                 "(p = 1 - 2^-25: 1 / q = 2^25) it is inf, so every element, dropped ones too, is 0 * inf or "
                 "x * inf: [0, 65504, 1] at p = 1 - 2^-25 gives [nan, nan, nan] (MLX 0.32.4; found by the "
                 "generated cases)",
    "DROPOUT-8": "as DROPOUT-2: in float16 at q below 2^-16 every element is NaN, neither 0 nor the kept value",
    "GRADIENTS-1": "the VJP of `(mask * x) * (1 / q)` is mask * (g * fl_T(1 / q)): where g fl_T(1 / q) "
                   "overflows, a dropped element's gradient is 0 * inf = NaN, not 0: every one in float16 at "
                   "p = 1 - 2^-25, and g = 3.4e38 in float32 there (MLX 0.32.4; found by the generated cases); "
                   "in float16 at p = 1 - 2^-16 too (the clause's case of an overflowing scale: y and dL/dx "
                   "are NaN at element 0, so the mask read off y reads it as kept)",
    "VARIANTS-1": "Dropout2d and Dropout3d scale as Dropout does (DROPOUT-2): in float16 at p = 1 - 2^-25 every "
                  "element of x = 1, dropped channels too, is NaN (found by the clause's generated cases)",
    "VARIANTS-2": "as VARIANTS-1, on an unbatched sample: in float16 at p = 1 - 2^-25 every element is NaN",
}


def _seed_of(key: Any) -> int:
    """The seed whose ``mx.random.key`` is ``key``: its two 32-bit words (hi, lo) as hi · 2^32 + lo."""
    hi, lo = (int(word) for word in np.asarray(key).tolist())
    return (hi << 32) | lo


class _Seeded(HeldState):
    """A key of MLX's global random state, seeded once; ``with state:`` draws from it (adapters.held).
    A key is held as the seed whose ``mx.random.key`` it is, and written back by ``mx.random.seed``."""

    def __init__(self, mx: Any, seed: int) -> None:
        self.mx = mx
        super().__init__(seed)

    def read(self) -> int:
        return _seed_of(self.mx.random.state[0])

    def write(self, state: int) -> None:
        self.mx.random.seed(state)


class MlxDropout:
    """MLX's dropout layers on the CPU behind the conformance protocol."""

    name = "mlx"
    framework = "mlx"
    dtypes = DTYPES
    policies = Policies(scaling="inverted", nonfinite="multiply", p_one="refused", p_validation="bool_as_number")
    known_deviations = KNOWN_DEVIATIONS

    def __init__(self) -> None:
        self.mx = import_framework("mlx.core", target=self.name, install=INSTALL)
        self.nn = import_framework("mlx.nn", target=self.name, install=INSTALL)
        probe = 0x0123456789ABCDEF
        if _seed_of(self.mx.random.key(probe)) != probe:  # the rule _Seeded restores keys by
            raise RuntimeError(f"mlx {self.mx.__version__}: mx.random.key(s) is no longer s's two 32-bit words")

    # ---- arrays and seeds ------------------------------------------------------------------------

    def _array(self, x: Tensor | np.ndarray) -> Any:
        """x as an mlx array of its format (bfloat16 through its 16-bit pattern; the format named, since
        ``mx.array`` of a float64 numpy array is float32 unless told)."""
        a = as_array(x)
        if a.dtype == NUMPY_FORMATS["bfloat16"]:
            return self.mx.array(a.view(np.uint16)).view(self.mx.bfloat16)
        return self.mx.array(a, dtype=getattr(self.mx, a.dtype.name))

    def _numpy(self, y: Any, like: object) -> Tensor | np.ndarray:
        if y.dtype == self.mx.bfloat16:
            return in_kind(np.array(y.view(self.mx.uint16)).view(NUMPY_FORMATS["bfloat16"]), like)
        return in_kind(np.array(y), like)

    def _seeded(self, seed: int) -> _Seeded:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS:
            raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
        return _Seeded(self.mx, seed)

    def _layer(self, p: float, training: bool) -> Any:
        """``nn.Dropout(p)`` in training or evaluation mode."""
        layer = self.nn.Dropout(p)
        layer.train(training)
        return layer

    def _apply(self, op: Callable[[Any], Any], x: Tensor, seed: int) -> Tensor:
        """op(x) on x as an mlx array, drawing from a state seeded with ``seed``."""
        a = self._array(x)
        with self._seeded(seed):
            y = op(a)
            self.mx.eval(y)
        return self._numpy(y, x)

    # ---- spec/dropout.md and spec/gradients.md: nn.Dropout -----------------------------------------

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._apply(lambda a: self._layer(p, training)(a), x, seed)

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a call on ones with the same seed: the draws
        depend on the key and the shape only, so the mask is this call's."""
        y = self.dropout(x, p, training=True, seed=seed)
        keep = self._apply(lambda a: self._layer(p, True)(self.mx.ones_like(a)) != 0, x, seed)
        return y, keep

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of dropout of n ones in ``dtype``, packed 8 elements a byte (little bit order)."""
        ones = self.mx.ones((n,), dtype=getattr(self.mx, dtype))
        with self._seeded(seed):
            keep = self._layer(p, True)(ones) != 0
            self.mx.eval(keep)
        return np.packbits(np.array(keep), bitorder="little")

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        layer, a, cotangent = self._layer(p, training), self._array(x), self._array(g)
        with self._seeded(seed):
            (y,), (dx,) = self.mx.vjp(lambda t: layer(t), [a], [cotangent])
            self.mx.eval(y, dx)
        return self._numpy(y, x), self._numpy(dx, g)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        a = self.mx.array(values, dtype=self.mx.int32)
        with self._seeded(seed):
            y = self._layer(p, training)(a)
            self.mx.eval(y)
        return np.array(y).tolist()

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        """Successive ``nn.Dropout`` calls drawing from one seeded key."""
        state = self._seeded(seed)

        def call(x: Tensor, p: float, *, training: bool) -> Tensor:
            a = self._array(x)
            with state:
                y = self._layer(p, training)(a)
                self.mx.eval(y)
            return self._numpy(y, x)

        return call

    # ---- spec/variants.md: nn.Dropout2d and nn.Dropout3d -----------------------------------------

    def channel_dropout(self, x: Tensor, p: float, *, spatial_dims: int, data_format: str, training: bool,
                        seed: int) -> Tensor:
        """``Dropout2d`` (spatial_dims 2, and 1 with a spatial axis of 1 inserted) or ``Dropout3d``, which
        read channels last and take an unbatched sample (spatial_dims + 1 axes) as it is; a
        channels-first x has its channel axis moved last and back."""
        if spatial_dims not in (1, 2, 3):
            raise ValueError(f"spatial_dims must be 1, 2 or 3, got {spatial_dims!r}")
        if data_format not in ("channels_first", "channels_last"):
            raise ValueError(f"data_format must be 'channels_first' or 'channels_last', got {data_format!r}")
        mx = self.mx
        layer = (self.nn.Dropout3d if spatial_dims == 3 else self.nn.Dropout2d)(p)
        layer.train(training)
        channel = 0 if len(x.shape) == spatial_dims + 1 else 1

        def op(a: Any) -> Any:
            last = a if data_format == "channels_last" else mx.moveaxis(a, channel, -1)
            y = mx.squeeze(layer(mx.expand_dims(last, -2)), -2) if spatial_dims == 1 else layer(last)
            return y if data_format == "channels_last" else mx.moveaxis(y, -1, channel)

        return self._apply(op, x, seed)

    # ---- spec/modes.md: nn.Dropout inside nn.Sequential ----------------------------------------------

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        """``nn.Dropout(p)`` drawing from a key of its own seeded with ``seed``."""
        mx, seeded, layer = self.mx, self._seeded(seed), self.nn.Dropout(p)

        class SeededDropout(self.nn.Module):
            """The layer, each call drawing from its own key."""

            def __init__(self) -> None:
                super().__init__()
                self.layer = layer

            def __call__(self, a: Any) -> Any:
                with seeded:
                    y = self.layer(a)
                    mx.eval(y)
                return y

        return _Module(self, SeededDropout())

    def sequential(self, *modules: _Module) -> _Module:
        return _Module(self, self.nn.Sequential(*(m.module for m in modules)))


class _Module(ModuleLayer):
    """An mlx module as the protocol's layer: train(), eval(), and calls on engine tensors or numpy arrays."""

    def __call__(self, x: Tensor) -> Tensor:
        y = self.module(self.adapter._array(x))
        self.adapter.mx.eval(y)
        return self.adapter._numpy(y, x)
