"""The keras-jax and keras-torch targets: Keras 3's layers on its jax and torch backends, each run in a
child process of its own (refdropout.adapters.keras, refdropout.adapters.isolated).

In the session's quick runs of the targets (tests/conftest.py's ``quick_run``) a representative subset of
the clauses gives what is stated here: the applicable ones pass, some only under the policies the adapters
declare, and the deviations measured with keras 3.15.1 on JAX 0.10.2 and torch 2.13.0
(``refdropout.adapters.keras.KNOWN_DEVIATIONS``) are reported as failures. The child process is tested
on its own with tests/served.py's adapter: its output captured by the guard, its exceptions, a call past
its time limit and a child that dies. (The ``keras`` target, Keras on TensorFlow in the run's process,
is tests/test_adapter_tensorflow.py's.)
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import helpers
from helpers import REPO, QuickRun, assert_quick_run_gives, described, misdeclaring, quick_run_cases
from refdropout.adapters.keras import KNOWN_DEVIATIONS
from refdropout.conformance import Outcome
from refdropout.conformance.guard import CallTimedOut, Guard, Watch

TARGETS = ("keras-jax", "keras-torch")
FRAMEWORKS = {"keras-jax": "jax", "keras-torch": "torch"}
# (clause, policy): the clause passes under the declared policy and fails declaring the reference's
POLICIES = {
    "keras-jax": [("DROPOUT-2", "subnormals"), ("DROPOUT-3", "p_validation"), ("DROPOUT-8", "scale_format"),
                  ("DROPOUT-10", "nonfinite"), ("DROPOUT-13", "seed_bits")],
    "keras-torch": [("DROPOUT-3", "p_validation"), ("DROPOUT-10", "nonfinite"), ("DROPOUT-13", "seed_bits")],
}
# the quick runs' verdicts, with the policies each pass relies on as the adapters declare them
QUICK = (
    QuickRun("keras-jax",
             passes=["DROPOUT-3", "DROPOUT-4", "DROPOUT-5", "DROPOUT-7", "DROPOUT-8", "DROPOUT-9",
                     "DROPOUT-10", "DROPOUT-13", "DROPOUT-16", "GRADIENTS-4", "GRADIENTS-5", "MODES-7", "MODES-9",
                     "TRAINING-3", "VARIANTS-3", "ENSEMBLE-1", "ENSEMBLE-8"],
             not_applicable=["VARIANTS-9", "VARIANTS-13", "RECURRENT-5", "EXACT-1"],  # no DropBlock, LSTM, algorithm
             relied={"DROPOUT-3": {"p_validation", "scale_format"},
                     "DROPOUT-8": {"scale_format"}, "DROPOUT-10": {"nonfinite"}, "DROPOUT-13": {"seed_bits"},
                     "GRADIENTS-5": {"scale_format"}, "ENSEMBLE-1": {"scale_format"}},
             deviations=KNOWN_DEVIATIONS["keras-jax"]),
    QuickRun("keras-torch",
             passes=["DROPOUT-2", "DROPOUT-3", "DROPOUT-4", "DROPOUT-5", "DROPOUT-7", "DROPOUT-8", "DROPOUT-10",
                     "DROPOUT-13", "DROPOUT-16", "GRADIENTS-1", "GRADIENTS-4", "MODES-7", "MODES-9", "TRAINING-2",
                     "TRAINING-3", "VARIANTS-1", "VARIANTS-2", "VARIANTS-7", "ENSEMBLE-8"],
             not_applicable=["VARIANTS-9", "VARIANTS-13", "RECURRENT-5", "EXACT-1"],  # no DropBlock, LSTM, algorithm
             relied={"DROPOUT-3": {"p_validation"}, "DROPOUT-10": {"nonfinite"}, "DROPOUT-13": {"seed_bits"}},
             deviations=KNOWN_DEVIATIONS["keras-torch"]),
)


@pytest.fixture(scope="module")
def adapters() -> dict[str, object]:
    return {}


def _impl(adapters: dict[str, object], target: str) -> object:
    pytest.importorskip("keras", reason=f"the {target} target needs: pip install keras {FRAMEWORKS[target]}")
    pytest.importorskip(FRAMEWORKS[target], reason=f"the {target} target needs: pip install keras {FRAMEWORKS[target]}")
    if target not in adapters:
        from refdropout.adapters import load_target

        adapters[target] = load_target(target).impl
    return adapters[target]


@pytest.mark.parametrize("subset, clause", quick_run_cases(*QUICK))
def test_the_quick_run_gives_the_stated_verdicts(quick_run, subset: QuickRun, clause: str) -> None:
    assert_quick_run_gives(quick_run(subset.target), subset, clause)


@pytest.mark.parametrize("target, clause, policy", [(t, c, p) for t in TARGETS for c, p in POLICIES[t]])
def test_declared_policies_are_the_measured_ones(adapters, check_broken, target: str, clause: str, policy: str) -> None:
    """The clause passes relying on the declared policy (test_the_quick_run_gives_the_stated_verdicts);
    declaring the reference's value instead fails it."""
    misdeclared = misdeclaring(_impl(adapters, target), policy)
    verdict = check_broken(clause, misdeclared, 0)
    assert verdict.outcome is Outcome.FAIL, (f"{clause}: expected FAIL for {described(misdeclared)}, got "
                                             f"{verdict.outcome.value} ({policy} declared the reference's)")


