"""The reference Generator's stream, vectorised with numpy (spec/random.md, Part A).

``NumpyGenerator`` makes, bit for bit, the draws of ``refdropout.random.Generator``: the same
key and stream from a seed (RANDOM-3), one draw index per draw call (RANDOM-4), element i of
a draw from block floor(i / per_block) of counter (b, d, s0, s1) (RANDOM-5), the same 53-bit
uniforms (RANDOM-7), the same integer keep rule (RANDOM-8), the same children (RANDOM-6) and
the same refusals (RANDOM-9). Its state is a ``GeneratorState``: either generator continues
the other's stream. It exists for speed only; the engine stays the definition.

Philox4x32-10 runs on uint64 arrays that hold 32-bit words, so a product M * c < 2^64 gives
hi and lo by a shift and a mask. Blocks are made ``CHUNK`` at a time into the output array,
so the temporaries take O(CHUNK) memory whatever the size of the draw.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from ..random import (
    MAX_DRAWS,
    PHILOX_M,
    PHILOX_W,
    WORD,
    Generator,
    GeneratorState,
    SpawnedChildren,
    _integer,
    _keep_threshold,
    _shape,
)
from ..shapes import Shape, numel
from ..values import shown

__all__ = ["philox4x32_arrays", "NumpyGenerator", "NumpySpawnedChildren"]

_LOW = np.uint64(WORD - 1)
_SHIFT = np.uint64(32)


def philox4x32_arrays(counter: Sequence[np.ndarray | int], key: Sequence[int], rounds: int = 10
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Philox4x32-``rounds`` (RANDOM-1) of many counters under one key: word j of counter i is
    ``counter[j][i]`` (an array, or one int for every counter), each in [0, 2^32). Returns four
    uint64 arrays of words, broadcast to one length."""
    c0, c1, c2, c3 = (lane.astype(np.uint64) for lane in np.broadcast_arrays(*map(np.asarray, counter)))
    p0, p1 = np.empty_like(c0), np.empty_like(c0)
    (m0, m1), (w0, w1) = (np.uint64(m) for m in PHILOX_M), PHILOX_W
    k0, k1 = key
    for r in range(rounds):  # in place: ten array operations a round, no allocation
        if r:
            k0, k1 = (k0 + w0) % WORD, (k1 + w1) % WORD
        np.multiply(c0, m0, out=p0)
        np.multiply(c2, m1, out=p1)
        np.right_shift(p1, _SHIFT, out=c0)  # c0 <- hi(M1 c2) ^ c1 ^ k0
        c0 ^= c1
        c0 ^= np.uint64(k0)
        np.bitwise_and(p1, _LOW, out=c1)  # c1 <- lo(M1 c2)
        np.right_shift(p0, _SHIFT, out=c2)  # c2 <- hi(M0 c0) ^ c3 ^ k1
        c2 ^= c3
        c2 ^= np.uint64(k1)
        np.bitwise_and(p0, _LOW, out=c3)  # c3 <- lo(M0 c0)
    return c0, c1, c2, c3


def _words(block: tuple[np.ndarray, ...]) -> np.ndarray:
    """Word j of the blocks is word j mod 4 of block floor(j / 4) (RANDOM-3)."""
    return np.stack(block, axis=1).astype(np.uint32).ravel()


def _mantissas(block: tuple[np.ndarray, ...]) -> np.ndarray:
    """Element i is (a >> 5) 2^26 + (b >> 6) with (a, b) words (2i mod 4, 2i mod 4 + 1) of block
    floor(i / 2) (RANDOM-7): a uint64 in [0, 2^53)."""
    w0, w1, w2, w3 = block
    even = (w0 >> np.uint64(5)) << np.uint64(26) | (w1 >> np.uint64(6))
    odd = (w2 >> np.uint64(5)) << np.uint64(26) | (w3 >> np.uint64(6))
    return np.stack((even, odd), axis=1).ravel()


