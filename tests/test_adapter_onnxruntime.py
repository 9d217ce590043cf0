"""The onnxruntime target: a one-node ONNX Dropout model checked clause by clause at the quick profile.

ONNX Runtime's CPU Dropout (measured with onnxruntime 1.32) passes the clauses below that it can
be checked on, two of its differences as declared policies and the third a deviation of its own,
not the adapter's:

* the ratio is read as a float32 and the kernel keeps x / fl32(1 - fl32(p)) (scale_format
  "float32": DROPOUT-2, DROPOUT-8, ENSEMBLE-1, and DROPOUT-3, where -5e-324 rounds to -0.0);
* p = 1 and every p outside [0, 1) raise, in evaluation too (p_one "refused": DROPOUT-5,
  DROPOUT-7, DROPOUT-10);
* a session's k-th run draws as a fresh one seeded s + k, the seed seeding libstdc++'s
  minstd_rand0 modulo 2^31 - 1: consecutive seeds and successive runs give correlated masks
  (KNOWN_DEVIATIONS: DROPOUT-14, DROPOUT-18, ENSEMBLE-6); seeds 0 and 1 coincide, and seeds a few
  times one another once reduced draw dependent masks (DROPOUT-13: seeds 0 and 2^32 are 1 and 2).

The session's quick run of the target (tests/conftest.py's ``quick_run``, every clause) gives what
QUICK states for a representative subset of the clauses. DROPOUT-13 fails at every seed, on the fixed
pairs (0, 2^32) and (2^32 - 1, 2^64 - 1).
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import (
    NEVER_SHRUNK,
    REPO,
    QuickRun,
    assert_answers_in_kind,
    assert_fails,
    assert_quick_run_gives,
    exact,
    misdeclaring,
    quick_run_cases,
    seeds,
)
from refdropout.adapters.onnxruntime import KNOWN_DEVIATIONS as DEVIATIONS
from refdropout.dtypes import get_dtype
from refdropout.tensor import Tensor

RATIO_REFUSED = r"ratio must be in the range \[0, 1\)"

# (clause, policy): the clause passes relying on the declared policy and fails declaring the reference's
POLICIES = [("DROPOUT-2", "scale_format"), ("DROPOUT-3", "scale_format"), ("DROPOUT-5", "p_one"),
            ("DROPOUT-7", "p_one"), ("DROPOUT-8", "scale_format"), ("DROPOUT-10", "p_one"),
            ("ENSEMBLE-1", "scale_format")]
# the quick run's verdicts, with the policies each pass relies on as the adapter declares them
QUICK = QuickRun(
    "onnxruntime",
    passes=["DROPOUT-2", "DROPOUT-3", "DROPOUT-4", "DROPOUT-5", "DROPOUT-7", "DROPOUT-8", "DROPOUT-10", "DROPOUT-12",
            "DROPOUT-15", "ENSEMBLE-1", "DROPOUT-16", "DROPOUT-17", "DROPOUT-20", "DROPOUT-21", "ENSEMBLE-3"],
    # ONNX Runtime (inference) has no gradient, noise_shape, variants, modules or recurrent layers
    not_applicable=["DROPOUT-11", "GRADIENTS-1", "GRADIENTS-4", "VARIANTS-1", "MODES-4", "RECURRENT-5", "ENSEMBLE-8"],
    relied={"DROPOUT-2": {"p_one", "scale_format"}, "DROPOUT-3": {"scale_format"}, "DROPOUT-5": {"p_one"},
            "DROPOUT-7": {"p_one"}, "DROPOUT-8": {"p_one", "scale_format"}, "DROPOUT-10": {"p_one"},
            "ENSEMBLE-1": {"scale_format"}},
    deviations=DEVIATIONS,
)


@pytest.fixture(scope="module")
def ort_impl():
    pytest.importorskip("onnxruntime", reason="the onnxruntime target needs pip install onnxruntime onnx")
    pytest.importorskip("onnx", reason="the onnxruntime target needs pip install onnxruntime onnx")
    from refdropout.adapters.onnxruntime import OnnxRuntimeDropout

    return OnnxRuntimeDropout()


def _tensor(values: list[float], dtype: str = "float64") -> Tensor:
    return Tensor.from_flat(values, (len(values),), get_dtype(dtype))


@pytest.mark.parametrize("subset, clause", quick_run_cases(QUICK))
def test_the_quick_run_gives_the_stated_verdicts(quick_run, subset: QuickRun, clause: str) -> None:
    assert_quick_run_gives(quick_run(subset.target), subset, clause)


def test_seed_zero_fails_dropout_13(ort_impl, check_broken) -> None:
    """Seeds 0 and 0 ^ 1 give one mask; 0 ^ 2^32 (2 modulo 2^31 - 1) one whose draws are 2 u mod 1."""
    verdict = assert_fails(check_broken, "DROPOUT-13", ort_impl, 0, because="seeds 0 and 1 give one mask")
    assert "s ^ 2^0" in verdict.detail and "s ^ 2^32" in verdict.detail, verdict.detail


@pytest.mark.parametrize("clause, policy", POLICIES)
def test_declared_policies_are_the_measured_ones(ort_impl, check_broken, clause: str, policy: str) -> None:
    """The clause passes relying on the declared policy (test_the_quick_run_gives_the_stated_verdicts);
    declaring the reference's value instead fails it: a refusal of p = 1 raises (which a run reports
    as FAIL), a float32 scale is more than one ulp from x / q in float64."""
    misdeclared = misdeclaring(ort_impl, policy)
    if policy == "p_one":
        with pytest.raises(Exception, match=RATIO_REFUSED):
            check_broken(clause, misdeclared, 0)
    else:
        assert_fails(check_broken, clause, misdeclared, 0, because=f"{policy} declared the reference's")


@pytest.mark.parametrize("p", [1.0, math.nan, -0.25, 1.5])
@pytest.mark.parametrize("training", [True, False])
def test_rates_outside_zero_one_raise_in_both_modes(ort_impl, p: float, training: bool) -> None:
    with pytest.raises(Exception, match=RATIO_REFUSED):
        ort_impl.dropout(_tensor([1.0, 2.0]), p, training=training, seed=0)


@exact(5)
@given(seed=seeds, p=st.floats(0.05, 0.95), dtype=st.sampled_from(["float64", "float32"]),
       x=st.lists(st.floats(-1e3, 1e3, width=32), min_size=1, max_size=64))
def test_kept_values_are_x_over_the_float32_keep_prob(ort_impl, seed: int, p: float, dtype: str,
                                                      x: list[float]) -> None:
    """Measured: y = x / fl32(1 - fl32(p)) where kept (rounded to x's format), 0 of x's sign where dropped."""
    import numpy as np

    from refdropout.contract.arrays import NUMPY_FORMATS

    y, mask = ort_impl.dropout_with_mask(_tensor(x, dtype), p, seed=seed)
    q32 = np.float32(1.0) - np.float32(p)
    fmt = NUMPY_FORMATS[dtype]
    expected = [float(fmt.type(v) / fmt.type(q32)) if kept else v * 0.0 for v, kept in zip(x, mask.data)]
    assert [math.copysign(1.0, v) for v in y.data] == [math.copysign(1.0, v) for v in expected]
    assert y.data == expected


@exact(2, phases=NEVER_SHRUNK)
@given(seed=seeds)
def test_dropped_nonfinite_values_become_nan(ort_impl, seed: int) -> None:
    """The declared policy nonfinite = "multiply", measured at p = 0.5 (p = 1 is refused)."""
    assert ort_impl.policies.nonfinite == "multiply"
    x = _tensor([math.nan, math.inf, -math.inf] * 32)
    y, mask = ort_impl.dropout_with_mask(x, 0.5, seed=seed)
    assert 0 < sum(mask.data) < len(x.data)
    for v, out, kept in zip(x.data, y.data, mask.data):
        assert (math.isnan(out) and math.isnan(v)) or out == v if kept else math.isnan(out)


@exact(3, phases=NEVER_SHRUNK)
@given(seed=st.integers(0, 2**64 - 5), shapes=st.lists(st.integers(1, 40), min_size=2, max_size=4))
def test_a_session_s_kth_run_draws_as_seed_plus_k(ort_impl, seed: int, shapes: list[int]) -> None:
    """The counter the adapter relies on: a stream's k-th call, and a call with seed s + k made right
    after one with s + k - 1 (which reuses the session), both equal a fresh adapter's call with s + k."""
    from refdropout.adapters.onnxruntime import OnnxRuntimeDropout

    stream = ort_impl.dropout_stream(seed)
    for k, n in enumerate(shapes):
        x = _tensor([1.0] * n)
        fresh = OnnxRuntimeDropout().dropout(x, 0.5, training=True, seed=seed + k)
        assert stream(x, 0.5, training=True).data == fresh.data
        assert ort_impl.dropout(x, 0.5, training=True, seed=seed + k).data == fresh.data


@exact(3, phases=NEVER_SHRUNK)
@given(seed=st.integers(0, 2**63))
def test_seeds_are_kept_modulo_two_to_the_31_minus_1(ort_impl, seed: int) -> None:
    """Measured: s and s + 2^31 - 1 give one mask (minstd_rand0's modulus); 0 and 1 coincide."""
    x = _tensor([1.0] * 64)
    for a, b in ((seed, seed + 2**31 - 1), (0, 1)):
        assert ort_impl.dropout_with_mask(x, 0.5, seed=a)[1].data == ort_impl.dropout_with_mask(x, 0.5, seed=b)[1].data


def test_bools_and_strings_are_refused_as_mistyped_ratios(ort_impl) -> None:
    for p in (False, "0.5"):
        with pytest.raises(Exception, match="data type"):
            ort_impl.dropout(_tensor([1.0]), p, training=True, seed=0)


def test_the_target_is_registered(ort_impl) -> None:
    from refdropout.adapters import load_target

    loaded = load_target("onnxruntime")
    assert loaded.impl.name == "onnxruntime" and loaded.versions()["framework"] == "onnxruntime"


def test_module_imports_without_onnxruntime() -> None:
    """Importing the adapter never needs onnxruntime; making one says how to install it."""
    program = (
        "import sys\n"
        "class NoOrt:  # a finder that says onnxruntime and onnx are not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('onnxruntime', 'onnx'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoOrt())\n"
        "from refdropout.adapters.onnxruntime import OnnxRuntimeDropout\n"
        "try:\n    OnnxRuntimeDropout()\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert "pip install onnxruntime onnx" in result.stdout


def test_numpy_arrays_are_answered_in_kind(ort_impl) -> None:
    assert_answers_in_kind(ort_impl)
