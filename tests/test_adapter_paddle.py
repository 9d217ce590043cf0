"""The paddle target: ``paddle.nn.functional.dropout`` (upscale_in_train) and its variants at the quick profile.

A representative subset of the checks runs against ``PaddleDropout`` on the CPU: the applicable
ones pass, some only under the policies the adapter declares, and the deviations measured in
PaddlePaddle 3.3 (``refdropout.adapters.paddle.KNOWN_DEVIATIONS``) are reported as failures.
Statistical checks are charged to the suite's one budget (``check_correct``): DROPOUT-13's 10 decisions, one seed.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest
from hypothesis import given

from helpers import NEVER_SHRUNK, REPO, assert_answers_in_kind, assert_fails, assert_passes, exact, seeds, statistical
from refdropout.adapters.paddle import KNOWN_DEVIATIONS
from refdropout.conformance import CHECKS

pytest.importorskip("paddle", reason="the paddle target needs PaddlePaddle: pip install paddlepaddle")

DEVIATIONS = KNOWN_DEVIATIONS["paddle"]
EXACT = ["DROPOUT-2", "DROPOUT-5", "DROPOUT-8", "DROPOUT-10", "DROPOUT-12", "GRADIENTS-1", "GRADIENTS-5", "MODES-4",
         "MODES-7"]
RELIED = {"DROPOUT-2": {"scale_format"}, "DROPOUT-8": {"scale_format"}, "DROPOUT-10": {"nonfinite"},
          "GRADIENTS-1": {"scale_format"}, "GRADIENTS-5": {"scale_format"}}


@pytest.fixture(scope="module")
def target():
    from refdropout.adapters.paddle import PaddleDropout

    return PaddleDropout()


def test_subsets_name_registered_checks() -> None:
    assert set(EXACT) | set(DEVIATIONS) <= set(CHECKS)
    assert sum(CHECKS[c].decisions for c in EXACT) == 0


@pytest.mark.parametrize("clause", EXACT)
@exact(2, phases=NEVER_SHRUNK)
@given(seed=seeds)
def test_exact_clauses_pass(target, check_correct, clause: str, seed: int) -> None:
    verdict = assert_passes(check_correct, clause, target, seed)
    assert {relied.split(" = ")[0] for relied in verdict.policies} == RELIED.get(clause, set())


@statistical(1, keep_database=True)
@given(seed=seeds)
def test_seeds_keep_32_bits(target, check_correct, seed: int) -> None:
    """DROPOUT-13 passes only under the declared seed_bits = 32."""
    assert "seed_bits" in {r.split(" = ")[0] for r in assert_passes(check_correct, "DROPOUT-13", target, seed).policies}


# the deviations that are Paddle raising (a run reports FAIL): no float16 CPU kernel under the variants
FLOAT16_KERNELS = {"VARIANTS-1": "multiply", "VARIANTS-2": "multiply",
                   "VARIANTS-4": "subtract", "VARIANTS-6": "subtract"}


@pytest.mark.parametrize("clause", sorted(set(DEVIATIONS) - {"DROPOUT-11"} - set(FLOAT16_KERNELS)))
def test_measured_deviations_fail(target, check_broken, clause: str) -> None:
    assert_fails(check_broken, clause, target, 0, because=f"known deviation: {DEVIATIONS[clause]}")


@pytest.mark.parametrize("clause", sorted(FLOAT16_KERNELS))
def test_variants_raise_in_float16(target, check_broken, clause: str) -> None:
    """The variants' deviations: a float16 call in training raises, Paddle having no float16 CPU kernel for an op
    it runs (found by the generated cases, which try every declared format first at p = 1 - 2^-25 or 1 - 2^-53)."""
    with pytest.raises(RuntimeError, match=f"kernel `{FLOAT16_KERNELS[clause]}` is not registered"):
        check_broken(clause, target, 0)


def test_axis_cannot_be_empty(target, check_broken) -> None:
    """DROPOUT-11's deviation: a noise shape of all ones is axis=[], which Paddle refuses (a run reports FAIL)."""
    with pytest.raises(ValueError, match="min\\(\\) arg is an empty sequence"):
        check_broken("DROPOUT-11", target, 0)


def test_numpy_arrays_are_answered_in_kind(target) -> None:
    assert_answers_in_kind(target)


def test_paddle_after_tensorflow_is_refused_not_a_crash() -> None:
    """Measured: `import tensorflow; import paddle` ends the process with SIGSEGV. The adapter refuses to
    start there, a setup error naming why; the other order works (this suite imports paddle first)."""
    if importlib.util.find_spec("tensorflow") is None:
        pytest.skip("needs tensorflow: pip install tensorflow-cpu")
    code = ("import sys, tensorflow\nfrom refdropout.adapters import TargetError, load_target\n"
            "try:\n    load_target('paddle')\nexcept TargetError as error:\n    print(error)\n    sys.exit(3)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 3, result.stderr[-2000:]
    assert "cannot be imported into a process that has imported tensorflow" in result.stdout
