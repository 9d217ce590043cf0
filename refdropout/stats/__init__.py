"""The statistics layer of refdropout: the decision procedures every statistical clause uses.

spec/stats.md states what they promise. One module per idea:

* :mod:`.binomial` — the exact two-sided binomial test of a keep rate and its exact power;
* :mod:`.planning` — sample sizes and minimum detectable effects;
* :mod:`.budget` — the family-wise error budget (Bonferroni, Holm);
* :mod:`.structure` — homogeneity, pairwise independence, runs and dispersion of 0/1 masks;
* :mod:`.continuous` — Kolmogorov–Smirnov, mean and variance tests for continuous variants;
* :mod:`.ks_parts` — the Kolmogorov–Smirnov test of a sample read in parts, in bounded memory;
* :mod:`.bernstein` — mean and variance tests by Bernstein's inequality, valid at every sample size;
* :mod:`.chernoff` — mean and variance tests by Chernoff's bound with the exact moment generating function;
* :mod:`.finite` — the generating functions of finite laws and of the squared deviation of their means;
* :mod:`.twopoint` — exact tests of the mean and the variance of a two-point sample (a binomial count);
* :mod:`.profiles` — the ``quick``, ``standard`` and ``deep`` plans;
* :mod:`.decision` — the result every test returns; :mod:`.arguments` — input checks;
* :mod:`.sensitivity` — the measured power of the keep-rate decision (``refdropout report sensitivity`` runs it).

Unlike the engine, this layer uses scipy (and numpy through it).
"""

from .arguments import SMALLEST_KEEP_PROB
from .bernstein import bernstein_mean_power, bernstein_mean_test, bernstein_variance_power, bernstein_variance_test
from .binomial import BinomialDecision, binomial_power, binomial_test, rejection_region
from .budget import BudgetExhausted, ErrorBudget, HolmVerdict, Record
from .chernoff import (
    LogMGF,
    chernoff_mean_power,
    chernoff_mean_test,
    chernoff_thresholds,
    chernoff_variance_power,
    chernoff_variance_test,
    log_add_exp,
    thresholds_power,
)
from .continuous import Tally, exact_sum, ks_test, mean_z_test, variance_test
from .decision import Decision
from .finite import average_square_log_mgf, finite_log_mgf
from .ks_parts import ks_test_of_parts
from .planning import (
    correlation_power,
    detectable_delta,
    dispersion_power,
    homogeneity_power,
    ks_samples_needed,
    one_position_power,
    runs_power,
    samples_for_power,
    samples_needed,
    variance_power,
    z_power,
)
from .profiles import DEEP, PROFILES, QUICK, STANDARD, DecisionPlan, Profile, decision_plan
from .structure import (
    PairCounts,
    central_band,
    class_pair_counts_test,
    dispersion_counts_test,
    dispersion_test,
    homogeneity_counts_test,
    homogeneity_test,
    lag_independence_test,
    pair_counts_test,
    runs_distribution,
    runs_test,
    successive_independence_test,
)
from .twopoint import two_point_mean_test, two_point_variance_test, variance_roots

__all__ = [
    "BinomialDecision",
    "BudgetExhausted",
    "DEEP",
    "Decision",
    "DecisionPlan",
    "ErrorBudget",
    "HolmVerdict",
    "PROFILES",
    "PairCounts",
    "Profile",
    "QUICK",
    "Record",

    "SMALLEST_KEEP_PROB",
    "STANDARD",
    "Tally",
    "LogMGF",
    "bernstein_mean_power",
    "bernstein_mean_test",
    "bernstein_variance_power",
    "bernstein_variance_test",
    "binomial_power",
    "chernoff_mean_power",
    "chernoff_mean_test",
    "chernoff_thresholds",
    "chernoff_variance_power",
    "chernoff_variance_test",
    "log_add_exp",
    "binomial_test",
    "average_square_log_mgf",
    "correlation_power",
    "decision_plan",
    "detectable_delta",
    "dispersion_power",
    "dispersion_counts_test",
    "dispersion_test",
    "homogeneity_power",
    "one_position_power",
    "exact_sum",
    "finite_log_mgf",
    "homogeneity_counts_test",
    "homogeneity_test",
    "ks_samples_needed",
    "ks_test",
    "ks_test_of_parts",
    "lag_independence_test",
    "mean_z_test",
    "class_pair_counts_test",
    "pair_counts_test",
    "rejection_region",
    "central_band",
    "runs_distribution",
    "runs_power",
    "runs_test",
    "samples_for_power",
    "samples_needed",
    "successive_independence_test",
    "thresholds_power",
    "two_point_mean_test",
    "two_point_variance_test",
    "variance_power",
    "variance_roots",
    "variance_test",
    "z_power",
]
