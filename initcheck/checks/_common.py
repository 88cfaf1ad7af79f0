"""Helpers shared by the checks."""

from __future__ import annotations

import math

import numpy as np

from initcheck.results import MISBEHAVED, CheckResult
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
        message=f"{MISBEHAVED}{samples.error}",
        shapes=samples.shape_tuple,
        details={"error": samples.error},
    )


def identical_note(samples: Samples) -> str:
    if not samples.identical:
        return ""
    return (
        " Note: the initializer returned the very same tensor for different seeds, so only "
        f"one draw per shape is independent (to pool more: {samples.reseed})."
    )


def decide(low: float, high: float, band_low: float, band_high: float, enough: bool) -> str:
    """``"fail"`` if the interval lies outside the band, ``"pass"`` if inside it or if the
    sample reached its planned size, else ``"inconclusive"`` (too few values to decide)."""
    if low > band_high or high < band_low:
        return "fail"
    if (band_low <= low and high <= band_high) or enough:
        return "pass"
    return "inconclusive"


def _zero_taps(w: np.ndarray, samples: Samples) -> tuple[int, int]:
    """(taps exactly zero in every unit and input, taps) of a conv kernel; (0, 0) if dense."""
    layout = samples.layout.for_shape(w.shape)
    if layout.stacked:  # the members' units side by side: (*k, in, out·R) / (R·out, in, *k)
        inner = w.shape[layout.stacked :]
        members = w.reshape(-1, *inner)
        w = np.concatenate(list(members), axis=-1 if layout.framework == "keras" else 0)
    if w.ndim <= 2:
        return 0, 0
    if layout.framework == "keras":  # (*k, in, out)
        live = np.any(w.reshape(math.prod(w.shape[:-2]), -1) != 0, axis=1)
    else:  # (out, in, *k)
        live = np.any(w.reshape(w.shape[0] * w.shape[1], -1) != 0, axis=0)
    return int(live.size - np.count_nonzero(live)), int(live.size)


def structure(samples: Samples, deterministic: bool = False) -> str | None:
    """Why the draws are a structured kernel (not i.i.d. values), else ``None``.

    Structured: deterministic (declared, or the same tensor for every seed) *and*, on every
    sampled shape, at least half the values exactly zero or some receptive-field taps zero
    in every unit (identity-like kernels: ``torch.nn.init.dirac_``, ``eye_``). Mean, tail
    and distribution-family tests of i.i.d. values do not apply to them.

    Args:
        samples: the draws.
        deterministic: the initializer is declared deterministic by design.

    Returns:
        A sentence naming the structure, or ``None``.
    """
    drawn = [s for s in samples.shapes if s.draws]
    if not drawn or not (deterministic or samples.identical):
        return None
    found = []
    for s in drawn:
        w = np.asarray(s.draws[0])
        zeros = w.size - int(np.count_nonzero(w))
        if zeros == w.size:
            return None  # an all-zero kernel is broken, not structured
        taps, total = _zero_taps(w, samples)
        if taps:
            found.append(f"{taps} of {total} taps zero in every unit on {s.shape}")
        elif 2 * zeros >= w.size:
            found.append(f"{zeros} of {w.size} values zero on {s.shape}")
        else:
            return None
    return "a deterministic structured kernel (" + "; ".join(found[:3]) + ")"


def not_applicable(check: str, samples: Samples, reason: str) -> CheckResult:
    """A passed result saying ``check`` does not apply to these draws, and why."""
    return CheckResult(
        check=check,
        initializer=samples.initializer,
        passed=True,
        message=(
            f"not applicable: {reason}; {check} tests i.i.d. values, so it is not run "
            "(symmetry, degeneracy, variance and seeds still are)."
        ),
        n=samples.n,
        shapes=samples.shape_tuple,
        details={"not_applicable": reason},
    )


def subsample(z: np.ndarray, seed: int, size: int = 2000) -> list[float]:
    """A reproducible random subsample of standardized values, for histograms in reports."""
    if z.size > size:
        z = np.random.default_rng(seed).choice(z, size=size, replace=False)
    return np.round(np.asarray(z, dtype=np.float64), 4).tolist()
