"""The report's model view: one section per :func:`initcheck.audit` report.

Each section has the per-weight table (layer path, parameter and piece, layer type, fans,
target rule, Var(W)/target with its interval, verdict, diagnosis), a figure of
Var(W)/target per weight against the rule (1, with the tolerance band), and the
gains-by-depth figure of the model's signal (activation second moment and per-example
gradient norm² per weighted layer, relative to the reference layer, log scale, with the
pass band).

Accepts :class:`~initcheck.models.records.ModelReport` objects or their ``to_dict()``
dicts; works on the dicts only, so a report rebuilt from JSON renders the same.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from initcheck.report.format import anchor, fmt, fmt_interval
from initcheck.report.inputs import as_float
from initcheck.report.legend import MEASURED, PASS_BAND, REFERENCE
from initcheck.report.svg import SvgPlot
from initcheck.verdicts import combined_verdict, verdict_of

_PASS, _FAIL, _REF, _ACT, _GRAD = PASS_BAND, "#c62828", REFERENCE, MEASURED, "#bc4c00"


def as_model_dicts(models: Iterable[Any] | None) -> list[dict[str, Any]]:
    """ModelReport objects or their ``to_dict()`` dicts, as dicts.

    Args:
        models: the model reports.

    Returns:
        One dict per report.

    Raises:
        TypeError: an item is neither.
    """
    out = []
    for item in models or ():
        if hasattr(item, "rows") and hasattr(item, "to_dict"):
            out.append(item.to_dict())
        elif isinstance(item, Mapping) and "rows" in item and "model" in item:
            out.append(dict(item))
        else:
            raise TypeError(
                "models= takes ModelReport objects (initcheck.audit) or their to_dict() dicts. "
                f"Received an item of type {type(item).__name__}: {item!r:.80}"
            )
    return out


def _variance_name() -> str:
    # the variance check's name, also its declaration's: read without importing the checks,
    # so the report layer (and the notebook display) imports no check module
    return "variance"


def _result(row: Mapping[str, Any], check: str) -> Mapping[str, Any] | None:
    for r in row.get("results") or ():
        if r.get("check") == check:
            return r
    return None


def _row_view(row: Mapping[str, Any], variance: str) -> dict[str, Any]:
    var = _result(row, variance)
    audited = bool(row.get("results"))
    passed = bool(row.get("passed")) if audited else None
    verdict = combined_verdict(verdict_of(r) for r in row.get("results") or ())
    fans = row.get("fans")
    failed = [
        f"{r.get('check')}: {r.get('message', '')}"
        for r in row.get("results") or ()
        if not r.get("passed")
    ]
    param = str(row.get("param", ""))
    if row.get("piece"):
        param += f" [{row['piece']}]"
    return {
        "layer": str(row.get("layer", "")) or "—",
        "param": param,
        "layer_type": str(row.get("layer_type", "")),
        "role": str(row.get("role", "")),
        "shape": "×".join(str(n) for n in row.get("shape") or ()) or "—",
        "fans": f"{fans[0]}, {fans[1]}" if fans else "—",
        "target": row.get("target") or "—",
        "ratio": fmt(var.get("statistic")) if var else "—",
        "interval": fmt_interval(var.get("interval")) if var else "",
        "ratio_cls": verdict_of(var) if var else "none",
        "cls": "none" if passed is None else verdict,
        "verdict": (
            "accepted"
            if row.get("status") == "accepted"
            else "not audited"
            if passed is None
            else {"pass": "PASS", "fail": "FAIL"}.get(verdict, "INCONCLUSIVE")
            + (f" ({row['status']})" if row.get("status") else "")
        ),
        "checks": ", ".join(str(r.get("check")) for r in row.get("results") or ()),
        "failed": failed,
        "diagnosis": str(row.get("diagnosis", "")),
        "note": str(row.get("note", "")),
        "summary": _summary(row, failed),
    }


def _summary(row: Mapping[str, Any], failed: Sequence[str]) -> str:
    """A row's one-line summary; the full messages sit in its ``<details>``."""
    if failed:
        head = failed[0].split(":", 2)
        text = ":".join(head[:2]) if len(head) > 1 else failed[0]
        return text.split(";", 1)[0][:80] + (f" (+{len(failed) - 1})" if len(failed) > 1 else "")
    if row.get("diagnosis"):
        return "diagnosis"
    return "note"


