"""Argument checks every dropout op shares (spec/dropout.md, DROPOUT-1, DROPOUT-3, DROPOUT-9, DROPOUT-11).

Bad input raises at once with the argument, its value and what is allowed: a rate is never
clamped, a shape never silently broadcast, and randomness is never taken from a hidden
global generator.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from ..random import Generator
from ..shapes import Shape, normalize_axis
from ..tensor import Tensor
from ..values import shown, to_float

__all__ = [
    "check_rate", "check_input", "check_int", "check_choice", "check_flag", "resolve_generator", "resolve_noise_shape",
]


def check_rate(p: object, op: str, name: str = "p") -> float:
    """A drop probability: a real number in [0, 1] (DROPOUT-3), as a float; bool, NaN, non-reals and
    numbers beyond the float64 range raise."""
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"{op}: {name} must be a real number in [0, 1], got {shown(p)} of type {type(p).__name__}")
    p = to_float(p, f"{op}: {name}", "in [0, 1]")
    if not 0.0 <= p <= 1.0:  # NaN fails every comparison
        raise ValueError(f"{op}: {name} must be in [0, 1], got {shown(p)}")
    return p


def check_input(x: object, op: str, name: str = "x") -> Tensor:
    """A floating-point tensor (DROPOUT-9): bool tensors and non-tensors raise TypeError."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {name} must be a floating-point Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating:
        raise TypeError(f"{op}: {name} must be a floating-point Tensor, got dtype {x.dtype.name}")
    return x


def check_int(value: object, op: str, name: str, low: int, high: int | None = None) -> int:
    """An int in [low, high] (high None: unbounded); bool and float raise TypeError (VARIANTS-18)."""
    allowed = f"an int in [{low}, {high}]" if high is not None else f"an int >= {low}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{op}: {name} must be {allowed}, got {shown(value)} of type {type(value).__name__}")
    if value < low or (high is not None and value > high):
        raise ValueError(f"{op}: {name} must be {allowed}, got {shown(value)}")
    return value


def check_choice(value: object, allowed: tuple[str, ...], op: str, name: str) -> str:
    """One of the strings ``allowed`` (a tensor or list is refused as any other value, not compared)."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{op}: {name} must be one of {allowed}, got {shown(value)}")
    return value


def check_flag(value: object, op: str, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be a bool, got {shown(value)}")
    return value


def resolve_generator(seed: int | None, generator: Generator | None, op: str) -> Generator:
    """The generator a training-mode draw uses: ``Generator(seed)`` or the one given, never both (DROPOUT-1)."""
    if seed is not None and generator is not None:
        raise ValueError(f"{op}: pass seed= or generator=, not both")
    if generator is not None:
        if not isinstance(generator, Generator):
            raise TypeError(f"{op}: generator must be a refdropout.random.Generator, got {type(generator).__name__}")
        return generator
    if seed is None:
        raise ValueError(f"{op}: training-mode dropout needs seed= or generator= (there is no hidden global generator)")
    return Generator(seed)


def resolve_noise_shape(
    shape: Shape, noise_shape: Sequence[int | None] | None, broadcast_dims: Sequence[int] | None, op: str
) -> Shape:
    """The shape of the mask (DROPOUT-11): ``shape`` itself, or with size 1 where it is shared.

    ``noise_shape`` is TensorFlow's spelling (one entry per axis; None means the input's size);
    ``broadcast_dims`` is Flax's (the axes along which one mask value is shared).
    """
    if noise_shape is not None and broadcast_dims is not None:
        raise ValueError(f"{op}: pass noise_shape= or broadcast_dims=, not both")
    if broadcast_dims is not None:
        if isinstance(broadcast_dims, (str, bytes)) or not isinstance(broadcast_dims, Sequence):
            raise TypeError(f"{op}: broadcast_dims must be a sequence of axes, got {shown(broadcast_dims)}")
        shared = {normalize_axis(a, len(shape), op, f"broadcast_dims[{j}]") for j, a in enumerate(broadcast_dims)}
        return tuple(1 if j in shared else n for j, n in enumerate(shape))
    if noise_shape is None:
        return shape
    if isinstance(noise_shape, (str, bytes)) or not isinstance(noise_shape, Sequence):
        raise TypeError(f"{op}: noise_shape must be a sequence of ints or None, got {shown(noise_shape)}")
    if len(noise_shape) != len(shape):
        raise ValueError(f"{op}: noise_shape {shown(tuple(noise_shape))} has {len(noise_shape)} axes but the input"
                         f" shape {shape} has {len(shape)}")
    resolved = []
    for j, (m, n) in enumerate(zip(noise_shape, shape)):
        m = n if m is None else m
        if isinstance(m, bool) or not isinstance(m, int) or m not in (1, n):
            raise ValueError(
                f"{op}: noise_shape {shown(tuple(noise_shape))} does not broadcast to the input shape {shape}: "
                f"axis {j} must be 1 or {n} (or None), got {shown(m)}"
            )
        resolved.append(m)
    return tuple(resolved)

