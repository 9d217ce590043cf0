"""Continuous checks for the dropout variants (STATS-11).

Gaussian dropout, alpha dropout and the scaled outputs x·m/q of ordinary dropout are judged by
their distribution and their first two moments, each against a value stated by the clause:

* the Kolmogorov–Smirnov test against a fully specified continuous scipy distribution;
* a z-test for the mean with known σ;
* a test for the variance: exact χ² for normal data, or a large-sample z-test given the null
  fourth central moment μ₄ for any other data.

Anderson–Darling is not offered: scipy's ``anderson`` estimates the parameters and interpolates its
p-value from a table clipped to [0.01, 0.15], so it can neither decide at α ≤ 1e-6 nor be calibrated.
"""

from __future__ import annotations

import math
from typing import Any

from scipy.stats import chi2, kstest, norm, rv_discrete

from .arguments import as_samples, check_finite, check_open_unit, check_positive
from .decision import Decision


def ks_test(samples: Any, distribution: Any, *, alpha: float) -> Decision:
    """Two-sided Kolmogorov–Smirnov test of H₀: the samples are i.i.d. from ``distribution``.

    ``distribution`` is a frozen continuous scipy distribution with every parameter stated, e.g.
    ``scipy.stats.norm(0, 1)``; parameters estimated from the same samples void the test. The
    statistic is D = sup_x |F_n(x) − F₀(x)|; the p-value is scipy's exact one up to n = 10000.
    """
    x = as_samples(samples)
    alpha = check_open_unit("alpha", alpha)
    cdf = getattr(distribution, "cdf", None)
    if cdf is None or isinstance(getattr(distribution, "dist", None), rv_discrete):
        raise TypeError(f"distribution must be a frozen continuous scipy distribution, got {distribution!r}")
    result = kstest(x, cdf)
    return Decision(
        test="kolmogorov-smirnov",
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        n=len(x),
        observed=float(result.statistic),
        expected=0.0,
        alpha=alpha,
    )


def _two_sided_z(z: float) -> float:
    return float(min(1.0, 2 * norm.sf(abs(z))))


def mean_z_test(samples: Any, mean: float, sigma: float, *, alpha: float) -> Decision:
    """Two-sided z-test of H₀: E X = ``mean`` for samples with known standard deviation σ.

    z = (x̄ − μ₀) / (σ/√n) is N(0, 1) exactly for normal data and asymptotically otherwise; being
    two-sided, its n^(−1/2) skewness error cancels and the first error term is O(1/n).
    """
    x = as_samples(samples)
    mu0 = check_finite("mean", mean)
    sigma = check_positive("sigma", sigma)
    alpha = check_open_unit("alpha", alpha)
    n = len(x)
    xbar = math.fsum(x) / n
    z = (xbar - mu0) / (sigma / math.sqrt(n))
    return Decision(
        test="mean z", statistic=z, p_value=_two_sided_z(z), n=n, observed=xbar, expected=mu0, alpha=alpha
    )


def variance_test(samples: Any, variance: float, *, alpha: float, fourth_moment: float | None = None) -> Decision:
    """Two-sided test of H₀: Var X = σ₀² = ``variance``, from n ≥ 2 samples.

    Without ``fourth_moment`` the data must be normal: (n − 1)s²/σ₀² ~ χ²(n − 1) exactly, and the
    p-value doubles the smaller tail. With the null fourth central moment μ₄ = E(X − μ)⁴ it is the
    large-sample z-test for any distribution:

        z = (s² − σ₀²) / √(Var s²),   Var s² = (μ₄ − σ₀⁴·(n − 3)/(n − 1)) / n.
    """
    x = as_samples(samples, minimum=2)
    s0 = check_positive("variance", variance)
    alpha = check_open_unit("alpha", alpha)
    n = len(x)
    xbar = math.fsum(x) / n
    s2 = math.fsum((v - xbar) ** 2 for v in x) / (n - 1)
    if fourth_moment is None:
        t = (n - 1) * s2 / s0
        p = min(1.0, 2 * min(chi2.cdf(t, n - 1), chi2.sf(t, n - 1)))
        statistic, test = t, "variance chi2"
    else:
        mu4 = check_positive("fourth_moment", fourth_moment)
        if mu4 < s0 * s0:
            raise ValueError(f"fourth_moment must be >= variance**2 = {s0 * s0!r}, got {fourth_moment!r}")
        var_s2 = (mu4 - s0 * s0 * (n - 3) / (n - 1)) / n
        statistic, test = (s2 - s0) / math.sqrt(var_s2), "variance z"
        p = _two_sided_z(statistic)
    return Decision(
        test=test, statistic=statistic, p_value=float(p), n=n, observed=s2, expected=s0, alpha=alpha
    )
