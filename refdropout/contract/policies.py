"""Policies: what an implementation declares where the spec allows more than one behaviour.

:class:`Policies` holds one value per choice the spec leaves open, each defaulting to the
reference's; :data:`POLICY_VALUES` lists the values each may take; :func:`kept_value` is what a kept
element becomes under a set of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations

from ..dtypes import DType, float32

__all__ = ["DEVICES", "Policies", "POLICY_VALUES", "RELAXES", "declared_devices", "eval_value", "keep_factor",
           "kept_value"]

# the kinds of device an implementation may declare bit-level reproducibility across (reproducible_across)
DEVICES = ("cpu", "cuda", "rocm", "mps", "xpu", "tpu")


@dataclass(frozen=True)
class Policies:
    """The behaviours an implementation declares where the spec names more than one.

    Each default is the reference's behaviour; a check that accepts a behaviour only because the
    implementation declared another value records it (``Context.policy``), and a pass that relied
    on one is "differs by declared policy".

    ``scaling``: "inverted" (train x m / q, eval x) or "classic" (train x m, eval q x) (DROPOUT-2).
    ``nonfinite``: what a dropped NaN or inf becomes: "multiply" (IEEE 0 * NaN = NaN) or
    "select" (0) (DROPOUT-10; alpha and feature alpha dropout at p = 1, VARIANTS-4 and VARIANTS-6).
    ``gate_masks``: the masks of variational recurrent dropout: "shared" (one on x_t and one on
    h_(t-1) for every gate) or "per_gate" (one of each per gate) (RECURRENT-6).
    ``p_one``: "zeros" (training at p = 1 gives zeros and a zero gradient) or "refused" (a training
    call at p = 1 raises; an evaluation call at p = 1 may raise or be the identity) (DROPOUT-5, -7,
    -10, GRADIENTS-2, -4).
    ``p_validation``: which calls refuse a p outside [0, 1]: "strict" (every call, a bool too),
    "bool_as_number" (every call, but True and False may be taken as 1 and 0), "training_only"
    (training calls; evaluation never reads p) or both at once, "bool_as_number+training_only"
    (Chainer) (DROPOUT-3).
    ``seed_bits``: how many low bits of a seed the implementation uses, 64 or 32 (DROPOUT-13).
    ``subnormals``: "kept", or "flushed" (a subnormal input may be read as ±0 and a subnormal
    result written as ±0, as under FTZ/DAZ) (DROPOUT-2, and alpha dropout's values: VARIANTS-4, -6).
    ``scale_format``: how a kept value is computed: "exact" (within one ulp of fl(x / q)), "input"
    (q rounded to x's format first: within one ulp of fl(x / fl_T(q))) or "float32" (p read as a
    float32 and q computed in float32, q32 = fl32(1 - fl32(p)): within one ulp of fl(x / q32);
    DROPOUT-3 then judges p after rounding to float32) or "float32_reciprocal" (q32 so computed and
    its reciprocal taken in float32, then in x's format T: within one ulp of fl(x · fl_T(fl32(1 / q32))),
    MindSpore's CPU kernel; DROPOUT-3 as under "float32") (DROPOUT-2, -8, ENSEMBLE-1).
    ``algorithm``: the documented random stream the masks are drawn from, None (undeclared: only the
    statistical clauses judge the masks), "jax-threefry", "tf-stateless-philox" or "torch-cuda-philox"
    (PyTorch's fused CUDA kernel; its check needs a CUDA device and its prediction is unverified against
    hardware); the exact clause then compares every mask with the stream's prediction bit for bit
    (spec/exact.md, EXACT-1).
    ``stream_keys``: the keys a ``dropout_stream``'s successive drawing calls take, with the declared
    algorithm, from the seed's key: None (undeclared), "jax-split" (``key, sub = split(key)`` before
    each), "nnx-rngs" (``flax.nnx.Dropout``'s forked ``Rngs`` stream), both with "jax-threefry", or
    "tf-generator" (one ``tf.random.Generator.from_seed(seed)``, its Philox counter moving 256 per
    element drawn) or "keras-seed-generator" (a Keras layer's SeedGenerator: the seed pair [seed, c]
    of call c, each word modulo 2^31 - 2), with "tf-stateless-philox", or "torch-cuda-offset"
    (PyTorch's CUDA generator, its offset moved on per call by the launch's passes), with
    "torch-cuda-philox"; EXACT-2 then compares each call's mask with the prediction (spec/exact.md,
    "Streams").
    ``reproducible_across``: the devices whose masks of one (x, p, seed) are the same bits, None
    (undeclared: only the distribution is promised across devices, RANDOM-17) or two or more of
    DEVICES joined by "+" in DEVICES' order ("cpu+cuda"); TRAINING-7 then compares them bit for bit.
    """

    scaling: str = "inverted"
    nonfinite: str = "multiply"
    gate_masks: str = "shared"
    p_one: str = "zeros"
    p_validation: str = "strict"
    seed_bits: int = 64
    subnormals: str = "kept"
    scale_format: str = "exact"
    algorithm: str | None = None
    stream_keys: str | None = None
    reproducible_across: str | None = None

    def __post_init__(self) -> None:
        for name, allowed in POLICY_VALUES.items():
            value = getattr(self, name)
            if value not in allowed or isinstance(value, bool):
                raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")


# every policy's values, the reference's (the default) first
POLICY_VALUES: dict[str, tuple] = {
    "scaling": ("inverted", "classic"),
    "nonfinite": ("multiply", "select"),
    "gate_masks": ("shared", "per_gate"),
    "p_one": ("zeros", "refused"),
    "p_validation": ("strict", "bool_as_number", "training_only", "bool_as_number+training_only"),
    "seed_bits": (64, 32),
    "subnormals": ("kept", "flushed"),
    "scale_format": ("exact", "input", "float32", "float32_reciprocal"),
    "algorithm": (None, "jax-threefry", "tf-stateless-philox", "torch-cuda-philox"),
    "stream_keys": (None, "jax-split", "nnx-rngs", "tf-generator", "keras-seed-generator", "torch-cuda-offset"),
    "reproducible_across": (None, *("+".join(kinds) for n in range(2, len(DEVICES) + 1)
                                    for kinds in combinations(DEVICES, n))),
}

# the clauses each policy relaxes, as spec/dropout.md's table of policies lists them (a test keeps the two
# equal); algorithm relaxes none: it adds EXACT-1; stream_keys none: it adds EXACT-2; reproducible_across
# relaxes none: it adds TRAINING-7
RELAXES: dict[str, tuple[str, ...]] = {
    "scaling": ("DROPOUT-2",),
    "nonfinite": ("DROPOUT-10", "VARIANTS-4", "VARIANTS-6"),
    "gate_masks": ("RECURRENT-6",),
    "p_one": ("DROPOUT-5", "DROPOUT-7", "DROPOUT-10", "GRADIENTS-2", "GRADIENTS-4", "MODES-7"),
    "p_validation": ("DROPOUT-3",),
    "seed_bits": ("DROPOUT-13",),
    "subnormals": ("DROPOUT-2", "VARIANTS-4", "VARIANTS-6"),
    "scale_format": ("DROPOUT-2", "DROPOUT-3", "DROPOUT-7", "DROPOUT-8", "ENSEMBLE-1", "ENSEMBLE-3", "GRADIENTS-1",
                     "GRADIENTS-2", "GRADIENTS-5"),
    "algorithm": (),
    "stream_keys": (),
    "reproducible_across": (),
}


def declared_devices(policies: Policies) -> tuple[str, ...]:
    """The devices of the declared reproducible_across, in DEVICES' order; () when it is undeclared."""
    return tuple(policies.reproducible_across.split("+")) if policies.reproducible_across else ()


def reads_p_in_float32(policies: Policies) -> bool:
    """Whether the declared scale_format reads p as a float32 ("float32", "float32_reciprocal") (DROPOUT-3)."""
    return policies.scale_format.startswith("float32")


def keep_factor(policies: Policies, p: float, dtype: DType) -> float:
    """q as the declared scale_format computes it for an input of ``dtype``: 1 - p ("exact"),
    fl_T(1 - p) ("input") or fl32(1 - fl32(p)) ("float32", "float32_reciprocal") (DROPOUT-2)."""
    if reads_p_in_float32(policies):
        return float32.round(1.0 - float32.round(p))
    q = 1.0 - p
    return dtype.round(q) if policies.scale_format == "input" else q


def kept_value(policies: Policies, x: float, p: float, dtype: DType) -> float:
    """What a kept x becomes in training, before rounding to ``dtype``, under ``policies``: x
    (classic), x / q ("exact"), x / fl_T(q) ("input"), x / q32 with q32 = fl32(1 - fl32(p)) ("float32")
    or x · fl_T(fl32(1 / q32)) ("float32_reciprocal") (DROPOUT-2); the training VJP scales g alike
    (GRADIENTS-1, GRADIENTS-5)."""
    if policies.scaling == "classic":
        return x
    q = keep_factor(policies, p, dtype)
    if policies.scale_format == "float32_reciprocal":
        return x * (dtype.round(float32.round(1.0 / q)) if q else math.inf)  # 0 · inf = NaN, as IEEE 754 has it
    return _quotient(x, q)


def _quotient(x: float, q: float) -> float:
    """x / q as IEEE 754 divides: where q rounded to 0 (p near 1 in a narrow format), ±inf, or NaN for x = 0."""
    if q == 0.0 and isinstance(x, float):  # a numpy array divides as IEEE 754 does; a Python float raises
        return math.nan if x == 0.0 or x != x else math.copysign(math.inf, x)
    return x / q


def eval_value(policies: Policies, x: float, p: float, dtype: DType) -> float:
    """What evaluation makes of x, before rounding to ``dtype``: x (inverted) or q x with q as the
    declared scale_format computes it (classic) (DROPOUT-7); the evaluation VJP scales g alike
    (GRADIENTS-2)."""
    return x if policies.scaling == "inverted" else keep_factor(policies, p, dtype) * x
