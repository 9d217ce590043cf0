"""Counter-based random numbers: Philox4x32-10 and the reference Generator (spec/random.md).

Philox4x32-R (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3",
SC'11) maps a 128-bit counter ``(c0, c1, c2, c3)`` and a 64-bit key ``(k0, k1)`` to 128
pseudo-random bits by R rounds of

    (c0, c1, c2, c3) <- (hi(M1 * c2) ^ c1 ^ k0,  lo(M1 * c2),  hi(M0 * c0) ^ c3 ^ k1,  lo(M0 * c0))

where hi and lo are the upper and lower 32 bits of a 64-bit product; between rounds the key
advances by the Weyl constants, (k0, k1) <- (k0 + W0, k1 + W1) mod 2^32.

Because every output is a function of (counter, key) alone, a draw is a map from element
index to counter, and any element can be computed without computing any other (RANDOM-3,
RANDOM-5). The Generator lays its counters out as

    counter of block b of draw d on stream (s0, s1) = (b, d, s0, s1),   key = (k0, k1)

and a root generator has key (seed mod 2^32, floor(seed / 2^32)) and stream (0, 0).
Draw indices 2^32 - 2 and 2^32 - 1 are never drawn: they hold the counters from which
``spawn`` and ``fold_in`` derive child generators (RANDOM-6).
"""

from __future__ import annotations

import math
import numbers
import sys
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .shapes import Shape, numel
from .tensor import Tensor
from .values import shown

__all__ = ["philox4x32", "philox4x32_lanes", "Generator", "GeneratorState", "SpawnedChildren", "PHILOX_M", "PHILOX_W"]

PHILOX_M = (0xD2511F53, 0xCD9E8D57)  # round multipliers M0, M1
PHILOX_W = (0x9E3779B9, 0xBB67AE85)  # key increments W0, W1: (golden ratio - 1) and (sqrt(3) - 1) times 2^32
WORD = 2**32
_MASK = WORD - 1

SPAWN_DRAW = WORD - 2  # the reserved draw index whose counters derive spawn children
FOLD_IN_DRAW = WORD - 1  # the reserved draw index whose counters derive fold_in children
MAX_DRAWS = SPAWN_DRAW  # draws 0 .. 2^32 - 3 are available to draw calls
UNIFORMS_PER_DRAW = 2 * WORD  # a draw holds 2^32 blocks of two 53-bit uniforms (RANDOM-7)


# --- argument checks ----------------------------------------------------------------------


def _bound(n: int) -> str:
    return f"2**{n.bit_length() - 1}" if n > 1024 and n & (n - 1) == 0 else str(n)


def _integer(value: object, name: str, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in [low, high) (high None: unbounded); bool and float are refused."""
    if type(value) is int and low <= value and (high is None or value < high):  # the common case, at once
        return value
    allowed = f"in [{low}, {_bound(high)})" if high is not None else f">= {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int {allowed}, got {shown(value)} of type {type(value).__name__}")
    if value < low or (high is not None and value >= high):
        raise ValueError(f"{name} must be an int {allowed}, got {shown(value)}")
    return int(value)


def _words(values: object, count: int, name: str) -> tuple[int, ...]:
    """A sequence of ``count`` 32-bit words."""
    if type(values) is not tuple and (not isinstance(values, Sequence) or isinstance(values, (str, bytes))) \
            or len(values) != count:
        raise TypeError(f"{name} must be a sequence of {count} ints in [0, 2**32), got {shown(values)}")
    return tuple(_integer(v, f"{name}[{i}]", 0, WORD) for i, v in enumerate(values))


def _shape(shape: object, op: str) -> Shape:
    """A shape: a tuple (or list) of non-negative ints, or one int for a vector."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{op}: shape must be a tuple of non-negative ints, got {shown(shape)}")
    return tuple(_integer(n, f"{op}: shape[{j}]") for j, n in enumerate(shape))


