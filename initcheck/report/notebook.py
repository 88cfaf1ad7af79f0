"""Notebook display: the ``_repr_html_`` of :class:`~initcheck.results.Report`,
:class:`~initcheck.models.records.ModelReport` and
:class:`~initcheck.training_runs.Comparison`.

Each is a compact verdict table (a comparison's adds its loss curves), self-contained
like the report: one ``<div>`` with inline styles only (no ``<style>`` element that would
restyle the notebook), inline SVG, no script and no external resource; every text is
HTML-escaped. The full report is :func:`initcheck.report.write_html_report`.

The records' ``_repr_html_`` import this module, so it imports none of theirs (nor the
registry): it reads the objects it is given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from initcheck.report.curves import curves_caption, curves_svg
from initcheck.report.format import fmt, fmt_pct
from initcheck.report.models import model_views

_PASS, _FAIL, _MUTED, _UNSURE = "#1a7f37", "#c62828", "#57606a", "#8a5300"
_CELL = "border:1px solid #d0d7de;padding:2px 8px;text-align:left;vertical-align:top"
_NUM = _CELL.replace("text-align:left", "text-align:right") + ";white-space:nowrap"


def _verdict(passed: bool | None, text: str | None = None) -> str:
    color = _MUTED if passed is None else (_PASS if passed else _FAIL)
    shown = text or ("PASS" if passed else "FAIL")
    return f'<span style="color:{color};font-weight:700">{escape(shown)}</span>'


def _mark(verdict: str) -> str:
    """A check's verdict: PASS, FAIL or INCONCLUSIVE, each in its own colour."""
    color = {"pass": _PASS, "fail": _FAIL}.get(verdict, _UNSURE)
    return f'<span style="color:{color};font-weight:700">{escape(verdict.upper())}</span>'


def _td(cell: tuple[str, bool] | tuple[str, bool, int]) -> str:
    span = f' colspan="{cell[2]}"' if len(cell) == 3 else ""
    return f'<td style="{_NUM if cell[1] else _CELL}"{span}>{cell[0]}</td>'


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A table; each cell is ``(html, numeric)`` or ``(html, numeric, colspan)``, its
    ``html`` already escaped."""
    head = "".join(f'<th style="{_CELL};background:#f6f8fa">{escape(h)}</th>' for h in header)
    body = "".join("<tr>" + "".join(_td(c) for c in r) + "</tr>" for r in rows)
    return (
        '<table style="border-collapse:collapse;margin:4px 0;font-variant-numeric:tabular-nums">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _box(title: str, passed: bool | None, verdict: str, *parts: str) -> str:
    head = f'<div style="font-weight:600;margin:2px 0">{title} {_verdict(passed, verdict)}</div>'
    return (
        '<div class="initcheck" style="font:13px/1.4 system-ui,sans-serif;color:#1f2328">'
        + head
        + "".join(parts)
        + "</div>"
    )


def _note(text: str) -> str:
    return f'<div style="color:{_MUTED};font-size:12px">{escape(text)}</div>'


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def report_html(report: Any) -> str:
    """A :class:`~initcheck.results.Report` as a verdict table: per check its verdict,
    measured value with its unit, target, and the message of a failure."""
    rows: list[list[tuple[Any, ...]]] = []
    for r in report.results:
        unit = r.unit if r.statistic is not None else ""
        rows.append(
            [
                (escape(r.check), False),
                (_mark(r.verdict), False),
                (escape(fmt(r.statistic)), True),
                (escape(fmt(r.target)), True),
                (escape(unit), False),
                ("" if r.passed else escape(_short(r.message)), False),
            ]
        )
    table = _table(["check", "verdict", "measured", "target", "unit", "why it failed"], rows)
    title = f"initcheck: <code>{escape(report.initializer)}</code>"
    verdict = {"pass": "PASSED", "fail": "FAILED"}.get(report.verdict, "INCONCLUSIVE")
    return _box(title, report.passed, verdict, table)


def model_html(report: Any) -> str:
    """A :class:`~initcheck.models.records.ModelReport` as its weight table (layer,
    shape, fans, target, Var(W)/target, verdict, diagnosis) and the signal's verdict."""
    (view,) = model_views([report])
    rows: list[list[tuple[Any, ...]]] = []
    for r in view["rows"]:
        name = r["layer"] + "." + r["param"]
        passed = None if r["cls"] == "none" else r["cls"] == "pass"
        why = r["diagnosis"] or "; ".join(r["failed"]) or r["note"]
        rows.append(
            [
                (f"<code>{escape(name)}</code>", False),
                (escape(r["layer_type"]), False),
                (escape(r["shape"]), True),
                (escape(r["fans"]), True),
                (escape(str(r["target"])), False),
                (escape(r["ratio"]), True),
                (_verdict(passed, str(r["verdict"])), False),
                (escape(why), False),
            ]
        )
    header = ["weight", "layer type", "shape", "fans", "target", "Var(W) / target"]
    table = _table([*header, "verdict", "diagnosis"], rows)
    parts = [_note(view["coverage"]), table] if view["coverage"] else [table]
    if view["signal"]:
        signal = view["signal"]
        parts.append(
            f"<div>model signal {_verdict(signal['passed'])}: {escape(signal['message'])}</div>"
        )
    title = f"initcheck audit: <code>{escape(view['name'])}</code> ({escape(view['framework'])})"
    return _box(title, view["passed"], view["verdict"].upper(), *parts)


def comparison_html(comparison: Any) -> str:
    """A :class:`~initcheck.training_runs.Comparison` as its training table (a failed row
    for an initializer that was not trained) and its loss curves."""
    rows: list[list[tuple[Any, ...]]] = []
    last_50 = all(run.batches >= 50 for run in comparison.runs.values())
    for name, run in comparison.runs.items():
        mean = [(escape(fmt(run.mean_loss(50))), True)] if last_50 else []
        rows.append(
            [
                (f"<code>{escape(name)}</code>", False),
                (escape(fmt_pct(run.val_accuracy)), True),
                (escape(fmt(run.val_loss)), True),
                (escape(fmt(run.last_loss)), True),
                *mean,
                (escape(str(run.batches)), True),
            ]
        )
    header = ["initializer", "val. accuracy", "val. loss", "last batch loss"]
    header += ["mean last 50"] if last_50 else []
    for name, error in comparison.failed.items():
        why = f"{_verdict(False, 'not trained')}: {escape(error)}"
        rows.append([(f"<code>{escape(name)}</code>", False), (why, False, len(header))])
    parts = [_table([*header, "batches"], rows)]
    curves = {name: list(run.losses) for name, run in comparison.runs.items()}
    svg = curves_svg(curves)
    if svg:
        parts += [f'<div style="max-width:100%;overflow-x:auto">{svg}</div>']
        parts += [_note(curves_caption(curves))]
    meta = f"batch {comparison.batch_size}, seed {comparison.seed}, {comparison.data_source}"
    failed = bool(comparison.failed)
    verdict = f"{len(comparison.failed)} NOT TRAINED" if failed else "TRAINED"
    return _box("initcheck comparison", not failed, verdict, _note(meta), *parts)
