"""The equinox target: ``eqx.nn.Dropout`` clause by clause at the quick profile.

In the session's quick run of the target (tests/conftest.py's ``quick_run``, every clause against
``EquinoxDropout`` on the CPU) a representative subset of the clauses gives what is stated here: the
applicable ones pass, some only under the policies the adapter declares, those needing a capability
Equinox lacks are "not applicable", and the deviations measured in Equinox 0.13 / JAX 0.10
(``refdropout.adapters.equinox.KNOWN_DEVIATIONS``) are reported as failures.
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
    assert_quick_compiles_keep_the_bits,
    assert_quick_run_gives,
    described,
    misdeclaring,
    quick_run_cases,
)
from refdropout.adapters.equinox import KNOWN_DEVIATIONS as DEVIATIONS

pytest.importorskip("equinox", reason="the equinox target needs Equinox: pip install equinox")

# the quick run's verdicts, with the policies each pass relies on as the adapter declares them
QUICK = QuickRun(
    "equinox",
    passes=["DROPOUT-5", "DROPOUT-7", "DROPOUT-8", "DROPOUT-10", "DROPOUT-12", "EXACT-1",
            "EXACT-2", "GRADIENTS-2", "MODES-4", "MODES-7", "MODES-9", "TRAINING-1", "DROPOUT-14", "MODES-8"],
    not_applicable=["DROPOUT-11", "VARIANTS-1", "VARIANTS-7", "RECURRENT-5"],
    relied={"DROPOUT-8": {"scale_format"}, "DROPOUT-10": {"nonfinite"}},
    deviations=DEVIATIONS,
)
# (clause, policy): declaring the reference's value of the policy instead fails the clause
MISDECLARED = [("DROPOUT-2", "scale_format"), ("DROPOUT-2", "subnormals"), ("DROPOUT-8", "scale_format"),
               ("DROPOUT-10", "nonfinite")]


@pytest.fixture(scope="module")
def target():
    from refdropout.adapters.equinox import EquinoxDropout

    return EquinoxDropout()


@pytest.mark.parametrize("subset, clause", quick_run_cases(QUICK))
def test_the_quick_run_gives_the_stated_verdicts(quick_run, subset: QuickRun, clause: str) -> None:
    assert_quick_run_gives(quick_run(subset.target), subset, clause)


@pytest.mark.parametrize("clause, policy", MISDECLARED)
def test_declared_policies_are_the_measured_ones(target, check_broken, clause: str, policy: str) -> None:
    """Each declared policy passes its clauses (test_the_quick_run_gives_the_stated_verdicts); declaring the
    reference's value instead fails them at one seed of 0..7 at least."""
    misdeclared = misdeclaring(target, policy)
    assert any(check_broken(clause, misdeclared, seed).failed for seed in range(8)), (
        f"{clause}: expected FAIL at one seed of 0..7 for {described(misdeclared)}, got none")


def test_vjp_at_p_one_is_nan() -> None:
    """GRADIENTS-4's deviation, in Equinox's own terms: the forward pass at p = 1 is zeros, its gradient NaN."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp

    key, x = jax.random.key(0), jnp.arange(1.0, 5.0)
    assert jnp.all(eqx.nn.Dropout(1.0)(x, key=key) == 0)
    assert jnp.all(jnp.isnan(jax.grad(lambda a: eqx.nn.Dropout(1.0)(a, key=key).sum())(x)))


def test_seeds_use_all_64_bits(target) -> None:
    """The key of a seed is the jax target's: seeds differing only above bit 31 draw different masks."""
    import numpy as np

    x = np.ones(256)
    low, high = (target.dropout(x, 0.5, training=True, seed=s) for s in (7, 7 + 2**32))
    assert not np.array_equal(low, high)


def test_module_imports_without_equinox() -> None:
    """Importing the adapter never needs equinox; making one says how to install it."""
    program = (
        "import sys\n"
        "class NoEquinox:  # a finder that says equinox is not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'equinox':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoEquinox())\n"
        "from refdropout.adapters.equinox import EquinoxDropout\n"
        "try:\n    EquinoxDropout()\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.splitlines() == [
        "the equinox target needs equinox, which is not installed: pip install equinox"]


def test_numpy_arrays_are_answered_in_kind(target) -> None:
    assert_answers_in_kind(target)


def test_mask_bits_are_the_mask_of_dropout(target) -> None:
    assert_mask_bits_are_the_mask(target)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_quick_compiles_give_the_same_bits(target, monkeypatch, dtype: str) -> None:
    """Small calls are compiled with XLA's backend optimisations off (issue 15: compiling a bernoulli draw
    for each generated shape was most of equinox's time at EXACT-2); they give the bits of the default
    compilation."""
    assert_quick_compiles_keep_the_bits(target, monkeypatch, dtype)
