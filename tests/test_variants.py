"""Tests of spec/variants.md: the variants of dropout, as reference ops and as conformance checks.

Every check of refdropout.conformance.variants passes on the reference and fails on at least one
broken implementation of tests/broken/variants.py. The statistical checks are run for three
Hypothesis-drawn seeds against the reference, charging 13 decisions each to the suite's quick
budget, VARIANTS-20 (fused attention) for one seed, charging 3 (42 in all), and once against each
broken implementation, with a fresh budget.
"""

from __future__ import annotations

import functools
import math
import re
import string
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from itertools import product

import numpy as np
import pytest
from hypothesis import assume, given, note
from hypothesis import strategies as st

import refdropout.conformance.attention as attention_checks
import refdropout.conformance.variants as checks
from broken.variants import (
    AlphaIdentityAtPOne,
    AlphaMultipliesUnderSelect,
    AlphaNeverDrops,
    AlphaPrimeSignFlipped,
    AlphaStandardScale,
    AlphaTailStandardScale,
    AlphaUnderFlushToZero,
    AlphaZerosBatchesAtPOne,
    AttentionNoRescale,
    AttentionRenormalisedRows,
    ChannelAxisWrong,
    ChannelMaskPerElementInHalfPrecision,
    ChannelMaskSharedAcrossBatch,
    ChannelRatesSwapped,
    ChannelsShareOneMask,
    DropBlockBorderForBlockSize2,
    DropBlockClippedBlocks,
    DropBlockClippedForLargeBlocks,
    DropBlockFlushesSubnormals,
    DropBlockNoBorderCorrection,
    DropBlockNoNormalisation,
    DropBlockPerSampleNormalisation,
    DropBlockSeedRateP,
    DropConnectNoRescale,
    DropConnectPerOutputUnit,
    DropConnectRatesSwapped,
    DropConnectTailColumnsUnscaled,
    DropPathBatchModePerSample,
    DropPathPerElement,
    DropPathRowModePerChannelOnManyAxes,
    DropPathRowPairsShareMasks,
    DropPathSharedAcrossBatch,
    DropPathUnscaledEval,
    FeatureAlphaElementwise,
    FeatureAlphaElementwiseUnbatchedChannelsLast,
    FusedBackwardRedrawsForManyHeads,
    FusedBackwardRedrawsTheMask,
    FusedBroadcastMask,
    FusedShortRowsUnscaled,
    GaussianActiveInEvalAtSeedZero,
    UnbatchedReadAsBatchedInFloat32,
)
from helpers import (
    SPEC_DIR,
    assert_fails,
    assert_generated_cases_catch,
    assert_passes,
    assert_same_bits,
    distinct,
    dtype_names,
    exact,
    filled,
    seeds,
    statistical,
)
from refdropout import conformance, gradcheck
from refdropout.adapters.reference import ReferenceDropout
from refdropout.conformance import CHECKS, cases, sampling
from refdropout.contract.arrays import from_numpy, to_numpy
from refdropout.dtypes import DType, get_dtype
from refdropout.functional import (
    ALPHA_PRIME,
    alpha_constants,
    alpha_dropout,
    attention_dropout,
    channel_dropout,
    drop_path,
    dropblock2d,
    dropconnect,
    feature_alpha_dropout,
    gaussian_dropout,
    scaled_dot_product_attention,
)
from refdropout.functional.dropblock import block_keep_mask, seed_rate
from refdropout.mutants.fused import FusedEightBitThreshold, FusedWithoutRescale
from refdropout.mutants.structure import (
    AlphaWithoutAffineCorrection,
    DataFormatIgnored,
    DropBlockSeedRateFromHeight,
    DropConnectRowsShifted,
    Dropout2dReads3DAsBatched,
    DropPathShardsShareMasks,
    GaussianStddevPOverQ,
    GaussianVarianceP,
)
from refdropout.ops.elementwise import SELU_ALPHA, SELU_SCALE
from refdropout.random import Generator
from refdropout.stats import (
    bernstein_mean_power,
    bernstein_variance_power,
    binomial_power,
    chernoff_mean_power,
    chernoff_variance_power,
    correlation_power,
    decision_plan,
    detectable_delta,
    ks_samples_needed,
    z_power,
)
from refdropout.tensor import Tensor
from refdropout.values import shown

SPEC = SPEC_DIR / "variants.md"
REFERENCE = ReferenceDropout()


# --- the statistical plan --------------------------------------------------------------------------


STATISTICAL_CLAUSES = ("VARIANTS-3", "VARIANTS-5", "VARIANTS-7", "VARIANTS-9", "VARIANTS-10", "VARIANTS-11",
                       "VARIANTS-14", "VARIANTS-16")


def variance_mde_power(mde: float, variance: float, mu4: float, n: int, alpha: float) -> float:
    """Power of the large-sample variance test against a variance off by ``mde`` (STATS-11)."""
    return z_power(mde / math.sqrt((mu4 - variance * variance * (n - 3) / (n - 1)) / n), alpha)


@pytest.mark.clause("VARIANTS-3", "VARIANTS-5", "VARIANTS-7", "VARIANTS-9", "VARIANTS-10", "VARIANTS-11", "VARIANTS-14",
                    "VARIANTS-16")
