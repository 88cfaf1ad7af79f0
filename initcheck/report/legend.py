"""What a figure's legend says and where it goes: one palette for every figure, and a
corner of the plot area that covers no data for an inside legend.

:class:`~initcheck.report.svg.SvgPlot` tries the four corners of its plot area, top
right first; a legend box may not contain a point, an error-bar end or any point along a
line. When every corner covers data, the plot puts its legend outside, on the right.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

#: One palette for every figure: the pass band (a tolerance) is green, the target or
#: reference it is drawn around grey, the measured values blue.
PASS_BAND, REFERENCE, MEASURED = "#1a7f37", "#57606a", "#0969da"

Point = tuple[float, float]


def occupied(
    items: Iterable[tuple[str, dict[str, Any]]],
    px: Callable[[float], float],
    py: Callable[[float], float],
    ok: Callable[[float, float], bool],
    step: float = 4.0,
) -> list[Point]:
    """The pixels data is drawn at: points and their error-bar ends, and every ``step``
    pixels along each line (bars and bands are not counted)."""
    out: list[Point] = []
    for kind, it in items:
        if kind == "points":
            for i, (x, y) in enumerate(zip(it["xs"], it["ys"], strict=True)):
                for v in (y, *(b[i] for b in (it.get("lo"), it.get("hi")) if b is not None)):
                    if ok(x, v):
                        out.append((px(x), py(v)))
        elif kind == "line":
            pts = [(px(x), py(y)) for x, y in zip(it["xs"], it["ys"], strict=True) if ok(x, y)]
            out += pts[:1]
            for (ax, ay), (bx, by) in itertools.pairwise(pts):
                n = max(1, math.ceil(math.hypot(bx - ax, by - ay) / step))
                out += [(ax + (bx - ax) * k / n, ay + (by - ay) * k / n) for k in range(1, n + 1)]
    return out


def free_corner(
    size: Point, area: tuple[float, float, float, float], taken: Sequence[Point], pad: float = 4
) -> Point | None:
    """The top-left pixel of a ``size`` box in a corner of ``area`` (x, y, width, height)
    that contains none of ``taken`` (with ``pad`` pixels around points), or ``None``."""
    w, h = size
    x, y, aw, ah = area
    corners = [
        (x + aw - w - 4, y + 2),
        (x + 4, y + 2),
        (x + aw - w - 4, y + ah - h - 2),
        (x + 4, y + ah - h - 2),
    ]
    for cx, cy in corners:
        if not any(
            cx - pad <= tx <= cx + w + pad and cy - pad <= ty <= cy + h + pad for tx, ty in taken
        ):
            return cx, cy
    return None
