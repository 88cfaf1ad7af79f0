"""Figures: inline SVG, for the HTML report and for pytest-html extras.

Every figure function takes plain JSON-like data (the ``details`` of a
:class:`~initcheck.results.CheckResult`) and returns ``None`` when the data it needs is
absent. They draw with :class:`SvgPlot`, a small hand-written SVG plotter: fast (about a
millisecond a figure, where matplotlib needs 0.1–0.5 s, too slow for a 20-initializer
report in 3 s), small, every text XML-escaped, ids unique per figure, no URL (a heat map
is an inline ``data:`` PNG).
"""

from __future__ import annotations

import base64
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

__all__ = [
    "SvgPlot",
    "curves_svg",
    "histogram_svg",
    "propagation_svg",
    "result_figures",
    "scaling_svg",
    "similarity_svg",
    "svg_figures_for",
    "tails_svg",
]

#: Longest curve drawn: longer loss curves are reduced to this many points (min/max kept).
MAX_POINTS = 400
_COLORS = (
    "#d62728",
    "#1f77b4",
    "#2ca02c",
    "#17becf",
    "#bcbd22",
    "#000000",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#ff7f0e",
)
_ids = itertools.count(1)


def _finite(values: Iterable[Any]) -> list[float]:
    out = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append(f)
    return out


def _shape_rows(per_shape: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(str(k), v) for k, v in per_shape.items() if isinstance(v, Mapping)]


def _law_fan(law: str) -> str:
    for rule in ("fan_avg", "fan_out", "fan_in"):
        if rule in law:
            return rule
    return "fan_in"


def downsample(values: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list, list]:
    """(x, y) with at most ~``max_points`` points; each bucket keeps its min and max."""
    n = len(values)
    if n <= max_points:
        return list(range(1, n + 1)), [float(v) for v in values]
    xs: list[int] = []
    ys: list[float] = []
    buckets = max_points // 2
    for b in range(buckets):
        i0, i1 = b * n // buckets, (b + 1) * n // buckets
        chunk = values[i0:i1]
        lo = min(range(len(chunk)), key=lambda i: chunk[i])
        hi = max(range(len(chunk)), key=lambda i: chunk[i])
        for i in sorted({lo, hi}):
            xs.append(i0 + i + 1)
            ys.append(float(chunk[i]))
    return xs, ys


def _floats(values: Any) -> list[float]:
    out = []
    for v in values if values is not None else ():
        try:
            out.append(float(v))
        except (TypeError, ValueError):
            out.append(float("nan"))
    return out


# --------------------------------------------------------------------------- inline SVG
#
# The HTML report draws its figures as hand-written SVG: a report for 20 initializers
# has ~60 figures, and matplotlib needs 0.1–0.5 s per figure (text layout), far over the
# 3 s budget; these take about a millisecond each and a few KB.


def _esc(text: Any) -> str:
    return _xml_escape(str(text), {'"': "&quot;"})


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".") if abs(v) < 1e6 else f"{v:.0f}"


def _tick_label(v: float) -> str:
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e4 or a < 1e-3:
        mant, exp = f"{v:.0e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{v:.6g}"


def nice_ticks(lo: float, hi: float, *, log: bool = False, target: int = 5) -> list[float]:
    """Round tick positions covering [lo, hi] (data units; positive values when log)."""
    if log:
        a, b = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        step = max(1, math.ceil((b - a) / 6))
        decades = [10.0**k for k in range(a, b + 1, step)]
        inside = [t for t in decades if lo * 0.999 <= t <= hi * 1.001]
        if len(inside) >= 2:
            return inside
        finer = sorted({t * m for t in decades for m in (1, 2, 5)})
        inside = [t for t in finer if lo * 0.999 <= t <= hi * 1.001]
        if len(inside) >= 3:
            return inside
        return [t for t in nice_ticks(lo, hi, target=4) if t > 0] or decades
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks


def _png_rgb(rows: Sequence[Sequence[tuple[int, int, int]]]) -> bytes:
    """Encode an RGB pixel grid as a PNG (stdlib zlib; no image library)."""
    import struct
    import zlib

    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


