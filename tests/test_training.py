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
    RankSeedsWrapAtTwo,
    RecomputationHoldsTheStream,
    RestoreWithoutTheOffset,
    SnapshotAliasesTheState,
    TwoDevicesAlike,
    TwoDevicesApartInBulk,
)
from helpers import assert_fails, assert_outcome, assert_passes, distinct, exact, rates, seeds, statistical
from refdropout import autograd
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import CHECKS, Outcome
from refdropout.contract import Policies
from refdropout.functional import dropout
from refdropout.mutants.streams import (
    EveryRankSeededAlike,
    GraphedStepReusesOneMask,
    ReplayFromTheLiveGenerator,
    ReplicatedRegionSeededByRank,
    RestoreRestartsTheStream,
)
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
    ("TRAINING-3", RestoreRestartsTheStream, "call 1 after restore() on the saved stream"),
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


# --- TRAINING-5 and TRAINING-6: ranks of one seed -----------------------------------------------------


@pytest.mark.clause("TRAINING-5")
@pytest.mark.clause("TRAINING-6")
@exact(10)
@given(seed=seeds, rank=st.integers(0, 7))
def test_reference_rank_streams_fold_in_the_rank_or_share_the_seed(seed: int, rank: int) -> None:
    """Rank r of a region that is not replicated draws Generator(seed).fold_in(r)'s stream; every rank of a
    replicated region draws dropout_stream(seed)'s; a bad number of ranks is refused by name."""
    x, reference = distinct((64,)), ReferenceDropout()
    apart = reference.rank_streams(seed, 8, replicated=False)[rank]
    alike = reference.rank_streams(seed, 8, replicated=True)[rank]
    own, plain = Generator(seed).fold_in(rank), reference.dropout_stream(seed)
    for _ in range(2):
        assert apart(x, 0.3, training=True).data == dropout(x, 0.3, training=True, generator=own).data
        assert alike(x, 0.3, training=True).data == plain(x, 0.3, training=True).data
    for ranks, error in ((0, ValueError), (2**32 + 1, ValueError), (True, TypeError), (2.0, TypeError)):
        with pytest.raises(error, match="rank_streams: ranks must be"):
            reference.rank_streams(seed, ranks, replicated=False)


@pytest.mark.clause("TRAINING-6")
@exact(5)
@given(seed=seeds, scaling=scalings)
def test_replicated_check_passes_reference_and_rejects_a_region_seeded_by_rank(check_correct, check_broken, seed: int,
                                                                               scaling: str) -> None:
    assert_passes(check_correct, "TRAINING-6", ReferenceDropout(scaling=scaling), seed)
    verdict = assert_fails(check_broken, "TRAINING-6", ReplicatedRegionSeededByRank(), seed)
    assert verdict.detail.startswith("call 1 (1000 elements at p = 0.3) on rank 1: element"), verdict.detail


@pytest.mark.clause("TRAINING-5")
@statistical(2)
@given(seed=seeds, scaling=scalings)
def test_rank_check_passes_reference_and_rejects_ranks_seeded_alike_and_a_rank_index_that_wraps(
        check_correct, check_broken, seed: int, scaling: str) -> None:
    """The reference passes. Seeded alike, every rank draws one mask and passes the replicated region's
    clause; keyed by the rank mod 2, ranks 0 and 1 differ and only the rounds that pair 0 with 2 (and 1
    with 3) see it."""
    assert_passes(check_correct, "TRAINING-5", ReferenceDropout(scaling=scaling), seed)
    assert_passes(check_correct, "TRAINING-6", EveryRankSeededAlike(), seed)
    alike, wrapped = assert_fails(check_broken, "TRAINING-5", [EveryRankSeededAlike(), RankSeedsWrapAtTwo()], seed)
    assert "ranks 0 and 1, ranks 2 and 3, ranks 0 and 2" in alike.detail, alike.detail
    assert "ranks 0 and 2, ranks 1 and 3 drew the same mask" in wrapped.detail, wrapped.detail


def test_the_chapter_plans_two_decisions() -> None:
    """TRAINING-2 and TRAINING-5 take one decision each; the other clauses of the chapter are exact."""
    assert {c: e.decisions for c, e in CHECKS.items() if c.startswith("TRAINING-") and e.decisions} == {
        "TRAINING-2": 1, "TRAINING-5": 1}


# --- TRAINING-7 (and RANDOM-17): bits across declared devices ----------------------------------------


class _DeclaredOnTheCpuOnly(ReferenceDropout):
    name = "declared-on-the-cpu-only"

    def __init__(self) -> None:
        super().__init__()
        self.policies = Policies(reproducible_across="cpu+cuda")


@pytest.mark.clause("TRAINING-7")
@pytest.mark.clause("RANDOM-17")
@exact(3)
@given(seed=seeds)
def test_device_check_applies_only_to_a_declaration_with_two_devices_present(check_correct, seed: int) -> None:
    """Undeclared, only the distribution is promised across devices; declared, the check needs two of the
    declared devices present, which this CPU-only reference never has."""
    verdict = assert_outcome(check_correct, "TRAINING-7", ReferenceDropout(), seed, Outcome.NOT_APPLICABLE)
    assert verdict.detail == "declares no reproducible_across (policies)"
    verdict = assert_outcome(check_correct, "TRAINING-7", _DeclaredOnTheCpuOnly(), seed, Outcome.NOT_APPLICABLE)
    assert verdict.detail == ("declares reproducible_across = 'cpu+cuda', but of those only cpu is present here "
                              "(devices() = ('cpu',))")


@pytest.mark.clause("TRAINING-7")
@pytest.mark.clause("RANDOM-17")
@exact(3)
@given(seed=seeds)
def test_device_check_holds_a_declaration_to_the_bits(check_correct, check_broken, seed: int) -> None:
    assert_passes(check_correct, "TRAINING-7", TwoDevicesAlike(), seed)
    verdict = assert_fails(check_broken, "TRAINING-7", TwoDevicesApartInBulk(), seed)
    assert verdict.detail.startswith(f"65537 float64 elements at p = 0.1, seed {seed}: element "), verdict.detail
    assert " on cpu and " in verdict.detail and verdict.detail.endswith("on cuda; " + verdict.detail.split("; ")[-1])


@pytest.mark.clause("TRAINING-7")
def test_reproducible_across_names_two_or_more_devices_in_order() -> None:
    assert Policies(reproducible_across="cpu+cuda+tpu").reproducible_across == "cpu+cuda+tpu"
    for wrong in ("cuda+cpu", "cpu", "cpu+cpu", ("cpu", "cuda")):
        with pytest.raises(ValueError, match="reproducible_across must be one of"):
            Policies(reproducible_across=wrong)
