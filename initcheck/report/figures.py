"""Figures: inline SVG for the HTML report and for pytest-html extras.

Every figure function takes plain JSON-like data (the ``details`` of a
:class:`~initcheck.results.CheckResult`) and returns ``None`` when the data it needs is
absent. They draw with :class:`~initcheck.report.svg.SvgPlot`. Which figures a result
shows is its check's :attr:`initcheck.registry.Check.figure`.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from initcheck.report.curves import COLORS, DASHES, curves_svg
from initcheck.report.inputs import as_result_dicts, finite_float, finite_floats
from initcheck.report.legend import PASS_BAND, REFERENCE
from initcheck.report.png import diverging_color, png_rgb
from initcheck.report.svg import SvgPlot, esc, side_by_side

__all__ = [
    "COLORS",
    "DASHES",
    "curves_svg",
    "degeneracy_svg",
    "family_svg",
    "figures_by_result",
    "histogram_svg",
    "propagation_svg",
    "result_figures",
    "scaling_svg",
    "similarity_svg",
    "svg_figures_for",
    "tails_svg",
]


def _shape_rows(per_shape: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(str(k), v) for k, v in per_shape.items() if isinstance(v, Mapping)]


def _law_fan(law: str) -> str:
    for rule in ("fan_avg", "fan_out", "fan_in"):
        if rule in law:
            return rule
    return "fan_in"


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


def _scaling_points(details: Mapping[str, Any], rule: str) -> list[tuple]:
    pts = []
    for shape, row in _shape_rows(details.get("per_shape") or {}):
        var = finite_floats([row.get("variance")])
        fan = finite_floats([row.get(rule)])
        ratio = finite_floats([row.get("ratio_to_law", row.get("ratio"))])
        if not (var and fan and ratio) or var[0] <= 0 or ratio[0] <= 0 or fan[0] <= 0:
            continue
        lo = finite_floats([row.get("low")])
        hi = finite_floats([row.get("high")])
        pts.append((fan[0], var[0], ratio[0], lo[0] if lo else None, hi[0] if hi else None, shape))
    pts.sort(key=lambda p: (p[0], p[5]))
    return pts


def scaling_svg(details: Mapping[str, Any]) -> str | None:
    """Two panels: Var(W) vs fan (log-log) with the law, and Var/law per shape."""
    law = str(details.get("law") or details.get("target") or "")
    rule = _law_fan(law)
    pts = _scaling_points(details, rule)
    if not pts:
        return None
    band = finite_floats(details.get("band") or ())
    fans = [p[0] for p in pts]
    law_var = [p[1] / p[2] for p in pts]
    left = SvgPlot(width=360, xlabel=rule, ylabel="Var(W)", xlog=True, ylog=True)
    if len(band) == 2:
        left.band(
            fans,
            [v * band[0] for v in law_var],
            [v * band[1] for v in law_var],
            color=PASS_BAND,
            label="tolerance",
        )
    left.line(fans, law_var, color=REFERENCE, dash="5,3", label=f"law {law}" if law else "target")
    left.points(fans, [p[1] for p in pts], color="#1f77b4", label="measured Var(W)")
    right = SvgPlot(width=330, ylabel="Var(W) / law", ylog=True)
    xs = list(range(len(pts)))
    ratios = [p[2] for p in pts]
    if len(band) == 2:
        right.band([-0.5, len(pts) - 0.5], [band[0]] * 2, [band[1]] * 2, color=PASS_BAND)
    right.line([-0.5, len(pts) - 0.5], [1.0, 1.0], color=REFERENCE, dash="5,3")
    have_ci = all(p[3] is not None and p[4] is not None for p in pts)
    right.points(
        xs,
        ratios,
        color="#1f77b4",
        lo=[p[3] for p in pts] if have_ci else None,
        hi=[p[4] for p in pts] if have_ci else None,
    )
    right.xticks = [(float(i), p[5]) for i, p in enumerate(pts)]
    right.xlim = (-0.5, len(pts) - 0.5)
    return side_by_side(left, right)


def propagation_svg(details: Mapping[str, Any]) -> str | None:
    """Per-layer E[x²] (forward) and E[g²] (backward) ratios against the critical reference,
    log scale, with the tolerance band compounded over the layers."""
    band = finite_floats(details.get("band") or ())
    plots = []
    for key, title, ylabel in (
        ("forward", "activations (forward)", "E[x²] / layer 1"),
        ("backward", "gradients (backward)", "E[g²] / last layer"),
    ):
        measured = finite_floats(details.get(key) or ())
        reference = finite_floats(details.get(f"{key}_reference") or ())
        if len(measured) < 2 or any(v <= 0 for v in measured):
            continue
        layers = list(range(1, len(measured) + 1))
        plot = SvgPlot(width=340, title=title, xlabel="layer", ylabel=ylabel, ylog=True)
        if len(reference) == len(measured) and all(v > 0 for v in reference):
            if len(band) == 2:
                # the band allows a per-layer gain in [band[0], band[1]] from the anchor layer
                steps = [abs(i - (1 if key == "forward" else len(layers))) for i in layers]
                plot.band(
                    layers,
                    [r * band[0] ** k for r, k in zip(reference, steps, strict=True)],
                    [r * band[1] ** k for r, k in zip(reference, steps, strict=True)],
                    color=PASS_BAND,
                    label="tolerance",
                )
            plot.line(layers, reference, color=REFERENCE, dash="5,3", label="sound init")
        plot.line(layers, measured, color="#1f77b4", label="measured")
        plots.append(plot)
    return side_by_side(*plots) if plots else None


def tails_svg(details: Mapping[str, Any]) -> str | None:
    """Largest |w| per shape against the limit the family allows."""
    rows = _shape_rows(details.get("per_shape") or {})
    pts = [
        (shape, finite_floats([r.get("max_abs_z")]), finite_floats([r.get("limit")]))
        for shape, r in rows
    ]
    pts = [(shape, z[0], lim[0]) for shape, z, lim in pts if z and lim]
    if not pts:
        return None
    xs = list(range(len(pts)))
    plot = SvgPlot(width=420, ylabel="max |w| / std")
    plot.points(xs, [p[2] for p in pts], color="#d62728", label="limit")
    plot.points(xs, [p[1] for p in pts], color="#1f77b4", label="largest |w|")
    plot.xticks = [(float(i), p[0]) for i, p in enumerate(pts)]
    plot.xlim = (-0.5, len(pts) - 0.5)
    return plot.render()


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


def degeneracy_svg(details: Mapping[str, Any], rank_fraction: float) -> str | None:
    """Per shape: the effective rank as a fraction of a random kernel's, against the
    least allowed; and the largest unit cosine as a fraction of its limit, against 1."""
    rows = _shape_rows(details.get("per_shape") or {})
    if not rows:
        return None
    xs = [float(i) for i in range(len(rows))]

    def ratio(r: Mapping[str, Any], a: str, b: str) -> float:
        num, den = finite_floats([r.get(a)]), finite_floats([r.get(b)])
        return num[0] / den[0] if num and den and den[0] > 0 else math.nan

    panels = []
    for ylabel, (a, b), limit in (
        ("effective rank ÷ random kernel's", ("effective_rank", "gaussian_effective_rank"),
         rank_fraction),
        ("max |cosine| ÷ its limit", ("max_cosine", "cosine_limit"), 1.0),
    ):  # fmt: skip
        ys = [ratio(r, a, b) for _, r in rows]
        if not any(math.isfinite(y) for y in ys):
            continue
        plot = SvgPlot(width=340, ylabel=ylabel)
        plot.line([-0.5, len(rows) - 0.5], [limit, limit], color="#d62728", dash="4,3")
        plot.points(xs, ys, color="#1f77b4")
        plot.xticks = [(x, shape) for x, (shape, _) in zip(xs, rows, strict=True)]
        plot.xlim = (-0.5, len(rows) - 0.5)
        panels.append(plot)
    return side_by_side(*panels) if panels else None


def similarity_svg(details: Mapping[str, Any]) -> str | None:
    """Cosine-similarity heat map of units (a tiny inline PNG, pixelated) with a scale."""
    sim = details.get("similarity")
    if not isinstance(sim, Mapping):
        return None
    matrix = sim.get("matrix")
    if not isinstance(matrix, Sequence) or len(matrix) < 2:
        return None
    values = []
    for r in matrix:
        if not isinstance(r, Sequence) or len(r) != len(matrix[0]) or not r:
            return None
        values.append([finite_float(v) for v in r])
    shape = sim.get("shape")
    title = f"units of shape {tuple(shape)}" if isinstance(shape, Sequence) else "units"
    # a unit whose self-similarity is not 1 is a zero vector: its cosines are undefined
    zero = [v is None or abs(v) < 0.5 for v in (values[i][i] for i in range(len(values)))]
    if all(zero):
        return _message_svg(
            title,
            [
                f"All {len(values)} units' weight vectors are zero:",
                "every pairwise cosine similarity is undefined (0 / 0),",
                "so there is no heat map to draw. The units are identical:",
                "training can never tell them apart.",
            ],
        )
    finite = [v for row in values for v in row if v is not None]
    notes = []
    if any(zero):
        notes.append(f"{sum(zero)} of {len(zero)} units are zero vectors (grey: undefined)")
        values = [
            [None if zero[i] or (j < len(zero) and zero[j]) else v for j, v in enumerate(row)]
            for i, row in enumerate(values)
        ]
    elif finite and min(finite) > 0.999:
        notes.append("all units identical: every pairwise cosine is +1")
    rows = [[diverging_color(v) for v in row] for row in values]
    png = base64.b64encode(png_rgb(rows)).decode()
    n_rows, n_cols = len(rows), len(rows[0])
    size = 200
    cell = size / max(n_rows, n_cols)
    w, h = cell * n_cols, cell * n_rows
    height = 250 + 16 * len(notes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="330" height="{height}" '
        f'viewBox="0 0 330 {height}" font-family="sans-serif" font-size="11" role="img">',
        f'<rect width="330" height="{height}" fill="#fff"/>',
        f'<text x="{20 + w / 2:.1f}" y="15" text-anchor="middle" font-weight="bold">'
        f"{esc(title)}</text>",
        f'<image x="20" y="26" width="{w:.1f}" height="{h:.1f}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated" href="data:image/png;base64,{png}"/>',
        f'<rect x="20" y="26" width="{w:.1f}" height="{h:.1f}" fill="none" stroke="#333"/>',
        f'<text x="{20 + w / 2:.1f}" y="{26 + h + 16:.1f}" text-anchor="middle">'
        f"{n_rows} × {n_cols} units</text>",
    ]
    for i, note in enumerate(notes):
        out.append(f'<text x="20" y="{26 + h + 32 + 16 * i:.1f}">{esc(note)}</text>')
    x = 20 + w + 24
    for i in range(21):
        v = 1 - i / 10
        out.append(
            f'<rect x="{x:.1f}" y="{26 + i * 9.5:.1f}" width="14" height="10" '
            f'fill="rgb{diverging_color(v)}"/>'
        )
    for v, label in ((1, "+1"), (0, "0"), (-1, "−1")):
        y = 26 + (1 - v) * 95 + 9
        out.append(f'<text x="{x + 18:.1f}" y="{y:.1f}">{label}</text>')
    out.append(
        f'<text transform="translate({x + 48:.1f},{26 + 100}) rotate(-90)" '
        f'text-anchor="middle">cosine similarity</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _message_svg(title: str, lines: Sequence[str]) -> str:
    """A figure-sized box that explains, in words, why there is nothing to plot."""
    height = 40 + 18 * len(lines)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="460" height="{height}" '
        f'viewBox="0 0 460 {height}" font-family="sans-serif" font-size="12" role="img">',
        f'<rect x="0.5" y="0.5" width="459" height="{height - 1}" fill="#f6f8fa" '
        'stroke="#d0d7de"/>',
        f'<text x="12" y="20" font-weight="bold">{esc(title)}</text>',
    ]
    out += [f'<text x="12" y="{42 + 18 * i}">{esc(line)}</text>' for i, line in enumerate(lines)]
    return "".join([*out, "</svg>"])


def svg_figures_for(result: Mapping[str, Any], checks: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The inline-SVG figures one result dict supports, as (caption, svg) pairs: those its
    check declares.

    Args:
        result: a ``CheckResult.to_dict()`` dict.
        checks: the checks by name, each with ``figure`` (result dict -> figures, or
            ``None``) and ``order`` (:attr:`initcheck.registry.Check.figure`); the caller
            reads them from the registry (:func:`initcheck.output.htmlfile.catalog`), so this
            module only draws.
    """
    details = result.get("details") or {}
    check = checks.get(str(result.get("check")))
    if not isinstance(details, Mapping) or check is None:
        return []
    figure = getattr(check, "figure", None)
    return figure(result) if figure is not None else []


