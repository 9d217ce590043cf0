"""Compare the engine's torch-cuda-philox masks with torch.nn.functional.dropout on a CUDA device.

spec/exact.md's "PyTorch's dropout on CUDA" was derived from PyTorch's and curand's sources without a
GPU; this script is its verification. On a machine with a CUDA build of torch, from the repository root:

    python tests/gpu/verify_torch_cuda_philox.py [--device cuda:0] [--large] [--check]

For every case (shapes that give each vector width 1, 2, 4 and 8 and several passes per thread; every
floating format; several p and seeds) it seeds the device's default generator (``torch.cuda.manual_seed``,
offset 0), draws ``F.dropout(ones, p, training=True)`` and compares its keep mask (y != 0) with
``refdropout.exact.torch_cuda.dropout_mask`` under the device's geometry, for both vector-width caps
(8: the kernels with 8-wide float16/bfloat16 vectors; 4: the kernels before them), and then a stream of
three calls on one generator, each at the offset ``stream_offsets`` predicts. It prints one line per
case (the first differing element where one differs) and a summary naming the cap that matched, and
exits 0 only if every case matched under one cap. ``--check`` then runs EXACT-1 and EXACT-2 themselves:
``refdropout check torch --device cuda --policy algorithm=torch-cuda-philox --policy
stream_keys=torch-cuda-offset --clause EXACT-1 --clause EXACT-2``.
``--large`` adds cases of 2^22 + 2 and 10^7 elements (minutes of pure Python each).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from refdropout.exact import torch_cuda  # noqa: E402  (the repository's engine, not an installed copy)

# shapes: n odd (width 1), n = 2 mod 4 (width 2; 4 for float64 only when even: 2), n = 4 mod 8 (width 4 for
# the 16-bit formats), n = 0 mod 8 (8); small ones (one pass) and ones of several passes per thread
SHAPES = [(7,), (30,), (4097,), (2, 3, 5), (3, 1, 4, 4), (12,), (1000, 1000), (2**20 + 2,), (2**20 + 4,),
          (3 * 2**20 + 1,), (64, 4099)]
LARGE = [(2**22 + 2,), (10**7,)]
DTYPES = ("float32", "float16", "bfloat16", "float64")
RATES = (0.1, 0.5, 0.9, 2**-24)
SEEDS = (0, 1, 2**32 + 7, 2**63 + 5, 2**64 - 1)
CAPS = (None, 4)  # max_vec: 16 / itemsize (8-wide 16-bit vectors), or 4 (older kernels)


def first_difference(got: list[bool], predicted: list[bool]) -> str:
    differing = [i for i, (a, b) in enumerate(zip(got, predicted)) if a != b]
    if not differing:
        return ""
    i = differing[0]
    return f"element {i}: device {'kept' if got[i] else 'dropped'}; {len(differing)} of {len(got)} differ"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--large", action="store_true", help="add cases of 2^22 + 2 and 10^7 elements")
    parser.add_argument("--check", action="store_true", help="then run EXACT-1 through refdropout check")
    args = parser.parse_args()

    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        print("no CUDA device: torch.cuda.is_available() is False", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    properties = torch.cuda.get_device_properties(device)
    geometry = (properties.multi_processor_count, properties.max_threads_per_multi_processor)
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {properties.name}: {geometry[0]} SMs of "
          f"{geometry[1]} threads")
    failures = {cap: 0 for cap in CAPS}
    cases = 0

    def masks(seed: int, shape: tuple[int, ...], dtype: str, p: float, calls: int) -> list[list[bool]]:
        torch.cuda.manual_seed(seed)  # the default generator of the current device: seed, offset 0
        x = torch.ones(shape, dtype=getattr(torch, dtype), device=device)
        return [(F.dropout(x, p, True) != 0).flatten().cpu().tolist() for _ in range(calls)]

    with torch.cuda.device(device):
        for index, shape in enumerate(SHAPES + (LARGE if args.large else [])):
            for dtype in DTYPES:
                p, seed = RATES[index % len(RATES)], SEEDS[index % len(SEEDS)]
                n = 1
                for size in shape:
                    n *= size
                offsets = torch_cuda.stream_offsets([n] * 3, multiprocessors=geometry[0],
                                                    threads_per_multiprocessor=geometry[1])
                drawn = masks(seed, shape, dtype, p, 3)
                cases += 1
                for cap in CAPS:
                    wrong = ""
                    for call, (got, offset) in enumerate(zip(drawn, offsets)):
                        predicted = [m == 1.0 for m in torch_cuda.dropout_mask(
                            seed, offset, p, shape, dtype, multiprocessors=geometry[0],
                            threads_per_multiprocessor=geometry[1], max_vec=cap).data]
                        wrong = first_difference(got, predicted)
                        if wrong:
                            wrong = f"call {call} (offset {offset}): {wrong}"
                            break
                    failures[cap] += bool(wrong)
                    width = torch_cuda.vector_width(n, getattr(torch, dtype).itemsize, cap)
                    print(f"{'DIFF' if wrong else 'same'}  cap {cap or 8}  {dtype:8s} {str(shape):14s} p={p:<10g} "
                          f"seed={seed} width {width}  {wrong}", flush=True)
    matched = [cap or 8 for cap in CAPS if failures[cap] == 0]
    print(f"{cases} cases; differing cases by vector cap: "
          f"{', '.join(f'{cap or 8}: {count}' for cap, count in failures.items())}; "
          f"matched: {matched or 'none'}")
    if args.check:
        command = [sys.executable, "-m", "refdropout", "check", "torch", "--device", "cuda", "--profile", "quick",
                   "--policy", "algorithm=torch-cuda-philox", "--policy", "stream_keys=torch-cuda-offset",
                   "--clause", "EXACT-1", "--clause", "EXACT-2"]
        print(" ".join(command[1:]), flush=True)
        subprocess.run(command, cwd=ROOT, check=False)
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
