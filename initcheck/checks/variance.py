"""Variance against the fan target: Var(W) ≈ target(fan_in, fan_out).

Values of every shape are divided by that shape's target std and pooled, so the
statistic is the variance ratio Var(W)/target (1 when correct). Its ``1 - alpha``
interval comes from the sample's own fourth moment (:func:`initcheck.stats.estimate_variance`).

Decision: fail when the whole interval lies outside the band
``[1/(1+std_tolerance)², (1+std_tolerance)²]``. False-failure rate ≤ alpha/2 at the band
edge (far less for an exact initializer); a std off by a factor ``1 + std_detect`` fails
with probability ≥ ``power`` once the planned sample size is drawn.
"""

from __future__ import annotations

import math

from initcheck import stats
from initcheck.checks._common import decide, identical_note, sampling_failure, shapes_text
from initcheck.checks.scaling import scaling_figures
from initcheck.registry import Check, register
from initcheck.results import CheckResult
from initcheck.sampling import Samples
from initcheck.settings import Settings

__all__ = ["CHECK", "check_variance"]


def check_variance(samples: Samples, settings: Settings) -> CheckResult:
    """Is Var(W)/target within the tolerance band? Requires ``samples.target``."""
    if samples.target is None:
        raise ValueError("check_variance needs a variance target; collect samples with target=...")
    failed = sampling_failure("variance", samples)
    if failed:
        return failed
    z = samples.pooled_moments()  # streamed float64 summaries of every value drawn
    shapes = samples.shape_tuple
    label = samples.target.label
    tol = settings.std_tolerance
    band = ((1 + tol) ** -2, (1 + tol) ** 2)
    est = stats.variance_from_moments(z, settings.alpha)
    required = stats.required_n_variance(
        est.kurtosis, tol, settings.std_detect, settings.alpha, settings.power
    )
    per_shape = {
        str(s.shape): {
            "variance": s.moments().m2 / max(s.moments().n, 1),
            "target": s.target_std**2 if s.target_std else None,
            "ratio": s.standardized_moments().m2 / max(s.standardized_moments().n, 1),
            "fan_in": s.fans.fan_in,
            "fan_out": s.fans.fan_out,
            "n": s.n,
        }
        for s in samples.shapes
    }
    details = {
        "target": label,
        "band": list(band),
        "std_ratio": math.sqrt(est.statistic),
        "kurtosis": est.kurtosis,
        "required_n": required,
        "false_failure_rate_if_exact": stats.false_failure_rate(
            est.se_log, 2 * math.log1p(tol), settings.alpha
        ),
        "per_shape": per_shape,
    }
    verdict = decide(est.low, est.high, *band, enough=z.n >= required)
    std_ratio = math.sqrt(est.statistic)
    ci = f"{100 * (1 - settings.alpha):.4g}% CI [{est.low:.4f}, {est.high:.4f}]"
    where = f"shapes {shapes_text(shapes)}"
    if est.statistic == 0:
        verdict = "fail"
        msg = f"variance is zero: every value is equal on {where}; target Var = {label}."
    elif verdict == "fail":
        worst_shape, worst = max(
            per_shape.items(), key=lambda kv: abs(math.log(kv[1]["ratio"] or 1e-300))
        )
        kind = "too small" if est.statistic < 1 else "too large"
        msg = (
            f"variance {kind}: Var(W) = {est.statistic:.4f} × target (std × {std_ratio:.4f}; "
            f"{ci}); target Var = {label} (std within ×{1 + tol:g}); on {where}; "
            f"e.g. shape {worst_shape}: Var = {worst['variance']:.4g}, "
            f"target {worst['target']:.4g}.{identical_note(samples)}"
        )
    elif verdict == "inconclusive":
        msg = (
            f"inconclusive: Var(W) = {est.statistic:.4f} × target ({ci}) may be outside the "
            f"tolerance (std within ×{1 + tol:g} of {label}); only {z.n} of {required} "
            f"values needed could be drawn on {where}.{identical_note(samples)}"
        )
    else:
        msg = (
            f"Var(W) = {est.statistic:.4f} × target (std × {std_ratio:.4f}; {ci}) matches "
            f"{label} within ×{1 + tol:g} in std, n={z.n}."
        )
    return CheckResult(
        check="variance",
        initializer=samples.initializer,
        passed=verdict == "pass",
        message=msg,
        statistic=est.statistic,
        target=1.0,
        interval=(est.low, est.high),
        alpha=settings.alpha,
        n=int(z.n),
        shapes=shapes,
        details=details,
    )


CHECK = register(
    Check(
        name="variance",
        run=lambda ctx: check_variance(ctx.samples, ctx.settings),
        summary="Var(W) ≈ the fan target, pooled over shapes and seeds",
        unit="Var(W) / target",
        when="variance",
        needs=frozenset({"variance"}),
        requires=("variance",),
        order=40,
        figure=scaling_figures,
    )
)