_DIVERGING = ((-1.0, (33, 102, 172)), (0.0, (247, 247, 247)), (1.0, (178, 24, 43)))


def diverging_color(v: float | None) -> tuple[int, int, int]:
    """Blue (−1) → white (0) → red (+1); grey for missing values."""
    if v is None or not math.isfinite(v):
        return (170, 170, 170)
    v = max(-1.0, min(1.0, v))
    (x0, c0), (x1, c1) = (_DIVERGING[0], _DIVERGING[1]) if v < 0 else (_DIVERGING[1], _DIVERGING[2])
    t = (v - x0) / (x1 - x0)
    return tuple(round(a + (b - a) * t) for a, b in zip(c0, c1, strict=True))  # type: ignore[return-value]


class SvgPlot:
    """A minimal 2-D plot rendered straight to SVG: lines, points, bars, bands, legend.

    Coordinates are data units; ``xlog``/``ylog`` select log axes. ``render()`` returns a
    standalone ``<svg>`` element with a ``viewBox`` (scales with CSS), unique ids, and
    every text escaped.
    """

    def __init__(
        self,
        *,
        width: int = 420,
        height: int = 260,
        title: str = "",
        xlabel: str = "",
        ylabel: str = "",
        xlog: bool = False,
        ylog: bool = False,
        legend: str = "inside",
    ) -> None:
        self.width, self.height = width, height
        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.xlog, self.ylog = xlog, ylog
        self.legend = legend
        self.items: list[tuple[str, dict[str, Any]]] = []
        self.xticks: list[tuple[float, str]] | None = None
        self.xlim: tuple[float, float] | None = None
        self.ylim: tuple[float, float] | None = None

    # ---- adding data
    def line(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        *,
        color: str,
        label: str = "",
        width: float = 1.3,
        dash: str = "",
    ) -> None:
        self.items.append(
            (
                "line",
                {
                    "xs": list(xs),
                    "ys": list(ys),
                    "color": color,
                    "label": label,
                    "width": width,
                    "dash": dash,
                },
            )
        )

    def points(
        self,
        xs: Sequence[float],
        ys: Sequence[float],
        *,
        color: str,
        label: str = "",
        lo: Sequence[float] | None = None,
        hi: Sequence[float] | None = None,
    ) -> None:
        self.items.append(
            (
                "points",
                {
                    "xs": list(xs),
                    "ys": list(ys),
                    "color": color,
                    "label": label,
                    "lo": lo,
                    "hi": hi,
                },
            )
        )

    def bars(
        self, edges: Sequence[float], heights: Sequence[float], *, color: str, label: str = ""
    ) -> None:
        self.items.append(
            (
                "bars",
                {"edges": list(edges), "heights": list(heights), "color": color, "label": label},
            )
        )

    def band(
        self,
        xs: Sequence[float],
        lo: Sequence[float],
        hi: Sequence[float],
        *,
        color: str,
        label: str = "",
    ) -> None:
        self.items.append(
            (
                "band",
                {"xs": list(xs), "lo": list(lo), "hi": list(hi), "color": color, "label": label},
            )
        )

    # ---- layout
    def _extent(self) -> tuple[float, float, float, float]:
        xs: list[float] = []
        ys: list[float] = []
        for kind, it in self.items:
            if kind == "bars":
                xs += [it["edges"][0], it["edges"][-1]]
                ys += [0.0, *it["heights"]]
            elif kind == "band":
                xs += it["xs"]
                ys += it["lo"] + it["hi"]
            else:
                xs += it["xs"]
                ys += it["ys"] + list(it.get("lo") or ()) + list(it.get("hi") or ())
        xs = [v for v in xs if math.isfinite(v) and (v > 0 or not self.xlog)]
        ys = [v for v in ys if math.isfinite(v) and (v > 0 or not self.ylog)]
        x0, x1 = (min(xs), max(xs)) if xs else (0.0, 1.0)
        y0, y1 = (min(ys), max(ys)) if ys else (0.0, 1.0)
        if self.xlim:
            x0, x1 = self.xlim
        if self.ylim:
            y0, y1 = self.ylim
        x0, x1 = self._pad(x0, x1, self.xlog, 0.03)
        y0, y1 = self._pad(y0, y1, self.ylog, 0.06)
        return x0, x1, y0, y1

    @staticmethod
    def _pad(lo: float, hi: float, log: bool, frac: float) -> tuple[float, float]:
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
            if hi - lo < 1e-9:
                lo, hi = lo - 0.5, hi + 0.5
            pad = (hi - lo) * frac
            return 10 ** (lo - pad), 10 ** (hi + pad)
        if hi - lo < 1e-12:
            lo, hi = lo - max(abs(lo) * 0.1, 0.5), hi + max(abs(hi) * 0.1, 0.5)
        pad = (hi - lo) * frac
        return lo - pad, hi + pad

    def render(self) -> str:
        """The plot as an ``<svg>`` string."""
        uid = f"p{next(_ids)}"
        labels = [it["label"] for _, it in self.items if it.get("label")]
        legend_w = 0
        if self.legend == "right" and labels:
            legend_w = min(260, 26 + 6 * max(len(s) for s in labels))
        ml, mr, mt, mb = 58, 12 + legend_w, 24 if self.title else 10, 42
        if self.xticks and any(len(t) > 4 for _, t in self.xticks):
            mb = 34 + 5 * max(len(t) for _, t in self.xticks)
        pw, ph = self.width - ml - mr, self.height - mt - mb
        x0, x1, y0, y1 = self._extent()
        fx = (lambda v: math.log10(v)) if self.xlog else (lambda v: v)
        fy = (lambda v: math.log10(v)) if self.ylog else (lambda v: v)
        ax0, ax1, ay0, ay1 = fx(x0), fx(x1), fy(y0), fy(y1)

        def px(v: float) -> float:
            return ml + (fx(v) - ax0) / (ax1 - ax0) * pw

        def py(v: float) -> float:
            return mt + ph - (fy(v) - ay0) / (ay1 - ay0) * ph

        def ok(x: float, y: float) -> bool:
            return (
                math.isfinite(x)
                and math.isfinite(y)
                and (x > 0 or not self.xlog)
                and (y > 0 or not self.ylog)
            )

        out = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
            f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
            'font-family="sans-serif" font-size="11" role="img">',
            f'<defs><clipPath id="{uid}c"><rect x="{ml}" y="{mt}" width="{pw}" '
            f'height="{ph}"/></clipPath></defs>',
            f'<rect x="0" y="0" width="{self.width}" height="{self.height}" fill="#fff"/>',
        ]
        if self.title:
            out.append(
                f'<text x="{ml + pw / 2:.1f}" y="15" text-anchor="middle" '
                f'font-weight="bold">{_esc(self.title)}</text>'
            )
        # grid and ticks
        yt = nice_ticks(y0, y1, log=self.ylog)
        for t in yt:
            if not (y0 <= t <= y1):
                continue
            y = py(t)
            out.append(
                f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e6e6"/>'
            )
            out.append(
                f'<text x="{ml - 4}" y="{y + 4:.1f}" text-anchor="end">'
                f"{_esc(_tick_label(t))}</text>"
            )
        if self.xticks is not None:
            for t, text in self.xticks:
                x = px(t)
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt + ph}" y2="{mt + ph + 4}" '
                    f'stroke="#333"/>'
                )
                out.append(
                    f'<text transform="translate({x + 3:.1f},{mt + ph + 10}) '
                    f'rotate(-35)" text-anchor="end">{_esc(text)}</text>'
                )
        else:
            for t in nice_ticks(x0, x1, log=self.xlog):
                if not (x0 <= t <= x1):
                    continue
                x = px(t)
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{mt + ph}" stroke="#e6e6e6"/>'
                )
                out.append(
                    f'<text x="{x:.1f}" y="{mt + ph + 14}" text-anchor="middle">'
                    f"{_esc(_tick_label(t))}</text>"
                )
        out.append(
            f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>'
        )
        if self.xlabel:
            out.append(
                f'<text x="{ml + pw / 2:.1f}" y="{self.height - 6}" '
                f'text-anchor="middle">{_esc(self.xlabel)}</text>'
            )
        if self.ylabel:
            out.append(
                f'<text transform="translate(13,{mt + ph / 2:.1f}) rotate(-90)" '
                f'text-anchor="middle">{_esc(self.ylabel)}</text>'
            )
        # data
        out.append(f'<g clip-path="url(#{uid}c)">')
        for kind, it in self.items:
            if kind == "bars":
                base = py(max(y0, 0.0) if not self.ylog else y0)
                parts = []
                for a, b, h in zip(it["edges"][:-1], it["edges"][1:], it["heights"], strict=True):
                    if h > 0 and ok(a, h):
                        top = py(h)
                        parts.append(f"M{px(a):.1f} {base:.1f}V{top:.1f}H{px(b):.1f}V{base:.1f}Z")
                out.append(f'<path d="{"".join(parts)}" fill="{it["color"]}"/>')
            elif kind == "band":
                fwd = [(px(x), py(h)) for x, h in zip(it["xs"], it["hi"], strict=True) if ok(x, h)]
                back = [
                    (px(x), py(lo)) for x, lo in zip(it["xs"], it["lo"], strict=True) if ok(x, lo)
                ]
                if fwd and back:
                    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in fwd + back[::-1])
                    out.append(
                        f'<polygon points="{pts}" fill="{it["color"]}" fill-opacity="0.15"/>'
                    )
            elif kind == "line":
                out.extend(self._polyline(it, px, py, ok))
            elif kind == "points":
                lo, hi = it.get("lo"), it.get("hi")
                for i, (x, y) in enumerate(zip(it["xs"], it["ys"], strict=True)):
                    if not ok(x, y):
                        continue
                    if lo is not None and hi is not None and ok(x, lo[i]) and ok(x, hi[i]):
                        out.append(
                            f'<line x1="{px(x):.1f}" x2="{px(x):.1f}" '
                            f'y1="{py(lo[i]):.1f}" y2="{py(hi[i]):.1f}" '
                            f'stroke="{it["color"]}" stroke-width="1.2"/>'
                        )
                    out.append(
                        f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.2" fill="{it["color"]}"/>'
                    )
        out.append("</g>")
        out.extend(self._legend(ml, mt, pw))
        out.append("</svg>")
        return "".join(out)

    @staticmethod
    def _polyline(it: Mapping[str, Any], px: Any, py: Any, ok: Any) -> list[str]:
        segments: list[list[str]] = [[]]
        for x, y in zip(it["xs"], it["ys"], strict=True):
            if ok(x, y):
                segments[-1].append(f"{px(x):.1f},{py(y):.1f}")
            elif segments[-1]:
                segments.append([])
        dash = f' stroke-dasharray="{it["dash"]}"' if it["dash"] else ""
        return [
            f'<polyline points="{" ".join(s)}" fill="none" stroke="{it["color"]}" '
            f'stroke-width="{it["width"]}" stroke-linejoin="round"{dash}/>'
            for s in segments
            if len(s) >= 2
        ]

    def _legend(self, ml: float, mt: float, pw: float) -> list[str]:
        entries = [(kind, it) for kind, it in self.items if it.get("label")]
        if not entries:
            return []
        if self.legend == "right":
            x = ml + pw + 10
        else:
            x = ml + pw - 8 - 6 * max(len(it["label"]) for _, it in entries) - 26
        out = []
        for i, (kind, it) in enumerate(entries):
            y = mt + 12 + 14 * i
            color = it["color"]
            if kind == "points":
                out.append(f'<circle cx="{x + 9}" cy="{y - 4}" r="3.2" fill="{color}"/>')
            elif kind in ("bars", "band"):
                op = ' fill-opacity="0.3"' if kind == "band" else ""
                out.append(
                    f'<rect x="{x + 2}" y="{y - 9}" width="14" height="9" fill="{color}"{op}/>'
                )
            else:
                dash = f' stroke-dasharray="{it["dash"]}"' if it["dash"] else ""
                out.append(
                    f'<line x1="{x}" x2="{x + 18}" y1="{y - 4}" y2="{y - 4}" '
                    f'stroke="{color}" stroke-width="2"{dash}/>'
                )
            out.append(f'<text x="{x + 22}" y="{y}">{_esc(it["label"])}</text>')
        return out


