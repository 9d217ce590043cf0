"""PyTorch's dropout masks on CUDA, recomputed: curand's Philox4x32-10 as the fused kernel draws it (spec/exact.md).

UNVERIFIED AGAINST HARDWARE: written from the public sources below, with no GPU to compare with;
``tests/gpu/verify_torch_cuda_philox.py`` compares it with ``torch.nn.functional.dropout`` on a
CUDA device. What it computes, for ``F.dropout(x, p, training=True)`` on a CUDA tensor x of n > 0
contiguous elements at 0 < p < 1 (aten/src/ATen/native/cuda/Dropout.cu: ``dropout_cuda``,
``fused_dropout_kernel``, ``fused_dropout_kernel_vec``, ``get_vector_size``; curand_kernel.h and
curand_philox4x32_x.h: ``curand_init``, ``skipahead``, ``skipahead_sequence``, ``curand4``,
``curand_uniform4``):

1. the launch: blocks of 256 threads, ``grid = min(ceil(n / 256), SMs * floor(threads per SM / 256))``,
   S = 256 grid threads in all; the generator hands the call its seed and its offset o (a
   multiple of 4) and moves its offset on by ``4 (floor((n - 1) / (4 S)) + 1)``;
2. thread t's k-th ``curand_uniform4`` is Philox4x32-10 under the key (lo(seed), hi(seed)) of the
   counter (lo(o/4 + k), hi(o/4 + k), lo(t), hi(t)), each word w made a float
   ``u = fl32(fl32(w) 2^-32 + 2^-33)`` in (0, 1];
3. element i is kept where its u < q, q = 1 - p in the kernel's accumulate type (float32 for
   float32, float16 and bfloat16; float64 for float64);
4. which word decides element i: with the vector width v (``16 / itemsize``, halved until it
   divides n; ``max_vec`` caps it, 4 in the kernels before 8-wide vectors), thread t's
   iteration j covers elements ``v (j S + t) .. v (j S + t) + v - 1``: v = 4 takes all four words
   of one draw, v = 8 two draws, v = 2 the first two words of a fresh draw each iteration (the
   kernel's reuse of the last two never happens: pytorch/pytorch#68909); v = 1 (the unvectorised
   kernel) gives thread t's draw k to elements ``t + S (4k + r)``, word r.
"""

from __future__ import annotations

import numbers
import struct
from collections.abc import Sequence

from ..dtypes import DType, get_dtype
from ..random import WORD, _integer, _pack, _philox_packed, _shape, _unpack
from ..shapes import Shape, numel
from ..tensor import Tensor
from ..values import shown

__all__ = ["BLOCK", "UNROLL", "launch_grid", "offset_increment", "vector_width", "curand_uniform",
           "keep_threshold", "dropout_mask", "stream_offsets"]

BLOCK = 256  # threads per block of the fused dropout kernel's launch
UNROLL = 4  # uniforms per curand_uniform4: the unit of the offset
_CHUNK = 4096  # Philox blocks per packed evaluation
_MASK = WORD - 1


def _positive(value: object, name: str) -> int:
    return _integer(value, name, 1)


