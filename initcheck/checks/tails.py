"""Tails: rare huge outliers.

Tails: nonzero values are centred and divided by the mean and std of each shape's
nonzero values (a wrong scale is the variance check's finding, not a tail; exact zeros
are structure — sparse, Dirac and delta-orthogonal kernels — not draws of the family),
with the limit widened by those estimates' upper ``1 - alpha`` error bounds
(``exp(z·½·√((κ-1)/n))`` for the std, κ the family's kurtosis, and ``z/√n`` for the
mean), so small shapes drawn a few times do not fail by chance. The distribution test
standardizes by each shape's own std, so it looks at the *shape* of the distribution only.

Tails: the largest |z| among n values must stay below what the family allows:

- ``"normal"`` or undeclared: P(max |z| > t) = alpha for n iid standard normals gives
  ``t = Φ⁻¹(1 - alpha/(2n))`` (≈ 6.0 for n = 10⁵ at alpha = 1e-4); false-failure rate
  alpha for a normal initializer (lighter-tailed families fail even less often);
- ``"truncated_normal"`` (±2σ before the 0.8796 correction): |z| ≤ 2/0.8796 = 2.274;
- ``"uniform"``: |z| ≤ √3 = 1.732;

bounded families get a slack of ``std_tolerance``. A truncated normal that emits one
value at 1000σ among 10⁵ barely moves the variance but fails here.

The goodness-of-fit test against a declared family is :mod:`initcheck.checks.distribution`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from initcheck.checkdef import Check
from initcheck.checks._common import not_applicable, sampling_failure, shapes_text, structure
from initcheck.results import CheckResult
from initcheck.sampling import Samples, ShapeDraws
from initcheck.settings import Settings

if TYPE_CHECKING:
    from initcheck.context import CheckContext
from initcheck.report.figures import shape_rows
from initcheck.report.inputs import finite_floats
from initcheck.report.svg import SvgPlot
from initcheck.stats import CHUNK, Moments, z_crit

TRUNC_STD = float(stats.truncnorm.std(-2, 2))  # 0.8796256610342398

FAMILIES = {
    # family -> frozen scipy distribution of a value standardized to unit variance
    "normal": stats.norm(),
    "truncated_normal": stats.truncnorm(-2, 2, scale=1 / TRUNC_STD),
    "uniform": stats.uniform(-math.sqrt(3), 2 * math.sqrt(3)),
}


def check_family(family: str | None) -> None:
    if family is not None and family not in FAMILIES:
        raise ValueError(
            f"Unknown distribution family: expected one of {sorted(FAMILIES)} or None. "
            f"Received: family={family!r}"
        )


#: Values per shape :func:`standardized` returns at most (a seeded uniform subsample
#: beyond: a goodness-of-fit test on 2**20 values already resolves any practical defect).
MAX_STANDARDIZED = 2**20


def standardized(samples: Samples, seed: int = 0) -> np.ndarray:
    """Values centred and divided by each shape's own mean and std (all values, exact
    zeros included), at most :data:`MAX_STANDARDIZED` per shape."""
    parts = []
    for s in samples.shapes:
        if not s.draws:
            continue
        m = s.moments()
        if s.n > MAX_STANDARDIZED:
            flat = [d.reshape(-1) for d in s.draws]
            size = flat[0].size
            picks = np.random.default_rng([seed, s.n]).choice(s.n, MAX_STANDARDIZED, False)
            picks.sort()
            v = np.concatenate(
                [flat[k][picks[picks // size == k] % size] for k in range(len(flat))]
            ).astype(np.float64)
        else:
            v = s.values()
        sd = m.std
        parts.append((v - m.mean) / sd if sd > 0 else v - m.mean)
    return np.concatenate(parts) if parts else np.empty(0)


def tail_limit(family: str | None, n: int, settings: Settings) -> float:
    """The largest |z| the family allows among ``n`` values of known std."""
    if family in (None, "normal"):
        return float(stats.norm.isf(settings.alpha / (2 * n)))
    bound = float(FAMILIES[family].support()[1])
    return bound * (1 + settings.std_tolerance)


def _scale_slack(family: str | None, n: int, alpha: float) -> float:
    """Factor by which a std *estimated* from ``n`` values may understate the true one
    (upper ``1 - alpha`` bound; se(log sd) = ½·√((κ - 1)/n), κ the family's kurtosis)."""
    kurt = float(FAMILIES[family or "normal"].stats(moments="k")) + 3
    return math.exp(z_crit(alpha) * 0.5 * math.sqrt((kurt - 1) / max(n, 2)))


def _beyond(s: ShapeDraws, mean: float, sd: float, limit: float) -> int:
    """Nonzero values of ``s`` farther than ``limit·sd`` from ``mean`` (chunked)."""
    count = 0
    for d in s.draws:
        flat = d.reshape(-1)
        for start in range(0, flat.size, CHUNK):
            x = flat[start : start + CHUNK].astype(np.float64)
            count += int(np.count_nonzero((np.abs(x - mean) > limit * sd) & (x != 0)))
    return count


def _per_shape(
    samples: Samples, settings: Settings, family: str | None
) -> list[tuple[tuple[int, ...], float, float, int]]:
    """Per shape: (shape, max |z|, limit, values beyond the limit).

    z is a nonzero value centred and divided by the mean and std of the shape's nonzero
    values: exact zeros are structural (sparse, Dirac and delta-orthogonal kernels), not
    draws of the family. Computed from streamed summaries (min, max, moments), so the
    cost is one pass over the values however large the kernel.
    """
    drawn = [s for s in samples.shapes if s.draws]
    parts = []
    for s in drawn:
        m = Moments.empty()
        for part in s.nonzero:
            m = m.combine(part)
        parts.append(m)
    n_total = max(sum(m.n for m in parts), 1)
    out = []
    for s, m in zip(drawn, parts, strict=True):
        if m.n == 0:
            out.append((s.shape, 0.0, math.inf, 0))
            continue
        # the shape's own centre and scale (a scale error is the variance check's, not a
        # tail); the limit widens by the error bounds of those estimates
        a = settings.alpha / len(drawn)
        sd = m.std
        worst = max(m.hi - m.mean, m.mean - m.lo)
        worst_z = worst / sd if sd > 0 else 0.0
        limit = tail_limit(family, n_total, settings) * _scale_slack(family, m.n, a)
        limit += z_crit(a) / math.sqrt(m.n)
        beyond = _beyond(s, m.mean, sd, limit) if worst_z > limit else 0
        out.append((s.shape, float(worst_z), limit, beyond))
    return out


def check_tails(samples: Samples, settings: Settings, family: str | None = None) -> CheckResult:
    """Is the largest standardized |value| within what the family allows?"""
    check_family(family)
    failed = sampling_failure("tails", samples)
    if failed:
        return failed
    rows = _per_shape(samples, settings, family)
    shape, worst, limit, _ = max(rows, key=lambda r: r[1] / r[2])
    beyond = sum(r[3] for r in rows)
    n = samples.n
    unit = "std"
    fam = family or "normal (undeclared)"
    details = {
        "family": fam,
        "max_abs_z": worst,
        "limit": limit,
        "beyond": beyond,
        "per_shape": {str(r[0]): {"max_abs_z": r[1], "limit": r[2]} for r in rows},
    }
    base: dict[str, Any] = dict(
        check="tails",
        initializer=samples.initializer,
        statistic=worst,
        target=limit,
        alpha=settings.alpha if family in (None, "normal") else None,
        n=n,
        shapes=samples.shape_tuple,
        details=details,
    )
    if beyond:
        msg = (
            f"extreme outliers: max |w| = {worst:.4g} {unit} on shape {shape} ({beyond} "
            f"value(s) beyond the limit) among {n} values on shapes "
            f"{shapes_text(samples.shape_tuple)}; a {fam} family allows at most "
            f"{limit:.3g} {unit}."
        )
        return CheckResult(passed=False, message=msg, **base)
    msg = f"max |w| = {worst:.3g} {unit} ≤ {limit:.3g} allowed for a {fam} family, n={n}."
    return CheckResult(passed=True, message=msg, **base)


def tails_svg(details: Mapping[str, Any]) -> str | None:
    """Largest |w| per shape against the limit the family allows."""
    rows = shape_rows(details.get("per_shape") or {})
    pts = [
        (shape, z[0], lim[0])
        for shape, r in rows
        if (z := finite_floats([r.get("max_abs_z")])) and (lim := finite_floats([r.get("limit")]))
    ]
    if not pts:
        return None
    xs = list(range(len(pts)))
    plot = SvgPlot(width=420, ylabel="max |w| / std")
    plot.points(xs, [p[2] for p in pts], color="#d62728", label="limit")
    plot.points(xs, [p[1] for p in pts], color="#1f77b4", label="largest |w|")
    plot.xticks = [(float(i), p[0]) for i, p in enumerate(pts)]
    plot.xlim = (-0.5, len(pts) - 0.5)
    return plot.render()


def _tail_figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    details = result.get("details") or {}
    svg = tails_svg(details)
    caption = f"Largest |w| per shape against the limit of a {details.get('family', '')} family"
    return [(caption, svg)] if svg else []


def _run(ctx: CheckContext) -> CheckResult:
    """Not applicable to a deterministic structured kernel (identity-like), else decided."""
    reason = structure(ctx.samples, ctx.plan.deterministic)
    if reason:
        return not_applicable("tails", ctx.samples, reason)
    return check_tails(ctx.samples, ctx.settings, ctx.plan.family)


CHECK = Check(
    name="tails",
    run=_run,
    summary="no extreme outliers beyond what the family allows",
    unit="max |value - mean| / std",
    needs=frozenset({"mean"}),
    order=60,
    figure=_tail_figures,
    choices={"family": tuple(FAMILIES)},
    by_chance=True,
)
