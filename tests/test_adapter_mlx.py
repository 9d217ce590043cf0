"""The mlx target: ``mlx.nn.Dropout``, ``Dropout2d`` and ``Dropout3d`` on the CPU clause by clause at the quick profile.

In the session's quick run of the target (tests/conftest.py's ``quick_run``, every clause against
``MlxDropout``) a representative subset of the clauses gives what is stated here: the applicable ones
pass, some only under the policies the adapter declares, those needing a capability MLX lacks are "not
applicable", and the deviations measured in MLX 0.32 (``refdropout.adapters.mlx.KNOWN_DEVIATIONS``)
are reported as failures.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from helpers import (
    REPO,
    QuickRun,
    assert_answers_in_kind,
    assert_mask_bits_are_the_mask,
    assert_quick_run_gives,
    misdeclaring,
    quick_run_cases,
)
from refdropout.adapters.mlx import KNOWN_DEVIATIONS as DEVIATIONS

pytest.importorskip("mlx.core", reason="the mlx target needs MLX: pip install 'mlx[cpu]'")


P_ONE = ("DROPOUT-5", "DROPOUT-7", "DROPOUT-10", "GRADIENTS-2", "GRADIENTS-4", "MODES-7")  # pass under p_one "refused"
# the quick run's verdicts, with the policies each pass relies on as the adapter declares them
QUICK = QuickRun(
    "mlx",
    passes=["DROPOUT-5", "DROPOUT-7", "DROPOUT-10", "DROPOUT-12", "GRADIENTS-2", "GRADIENTS-4",
            "MODES-4", "MODES-7", "MODES-9", "DROPOUT-14", "MODES-8"],
    not_applicable=["DROPOUT-11", "EXACT-1", "TRAINING-1", "VARIANTS-4", "RECURRENT-5"],
    relied={clause: {"p_one"} for clause in P_ONE},
    deviations=DEVIATIONS,
)


@pytest.fixture(scope="module")
def target():
    from refdropout.adapters.mlx import MlxDropout

    return MlxDropout()


@pytest.mark.parametrize("subset, clause", quick_run_cases(QUICK))
def test_the_quick_run_gives_the_stated_verdicts(quick_run, subset: QuickRun, clause: str) -> None:
    assert_quick_run_gives(quick_run(subset.target), subset, clause)


def test_a_module_at_p_one_cannot_be_made(target, check_broken) -> None:
    """nn.Dropout(1.0) raises as it is made: MODES-7 allows it under the declared p_one = "refused",
    and declaring "zeros" instead lets the refusal escape (a run reports it as FAIL)."""
    with pytest.raises(ValueError, match=r"The dropout probability 1.0 is not in \[0, 1\)"):
        check_broken("MODES-7", misdeclaring(target, "p_one"), 0)


@pytest.mark.parametrize("clause", ["DROPOUT-5", "GRADIENTS-4"])
def test_p_one_is_refused(target, check_broken, clause: str) -> None:
    """Declaring the reference's p_one ("zeros") instead: the constructor's refusal at p = 1 raises."""
    with pytest.raises(ValueError, match=r"The dropout probability 1.0 is not in \[0, 1\)"):
        check_broken(clause, misdeclaring(target, "p_one"), 0)


def test_calls_leave_the_callers_key_alone(target) -> None:
    """A seeded call swaps MLX's global key for its own and puts the caller's back."""
    import mlx.core as mx
    import numpy as np

    mx.random.seed(12345)
    before = np.asarray(mx.random.state[0]).tolist()
    first = target.dropout(np.ones(64), 0.5, training=True, seed=2**40 + 3)
    assert np.asarray(mx.random.state[0]).tolist() == before
    assert np.array_equal(first, target.dropout(np.ones(64), 0.5, training=True, seed=2**40 + 3))


def test_float64_stays_float64(target) -> None:
    """mx.array of a float64 numpy array is float32 unless its format is named: the adapter names it."""
    import numpy as np

    x = np.array([1e-310, 1.0 + 2**-40])
    assert target.dropout(x, 0.5, training=False, seed=0).tobytes() == x.tobytes()


def test_module_imports_without_mlx() -> None:
    """Importing the adapter never needs mlx; making one says how to install it."""
    program = (
        "import sys\n"
        "class NoMlx:  # a finder that says mlx is not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'mlx':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoMlx())\n"
        "from refdropout.adapters.mlx import MlxDropout\n"
        "try:\n    MlxDropout()\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.splitlines() == [
        "the mlx target needs mlx.core, which is not installed: pip install 'mlx[cpu]'"]


def test_numpy_arrays_are_answered_in_kind(target) -> None:
    assert_answers_in_kind(target)


def test_mask_bits_are_the_mask_of_dropout(target) -> None:
    assert_mask_bits_are_the_mask(target)
