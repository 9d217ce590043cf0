"""Tests of spec/training.md: recomputation, and saving, restoring and advancing a stream.

The reference passes every check of the chapter under both scaling policies, and each check rejects
the broken implementations of tests/broken/training.py that get its clause wrong. The engine's
``autograd.checkpoint`` is tested directly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broken.training import (
    AdvanceDeclaredPerElement,
    GraphedStepReusesOneMask,
    RecomputationHoldsTheStream,
    ReplayFromTheLiveGenerator,
    RestoreWithoutTheOffset,
    SnapshotAliasesTheState,
)
from helpers import assert_fails, assert_passes, distinct, exact, rates, seeds, statistical
from refdropout import autograd
from refdropout.adapters.reference import ReferenceDropout
from refdropout.functional import dropout
from refdropout.random import Generator
from refdropout.tensor import Tensor

scalings = st.sampled_from(("inverted", "classic"))


def _drop(p: float) -> Callable[[Generator, Tensor], Tensor]:
    return lambda generator, t: dropout(t, p, training=True, generator=generator)


# --- TRAINING-1: recomputation replays the forward mask -------------------------------------------


@pytest.mark.clause("TRAINING-1")
@pytest.mark.clause("TRAINING-3")
@pytest.mark.clause("TRAINING-4")
@pytest.mark.parametrize("clause", ["TRAINING-1", "TRAINING-3", "TRAINING-4"])
@exact(5)
@given(seed=seeds, scaling=scalings)
def test_exact_checks_pass_reference(check_correct, clause: str, seed: int, scaling: str) -> None:
    assert_passes(check_correct, clause, ReferenceDropout(scaling=scaling), seed)


@pytest.mark.clause("TRAINING-1")
@exact(20)
@given(seed=seeds, p=rates)
def test_engine_checkpoint_replays_the_mask_and_keeps_the_generator(seed: int, p: float) -> None:
    """The replay draws the forward mask (dL/dx nonzero exactly where y is), and the generator ends
    where a call without checkpointing leaves it: one draw index on."""
    generator = Generator(seed)
    x = distinct((64,))
    x.requires_grad = True
    y = autograd.checkpoint(_drop(p), x, generator=generator)
    y.sum().backward()
    assert [v != 0 for v in x.grad.data] == [v != 0 for v in y.data]
    assert generator.state.draws == 1


@pytest.mark.clause("TRAINING-1")
@exact(20)
@given(seed=seeds, p=rates)
def test_engine_checkpoint_is_one_node_with_the_plain_gradient(seed: int, p: float) -> None:
    """y and dL/dx under checkpoint are those without, bit for bit; the output is one node whose parent is
    x, not the graph of the ops inside fn; an identity (p = 0) leaves x itself out of the graph."""
    plain_x, x = distinct((32,)), distinct((32,))
    plain_x.requires_grad = x.requires_grad = True
    w = Tensor.from_flat([(i % 7) - 3.5 for i in range(32)], (32,))
    plain = _drop(p)(Generator(seed), plain_x)
    y = autograd.checkpoint(_drop(p), x, generator=Generator(seed))
    (w * plain).sum().backward()
    (w * y).sum().backward()
    assert y.data == plain.data and x.grad.data == plain_x.grad.data
    assert y._parents == (x,)
    same = autograd.checkpoint(lambda t: t, x)
    assert same is not x and x._parents == () and same._parents == (x,)


@pytest.mark.clause("TRAINING-1")
@exact(5)
@given(seed=seeds)
def test_replay_check_rejects_a_replay_without_the_saved_state(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "TRAINING-1", ReplayFromTheLiveGenerator(), seed)
    assert "in the recomputation" in verdict.detail, verdict.detail


@pytest.mark.clause("TRAINING-1")
@exact(5)
@given(seed=seeds)
def test_replay_check_rejects_a_recomputation_that_holds_the_stream(check_broken, seed: int) -> None:
    """The replay agrees with its forward pass; the second step is not the run's second step."""
    verdict = assert_fails(check_broken, "TRAINING-1", RecomputationHoldsTheStream(), seed)
    assert verdict.detail.startswith("step 2: y: element"), verdict.detail


# --- TRAINING-2: successive steps draw independent masks ------------------------------------------


@pytest.mark.clause("TRAINING-2")
@statistical(2)
@given(seed=seeds, scaling=scalings)
def test_fresh_step_check_passes_reference(check_correct, seed: int, scaling: str) -> None:
    assert_passes(check_correct, "TRAINING-2", ReferenceDropout(scaling=scaling), seed)


@pytest.mark.clause("TRAINING-2")
@statistical(2)
@given(seed=seeds)
def test_fresh_step_check_rejects_a_graphed_step_that_reuses_one_mask(check_correct, check_broken,
                                                                       seed: int) -> None:
    """A step that replays consistently passes TRAINING-1 whatever mask it draws; TRAINING-2 sees the reuse."""
    assert_passes(check_correct, "TRAINING-1", GraphedStepReusesOneMask(), seed)
    assert_fails(check_broken, "TRAINING-2", [GraphedStepReusesOneMask(), RecomputationHoldsTheStream()], seed)


# --- TRAINING-3 and TRAINING-4: saving, restoring and advancing a stream ---------------------------


# (the reference passes both in test_exact_checks_pass_reference)

BROKEN_STREAMS = [
    ("TRAINING-3", RestoreWithoutTheOffset, "call 1 after restore() on the saved stream"),
    ("TRAINING-3", SnapshotAliasesTheState, "call 1 after restore() on the saved stream"),
    ("TRAINING-4", AdvanceDeclaredPerElement, "the position moved by 1, the declared advance is 7"),
    ("TRAINING-4", RestoreWithoutTheOffset, "restore(): the position is"),
]


@pytest.mark.clause("TRAINING-3")
@pytest.mark.clause("TRAINING-4")
@pytest.mark.parametrize(("clause", "broken", "named"), BROKEN_STREAMS, ids=lambda v: getattr(v, "__name__", None))
@exact(5)
@given(seed=seeds)
def test_stream_checks_reject_a_lost_offset_an_aliased_snapshot_and_an_undeclared_advance(
        check_broken, clause: str, broken: type, named: str, seed: int) -> None:
    verdict = assert_fails(check_broken, clause, broken(), seed)
    assert named in verdict.detail, verdict.detail
