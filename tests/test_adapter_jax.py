"""The jax and flax targets: JAX's dropout idiom and Flax's Dropout layers clause by clause at the quick profile.

A representative subset of the checks runs against ``JaxDropout`` (the ``jax.random.bernoulli``
idiom) and ``FlaxDropout`` (``flax.linen.Dropout``, ``flax.nnx.Dropout``) on the CPU: the
applicable ones pass, those needing a capability JAX lacks are "not applicable", and the
deviations measured in JAX 0.10 / Flax 0.12 are reported as failures. Statistical checks are
charged to the suite's one budget (``check_correct``): 5 decisions per seed (2 jax, 3 flax), two seeds.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from refdropout.conformance import CHECKS, Outcome, Policies

jax = pytest.importorskip("jax", reason="the jax target needs JAX: pip install jax")

REPO = Path(__file__).resolve().parents[1]
SEEDS = st.integers(0, 2**64 - 1)
TARGETS = ("jax", "flax")

EXACT = {
    "jax": ["DROPOUT-5", "DROPOUT-7", "DROPOUT-10", "DROPOUT-11", "DROPOUT-12", "DROPOUT-15",
            "GRADIENTS-1", "GRADIENTS-2", "GRADIENTS-5", "ENSEMBLE-1"],
    "flax": ["DROPOUT-5", "DROPOUT-6", "DROPOUT-7", "DROPOUT-10", "DROPOUT-11", "DROPOUT-12",
             "DROPOUT-15", "GRADIENTS-1", "GRADIENTS-4", "MODES-4", "MODES-7", "MODES-9"],
}
STATISTICAL = {"jax": ["DROPOUT-14", "DROPOUT-20"], "flax": ["DROPOUT-13", "MODES-8"]}
NOT_APPLICABLE = {"jax": ["MODES-4", "VARIANTS-1", "VARIANTS-4", "RECURRENT-5"],
                  "flax": ["ENSEMBLE-8", "VARIANTS-1", "VARIANTS-7", "RECURRENT-5"]}
# float16 x / q: q becomes a float16 constant (weak typing) and XLA's CPU compiler multiplies by its
# float16 reciprocal instead, x * fl16(1 / fl16(q)): -0.0200653 / 0.7 gives -0.0286407, 1.6 ulps from x/q
FLOAT16_DIVISION = "float16: x / q is computed as x * fl16(1 / fl16(q)), more than one ulp from x/q"
# XLA's CPU arithmetic flushes subnormals to zero in every format: a kept 5e-324 becomes 0, not 5e-324 / q
KEPT_VALUE = f"{FLOAT16_DIVISION}; a kept subnormal x gives 0 (flushed to zero), in float64 too"
# measured in JAX 0.10.2 / Flax 0.12.8 on the CPU; each is the framework's behaviour, not the adapter's
DEVIATIONS = {
    "jax": {
        "DROPOUT-2": KEPT_VALUE,
        "DROPOUT-3": "nothing checks p: a rate outside [0, 1], NaN or a non-number is used as it is",
        "DROPOUT-8": FLOAT16_DIVISION,
        "DROPOUT-6": "at p = 1, the VJP of where(m, x / q, 0) is 0 / 0 = NaN, not 0 (Flax special-cases p = 1)",
        "GRADIENTS-4": "at p = 1, the VJP of where(m, x / q, 0) is 0 / 0 = NaN, not 0",
    },
    "flax": {
        "DROPOUT-2": KEPT_VALUE,
        "DROPOUT-3": "Dropout(rate) checks no rate: outside [0, 1] or NaN is used as it is",
        "DROPOUT-8": FLOAT16_DIVISION,
    },
}
CASES = [(t, c) for t in TARGETS for c in EXACT[t]]


@pytest.fixture(scope="module")
def targets():
    pytest.importorskip("flax", reason="the flax target needs Flax: pip install flax")
    from refdropout.adapters.jax import FlaxDropout, JaxDropout

    return {"jax": JaxDropout(), "flax": FlaxDropout()}


def test_subsets_name_registered_checks() -> None:
    for target in TARGETS:
        named = EXACT[target] + STATISTICAL[target] + NOT_APPLICABLE[target] + list(DEVIATIONS[target])
        assert len(set(named)) == len(named) and set(named) <= set(CHECKS)
        assert sum(CHECKS[c].decisions for c in EXACT[target]) == 0
    assert sum(CHECKS[c].decisions for t in TARGETS for c in STATISTICAL[t]) == 5


@pytest.mark.parametrize("target, clause", CASES)
@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(seed=SEEDS)
def test_exact_clauses_pass(targets, check_correct, target: str, clause: str, seed: int) -> None:
    verdict = check_correct(clause, targets[target], seed)
    assert verdict.outcome is Outcome.PASS, verdict.detail


@pytest.mark.parametrize("target, clause", [(t, c) for t in TARGETS for c in STATISTICAL[t]])
@settings(max_examples=2, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(seed=SEEDS)
def test_statistical_clauses_pass(targets, check_correct, target: str, clause: str, seed: int) -> None:
    verdict = check_correct(clause, targets[target], seed)
    assert verdict.outcome is Outcome.PASS, verdict.detail


@pytest.mark.parametrize("target, clause", [(t, c) for t in TARGETS for c in NOT_APPLICABLE[t]])
def test_missing_capabilities_are_not_applicable(targets, check_correct, target: str, clause: str) -> None:
    assert check_correct(clause, targets[target], 0).outcome is Outcome.NOT_APPLICABLE


@pytest.mark.parametrize("target, clause", [(t, c) for t in TARGETS for c in sorted(DEVIATIONS[t])])
def test_measured_deviations_fail(targets, check_broken, target: str, clause: str) -> None:
    verdict = check_broken(clause, targets[target], 0)
    assert verdict.outcome is Outcome.FAIL, f"{clause} no longer fails ({DEVIATIONS[target][clause]}): {verdict.detail}"


@pytest.mark.parametrize("target", TARGETS)
def test_declared_policies_are_the_measured_ones(targets, check_broken, target: str) -> None:
    """The declared 'select' passes DROPOUT-10 (test_exact_clauses_pass); declaring 'multiply' fails."""
    misdeclared = type("Misdeclared", (type(targets[target]),), {"policies": Policies(nonfinite="multiply")})()
    assert check_broken("DROPOUT-10", misdeclared, 0).outcome is Outcome.FAIL


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_jax_default_keys_keep_32_bits(seed: int) -> None:
    """Why the adapters seed under 64-bit types: by default jax.random.key(s) drops s's high word."""
    import numpy as np

    if jax.config.jax_enable_x64:
        pytest.skip("64-bit types are enabled globally")
    same = jax.random.key_data(jax.random.key(seed + 2**32)) == jax.random.key_data(jax.random.key(seed))
    assert bool(np.all(same))
    with jax.enable_x64(True):
        high = jax.random.key_data(jax.random.key(np.uint64(seed + 2**32)))
    assert high.tolist() == [1, seed]


def test_seed_outside_64_bits_is_refused(targets) -> None:
    from refdropout.tensor import Tensor

    with pytest.raises(ValueError, match=r"seed must be an integer in \[0, 2\^64\), got -1"):
        targets["jax"].dropout(Tensor._make([1.0], (1,)), 0.5, training=True, seed=-1)


def test_module_imports_without_jax() -> None:
    """Importing the adapters never needs jax; making one says how to install it."""
    program = (
        "import sys\n"
        "class NoJax:  # a finder that says jax is not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('jax', 'flax'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoJax())\n"
        "from refdropout.adapters.jax import FlaxDropout, JaxDropout\n"
        "for target in (JaxDropout, FlaxDropout):\n"
        "    try:\n        target()\n    except ModuleNotFoundError as e:\n        print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.splitlines() == [
        "the jax target needs jax, which is not installed: pip install jax",
        "the flax target needs jax, which is not installed: pip install flax",
    ]