def _ticks(names: Sequence[str]) -> list[tuple[float, str]]:
    return [(float(i), n if len(n) <= 24 else n[:23] + "…") for i, n in enumerate(names, 1)]


def _width(n: int) -> int:
    return max(420, min(1100, 120 + 26 * n))


def ratio_svg(rows: Sequence[Mapping[str, Any]], variance: str) -> str | None:
    """Var(W)/target per weight with a variance verdict, against the rule (1) and its
    tolerance band; log scale. ``None`` when no row has a variance result.

    Args:
        rows: the report's row dicts.
        variance: the variance check's name.

    Returns:
        An inline ``<svg>`` or ``None``.
    """
    found = [
        (str(r.get("name", "")), v)
        for r in rows
        if (v := _result(r, variance)) and as_float(v.get("statistic"))
    ]
    if not found:
        return None
    n = len(found)
    plot = SvgPlot(
        width=_width(n),
        height=300,
        title="Var(W) / target per weight",
        ylabel="Var(W) / target (log)",
        ylog=True,
        legend="right",
    )
    band = (found[0][1].get("details") or {}).get("band")
    xs = [0.5, n + 0.5]
    if isinstance(band, Sequence) and len(band) == 2:
        plot.band(xs, [band[0]] * 2, [band[1]] * 2, color=_PASS, label="tolerance")
    plot.line(xs, [1.0, 1.0], color=_REF, dash="4 3", label="target rule")
    for ok, color, label in ((True, _PASS, "pass"), (False, _FAIL, "fail")):
        pts = [(i, v) for i, (_, v) in enumerate(found, 1) if bool(v.get("passed")) == ok]
        if not pts:
            continue
        lo = [as_float((v.get("interval") or [None, None])[0]) or math.nan for _, v in pts]
        hi = [as_float((v.get("interval") or [None, None])[1]) or math.nan for _, v in pts]
        ys = [as_float(v.get("statistic")) or math.nan for _, v in pts]
        plot.points([float(i) for i, _ in pts], ys, color=color, label=label, lo=lo, hi=hi)
    plot.xticks = _ticks([name for name, _ in found])
    plot.xlim = (0.5, n + 0.5)
    return plot.render()


def gains_svg(signal: Mapping[str, Any] | None) -> str | None:
    """The model's signal by depth: per weighted layer, the activation second moment
    relative to the first layer's and the per-example gradient norm² relative to the last
    layer's, with the pass band (BAND² either way); log scale. ``None`` without layers.

    Args:
        signal: the signal result's dict (``details["layers"]``).

    Returns:
        An inline ``<svg>`` or ``None``.
    """
    details = (signal or {}).get("details") or {}
    layers = details.get("layers") or []
    if len(layers) < 2:
        return None
    act = [as_float(s.get("activation_ms")) for s in layers]
    grad = [as_float(s.get("gradient_norm2")) for s in layers]
    n = len(layers)
    plot = SvgPlot(
        width=_width(n),
        height=300,
        title="Signal by depth (second moments, relative)",
        ylabel="relative second moment (log)",
        ylog=True,
        legend="right",
    )
    band = details.get("band")
    xs = [0.5, n + 0.5]
    if isinstance(band, Sequence) and len(band) == 2:
        lo, hi = float(band[0]) ** 2, float(band[1]) ** 2
        plot.band(xs, [lo, lo], [hi, hi], color=_PASS, label="pass band")
    plot.line(xs, [1.0, 1.0], color=_REF, dash="4 3")
    idx = [float(i) for i in range(1, n + 1)]
    for values, ref, color, label in (
        (act, act[0], _ACT, "activations ÷ first"),
        (grad, grad[-1], _GRAD, "gradients ÷ last"),
    ):
        if ref is None or not ref > 0:
            continue
        ys = [v / ref if v is not None else math.nan for v in values]
        plot.line(idx, ys, color=color, width=1.6)
        plot.points(idx, ys, color=color, label=label)
    plot.xticks = _ticks([str(s.get("layer", "")) for s in layers])
    plot.xlim = (0.5, n + 0.5)
    return plot.render()