def histogram_svg(details: Mapping[str, Any]) -> str | None:
    """Histogram of standardized weights (density) with the N(0, 1) reference curve."""
    sample = _finite(details.get("sample") or ())
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
        var = _finite([row.get("variance")])
        fan = _finite([row.get(rule)])
        ratio = _finite([row.get("ratio_to_law", row.get("ratio"))])
        if not (var and fan and ratio) or var[0] <= 0 or ratio[0] <= 0 or fan[0] <= 0:
            continue
        lo = _finite([row.get("low")])
        hi = _finite([row.get("high")])
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
    band = _finite(details.get("band") or ())
    fans = [p[0] for p in pts]
    law_var = [p[1] / p[2] for p in pts]
    left = SvgPlot(width=360, xlabel=rule, ylabel="Var(W)", xlog=True, ylog=True)
    if len(band) == 2:
        left.band(
            fans,
            [v * band[0] for v in law_var],
            [v * band[1] for v in law_var],
            color="#d62728",
            label="tolerance",
        )
    left.line(fans, law_var, color="#d62728", dash="5,3", label=f"law {law}" if law else "target")
    left.points(fans, [p[1] for p in pts], color="#1f77b4", label="measured Var(W)")
    right = SvgPlot(width=330, ylabel="Var(W) / law", ylog=True)
    xs = list(range(len(pts)))
    ratios = [p[2] for p in pts]
    if len(band) == 2:
        right.band([-0.5, len(pts) - 0.5], [band[0]] * 2, [band[1]] * 2, color="#d62728")
    right.line([-0.5, len(pts) - 0.5], [1.0, 1.0], color="#d62728", dash="5,3")
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
    return _side_by_side(left, right)


