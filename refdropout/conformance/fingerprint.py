"""Fingerprints: a short digest of the masks a target draws, so that CI sees when they change (RUNNER-15).

A statistical check says whether a target's masks are Bernoulli(q); it cannot say whether they are
the masks it drew yesterday. Frameworks promise the distribution across versions and devices, the
bits mostly not (spec/random.md), yet a user who replays a run, compares two machines or upgrades a
framework wants to know whether the bits moved. ``refdropout fingerprint TARGET`` draws, for a fixed
set of cases (:func:`cases`: shapes of 1 to 65,537 elements on 1 to 4 axes, p in {0.1, 0.5, 0.9},
four seeds derived from ``--seed``, every declared dtype), the keep mask of x = 1 in training, and
records per case the keep count and the first 16 hex digits of the SHA-256 of the packed mask
(bits in row-major order, 8 per byte, then the shape). A case whose call raises records the
exception's type instead. ``--compare FILE`` draws the file's cases again, with the file's seed,
and names each case whose digest differs, is missing, or is new.

A digest that differs is a fact, not a FAIL: no clause requires a target's masks to stay the same
across versions or devices. Where a target declares an algorithm (EXACT-1), the exact clause is
what holds its masks to a specification.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..contract import Implementation, dtypes_of
from ..dtypes import get_dtype
from .kit import keep_mask_array, ones_array

__all__ = ["FORMAT", "Case", "cases", "compare", "digest", "fingerprint", "read", "seeds_of"]

FORMAT = 1  # the version of a fingerprint file's layout, recorded in it
SHAPES = ((1,), (7,), (64,), (1000,), (3, 5, 7), (2, 3, 4, 5), (65537,))  # tiny, vector widths, many axes, bulk
RATES = (0.1, 0.5, 0.9)
DIGITS = 16  # hex digits of SHA-256 kept: 64 bits, so that two different masks collide with probability 2^-64


@dataclass(frozen=True)
class Case:
    """One call of a fingerprint: training dropout of x = 1 of ``shape`` in ``dtype`` at ``p`` with ``seed``."""

    dtype: str
    shape: tuple[int, ...]
    p: float
    seed: int

    def __str__(self) -> str:
        return f"{self.dtype} {self.shape} p={self.p} seed={self.seed}"


def seeds_of(seed: int) -> tuple[int, ...]:
    """The four seeds of a fingerprint: ``seed`` and three one bit apart from it (bit 0, 32 and 63)."""
    return (seed, seed ^ 1, seed ^ 2**32, seed ^ 2**63)


def cases(impl: Implementation, seed: int) -> list[Case]:
    """Every case of ``impl``'s fingerprint under ``seed``, in the order they are drawn."""
    return [Case(dtype.name, shape, p, s) for dtype in dtypes_of(impl) for shape in SHAPES for p in RATES
            for s in seeds_of(seed)]


def digest(mask: np.ndarray) -> str:
    """``kept/total:hex``: the keep count, the element count and the first DIGITS hex digits of the
    SHA-256 of the mask packed 8 bits per byte, row-major, followed by its shape."""
    packed = np.packbits(mask.reshape(-1)).tobytes() + repr(tuple(mask.shape)).encode()
    return f"{int(mask.sum())}/{mask.size}:{hashlib.sha256(packed).hexdigest()[:DIGITS]}"


def _drawn(impl: Implementation, case: Case) -> str:
    """The digest of ``case``'s mask, or ``raised TYPE`` where the call raised."""
    x = ones_array(case.shape, get_dtype(case.dtype))
    try:
        y = impl.dropout(x, case.p, training=True, seed=case.seed)
    except Exception as error:  # noqa: BLE001  (a foreign implementation's error type is its own)
        return f"raised {type(error).__name__}"
    return digest(keep_mask_array(y))


def fingerprint(impl: Implementation, seed: int, *, target: str, versions: dict[str, Any] | Callable[[], dict],
                device: str) -> dict:
    """The fingerprint of ``impl`` under ``seed``: what was fingerprinted (``versions`` as a callable is
    asked once the masks are drawn: a target's calls may import its framework), and each case's digest."""
    drawn = {str(case): _drawn(impl, case) for case in cases(impl, seed)}
    return {"fingerprint": FORMAT, "target": target, "seed": seed, "device": device,
            "versions": versions() if callable(versions) else versions, "cases": drawn}


def compare(before: dict, after: dict) -> list[str]:
    """A line per case whose digest differs between two fingerprints, or that only one of them has."""
    old, new = before["cases"], after["cases"]
    lines = [f"{case}: {old[case]} -> {new[case]}" for case in old if case in new and old[case] != new[case]]
    lines += [f"{case}: {old[case]} -> not drawn" for case in old if case not in new]
    lines += [f"{case}: not drawn -> {new[case]}" for case in new if case not in old]
    return lines


def read(text: str, source: str) -> dict:
    """A fingerprint file's content; ValueError naming ``source`` when it is not one."""
    try:
        content = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{source} is not a fingerprint file: {error}") from error
    seed = content.get("seed") if isinstance(content, dict) else None
    if not (isinstance(content, dict) and content.get("fingerprint") == FORMAT
            and isinstance(content.get("cases"), dict) and all(isinstance(v, str) for v in content["cases"].values())
            and isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**64):
        raise ValueError(f"{source} is not a fingerprint file of format {FORMAT} (refdropout fingerprint --out)")
    return content
