"""The tensorflow and keras targets checked clause by clause at the quick profile.

In the session's quick runs of the targets (tests/conftest.py's ``quick_run``, every clause against
``TensorflowDropout``, stateless dropout, and ``KerasDropout``, Keras 3's layers, on the CPU) a
representative subset of the clauses gives what is stated here: the applicable ones pass, those
needing a capability the target lacks are "not applicable", some pass only under the policies the
adapters declare, and the deviations measured in TensorFlow 2.21 and Keras 3.15
(``KNOWN_DEVIATIONS`` of ``refdropout.adapters.tensorflow`` and ``refdropout.adapters.keras``) are reported
as failures.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import (
    REPO,
    QuickRun,
    assert_answers_in_kind,
    assert_mask_bits_are_the_mask,
    assert_quick_run_gives,
    described,
    exact,
    misdeclaring,
    quick_run_cases,
    seeds,
)
from refdropout.adapters import keras, tensorflow
from refdropout.conformance import Outcome

TARGETS = ("tensorflow", "keras")
KNOWN_DEVIATIONS = {**tensorflow.KNOWN_DEVIATIONS, "keras": keras.KNOWN_DEVIATIONS["keras"]}
# (clause, policy): the clause passes under the declared policy and fails declaring the reference's
POLICIES = {
    "tensorflow": [("DROPOUT-2", "subnormals"), ("DROPOUT-5", "p_one"), ("DROPOUT-10", "nonfinite"),
                   ("DROPOUT-10", "p_one"), ("GRADIENTS-4", "p_one")],
    "keras": [("DROPOUT-3", "p_validation"), ("DROPOUT-10", "nonfinite")],
}
# the quick runs' verdicts, with the policies each pass relies on as the adapters declare them
QUICK = (
    QuickRun("tensorflow",
             passes=["DROPOUT-2", "DROPOUT-4", "DROPOUT-5", "DROPOUT-7", "DROPOUT-8", "DROPOUT-10", "DROPOUT-11",
                     "DROPOUT-12", "DROPOUT-15", "GRADIENTS-4", "GRADIENTS-5", "ENSEMBLE-1",
                     "DROPOUT-13", "DROPOUT-14", "EXACT-1", "EXACT-2"],
             not_applicable=["MODES-4", "VARIANTS-1", "VARIANTS-7"],  # no mode, no channel or Gaussian dropout
             relied={"DROPOUT-2": {"subnormals"}, "DROPOUT-5": {"p_one"}, "DROPOUT-7": {"p_one"},
                     "DROPOUT-10": {"nonfinite", "p_one"}, "GRADIENTS-4": {"p_one"}},
             deviations=KNOWN_DEVIATIONS["tensorflow"]),
    QuickRun("keras",
             passes=["DROPOUT-3", "DROPOUT-4", "DROPOUT-5", "DROPOUT-7", "DROPOUT-10", "DROPOUT-15",
                     "GRADIENTS-4", "MODES-7", "MODES-9", "VARIANTS-1", "VARIANTS-2",
                     "ENSEMBLE-8", "DROPOUT-14", "MODES-8", "VARIANTS-3", "VARIANTS-7", "EXACT-1", "EXACT-2"],
             # no DropConnect, DropBlock; LSTM not adapted
             not_applicable=["VARIANTS-9", "VARIANTS-13", "RECURRENT-5"],
             relied={"DROPOUT-3": {"p_validation"}, "DROPOUT-10": {"nonfinite"}},
             deviations=KNOWN_DEVIATIONS["keras"]),
)
# the deviations that are the framework raising, and what it raises
RAISES = {("keras", "VARIANTS-4"): ZeroDivisionError, ("keras", "DROPOUT-11"): ValueError}  # at noise_shape (0, 1)


def _adapter(target: str) -> object:
    pytest.importorskip("tensorflow", reason="the tensorflow and keras targets need: pip install tensorflow-cpu keras")
    pytest.importorskip("keras", reason="the keras target needs: pip install keras")
    from refdropout.adapters.keras import KerasDropout
    from refdropout.adapters.tensorflow import TensorflowDropout

    return {"tensorflow": TensorflowDropout, "keras": KerasDropout}[target]()


@pytest.fixture(scope="module")
def adapters() -> dict[str, object]:
    return {}


def _impl(adapters: dict[str, object], target: str) -> object:
    if target not in adapters:
        adapters[target] = _adapter(target)
    return adapters[target]


@pytest.mark.parametrize("subset, clause", quick_run_cases(*QUICK))
def test_the_quick_run_gives_the_stated_verdicts(quick_run, subset: QuickRun, clause: str) -> None:
    verdict = assert_quick_run_gives(quick_run(subset.target), subset, clause)
    if (subset.target, clause) in RAISES:  # a run reports a raising implementation as failing the clause
        assert f"raised {RAISES[subset.target, clause].__name__}" in verdict.detail, verdict.detail


@pytest.mark.parametrize("target, clause, policy", [(t, c, p) for t in TARGETS for c, p in POLICIES[t]])
def test_declared_policies_are_the_measured_ones(adapters, check_broken, target: str, clause: str, policy: str) -> None:
    """The clause passes relying on the declared policy (test_the_quick_run_gives_the_stated_verdicts);
    declaring the reference's value instead fails it (a refusal at p = 1 raises, which a run reports as FAIL)."""
    impl = _impl(adapters, target)
    misdeclared = misdeclaring(impl, policy)
    try:
        verdict = check_broken(clause, misdeclared, 0)
    except Exception:  # noqa: BLE001  (the framework's refusal of p = 1)
        assert policy == "p_one"
        return
    assert verdict.outcome is Outcome.FAIL, (f"{clause}: expected FAIL for {described(misdeclared)}, got "
                                             f"{verdict.outcome.value} ({policy} declared the reference's)")