def propagation_svg(details: Mapping[str, Any]) -> str | None:
    """Per-layer E[x²] (forward) and E[g²] (backward) ratios against the critical reference,
    log scale, with the tolerance band compounded over the layers."""
    band = _finite(details.get("band") or ())
    plots = []
    for key, title, ylabel in (
        ("forward", "activations (forward)", "E[x²] / layer 1"),
        ("backward", "gradients (backward)", "E[g²] / last layer"),
    ):
        measured = _finite(details.get(key) or ())
        reference = _finite(details.get(f"{key}_reference") or ())
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
                    color="#d62728",
                    label="tolerance",
                )
            plot.line(layers, reference, color="#d62728", dash="5,3", label="sound init")
        plot.line(layers, measured, color="#1f77b4", label="measured")
        plots.append(plot)
    return _side_by_side(*plots) if plots else None


def tails_svg(details: Mapping[str, Any]) -> str | None:
    """Largest |w| per shape against the limit the family allows."""
    rows = _shape_rows(details.get("per_shape") or {})
    pts = [(shape, _finite([r.get("max_abs_z")]), _finite([r.get("limit")])) for shape, r in rows]
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


def _side_by_side(*plots: SvgPlot) -> str:
    width = sum(p.width for p in plots)
    height = max(p.height for p in plots)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img">'
    ]
    x = 0
    for p in plots:
        inner = p.render().replace(
            '<svg xmlns="http://www.w3.org/2000/svg" ', f'<svg x="{x}" y="0" ', 1
        )
        parts.append(inner)
        x += p.width
    parts.append("</svg>")
    return "".join(parts)