@pytest.mark.parametrize("target", TARGETS)
def test_arrays_are_answered_in_kind_through_the_pipe_and_mask_bits_are_the_mask(adapters, target: str) -> None:
    impl = _impl(adapters, target)
    helpers.assert_answers_in_kind(impl)
    helpers.assert_mask_bits_are_the_mask(impl)


def test_seeds_keep_their_low_32_bits_in_the_backends_seed_format() -> None:
    """Keras's jax backend holds a seed as uint32 and its torch backend as int32 (and refuses one out of
    range): the 64-bit seed's low 32 bits, as the one and the other."""
    from refdropout.adapters.keras import _JaxBackend, _TorchBackend

    for seed in (0, 1, 2**31, 2**32 - 1, 2**32 + 5, 2**64 - 1):
        assert _JaxBackend.seed(seed) == seed % 2**32
        assert -(2**31) <= _TorchBackend.seed(seed) < 2**31 and _TorchBackend.seed(seed) % 2**32 == seed % 2**32


def test_torch_streams_of_neighbouring_seeds_overlap(adapters) -> None:
    """A measured Keras deviation no clause probes: on torch each call seeds a torch.Generator with
    (seed + counter) mod 2^32 (keras.src.backend.torch.random.torch_seed_generator), so the second call
    of a stream of seed s draws the mask of the first call of seed s + 1."""
    impl, x = _impl(adapters, "keras-torch"), np.ones(256)
    for seed in (0, 12345, 2**32 - 1):
        stream = impl.dropout_stream(seed)
        first, second = stream(x, 0.5, training=True), stream(x, 0.5, training=True)
        assert not np.array_equal(first, second)  # 2^-256 odds of one mask
        assert np.array_equal(second, impl.dropout(x, 0.5, training=True, seed=(seed + 1) % 2**64))


def test_a_backend_is_checked_whatever_backend_the_process_imported() -> None:
    """keras-jax runs Keras on jax in a child process even where the run's process imported Keras on torch
    (KERAS_BACKEND=torch), and answers as in a process of its own."""
    pytest.importorskip("jax", reason="needs jax: pip install jax")
    pytest.importorskip("torch", reason="needs torch: pip install torch")
    program = ("import keras, numpy as np\nfrom refdropout.adapters import load_target\n"
               "impl = load_target('keras-jax').impl\n"
               "y = impl.dropout(np.ones(64, np.float32), 0.5, training=True, seed=7)\n"
               "print(keras.backend.backend(), sorted(set(y.tolist())), y.dtype)\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=600, cwd=REPO,
                            env={**os.environ, "KERAS_BACKEND": "torch", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[0] == "torch [0.0, 2.0] float32", result.stdout


# ---- the child process, with tests/served.py's adapter ---------------------------------------------------


@pytest.fixture(scope="module")
def served() -> object:
    tests = os.path.dirname(__file__)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = tests  # where the child imports tests/served.py from
    try:
        from served import IsolatedServed

        return IsolatedServed()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved


def test_a_child_answers_with_arrays_and_keeps_its_objects(served) -> None:
    x = np.arange(6.0).reshape(2, 3)
    assert np.array_equal(served.dropout(x, 0.0, training=True, seed=0), x)
    stream = served.dropout_stream(0)
    assert np.array_equal(stream(x, 0.5, training=True), x) and np.array_equal(stream(x, 0.5, training=True), 2 * x)
    assert stream.itself() is stream  # one Remote per object of the child


def test_a_childs_output_is_captured_by_the_guard(served) -> None:
    with Guard(Watch(timeout=60, capture=True)) as guard, guard.clause():
        guard.view(served).dropout(np.zeros(2), 0.1, training=True, seed=0)
    assert "to stdout" in guard.output and "to fd 2" in guard.output


def test_a_childs_exception_is_raised_as_its_builtin_class_naming_its_type(served) -> None:
    with pytest.raises(ValueError, match=r"served\.FrameworkError: p=0.2 refused"):
        served.dropout(np.zeros(2), 0.2, training=True, seed=0)
    assert np.array_equal(served.dropout(np.ones(2), 0.0, training=True, seed=0), np.ones(2))  # the same child


def test_a_call_past_its_time_limit_fails_and_the_next_call_gets_a_fresh_child(served) -> None:
    stream = served.dropout_stream(0)
    with Guard(Watch(timeout=1)) as guard, pytest.raises(CallTimedOut):
        guard.view(served).dropout(np.zeros(2), 0.3, training=True, seed=0)
    assert np.array_equal(served.dropout(np.ones(2), 0.0, training=True, seed=0), np.ones(2))
    with pytest.raises(RuntimeError, match="was ended after a call that did not return"):
        stream(np.ones(2), 0.5, training=True)


def test_a_child_that_dies_is_an_error_of_the_call(served) -> None:
    with pytest.raises(RuntimeError, match=r"ended \(exit status 3\) without answering"):
        served.dropout(np.zeros(2), 0.4, training=True, seed=0)
    assert np.array_equal(served.dropout(np.ones(2), 0.0, training=True, seed=0), np.ones(2))
