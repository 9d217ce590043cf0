"""Textbook: a correct standard dropout written as a framework kernel is written (spec/dropout.md).

Keep where a uniform u is below q, then y = x ⊙ m · fl(1/q) in x's dtype, or in float32 for the 16-bit
formats (DROPOUT-2, DROPOUT-8).
Its forward pass is made of steps (rate, generator, draws, keep, scale, evaluate, mask_shape);
each mutant of standard dropout derives from it and overrides the one step its bug lives in.
Handed numpy arrays, its capabilities answer in kind (contract.arrays.EngineArrays) without converting
them: the arrays enter as ``adapters.array_tensor.ArrayTensor``s and its steps run on them unchanged, their
arithmetic and the stream's uniforms (``BulkGenerator``) done by numpy, bit for bit the engine's, so a
check's millions of elements cost what numpy's arithmetic costs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..adapters.array_tensor import ArrayTensor, BulkGenerator, array_of, keep_tensor
from ..contract import Policies
from ..contract.arrays import EngineArrays
from ..dtypes import float32
from ..functional.arguments import check_rate, resolve_noise_shape
from ..random import Generator
from ..shapes import Shape
from ..tensor import Tensor

__all__ = ["Textbook"]


class Textbook(EngineArrays):
    """Correct: m_i = [u_i < q] on 53-bit uniforms, y = x ⊙ m · fl(1/q) in x's dtype (float32 for the 16-bit
    formats), eval y = x."""

    name = "textbook"
    policies = Policies(scaling="inverted", nonfinite="multiply")
    dtypes = ("float64", "float32", "float16", "bfloat16")
    tensor_of = staticmethod(ArrayTensor)  # numpy arrays kept as they are (EngineArrays)
    array_of = staticmethod(array_of)

    # --- the steps, each overridden by some broken implementation ---

    def rate(self, p: object) -> float:
        return check_rate(p, self.name)

    def generator(self, seed: int) -> Generator:
        return BulkGenerator(seed)

    def draws(self, p: float, training: bool) -> bool:
        """Whether the call draws a mask: only in training, and not at p = 0."""
        return training and p > 0.0

    def keep(self, generator: Generator, shape: Shape, p: float) -> list[bool]:
        return [u < 1.0 - p for u in generator.uniform(shape).data]

    def scale(self, x: Tensor, keep: Tensor, p: float) -> Tensor:
        """x ⊙ m · fl(1/q) in the format a kernel computes in: x's own, float32 for the 16-bit formats (as
        PyTorch's kernels do), rounded once to x's format. A dropped NaN or inf gives NaN (the "multiply"
        policy). (In float16 itself fl(1/q) overflows for q < 2^-16, and a dropped 0 · inf is NaN.)"""
        work = float32 if x.dtype.precision < float32.precision else x.dtype
        y = x.astype(work) * keep.astype(work) * (0.0 if p == 1.0 else 1.0 / (1.0 - p))
        return y if work is x.dtype else y.astype(x.dtype)

    def evaluate(self, x: Tensor, p: float) -> Tensor:
        """Evaluation under inverted scaling: y = x (DROPOUT-7)."""
        return x

    def mask_shape(self, shape: Shape, noise_shape: Sequence[int | None] | None) -> Shape:
        return resolve_noise_shape(shape, noise_shape, None, self.name)

    # --- the forward pass and the protocol's capabilities ---

    def forward(self, generator: Generator, x: Tensor, p: object, *, training: bool,
                noise_shape: Sequence[int | None] | None = None) -> tuple[Tensor, Tensor]:
        """(y, keep mask of x's shape)."""
        p = self.rate(p)
        if not self.draws(p, training):
            return x if training else self.evaluate(x, p), keep_tensor(True, x.shape, x)
        shape = self.mask_shape(x.shape, noise_shape)
        keep = keep_tensor(self.keep(generator, shape, p), shape, x)
        return self.scale(x, keep, p), keep

    def dropout(self, x: Tensor, p: float, *, training: bool, seed: int) -> Tensor:
        return self.forward(self.generator(seed), x, p, training=training)[0]

    def dropout_with_mask(self, x: Tensor, p: float, *, seed: int) -> tuple[Tensor, Tensor]:
        return self.forward(self.generator(seed), x, p, training=True)

    def integer_dropout(self, values: list[int], p: float, *, training: bool, seed: int) -> list:
        """Integers are refused before anything reads them (DROPOUT-9)."""
        raise TypeError(f"{self.name}: x must be floating point, got integers")

    def dropout_vjp(self, x: Tensor, p: float, g: Tensor, *, training: bool, seed: int) -> tuple[Tensor, Tensor]:
        # for a fixed mask dropout is linear, so dL/dx is dropout of g with the same seed
        return self.dropout(x, p, training=training, seed=seed), self.dropout(g, p, training=training, seed=seed)

    def dropout_stream(self, seed: int) -> Callable[..., Tensor]:
        generator = self.generator(seed)
        return lambda x, p, *, training: self.forward(generator, x, p, training=training)[0]

    def dropout_noise_shape(self, x: Tensor, p: float, noise_shape: Sequence[int | None], *, training: bool,
                            seed: int) -> Tensor:
        return self.forward(self.generator(seed), x, p, training=training, noise_shape=noise_shape)[0]
