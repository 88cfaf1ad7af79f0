"""Distribution family: a goodness-of-fit test against the declared family.

One-sample Kolmogorov–Smirnov test (``scipy.stats.kstest``) of up to ``KS_SIZE``
standardized values against the family. Standardizing by each shape's own std makes the
test look at the *shape* of the distribution only, and conservative (Lilliefors), so the
false-failure rate is ≤ alpha. Power at n = 20,000 and alpha = 1e-4: the KS critical
distance is 0.0157 (``stats.kstwo.isf(1e-4, 20000)``); a uniform tested as normal or a
normal tested as uniform (distance 0.057) always fail; a truncated normal (±2σ) tested as
normal (distance 0.0167, measured 0.0196 ± 0.0016 with the sampling bias of the sup)
fails with power ≈ 0.99.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from initcheck.checkdef import Check
from initcheck.checks._common import not_applicable, sampling_failure, shapes_text, structure
from initcheck.checks.tails import FAMILIES, check_family, standardized
from initcheck.report.inputs import finite_float, finite_floats
from initcheck.report.svg import SvgPlot
from initcheck.results import CheckResult
from initcheck.sampling import Samples
from initcheck.settings import Settings

if TYPE_CHECKING:
    from initcheck.context import CheckContext

KS_SIZE = 20_000


def check_distribution(samples: Samples, settings: Settings, family: str) -> CheckResult:
    """Kolmogorov–Smirnov test of the standardized values against a declared family."""
    check_family(family)
    failed = sampling_failure("distribution", samples)
    if failed:
        return failed
    z = standardized(samples)
    if z.size > KS_SIZE:
        z = np.random.default_rng(settings.seed).choice(z, KS_SIZE, replace=False)
    res = stats.kstest(z, FAMILIES[family].cdf)
    shapes = samples.shape_tuple
    crit = float(stats.kstwo.isf(settings.alpha, z.size))
    passed = bool(res.pvalue >= settings.alpha)
    # which family fits best, to name the defect
    distances = {f: float(stats.kstest(z, d.cdf).statistic) for f, d in FAMILIES.items()}
    closest = min(distances, key=distances.__getitem__)
    details = {
        "family": family,
        "ks_distance": float(res.statistic),
        "critical": crit,
        "distances": distances,
        "closest": closest,
    }
    if passed:
        msg = (
            f"consistent with a {family} family: KS distance {res.statistic:.4f} "
            f"(p = {res.pvalue:.3g} ≥ alpha {settings.alpha:g}), n={z.size}."
        )
    else:
        msg = (
            f"not {family}: KS distance {res.statistic:.4f} > {crit:.4f} "
            f"(p = {res.pvalue:.3g} < alpha {settings.alpha:g}) on shapes "
            f"{shapes_text(shapes)}, n={z.size}; closest family: {closest} "
            f"(distance {distances[closest]:.4f})."
        )
    return CheckResult(
        check="distribution",
        initializer=samples.initializer,
        passed=passed,
        message=msg,
        statistic=float(res.statistic),
        target=crit,
        pvalue=float(res.pvalue),
        alpha=settings.alpha,
        n=int(z.size),
        shapes=shapes,
        details=details,
    )


def family_svg(details: Mapping[str, Any]) -> str | None:
    """KS distance of the standardized weights to each family, against the critical
    distance; the declared family in black."""
    distances = details.get("distances")
    crit = finite_floats([details.get("critical")])
    if not isinstance(distances, Mapping) or not distances or not crit:
        return None
    names = [str(k) for k in distances]
    ys = [math.nan if (f := finite_float(distances[k])) is None else f for k in names]
    xs = [float(i) for i in range(len(names))]
    plot = SvgPlot(width=420, ylabel="KS distance", legend="right")
    plot.line([-0.5, len(names) - 0.5], [crit[0]] * 2, color="#d62728", dash="4,3",
              label="critical distance")  # fmt: skip
    plot.points(xs, ys, color="#1f77b4", label="distance to the family")
    declared = str(details.get("family") or "")
    if declared in names:
        i = names.index(declared)
        plot.points([xs[i]], [ys[i]], color="#000000", label=f"declared: {declared}")
    plot.xticks = [(x, n) for x, n in zip(xs, names, strict=True)]
    plot.xlim = (-0.5, len(names) - 0.5)
    plot.ylim = (0.0, max([crit[0], *[y for y in ys if math.isfinite(y)]]) * 1.1)
    return plot.render()


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    svg = family_svg(result.get("details") or {})
    caption = (
        "Kolmogorov–Smirnov distance of the standardized weights to each family (the "
        "declared one in black); the test fails above the dashed critical distance"
    )
    return [(caption, svg)] if svg else []


def _run(ctx: CheckContext) -> CheckResult:
    """Not applicable to a deterministic structured kernel (identity-like), else decided."""
    reason = structure(ctx.samples, ctx.plan.deterministic)
    if reason:
        return not_applicable("distribution", ctx.samples, reason)
    return check_distribution(ctx.samples, ctx.settings, ctx.plan.family or "")


CHECK = Check(
    name="distribution",
    run=_run,
    summary="Kolmogorov–Smirnov test against the declared family",
    unit="KS distance",
    when="family",
    needs=frozenset({"mean"}),
    declarations=("family",),
    order=65,
    figure=_figures,
    choices={"family": tuple(FAMILIES)},
    by_chance=True,
)
