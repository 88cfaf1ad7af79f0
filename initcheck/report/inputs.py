"""Report inputs, normalized: check results to dicts, training comparisons to run views,
a training result's loss curves.

Accepts what initcheck produces (``CheckResult``/``Report`` objects, ``Comparison``
objects) and the same as plain JSON-like dicts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any


def as_result_dicts(results: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Accept CheckResult objects, their ``to_dict()`` dicts, or Report objects/dicts."""
    out: list[dict[str, Any]] = []
    for item in results or ():
        if hasattr(item, "results") and hasattr(item, "initializer"):  # a Report
            out.extend(as_result_dicts(item.results))
        elif hasattr(item, "to_dict") and hasattr(item, "check"):  # a CheckResult
            out.append(item.to_dict())
        elif isinstance(item, Mapping) and "results" in item and "check" not in item:
            out.extend(as_result_dicts(item["results"]))
        elif isinstance(item, Mapping) and "check" in item:
            out.append(dict(item))
        else:
            raise TypeError(
                "write_html_report() takes CheckResult objects or their to_dict() dicts "
                f"(or Reports). Received an item of type {type(item).__name__}: {item!r:.80}"
            )
    return out


def as_float(value: Any) -> float | None:
    """``value`` as a float (``"inf"`` strings too); ``None`` if not a number or NaN."""
    if isinstance(value, str):
        value = {"inf": math.inf, "-inf": -math.inf}.get(value, value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if not math.isnan(f) else None


def finite_floats(values: Iterable[Any]) -> list[float]:
    """The finite numbers among ``values``, as floats (others left out)."""
    out = []
    for v in values:
        f = as_float(v)
        if f is not None and math.isfinite(f):
            out.append(f)
    return out


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float, else ``None``."""
    f = as_float(value)
    return f if f is not None and math.isfinite(f) else None


def loss_curve(value: Any) -> list[float]:
    """A loss curve as floats (NaN where a value is missing or not a number)."""
    if value is None:
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    out = []
    for v in value:
        f = as_float(v)
        out.append(f if f is not None else float("nan"))
    return out


def _run_view(name: str, run: Any) -> dict[str, Any]:
    get = run.get if isinstance(run, Mapping) else lambda k, d=None: getattr(run, k, d)
    losses = loss_curve(get("losses"))
    finite = [v for v in losses if math.isfinite(v)]
    tail = [v for v in losses[-50:] if math.isfinite(v)]
    return {
        "name": str(name),
        "losses": losses,
        "val_accuracy": as_float(get("val_accuracy")),
        "val_loss": as_float(get("val_loss")),
        "last_loss": losses[-1] if losses else None,
        "mean_last_50": sum(tail) / len(tail) if tail and len(losses) >= 50 else None,
        "batches": get("batches") or len(losses),
        "diverged": bool(losses) and len(finite) < len(losses),
    }


def normalize_comparisons(comparisons: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Comparison objects or dicts → ``[{title, meta, runs: [run view, ...], failed:
    [(name, error), ...]}]``.

    A dict is either ``{name: {"losses": [...], "val_accuracy": x, "val_loss": y}}`` or
    ``{"title": ..., "runs": {name: {...}}, "failed": {name: error}}``.
    """
    out = []
    for i, comp in enumerate(comparisons or (), 1):
        meta: dict[str, Any] = {}
        title = None
        failed: Any = {}
        if isinstance(comp, Mapping):
            if isinstance(comp.get("runs"), Mapping):
                runs = comp["runs"]
                title = comp.get("title")
                failed = comp.get("failed") or {}
                meta = {k: v for k, v in comp.items() if k not in ("runs", "title", "failed")}
            else:
                runs = comp
        elif hasattr(comp, "runs"):
            runs = comp.runs
            title = getattr(comp, "title", None)
            failed = getattr(comp, "failed", None) or {}
            for key in ("batch_size", "seed", "data_source"):
                if getattr(comp, key, None) is not None:
                    meta[key] = getattr(comp, key)
        else:
            raise TypeError(
                "comparisons must be initcheck.training.Comparison objects or dicts "
                f"{{name: {{'losses': [...], ...}}}}. Received: {type(comp).__name__}"
            )
        if not isinstance(runs, Mapping):
            raise TypeError(
                f"a comparison's runs must be a mapping name → run. Received: {type(runs).__name__}"
            )
        views = [_run_view(name, run) for name, run in runs.items()]
        failures = [(str(k), str(v)) for k, v in dict(failed).items()]
        if not views and not failures:
            continue
        if "batches" not in meta and views:
            meta = {"batches": views[0]["batches"], **meta}
        out.append(
            {
                "title": str(title) if title else f"Comparison {i}",
                "meta": meta,
                "runs": views,
                "failed": failures,
            }
        )
    return out


def training_curves(result: Mapping[str, Any]) -> dict[str, list[float]]:
    """Loss curves in a training result's details: its own and its reference's.

    Reads what :func:`initcheck.training.loss_decrease_result` records: ``loss_curve``
    (this initializer) and ``reference_loss_curve`` (named by ``reference``).
    """
    details = result.get("details") or {}
    if not isinstance(details, Mapping):
        return {}
    curves = {
        str(result.get("initializer", "initializer")): loss_curve(details.get("loss_curve")),
        f"{details.get('reference') or 'reference'} (reference)": loss_curve(
            details.get("reference_loss_curve")
        ),
    }
    return {k: v for k, v in curves.items() if v}
