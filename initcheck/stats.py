"""Statistics behind the checks: interval estimates and sample-size planning.

All intervals are large-sample (normal) intervals; the sample sizes the checks draw
(thousands of values) make that accurate. The variance interval is computed on the log
scale with the delta method, using the sample's own fourth moment:

    se(log s²) ≈ sqrt((κ - 1) / n),   κ = m4 / m2²  (kurtosis, 3 for a normal)

so it holds for normal, uniform, truncated-normal and orthogonal initializers alike
(for orthogonal kernels, whose entries are negatively dependent, it is conservative).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

__all__ = [
    "MeanEstimate",
    "VarianceEstimate",
    "estimate_mean",
    "estimate_variance",
    "false_failure_rate",
    "required_n_mean",
    "required_n_variance",
    "z_crit",
]


def z_crit(alpha: float) -> float:
    """Two-sided normal critical value for level ``alpha``."""
    return float(stats.norm.isf(alpha / 2))


def z_power(power: float) -> float:
    return float(stats.norm.ppf(power))


class VarianceEstimate(NamedTuple):
    """Variance of standardized values with a ``1 - alpha`` interval."""

    statistic: float  # sample variance (ratio to the target, since values are standardized)
    low: float
    high: float
    kurtosis: float
    se_log: float
    n: int


class MeanEstimate(NamedTuple):
    statistic: float
    low: float
    high: float
    sd: float
    n: int


def estimate_variance(z: np.ndarray, alpha: float) -> VarianceEstimate:
    """Sample variance of ``z`` with a log-scale delta-method interval."""
    z = np.asarray(z, dtype=np.float64).ravel()
    n = z.size
    v = float(np.var(z, ddof=1))
    kurt = float(stats.kurtosis(z, fisher=False, bias=True)) if np.ptp(z) > 0 else 3.0
    kurt = kurt if math.isfinite(kurt) else 3.0
    se = math.sqrt(max(kurt - 1.0, 1e-12) / n)
    zc = z_crit(alpha)
    if v <= 0 or np.ptp(z) == 0:
        return VarianceEstimate(0.0, 0.0, 0.0, kurt, se, n)
    return VarianceEstimate(v, v * math.exp(-zc * se), v * math.exp(zc * se), kurt, se, n)


def estimate_mean(z: np.ndarray, alpha: float) -> MeanEstimate:
    """Mean of ``z`` with the one-sample t interval (``scipy.stats.ttest_1samp``)."""
    z = np.asarray(z, dtype=np.float64).ravel()
    sd = float(np.std(z, ddof=1))
    m = float(np.mean(z))
    if sd == 0:
        return MeanEstimate(m, m, m, 0.0, z.size)
    ci = stats.ttest_1samp(z, 0.0).confidence_interval(confidence_level=1 - alpha)
    return MeanEstimate(m, float(ci.low), float(ci.high), sd, z.size)


def required_n_variance(
    kurtosis: float, tolerance: float, detect: float, alpha: float, power: float
) -> int:
    """Values needed so a std off by a factor ``1 + detect`` fails with ``power``.

    The decision fails when the interval for log Var lies outside ±2·log(1+tolerance);
    the gap to the defect is 2·(log(1+detect) - log(1+tolerance)).
    """
    gap = 2 * (math.log1p(detect) - math.log1p(tolerance))
    k = max(kurtosis - 1.0, 0.2)
    return math.ceil(((z_crit(alpha) + z_power(power)) * math.sqrt(k) / gap) ** 2)


def required_n_mean(sd: float, tolerance: float, detect: float, alpha: float, power: float) -> int:
    """Values needed so |mean| = ``detect`` (target-std units) fails with ``power``."""
    return math.ceil(((z_crit(alpha) + z_power(power)) * max(sd, 1e-3) / (detect - tolerance)) ** 2)


def false_failure_rate(se: float, half_band: float, alpha: float) -> float:
    """Probability that an estimator with no error and standard error ``se`` yields an
    interval entirely outside ±``half_band`` (both sides)."""
    return float(2 * stats.norm.sf(z_crit(alpha) + half_band / se))
