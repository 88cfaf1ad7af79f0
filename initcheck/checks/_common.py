"""Helpers shared by the checks."""

from __future__ import annotations

import numpy as np

from initcheck.results import CheckResult
from initcheck.sampling import Samples


def shapes_text(shapes: tuple[tuple[int, ...], ...], limit: int = 4) -> str:
    text = ", ".join(str(s) for s in shapes[:limit])
    return text + (f" and {len(shapes) - limit} more" if len(shapes) > limit else "")


def sampling_failure(check: str, samples: Samples) -> CheckResult | None:
    """A failed result if the initializer misbehaved while being sampled."""
    if samples.error is None:
        return None
    return CheckResult(
        check=check,
        initializer=samples.initializer,
        passed=False,
        message=f"the initializer misbehaved: {samples.error}",
        shapes=samples.shape_tuple,
        details={"error": samples.error},
    )


def identical_note(samples: Samples) -> str:
    if not samples.identical:
        return ""
    return (
        " Note: the initializer returned the very same tensor for different seeds, so only "
        "one draw per shape is independent; accept `seed=` (or use a fresh random state per "
        "call) to allow pooling."
    )


def decide(low: float, high: float, band_low: float, band_high: float, enough: bool) -> str:
    """``"fail"`` if the interval lies outside the band, ``"pass"`` if inside it or if the
    sample reached its planned size, else ``"inconclusive"`` (too few values to decide)."""
    if low > band_high or high < band_low:
        return "fail"
    if (band_low <= low and high <= band_high) or enough:
        return "pass"
    return "inconclusive"


def subsample(z: np.ndarray, seed: int, size: int = 2000) -> list[float]:
    """A reproducible random subsample of standardized values, for histograms in reports."""
    if z.size > size:
        z = np.random.default_rng(seed).choice(z, size=size, replace=False)
    return [round(float(v), 4) for v in z]