def _keep_threshold(keep_prob: object) -> int:
    """ceil(keep_prob * 2^53): for an integer m, m < keep_prob * 2^53 exactly when m < this (RANDOM-8)."""
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, numbers.Real):
        raise TypeError(f"bernoulli: keep_prob must be a real number in [0, 1], "
                        f"got {shown(keep_prob)} of type {type(keep_prob).__name__}")
    if not 0 <= keep_prob <= 1:  # also refuses NaN, for which every comparison is false
        raise ValueError(f"bernoulli: keep_prob must be in [0, 1], got {shown(keep_prob)}")
    return math.ceil(keep_prob * 2**53)  # a power-of-two scaling: exact for int, float and Fraction


# --- Philox4x32: the definition ------------------------------------------------------------


def philox4x32(counter: Sequence[int], key: Sequence[int], rounds: int = 10) -> tuple[int, int, int, int]:
    """Philox4x32-``rounds`` of one counter under one key, as published (RANDOM-1).

    ``counter``: 4 words, ``key``: 2 words, each an int in [0, 2^32). Returns 4 words.
    """
    c0, c1, c2, c3 = _words(counter, 4, "philox4x32: counter")
    k0, k1 = _words(key, 2, "philox4x32: key")
    rounds = _integer(rounds, "philox4x32: rounds", 1)
    (m0, m1), (w0, w1) = PHILOX_M, PHILOX_W
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + w0) & _MASK, (k1 + w1) & _MASK
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (p1 >> 32) ^ c1 ^ k0, p1 & _MASK, (p0 >> 32) ^ c3 ^ k1, p0 & _MASK
    return c0, c1, c2, c3


# --- Philox4x32: many counters at once -------------------------------------------------------
#
# The batched core packs n words into one Python integer, word i in bits [64 i, 64 i + 32) of
# a 64-bit slot (SIMD within a register). Multiplying the packed integer by a 32-bit M
# multiplies every word at once: each product M * c_i < 2^64 fills its own slot and carries
# into no other. hi and lo of every product are then one shift and one mask away, and each
# round is a dozen big-integer operations over all n words instead of n trips through the
# interpreter (RANDOM-2).


def _pack(words: Sequence[int] | range) -> int:
    return int.from_bytes(array("Q", words).tobytes(), sys.byteorder)


@lru_cache(maxsize=32)
def _ones(n: int) -> int:
    """The packed integer whose n slots each hold 1; ``w * _ones(n)`` puts w in every slot."""
    return _pack([1] * n)


def _unpack(packed: int, n: int) -> list[int]:
    slots = array("Q")
    slots.frombytes(packed.to_bytes(8 * n, sys.byteorder))
    return slots.tolist()


def _philox_packed(c0: int, c1: int, c2: int, c3: int, key: tuple[int, int], rounds: int, n: int
                   ) -> tuple[int, int, int, int]:
    """The rounds of ``philox4x32`` on n packed counters (same key for all)."""
    ones = _ones(n)
    low = _MASK * ones
    (m0, m1), (w0, w1) = PHILOX_M, PHILOX_W
    k0, k1 = key
    for r in range(rounds):
        if r:
            k0, k1 = (k0 + w0) & _MASK, (k1 + w1) & _MASK
        p0, p1 = m0 * c0, m1 * c2
        c0, c1, c2, c3 = (((p1 >> 32) & low) ^ c1 ^ (k0 * ones), p1 & low,
                          ((p0 >> 32) & low) ^ c3 ^ (k1 * ones), p0 & low)
    return c0, c1, c2, c3


