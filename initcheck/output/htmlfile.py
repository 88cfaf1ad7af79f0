"""The HTML format (``--report``, ``--initcheck-report``): one self-contained page.

This module is where the report layer meets the registry: it reads the registered checks
(:func:`catalog`) and hands them to :mod:`initcheck.report`, which only draws and imports
neither the registry nor a check.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from initcheck import registry
from initcheck.report import figures, html

if TYPE_CHECKING:
    from initcheck.output import Output


def catalog() -> dict[str, Any]:
    """The registered checks by name (:class:`~initcheck.registry.Check`: ``order``,
    ``summary``, ``unit``, ``when``, ``figure``, ``table``), for the report layer."""
    return {c.name: c for c in registry.checks()}


def svg_figures_for(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The (caption, inline SVG) figures a result dict's check declares."""
    return figures.svg_figures_for(result, catalog())


def result_figures(results: Iterable[Any]) -> list[tuple[str, str]]:
    """(name, inline SVG) figures for pytest-html extras, one set per plottable result
    (``CheckResult`` objects or their ``to_dict()`` dicts)."""
    return figures.result_figures(results, catalog())


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
    return html.render_html(
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
    return html.write_html_report(
        path,
        results,
        comparisons=comparisons,
        settings=settings,
        title=title,
        models=models,
        checks=catalog(),
    )


def write(path: str | os.PathLike[str], output: Output) -> Path:
    """The format's writer (:data:`initcheck.output.FORMATS`): ``output``'s page."""
    return write_html_report(
        path,
        output.results,
        comparisons=output.comparisons,
        settings=output.settings,
        title=output.title,
        models=output.models,
    )
