"""The torch target: PyTorch's dropout checked clause by clause at the quick profile.

In the session's quick run of the target (tests/conftest.py's ``quick_run``, every clause against
``TorchDropout`` on the CPU) a representative subset of every chapter's clauses gives what is stated
here: the applicable ones pass, DROPOUT-3 and DROPOUT-13 under the policies measured in PyTorch 2.13
(True and False taken as rates, 32-bit seeds), those needing a capability PyTorch lacks are "not
applicable", and the deviations in ``refdropout.adapters.torch.KNOWN_DEVIATIONS`` (DROPOUT-2, GRADIENTS-1,
VARIANTS-4 and VARIANTS-6 in float16) are reported as failures.
"""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from helpers import (
    REPO,
    QuickRun,
    assert_answers_in_kind,
    assert_fails,
    assert_mask_bits_are_the_mask,
    assert_quick_run_gives,
    declaring,
    quick_run_cases,
)
from refdropout.adapters.torch import INSTALL
from refdropout.adapters.torch import KNOWN_DEVIATIONS as DEVIATIONS

# the quick run's verdicts, with the policies each pass relies on as the adapter declares them: DROPOUT-3 and
# DROPOUT-13 pass under the policies measured in PyTorch (True and False taken as rates, 32-bit seeds)
QUICK = QuickRun(
    "torch",
    passes=["DROPOUT-3", "DROPOUT-4", "DROPOUT-5", "DROPOUT-7", "DROPOUT-8", "DROPOUT-10", "DROPOUT-12",
            "DROPOUT-15", "GRADIENTS-2", "GRADIENTS-5", "GRADIENTS-6",
            "VARIANTS-1", "VARIANTS-2", "MODES-4", "MODES-7", "MODES-9",
            "RECURRENT-1", "RECURRENT-2", "RECURRENT-5", "RECURRENT-12", "RECURRENT-13",
            "ENSEMBLE-1", "ENSEMBLE-8", "ENSEMBLE-10", "TRAINING-1", "TRAINING-3", "TRAINING-4",
            "VARIANTS-21", "VARIANTS-22",
            # statistical: RECURRENT-9 has one semantics here, DROPOUT-13 two decisions under 32 seed bits,
            # VARIANTS-20 one kernel (MATH) on the CPU
            "DROPOUT-13", "DROPOUT-14", "DROPOUT-16", "DROPOUT-20", "VARIANTS-3", "VARIANTS-5", "VARIANTS-16",
            "VARIANTS-20", "MODES-8", "RECURRENT-8", "RECURRENT-9", "ENSEMBLE-3", "TRAINING-2"],
    # PyTorch has no noise_shape, Gaussian dropout, DropConnect, DropPath, DropBlock or variational LSTM,
    # no rank-aware stream that one process runs for several ranks; no reproducible_across declared (TRAINING-7)
    not_applicable=["DROPOUT-11", "VARIANTS-7", "VARIANTS-9", "VARIANTS-10", "VARIANTS-13", "RECURRENT-6",
                    "TRAINING-5", "TRAINING-6", "TRAINING-7"],
    relied={"DROPOUT-3": {"p_validation"}, "DROPOUT-13": {"seed_bits"}},
    deviations=DEVIATIONS,
)


@pytest.fixture(scope="module")
def torch_impl():
    pytest.importorskip("torch", reason=f"the torch target needs PyTorch: {INSTALL}")
    from refdropout.adapters.torch import TorchDropout

    return TorchDropout()


@pytest.mark.parametrize("subset, clause", quick_run_cases(QUICK))
def test_the_quick_run_gives_the_stated_verdicts(quick_run, subset: QuickRun, clause: str) -> None:
    assert_quick_run_gives(quick_run(subset.target), subset, clause)


@pytest.mark.parametrize("clause, other", [("DROPOUT-10", {"nonfinite": "select"}),
                                           ("DROPOUT-7", {"scaling": "classic"}),
                                           ("DROPOUT-3", {"seed_bits": 32}),
                                           ("DROPOUT-13", {"p_validation": "bool_as_number"})])
def test_declared_policies_are_the_measured_ones(torch_impl, check_broken, clause: str, other: dict) -> None:
    """The declared policies pass (test_the_quick_run_gives_the_stated_verdicts); declaring the other one fails."""
    assert_fails(check_broken, clause, declaring(torch_impl, **other), 0, because="not the policy measured in PyTorch")


def test_a_float16_scale_overflows_where_the_kept_value_does_not(torch_impl) -> None:
    """The deviation behind DROPOUT-2's failure, in PyTorch itself: at p = 1 - 2^-16 its float16 noise
    bernoulli(q) / q is inf, so a kept 2^-14 gives inf, not 2^-14 / 2^-16 = 4 (float32 gives 4)."""
    torch = pytest.importorskip("torch")
    p = 1 - 2**-16
    assert torch.ones(1, dtype=torch.float16).div_(1 - p).item() == math.inf
    for dtype, kept in ((torch.float16, math.inf), (torch.float32, 4.0)):
        torch.manual_seed(0)
        y = torch.nn.functional.dropout(torch.full((2**20,), 2.0**-14, dtype=dtype), p, training=True)
        assert set(y[y != 0].tolist()) == {kept}