def philox4x32_lanes(counters: Sequence[Sequence[int]], key: Sequence[int], rounds: int = 10
                     ) -> tuple[list[int], list[int], list[int], list[int]]:
    """``philox4x32`` of many counters under one key, word by word (RANDOM-2).

    ``counters`` holds four equally long sequences: ``counters[j][i]`` is word j of counter i.
    The result has the same layout: ``result[j][i] == philox4x32(counter i, key)[j]``.
    """
    def is_lane(v: object) -> bool:
        return isinstance(v, Sequence) and not isinstance(v, (str, bytes))

    if not is_lane(counters) or len(counters) != 4 or not all(map(is_lane, counters)):
        raise TypeError(f"philox4x32_lanes: counters must be 4 sequences of words (one per counter word), "
                        f"got {shown(counters)}")
    n = len(counters[0])
    for j, lane in enumerate(counters):
        if len(lane) != n:
            raise ValueError(f"philox4x32_lanes: counters must be 4 sequences of one length, "
                             f"but counters[0] has {n} words and counters[{j}] has {len(lane)}")
        for i, w in enumerate(lane):
            _integer(w, f"philox4x32_lanes: counters[{j}][{i}]", 0, WORD)
    key = _words(key, 2, "philox4x32_lanes: key")
    rounds = _integer(rounds, "philox4x32_lanes: rounds", 1)
    out = _philox_packed(*map(_pack, counters), key, rounds, n)
    return tuple(_unpack(lane, n) for lane in out)


# --- what a block of four words becomes -----------------------------------------------------


def _interleave(parts: Sequence[list]) -> list:
    """[a0, b0, ..., a1, b1, ...] from equally long lists [a0, a1, ...], [b0, b1, ...], ..."""
    out = [None] * (len(parts) * len(parts[0]))
    for j, part in enumerate(parts):
        out[j::len(parts)] = part
    return out


def _block_words(block: tuple[int, int, int, int], n: int) -> list[int]:
    """Word j of a draw is word j mod 4 of block floor(j / 4)."""
    return _interleave([_unpack(lane, n) for lane in block])


def _block_mantissas(block: tuple[int, int, int, int], n: int) -> list[int]:
    """Element i of a draw is m = (a >> 5) * 2^26 + (b >> 6), with (a, b) words (2i mod 4, 2i mod 4 + 1)
    of block floor(i / 2): a 53-bit integer, computed in the packed slots (RANDOM-7)."""
    ones = _ones(n)
    top27, top26 = (2**27 - 1) * ones, (2**26 - 1) * ones
    w0, w1, w2, w3 = block
    even = ((w0 >> 5) & top27) << 26 | ((w1 >> 6) & top26)
    odd = ((w2 >> 5) & top27) << 26 | ((w3 >> 6) & top26)
    return _interleave([_unpack(even, n), _unpack(odd, n)])


# --- the generator ----------------------------------------------------------------------


@dataclass(frozen=True)
class GeneratorState:
    """Everything a Generator's future draws depend on (RANDOM-4).

    ``key`` and ``stream``: the Philox key and counter words 2 and 3 of every draw;
    ``draws``: the draw index the next draw will use; ``spawned``: children spawn has handed out.
    """

    key: tuple[int, int]
    stream: tuple[int, int]
    draws: int = 0
    spawned: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", _words(self.key, 2, "GeneratorState: key"))
        object.__setattr__(self, "stream", _words(self.stream, 2, "GeneratorState: stream"))
        _integer(self.draws, "GeneratorState: draws", 0, MAX_DRAWS + 1)
        _integer(self.spawned, "GeneratorState: spawned", 0, WORD + 1)


