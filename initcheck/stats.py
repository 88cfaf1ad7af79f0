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


#: Values converted to float64 at a time when summarizing a tensor (8 MiB of float64).
CHUNK = 2**20


class Moments(NamedTuple):
    """Streamed summary of values: count, mean, central power sums 2-4, min and max.

    Computed in float64 a chunk at a time (:meth:`of`), so summarizing a float32 tensor
    never makes a float64 copy of all of it; summaries of parts combine exactly
    (:meth:`combine`, Pébay 2008 update formulas).
    """

    n: int
    mean: float
    m2: float
    m3: float
    m4: float
    lo: float
    hi: float

    @staticmethod
    def of(values: np.ndarray, chunk: int | None = None) -> Moments:
        """Summarize ``values`` (any float dtype), ``chunk`` values at a time (default: an
        eighth of the values, between 2**14 and :data:`CHUNK`, so the two float64
        temporaries stay within the values' own float32 bytes)."""
        flat = np.asarray(values).reshape(-1)
        if chunk is None:
            chunk = min(CHUNK, max(2**14, flat.size // 8))
        out = Moments.empty()
        for start in range(0, flat.size, chunk):
            x = flat[start : start + chunk].astype(np.float64)
            lo, hi = float(x.min()), float(x.max())
            mu = float(x.mean())
            x -= mu  # deviations, in place
            d2 = x * x
            part = Moments(
                x.size,
                mu,
                float(d2.sum()),
                float(np.dot(d2, x)),
                float(np.dot(d2, d2)),
                lo,
                hi,
            )
            out = out.combine(part)
        return out

    @staticmethod
    def rows(block: np.ndarray) -> np.ndarray:
        """Per-row summaries of a 2-D block (one draw a row) as a ``(rows, 7)`` float64
        array of ``(n, mean, m2, m3, m4, lo, hi)``: many small draws in a few numpy calls."""
        x = np.asarray(block, dtype=np.float64)
        mu = x.mean(axis=1)
        d = x - mu[:, None]
        d2 = d * d
        out = np.empty((x.shape[0], 7))
        out[:, 0] = x.shape[1]
        out[:, 1] = mu
        out[:, 2] = d2.sum(axis=1)
        out[:, 3] = (d2 * d).sum(axis=1)
        out[:, 4] = (d2 * d2).sum(axis=1)
        out[:, 5] = x.min(axis=1)
        out[:, 6] = x.max(axis=1)
        return out

    @staticmethod
    def pool(table: np.ndarray, scale: np.ndarray | float = 1.0) -> Moments:
        """The summary of all values of the parts in ``table`` (rows as in :meth:`rows`),
        each part's values first multiplied by ``scale`` (> 0; one number or one a row):
        exact, like :meth:`combine` over every row, in a few vectorized operations."""
        t = np.asarray(table, dtype=np.float64).reshape(-1, 7)
        c = np.broadcast_to(np.asarray(scale, dtype=np.float64), (t.shape[0],))
        keep = t[:, 0] > 0
        t, c = t[keep], c[keep]
        if t.shape[0] == 0:
            return Moments.empty()
        n, mu = t[:, 0], t[:, 1] * c
        m2, m3, m4 = t[:, 2] * c**2, t[:, 3] * c**3, t[:, 4] * c**4
        total = float(n.sum())
        mean = float((n * mu).sum() / total)
        e = mu - mean
        return Moments(
            int(total),
            mean,
            float((m2 + n * e**2).sum()),
            float((m3 + 3 * e * m2 + n * e**3).sum()),
            float((m4 + 4 * e * m3 + 6 * e**2 * m2 + n * e**4).sum()),
            float((t[:, 5] * c).min()),
            float((t[:, 6] * c).max()),
        )

    @staticmethod
    def empty() -> Moments:
        return Moments(0, 0.0, 0.0, 0.0, 0.0, math.inf, -math.inf)

    def combine(self, other: Moments) -> Moments:
        """The summary of both parts' values together."""
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        na, nb = self.n, other.n
        n = na + nb
        d = other.mean - self.mean
        m2 = self.m2 + other.m2 + d * d * na * nb / n
        m3 = (
            self.m3
            + other.m3
            + d**3 * na * nb * (na - nb) / n**2
            + 3 * d * (na * other.m2 - nb * self.m2) / n
        )
        m4 = (
            self.m4
            + other.m4
            + d**4 * na * nb * (na * na - na * nb + nb * nb) / n**3
            + 6 * d * d * (na * na * other.m2 + nb * nb * self.m2) / n**2
            + 4 * d * (na * other.m3 - nb * self.m3) / n
        )
        mean = self.mean + d * nb / n
        return Moments(n, mean, m2, m3, m4, min(self.lo, other.lo), max(self.hi, other.hi))

    def scaled(self, c: float) -> Moments:
        """The summary of the values multiplied by ``c > 0``."""
        return Moments(
            self.n,
            self.mean * c,
            self.m2 * c**2,
            self.m3 * c**3,
            self.m4 * c**4,
            self.lo * c,
            self.hi * c,
        )

    @property
    def std(self) -> float:
        """Population standard deviation (``ddof=0``, as ``np.std``)."""
        return math.sqrt(self.m2 / self.n) if self.n else 0.0

    @property
    def var(self) -> float:
        """Sample variance (``ddof=1``)."""
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    @property
    def kurtosis(self) -> float:
        """Pearson kurtosis ``n·m4/m2²`` (as ``scipy.stats.kurtosis(fisher=False, bias=True)``);
        3 for constant values."""
        if self.m2 <= 0 or self.hi <= self.lo:
            return 3.0
        k = self.n * self.m4 / self.m2**2
        return k if math.isfinite(k) else 3.0


def variance_from_moments(m: Moments, alpha: float) -> VarianceEstimate:
    """:func:`estimate_variance` from a :class:`Moments` summary."""
    n = m.n
    v = m.var
    kurt = m.kurtosis
    se = math.sqrt(max(kurt - 1.0, 1e-12) / max(n, 1))
    zc = z_crit(alpha)
    if v <= 0 or m.hi <= m.lo:
        return VarianceEstimate(0.0, 0.0, 0.0, kurt, se, n)
    return VarianceEstimate(v, v * math.exp(-zc * se), v * math.exp(zc * se), kurt, se, n)


def mean_from_moments(m: Moments, alpha: float) -> MeanEstimate:
    """:func:`estimate_mean` from a :class:`Moments` summary: the one-sample t interval
    (the interval of ``scipy.stats.ttest_1samp``), ``mean ± t(1-alpha/2, n-1)·sd/√n``."""
    sd = math.sqrt(m.var)
    if sd == 0 or m.hi <= m.lo:
        return MeanEstimate(m.mean, m.mean, m.mean, 0.0, m.n)
    half = float(stats.t.isf(alpha / 2, m.n - 1)) * sd / math.sqrt(m.n)
    return MeanEstimate(m.mean, m.mean - half, m.mean + half, sd, m.n)


def estimate_variance(z: np.ndarray, alpha: float) -> VarianceEstimate:
    """Sample variance of ``z`` with a log-scale delta-method interval."""
    return variance_from_moments(Moments.of(z), alpha)


def estimate_mean(z: np.ndarray, alpha: float) -> MeanEstimate:
    """Mean of ``z`` with the one-sample t interval (``scipy.stats.ttest_1samp``)."""
    return mean_from_moments(Moments.of(z), alpha)


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
