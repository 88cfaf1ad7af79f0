"""Checks of a weight's own values that are not a fan rule: a constant (a bias, a norm's
γ or β, a branch scale: finite and equal to its intended value, identity-at-init when it
closes a branch), a table its init computes (sinusoidal positions: finite, distinct rows)
a (semi-)orthogonal recurrent matrix (gain 1), and a declared truncation (every value
within ``at`` stds)."""

from __future__ import annotations

import numpy as np

from initcheck.declared import Declared
from initcheck.models.draws import ModelDraws, piece_values
from initcheck.models.records import WeightPiece
from initcheck.models.weightrow import Status
from initcheck.results import CheckResult
from initcheck.sampling import draw_seed
from initcheck.settings import Settings

ORTHO_TOL = 1e-3  # max |G/c - I| of a (semi-)orthogonal matrix in float32
SMALL_SCALE = 1e-2  # a LayerScale γ at most this is "near the identity"


def _base(piece: WeightPiece, values: np.ndarray, check: str = "constant") -> dict:
    return dict(
        check=check, initializer=piece.name, n=int(values.size), shapes=(tuple(values.shape),)
    )


def constant_result(piece: WeightPiece, values: np.ndarray) -> tuple[CheckResult, Status]:
    """The constant check, and a status (identity-at-init, or none)."""
    base = _base(piece, values)
    if not np.isfinite(values).all():
        bad = int(values.size - np.isfinite(values).sum())
        return CheckResult(passed=False, message=f"{bad} non-finite value(s).", **base), Status.NONE
    flat = values.ravel()
    same = flat.size > 0 and bool(np.all(flat == flat[0]))
    if piece.role == "scale":
        v = float(flat[0]) if same else None
        if v == 0.0:
            why = "α = 0: the branch starts switched off (ReZero/SkipInit, De & Smith 2020)"
            return CheckResult(passed=True, message=why, **base), Status.IDENTITY_AT_INIT
        if v is not None and abs(v) <= SMALL_SCALE:
            why = f"LayerScale γ = {v:g}: the branch starts near the identity (Touvron et al. 2021)"
            return CheckResult(passed=True, message=why, **base), Status.IDENTITY_AT_INIT
        return CheckResult(passed=True, message="finite branch scale.", **base), Status.NONE
    if piece.role == "offset":
        if same and flat[0] == 0.0:
            why = (
                "zero at init: added to the signal, it adds nothing until trained (a "
                "learned token, position table or bias; read from its use)"
            )
            return CheckResult(passed=True, message=why, **base), Status.IDENTITY_AT_INIT
        finite = "finite offset added to the signal."
        return CheckResult(passed=True, message=finite, **base), Status.NONE
    if piece.constant is None:
        msg = "finite (random by the framework's design)."
        return CheckResult(passed=True, message=msg, **base), Status.NONE
    if piece.unmeasured and same and flat[0] == 0.0:
        msg = f"every value 0, and {piece.unmeasured}."
        return CheckResult(verdict="inconclusive", message=msg, **base), Status.NONE
    if piece.constant == 1.0 and same and flat[0] == 0.0 and piece.branch_end:
        why = (
            "γ = 0 closes a residual branch: the block starts as the identity "
            "(zero-init residual, Goyal et al. 2017)"
        )
        return CheckResult(passed=True, message=why, **base), Status.IDENTITY_AT_INIT
    wrong = values != piece.constant
    if wrong.any():
        msg = (
            f"expected every value = {piece.constant:g} (the framework's intended init); "
            f"{int(wrong.sum())} of {values.size} differ (e.g. {values[wrong].flat[0]:.4g})."
        )
        stat = float(np.abs(values - piece.constant).max())
        return CheckResult(
            passed=False, message=msg, statistic=stat, target=piece.constant, **base
        ), Status.NONE
    return CheckResult(
        passed=True, message=f"all {values.size} values = {piece.constant:g}.", **base
    ), Status.NONE


def deterministic_table(
    piece: WeightPiece,
    values: np.ndarray,
    draws: ModelDraws,
    settings: Settings,
    limit: int,
) -> CheckResult | None:
    """A table its init computes rather than draws (sinusoidal positions: the same values
    under two seeds) is checked as a table, finite with distinct rows, not as random
    draws; ``None`` for a drawn table."""
    other = piece_values(draws, piece, draw_seed(settings.seed, 0, 1), limit)
    flat = values.reshape(len(values), -1) if values.ndim else values.reshape(1, 1)
    if (
        other.shape != values.shape
        or not np.array_equal(other, values)
        or np.all(flat == flat.flat[0])
    ):
        return None
    base = _base(piece, values, "table")
    if not np.isfinite(values).all():
        return CheckResult(passed=False, message="a computed table with non-finite values.", **base)
    distinct = len(np.unique(flat, axis=0))
    ok = distinct == len(flat)
    message = (
        f"a computed table (the same under two seeds, as sinusoidal positions): finite, "
        f"{distinct} distinct rows of {len(flat)}" + ("" if ok else ": some rows repeat exactly")
    )
    return CheckResult(passed=ok, message=message, **base)


def orthogonality(piece: WeightPiece, values: np.ndarray, tol: float) -> CheckResult | None:
    """A pass for a (semi-)orthogonal matrix with gain within ×(1+tol); ``None`` if it is not
    orthogonal (the per-gate fan rule then decides)."""
    m = np.asarray(values, dtype=np.float64).reshape(values.shape[0], -1)
    g = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
    c = float(np.mean(np.diag(g)))
    if not c > 0 or np.abs(g / c - np.eye(len(g))).max() > ORTHO_TOL:
        return None
    gain = float(np.sqrt(c))
    ok = 1 / (1 + tol) <= gain <= 1 + tol
    what = "rows" if m.shape[0] <= m.shape[1] else "columns"
    return CheckResult(
        check="orthogonality",
        initializer=piece.name,
        passed=ok,
        message=(
            f"{what} orthonormal with gain {gain:.4g}: the recurrent map keeps the state's norm"
            + ("." if ok else f"; the gain should be 1 (within ×{1 + tol:g}).")
        ),
        statistic=gain,
        target=1.0,
        n=int(values.size),
        shapes=(tuple(values.shape),),
    )


def truncation(piece: WeightPiece, values: np.ndarray, declared: Declared) -> CheckResult:
    """Every value within the declared truncation, ``at`` declared stds (a bound: no false
    failures; an untruncated normal puts 4.6% of its values beyond 2σ, so thousands of
    values fail it with certainty)."""
    std = declared.std_value
    reach = float(np.max(np.abs(values))) / std if values.size else float("nan")
    ok = bool(reach <= declared.at * (1 + 1e-6)) if declared.at is not None else False
    where = f"{tuple(values.shape)} values of {piece.name}"
    message = (
        f"every one of the {where} lies within {declared.at:g}σ (σ = {std:.4g}, declared "
        f"{declared.text}): measured reach {reach:.3g}σ"
        if ok
        else f"truncation not where declared: the {where} reach {reach:.3g}σ (σ = "
        f"{std:.4g}), beyond the declared {declared.at:g}σ of {declared.text} (trunc_normal_'s "
        "a and b are absolute values, not multiples of std: pass a=-at*std, b=at*std)"
    )
    return CheckResult(
        passed=ok,
        message=message,
        statistic=reach,
        target=declared.at,
        **_base(piece, values, "truncation"),
    )