def model_views(models: Iterable[Any] | None) -> list[dict[str, Any]]:
    """The template's view of each model report.

    Args:
        models: ModelReport objects or their ``to_dict()`` dicts.

    Returns:
        One dict per model: name, anchor, verdict, rows, figures and the signal's message.
    """
    dicts = as_model_dicts(models)
    if not dicts:
        return []
    variance = _variance_name()
    taken: set[str] = set()
    views = []
    for m in dicts:
        rows = list(m.get("rows") or ())
        signal = m.get("signal")
        figures = []
        ratio = ratio_svg(rows, variance)
        if ratio:
            figures.append(
                {
                    "svg": ratio,
                    "caption": "Var(W) / target of every weight with a variance target "
                    "(dots with their confidence intervals; green band: the tolerance, "
                    "dashed: the target rule at the weight's fans)",
                }
            )
        gains = gains_svg(signal)
        if gains:
            figures.insert(
                0,
                {
                    "svg": gains,
                    "caption": "Signal by depth on one batch: activation mean square at "
                    "each signal point ÷ the first point's, and per-example gradient norm² "
                    "there ÷ the last point's. "
                    + (
                        "Points are the residual stream (block outputs); the model passes "
                        "when the stream grows no faster than linearly with depth"
                        if ((signal or {}).get("details") or {}).get("regime") == "residual"
                        else "The model passes when the last activation and the first "
                        "gradient point lie in the green band"
                    ),
                },
            )
        name = str(m.get("model", "model"))
        passed = bool(m.get("passed"))
        verdict = str(m.get("verdict") or ("passed" if passed else "failed"))
        cov = m.get("coverage") or {}
        views.append(
            {
                "name": name,
                "framework": str(m.get("framework", "")),
                "anchor": anchor(name, taken, "m"),
                "passed": passed,
                "verdict": verdict,
                "coverage": (
                    f"audited {cov.get('weights_audited')} of {cov.get('weights')} weights "
                    f"({cov.get('parameters_audited', 0):,} of {cov.get('parameters', 0):,} "
                    "parameters)"
                    if cov
                    else ""
                ),
                "rows": [_row_view(r, variance) for r in rows],
                "n_failed": sum(
                    1
                    for r in rows
                    if r.get("results") and not r.get("passed") and r.get("status") != "accepted"
                ),
                "signal": None
                if not signal
                else {"passed": bool(signal.get("passed")), "message": signal.get("message", "")},
                "figures": figures,
                "findings": _finding_views(m.get("findings")),
                "after_fix": _after_fix(m.get("after_fix")),
                "n_passed": sum(1 for r in rows if r.get("results") and r.get("passed")),
            }
        )
    return views


def _finding_views(findings: Any) -> list[dict[str, Any]]:
    """The findings of a report dict (its ``findings`` entry), for the template."""
    out = []
    for f in findings if isinstance(findings, list) else ():
        fix = f.get("fix") or None
        out.append(
            {
                "cls": {"fail": "fail", "unaudited": "fail", "inconclusive": "inconclusive"}.get(
                    str(f.get("kind")), "info"
                ),
                "text": str(f.get("text", "")),
                "messages": [str(m) for m in f.get("messages") or ()],
                "fix": None
                if not fix
                else {
                    "framework": str(fix.get("framework", "")),
                    "code": str(fix.get("code", "")),
                    "hint": str(fix.get("hint", "")),
                },
            }
        )
    return out


def _after_fix(after: Any) -> dict[str, Any] | None:
    """What the re-audit of the fixed copy found (``ModelReport.fixed``), or ``None``."""
    if not isinstance(after, Mapping):
        return None
    still = [
        str(f.get("text", ""))
        for f in after.get("findings") or ()
        if isinstance(f, Mapping) and f.get("kind") != "info"
    ]
    signal = after.get("signal") or {}
    if signal and not signal.get("passed"):
        still.append(f"model signal: {signal.get('message', '')}")
    return {
        "passed": bool(after.get("passed")),
        "verdict": str(after.get("verdict")),
        "still": still,
    }