def figures_by_result(
    results: Sequence[Mapping[str, Any]], checks: Mapping[str, Any]
) -> list[list[tuple[str, str]]]:
    """The figures of each result (``checks`` as for :func:`svg_figures_for`). Every
    failing result shows all its figures; a figure whose caption another result of the
    same initializer also shows is drawn on each failing one, and otherwise once, from the
    result later in check order (so the variance and scaling checks share their figure
    unless one fails)."""
    order = {name: c.order for name, c in checks.items()}
    shown: set[tuple[str, str]] = set()
    out: list[list[tuple[str, str]]] = [[] for _ in results]
    ranked = sorted(
        range(len(results)),
        key=lambda i: (
            bool(results[i].get("passed")),
            -order.get(str(results[i].get("check")), 10**6),
        ),
    )
    for i in ranked:
        init = str(results[i].get("initializer"))
        failing = not results[i].get("passed")
        for caption, svg in svg_figures_for(results[i], checks):
            if failing or (init, caption) not in shown:
                shown.add((init, caption))
                out[i].append((caption, svg))
    return out


# --------------------------------------------------------------------------- dispatch


def result_figures(result_dicts: Iterable[Any], checks: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, inline SVG) figures for pytest-html extras, one set per plottable result.

    ``result_dicts`` are :class:`~initcheck.results.CheckResult` objects or their
    ``to_dict()`` dicts; ``checks`` as for :func:`svg_figures_for`.
    """
    results = as_result_dicts(result_dicts)
    out = []
    for r, figs in zip(results, figures_by_result(results, checks), strict=True):
        out.extend((f"{r.get('initializer')}: {caption}", svg) for caption, svg in figs)
    return out
