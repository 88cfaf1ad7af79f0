"""The self-contained HTML report: build the view, render the Jinja2 template, write.

The page has no external resource (styles inline, figures inline SVG, no JavaScript) and
declares a strict Content-Security-Policy; every user-provided string goes through
Jinja2's autoescaping. Only figure SVG produced by :mod:`initcheck.report.figures` (which
XML-escapes every text) is inserted as markup.

Nothing here knows a check by name: the columns, their order, each check's figures and
tables come from the registry (:class:`initcheck.registry.Check`).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from initcheck.files import write_text_atomic
from initcheck.report.curves import curves_caption, curves_svg
from initcheck.report.figures import figures_by_result
from initcheck.report.format import anchor, fmt, fmt_int, fmt_interval, fmt_pct
from initcheck.report.inputs import as_result_dicts, normalize_comparisons
from initcheck.report.models import model_views
from initcheck.results import jsonable
from initcheck.verdicts import EXPECTED, WORDS, combined_verdict, shown_verdict
from initcheck.versions import versions

#: A verdict's mark in the report's tables (its colour is the CSS class of the verdict).
MARK = {"pass": "PASS", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "expected": "expected"}
#: Which of a check's several results (one per test) a matrix cell shows: the worst.
_SEVERITY = {"pass": 0, "expected": 1, "inconclusive": 2, "fail": 3}

_TEMPLATE = "report.html.j2"
#: Under a figure drawn from standardized weights (``details["sample"]``).
_SCALE_NOTE = (
    "The N(0, 1) curve is a reference for scale only: the distribution family is unknown "
    "to initcheck and not checked here (uniform or truncated normal initializers are sound "
    "with the same variance)."
)


# --------------------------------------------------------------------------- view model


def unit_of(result: Mapping[str, Any], known: Mapping[str, Any]) -> str:
    """The unit of a result's ``statistic``: its own ``unit``, else its check's
    :attr:`~initcheck.registry.Check.unit`; ``""`` for an unknown check or no statistic."""
    if result.get("statistic") is None:
        return ""
    if result.get("unit"):
        return str(result["unit"])
    check = known.get(str(result.get("check")))
    unit = getattr(check, "unit", "")
    return str(unit(result) if callable(unit) else unit)


def _order(check: str, known: Mapping[str, Any]) -> tuple[int, str]:
    """A check's place in reports (:attr:`initcheck.registry.Check.order`)."""
    return (known[check].order if check in known else 10**6), check


def _figure_note(details: Mapping[str, Any]) -> str | None:
    """The note under a figure of standardized weights, from the result's own details."""
    if not details.get("sample"):
        return None
    family = details.get("family")
    if family:
        return f"The N(0, 1) curve is a reference for scale only; the declared family is {family}."
    return _SCALE_NOTE


