"""The keys a dropout stream draws its successive masks with (spec/exact.md, "Streams").

A stream made from a seed draws call after call; only a call that draws (training at 0 < p < 1)
takes a key, and the ``c``-th such call (``c = 0, 1, ...``) takes key ``c`` of its schedule, the
stream's root key being the seed's. Two JAX schedules are recomputed here (``stream_keys``):

* ``"jax-split"``: JAX's idiom, as dm-haiku's ``hk.next_rng_key`` and the jax target do it:
  before each drawing call ``key, sub = split(key)``, and the call draws with ``sub``: key ``c``
  is the second key of ``split(k_c)``, with ``k_0`` the root and ``k_(c+1)`` the first.
* ``"nnx-rngs"``: ``flax.nnx.Dropout(rate, rngs=nnx.Rngs(dropout=root))``. An ``RngStream`` is
  a key and a uint32 count; calling it returns ``fold_in(key, count)`` and adds 1 to the count.
  The layer's constructor forks the ``Rngs``'s stream (``fork`` calls it once and makes a new
  stream of the key returned, its count 0), so the layer holds ``fold_in(root, 0)``, and its
  drawing call ``c`` calls that stream: key ``c`` is ``fold_in(fold_in(root, 0), c mod 2^32)``
  (Flax 0.12.8: ``flax/nnx/rnglib.py``, ``RngStream.__call__`` and ``fork``;
  ``flax/nnx/nn/stochastic.py``, ``Dropout.__init__`` and ``__call__``).

and TensorFlow's (``tf_generator_states``):

* ``"tf-generator"``: ``tf.nn.experimental.general_dropout(x, rate, generator.uniform)`` on one
  ``tf.random.Generator.from_seed(seed)`` (Philox): every call takes the key (0, 0) and the
  generator's 128-bit counter, which starts at the seed and moves 256 per element drawn; drawing
  call ``c`` after calls of ``n_0, ..., n_(c-1)`` elements draws from the counter
  ``seed + 256 (n_0 + ... + n_(c-1))`` (``tf_stateless.generator_state``, ``generator_advance``).

* ``"keras-seed-generator"``: a Keras 3 ``Dropout`` layer on the TensorFlow backend, seeded with the
  int64 of the seed's 64 bits: its ``SeedGenerator``'s state is [seed, c] at drawing call c (``next``
  adds [0, 1]), and ``_cast_seed`` reduces each word modulo 2^31 - 2 (``floormod``) before
  ``stateless_dropout``: call c draws with the seed pair ``keras_seed_pairs(seed, calls)[c]``.

and PyTorch's on CUDA (``torch_cuda.stream_offsets``; unverified against hardware):

* ``"torch-cuda-offset"``: successive ``F.dropout`` calls on the CUDA generator seeded with ``seed``:
  every call takes the seed's key and the generator's offset, which starts at 0 and moves on by each
  drawing call's ``torch_cuda.offset_increment`` (4 per pass of the unrolled kernel's threads).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from .jax_random import Key, fold_in, split
from .tf_stateless import generator_advance, generator_state

__all__ = ["ALGORITHMS", "KERAS_SEED_MODULUS", "SCHEDULES", "keras_seed_pair", "keras_seed_pairs", "stream_keys",
           "tf_generator_states"]

COUNT = 2**32  # an nnx RngStream's count is a uint32


def _split_keys(root: Key, calls: int) -> list[Key]:
    keys, key = [], root
    for _ in range(calls):
        key, sub = split(key)
        keys.append(sub)
    return keys


def _nnx_keys(root: Key, calls: int) -> list[Key]:
    forked = fold_in(root, 0)  # Dropout.__init__: rngs["dropout"].fork(), the Rngs's first key
    return [fold_in(forked, c % COUNT) for c in range(calls)]


# schedule -> (root key, calls) -> the keys of the first ``calls`` drawing calls
SCHEDULES: dict[str, Callable[[Key, int], list[Key]]] = {"jax-split": _split_keys, "nnx-rngs": _nnx_keys}
# schedule -> the algorithm whose masks its drawing calls draw
ALGORITHMS: dict[str, str] = {"jax-split": "jax-threefry", "nnx-rngs": "jax-threefry",
                              "tf-generator": "tf-stateless-philox", "keras-seed-generator": "tf-stateless-philox",
                              "torch-cuda-offset": "torch-cuda-philox"}
KERAS_SEED_MODULUS = 2**31 - 2  # keras's _cast_seed: floormod(seed, tf.int32.max - 1)


def stream_keys(schedule: str, root: Sequence[int], calls: int) -> list[Key]:
    """The keys of a stream's first ``calls`` drawing calls under ``schedule`` ("jax-split" or
    "nnx-rngs"), its root key ``root`` (two 32-bit words)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"stream_keys: schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
        raise ValueError(f"stream_keys: calls must be an integer >= 0, got {calls!r}")
    return SCHEDULES[schedule](_root(root), calls)


def _root(root: Sequence[int]) -> Key:
    words = tuple(root)
    if len(words) != 2 or any(isinstance(w, bool) or not isinstance(w, int) or not 0 <= w < 2**32 for w in words):
        raise ValueError(f"stream_keys: root must be two 32-bit words, got {root!r}")
    return words


def tf_generator_states(seed: int, sizes: Sequence[int]) -> list[tuple[Key, int]]:
    """The Philox (key, 128-bit counter) of each drawing call of a ``tf.random.Generator.from_seed(seed)``
    stream ("tf-generator"), whose drawing calls draw ``sizes[0], sizes[1], ...`` elements in turn."""
    key, counter = generator_state(seed)
    states = []
    for size in sizes:
        states.append((key, counter))
        counter = generator_advance(counter, size)
    return states


def keras_seed_pair(seed: int, counter: int = 0) -> tuple[int, int]:
    """The seed pair Keras hands ``stateless_dropout`` when its SeedGenerator, seeded with the int64 of the
    64-bit ``seed``'s bits, holds [seed, counter]: both words modulo 2^31 - 2 (a floor modulo)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**64:
        raise ValueError(f"keras_seed_pair: seed must be an int in [0, 2**64), got {seed!r}")
    signed = seed - 2**64 if seed >= 2**63 else seed
    return signed % KERAS_SEED_MODULUS, counter % KERAS_SEED_MODULUS


def keras_seed_pairs(seed: int, calls: int) -> list[tuple[int, int]]:
    """The seed pairs of a Keras Dropout layer's first ``calls`` drawing calls ("keras-seed-generator")."""
    return [keras_seed_pair(seed, c) for c in range(calls)]
