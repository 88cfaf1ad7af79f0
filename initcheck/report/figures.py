"""Figures: which a result shows, for the HTML report and pytest-html extras.

Each check draws its own figures, in its module (``figure=`` of its record,
:attr:`initcheck.registry.Check.figure`), from plain JSON-like data (the ``details`` of a
:class:`~initcheck.results.CheckResult`) with the primitives here and in
:mod:`~initcheck.report.svg`. This module picks and orders them: it is handed the checks,
and imports none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from initcheck.report.inputs import as_result_dicts
from initcheck.report.svg import esc


def shape_rows(per_shape: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [(str(k), v) for k, v in per_shape.items() if isinstance(v, Mapping)]


def message_svg(title: str, lines: Sequence[str]) -> str:
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
    out: list[tuple[str, str]] = []
    for r, figs in zip(results, figures_by_result(results, checks), strict=True):
        out.extend((f"{r.get('initializer')}: {caption}", svg) for caption, svg in figs)
    return out