def test_statistical_checks_detect_their_stated_mde(quick_plan) -> None:
    """The sample sizes and minimum detectable effects the clauses state, at the quick plan's power."""
    sizes = checks.sample_sizes(quick_plan)
    assert sizes == {"VARIANTS-3": 88_985, "VARIANTS-5": 205_652, "VARIANTS-7": 240_097, "VARIANTS-9": 44_493,
                     "VARIANTS-10": 177_970, "VARIANTS-11": 7_104, "VARIANTS-14": 44_506, "VARIANTS-16": 29_118}
    alpha, power = quick_plan.alpha, quick_plan.power
    assert sum(CHECKS[c].decisions for c in STATISTICAL_CLAUSES) == 21
    q = 1 - checks.P
    assert detectable_delta(q, 2 * sizes["VARIANTS-3"], alpha, power) <= 0.0092
    # N pairs across channels; across samples, 2 channels of floor(N / 2) disjoint pairs: the fewer
    assert correlation_power(0.029, 2 * (sizes["VARIANTS-3"] // 2), alpha, keep_prob=q) >= power
    n = sizes["VARIANTS-5"]
    of_y, of_square = checks.alpha_log_mgfs(checks.ALPHA_P)
    assert chernoff_mean_power(0.020, n, 0.0, 1.0, of_y, alpha) >= power
    assert chernoff_variance_power(0.023, n, 0.0, 1.0, checks.alpha_fourth_moment(checks.ALPHA_P), of_y, of_square,
                                   alpha) >= power
    assert round(checks.alpha_fourth_moment(checks.ALPHA_P), 4) == 2.2605
    assert sizes["VARIANTS-7"] == ks_samples_needed(0.01, alpha, power)
    weights = checks.DROPCONNECT_COLUMNS * sizes["VARIANTS-9"]
    assert detectable_delta(q, weights, alpha, power) <= 0.0092
    # lag l pairs the first half of every block of 2 l weights with the second: the fewest at l = 4
    pairs = min(weights // (2 * lag) * lag + max(0, weights % (2 * lag) - lag) for lag in range(1, 5))
    assert pairs == 88_984 and correlation_power(0.029, pairs, alpha, keep_prob=q) >= power
    assert detectable_delta(q, sizes["VARIANTS-10"], alpha, power) <= 0.0092
    assert correlation_power(0.029, sizes["VARIANTS-10"] // 2, alpha, keep_prob=q) >= power  # N / 2 pairs at either lag
    assert detectable_delta(q, sizes["VARIANTS-11"], alpha, power) <= 0.047
    assert checks.SEED_RATE_CASES == ((3, 7, 2), (8, 4, 3))
    cases = (((3, 7, 2), 0.014, (1, 1), 4), ((8, 4, 3), 0.012, (2, 1), 6))  # (case, corner MDE, covered, k)
    for (height, width, block), corner_mde, covered, k in cases:
        gamma = checks.seed_rate(checks.P, block, height, width)
        assert detectable_delta(gamma, sizes["VARIANTS-14"], alpha, power) <= corner_mde
        assert checks.most_covered(height, width, block) == covered
        assert checks.seed_coverage(covered, height, width, block) == k
        assert detectable_delta(1 - (1 - gamma) ** k, sizes["VARIANTS-14"], alpha, power) <= 0.020
        # a γ from one side length is off by more than the corner's MDE
        for side in (height, width):
            assert abs(checks.seed_rate(checks.P, block, side, side) - gamma) >= 2 * corner_mde
    variance, mu4 = checks.row_sum_moments(checks.ATTENTION_ROW, checks.P)
    assert (round(variance, 5), round(mu4, 6)) == (0.06746, 0.012465)
    rows, bound = sizes["VARIANTS-16"], checks.row_sum_bound(checks.P)
    mean_mde, variance_mde = checks.attention_mdes(quick_plan)
    assert bound == 1.0 and (round(mean_mde, 4), round(variance_mde, 4)) == (0.0147, 0.0050)
    assert bernstein_mean_power(mean_mde, rows, variance, bound, alpha) >= power
    assert bernstein_variance_power(variance_mde, rows, variance, mu4, bound, alpha) >= power
    assert bernstein_variance_power(variance_mde, rows - 1, variance, mu4, bound, alpha) < power  # the least rows


# --- channel dropout ----------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-1")
@exact(5)
@given(seed=seeds)
def test_channel_dropout_drops_whole_channels(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-1", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-1")
@exact(5)
@given(seed=seeds)
def test_whole_channel_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-1", (ChannelAxisWrong(), DataFormatIgnored()), seed)


@pytest.mark.clause("VARIANTS-1")
def test_generated_cases_catch_channels_unshared_in_half_precision(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-1", ChannelMaskPerElementInHalfPrecision())
    assert "impl.channel_dropout(x, " in verdict.detail and "others sharing its mask value" in verdict.detail


@pytest.mark.clause("VARIANTS-2")
@exact(5)
@given(seed=seeds)
def test_unbatched_input_is_one_sample(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-2", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-2")
@exact(5)
@given(seed=seeds)
def test_unbatched_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-2", (Dropout2dReads3DAsBatched(),), seed)


@pytest.mark.clause("VARIANTS-2")
def test_generated_cases_catch_unbatched_input_read_as_batched_in_float32(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-2", UnbatchedReadAsBatchedInFloat32())
    assert "'float32')" in verdict.detail


@pytest.mark.clause("VARIANTS-3")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_channels_are_dropped_independently_at_rate_p(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-3", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-3")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_channel_statistics_reject_broken(check_broken, seed: int) -> None:
    impls = (ChannelsShareOneMask(), ChannelMaskSharedAcrossBatch(), ChannelRatesSwapped())
    assert_fails(check_broken, "VARIANTS-3", impls, seed)


# --- alpha dropout ------------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-4")
@exact(5)
@given(seed=seeds)
def test_alpha_dropout_values_follow_the_constants(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-4", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-4")
@exact(3)
@given(seed=seeds)
def test_the_reference_declared_select_drops_nonfinite_alpha_values_to_zero(check_correct, seed: int) -> None:
    """The reference conforms under either nonfinite policy it accepts: declared "select", its alpha
    dropout gives 0 for NaN and ±inf at p = 1, as its standard dropout does."""
    assert_passes(check_correct, "VARIANTS-4", ReferenceDropout(nonfinite="select"), seed)


@pytest.mark.clause("VARIANTS-4")
@exact(5)
@given(seed=seeds)
def test_alpha_values_check_rejects_broken(check_broken, seed: int) -> None:
    impls = (AlphaPrimeSignFlipped(), AlphaStandardScale(), AlphaIdentityAtPOne(), AlphaWithoutAffineCorrection())
    assert_fails(check_broken, "VARIANTS-4", impls, seed)


@pytest.mark.clause("VARIANTS-4")
@exact(5)
@given(seed=seeds)
def test_alpha_check_drops_nonfinite_at_p_one_by_the_declared_policy(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "VARIANTS-4", AlphaMultipliesUnderSelect(), seed)
    assert "x = nan gave nan, not what a dropped nan gives under the declared nonfinite = 'select'" in verdict.detail


@pytest.mark.clause("VARIANTS-4")
def test_generated_cases_catch_nonfinite_zeroed_at_p_one_on_batches(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-4", AlphaZerosBatchesAtPOne())
    assert "under the declared nonfinite = 'multiply' (DROPOUT-10)" in verdict.detail


@pytest.mark.clause("VARIANTS-4", "VARIANTS-6")
@exact(3)
@given(seed=seeds)
def test_alpha_values_flushed_as_declared_conform_by_the_policy(check_correct, seed: int) -> None:
    """A kernel under FTZ/DAZ reads a subnormal x as ±0 and writes a subnormal result as ±0 (Keras 3 on
    TensorFlow: 0.0 for b = 1e-323 at p = 5e-324). Declared subnormals = "flushed", its alpha and feature
    alpha dropout conform by that policy; before, both clauses failed it on their generated cases."""
    for clause in ("VARIANTS-4", "VARIANTS-6"):
        verdict = assert_passes(check_correct, clause, AlphaUnderFlushToZero(), seed)
        assert verdict.policies == ("subnormals = 'flushed' (the reference: 'kept')",)


@pytest.mark.clause("VARIANTS-4")
def test_generated_cases_catch_alpha_values_flushed_undeclared(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-4", AlphaUnderFlushToZero(declared=False))
    assert "neither a x + b nor a α' q" in verdict.detail


def _spec_section(clause: str) -> str:
    text = SPEC.read_text(encoding="utf-8")
    start = text.index(f"### {clause}:")
    return text[start:text.index("\n### ", start + 1)]


@pytest.mark.clause("VARIANTS-4")
def test_generated_cases_catch_a_remainder_loop_with_standard_scale(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-4", AlphaTailStandardScale())
    assert "impl.alpha_dropout(x, " in verdict.detail and "neither a x + b nor a α' q" in verdict.detail


@pytest.mark.clause("VARIANTS-4")
def test_alpha_constants_match_the_table() -> None:
    """The spec's constants are the reference's binary64 values, printed with repr."""
    section = _spec_section("VARIANTS-4")
    stated = dict(re.findall(r"(λ|α'\^2|α'|α)\s+=\s+(-?[0-9.]+)(?=\s)", section))
    assert stated == {"λ": repr(SELU_SCALE), "α": repr(SELU_ALPHA), "α'": repr(ALPHA_PRIME),
                      "α'^2": repr(ALPHA_PRIME * ALPHA_PRIME)}
    assert ALPHA_PRIME == -SELU_SCALE * SELU_ALPHA
    rows = re.findall(r"^\| ([0-9.]+) \| (\S+) \| (\S+) \| (\S+) \|$", section, flags=re.MULTILINE)
    assert len(rows) == 5
    for p, a, b, dropped in rows:
        got_a, got_b = alpha_constants(float(p))
        assert (repr(got_a), repr(got_b), repr(got_a * ALPHA_PRIME + got_b)) == (a, b, dropped)
        assert checks.alpha_constants(float(p))[:2] == (got_a, got_b)  # the check states the same constants
        # a α' + b = a α' (1 - p), up to the rounding VARIANTS-4 allows a dropped element
        dropped = got_a * ALPHA_PRIME
        assert abs(dropped + got_b - dropped * (1 - float(p))) <= 4 * 2**-53 * abs(dropped)


@pytest.mark.clause("VARIANTS-5")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_alpha_dropout_keeps_mean_zero_and_variance_one(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-5", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-5")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_alpha_moments_check_rejects_broken(check_broken, seed: int) -> None:
    witnesses = (AlphaStandardScale(), AlphaNeverDrops(), AlphaWithoutAffineCorrection())
    assert_fails(check_broken, "VARIANTS-5", witnesses, seed)


@pytest.mark.clause("VARIANTS-6")
@exact(5)
@given(seed=seeds)
def test_feature_alpha_dropout_drops_whole_channels(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-6", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-6")
@exact(5)
@given(seed=seeds)
def test_feature_alpha_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-6", (FeatureAlphaElementwise(),), seed)


@pytest.mark.clause("VARIANTS-6")
def test_generated_cases_catch_feature_alpha_elementwise_on_unbatched_channels_last(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-6", FeatureAlphaElementwiseUnbatchedChannelsLast())
    assert "data_format='channels_last'" in verdict.detail


@pytest.mark.clause("VARIANTS-6")
@exact(3)
@given(seed=seeds)
def test_the_reference_declared_select_drops_nonfinite_feature_alpha_values_to_zero(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-6", ReferenceDropout(nonfinite="select"), seed)


@pytest.mark.clause("VARIANTS-6")
@exact(5)
@given(seed=seeds)
def test_feature_alpha_check_drops_nonfinite_at_p_one_by_the_declared_policy(check_broken, seed: int) -> None:
    """VARIANTS-6 at p = 1 is VARIANTS-4's rule: a feature alpha dropout giving 0 · x for NaN and ±inf while
    its target declares "select" fails (the old check, x = 0 and evaluation, passed it)."""
    verdict = assert_fails(check_broken, "VARIANTS-6", AlphaMultipliesUnderSelect(), seed)
    assert "x = nan gave nan, not what a dropped nan gives under the declared nonfinite = 'select'" in verdict.detail


# --- Gaussian dropout ---------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-7")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_gaussian_noise_is_normal_with_variance_p_over_q(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-7", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-7")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_gaussian_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-7", (GaussianVarianceP(), GaussianStddevPOverQ()), seed)


@pytest.mark.clause("VARIANTS-7")
def test_generated_cases_catch_gaussian_noise_in_eval_at_seed_zero(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-7", GaussianActiveInEvalAtSeedZero())
    assert "training=False, seed=0)" in verdict.detail


@pytest.mark.clause("VARIANTS-8")
@exact(20)
@given(seed=seeds, n=st.integers(0, 64), p=st.floats(0.0, 0.99, exclude_min=True))
def test_reference_normals_are_box_muller_on_53_bit_uniforms(seed: int, n: int, p: float) -> None:
    u = Generator(seed).uniform((2 * n,)).data
    sigma = math.sqrt(p / (1 - p))
    z = [math.sqrt(-2 * math.log(1 - u[2 * i])) * math.cos(2 * math.pi * u[2 * i + 1]) for i in range(n)]
    assert all(abs(zi) <= math.sqrt(106 * math.log(2)) for zi in z)
    generator = Generator(seed)
    y = gaussian_dropout(filled((n,), 1.0), p, generator=generator)
    assert y.data == [1 + sigma * zi for zi in z]  # one draw of 2n uniforms, bit for bit
    assert generator.state.draws == 1


# --- samples beyond a chunk ---------------------------------------------------------------------------
# At the deep profile every statistical sample of the variants exceeds sampling.CHUNK elements; at the
# quick sizes a CHUNK of 2^16 puts the checks in that situation.

BEYOND_A_CHUNK = {  # clause: (the capability it draws its sample from, broken implementations it still rejects)
    "VARIANTS-7": ("gaussian_dropout", (GaussianVarianceP(),)),
    "VARIANTS-9": ("dropconnect", (DropConnectRatesSwapped(), DropConnectPerOutputUnit())),
    "VARIANTS-10": ("drop_path", (DropPathPerElement(), DropPathRowPairsShareMasks())),
    "VARIANTS-14": ("dropblock2d", (DropBlockSeedRateP(),)),
    "VARIANTS-20": ("fused_attention", (FusedEightBitThreshold(), FusedBroadcastMask())),
}


def _watched(capability: str) -> ReferenceDropout:
    """The reference, counting the calls of ``capability`` on numpy arrays and the most elements of an array
    any of them was handed."""
    original = getattr(ReferenceDropout, capability)

    @functools.wraps(original)  # its attributes too: the reference takes arrays there as they are
    def method(self, *args, **kwargs):
        sizes = [a.size for a in args if isinstance(a, np.ndarray)]
        if sizes:
            self.calls, self.largest = self.calls + 1, max(self.largest, *sizes)
        return original(self, *args, **kwargs)

    return type("Watched", (ReferenceDropout,), {capability: method, "calls": 0, "largest": 0})()


@pytest.mark.clause("VARIANTS-7", "VARIANTS-9", "VARIANTS-10", "VARIANTS-14", "VARIANTS-20")
@pytest.mark.parametrize("clause", sorted(BEYOND_A_CHUNK))
def test_statistical_variants_beyond_a_chunk_are_judged_over_bounded_calls(check_correct, check_broken, quick_plan,
                                                                           clause: str) -> None:
    """With calls of at most 2^16 elements the sample is drawn in several calls, none larger, and judged on
    counts summed over them (VARIANTS-7: read in passes holding at most 2^16 values): the reference passes
    with the keep-rate and KS decisions on the whole sample, and the broken implementations still fail."""
    capability, broken = BEYOND_A_CHUNK[clause]
    whole = conformance.run_check(clause, REFERENCE, seed=0, plan=quick_plan, budget=quick_plan.budget())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sampling, "CHUNK", 2**16)
        watched = _watched(capability)
        verdict = assert_passes(check_correct, clause, watched, 0)
        assert watched.calls > 2 and watched.largest <= 2**16, (watched.calls, watched.largest)
        assert [r.n for r in verdict.records if r.test in ("binomial", "kolmogorov-smirnov")] == [
            r.n for r in whole.records if r.test in ("binomial", "kolmogorov-smirnov")]
        assert_fails(check_broken, clause, broken, 0)


# --- DropConnect --------------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-9")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_dropconnect_masks_weights(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-9", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-9")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_dropconnect_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-9", (DropConnectNoRescale(), DropConnectRatesSwapped()), seed)


@pytest.mark.clause("VARIANTS-9")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_dropconnect_check_rejects_dependent_weights(check_broken, seed: int) -> None:
    """Masks that keep every weight at q but tie weights together: rows read from one sequence at
    offsets one apart, and one mask value per output unit. The independence decisions reject them."""
    for impl in (DropConnectRowsShifted(), DropConnectPerOutputUnit()):
        verdict = assert_fails(check_broken, "VARIANTS-9", impl, seed)
        rejected = [record.name for record in verdict.records if record.reject]
        assert any(name.startswith("VARIANTS-9 weights") for name in rejected), (impl.name, rejected)


@pytest.mark.clause("VARIANTS-9")
def test_generated_cases_catch_tail_columns_unscaled(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-9", DropConnectTailColumnsUnscaled())
    assert "y = impl.dropconnect(x, w, " in verdict.detail and "neither 0 nor W / q" in verdict.detail, verdict.detail


# --- DropPath ------------------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-10")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_drop_path_row_mode_drops_whole_samples(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-10", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-10")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_row_mode_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-10", (DropPathSharedAcrossBatch(), DropPathPerElement()), seed)


@pytest.mark.clause("VARIANTS-10")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_row_mode_check_rejects_rows_that_share_masks(check_broken, seed: int) -> None:
    """Row masks that keep every row at q but repeat: across two data-parallel shards seeded alike,
    and over pairs of rows. The independence decisions reject them."""
    for impl in (DropPathShardsShareMasks(), DropPathRowPairsShareMasks()):
        verdict = assert_fails(check_broken, "VARIANTS-10", impl, seed)
        rejected = [record.name for record in verdict.records if record.reject]
        assert any(name != "VARIANTS-10 rows kept" for name in rejected), (impl.name, rejected)


@pytest.mark.clause("VARIANTS-10")
@pytest.mark.parametrize("fault", ["none", "nan", "neither", "row split", "negative zero", "first dropped"])
def test_shared_array_names_the_fault_shared_names(fault: str) -> None:
    """The array form of the shared-mask test finds what the tensor form finds, in its words."""
    import numpy as np

    from refdropout.contract.arrays import from_numpy

    kept, shape, mask_shape = 1.0 / (1.0 - checks.P), (4, 3), (4, 1)
    y = np.repeat(np.array([[kept], [0.0], [kept], [0.0]]), 3, axis=1)
    changed = {"none": None, "nan": ((2, 1), math.nan), "neither": ((1, 2), 1.0), "row split": ((2, 2), 0.0),
               "negative zero": ((1, 1), -0.0), "first dropped": ((0, 0), 0.0)}[fault]
    if changed:
        y[changed[0]] = changed[1]
    tensor_form = checks._shared("case", from_numpy(y), shape, mask_shape, checks._inverted(checks.P))
    assert checks._shared_array("case", y, shape, mask_shape, kept) == tensor_form
    assert bool(tensor_form) == (fault not in ("none", "negative zero"))


@pytest.mark.clause("VARIANTS-11")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_drop_path_batch_mode_drops_the_whole_batch(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-11", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-11")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_batch_mode_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-11", (DropPathBatchModePerSample(),), seed)


@pytest.mark.clause("VARIANTS-12")
@exact(5)
@given(seed=seeds)
def test_drop_path_scaling(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-12", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-12")
@exact(5)
@given(seed=seeds)
def test_drop_path_scaling_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-12", (DropPathUnscaledEval(), DropPathPerElement()), seed)


@pytest.mark.clause("VARIANTS-12")
def test_generated_cases_catch_row_mode_per_channel_on_many_axes(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-12", DropPathRowModePerChannelOnManyAxes())
    assert "mode='row'" in verdict.detail and "others sharing its mask value" in verdict.detail


# --- DropBlock -----------------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-13")
@exact(5)
@given(seed=seeds)
def test_dropblock_drops_whole_blocks(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-13", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-13")
@exact(5)
@given(seed=seeds)
def test_block_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-13", (DropBlockClippedBlocks(),), seed)


@pytest.mark.clause("VARIANTS-13")
def test_generated_cases_catch_blocks_clipped_when_large(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-13", DropBlockClippedForLargeBlocks())
    assert "impl.dropblock2d(x, " in verdict.detail and "block of dropped positions inside the map" in verdict.detail


@pytest.mark.clause("VARIANTS-14")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_dropblock_seed_rate(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-14", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-14")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_seed_rate_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-14", (DropBlockSeedRateP(), DropBlockNoBorderCorrection()), seed)


@pytest.mark.clause("VARIANTS-14")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_seed_rate_check_rejects_rates_right_on_square_maps_or_one_block_size(check_broken, seed: int) -> None:
    """A γ from one side length, or with the border of b = 2 whatever b is, is right on the old
    check's square 4 x 4 maps at b = 2; the rectangles at b = 2 and 3 reject both."""
    assert_fails(check_broken, "VARIANTS-14", (DropBlockSeedRateFromHeight(), DropBlockBorderForBlockSize2()), seed)
    x = filled((2, 3, 4, 4), 1.0)
    dropped = [v == 0.0 for v in REFERENCE.dropblock2d(x, checks.P, block_size=2, training=True, seed=seed).data]
    for impl in (DropBlockSeedRateFromHeight(), DropBlockBorderForBlockSize2()):
        y = impl.dropblock2d(x, checks.P, block_size=2, training=True, seed=seed)
        assert [v == 0.0 for v in y.data] == dropped, impl.name  # the reference's blocks on a square, b = 2


@pytest.mark.clause("VARIANTS-14")
@exact(25)
@given(height=st.integers(1, 4), width=st.integers(1, 3), data=st.data())
def test_seed_rate_is_the_papers_formula(height: int, width: int, data) -> None:
    """γ matches the paper's formula exactly, and 1 - (1 - γ)^k is the exact drop probability,
    by enumerating every seed configuration of a small map with its probability."""
    block = data.draw(st.integers(1, min(height, width)))
    p = Fraction(data.draw(st.integers(1, 9)), 10)
    gamma = seed_rate(p, block, height, width)  # exact in Fractions
    assert gamma == p * height * width / (block**2 * (height - block + 1) * (width - block + 1)) <= p
    if height == width:
        assert gamma == p / block**2 * height**2 / (height - block + 1) ** 2
    positions = (height - block + 1) * (width - block + 1)
    dropped = [Fraction(0)] * (height * width)
    for placed in product((0.0, 1.0), repeat=positions):
        weight = gamma ** int(sum(placed)) * (1 - gamma) ** (positions - int(sum(placed)))
        for i, kept in enumerate(block_keep_mask(list(placed), 1, height, width, block)):
            dropped[i] += weight * (not kept)
    for i, probability in enumerate(dropped):
        r, c = divmod(i, width)
        assert probability == 1 - (1 - gamma) ** checks.seed_coverage((r, c), height, width, block)


@pytest.mark.clause("VARIANTS-15")
@exact(5)
@given(seed=seeds)
def test_dropblock_renormalises_by_the_kept_fraction(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-15", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-15")
@exact(5)
@given(seed=seeds)
def test_normalisation_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-15", (DropBlockNoNormalisation(), DropBlockPerSampleNormalisation()), seed)


@pytest.mark.clause("VARIANTS-15")
def test_generated_cases_catch_subnormals_flushed(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-15", DropBlockFlushesSubnormals())
    assert "not x bit for bit" in verdict.detail


# --- attention dropout --------------------------------------------------------------------------------


@pytest.mark.clause("VARIANTS-16")
@statistical(3, keep_database=True)
@given(seed=seeds)
def test_attention_rows_sum_to_one_in_expectation(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-16", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-16")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_attention_check_rejects_broken(check_broken, seed: int) -> None:
    assert_fails(check_broken, "VARIANTS-16", (AttentionRenormalisedRows(), AttentionNoRescale()), seed)


# --- properties of the reference ops --------------------------------------------------------------------

# ---- generated calls of the reference ops (VARIANTS-17, VARIANTS-19): the conformance suite's cases ----------
# (refdropout.conformance.cases: its layouts, formats, rates, seeds and values), each op's input at most
# GRADCHECKED elements where gradcheck differentiates it (a Jacobian of GRADCHECKED^2 entries)
GRADCHECKED = 36


def _plain(shapes: st.SearchStrategy[tuple[int, ...]]) -> st.SearchStrategy[cases.Layout]:
    return shapes.map(lambda shape: (shape, ()))


@st.composite
def _dropconnect_layouts(draw: st.DrawFn, max_elements: int = cases.MAX_ELEMENTS) -> cases.Layout:
    """x of shape (..., in), 1 to 3 axes, in >= 1, and out in 1..4, W of shape (out, in) (the option ``out``)."""
    shape = draw(st.integers(1, 3).flatmap(lambda rank: cases._sized(rank, max_elements)).filter(
        lambda shape: shape[-1] > 0))
    return shape, (("out", draw(st.integers(1, 4))),)


def _weight(out: int, columns: int, dtype: DType) -> Tensor:
    """W = distinct((out, columns)) in ``dtype``."""
    return Tensor.from_flat(distinct((out, columns)).data, (out, columns), dtype)


def _dropconnect(x: Tensor, p: float, *, out: int, **options: object) -> Tensor:
    """dropconnect of x by W = distinct((out, in)) in x's format."""
    return dropconnect(x, _weight(out, x.shape[-1], x.dtype), p, **options)


CALLS = {  # each op as a function of (x, p, **options, **randomness), and its layouts of at most n elements
    "channel_dropout": (channel_dropout, lambda n: cases.channel_layouts(True, n) | cases.channel_layouts(False, n)),
    "alpha_dropout": (alpha_dropout, lambda n: _plain(cases.shapes(n))),
    "feature_alpha_dropout": (feature_alpha_dropout,
                              lambda n: cases.channel_layouts(True, n) | cases.channel_layouts(False, n)),
    "gaussian_dropout": (gaussian_dropout, lambda n: _plain(cases.shapes(n))),
    "drop_path": (drop_path, cases.path_layouts),
    "dropblock2d": (dropblock2d, cases.block_layouts),
    "attention_dropout": (attention_dropout, lambda n: _plain(cases.shapes(n).filter(lambda shape: len(shape) >= 2))),
    "dropconnect": (_dropconnect, _dropconnect_layouts),
}
KNOWN_AT_ONE = {"gaussian_dropout": None, "dropblock2d": None}  # p = 1 refused, or its noise random: no known p


def variant_calls(op: str, max_elements: int = cases.MAX_ELEMENTS, *, nonfinite: bool = False,
                  formats: bool = True) -> st.SearchStrategy[cases.VariantCase]:
    """Generated calls of ``op``: a layout of at most ``max_elements`` elements, any p in (0, 1) and seed, x
    of the format's values (NaN and ±inf among them where ``nonfinite``) in every format, or float64 only."""
    impl = REFERENCE if formats else declaring_formats(("float64",))
    return cases.variant_cases(impl, op, CALLS[op][1](max_elements), nonfinite=nonfinite)


def declaring_formats(dtypes: tuple[str, ...]) -> ReferenceDropout:
    """The reference, declaring only ``dtypes``."""
    return type("ReferenceIn", (ReferenceDropout,), {"dtypes": dtypes})()


def called(case: cases.VariantCase, x: Tensor | None = None, **randomness: object) -> Tensor:
    """The reference op of ``case`` on ``x`` (its own by default), its seed or ``randomness`` instead."""
    fn = CALLS[case.capability][0]
    return fn(case.x if x is None else x, case.p, **case.options, training=case.training,
              **(randomness or {"seed": case.seed}))


@pytest.mark.clause("VARIANTS-17")
@pytest.mark.parametrize("op", sorted(CALLS))
@exact(5)
@given(data=st.data(), training=st.booleans())
def test_variant_vjps_pass_gradcheck(op: str, data: st.DataObject, training: bool) -> None:
    case = replace(data.draw(variant_calls(op, GRADCHECKED, formats=False), label="case"), training=training)
    note(case.snippet())
    assert gradcheck(lambda t: called(case, t), distinct(case.shape))


@pytest.mark.clause("VARIANTS-17")
@exact(5)
@given(case=variant_calls("dropconnect", GRADCHECKED, formats=False), training=st.booleans())
def test_dropconnect_vjp_passes_gradcheck(case: cases.VariantCase, training: bool) -> None:
    shape, out = case.shape, case.options["out"]
    assert gradcheck(lambda x, w: dropconnect(x, w, case.p, training=training, seed=case.seed), distinct(shape),
                     distinct((out, shape[-1])))


@pytest.mark.clause("VARIANTS-17")
@pytest.mark.parametrize("op", sorted(CALLS))
@exact(5)
@given(data=st.data())
def test_each_variant_is_one_graph_node(op: str, data: st.DataObject) -> None:
    case = data.draw(variant_calls(op, nonfinite=True), label="case")
    x = Tensor(case.x, requires_grad=True)
    if op == "dropconnect":  # both inputs are parents of its one node
        weight = Tensor(_weight(case.options["out"], case.shape[-1], case.dtype), requires_grad=True)
        y = dropconnect(x, weight, case.p, seed=case.seed)
        assert y._vjp is not None and y._parents == (x, weight)
        return
    y = called(case, x)
    assert y._vjp is not None and y._parents == (x,)


MATRIX, MAP = filled((2, 3), 1.0), filled((1, 1, 4, 3), 1.0)  # a (2, 3) input and a 4 x 3 feature map
BAD_CALLS = [  # (call, exception, words the message must contain)
    (lambda: channel_dropout(filled((2, 3, 4, 5, 6), 1.0), 0.3, spatial_dims=2, seed=1), ValueError,
     ["spatial_dims=2", "(2, 3, 4, 5, 6)"]),
    (lambda: channel_dropout(MATRIX, 0.3, spatial_dims=2, seed=1), ValueError, ["spatial_dims=2", "(2, 3)"]),
    (lambda: channel_dropout(MATRIX, 0.3, spatial_dims=0, seed=1), ValueError, ["spatial_dims", ">= 1"]),
    (lambda: channel_dropout(MATRIX, 0.3, spatial_dims=True, seed=1), TypeError, ["spatial_dims", "True"]),
    (lambda: channel_dropout(MATRIX, 0.3, spatial_dims=1.0, seed=1), TypeError, ["spatial_dims", "1.0"]),
    (lambda: channel_dropout(MATRIX, 0.3, spatial_dims=1, data_format="NCHW", seed=1), ValueError,
     ["data_format", "'NCHW'", "channels_last"]),
    (lambda: channel_dropout(MATRIX, 1.5, spatial_dims=1, seed=1), ValueError, ["channel_dropout", "p", "1.5"]),
    (lambda: channel_dropout(MATRIX, 0.3, spatial_dims=1), ValueError, ["channel_dropout", "seed"]),
    (lambda: alpha_dropout([1.0], 0.3, seed=1), TypeError, ["alpha_dropout", "x", "list"]),
    (lambda: alpha_dropout(Tensor([True]), 0.3, seed=1), TypeError, ["alpha_dropout", "bool"]),
    (lambda: alpha_dropout(MATRIX, math.nan, seed=1), ValueError, ["alpha_dropout", "p", "nan"]),
    (lambda: alpha_dropout(MATRIX, 0.3, seed=1, generator=Generator(1)), ValueError, ["seed", "generator"]),
    (lambda: feature_alpha_dropout(filled((2,), 1.0), 0.3, spatial_dims=1, seed=1), ValueError,
     ["spatial_dims=1", "(2,)"]),
    (lambda: gaussian_dropout(MATRIX, 1.0, seed=1), ValueError, ["gaussian_dropout", "p", "[0, 1)", "1.0"]),
    (lambda: gaussian_dropout(MATRIX, True, seed=1), TypeError, ["gaussian_dropout", "p", "True"]),
    (lambda: dropconnect(MATRIX, filled((4, 2), 1.0), 0.3, seed=1), ValueError, ["x", "(..., 2)", "(2, 3)"]),
    (lambda: dropconnect(MATRIX, filled((3,), 1.0), 0.3, seed=1), ValueError, ["weight", "(3,)"]),
    (lambda: dropconnect(MATRIX, Tensor([[True] * 3]), 0.3, seed=1), TypeError, ["weight", "bool"]),
    (lambda: drop_path(MATRIX, 0.3, mode="sample", seed=1), ValueError, ["mode", "'sample'", "'row'"]),
    (lambda: drop_path(MATRIX, 0.3, scaling="none", seed=1), ValueError, ["scaling", "'none'", "'classic'"]),
    (lambda: drop_path(filled((), 1.0), 0.3, seed=1), ValueError, ["row", "0-d"]),
    (lambda: dropblock2d(filled((2, 3, 4), 1.0), 0.3, block_size=2, seed=1), ValueError,
     ["(N, C, H, W)", "(2, 3, 4)"]),
    (lambda: dropblock2d(MAP, 0.3, block_size=4, seed=1), ValueError, ["block_size", "[1, 3]", "4"]),
    (lambda: dropblock2d(MAP, 0.3, block_size=0, seed=1), ValueError, ["block_size", "0"]),
    (lambda: dropblock2d(MAP, 0.3, block_size=2.0, seed=1), TypeError, ["block_size", "2.0"]),
    (lambda: attention_dropout(filled((4,), 0.25), 0.3, seed=1), ValueError, ["weights", "(4,)"]),
    (lambda: attention_dropout(MATRIX, -0.1, seed=1), ValueError, ["attention_dropout", "p", "-0.1"]),
]


@pytest.mark.clause("VARIANTS-18")
@pytest.mark.parametrize("index", range(len(BAD_CALLS)))
def test_bad_arguments_are_refused(index: int) -> None:
    call, error, words = BAD_CALLS[index]
    with pytest.raises(error) as raised:
        call()
    assert all(word in str(raised.value) for word in words), str(raised.value)


def _x(shape: tuple[int, ...], dtype: str) -> Tensor:
    return filled(shape, 1.0, dtype)


CHANNEL_OPS = {"channel_dropout": channel_dropout, "feature_alpha_dropout": feature_alpha_dropout}
NOT_ALLOWED = st.text(string.ascii_letters + "_ ", max_size=8)  # a data_format, mode or scaling, mostly not one
OUT_OF_RANGE = st.floats(allow_nan=True).filter(lambda p: not 0.0 <= p <= 1.0)  # a p outside [0, 1], or NaN


@st.composite
def bad_calls(draw: st.DrawFn) -> tuple[str, Callable[[], object], type[Exception], list[str]]:
    """A call of a reference op that VARIANTS-18 refuses: (what it is, the call, the exception, words its
    message must contain), its input's shape, format, p and seed drawn by the conformance suite's strategies."""
    dtype, seed, p = draw(dtype_names), draw(seeds), draw(cases.rates)
    shape = draw(cases.shapes(64))
    op = draw(st.sampled_from(sorted(CHANNEL_OPS)))
    kind = draw(st.sampled_from(("rank", "spatial_dims", "spatial_dims type", "data_format", "mode", "scaling",
                                 "block_size", "block_size type", "empty map", "map rank", "in_features",
                                 "weight rank", "weights rank", "row of a 0-d tensor", "p", "gaussian p = 1")))
    if kind == "rank":  # x of a rank other than spatial_dims + 1 or + 2
        d = draw(st.integers(1, 3))
        assume(len(shape) not in (d + 1, d + 2))
        return kind, lambda: CHANNEL_OPS[op](_x(shape, dtype), p, spatial_dims=d, seed=seed), ValueError, [
            op, f"spatial_dims={d}", str(shape)]
    if kind == "spatial_dims":
        d = draw(st.integers(max_value=0))
        return kind, lambda: CHANNEL_OPS[op](_x((2, 3), dtype), p, spatial_dims=d, seed=seed), ValueError, [
            op, "spatial_dims", ">= 1", shown(d)]
    if kind == "spatial_dims type":
        d = draw(st.booleans() | st.floats() | NOT_ALLOWED | st.none())
        return kind, lambda: CHANNEL_OPS[op](_x((2, 3), dtype), p, spatial_dims=d, seed=seed), TypeError, [
            op, "spatial_dims", type(d).__name__]
    if kind == "data_format":
        fmt = draw(NOT_ALLOWED.filter(lambda v: v not in cases.CHANNEL_FORMATS))
        return kind, lambda: CHANNEL_OPS[op](_x((2, 3), dtype), p, spatial_dims=1, data_format=fmt, seed=seed), \
            ValueError, [op, "data_format", shown(fmt), "channels_last"]
    if kind in ("mode", "scaling"):
        value = draw(NOT_ALLOWED.filter(lambda v: v not in ("row", "batch", "inverted", "classic")))
        return kind, lambda: drop_path(_x((2, 3), dtype), p, **{kind: value}, seed=seed), ValueError, [
            "drop_path", kind, shown(value), "'classic'" if kind == "scaling" else "'row'"]
    if kind in ("block_size", "block_size type", "empty map"):
        (n, c, height, width), _ = draw(cases.block_layouts(64))
        if kind == "empty map":
            height, width = draw(st.sampled_from(((0, width), (height, 0), (0, 0))))
        largest = min(height, width)
        size = draw(st.integers(max_value=0) | st.integers(min_value=largest + 1)) if kind != "block_size type" \
            else draw(st.booleans() | st.floats() | st.none())
        words = (["block_size", type(size).__name__] if kind == "block_size type" else
                 ["empty feature map", f"H = {height}, W = {width}"] if kind == "empty map" and size >= 1 else
                 ["block_size", ">= 1" if size < 1 else f"[1, {largest}]", shown(size)])
        error = TypeError if kind == "block_size type" else ValueError
        return kind, lambda: dropblock2d(_x((n, c, height, width), dtype), p, block_size=size, seed=seed), error, [
            "dropblock2d", *words]
    if kind == "map rank":
        assume(len(shape) != 4)
        return kind, lambda: dropblock2d(_x(shape, dtype), p, block_size=1, seed=seed), ValueError, [
            "dropblock2d", "(N, C, H, W)", str(shape)]
    if kind == "in_features":  # W of shape (out, in), x of shape (..., k), k != in
        assume(len(shape) >= 1)
        weight = (draw(st.integers(1, 4)), draw(st.integers(0, 9).filter(lambda n: n != shape[-1])))
        return kind, lambda: dropconnect(_x(shape, dtype), _x(weight, dtype), p, seed=seed), ValueError, [
            "dropconnect", f"(..., {weight[1]})", str(shape)]
    if kind == "weight rank":
        assume(len(shape) != 2)
        return kind, lambda: dropconnect(_x((3, 2), dtype), _x(shape, dtype), p, seed=seed), ValueError, [
            "dropconnect", "weight", str(shape)]
    if kind == "weights rank":
        assume(len(shape) < 2)
        return kind, lambda: attention_dropout(_x(shape, dtype), p, seed=seed), ValueError, [
            "attention_dropout", "weights", str(shape)]
    if kind == "row of a 0-d tensor":
        return kind, lambda: drop_path(_x((), dtype), p, mode="row", seed=seed), ValueError, ["row", "0-d"]
    if kind == "p":  # any op, p outside [0, 1] or NaN
        name = draw(st.sampled_from(sorted(CALLS)))
        bad = draw(OUT_OF_RANGE)
        layout = draw(CALLS[name][1](64))
        return kind, lambda: CALLS[name][0](_x(layout[0], dtype), bad, **dict(layout[1]), seed=seed), ValueError, [
            name, "p", shown(bad)]
    return kind, lambda: gaussian_dropout(_x(shape, dtype), 1.0, seed=seed), ValueError, [
        "gaussian_dropout", "p", "[0, 1)"]


@pytest.mark.clause("VARIANTS-18")
@exact(200)
@given(bad=bad_calls())
def test_generated_bad_arguments_are_refused(bad) -> None:
    kind, call, error, words = bad
    with pytest.raises(error) as raised:
        call()
    assert all(word in str(raised.value) for word in words), (kind, words, str(raised.value))


@pytest.mark.clause("VARIANTS-19")
@pytest.mark.parametrize("op", sorted(CALLS))
@exact(10)
@given(data=st.data())
def test_randomness_is_drawn_only_when_needed(op: str, data: st.DataObject) -> None:
    case = data.draw(variant_calls(op), label="case")
    generator = Generator(case.seed)
    called(case, generator=generator)
    assert generator.state.draws == 1
    known = KNOWN_AT_ONE.get(op, 1.0)
    calls = [replace(case, training=False), replace(case, p=0.0)] + ([replace(case, p=known)] if known else [])
    for call in calls:
        called(call, generator=generator)
        called(call, generator=None)  # nothing to draw: no seed needed
        assert generator.state.draws == 1, call.snippet()
    with pytest.raises(ValueError, match="seed"):
        called(case, generator=None)


@pytest.mark.clause("VARIANTS-19")
@pytest.mark.parametrize("op", sorted(CALLS))
@exact(10)
@given(data=st.data())
def test_same_seed_same_output(op: str, data: st.DataObject) -> None:
    case = data.draw(variant_calls(op, nonfinite=True), label="case")
    assert_same_bits(called(case), called(case), case.snippet())


@pytest.mark.parametrize("clause", ["VARIANTS-3", "VARIANTS-5", "VARIANTS-16"])
def test_samples_larger_than_a_chunk_are_drawn_in_calls(check_correct, monkeypatch, clause: str) -> None:
    """With calls of at most 2^16 elements (sampling.CHUNK, as the deep profile's n exceeds it) the
    checks draw their samples in several calls, judge running counts or sums, and pass the reference."""
    from refdropout.conformance import sampling

    monkeypatch.setattr(sampling, "CHUNK", 2**16)
    assert_passes(check_correct, clause, REFERENCE, 7)


@exact(20)
@given(seed=seeds)
def test_row_sums_are_tallied_as_each_row_is_summed(seed: int) -> None:
    """VARIANTS-16's row sums, taken once per distinct row, are the tally of math.fsum of every row."""
    import numpy as np

    from refdropout.conformance.variants import _row_sums
    from refdropout.stats import Tally

    rng = np.random.default_rng(seed)
    for y in (rng.choice([0.0, -0.0, 1 / 36 / 0.7, 5 / 36 / 0.7], size=(2000, 8)), rng.standard_normal((500, 8))):
        assert _row_sums(y) == Tally.of([math.fsum(row) for row in y.tolist()])


# --- fused attention dropout (VARIANTS-20 to VARIANTS-22) ----------------------------------------------
# The reference's one kernel charges VARIANTS-20's three decisions (one per rate) for one seed.


@pytest.mark.clause("VARIANTS-20")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_fused_attention_keeps_each_weight_at_rate_q(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-20", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-20")
@statistical(1, keep_database=True)
@given(seed=seeds)
def test_fused_keep_rate_check_rejects_an_8_bit_threshold_and_a_broadcast_mask(check_broken, seed: int) -> None:
    threshold, broadcast = assert_fails(check_broken, "VARIANTS-20", (FusedEightBitThreshold(), FusedBroadcastMask()),
                                        seed)
    assert "p = 0.001" in threshold.detail and "binomial" in threshold.detail
    assert "has the mask of head 0 of sample 0" in broadcast.detail


@pytest.mark.clause("VARIANTS-20")
def test_fused_attention_plan_detects_its_stated_mde(quick_plan) -> None:
    """The batch, n and MDEs VARIANTS-20 states, and the power against FlashAttention's 8-bit keep rate."""
    assert CHECKS["VARIANTS-20"].decisions == 12
    standard = decision_plan("standard", max(10_000, sum(c.decisions for c in CHECKS.values())))
    for plan, batch, mdes, flash_detected in ((quick_plan, 11, (0.00071, 0.0060, 0.0091), (0.001,)),
                                              (standard, 295, (0.00013, 0.0012, 0.0018), (0.001, 0.1))):
        assert attention_checks.fused_batch(plan) == batch
        n = batch * attention_checks.FUSED_HEADS * attention_checks.FUSED_LENGTH ** 2
        for p, mde in zip(attention_checks.FUSED_RATES, mdes):
            assert f"{detectable_delta(1 - p, n, plan.alpha, plan.power):.2g}" == f"{mde:.2g}"
            flash = (math.floor(255 * (1 - p)) + 1) / 256
            assert (binomial_power(n, 1 - p, flash, plan.alpha) >= plan.power) is (p in flash_detected)


@pytest.mark.clause("VARIANTS-21")
@exact(2)
@given(seed=seeds)
def test_fused_attention_scales_the_kept_weights(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-21", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-21")
@exact(2)
@given(seed=seeds)
def test_fused_scaling_check_rejects_a_kernel_without_1_over_q(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "VARIANTS-21", FusedWithoutRescale(), seed)
    assert "neither 0 (dropped) nor the kept value" in verdict.detail


@pytest.mark.clause("VARIANTS-21")
def test_generated_cases_catch_short_rows_unscaled(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-21", FusedShortRowsUnscaled())
    assert "impl.fused_attention(*fused_inputs(" in verdict.detail


@pytest.mark.clause("VARIANTS-22")
@exact(2)
@given(seed=seeds)
def test_fused_attention_backward_reuses_the_forward_mask(check_correct, seed: int) -> None:
    assert_passes(check_correct, "VARIANTS-22", REFERENCE, seed)


@pytest.mark.clause("VARIANTS-22")
@exact(2)
@given(seed=seeds)
def test_fused_backward_check_rejects_a_redrawn_mask(check_broken, seed: int) -> None:
    verdict = assert_fails(check_broken, "VARIANTS-22", FusedBackwardRedrawsTheMask(), seed)
    assert "the backward pass drew another mask" in verdict.detail


@pytest.mark.clause("VARIANTS-22")
def test_generated_cases_catch_a_backward_redrawn_for_many_heads(quick_plan) -> None:
    verdict = assert_generated_cases_catch(quick_plan, "VARIANTS-22", FusedBackwardRedrawsForManyHeads())
    assert "impl.fused_attention(*fused_inputs(" in verdict.detail


@pytest.mark.clause("VARIANTS-22")
@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_reference_attention_is_the_engine_bit_for_bit(dtype: str) -> None:
    """The reference's fused_attention on engine tensors (the engine's autograd) and on numpy arrays (the
    bulk path) give the same o and dL/dv bit for bit on the checks' inputs, and dL/dv is o's transpose."""
    arrays = attention_checks.fused_inputs(attention_checks.EXACT_SHAPE, get_dtype(dtype))
    bulk = REFERENCE.fused_attention(*arrays, 0.3, backend="engine", training=True, seed=5)
    engine = REFERENCE.fused_attention(*map(from_numpy, arrays), 0.3, backend="engine", training=True, seed=5)
    for got, expected in zip(map(to_numpy, engine), bulk):
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
    assert np.array_equal(bulk[1], np.swapaxes(bulk[0], -1, -2))
    with pytest.raises(ValueError, match="backend must be 'engine'.*'flash'"):
        REFERENCE.fused_attention(*arrays, 0.3, backend="flash", training=True, seed=5)


def test_reference_attention_refuses_mismatched_shapes() -> None:
    q = filled((2, 3, 4), 0.0)
    with pytest.raises(ValueError, match=r"query, key and value must have shapes.*\(2, 3, 4\), \(2, 5, 3\)"):
        scaled_dot_product_attention(q, filled((2, 5, 3), 0.0), filled((2, 5, 3), 0.0), 0.3, seed=1)
    with pytest.raises(ValueError, match="query must have shape"):
        scaled_dot_product_attention(filled((4,), 0.0), q, q, 0.3, seed=1)