@pytest.mark.parametrize("target", sorted(TARGETS))
@exact(2)
@given(seed=seeds)
def test_kept_subnormals_are_flushed_to_zero(adapters, target: str, seed: int) -> None:
    """The deviation behind DROPOUT-2's failure, whatever the mask: TensorFlow's CPU kernels flush
    denormals, so a kept float32 subnormal x gives 0, not x / q. (The DROPOUT-2 check sees it only
    where its one subnormal element happens to be kept.) 64 elements: none kept has odds 2^-64."""
    from refdropout.dtypes import float32
    from refdropout.tensor import Tensor

    x = Tensor([2.0**-149] * 64, dtype=float32)
    y, keep = _impl(adapters, target).dropout_with_mask(x, 0.5, seed=seed)
    kept = [v for v, k in zip(y.data, keep.data) if k]
    assert kept and all(v == 0.0 for v in kept)


@exact(2)
@given(seed=st.integers(0, 2**62))
def test_keras_seeds_alias_modulo_2_31_minus_2(adapters, seed: int) -> None:
    """A measured Keras deviation from DROPOUT-13 that its check does not probe: the TensorFlow
    backend reduces a seed modulo 2^31 - 2 (keras.src.backend.tensorflow.random._cast_seed), so
    seeds s and s + 2^31 - 2 give one mask."""
    from refdropout.tensor import Tensor

    keras_impl, x = _impl(adapters, "keras"), Tensor([1.0] * 256)
    y = keras_impl.dropout(x, 0.5, training=True, seed=seed)
    assert y.data == keras_impl.dropout(x, 0.5, training=True, seed=seed + 2**31 - 2).data
    assert y.data != keras_impl.dropout(x, 0.5, training=True, seed=seed + 1).data  # 2^-256 odds of one mask