def launch_grid(n: int, multiprocessors: int, threads_per_multiprocessor: int) -> int:
    """The kernel's number of blocks for n > 0 elements on a device with ``multiprocessors`` SMs of
    ``threads_per_multiprocessor`` threads: ceil(n / 256), at most SMs * floor(threads per SM / 256)."""
    n = _positive(n, "launch_grid: n")
    resident = _positive(multiprocessors, "launch_grid: multiprocessors") * (
        _positive(threads_per_multiprocessor, "launch_grid: threads_per_multiprocessor") // BLOCK)
    return min(-(-n // BLOCK), resident)


def offset_increment(n: int, grid: int) -> int:
    """How far a call on n > 0 elements launched on ``grid`` blocks moves the generator's offset:
    4 uniforms per thread and pass of the unrolled loop (a multiple of 4, as the generator rounds it)."""
    threads = BLOCK * _positive(grid, "offset_increment: grid")
    return ((_positive(n, "offset_increment: n") - 1) // (UNROLL * threads) + 1) * UNROLL


def vector_width(n: int, itemsize: int, max_vec: int | None = None) -> int:
    """``get_vector_size``'s width for n elements of ``itemsize`` bytes on an input aligned to 16 bytes:
    16 / itemsize (at most ``max_vec``), halved until it divides n."""
    width = 16 // _positive(itemsize, "vector_width: itemsize")
    if max_vec is not None:
        if max_vec not in (1, 2, 4, 8):
            raise ValueError(f"vector_width: max_vec must be one of 1, 2, 4, 8 or None, got {shown(max_vec)}")
        width = min(width, max_vec)
    n = _positive(n, "vector_width: n")
    while width > 1 and n % width:
        width //= 2
    return width


def _float32(x: float) -> float:
    """x rounded to float32, to nearest, ties to even."""
    return struct.unpack("f", struct.pack("f", x))[0]


def curand_uniform(word: int) -> float:
    """``_curand_uniform(word)``: fl32(fl32(word) 2^-32 + 2^-33), in (0, 1]. The product is exact and
    the sum is exact in float64, so rounding it once to float32 is the device's one rounding (with or
    without a fused multiply-add)."""
    return _float32(_float32(float(_integer(word, "curand_uniform: word", 0, WORD))) * 2.0**-32 + 2.0**-33)


def keep_threshold(keep_prob: float) -> int:
    """The number of words w whose ``curand_uniform(w) < keep_prob``: u is non-decreasing in w, so a
    word keeps its element exactly when w < keep_threshold(keep_prob)."""
    low, high = 0, WORD  # curand_uniform(w) < keep_prob for every w < low, and not at w = high (if < WORD)
    while low < high:
        middle = (low + high) // 2
        if curand_uniform(middle) < keep_prob:
            low = middle + 1
        else:
            high = middle
    return low


def _keep_prob(p: float, dtype: DType) -> float:
    """q = 1 - p as the kernel compares it: 1 - p in float64, then in the accumulate type (float32
    for the formats below 64 bits)."""
    q = 1.0 - float(p)
    return q if dtype.itemsize == 8 else _float32(q)


def _block_counters(count: int, threads: int, width: int, first: int) -> list[tuple[int, int]]:
    """(uniform4 index from the offset on, thread) of the kernel's blocks 0 .. count - 1 in the order
    in which their words are listed: width 1, block B = k S + t; width v >= 2, block B = g r + i of
    group g = j S + t (r = ceil(v / 4) draws per group, i < r), thread t's draw j r + i."""
    if width == 1:
        return [(first + b // threads, b % threads) for b in range(count)]
    draws = -(-width // 4)
    return [(first + (b // draws) // threads * draws + b % draws, (b // draws) % threads) for b in range(count)]


def _words(key: tuple[int, int], counters: list[tuple[int, int]]) -> list[int]:
    """The four words of Philox4x32-10 under ``key`` of each counter (lo(d), hi(d), lo(t), hi(t)) of
    ``counters`` (d, t), listed block after block."""
    out: list[int] = []
    for start in range(0, len(counters), _CHUNK):
        chunk = counters[start:start + _CHUNK]
        n = len(chunk)
        lanes = _philox_packed(_pack([d & _MASK for d, _ in chunk]), _pack([(d >> 32) & _MASK for d, _ in chunk]),
                               _pack([t & _MASK for _, t in chunk]), _pack([(t >> 32) & _MASK for _, t in chunk]),
                               key, 10, n)
        words = [_unpack(lane, n) for lane in lanes]
        out += [w for block in zip(*words) for w in block]
    return out


def _element_words(n: int, threads: int, width: int) -> list[int]:
    """For each element i, the index of its word in the listed blocks' words (4 a block)."""
    if width == 1:
        return [((i // threads) // UNROLL * threads + i % threads) * 4 + (i // threads) % UNROLL for i in range(n)]
    if width == 2:
        return [(i // 2) * 4 + i % 2 for i in range(n)]
    return list(range(n))  # widths 4 and 8: element i reads word i


def dropout_mask(seed: int, offset: int, p: float, shape: Shape | int, dtype: DType | str = "float32", *,
                 multiprocessors: int, threads_per_multiprocessor: int, max_vec: int | None = None) -> Tensor:
    """The keep mask (1.0 kept, 0.0 dropped) of ``torch.nn.functional.dropout(x, p, training=True)`` on
    a CUDA device with ``multiprocessors`` SMs of ``threads_per_multiprocessor`` threads, x a fresh
    contiguous tensor of ``shape`` and ``dtype``, drawn with the generator's ``seed`` (a uint64) and
    ``offset`` (a multiple of 4): steps 1 to 4 above. p = 0 and empty x draw nothing (all kept)."""
    seed = _integer(seed, "dropout_mask: seed", 0, 2**64)
    offset = _integer(offset, "dropout_mask: offset", 0, 2**64)
    if offset % UNROLL:
        raise ValueError(f"dropout_mask: offset must be a multiple of 4 (PyTorch's generator rounds it up), "
                         f"got {shown(offset)}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout_mask: p must be a real number in [0, 1), got {shown(p)} of type {type(p).__name__}")
    if not 0 <= p < 1:
        raise ValueError(f"dropout_mask: p must be in [0, 1), got {shown(p)}")
    dtype = get_dtype(dtype)
    if not dtype.is_floating:
        raise ValueError(f"dropout_mask: dtype must be a floating format (float64, float32, float16, bfloat16), "
                         f"got {dtype.name}")
    shape = _shape(shape, "dropout_mask")
    n = numel(shape)
    if n == 0 or p == 0:  # the fused kernel runs at 0 < p < 1 on a non-empty x only
        return Tensor.from_flat([1.0] * n, shape, rounded=True)
    threads = BLOCK * launch_grid(n, multiprocessors, threads_per_multiprocessor)
    width = vector_width(n, dtype.itemsize, max_vec)
    index = _element_words(n, threads, width)
    counters = _block_counters(max(index) // 4 + 1, threads, width, offset // UNROLL)
    words = _words((seed & _MASK, seed >> 32), counters)
    threshold = keep_threshold(_keep_prob(p, dtype))
    return Tensor.from_flat([1.0 if words[j] < threshold else 0.0 for j in index], shape, rounded=True)


def stream_offsets(sizes: Sequence[int], *, multiprocessors: int, threads_per_multiprocessor: int) -> list[int]:
    """The generator's offset at each of successive drawing calls on ``sizes[0], sizes[1], ...`` elements,
    from a fresh seed (offset 0): each call moves it on by its ``offset_increment``; a call on an empty x
    returns before it asks the generator for an offset (Dropout.cu: "empty tensors should not get here"),
    so it moves nothing."""
    offsets, offset = [], 0
    for n in sizes:
        offsets.append(offset)
        if n:
            offset += offset_increment(n, launch_grid(n, multiprocessors, threads_per_multiprocessor))
    return offsets
