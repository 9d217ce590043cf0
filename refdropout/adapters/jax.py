"""JAX and Flax as conformance targets: dm-haiku's ``hk.dropout`` idiom, ``flax.linen.Dropout``
and ``flax.nnx.Dropout`` behind the protocol.

Target ``jax`` (:class:`JaxDropout`) is the function of dm-haiku (``haiku/_src/basic.py``,
``hk.dropout(rng, rate, x, broadcast_dims=())``), written out here on ``jax`` so that the target
needs no Haiku install:

    if rate < 0 or rate >= 1: raise ValueError("rate must be in [0, 1).")
    if rate == 0.0: return x
    keep = bernoulli(rng, 1 - rate, noise shape), broadcast to x's shape
    y = keep * x / (1 - rate)

It has no mode: a Haiku model skips the call in evaluation, and so does the adapter (x itself).
A call without a gradient runs ``keep * x / (1 - rate)`` under ``jax.jit`` with the rate traced, as a
jitted Haiku model does (one executable per shape and format for every rate), the draw and its
broadcast op by op; it gives the bits of the op-by-op idiom (a test holds them equal), and a VJP
is taken of the op-by-op idiom, as before.
Its stream is the JAX way of drawing again: the key is split, ``key, sub = split(key)``, before
each call that draws (training at 0 < p), and the call draws with ``sub``. It has no module.

Target ``flax`` (:class:`FlaxDropout`) is ``flax.linen.Dropout`` for single calls (``deterministic``
is evaluation, ``broadcast_dims`` the axes where the noise shape is 1, the key given as
``rngs={"dropout": key}``), and ``flax.nnx.Dropout`` for everything with state: a stream is one
``nnx.Dropout`` whose ``Rngs`` advance at every drawing call (its state the Rngs stream's key and
count, which a drawing call advances by one: TRAINING-3, TRAINING-4), modules are ``nnx.Dropout`` layers
switched by ``train()`` and ``eval()``, and the container is ``nnx.Sequential``. A single call without a
gradient applies ``linen.Dropout`` under ``jax.jit`` with its rate static, as a jitted Flax model does (one
executable per shape, format and rate, made once COMPILE_AFTER calls have used it), where that gives the
op-by-op bits (``_compiles_the_same``: not where q rounds to 1, which XLA folds away); a VJP, evaluation
and the nnx layers go op by op.

Seeds. ``jax.random.key(seed)`` keeps only the low 32 bits of a seed, silently, unless 64-bit
types are enabled (``jax_enable_x64``, off by default); with them enabled it takes a Python int
below 2^63 and a ``numpy.uint64`` up to 2^64 − 1, whose key is the pair of its 32-bit words. Every
call here therefore runs inside ``jax.enable_x64(True)`` (scoped: the global setting is left as
it is) and seeds with ``jax.random.key(numpy.uint64(seed))``, so all 64 bits of a seed count and
float64 arrays stay float64. A JAX user who keeps the default gets 32-bit seeds.

Policies, as measured on the CPU (JAX 0.10.2, Flax 0.12.8), both targets: inverted scaling;
``x / q`` with q a weakly typed Python float, so q is rounded to x's format first and XLA's CPU
compiler computes x · fl_T(1 / fl_T(q)) (scale_format "input": a float16 kept value is up to
1.6 ulp from x / q); XLA's CPU arithmetic flushes subnormals to ±0, float64 included
(subnormals "flushed"); evaluation and p = 0 return x itself and draw nothing. Haiku: a dropped
NaN or ±inf becomes 0 in float64, float32 and float16, although the code multiplies (XLA compiles
``keep * x`` of a bool ``keep`` as a select: "select" is declared), but a dropped ±inf gives NaN
in bfloat16; p = 1 raises (p_one "refused"), and only a
training call reads p (p_validation "training_only"). Flax: a dropped NaN or ±inf becomes 0
(``lax.select``: "select"); p = 1 gives +0 everywhere. KNOWN_DEVIATIONS lists what no policy
allows. Both declare the algorithm "jax-threefry" (spec/exact.md, EXACT-1): Haiku's key is
``key(seed)``, Flax's the key linen folds the call counter into; and their streams' key schedules
(EXACT-2): "jax-split" for Haiku's idiom, "nnx-rngs" for one ``nnx.Dropout`` and its forked ``Rngs``
stream. The module imports jax only when an adapter is made.

Compilations. Outside ``jit`` JAX compiles an executable for each operation, shape and format it
meets, and the generated cases bring hundreds of shapes: a call of at most QUICK_COMPILE_ELEMENTS
elements is compiled with XLA's backend optimisations off (:func:`quick_compiles`), which gives the
same bits in about a third of the compile time; JAX's caches are bounded (:func:`bounded_caches`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..contract import Policies
from ..contract.arrays import DTYPES, NUMPY_FORMATS, as_array, in_kind
from ..exact import jax_random
from ..tensor import Tensor
from . import INSTALL as COMMANDS
from . import import_framework
from .layer import ModuleLayer

__all__ = ["JaxDropout", "FlaxDropout", "CACHE_CHECK", "INSTALL_JAX", "INSTALL_FLAX", "KNOWN_DEVIATIONS",
           "QUICK_COMPILE_ELEMENTS", "COMPILE_AFTER", "bounded_caches", "elements", "quick_compiles"]

INSTALL_JAX = COMMANDS["jax"]
INSTALL_FLAX = COMMANDS["flax"]
SEEDS = 2**64  # a seed is an integer in [0, 2^64)
CACHE_BYTES = 2**30  # resident bytes above which JAX's compilation caches are cleared (bounded_caches)
CACHE_CHECK = 32  # calls between two looks at the resident size
# elements up to which a call's compilations skip XLA's backend optimisations (quick_compiles, issue 15)
QUICK_COMPILE_ELEMENTS = 2**16
QUICK_COMPILE_FLAG = "jax_disable_most_optimizations"
# calls of one (shape, format, rate, broadcast_dims) that FlaxDropout makes op by op before it compiles them:
# about a compilation's cost over a call's saving (0.2 s / 0.6 ms, CPU), so no more than twice the cheaper way
COMPILE_AFTER = 256
# what flax.core.scope folds into a key for a module's first make_rng: SHA-1 of the counter 1 (the
# byte 0x01), its first 4 bytes big-endian (flax_fix_rng_separator off, the default)
LINEN_FIRST_RNG = 0xBF8B4530

# target -> clause -> what the framework does that the spec forbids and no policy allows
# DROPOUT-2 in float16 for flax, equinox and keras-jax, whose dropout divides by a weakly typed q
XLA_RECIPROCAL_OVERFLOW = (
    "in float16 at q < 1/65520 (p above 0.9999847) a kept x gives inf where x / fl16(q) is finite: XLA computes "
    "the weakly typed `x / q` as x * fl16(1 / fl16(q)), and that reciprocal overflows (x = 2^-14 at p = 1 - 2^-16 "
    "gives inf, not 4; at q = 2^-15 it gives 2, right), where the declared scale_format \"input\" allows one ulp "
    "from x / fl16(q) (jax 0.10.2 on the CPU; found by the clause's case of an overflowing scale)")

KNOWN_DEVIATIONS: dict[str, dict[str, str]] = {
    "jax": {
        "DROPOUT-2": "`keep * x / keep_rate` divides a float16 x by keep_rate rounded to float16 (weak typing), "
                     "0 for q <= 2^-25: at p = 1 - 2^-25 every element is dropped and yet NaN (0 / 0); measured "
                     "by the generated cases (found with jax 0.10.2)",
        "DROPOUT-3": "hk.dropout's check `rate < 0 or rate >= 1` is false for NaN, so p = NaN is used "
                     "(every element NaN), and p = False equals 0.0, so x is returned",
        "DROPOUT-8": "as DROPOUT-2: a dropped float16 element at p = 1 - 2^-25 is NaN, neither 0 nor the kept "
                     "value (x / 0 = ±inf under scale_format = 'input')",
        "DROPOUT-9": "`keep * x / keep_rate` of an int32 x silently promotes it to floating point: integers "
                     "are scaled, not refused",
        # measured (jax 0.10.2, CPU) by `refdropout check jax --profile standard --seed 0 --clause DROPOUT-11` and
        # by hand: bernoulli(key(0), 2^-25, (2, 1)) broadcast to ones((2, 3), float16), times x, / (1 - rate) at
        # rate = 1 - 2^-25 gives six NaN (keep all False, fl16(q) = 0.0)
        "DROPOUT-11": "as DROPOUT-2, with a noise shape: in float16 at p = 1 - 2^-25 `keep * x / keep_rate` divides "
                      "by keep_rate rounded to float16, 0, so every element, dropped with its shared mask value, "
                      "is NaN (0 / 0), neither 0 nor the kept value",
        "DROPOUT-10": "`keep * x` of a bool keep is compiled as a select in float64, float32 and float16 (a "
                      "dropped NaN or ±inf gives 0) but not in bfloat16, where a dropped ±inf gives NaN: "
                      "neither policy holds in every format",
        "GRADIENTS-1": "the VJP of `keep * x / keep_rate` is keep * (g / keep_rate): g / q overflows before the "
                       "mask multiplies it, so a dropped element with |g| above q times the largest finite value "
                       "is 0 * inf = NaN, not 0: float16 at p = 0.999 with g = 100 gives NaN at every dropped "
                       "element, float64 at p = 1 - 2^-25 with g = 1.8e308 too (jax 0.10.2; found by the "
                       "generated cases); and, as XLA computes g / fl16(q) as g * fl16(1 / fl16(q)), in float16 at "
                       "p = 1 - 2^-16 with g = 2^-14, every dropped element is NaN (found by the clause's case of an "
                       "overflowing scale: NaN at element 0, dropped, jax 0.10.2)",
    },
    "flax": {
        "DROPOUT-2": XLA_RECIPROCAL_OVERFLOW,
        "DROPOUT-3": "flax.linen.Dropout checks no rate: p = -0.1, 1.5, ±inf, NaN, True and False are used "
                     "as they are (1.5 and NaN give zeros), and evaluation accepts anything",
        "GRADIENTS-1": "`lax.select(mask, x / q, 0)` sends the zeroed cotangent of a dropped element through "
                       "x / fl16(q), which XLA computes as x * (1 / fl16(q)): in float16 at p = 0.99999 (q "
                       "subnormal, 1 / q beyond 65504) and at p = 1 - 2^-25 (q rounds to 0) every dropped "
                       "element's gradient is 0 * inf = NaN, not 0 (flax 0.12.8; found by the generated cases, and "
                       "at p = 1 - 2^-16 by the clause's case of an overflowing scale: g = 2^-14 gives NaN at "
                       "element 0, dropped)",
        "VARIANTS-21": "dot_product_attention's dropout multiplies the weights by keep / keep_prob in their "
                       "format: in float16 at p = 1 - 2^-25 keep_prob is 0 and every weight, dropped ones too, "
                       "is NaN (0 / 0, 1 / 0 times 0), not 0 (measured with flax 0.12 by hand: "
                       "fused_inputs((1, 1, 2, 2), float16) gives [nan, nan, nan, nan]; found by the clause's "
                       "generated cases)",
    },
}


def _noise_shape(shape: tuple[int, ...], noise_shape: Sequence[int | None]) -> tuple[int, ...]:
    """The mask shape a noise shape names (None: the axis's size); one that does not broadcast raises."""
    if isinstance(noise_shape, str) or len(noise_shape) != len(shape):
        raise ValueError(f"noise_shape must have one entry per axis of x {shape}, got {noise_shape!r}")
    mask_shape = tuple(n if m is None else m for m, n in zip(noise_shape, shape))
    if any(m not in (1, n) for m, n in zip(mask_shape, shape)):
        raise ValueError(f"noise_shape {noise_shape!r} does not broadcast to x's shape {shape}: each entry "
                         f"must be 1, None or the axis's size")
    return mask_shape


class _Jax:
    """What both targets share: jax imported, calls under 64-bit types, arrays and keys."""

    name: str
    install: str
    dtypes = DTYPES

    def __init__(self) -> None:
        self.jax = import_framework("jax", target=self.name, install=self.install)
        self.jnp = self.jax.numpy
        self._calls = 0  # calls so far: every CACHE_CHECK-th looks at the resident size (bounded_caches)
        self._floor = _resident_bytes()  # what the process held before this adapter compiled anything
        # jax.enable_x64 since JAX 0.5; jax.experimental.enable_x64 before
        self._enable_x64 = (self.jax if hasattr(self.jax, "enable_x64") else
                            import_framework("jax.experimental", target=self.name, install=self.install)).enable_x64

    @contextmanager
    def _x64(self, elements: int = 0) -> Iterator[None]:
        """A call on ``elements`` elements: under 64-bit types, its compilations quick where it is small
        (quick_compiles)."""
        self._calls += 1
        if self._calls % CACHE_CHECK == 0:
            bounded_caches(self.jax, self._floor)
        with self._enable_x64(True), quick_compiles(self.jax, elements <= QUICK_COMPILE_ELEMENTS):
            yield

    def _array(self, x: Tensor) -> Any:
        return self.jnp.asarray(as_array(x))

    def _key(self, seed: int) -> Any:
        """``jax.random.key`` of all 64 bits of ``seed`` (inside ``_x64``)."""
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < SEEDS:
            raise ValueError(f"seed must be an integer in [0, 2^64), got {seed!r}")
        return self.jax.random.key(np.uint64(seed))

    def _apply(self, op: Callable[[Any, Any], Any], x: Tensor, seed: int) -> Tensor:
        """op(key, x) on x as a jax array, the key that of ``seed``."""
        with self._x64(elements(x)):
            return in_kind(np.asarray(op(self._key(seed), self._array(x))), x)

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self._apply(lambda key, a: self._forward(key, a, p, training), x, seed)

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and its keep mask, read off a call on ones with the same key: the draws
        depend on the key and the shape only, so the mask is this call's."""
        y = self.dropout(x, p, training=True, seed=seed)
        keep = self._apply(lambda key, a: self._forward(key, self.jnp.ones_like(a), p, True) != 0, x, seed)
        return y, keep

    def dropout_mask_bits(self, n: int, p: float, *, seed: int, dtype: str) -> np.ndarray:
        """The keep mask of dropout of n ones in ``dtype``, packed 8 elements a byte (little bit order)
        by ``jnp.packbits`` on the array's device. Tested on the CPU only: no GPU was available where
        it was written."""
        with self._x64(n):
            ones = self.jnp.ones(n, dtype=NUMPY_FORMATS[dtype])
            return np.asarray(self.jnp.packbits(self._forward(self._key(seed), ones, p, True) != 0, bitorder="little"))

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        with self._x64(elements(x)):
            key = self._key(seed)
            y, vjp = self.jax.vjp(lambda a: self._drop(key, a, p, training), self._array(x))
            (dx,) = vjp(self._array(g))
            return in_kind(np.asarray(y), x), in_kind(np.asarray(dx), g)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        with self._x64(len(values)):
            return np.asarray(self._forward(self._key(seed), self.jnp.asarray(values, dtype=self.jnp.int32), p,
                                            training)).tolist()

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        mask_shape = _noise_shape(x.shape, noise_shape)
        return self._apply(lambda key, a: self._forward(key, a, p, training, mask_shape), x, seed)

    def checkpointed_dropout(self, seed: int) -> Callable[..., tuple[Tensor, Tensor]]:
        """Steps that split the key, as the Haiku idiom's stream does, and drop with the new key; under
        ``checkpoint`` the forward pass is ``jax.checkpoint`` of it, whose backward pass recomputes it
        with the same key (the gradient of sum(w ⊙ y) is the VJP of w)."""
        with self._x64():
            state = {"key": self._key(seed)}

        def step(x: Tensor, w: Tensor, p: float, *, checkpoint: bool) -> tuple[Tensor, Tensor]:
            with self._x64(elements(x)):
                state["key"], sub = self.jax.random.split(state["key"])

                def forward(a: Any) -> Any:
                    return self._drop(sub, a, p, True)

                y, pullback = self.jax.vjp(self.jax.checkpoint(forward) if checkpoint else forward, self._array(x))
                (dx,) = pullback(self._array(w))
                return in_kind(np.asarray(y), x), in_kind(np.asarray(dx), w)

        return step

    def _drop(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        raise NotImplementedError

    def _forward(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        """The value of ``_drop`` where no gradient is taken: ``_drop`` itself, called as its users call it
        (op by op); a subclass may compile it where that gives the same bits (JaxDropout)."""
        return self._drop(key, x, p, training, mask_shape)


def elements(x: Any) -> int:
    """The number of elements of an engine tensor or an array."""
    return math.prod(x.shape)


@contextmanager
def quick_compiles(jax: Any, quick: bool) -> Iterator[None]:
    """JAX compiles an executable for each operation and shape it meets outside ``jit`` (each bernoulli
    draw: Threefry's rounds), and the generated cases bring hundreds of shapes: compiling was 90% of
    flax's and equinox's time at EXACT-2 and VARIANTS-22 (issue 15). Where ``quick``, JAX's
    ``jax_disable_most_optimizations`` is set for the block and put back after it: XLA compiles with
    its backend (LLVM) optimisation level 0, in a third of the time, the same HLO passes and the same
    bits (tests/test_adapter_flax.py and test_adapter_equinox.py hold every format, special value and
    rate equal); its executables run slower, up to 2.3 times at 2^22 elements, so large calls, whose
    run time outweighs their compilation, are left as they are (QUICK_COMPILE_ELEMENTS). An executable
    is cached whichever way it was compiled: a shape compiled once is reused as it was."""
    values = jax.config.values
    previous = values.get(QUICK_COMPILE_FLAG)
    if previous is None or previous == quick:  # a JAX without the flag, or the flag already as asked
        yield
        return
    jax.config.update(QUICK_COMPILE_FLAG, quick)
    try:
        yield
    finally:
        jax.config.update(QUICK_COMPILE_FLAG, previous)


def _resident_bytes() -> int:
    """This process's resident set size in bytes (Linux's /proc), 0 where unknown."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGESIZE")
    except (OSError, ValueError, IndexError):
        return 0


def bounded_caches(jax: Any, floor: int = 0) -> None:
    """JAX keeps an executable per primitive, shape and format, and the generated cases bring many
    shapes: flax at standard grew to 3.2 GB that way (issue 15). Above CACHE_BYTES resident, or above
    ``floor`` (the resident size when the adapter was made) plus half of CACHE_BYTES where that is more,
    the caches are cleared and glibc's freed pages handed back (``malloc_trim``, where there is one);
    what is compiled again computes the same values. Called every CACHE_CHECK calls. The floor is for
    a process that held more than CACHE_BYTES before JAX compiled anything (a pytest worker that
    imported every framework holds 1.07 GB): without it the caches were cleared every CACHE_CHECK
    calls there, and each shape's bernoulli compiled again, about 0.3 s of CPU each time."""
    if _resident_bytes() > max(CACHE_BYTES, floor + CACHE_BYTES // 2):
        jax.clear_caches()
        _trim()


def _trim() -> None:
    """glibc's malloc_trim(0): freed pages back to the system; nothing where the C library has none."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    if trim is not None:
        trim(0)


def _draws(p: float, training: bool) -> bool:
    """Whether ``hk.dropout`` draws: in training at 0 < p < 1; p outside [0, 1) raises as Haiku does."""
    if not training:
        return False
    if p < 0 or p >= 1:
        raise ValueError("rate must be in [0, 1).")
    return p != 0.0


class JaxDropout(_Jax):
    """dm-haiku's ``hk.dropout`` idiom behind the conformance protocol."""

    name = "jax"
    framework = "jax"
    install = INSTALL_JAX
    policies = Policies(scaling="inverted", nonfinite="select", p_one="refused", p_validation="training_only",
                        subnormals="flushed", scale_format="input", algorithm="jax-threefry",
                        stream_keys="jax-split")
    known_deviations = KNOWN_DEVIATIONS["jax"]

    def __init__(self) -> None:
        super().__init__()
        # _kept_scaled compiled once per shape and format, p a traced argument: one executable serves every
        # rate, and a call is one dispatch instead of one per operation (issue 15). The draw stays outside:
        # bernoulli is compiled per mask shape whatever x's format, and its compilation (Threefry's rounds)
        # costs about 0.3 s of CPU where the arithmetic's costs a tenth of that
        self._compiled = self.jax.jit(self._kept_scaled)

    def _drop(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        """``hk.dropout(key, p, x)``, the mask drawn in ``mask_shape``; x itself in evaluation."""
        return self._scaled(key, x, p, mask_shape) if _draws(p, training) else x

    def _forward(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        """``_drop`` with its arithmetic under ``jax.jit`` (a Haiku model is usually called jitted): the same
        bits as op by op, measured on every format with ±0, ±inf, NaN, subnormals and rates up to 1 - 2^-53
        (tests/test_adapter_jax.py). Not for gradients: a VJP of the compiled function is compiled whole,
        where XLA may turn ``keep * (g / q)`` into a select (GRADIENTS-1's NaN is the op-by-op VJP's)."""
        if not _draws(p, training):
            return x
        return self._compiled(self._keep(key, x.shape, p, mask_shape), x, p)

    def _scaled(self, key: Any, x: Any, p: float, mask_shape: tuple[int, ...] | None) -> Any:
        """``hk.dropout``'s arithmetic at 0 < p < 1: ``keep * x / keep_rate``."""
        return self._kept_scaled(self._keep(key, x.shape, p, mask_shape), x, p)

    def _kept_scaled(self, keep: Any, x: Any, p: float) -> Any:
        """``keep * x / keep_rate`` of the mask ``keep``, broadcast to x's shape already."""
        keep_rate = 1.0 - p
        return keep * x / keep_rate

    def _keep(self, key: Any, shape: tuple[int, ...], p: float, mask_shape: tuple[int, ...] | None = None) -> Any:
        """The keep mask ``hk.dropout`` draws at 0 < p < 1: ``bernoulli(key, 1 - p, mask_shape)``, broadcast
        to x's ``shape``."""
        drawn = self.jax.random.bernoulli(key, 1.0 - p, shape if mask_shape is None else mask_shape)
        return self.jnp.broadcast_to(drawn, shape)

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        """The output and the keep mask drawn with the same key, the mask itself rather than read off an
        output of ones: in float16 at q = 2^-25 every dropped element of ``keep * x / q`` is NaN (0 / 0)."""
        y = self.dropout(x, p, training=True, seed=seed)  # refuses p outside [0, 1) first
        if p == 0.0:
            return y, in_kind(np.ones(np.shape(as_array(x)), dtype=bool), x)
        return y, self._apply(lambda key, a: self._keep(key, a.shape, p), x, seed)

    def dropout_stream(self, seed: int) -> _KeyStream:
        return _KeyStream(self, seed)

    def dropout_stream_state(self, seed: int) -> _KeyStream:
        """The stream's state is its key (and the splits made): saving keeps it, restoring puts it back.
        No ``stream_advance``: the position is this adapter's count of splits, not the framework's."""
        return _KeyStream(self, seed)


class _KeyStream:
    """The Haiku idiom's stream: before each call that draws, ``key, sub = split(key)``; the call drops
    with ``sub``. save() is (key, splits), restore() puts them back, position() is splits."""

    def __init__(self, adapter: JaxDropout, seed: int) -> None:
        self.adapter, self.splits = adapter, 0
        with adapter._x64():
            self.key = adapter._key(seed)

    def __call__(self, x: Tensor, p: float, *, training: bool) -> Tensor:
        adapter = self.adapter
        with adapter._x64(elements(x)):
            a = adapter._array(x)
            if training and p != 0:
                self.key, sub = adapter.jax.random.split(self.key)
                self.splits += 1
                a = adapter._forward(sub, a, p, training)
            return in_kind(np.asarray(a), x)

    def save(self) -> tuple[Any, int]:
        return self.key, self.splits  # a jax array is immutable: the key itself is a snapshot

    def restore(self, snapshot: tuple[Any, int]) -> None:
        self.key, self.splits = snapshot

    def position(self) -> int:
        return self.splits


class FlaxDropout(_Jax):
    """``flax.linen.Dropout`` and ``flax.nnx.Dropout`` behind the conformance protocol."""

    name = "flax"
    framework = "flax"
    install = INSTALL_FLAX
    policies = Policies(scaling="inverted", nonfinite="select", subnormals="flushed", scale_format="input",
                        algorithm="jax-threefry", stream_keys="nnx-rngs")
    known_deviations = KNOWN_DEVIATIONS["flax"]
    # fused_attention's: one mask value per weight. Flax's default, True, shares one (L, S) mask across the
    # batch and the heads (measured: VARIANTS-20 rejects it)
    broadcast_dropout = False

    def __init__(self) -> None:
        super().__init__()
        self.linen = import_framework("flax.linen", target=self.name, install=self.install)
        self.nnx = import_framework("flax.nnx", target=self.name, install=self.install)
        # _linen under jax.jit with the rate, broadcast_dims and deterministic static, as in a jitted Flax model,
        # whose layers' attributes are static: one executable per shape, format and rate, and a call is one
        # dispatch instead of linen's scope and six operations (issue 15)
        self._compiled = self.jax.jit(self._linen, static_argnums=(2, 3, 4))
        self._uncompiled: Counter = Counter()  # (shape, format, rate, broadcast_dims) -> training calls so far

    def _drop(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        """``linen.Dropout(p, broadcast_dims=...)`` applied with ``deterministic = not training``."""
        return self._linen(key, x, p, _shared_axes(x.shape, mask_shape), not training)

    def _linen(self, key: Any, x: Any, p: float, shared: tuple[int, ...], deterministic: bool) -> Any:
        """``linen.Dropout(p, broadcast_dims=shared).apply({}, x, deterministic=..., rngs={"dropout": key})``."""
        layer = self.linen.Dropout(p, broadcast_dims=shared)
        return layer.apply({}, x, deterministic=deterministic, rngs={"dropout": key})

    def _forward(self, key: Any, x: Any, p: float, training: bool, mask_shape: tuple[int, ...] | None = None) -> Any:
        """``_drop`` under ``jax.jit`` (``_compiled``) where that gives the bits of linen called op by op: a
        training call of a floating x at a float 0 < p < 1 whose q = 1 - p, rounded to x's format, is not 1.
        A (shape, format, rate, broadcast_dims) is compiled once it has been called COMPILE_AFTER times:
        a compilation (Threefry's rounds with the arithmetic) costs about 0.2 s of CPU, a call op by op 0.6 ms,
        one compiled 0.01 ms, and the generated cases call most rates once or twice, where op by op a new
        rate on a shape compiles nothing. At fl(q) = 1 (p below 2^-25 in float32, 2^-9 in bfloat16) XLA
        simplifies the constant division ``x / 1`` to x, where the op-by-op division flushes subnormals
        (measured: float32 at p = 1e-8); those calls, evaluation and the rates linen branches on in Python go
        op by op. Measured equal on every
        format with ±0, ±inf, NaN, subnormals and rates up to 1 - 2^-53 (tests/test_adapter_jax.py). Not for
        gradients: ``dropout_vjp`` differentiates the op-by-op layer."""
        shared = _shared_axes(x.shape, mask_shape)
        if not (training and _compiles_the_same(x.dtype, p)):
            return self._drop(key, x, p, training, mask_shape)
        static = (x.shape, x.dtype, p, shared)
        self._uncompiled[static] += 1
        if self._uncompiled[static] <= COMPILE_AFTER:
            return self._linen(key, x, p, shared, False)
        return self._compiled(key, x, p, shared, False)

    def algorithm_key(self, seed: int) -> tuple[int, int]:
        """The key ``linen.Dropout`` draws with under ``rngs={"dropout": key(seed)}``: its
        ``make_rng("dropout")`` folds the call counter 1 into the key through SHA-1 (spec/exact.md)."""
        return jax_random.fold_in(divmod(seed, 2**32), LINEN_FIRST_RNG)

    def _rngs(self, seed: int) -> Any:
        return self.nnx.Rngs(dropout=self._key(seed))

    def dropout_stream(self, seed: int) -> _RngsStream:
        """One ``nnx.Dropout`` whose Rngs advance at every drawing call; p is its rate for the call."""
        return _RngsStream(self, seed)

    def dropout_stream_state(self, seed: int) -> _RngsStream:
        """The same stream; its state is the ``nnx.Rngs`` stream's key and count (TRAINING-3)."""
        return _RngsStream(self, seed)

    def stream_advance(self, n: int, dtype: str) -> int:
        """One: ``nnx.Dropout`` takes one key of its Rngs stream per drawing call, whatever its size and
        format (the count goes 0 -> 1 -> 2; an evaluation call and p = 0 take none; measured with flax 0.12.8)."""
        return 1

    def attention_backends(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """One kernel, XLA's ``linen.dot_product_attention``, in every format."""
        return (("dot_product_attention", self.dtypes),)

    def fused_attention(self, q: Any, k: Any, v: Any, g: Any, p: float, *, backend: str, training: bool,
                        seed: int) -> tuple[Any, Any]:
        """``linen.dot_product_attention(..., dropout_rate=p, dropout_rng=key(seed), deterministic=not
        training, broadcast_dropout=self.broadcast_dropout)`` on (batch, heads, L, d) arrays (Flax's
        layout is (batch, L, heads, d): axes 1 and 2 swapped), and dL/dv by ``jax.vjp`` for upstream g."""
        if backend != "dot_product_attention":
            raise ValueError(f"backend must be 'dot_product_attention', got {backend!r}")
        jax, linen = self.jax, self.linen

        def heads_inside(a: Any) -> Any:
            return self.jnp.swapaxes(self._array(a), 1, 2)

        with self._x64(elements(q)):
            key = self._key(seed)

            def attention(value: Any) -> Any:
                return linen.dot_product_attention(heads_inside(q), heads_inside(k), value, dropout_rng=key,
                                                   dropout_rate=p, deterministic=not training,
                                                   broadcast_dropout=self.broadcast_dropout)

            o, backward = jax.vjp(attention, heads_inside(v))
            (dv,) = backward(heads_inside(g))
            return (in_kind(np.asarray(self.jnp.swapaxes(o, 1, 2)), v),
                    in_kind(np.asarray(self.jnp.swapaxes(dv, 1, 2)), v))

    def dropout_module(self, p: float, *, seed: int) -> _Module:
        """``nnx.Dropout(p)`` with ``Rngs(dropout=key(seed))`` of its own."""
        with self._x64():
            return _Module(self, self.nnx.Dropout(p, rngs=self._rngs(seed)))

    def sequential(self, *modules: _Module) -> _Module:
        return _Module(self, self.nnx.Sequential(*(m.module for m in modules)))


def _shared_axes(shape: tuple[int, ...], mask_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """linen's ``broadcast_dims`` of a mask shape: the axes where it is 1 and x's shape is not."""
    if mask_shape is None:
        return ()
    return tuple(i for i, (m, n) in enumerate(zip(mask_shape, shape)) if m == 1 and n != 1)


def _compiles_the_same(dtype: Any, p: Any) -> bool:
    """Whether FlaxDropout's compiled forward gives the op-by-op bits for an x of ``dtype`` at ``p``: a float
    0 < p < 1, a floating format, and q = 1 - p not rounded to 1 in it (FlaxDropout._forward)."""
    if type(p) is not float or not 0.0 < p < 1.0 or np.dtype(dtype).name not in NUMPY_FORMATS:
        return False
    return bool(np.asarray(1.0 - p, dtype=dtype) != 1)


class _RngsStream:
    """``nnx.Dropout`` on ``nnx.Rngs(dropout=key(seed))``, p set for each call. save() is the Rngs stream's
    (key, count), immutable jax arrays; restore() sets both back; position() is the count, which each
    drawing call advances by one (TRAINING-3, TRAINING-4)."""

    def __init__(self, adapter: FlaxDropout, seed: int) -> None:
        self.adapter = adapter
        with adapter._x64():
            self.layer = adapter.nnx.Dropout(0.0, rngs=adapter._rngs(seed))

    def __call__(self, x: Tensor, p: float, *, training: bool) -> Tensor:
        self.layer.rate = p
        with self.adapter._x64(elements(x)):
            return in_kind(np.asarray(self.layer(self.adapter._array(x), deterministic=not training)), x)

    def save(self) -> tuple[Any, Any]:
        rngs = self.layer.rngs
        return rngs.key.get_value(), rngs.count.get_value()

    def restore(self, snapshot: tuple[Any, Any]) -> None:
        rngs = self.layer.rngs
        rngs.key.set_value(snapshot[0])
        rngs.count.set_value(snapshot[1])

    def position(self) -> int:
        return int(self.layer.rngs.count.get_value())


class _Module(ModuleLayer):
    """An nnx module as the protocol's layer: train(), eval(), and calls on engine tensors or numpy arrays."""

    def __call__(self, x: Tensor) -> Tensor:
        with self.adapter._x64(elements(x)):
            return in_kind(np.asarray(self.module(self.adapter._array(x))), x)