def similarity_svg(details: Mapping[str, Any]) -> str | None:
    """Cosine-similarity heat map of units (a tiny inline PNG, pixelated) with a scale."""
    sim = details.get("similarity")
    if not isinstance(sim, Mapping):
        return None
    matrix = sim.get("matrix")
    if not isinstance(matrix, Sequence) or len(matrix) < 2:
        return None
    rows = []
    for r in matrix:
        if not isinstance(r, Sequence) or len(r) != len(matrix[0]) or not r:
            return None
        rows.append([diverging_color(_float_or_none(v)) for v in r])
    png = base64.b64encode(_png_rgb(rows)).decode()
    n_rows, n_cols = len(rows), len(rows[0])
    size = 200
    cell = size / max(n_rows, n_cols)
    w, h = cell * n_cols, cell * n_rows
    shape = sim.get("shape")
    title = f"units of shape {tuple(shape)}" if isinstance(shape, Sequence) else "units"
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="330" height="250" '
        'viewBox="0 0 330 250" '
        'font-family="sans-serif" font-size="11" role="img">',
        '<rect width="330" height="250" fill="#fff"/>',
        f'<text x="{20 + w / 2:.1f}" y="15" text-anchor="middle" font-weight="bold">'
        f"{_esc(title)}</text>",
        f'<image x="20" y="26" width="{w:.1f}" height="{h:.1f}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated" href="data:image/png;base64,{png}"/>',
        f'<rect x="20" y="26" width="{w:.1f}" height="{h:.1f}" fill="none" stroke="#333"/>',
        f'<text x="{20 + w / 2:.1f}" y="{26 + h + 16:.1f}" text-anchor="middle">'
        f"{n_rows} × {n_cols} units</text>",
    ]
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


