"""SVG drawing primitives for the report's figures: :class:`SvgPlot`, ticks, escapes.

:class:`SvgPlot` is a small hand-written SVG plotter: fast (about a millisecond a figure,
so a 20-initializer report with ~60 figures renders well within its 3 s budget), small,
every text XML-escaped, ids unique per figure, no URL. Heat maps are inline ``data:`` PNGs
(:mod:`initcheck.report.png`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

from initcheck.report.legend import free_corner, occupied

#: Longest curve drawn: longer loss curves are reduced to this many points (min/max kept).
MAX_POINTS = 400
_ids = itertools.count(1)


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


def esc(text: Any) -> str:
    """``text`` XML-escaped for SVG text and attribute values."""
    return _xml_escape(str(text), {'"': "&quot;"})


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
        legend: str = "inside",  # or "right", "none", "ends" (labels at line ends)
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
        """A polyline (broken at non-finite points); ``dash`` is an SVG dash array."""
        item = dict(xs=list(xs), ys=list(ys), color=color, label=label, width=width, dash=dash)
        self.items.append(("line", item))

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
        """Dots, with vertical error bars from ``lo`` to ``hi`` when given."""
        item = dict(xs=list(xs), ys=list(ys), color=color, label=label, lo=lo, hi=hi)
        self.items.append(("points", item))

    def bars(
        self, edges: Sequence[float], heights: Sequence[float], *, color: str, label: str = ""
    ) -> None:
        """A histogram: bar ``i`` spans ``edges[i]`` to ``edges[i + 1]``."""
        item = dict(edges=list(edges), heights=list(heights), color=color, label=label)
        self.items.append(("bars", item))

    def band(
        self,
        xs: Sequence[float],
        lo: Sequence[float],
        hi: Sequence[float],
        *,
        color: str,
        label: str = "",
    ) -> None:
        """A translucent band between ``lo`` and ``hi``."""
        item = dict(xs=list(xs), lo=list(lo), hi=list(hi), color=color, label=label)
        self.items.append(("band", item))

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
        """The plot as an ``<svg>`` string (an inside legend that would cover data moves
        outside, to the right)."""
        return self._render(self.legend) or self._render("right") or ""

    def _render(self, legend: str) -> str | None:
        uid = f"p{next(_ids)}"
        labels = [it["label"] for _, it in self.items if it.get("label")]
        legend_w = 0
        if legend in ("right", "ends") and labels:
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
                f'font-weight="bold">{esc(self.title)}</text>'
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
                f'<text x="{ml - 4}" y="{y + 4:.1f}" text-anchor="end">{esc(_tick_label(t))}</text>'
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
                    f'rotate(-35)" text-anchor="end">{esc(text)}</text>'
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
                    f"{esc(_tick_label(t))}</text>"
                )
        out.append(
            f'<rect x="{ml}" y="{mt}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>'
        )
        if self.xlabel:
            out.append(
                f'<text x="{ml + pw / 2:.1f}" y="{self.height - 6}" '
                f'text-anchor="middle">{esc(self.xlabel)}</text>'
            )
        if self.ylabel:
            out.append(
                f'<text transform="translate(13,{mt + ph / 2:.1f}) rotate(-90)" '
                f'text-anchor="middle">{esc(self.ylabel)}</text>'
            )
        # data
        out.append(f'<g class="data" clip-path="url(#{uid}c)">')
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
        corner: tuple[float, float] | None = None
        if legend == "inside" and labels:
            size = (34.0 + 6 * max(len(s) for s in labels), 14.0 * len(labels) + 4)
            corner = free_corner(size, (ml, mt, pw, ph), occupied(self.items, px, py, ok))
            if corner is None:
                return None
        keys = self._legend(legend, (ml, mt, pw, ph), py, corner)
        out.extend(['<g class="legend">', *keys, "</g>"] if keys else [])
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

    def _legend(self, legend: str, area: Sequence[float], py: Any, corner: Any) -> list[str]:
        """The legend: at ``corner`` (top-left of its box) inside the plot, or right of it;
        with ``legend="ends"`` each line's label sits at its last point's height (pushed
        apart so none overlap) with a connector to the line's end."""
        ml, mt, pw, ph = area
        entries = [(kind, it) for kind, it in self.items if it.get("label")]
        if not entries or legend == "none":
            return []
        top = corner[1] if corner else mt
        ys = [top + 12 + 14 * i for i in range(len(entries))]
        x = corner[0] if corner else ml + pw + 10
        out = []
        if legend == "ends":
            ends = [self._end_y(it, py, mt + ph) for _, it in entries]
            order = sorted(range(len(entries)), key=lambda i: ends[i])
            entries = [entries[i] for i in order]
            ys = _spread([ends[i] + 4 for i in order], 13.0, mt + 9, mt + ph + 30)
            for (_, it), end, y in zip(entries, sorted(ends), ys, strict=True):
                out.append(
                    f'<line x1="{ml + pw:.1f}" y1="{end:.1f}" x2="{x - 1:.1f}" y2="{y - 4:.1f}" '
                    f'stroke="{it["color"]}" stroke-width="0.8" stroke-opacity="0.7"/>'
                )
        out = []
        for (kind, it), y in zip(entries, ys, strict=True):
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
            out.append(f'<text x="{x + 22}" y="{y:.1f}">{esc(it["label"])}</text>')
        return out

    def _end_y(self, it: Mapping[str, Any], py: Any, bottom: float) -> float:
        """The pixel height of a line's end: the median of its last 10 drawable points
        (steady for noisy curves), or ``bottom`` when it has none."""
        ys = [y for y in it.get("ys") or () if math.isfinite(y) and (y > 0 or not self.ylog)]
        return float(py(sorted(ys[-10:])[len(ys[-10:]) // 2])) if ys else bottom


def _spread(ys: Sequence[float], gap: float, top: float, bottom: float) -> list[float]:
    """Sorted positions moved apart to at least ``gap`` each, kept within [top, bottom]
    when they fit."""
    out: list[float] = []
    for y in ys:
        out.append(max(y, top, out[-1] + gap if out else top))
    overflow = out[-1] - bottom if out else 0.0
    if overflow > 0:
        out = [max(y - overflow, top + i * gap) for i, y in enumerate(out)]
    return out


def side_by_side(*plots: SvgPlot) -> str:
    """Plots next to each other in one ``<svg>``."""
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
