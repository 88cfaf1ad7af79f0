"""Whether a way of drawing a weight afresh draws the model's own distribution.

A way (a layer's initializer object, a module's own init code) is only an optimisation
of rebuilding the model: it must draw what the model's construction drew. It is
compared with the model's own values of that weight, and with the other weights it
draws:

- a constant must be drawn as the same constant; a draw equal to the model's
  (non-constant) values did not draw at all, unless the way starts from nothing (a
  replay of construction's calls): then construction is deterministic and reproduced;
- the std, on the log scale, in standard errors ``z`` (from both samples' kurtosis:
  Var(log s) ≈ (κ − 1)/(4n)): ``|z|`` > :data:`Z_LIMIT` fails the weight. Both samples'
  std leave out values beyond :data:`FAR` robust σ (from the interquartile range) of
  their median: one value a float32 ``erfinv(−1)`` sends to a clamp at 100 σ moves the
  std of 10⁵ values by 5 %, far beyond its standard error, though the way draws exactly
  what the model drew (the checks judge such values; this only asks whether it is the
  same way);
- the shape, by a two-sample Kolmogorov–Smirnov test at :data:`KS_ALPHA`;
- every weight a kind of way draws (all ``Conv2d`` modules' own init code, say)
  together: one weight that differs distrusts the kind (an init loop in a model's
  ``__init__`` treats every layer of a type alike, also those too small to show it), and
  so does Stouffer's combined ``Σz/√k`` at :data:`Z_LIMIT` (a slight shift in each
  layer, seen across the layers where no single layer shows it).

Each test's false-distrust rate is about 7·10⁻⁶ (``Z_LIMIT`` two-sided) or
:data:`KS_ALPHA`; a false distrust only costs speed (the factory is rebuilt) or, for an
instance, independent draws (its own values are audited).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

Z_LIMIT = 4.5
KS_ALPHA = 1e-5
KS_VALUES = 2**15  # values per sample for the KS test and the kurtosis (evenly strided)
SD_VALUES = 2**20  # values per sample for the std (its standard error is then ≤ 0.1 %)
MIN_VALUES = 8  # fewer values: only the constant rules apply
#: robust σ (IQR/1.349) from the median beyond which a value is left out of the std
FAR = 10.0


@dataclass(frozen=True)
class Fidelity:
    """How a way's draw compares with the model's own values of a weight.

    Attributes:
        reason: why it does not reproduce them (``""``: it does).
        z: the log std ratio in standard errors (0 where not measured).
        differs: the draw was compared and differs (a reason other than a way that
            could not run): the model's construction did something else.
    """

    reason: str
    z: float = 0.0
    differs: bool = True


def _strided(values: np.ndarray, limit: int = KS_VALUES) -> np.ndarray:
    flat = values.ravel()
    return flat[:: max(1, -(-flat.size // limit))]


def _sample(values: np.ndarray) -> np.ndarray:
    """At most :data:`KS_VALUES` of ``values``, evenly strided, sorted, as float64: the
    quartiles' and the KS test's sample (sorted once for both)."""
    return np.sort(np.asarray(_strided(values), dtype=np.float64))


def _near(values: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """The values (at most :data:`SD_VALUES`, evenly strided) within :data:`FAR` robust σ
    of their median (``sample``'s, :func:`_sample`); all of them where the interquartile
    range is 0."""
    x = np.asarray(_strided(values, SD_VALUES), dtype=np.float64)
    at = np.array([0.25, 0.5, 0.75]) * (sample.size - 1)  # numpy's "linear" percentiles
    below = np.floor(at).astype(int)
    above = np.minimum(below + 1, sample.size - 1)
    lo, mid, hi = sample[below] + (at - below) * (sample[above] - sample[below])
    sigma = (hi - lo) / 1.349
    return x if not sigma > 0 else x[np.abs(x - mid) <= FAR * sigma]


def _log_sd_error(a: np.ndarray, b: np.ndarray) -> float:
    """The standard error of log(sd(a)/sd(b)) for independent samples."""
    var = 0.0
    for x in (a, b):
        c = np.asarray(_strided(x), dtype=np.float64)  # the kurtosis from ≤ 2^15 values
        c = c - c.mean()
        c *= c
        m2 = float(np.mean(c))
        kurt = float(np.dot(c, c)) / c.size / m2**2 if m2 > 0 else 3.0
        var += max(kurt - 1.0, 0.2) / (4 * x.size)
    return math.sqrt(var)


def compare(drawn: np.ndarray, own: np.ndarray, fresh: bool = False) -> Fidelity:
    """Whether ``drawn`` reproduces the model's ``own`` values of one weight; ``fresh``:
    the way computes the weight from nothing (equal values are then its deterministic
    result, not values it left alone)."""
    if drawn.shape != own.shape:
        return Fidelity(f"it draws shape {drawn.shape}, the model holds {own.shape}")
    # each array's min and max, one pass each: NaN or Inf shows in them (no mask copy)
    (lo, hi), (d_lo, d_hi) = (
        (float(x.min()), float(x.max())) if x.size else (0.0, 0.0) for x in (own, drawn)
    )
    for what, ends in (("the model holds", (lo, hi)), ("it draws", (d_lo, d_hi))):
        if not all(map(math.isfinite, ends)):  # a non-finite statistic is never "same"
            return Fidelity(f"{what} NaN or Inf values")
    if own.size and lo == hi:  # a constant: the same constant
        if np.array_equal(drawn, own):
            return Fidelity("", differs=False)
        got = f"std {float(drawn.std(dtype=np.float64)):.3g}, mean {float(drawn.mean()):.3g}"
        return Fidelity(f"it draws {got}, the model holds the constant {lo:.3g}")
    if np.array_equal(_strided(drawn), _strided(own)) and np.array_equal(drawn, own):
        return Fidelity("", differs=False) if fresh else Fidelity("it leaves the values unchanged")
    sample_d, sample_o = _sample(drawn), _sample(own)
    near_d, near_o = _near(drawn, sample_d), _near(own, sample_o)
    sd_d, sd_o = float(near_d.std()), float(near_o.std())
    if sd_d == 0:
        return Fidelity(f"it draws a constant, the model holds std {sd_o:.3g}")
    if own.size < MIN_VALUES:
        return Fidelity("", differs=False)
    z = math.log(sd_d / sd_o) / _log_sd_error(near_d, near_o) if sd_o > 0 else math.inf
    if not abs(z) <= Z_LIMIT:  # NaN differs too
        return Fidelity(f"it draws std {sd_d:.3g}, the model holds std {sd_o:.3g}", z)
    if own.size >= 64:
        p = _ks_pvalue(sample_d, sample_o)
        if p < KS_ALPHA:
            return Fidelity(f"its distribution differs from the model's (KS p = {p:.1e})", z)
    return Fidelity("", z, differs=False)


def _ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """The two-sample Kolmogorov–Smirnov p-value of ``scipy.stats.ks_2samp`` where it
    could be below :data:`KS_ALPHA`; else the asymptotic one (Kolmogorov's limit, from
    the statistic computed here): a weight whose asymptotic p is above 100 × KS_ALPHA
    skips scipy's exact computation (its fixed cost is most of a small weight's). ``a``
    and ``b`` are sorted."""
    x, y = a, b
    both = np.concatenate([x, y])
    d = float(
        np.max(
            np.abs(
                np.searchsorted(x, both, "right") / x.size
                - np.searchsorted(y, both, "right") / y.size
            )
        )
    )
    lam = d * math.sqrt(x.size * y.size / (x.size + y.size))  # Q(λ) = 2Σ(−1)^(k−1)e^(−2k²λ²)
    series = (2 * (-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    p = 1.0 if lam < 0.3 else sum(series)  # Q(0.3) = 0.99999, and Q falls with λ
    return p if p > 100 * KS_ALPHA else float(stats.ks_2samp(a, b).pvalue)


def combined_z(zs: list[float]) -> float:
    """Stouffer's combined z of independent weights' ``z``."""
    return sum(zs) / math.sqrt(len(zs)) if zs else 0.0