def test_a_float16_gradient_overflows_where_g_over_q_does_not(torch_impl) -> None:
    """The deviation behind GRADIENTS-1's failure, in PyTorch itself: at p = 1 - 2^-16 the backward
    multiplies g by the same float16 noise, so a kept g = 2^-14 gives inf, not 4 (float32 gives 4), and
    a dropped one 0."""
    torch = pytest.importorskip("torch")
    p = 1 - 2**-16
    for dtype, kept in ((torch.float16, math.inf), (torch.float32, 4.0)):
        torch.manual_seed(0)
        x = torch.full((2**20,), 2.0**-14, dtype=dtype, requires_grad=True)
        y = torch.nn.functional.dropout(x, p, training=True)
        y.backward(torch.full_like(y, 2.0**-14))
        assert set(x.grad[y != 0].tolist()) == {kept} and set(x.grad[y == 0].tolist()) == {0.0}


def test_cuda_without_a_device_is_a_clear_error(torch_impl) -> None:
    import torch

    from refdropout.adapters.torch import TorchDropout

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(ValueError, match="'cuda'.*torch.cuda.is_available"):
        TorchDropout("cuda")
    with pytest.raises(ValueError, match="device must be"):
        TorchDropout("tpu")


def test_module_imports_without_torch() -> None:
    """Importing the adapter never needs torch; making one says how to install it."""
    program = (
        "import sys\n"
        "class NoTorch:  # a finder that says torch is not installed\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'torch':\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, NoTorch())\n"
        "from refdropout.adapters.torch import TorchDropout\n"
        "try:\n    TorchDropout()\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.splitlines() == [
        "the torch target needs torch, which is not installed: pip install torch==2.13.0 --index-url "
        "https://download.pytorch.org/whl/cpu"]


def test_numpy_arrays_are_answered_in_kind(torch_impl) -> None:
    assert_answers_in_kind(torch_impl)


def test_mask_bits_are_the_mask_of_dropout(torch_impl) -> None:
    """On the CPU only: no GPU was available to test the device path."""
    assert_mask_bits_are_the_mask(torch_impl)


def test_checkpoint_without_the_saved_rng_state_fails_the_replay_check(check_broken) -> None:
    """torch.utils.checkpoint(..., preserve_rng_state=False) replays dropout from the live generator:
    TRAINING-1 names the element whose replayed mask differs (what PyTorch's default prevents)."""
    pytest.importorskip("torch", reason=f"the torch target needs PyTorch: {INSTALL}")
    from refdropout.adapters.torch import TorchDropout

    live = TorchDropout()
    live.preserve_rng_state = False
    verdict = assert_fails(check_broken, "TRAINING-1", live, 0, because="the replay draws a fresh mask")
    assert "in the recomputation" in verdict.detail, verdict.detail


def test_the_twist_is_mt19937s_and_positions_count_words() -> None:
    """torch_mt19937.twist is the sequential MT19937 twist; words_drawn counts torch.randint's two words a value."""
    import numpy as np

    torch = pytest.importorskip("torch", reason=f"the torch target needs PyTorch: {INSTALL}")
    from refdropout.adapters.torch_mt19937 import twist, words_drawn

    state = np.random.default_rng(1).integers(0, 2**32, 624, dtype=np.uint64)
    sequential = state.copy()
    for i in range(624):
        y = (sequential[i] & 0x80000000) | (sequential[(i + 1) % 624] & 0x7FFFFFFF)
        sequential[i] = sequential[(i + 397) % 624] ^ (y >> 1) ^ (0x9908B0DF if y & 1 else 0)
    assert np.array_equal(twist(state.astype(np.uint32)), sequential.astype(np.uint32))
    generator = torch.Generator().manual_seed(9)
    seeded = generator.get_state().numpy().tobytes()
    for values in (0, 1, 311, 312, 313, 2000):
        generator.manual_seed(9)
        torch.randint(0, 2**31, (values,), generator=generator)
        assert words_drawn(seeded, generator.get_state().numpy().tobytes()) == 2 * values


@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 4099])
def test_packing_on_the_device_is_numpys_packbits(torch_impl, n: int) -> None:
    """The device path of dropout_mask_bits (the CPU one uses np.packbits), run here on a CPU tensor."""
    import numpy as np

    from refdropout.adapters.torch import packed_on_device

    torch = torch_impl._torch
    keep = torch.rand(n, generator=torch.Generator().manual_seed(n)) < 0.3
    assert np.array_equal(packed_on_device(torch, keep), np.packbits(keep.numpy(), bitorder="little"))


def test_reading_recurrent_masks_leaves_no_reference_cycles(torch_impl) -> None:
    """Each call's noise tensors are freed with its masks, not left to the cyclic collector (issue 15):
    a dispatch mode made per call, closing over its recorder, kept every call's noise in a cycle, and
    RECURRENT-9's 63 calls at deep grew the run to 4 GiB before a collection freed them."""
    import gc

    from refdropout.conformance.recurrent import network_weights

    net = torch_impl.recurrent_between_layers("lstm", network_weights("lstm", 1, 1, 4, 0), 0.5, seed=0)
    torch_impl.recurrent_mask_draws(net, (1, 64, 1), training=True)  # what the first call imports and caches
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            torch_impl.recurrent_mask_draws(net, (1, 64, 1), training=True)
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.clause("ENSEMBLE-10")
def test_torch_model_train_switches_batch_norm(check_broken) -> None:
    """``model.train()``, the usual PyTorch Monte Carlo recipe, runs nn.BatchNorm1d on each batch's moments and
    moves its running statistics: ENSEMBLE-10 rejects it (the target's idiom, eval() and then train() on the
    nn.Dropout modules, passes: test_the_quick_run_gives_the_stated_verdicts)."""
    pytest.importorskip("torch", reason=f"the torch target needs PyTorch: {INSTALL}")
    from refdropout.adapters.torch import TorchDropout

    every = TorchDropout()
    every.mc_switches = "every"
    verdict = assert_fails(check_broken, "ENSEMBLE-10", every, 0)
    assert "the normalisation ran in training mode" in verdict.detail