class Generator:
    """The reference counter-based generator (spec/random.md, RANDOM-3 to RANDOM-9).

    ``Generator(seed)``, seed an int in [0, 2^64), has key (seed mod 2^32, floor(seed / 2^32))
    and stream (0, 0). Each draw call (``random_words``, ``uniform``, ``bernoulli``) takes the
    next draw index d and returns elements ``offset, offset + 1, ...`` of draw d, where element
    i depends on (key, stream, d, i) alone.
    """

    __slots__ = ("_state",)
    _CHUNK = 4096  # blocks per packed evaluation: big enough to amortise, small enough for the cache

    def __init__(self, seed: int) -> None:
        seed = _integer(seed, "Generator: seed", 0, 2**64)
        self._state = GeneratorState(key=(seed & _MASK, seed >> 32), stream=(0, 0))

    @classmethod
    def from_state(cls, state: GeneratorState) -> Generator:
        """A generator whose next draws are those of any generator that had ``state``."""
        if not isinstance(state, GeneratorState):
            raise TypeError(f"Generator.from_state: state must be a GeneratorState, got {type(state).__name__}")
        out = cls.__new__(cls)
        out._state = state
        return out

    @property
    def state(self) -> GeneratorState:
        """The current state; it changes only when a draw or ``spawn`` consumes randomness."""
        return self._state

    def copy(self) -> Generator:
        """An independent generator in the same state: it makes the same draws from here on."""
        return Generator.from_state(self._state)

    def __repr__(self) -> str:
        s = self._state
        return f"Generator(key={s.key}, stream={s.stream}, draws={s.draws}, spawned={s.spawned})"

    # ---- child streams (RANDOM-6) --------------------------------------------------------

    def spawn(self, n: int) -> SpawnedChildren:
        """n new child generators, as a sequence; successive calls hand out new children.

        Child j (counting over all spawn calls of this generator) is derived from counter
        (j, 2^32 - 2, s0, s1) under this generator's key. The call hands the n children out at
        once (``state.spawned`` grows by n) but derives each only when it is first indexed, so
        that ``spawn(2**32)`` costs no more than ``spawn(1)``.
        """
        s = self._state
        n = _integer(n, "spawn: n")
        if s.spawned + n > WORD:
            raise ValueError(f"spawn: n = {shown(n)} exceeds the {WORD - s.spawned} children this generator has left "
                             f"(2**32 in all, {s.spawned} handed out)")
        self._state = GeneratorState(s.key, s.stream, s.draws, s.spawned + n)
        return SpawnedChildren(s.key, s.stream, range(s.spawned, s.spawned + n))

    def fold_in(self, data: int) -> Generator:
        """The child generator named by ``data``, an int in [0, 2^32): a pure function of
        (this generator's key and stream, data), derived from counter (data, 2^32 - 1, s0, s1).
        It consumes no randomness of this generator."""
        return _child(self._state.key, self._state.stream, _integer(data, "fold_in: data", 0, WORD), FOLD_IN_DRAW)

    # ---- draws ------------------------------------------------------------------------

    def _next_draw(self) -> int:
        s = self._state
        if s.draws >= MAX_DRAWS:
            raise OverflowError("this generator has made all 2**32 - 2 of its draws; "
                                "use spawn or fold_in for fresh streams")
        self._state = GeneratorState(s.key, s.stream, s.draws + 1, s.spawned)
        return s.draws

    def _elements(self, op: str, count: int, offset: object, per_block: int,
                  convert: Callable[[tuple, int], list], counted: str = "count",
                  each: Callable[[list], list] | None = None) -> list:
        """Elements offset .. offset + count - 1 of the next draw, ``per_block`` elements to a block;
        ``counted`` names what the caller gave for count. ``each`` maps the elements of every chunk of
        blocks as it is made, so that a draw's raw integers are never all held at once."""
        offset = _integer(offset, f"{op}: offset")
        if offset + count > WORD * per_block:
            raise ValueError(f"{op}: a draw holds 2**32 blocks of {per_block} elements, but offset + {counted} "
                             f"= {shown(offset)} + {shown(count)} goes past its end")
        draw = self._next_draw()
        first = offset // per_block
        stop = -(-(offset + count) // per_block)
        out: list = []
        for start in range(first, stop, self._CHUNK):
            n = min(self._CHUNK, stop - start)
            elements = convert(self._blocks(draw, start, n), n)
            out += elements if each is None else each(elements)
        head = offset - first * per_block
        return out if head == 0 and len(out) == count else out[head:head + count]

    def _blocks(self, draw: int, start: int, n: int) -> tuple[int, int, int, int]:
        """Philox output of blocks start .. start + n - 1 of a draw, packed (RANDOM-3)."""
        ones = _ones(n)
        s0, s1 = self._state.stream
        return _philox_packed(_pack(range(start, start + n)), draw * ones, s0 * ones, s1 * ones,
                              self._state.key, 10, n)

    def random_words(self, count: int, *, offset: int = 0) -> list[int]:
        """Words offset .. offset + count - 1 of the next draw, each an int in [0, 2^32) (RANDOM-3)."""
        count = _integer(count, "random_words: count")
        return self._elements("random_words", count, offset, 4, _block_words)

    def uniform(self, shape: Shape | int, *, offset: int = 0) -> Tensor:
        """Elements offset .. offset + numel(shape) - 1 of the next draw, as uniforms in [0, 1),
        laid out row-major in ``shape``: u = m / 2^53 with m the 53-bit integer of RANDOM-7."""
        shape = _shape(shape, "uniform")
        return Tensor.from_flat(self._elements("uniform", numel(shape), offset, 2, _block_mantissas, "numel(shape)",
                                               lambda mantissas: [m * 2**-53 for m in mantissas]), shape)

    def bernoulli(self, shape: Shape | int, keep_prob: float, *, offset: int = 0) -> Tensor:
        """A keep mask: element i is 1.0 if u_i < keep_prob else 0.0, with u_i the element of
        ``uniform`` the same call would have returned (RANDOM-8). keep_prob 0 keeps nothing and
        keep_prob 1 keeps everything."""
        shape = _shape(shape, "bernoulli")
        threshold = _keep_threshold(keep_prob)  # u < q  <=>  m < ceil(q * 2^53)
        return Tensor.from_flat(self._elements("bernoulli", numel(shape), offset, 2, _block_mantissas, "numel(shape)",
                                               lambda mantissas: [1.0 if m < threshold else 0.0 for m in mantissas]),
                                shape)


# --- child streams (RANDOM-6) -----------------------------------------------------------------


def _child(key: tuple[int, int], stream: tuple[int, int], index: int, reserved_draw: int) -> Generator:
    """The generator whose (k0, k1, s0, s1) is philox4x32((index, reserved_draw, s0, s1), key)."""
    k0, k1, s0, s1 = philox4x32((index, reserved_draw, *stream), key)
    return Generator.from_state(GeneratorState(key=(k0, k1), stream=(s0, s1)))


class SpawnedChildren(Sequence):
    """The children one ``spawn`` call handed out: item i is the parent's child number
    ``numbers[i]``, derived from counter (numbers[i], 2^32 - 2, s0, s1) under the parent's key.

    A child is derived when it is first indexed and kept: indexing it again returns the same
    Generator, in whatever state its draws have left it, as a list would. Slicing gives the
    children of a sub-range, sharing those already made.
    """

    __slots__ = ("_key", "_stream", "_numbers", "_made")

    def __init__(self, key: tuple[int, int], stream: tuple[int, int], numbers: range,
                 made: dict[int, Generator] | None = None) -> None:
        self._key, self._stream, self._numbers = key, stream, numbers
        self._made = {} if made is None else made

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, index: int | slice) -> Generator | SpawnedChildren:
        if isinstance(index, slice):
            return SpawnedChildren(self._key, self._stream, self._numbers[index], self._made)
        number = self._numbers[index]  # IndexError and TypeError as for a list
        if number not in self._made:
            self._made[number] = _child(self._key, self._stream, number, SPAWN_DRAW)
        return self._made[number]

    def __iter__(self) -> Iterator[Generator]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        numbers = self._numbers
        which = f"children {numbers.start} to {numbers.stop - 1}" if numbers.step == 1 else f"children {numbers}"
        return f"SpawnedChildren({len(numbers)} {which} of key={self._key}, stream={self._stream})"