@exact(2)
@given(seed=seeds)
def test_keras_layers_made_once_draw_what_fresh_layers_draw(adapters, seed: int) -> None:
    """The keras adapter makes one layer per (kind, p, format, options) and puts its SeedGenerator back to
    [seed, 0] before each call (issue 15: Keras keeps memory for every layer made): each call draws what a
    fresh layer of its seed draws, whatever calls came before, and many seeds make one layer."""
    import numpy as np

    impl = _impl(adapters, "keras")
    keras, tf, keras_seed = impl._keras, impl._backend.tf, impl._backend.seed
    x = np.linspace(0.5, 2.0, 240).reshape(4, 6, 10)
    calls = {"Dropout": lambda s: impl.dropout(x, 0.3, training=True, seed=s),
             "GaussianDropout": lambda s: impl.gaussian_dropout(x, 0.3, training=True, seed=s),
             "SpatialDropout1D": lambda s: impl.channel_dropout(x, 0.3, spatial_dims=1, data_format="channels_last",
                                                                training=True, seed=s)}
    for kind, call in calls.items():
        for s in (seed, seed ^ 1, seed):
            got = call(s)
            want = getattr(keras.layers, kind)(0.3, seed=keras_seed(s), dtype="float64")(tf.constant(x), training=True)
            assert np.array_equal(got, want.numpy()), (kind, s)
        made = [key for key in impl._layers if key[0] == kind and key[2] == 0.3]
        assert len(made) == 1, made


@given(seed=seeds)
def test_keras_seed_keeps_all_64_bits(seed: int) -> None:
    """The seed Keras gets is the int64 of the seed's 64 bits: in range and one-to-one."""
    keras_seed = keras._TensorflowBackend.seed
    assert -(2**63) <= keras_seed(seed) < 2**63
    assert keras_seed(seed) % 2**64 == seed


def test_module_imports_without_tensorflow() -> None:
    """Importing the adapter never needs TensorFlow; making one says how to install it."""
    program = (
        "import sys\n"
        "class NoTensorflow:  # a finder that says tensorflow and keras are not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('tensorflow', 'keras'):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTensorflow())\n"
        "from refdropout.adapters.keras import KerasDropout\n"
        "try:\n    KerasDropout()\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert "pip install tensorflow-cpu keras" in result.stdout


def test_keras_on_another_backend_is_refused_not_failed() -> None:
    """Keras's backend is fixed when it is imported (KERAS_BACKEND): on jax the keras target refuses to
    start, a setup error naming the backend, where its TensorFlow calls failed on jax arrays, reported
    as FAILs of the target (measured with Keras 3.15.1: "'ArrayImpl' object has no attribute 'numpy'")."""
    pytest.importorskip("jax", reason="needs jax: pip install jax")
    program = ("import sys\nfrom refdropout.adapters import TargetError, load_target\n"
               "try:\n    load_target('keras')\nexcept TargetError as error:\n    print(error)\n    sys.exit(3)\n")
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300, cwd=REPO,
                            env={**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(REPO)})
    assert result.returncode == 3, result.stderr[-2000:]
    assert "Keras was imported with the jax backend" in result.stdout


def test_tensors_come_from_the_allocator_that_gives_memory_back() -> None:
    """An adapter made before TensorFlow is imported turns oneDNN's options off, so that CPU tensors come
    from TensorFlow's plain allocator (which keeps no statistics and frees what is freed), not from oneDNN's
    BFC pool, which keeps every byte it has held (issue 15: keras at standard peaked at 2.2 GB)."""
    program = (
        "from refdropout.adapters.keras import KerasDropout\n"
        "import numpy as np\n"
        "impl = KerasDropout()\n"
        "impl.dropout(np.ones(2**20), 0.5, training=True, seed=0)\n"
        "try:\n    print(impl._backend.tf.config.experimental.get_memory_info('CPU:0'))\n"
        "except ValueError as e:\n    print('no pool:', e)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO,
                            env=env)
    assert result.stdout.startswith("no pool:"), result.stdout


@pytest.mark.parametrize("target", TARGETS)
def test_numpy_arrays_are_answered_in_kind(adapters, target: str) -> None:
    assert_answers_in_kind(_impl(adapters, target))


@pytest.mark.parametrize("target", TARGETS)
def test_mask_bits_are_the_mask_of_dropout(adapters, target: str) -> None:
    """On the CPU only: no GPU was available to test the device path."""
    assert_mask_bits_are_the_mask(_impl(adapters, target))
