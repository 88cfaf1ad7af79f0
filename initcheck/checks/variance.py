"""Variance against the fan target: Var(W) ≈ target(fan_in, fan_out).

Values of every shape are divided by that shape's target std and pooled, so the
statistic is the variance ratio Var(W)/target (1 when correct). Its ``1 - alpha``
interval comes from the sample's own fourth moment (:func:`initcheck.stats.estimate_variance`).

Decision: fail when the whole interval lies outside the band
``[1/(1+std_tolerance)², (1+std_tolerance)²]``. False-failure rate ≤ alpha/2 at the band
edge (far less for an exact initializer); a std off by a factor ``1 + std_detect`` fails
with probability ≥ ``power`` once the planned sample size is drawn.

Per-shape decisions: pooling after standardising lets opposite errors cancel (an MXNet
Xavier from before its fan fix is ×0.5 on dense shapes and ×1.23 on the large conv, which
holds most of the values, and pooled it reads ×1.01). So the shapes are also split into
groups — each large kernel (≥ :data:`initcheck.sampling.LARGE` values) on its own, the
other shapes by rank (dense, conv1d, ...) — and, when there are G ≥ 2 groups, each group's
ratio is decided with the same band at ``alpha/G`` (Bonferroni). A group only ever *fails*
(its interval wholly outside the band); too few values in it leave the decision to the
pooled one. Familywise false-failure rate at the band edge: ≤ alpha/2 (pooled) + G·alpha/(2G)
(groups) = alpha; ≈ 0 for an exact initializer. The pooled decision, its sample plan and
hence its power are unchanged.
"""

from __future__ import annotations

import math

from initcheck import stats
from initcheck.checkdef import Check
from initcheck.checks._common import decide, identical_note, sampling_failure, shapes_text
from initcheck.checks.scaling import scaling_figures
from initcheck.results import CheckResult
from initcheck.sampling import LARGE, Samples, ShapeDraws
from initcheck.settings import Settings

_RANK_NAMES = {2: "dense", 3: "conv1d", 4: "conv2d", 5: "conv3d"}


def shape_groups(shapes: list[ShapeDraws]) -> list[tuple[str, list[ShapeDraws]]]:
    """The groups whose variance level is decided on its own.

    Args:
        shapes: the sampled shapes.

    Returns:
        ``(label, shapes)`` pairs: each shape of ≥ ``LARGE`` values alone (labelled by
        its shape), the others grouped by rank ("dense shapes (3, 5), (256, 128)").
    """
    large = [s for s in shapes if math.prod(s.shape) >= LARGE]
    by_rank: dict[int, list[ShapeDraws]] = {}
    for s in shapes:
        if math.prod(s.shape) < LARGE:
            by_rank.setdefault(len(s.shape), []).append(s)
    groups = []
    for rank, members in sorted(by_rank.items()):
        kind = _RANK_NAMES.get(rank, f"rank-{rank}")
        text = ", ".join(str(m.shape) for m in members)
        plural = "shapes" if len(members) > 1 else "shape"
        groups.append((f"{kind} {plural} {text}", members))
    groups += [(str(s.shape), [s]) for s in large]
    return groups


def _group_decisions(samples: Samples, settings: Settings, band: tuple[float, float]) -> list:
    """Each group's ratio decided at alpha/G (G ≥ 2 groups, else no decisions)."""
    groups = [
        (label, members)
        for label, members in shape_groups(samples.shapes)
        if any(m.draws for m in members)
    ]
    if len(groups) < 2:
        return []
    alpha_g = settings.alpha / len(groups)
    out = []
    for label, members in groups:
        z = stats.Moments.empty()
        for m in members:
            z = z.combine(m.standardized_moments())
        est = stats.variance_from_moments(z, alpha_g)
        failed = est.statistic > 0 and (est.low > band[1] or est.high < band[0])
        out.append(
            {
                "group": label,
                "shapes": [list(m.shape) for m in members],
                "ratio": est.statistic,
                "interval": [est.low, est.high],
                "alpha": alpha_g,
                "n": int(z.n),
                "failed": bool(failed),
            }
        )
    return out


def _groups_text(failed: list[dict], alpha: float, n_groups: int) -> str:
    parts = []
    for g in failed:
        kind = "too small" if g["ratio"] < 1 else "too large"
        low, high = g["interval"]
        parts.append(f"{kind} ×{g['ratio']:.3g} on {g['group']} (CI [{low:.3g}, {high:.3g}])")
    return (
        "; ".join(parts)
        + f" (Var(W)/target per group of shapes, each decided at alpha/{n_groups} = "
        f"{alpha / n_groups:.3g}; familywise ≤ alpha = {alpha:g} with the pooled decision)"
    )


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
    groups = _group_decisions(samples, settings, band)
    details["groups"] = groups
    details["familywise_alpha"] = settings.alpha
    failed_groups = [g for g in groups if g["failed"]]
    verdict = decide(est.low, est.high, *band, enough=z.n >= required)
    std_ratio = math.sqrt(est.statistic)
    ci = f"{100 * (1 - settings.alpha):.4g}% CI [{est.low:.4f}, {est.high:.4f}]"
    where = f"shapes {shapes_text(shapes)}"
    defect = ""  # the failure's kind, as data (a model's findings group on it)
    if est.statistic == 0:
        verdict, defect = "fail", "zero"
        msg = f"variance is zero: every value is equal on {where}; target Var = {label}."
    elif verdict == "fail":
        worst_shape, worst = max(
            per_shape.items(), key=lambda kv: abs(math.log(kv[1]["ratio"] or 1e-300))
        )
        kind = defect = "too small" if est.statistic < 1 else "too large"
        msg = (
            f"variance {kind}: Var(W) = {est.statistic:.4f} × target (std × {std_ratio:.4f}; "
            f"{ci}); target Var = {label} (std within ×{1 + tol:g}); on {where}; "
            f"e.g. shape {worst_shape}: Var = {worst['variance']:.4g}, "
            f"target {worst['target']:.4g}.{identical_note(samples)}"
        )
        if failed_groups:
            msg += " Per group: " + _groups_text(failed_groups, settings.alpha, len(groups)) + "."
    elif failed_groups:
        verdict = "fail"
        worst_g = max(failed_groups, key=lambda g: abs(math.log(g["ratio"])))
        kind = "too small" if worst_g["ratio"] < 1 else "too large"
        defect = f"{kind} on some shapes"
        msg = (
            f"variance {kind} on some shapes: "
            f"{_groups_text(failed_groups, settings.alpha, len(groups))}; target Var = "
            f"{label} (std within ×{1 + tol:g}). Pooled over all shapes Var(W) = "
            f"{est.statistic:.4f} × target ({ci}): the pooled decision alone misses it."
            f"{identical_note(samples)}"
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
    if defect:
        details["defect"] = defect
    return CheckResult(
        check="variance",
        initializer=samples.initializer,
        verdict=verdict,
        message=msg,
        statistic=est.statistic,
        target=1.0,
        interval=(est.low, est.high),
        alpha=settings.alpha,
        n=int(z.n),
        shapes=shapes,
        details=details,
    )


CHECK = Check(
    name="variance",
    run=lambda ctx: check_variance(ctx.samples, ctx.settings),
    summary="Var(W) ≈ the fan target, pooled over shapes and seeds",
    unit="Var(W) / target",
    when="variance",
    needs=frozenset({"variance"}),
    declarations=("variance",),
    order=40,
    figure=scaling_figures,
)