def _table(check: Any, result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The check's own table (:attr:`initcheck.registry.Check.table`), if it has one."""
    make: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = getattr(
        check, "table", None
    )
    if make is None or not isinstance(result.get("details"), Mapping):
        return None
    table = make(result)
    return table if table and table.get("rows") else None


def _initializer_views(
    results: list[dict[str, Any]], known: Mapping[str, Any]
) -> list[dict[str, Any]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        grouped.setdefault(str(r.get("initializer", "?")), []).append(r)
    taken: set[str] = set()
    views = []
    for name, rs in grouped.items():
        checks: list[dict[str, Any]] = []
        rs = sorted(rs, key=lambda r: (bool(r.get("passed")), _order(str(r.get("check")), known)))
        for r, found in zip(rs, figures_by_result(rs, known), strict=True):
            raw = r.get("details")
            details: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
            check = known.get(str(r.get("check")))
            checks.append(
                {
                    "check": str(r.get("check")),
                    "summary": check.summary if check is not None else "",
                    "passed": bool(r.get("passed")),
                    "verdict": shown_verdict(r),
                    "mark": MARK[shown_verdict(r)],
                    "message": str(r.get("message", "")),
                    "statistic": fmt(r.get("statistic")),
                    "unit": unit_of(r, known),
                    "target": fmt(r.get("target")),
                    "target_label": details.get("target") or details.get("law"),
                    "interval": fmt_interval(r.get("interval")),
                    "pvalue": fmt(r.get("pvalue")),
                    "alpha": fmt(r.get("alpha")),
                    "n": fmt_int(r.get("n")),
                    "figures": [{"caption": c, "svg": svg} for c, svg in found],
                    "figure_note": _figure_note(details) if found else None,
                    "table": _table(check, r),
                    # the plugin's session report: the test that produced it, its shape
                    "test": str(r.get("test") or r.get("nodeid") or ""),
                    "shape": str(r.get("shape") or ""),
                }
            )
        views.append(
            {
                "name": name,
                "anchor": anchor(name, taken, "i"),
                "passed": all(c["passed"] for c in checks),
                "verdict": (verdict := combined_verdict(c["verdict"] for c in checks)),
                "word": WORDS[verdict],
                "failed": [c for c in checks if c["verdict"] == "fail"],
                "undecided": [c for c in checks if c["verdict"] == "inconclusive"],
                "expected": [c for c in checks if c["verdict"] == EXPECTED],
                "checks": checks,
                # several tests may check the same property: the cell shows the worst
                "by_check": {
                    c["check"]: c for c in sorted(checks, key=lambda c: _SEVERITY[c["verdict"]])
                },
            }
        )
    return views


def _matrix(
    inits: list[dict[str, Any]],
    present: Iterable[str],
    comparisons: list[dict[str, Any]],
    known: Mapping[str, Any],
) -> list[str]:
    """The verdict matrix: a column per check present, in registry order; when training
    comparisons are given, the training checks' columns (``when="train"``) too, whose
    cells without a verdict show the run's validation accuracy (linking to its table)."""
    trained: dict[str, tuple[int, float | None]] = {}
    for i, comp in enumerate(comparisons, 1):
        for run in comp["runs"]:
            trained.setdefault(run["name"], (i, run["val_accuracy"]))
    columns = set(present)
    if trained:
        columns |= {c.name for c in known.values() if c.when == "train"}
    ordered = sorted(columns, key=lambda c: _order(c, known))
    for init in inits:
        cells = []
        for c in ordered:
            r = init["by_check"].get(c)
            if r is not None:
                cells.append({"cls": r["verdict"], "text": r["mark"], "href": None})
            elif c in known and known[c].when == "train" and init["name"] in trained:
                i, acc = trained[init["name"]]
                text = f"{fmt_pct(acc)} val. acc." if acc is not None else "trained"
                cells.append({"cls": "info", "text": text, "href": f"#comparison-{i}"})
            else:
                cells.append({"cls": "none", "text": "—", "href": None})
        init["cells"] = cells
    return ordered


#: The comparison table's numeric columns: (header, run key, formatter, better).
_RUN_COLUMNS: tuple[tuple[str, str, Callable[[Any], str], int], ...] = (
    ("validation accuracy", "val_accuracy", fmt_pct, +1),
    ("validation loss", "val_loss", fmt, -1),
    ("last batch loss", "last_loss", fmt, -1),
    ("mean loss, last 50", "mean_last_50", fmt, -1),
    ("batches", "batches", fmt_int, 0),
)


def _best(runs: list[dict[str, Any]], key: str, better: int) -> float | None:
    """The best finite value of a column (``None`` when there is nothing to compare)."""
    values = [v for r in runs if (v := r.get(key)) is not None and math.isfinite(v)]
    if not better or len(values) < 2 or min(values) == max(values):
        return None
    return max(values) if better > 0 else min(values)


def _comparison_views(comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for comp in comparisons:
        runs = comp["runs"]
        # "mean loss, last 50" only where every run has 50 batches (else it would average
        # fewer and say 50)
        columns = [c for c in _RUN_COLUMNS if any(r.get(c[1]) is not None for r in runs)]
        best = {key: _best(runs, key, better) for _, key, _, better in columns}
        curves = {r["name"]: r["losses"] for r in runs}
        out.append(
            {
                "title": comp["title"],
                "meta": [(str(k), str(v)) for k, v in comp["meta"].items()],
                "svg": curves_svg(curves),
                "caption": curves_caption(curves),
                "failed": comp.get("failed", []),
                "n_columns": len(columns),
                "header": [h for h, *_ in columns],
                "runs": [
                    {
                        "name": r["name"],
                        "diverged": r["diverged"],
                        "cells": [
                            {
                                "text": show(r[key]),
                                "best": best[key] is not None and r[key] == best[key],
                            }
                            for _, key, show, _ in columns
                        ],
                    }
                    for r in runs
                ],
            }
        )
    return out


def runtime_versions() -> dict[str, str]:
    """initcheck's version and those of the numeric libraries (loaded or installed)."""
    return versions(installed=True)


def _settings_view(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = dict(settings or {})
    versions = {**runtime_versions(), **dict(settings.pop("versions", None) or {})}
    rows = [(str(k), v if isinstance(v, str) else _compact(v)) for k, v in settings.items()]
    repro = [("seed", str(settings.get("seed", "—")))]
    repro += [
        (k, str(versions[k]))
        for k in ("initcheck", "tensorflow", "keras", "numpy")
        if k in versions
    ]
    return {
        "rows": rows,
        "versions": sorted((str(k), str(v)) for k, v in versions.items()),
        "repro": repro,
    }


def _compact(value: Any) -> str:
    import json

    text = json.dumps(jsonable(value), ensure_ascii=False)
    return text if len(text) <= 300 else text[:297] + "…"


# --------------------------------------------------------------------------- render/write


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).with_name("templates"))),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["safe_svg"] = jinja2.pass_eval_context(lambda _ctx, s: _markup(s))
    env.filters["nodeid"] = _nodeid
    env.filters["name"] = _name
    return env


def _nodeid(text: str) -> Any:
    """A pytest node id that wraps only after ``::`` and ``/``: each part between them
    unbreakable, a ``<wbr>`` after each separator (everything escaped)."""
    return _breakable(text, r"(?<=::)|(?<=/)")


def _name(text: str) -> Any:
    """A name (initializer, model, weight) that wraps only after a separator (``_ . / :
    - , (`` or a space), never inside a word (``he_uniform_mine``, not ``he_unifor m``)."""
    return _breakable(text, r"(?<=[_./:\-,( ])")


def _breakable(text: str, after: str) -> Any:
    from markupsafe import Markup, escape

    parts = re.split(after, str(text))
    if len([p for p in parts if p]) < 2:  # nothing to wrap at
        return escape(str(text))
    return Markup("<wbr>").join(
        Markup('<span class="nb">{}</span>').format(escape(p)) for p in parts if p
    )


def _markup(svg: str) -> Any:
    from markupsafe import Markup

    if "<script" in svg.lower():  # never produced by figures; refuse to inline
        raise ValueError("refusing to inline an SVG figure containing <script>")
    return Markup(svg)


def render_html(
    results: Iterable[Any] | None,
    *,
    comparisons: Iterable[Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    models: Iterable[Any] | None = None,
    checks: Mapping[str, Any],
) -> str:
    """The report as an HTML string (arguments as for :func:`write_html_report`).

    ``checks`` are the registered checks by name (``order``, ``summary``, ``when``,
    ``unit``, ``figure``, ``table``): the caller reads them from the registry
    (:func:`initcheck.output.htmlfile.catalog`), so the report layer imports no check.
    """
    known = checks
    result_dicts = as_result_dicts(results)
    inits = _initializer_views(result_dicts, known)
    normalized = normalize_comparisons(comparisons)
    comps = _comparison_views(normalized)
    columns = _matrix(inits, {str(r.get("check")) for r in result_dicts}, normalized, known)
    n_failed = sum(i["verdict"] == "fail" for i in inits)
    n_inconclusive = sum(i["verdict"] == "inconclusive" for i in inits)
    n_expected = sum(len(i["expected"]) for i in inits)
    return (
        _environment()
        .get_template(_TEMPLATE)
        .render(
            title=title or "initcheck report",
            generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            initializers=inits,
            tests=any(c["test"] or c["shape"] for i in inits for c in i["checks"]),
            columns=columns,
            summaries={name: c.summary for name, c in known.items()},
            n_failed=n_failed,
            n_inconclusive=n_inconclusive,
            n_expected=n_expected,
            comparisons=comps,
            models=model_views(models),
            settings=_settings_view(settings),
            version=runtime_versions()["initcheck"],
        )
    )


def write_html_report(
    path: str | os.PathLike[str],
    results: Iterable[Any] | None,
    *,
    comparisons: Iterable[Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    models: Iterable[Any] | None = None,
    checks: Mapping[str, Any],
) -> Path:
    """Write one self-contained HTML report and return its path
    (:func:`initcheck.report.write_html_report` passes the registry's ``checks``).

    Args:
        path: the file to write; parent directories are created. It is written
            atomically (:func:`initcheck.files.write_text_atomic`), so a reader never sees
            a half-written report.
        results: :class:`~initcheck.results.CheckResult` objects or their ``to_dict()``
            dicts, for any number of initializers (Reports are accepted too).
        comparisons: :class:`~initcheck.training.Comparison` objects or dicts
            ``{name: {"losses": [...], "val_accuracy": x, "val_loss": y}}``.
        settings: settings to show for reproduction (e.g. ``Report.settings``, with
            ``versions``); initcheck's and the loaded libraries' versions are added.
        title: the page title.
        models: :class:`~initcheck.models.records.ModelReport` objects (from
            :func:`initcheck.audit`) or their ``to_dict()`` dicts: one section each, with
            the per-weight table and the Var/target and signal-by-depth figures.

    Returns:
        The path written.

    Raises:
        IsADirectoryError: ``path`` is a directory.
        TypeError: an item of ``results``, ``comparisons`` or ``models`` is not a
            result/comparison/model report.
    """
    html = render_html(
        results,
        comparisons=comparisons,
        settings=settings,
        title=title,
        models=models,
        checks=checks,
    )
    return write_text_atomic(path, html)
