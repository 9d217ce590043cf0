"""The paddle targets: ``paddle.nn.functional.dropout`` (upscale_in_train; downscale_in_infer as
``paddle-classic``) and its variants at the quick profile.

A representative subset of the checks runs against ``PaddleDropout`` and ``PaddleClassicDropout`` on
the CPU: the applicable ones pass, some only under the policies the adapter declares, and the
deviations measured in PaddlePaddle 3.3 (``refdropout.adapters.paddle.KNOWN_DEVIATIONS``) are
reported as failures.
Statistical checks are charged to the suite's one budget (``check_correct``): DROPOUT-13's 10 decisions and
VARIANTS-20's 3, one seed each.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys

import pytest
from hypothesis import given

from helpers import (
    NEVER_SHRUNK,
    REPO,
    assert_answers_in_kind,
    assert_fails,
    assert_passes,
    exact,
    misdeclaring,
    seeds,
    statistical,
)
from refdropout.adapters.paddle import KNOWN_DEVIATIONS
from refdropout.conformance import CHECKS

pytest.importorskip("paddle", reason="the paddle target needs PaddlePaddle: pip install paddlepaddle")

EXACT = {
    "paddle": ["DROPOUT-2", "DROPOUT-5", "DROPOUT-8", "DROPOUT-10", "DROPOUT-12", "GRADIENTS-1", "GRADIENTS-5",
               "MODES-4", "MODES-7", "VARIANTS-21", "VARIANTS-22", "ENSEMBLE-8", "ENSEMBLE-10"],
    "paddle-classic": ["DROPOUT-2", "DROPOUT-5", "DROPOUT-8", "DROPOUT-10", "DROPOUT-12", "ENSEMBLE-1", "GRADIENTS-1",
                       "GRADIENTS-5", "ENSEMBLE-8", "ENSEMBLE-10"],
}
RELIED = {
    "paddle": {"DROPOUT-2": {"scale_format"}, "DROPOUT-8": {"scale_format"}, "DROPOUT-10": {"nonfinite"},
               "GRADIENTS-1": {"scale_format"}, "GRADIENTS-5": {"scale_format"}, "VARIANTS-21": {"scale_format"}},
    # classic scaling keeps x in training: GRADIENTS-1/5 scale g by 1, whatever the format of q
    "paddle-classic": {"DROPOUT-2": {"scaling", "scale_format"}, "DROPOUT-8": {"scale_format"},
                       "DROPOUT-10": {"nonfinite"}, "ENSEMBLE-1": {"scale_format"}},
}
# the clauses whose deviation is a refusal of rank 0 or 1 in evaluation: the exception escapes a bare check
REFUSED_RANKS = sorted(c for c, why in KNOWN_DEVIATIONS["paddle-classic"].items() if "rank 0 or 1" in why)
# the deviations that are Paddle raising (a run reports FAIL): no float16 CPU kernel under the variants
FLOAT16_KERNELS = {"VARIANTS-1": "multiply", "VARIANTS-2": "multiply",
                   "VARIANTS-4": "subtract", "VARIANTS-6": "subtract"}
# VARIANTS-4 and VARIANTS-6 fail before their float16 case: at p = 1 alpha_dropout and feature_alpha_dropout give
# NaN for NaN and ±inf against the declared nonfinite = "select"; declaring "multiply", which they follow there,
# lets the check reach the float16 raise
FAILS_FIRST = {"VARIANTS-4", "VARIANTS-6"}


@functools.cache
def adapter(name: str):
    from refdropout.adapters import TARGETS, load_target

    assert TARGETS[name].framework == "paddle"
    return load_target(name).impl


@pytest.fixture(scope="module", params=sorted(EXACT))
def target(request: pytest.FixtureRequest):
    return adapter(request.param)


def pairs(clauses: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(name, clause) for name in sorted(clauses) for clause in clauses[name]]


def test_subsets_name_registered_checks() -> None:
    for name, clauses in EXACT.items():
        assert set(clauses) | set(KNOWN_DEVIATIONS[name]) <= set(CHECKS)
        assert sum(CHECKS[c].decisions for c in clauses) == 0


@pytest.mark.parametrize("name, clause", pairs(EXACT))
@exact(2, phases=NEVER_SHRUNK)
@given(seed=seeds)
def test_exact_clauses_pass(check_correct, name: str, clause: str, seed: int) -> None:
    verdict = assert_passes(check_correct, clause, adapter(name), seed)
    assert {relied.split(" = ")[0] for relied in verdict.policies} == RELIED[name].get(clause, set())


@statistical(1, keep_database=True)
@given(seed=seeds)
def test_seeds_keep_32_bits(target, check_correct, seed: int) -> None:
    """DROPOUT-13 passes only under the declared seed_bits = 32."""
    assert "seed_bits" in {r.split(" = ")[0] for r in assert_passes(check_correct, "DROPOUT-13", target, seed).policies}


@statistical(1)
@given(seed=seeds)
def test_fused_attention_keeps_the_weights_at_rate_q(check_correct, seed: int) -> None:
    """scaled_dot_product_attention's kernel on the CPU ("math") drops its softmax weights with F.dropout:
    VARIANTS-20's keep rate holds. paddle-classic has no fused attention: that kernel has no mode."""
    assert_passes(check_correct, "VARIANTS-20", adapter("paddle"), seed)
    assert adapter("paddle-classic").attention_backends is None