def _float_or_none(v: Any) -> float | None:
    f = _finite([v])
    return f[0] if f else None


def curves_svg(runs: Mapping[str, Sequence[float]], *, first: int = 100) -> str | None:
    """Loss per batch for each run: the first ``first`` batches and all batches."""
    curves = {name: _floats(losses) for name, losses in runs.items()}
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return None
    longest = max(len(v) for v in curves.values())
    panels: list[tuple[str, int | None]] = [(f"first {min(first, longest)} batches", first)]
    if longest > first:
        panels.append((f"all {longest} batches", None))
    plots = []
    for i, (title, limit) in enumerate(panels):
        last = i == len(panels) - 1
        finite = [
            v
            for c in curves.values()
            for v in (c[:limit] if limit else c)
            if math.isfinite(v) and v > 0
        ]
        ylog = bool(finite) and max(finite) > 50 * max(min(finite), 1e-3)
        plot = SvgPlot(
            width=360 + (230 if last else 0),
            title=title,
            xlabel="batches",
            ylabel="loss",
            ylog=ylog,
            legend="right" if last else "none",
        )
        for j, (name, losses) in enumerate(curves.items()):
            xs, ys = downsample(losses[:limit] if limit else losses)
            plot.line(
                xs, ys, color=_COLORS[j % len(_COLORS)], width=1.1, label=name if last else ""
            )
        plots.append(plot)
    return _side_by_side(*plots)


def svg_figures_for(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The inline-SVG figures one result dict supports, as (caption, svg) pairs: those its
    check declares (:attr:`initcheck.registry.Check.figure`)."""
    from initcheck import registry

    details = result.get("details") or {}
    name = str(result.get("check"))
    if not isinstance(details, Mapping) or name not in registry.names():
        return []
    figure = registry.check_named(name).figure
    return figure(result) if figure is not None else []


def figures_by_result(results: Sequence[Mapping[str, Any]]) -> list[list[tuple[str, str]]]:
    """The figures of each result; a figure whose caption another result of the same
    initializer also shows is drawn once, from the result later in check order."""
    from initcheck import registry

    order = {c.name: c.order for c in registry.checks()}
    shown: set[tuple[str, str]] = set()
    out: list[list[tuple[str, str]]] = [[] for _ in results]
    ranked = sorted(
        range(len(results)), key=lambda i: -order.get(str(results[i].get("check")), 10**6)
    )
    for i in ranked:
        init = str(results[i].get("initializer"))
        for caption, svg in svg_figures_for(results[i]):
            if (init, caption) not in shown:
                shown.add((init, caption))
                out[i].append((caption, svg))
    return out


# --------------------------------------------------------------------------- dispatch


def result_figures(result_dicts: Iterable[Any]) -> list[tuple[str, str]]:
    """(name, inline SVG) figures for pytest-html extras, one set per plottable result.

    ``result_dicts`` are :class:`~initcheck.results.CheckResult` objects or their
    ``to_dict()`` dicts.
    """
    from initcheck.report.html import as_result_dicts

    results = as_result_dicts(result_dicts)
    out = []
    for r, figs in zip(results, figures_by_result(results), strict=True):
        out.extend((f"{r.get('initializer')}: {caption}", svg) for caption, svg in figs)
    return out
