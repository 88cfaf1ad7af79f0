"""The one output path: every JSON and HTML file initcheck writes goes through here —
``initcheck check``, ``compare`` and ``audit`` (``--json``, ``--report``), the plugin
(``--initcheck-json``, ``--initcheck-report``, pytest-html extras) and
:func:`initcheck.report.write_html_report`.

Every JSON document is one versioned envelope around its payload (docs/report.md,
"JSON output")::

    {"initcheck": "0.1.0", "schema": 1, "kind": "check", "payload": {...}}

``kind`` says what the payload is: ``"check"`` (``Report.to_dict()``), ``"compare"``
(:func:`initcheck.training_runs.comparison_json`), ``"audit"`` (``ModelReport.to_dict()``,
whatever it holds) or ``"session"`` (the plugin's records, settings and summary).

This module is where the report layer meets the registry: it reads the registered
checks (:func:`catalog`) and hands them to :mod:`initcheck.report`, which only draws and
imports neither the registry nor a check.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "KINDS",
    "SCHEMA",
    "catalog",
    "envelope",
    "json_text",
    "render_html",
    "result_figures",
    "svg_figures_for",
    "without_samples",
    "write_html_report",
    "write_json",
]

#: The envelope's schema version, one for every kind. The plugin's ``--initcheck-json``
#: was the only versioned output before the envelope (``"initcheck": 1``): its version,
#: 1, is the schema's, and its payload is unchanged.
SCHEMA = 1
#: What an envelope's payload can be.
KINDS = ("check", "compare", "audit", "session")


def envelope(kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """``payload`` in the versioned envelope.

    Args:
        kind: one of :data:`KINDS`.
        payload: JSON-safe data (e.g. ``Report.to_dict()``), kept as it is.

    Returns:
        ``{"initcheck": VERSION, "schema": SCHEMA, "kind": kind, "payload": payload}``.

    Raises:
        ValueError: an unknown ``kind``.
    """
    if kind not in KINDS:
        raise ValueError(
            f"kind must be one of {', '.join(map(repr, KINDS))}. Received: kind={kind!r}"
        )
    from initcheck._version import __version__

    return {"initcheck": __version__, "schema": SCHEMA, "kind": kind, "payload": dict(payload)}


def without_samples(data: Any) -> Any:
    """``data`` with every result's figure subsample (``details["sample"]``, 2,000 values
    of a centering result) left out: the JSON stays small; the HTML report draws them."""
    if isinstance(data, Mapping):
        out = {k: without_samples(v) for k, v in data.items()}
        details = out.get("details")
        if isinstance(details, dict) and "sample" in details:
            out["details"] = {k: v for k, v in details.items() if k != "sample"}
        return out
    if isinstance(data, list | tuple):
        return [without_samples(v) for v in data]
    return data


def json_text(kind: str, payload: Mapping[str, Any], *, samples: bool = False) -> str:
    """The envelope as JSON text (non-finite floats are an error: payloads are
    :func:`~initcheck.results.jsonable`); ``samples`` keeps the figures' raw subsamples
    (:func:`without_samples`)."""
    data = envelope(kind, payload if samples else without_samples(payload))
    return json.dumps(data, indent=2, allow_nan=False, ensure_ascii=False) + "\n"


def write_json(
    path: str | os.PathLike[str], kind: str, payload: Mapping[str, Any], *, samples: bool = False
) -> Path | None:
    """Write ``payload`` in its envelope to ``path`` (atomically), or to stdout for ``-``.

    Args:
        path: the file, or ``"-"``.
        kind: one of :data:`KINDS`.
        payload: JSON-safe data.
        samples: keep the figures' raw subsamples (left out by default: a session's JSON
            stays small).

    Returns:
        The path written, or ``None`` for stdout.
    """
    text = json_text(kind, payload, samples=samples)
    if str(path) == "-":
        sys.stdout.write(text)
        return None
    from initcheck.files import write_text_atomic

    return write_text_atomic(path, text)


def catalog() -> dict[str, Any]:
    """The registered checks by name (:class:`~initcheck.registry.Check`: ``order``,
    ``summary``, ``unit``, ``when``, ``figure``, ``table``), for the report layer."""
    from initcheck import registry

    return {c.name: c for c in registry.checks()}


def svg_figures_for(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (caption, inline SVG) figures a result dict's check declares."""
    from initcheck.report.figures import svg_figures_for as draw

    return draw(result, catalog())


def result_figures(results: Iterable[Any]) -> list[tuple[str, str]]:
    """(name, inline SVG) figures for pytest-html extras, one set per plottable result
    (``CheckResult`` objects or their ``to_dict()`` dicts)."""
    from initcheck.report.figures import result_figures as draw

    return draw(results, catalog())


def render_html(
    results: Iterable[Any] | None,
    *,
    comparisons: Iterable[Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    models: Iterable[Any] | None = None,
) -> str:
    """The self-contained HTML report as a string (arguments as for
    :func:`write_html_report`)."""
    from initcheck.report.html import render_html as render

    return render(
        results,
        comparisons=comparisons,
        settings=settings,
        title=title,
        models=models,
        checks=catalog(),
    )


def write_html_report(
    path: str | os.PathLike[str],
    results: Iterable[Any] | None,
    *,
    comparisons: Iterable[Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
    models: Iterable[Any] | None = None,
) -> Path:
    """Write one self-contained HTML report (atomically) and return its path.

    Args:
        path: the file to write; parent directories are created.
        results: :class:`~initcheck.results.CheckResult` objects or their ``to_dict()``
            dicts, for any number of initializers (Reports are accepted too).
        comparisons: :class:`~initcheck.training.Comparison` objects or dicts
            ``{name: {"losses": [...], "val_accuracy": x, "val_loss": y}}``.
        settings: settings to show for reproduction (e.g. ``Report.settings``).
        title: the page title.
        models: :class:`~initcheck.models.records.ModelReport` objects or their
            ``to_dict()`` dicts: one section each.

    Returns:
        The path written.

    Raises:
        IsADirectoryError: ``path`` is a directory.
        TypeError: an item of ``results``, ``comparisons`` or ``models`` is not a
            result/comparison/model report.
    """
    from initcheck.report.html import write_html_report as write

    return write(
        path,
        results,
        comparisons=comparisons,
        settings=settings,
        title=title,
        models=models,
        checks=catalog(),
    )
