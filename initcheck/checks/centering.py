"""Zero-centering: the mean of the weights, in units of the target std, is ≈ 0.

Decision: the ``1 - alpha`` t-interval of the pooled standardized mean must not lie
entirely outside ``±mean_tolerance``. False-failure rate ≤ alpha/2 at the tolerance
edge; a mean of ``mean_detect`` target stds fails with probability ≥ ``power`` once the
planned sample size is reached (:func:`initcheck.stats.required_n_mean`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from initcheck import stats
from initcheck.checkdef import Check
from initcheck.checks._common import (
    decide,
    identical_note,
    not_applicable,
    sampling_failure,
    shapes_text,
    structure,
    subsample,
)
from initcheck.report.inputs import finite_floats
from initcheck.report.svg import SvgPlot
from initcheck.results import CheckResult
from initcheck.sampling import Samples
from initcheck.settings import Settings

if TYPE_CHECKING:
    from initcheck.context import CheckContext


def check_centering(samples: Samples, settings: Settings) -> CheckResult:
    """Is the pooled mean (in target-std units) within ``±settings.mean_tolerance``?"""
    failed = sampling_failure("centering", samples)
    if failed:
        return failed
    z = samples.pooled_moments()  # streamed float64 summaries of every value drawn
    unit = "target std" if samples.target is not None else "std"
    shapes = samples.shape_tuple
    base: dict[str, Any] = dict(
        check="centering",
        initializer=samples.initializer,
        target=0.0,
        alpha=settings.alpha,
        n=int(z.n),
        shapes=shapes,
    )
    est = stats.mean_from_moments(z, settings.alpha)
    tol = settings.mean_tolerance
    details: dict[str, Any] = {
        "tolerance": tol,
        "sd": est.sd,
        "required_n": stats.required_n_mean(
            est.sd, tol, settings.mean_detect, settings.alpha, settings.power
        ),
        "per_shape": {str(s.shape): s.standardized_moments().mean for s in samples.shapes},
        "sample": _histogram_sample(samples, settings.seed),
        "sample_unit": unit,
    }
    if est.sd == 0 and est.statistic != 0:
        msg = (
            f"not zero-centered: every value equals {est.statistic:.4g} {unit} "
            f"(target mean 0 ± {tol:g} {unit}) on shapes {shapes_text(shapes)}"
        )
        return CheckResult(
            passed=False,
            message=msg,
            statistic=est.statistic,
            interval=(est.low, est.high),
            details=details,
            **base,
        )
    verdict = decide(est.low, est.high, -tol, tol, enough=z.n >= details["required_n"])
    ci = f"{100 * (1 - settings.alpha):.4g}% CI [{est.low:.4f}, {est.high:.4f}]"
    if verdict == "fail":
        worst = max(details["per_shape"].items(), key=lambda kv: abs(kv[1]))
        msg = (
            f"not zero-centered: mean = {est.statistic:.4f} {unit} ({ci}), target 0 ± {tol:g} "
            f"{unit}, on shapes {shapes_text(shapes)}; largest on shape {worst[0]}: "
            f"{worst[1]:.4f}.{identical_note(samples)}"
        )
    elif verdict == "inconclusive":
        msg = (
            f"inconclusive: mean = {est.statistic:.4f} {unit} ({ci}) could be outside "
            f"0 ± {tol:g} {unit}, and only {z.n} of the {details['required_n']} values "
            f"needed to decide could be drawn on shapes {shapes_text(shapes)}."
            f"{identical_note(samples)}"
        )
    else:
        msg = f"mean = {est.statistic:.4f} {unit} ({ci}) is within 0 ± {tol:g} {unit}, n={z.n}."
    return CheckResult(
        verdict=verdict,
        message=msg,
        statistic=est.statistic,
        interval=(est.low, est.high),
        details=details,
        **base,
    )


def _histogram_sample(samples: Samples, seed: int, size: int = 2000) -> list[float]:
    """A reproducible subsample of the standardized values (for the report's histogram),
    drawn shape by shape in proportion to each shape's values, without pooling them."""
    total = sum(s.n for s in samples.shapes)
    rng = np.random.default_rng(seed)
    parts = []
    for s in samples.shapes:
        if not s.draws or total == 0:
            continue
        k = min(s.n, max(1, round(size * s.n / total)))
        picks = np.sort(rng.choice(s.n, k, replace=False))
        size1 = s.draws[0].size
        vals = np.empty(k, dtype=np.float64)
        ends = np.searchsorted(picks, size1 * np.arange(len(s.draws) + 1))  # picks by draw
        for d_i in np.flatnonzero(np.diff(ends)):
            at = slice(ends[d_i], ends[d_i + 1])
            m = s.summaries[d_i]
            scale = s.target_std if s.target_std is not None else (m.std or 1.0)
            vals[at] = s.draws[d_i].reshape(-1)[picks[at] - d_i * size1] / scale
        parts.append(vals)
    z = np.concatenate(parts) if parts else np.empty(0)
    return subsample(z, seed, size)


def histogram_svg(details: Mapping[str, Any]) -> str | None:
    """Histogram of standardized weights (density) with the N(0, 1) reference curve."""
    sample = finite_floats(details.get("sample") or ())
    if len(sample) < 2:
        return None
    span = max(4.0, min(12.0, max(abs(min(sample)), abs(max(sample)))))
    nb = 48
    width = 2 * span / nb
    counts = [0] * nb
    for v in sample:
        counts[min(nb - 1, max(0, int((v + span) / width)))] += 1
    edges = [-span + i * width for i in range(nb + 1)]
    dens = [c / (len(sample) * width) for c in counts]
    unit = str(details.get("sample_unit") or "target std")
    plot = SvgPlot(width=560, xlabel=f"weight / {unit}", ylabel="density", legend="right")
    plot.bars(edges, dens, color="#8fb3d9", label=f"sampled weights (n={len(sample)})")
    grid = [-span + i * span / 60 for i in range(121)]
    plot.line(
        grid,
        [math.exp(-g * g / 2) / math.sqrt(2 * math.pi) for g in grid],
        color="#d62728",
        label="N(0, 1) reference",
    )
    plot.xlim = (-span, span)
    return plot.render()


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    svg = histogram_svg(result.get("details") or {})
    return [("Standardized weights against the N(0, 1) density", svg)] if svg else []


def _run(ctx: CheckContext) -> CheckResult:
    """Not applicable to a deterministic structured kernel (identity-like), else decided."""
    reason = structure(ctx.samples, ctx.plan.deterministic)
    if reason:
        return not_applicable("centering", ctx.samples, reason)
    return check_centering(ctx.samples, ctx.settings)


CHECK = Check(
    name="centering",
    run=_run,
    summary="mean ≈ 0 in units of the target std",
    unit=lambda r: f"mean / {(r.get('details') or {}).get('sample_unit', 'std')}",
    needs=frozenset({"mean"}),
    order=30,
    figure=_figures,
)