@pytest.mark.clause("ENSEMBLE-10")
def test_model_train_switches_batch_norm(check_broken) -> None:
    """Monte Carlo dropout as model.train() (keras-team/keras#9412's recipe) runs BatchNorm1D on each batch's
    moments and moves its running statistics: ENSEMBLE-10 rejects it, where the adapter's eval() followed by
    train() on the nn.Dropout layers (lightning-uq-box's fix) passes (test_exact_clauses_pass)."""
    from refdropout.adapters.paddle import PaddleDropout

    every = PaddleDropout()
    every.mc_switches = "every"
    assert "the running mean became" in assert_fails(check_broken, "ENSEMBLE-10", every, 0).detail


FAILING = {name: sorted(set(KNOWN_DEVIATIONS[name]) - {"DROPOUT-11", *REFUSED_RANKS, *FLOAT16_KERNELS} | (
    FAILS_FIRST & set(KNOWN_DEVIATIONS[name]))) for name in EXACT}


@pytest.mark.parametrize("name, clause", pairs(FAILING))
def test_measured_deviations_fail(check_broken, name: str, clause: str) -> None:
    assert_fails(check_broken, clause, adapter(name), 0, because=f"known deviation: {KNOWN_DEVIATIONS[name][clause]}")


@pytest.mark.parametrize("clause", REFUSED_RANKS)
def test_classic_evaluation_refuses_rank_below_2(check_broken, clause: str) -> None:
    """paddle-classic's deviations of evaluation: Paddle's downscale_in_infer kernel raises on a vector
    (a run reports it as the clause's FAIL, naming the call); the adapter hands it the array as it is."""
    with pytest.raises(ValueError, match="num_col_dims"):
        check_broken(clause, adapter("paddle-classic"), 0)


def test_the_refusal_is_paddles_kernel_not_the_adapters() -> None:
    """The measurement behind EVAL_RANK, without the adapter: rank 1 refused, rank 2 scaled by fl32(q),
    and rank 1 through the Python path that ``axis`` takes scaled too."""
    import numpy as np
    import paddle

    F = paddle.nn.functional
    with pytest.raises(ValueError, match="num_col_dims"):
        F.dropout(paddle.ones([4], dtype="float64"), 0.3, training=False, mode="downscale_in_infer")
    matrix = F.dropout(paddle.ones([2, 3], dtype="float64"), 0.3, training=False, mode="downscale_in_infer")
    assert np.all(matrix.numpy() == np.float64(np.float32(0.7)))
    vector = F.dropout(paddle.ones([4], dtype="float64"), 0.3, axis=0, training=False, mode="downscale_in_infer")
    assert np.allclose(vector.numpy(), 0.7)


@pytest.mark.parametrize("clause", sorted(FLOAT16_KERNELS))
def test_variants_raise_in_float16(check_broken, clause: str) -> None:
    """The variants' deviations: a float16 call in training raises, Paddle having no float16 CPU kernel for an op
    it runs (found by the generated cases, which try every declared format first at p = 1 - 2^-25 or 1 - 2^-53).
    VARIANTS-4's and VARIANTS-6's show under nonfinite = "multiply" (FAILS_FIRST)."""
    impl = misdeclaring(adapter("paddle"), "nonfinite") if clause in FAILS_FIRST else adapter("paddle")
    with pytest.raises(RuntimeError, match=f"kernel `{FLOAT16_KERNELS[clause]}` is not registered"):
        check_broken(clause, impl, 0)


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