class NumpyGenerator:
    """``refdropout.random.Generator``'s draws as numpy arrays: ``NumpyGenerator(seed)`` draws
    what ``Generator(seed)`` draws, call for call."""

    __slots__ = ("_engine",)
    CHUNK = 1 << 16  # blocks per Philox evaluation: bounds the temporaries, not the draw

    def __init__(self, seed: int) -> None:
        self._engine = Generator(seed)  # holds the state; checks the seed and lays out the key as the engine does

    @classmethod
    def from_state(cls, state: GeneratorState) -> NumpyGenerator:
        """A generator whose next draws are those of any generator, numpy or engine, that had ``state``."""
        return cls._over(Generator.from_state(state))

    @classmethod
    def _over(cls, engine: Generator) -> NumpyGenerator:
        out = cls.__new__(cls)
        out._engine = engine
        return out

    @property
    def state(self) -> GeneratorState:
        """The current state, the engine's ``GeneratorState`` (RANDOM-4)."""
        return self._engine.state

    def copy(self) -> NumpyGenerator:
        """An independent generator in the same state."""
        return self._over(self._engine.copy())

    # ---- child streams (RANDOM-6): derived by the engine, one Philox call each ----------------

    def spawn(self, n: int) -> NumpySpawnedChildren:
        """The engine's ``spawn(n)``: n children, each derived when first indexed."""
        return NumpySpawnedChildren(self._engine.spawn(n))

    def fold_in(self, data: int) -> NumpyGenerator:
        """The engine's ``fold_in(data)``: a pure function of (key, stream, data)."""
        return self._over(self._engine.fold_in(data))

    # ---- draws (RANDOM-3 to RANDOM-5, RANDOM-9) ------------------------------------------------

    def _draw(self, op: str, count: int, offset: object, per_block: int, dtype: type,
              convert: Callable[[tuple[np.ndarray, ...]], np.ndarray], counted: str = "count") -> np.ndarray:
        """Elements offset .. offset + count - 1 of the next draw, ``per_block`` to a block, checked
        as the engine checks them before the draw index is taken."""
        offset = _integer(offset, f"{op}: offset")
        if offset + count > WORD * per_block:
            raise ValueError(f"{op}: a draw holds 2**32 blocks of {per_block} elements, but offset + {counted} "
                             f"= {shown(offset)} + {shown(count)} goes past its end")
        s = self.state
        if s.draws >= MAX_DRAWS:
            raise OverflowError("this generator has made all 2**32 - 2 of its draws; "
                                "use spawn or fold_in for fresh streams")
        self._engine = Generator.from_state(GeneratorState(s.key, s.stream, s.draws + 1, s.spawned))
        out = np.empty(count, dtype=dtype)
        stop = offset + count
        for start in range(offset // per_block * per_block, stop, self.CHUNK * per_block):
            first = start // per_block
            blocks = np.arange(first, min(first + self.CHUNK, -(-stop // per_block)), dtype=np.uint64)
            elements = convert(philox4x32_arrays((blocks, s.draws, *s.stream), s.key))
            lo, hi = max(start, offset), min(start + len(elements), stop)
            out[lo - offset:hi - offset] = elements[lo - start:hi - start]
        return out

    def random_words(self, count: int, *, offset: int = 0) -> np.ndarray:
        """Words offset .. offset + count - 1 of the next draw, as uint32 (RANDOM-3)."""
        count = _integer(count, "random_words: count")
        return self._draw("random_words", count, offset, 4, np.uint32, _words)

    def _of_mantissas(self, op: str, shape: Shape, offset: object, dtype: type,
                      convert: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``convert`` of the 53-bit mantissas (RANDOM-7) of a draw of ``shape``, applied chunk by chunk:
        the draw's mantissas are never held whole, only its result."""
        return self._draw(op, numel(shape), offset, 2, dtype, lambda block: convert(_mantissas(block)),
                          "numel(shape)").reshape(shape)

    def uniform(self, shape: Shape | int, *, offset: int = 0) -> np.ndarray:
        """The engine's ``uniform``: float64 m / 2^53, row-major in ``shape`` (RANDOM-7)."""
        shape = _shape(shape, "uniform")
        return self._of_mantissas("uniform", shape, offset, np.float64, lambda m: m * 2.0**-53)  # exact: m < 2^53

    def bernoulli(self, shape: Shape | int, keep_prob: float, *, offset: int = 0) -> np.ndarray:
        """The engine's ``bernoulli`` as a bool mask: m < ceil(keep_prob 2^53) (RANDOM-8)."""
        shape = _shape(shape, "bernoulli")
        threshold = np.uint64(_keep_threshold(keep_prob))
        return self._of_mantissas("bernoulli", shape, offset, np.bool_, lambda m: m < threshold)


class NumpySpawnedChildren(Sequence):
    """The engine's ``SpawnedChildren`` as NumpyGenerators: item i is made when first indexed and
    is the same generator whenever it is indexed again (RANDOM-6)."""

    __slots__ = ("_children", "_made")

    def __init__(self, children: SpawnedChildren, made: dict[Generator, NumpyGenerator] | None = None) -> None:
        self._children = children
        self._made = {} if made is None else made

    def __len__(self) -> int:
        return len(self._children)

    def __getitem__(self, index: int | slice) -> NumpyGenerator | NumpySpawnedChildren:
        if isinstance(index, slice):
            return NumpySpawnedChildren(self._children[index], self._made)
        child = self._children[index]  # the engine's child, made once and never drawn from
        if child not in self._made:
            self._made[child] = NumpyGenerator._over(child)
        return self._made[child]

    def __iter__(self) -> Iterator[NumpyGenerator]:
        return (self[i] for i in range(len(self)))
