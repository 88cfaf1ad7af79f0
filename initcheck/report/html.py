"""The self-contained HTML report: normalize results, render the Jinja2 template, write.

The page has no external resource (styles inline, figures inline SVG, no JavaScript) and
declares a strict Content-Security-Policy; every user-provided string goes through
Jinja2's autoescaping. Only figure SVG produced by :mod:`initcheck.report.figures` (which
XML-escapes every text) is inserted as markup.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import importlib.metadata
import math
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "as_result_dicts",
    "normalize_comparisons",
    "render_html",
    "training_curves",
    "write_html_report",
]

_TEMPLATE = "report.html.j2"


# --------------------------------------------------------------------------- inputs


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


def _float(value: Any) -> float | None:
    if isinstance(value, str):
        value = {"inf": math.inf, "-inf": -math.inf}.get(value, value)
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if not math.isnan(f) else None


def _losses(value: Any) -> list[float]:
    if value is None:
        return []
    if hasattr(value, "tolist"):
        value = value.tolist()
    out = []
    for v in value:
        f = _float(v)
        out.append(f if f is not None else float("nan"))
    return out


def _run_view(name: str, run: Any) -> dict[str, Any]:
    get = run.get if isinstance(run, Mapping) else lambda k, d=None: getattr(run, k, d)
    losses = _losses(get("losses"))
    finite = [v for v in losses if math.isfinite(v)]
    tail = [v for v in losses[-50:] if math.isfinite(v)]
    return {
        "name": str(name),
        "losses": losses,
        "val_accuracy": _float(get("val_accuracy")),
        "val_loss": _float(get("val_loss")),
        "last_loss": losses[-1] if losses else None,
        "mean_last_50": sum(tail) / len(tail) if tail else None,
        "batches": get("batches") or len(losses),
        "diverged": bool(losses) and len(finite) < len(losses),
    }


def normalize_comparisons(comparisons: Iterable[Any] | None) -> list[dict[str, Any]]:
    """Comparison objects or dicts → ``[{title, meta, runs: [run view, ...]}]``.

    A dict is either ``{name: {"losses": [...], "val_accuracy": x, "val_loss": y}}`` or
    ``{"title": ..., "runs": {name: {...}}}``.
    """
    out = []
    for i, comp in enumerate(comparisons or (), 1):
        meta: dict[str, Any] = {}
        title = None
        if isinstance(comp, Mapping):
            if isinstance(comp.get("runs"), Mapping):
                runs = comp["runs"]
                title = comp.get("title")
                meta = {k: v for k, v in comp.items() if k not in ("runs", "title")}
            else:
                runs = comp
        elif hasattr(comp, "runs"):
            runs = comp.runs
            title = getattr(comp, "title", None)
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
        if not views:
            continue
        first = views[0]
        if "batches" not in meta:
            meta = {"batches": first["batches"], **meta}
        out.append(
            {"title": str(title) if title else f"Comparison {i}", "meta": meta, "runs": views}
        )
    return out


def training_curves(result: Mapping[str, Any]) -> dict[str, list[float]]:
    """Loss curves in a training result's details: its own and the references'.

    Read keys: ``losses`` or ``loss_curve`` (this initializer), ``reference_losses`` or
    ``reference_loss_curve`` (a list, named by ``reference``, or a dict name → list),
    ``curves``/``runs`` (dict name → list or name → {"losses": [...]}).
    """
    details = result.get("details") or {}
    curves: dict[str, list[float]] = {}
    if not isinstance(details, Mapping):
        return curves
    own = details.get("losses", details.get("loss_curve"))
    if own is not None:
        curves[str(result.get("initializer", "initializer"))] = _losses(own)
    ref = details.get("reference_losses", details.get("reference_loss_curve"))
    if isinstance(ref, Mapping):
        curves.update({str(k): _losses(v) for k, v in ref.items()})
    elif ref is not None:
        curves[f"{details.get('reference') or 'reference'} (reference)"] = _losses(ref)
    for key in ("curves", "runs"):
        more = details.get(key)
        if isinstance(more, Mapping):
            for k, v in more.items():
                curves[str(k)] = _losses(v.get("losses") if isinstance(v, Mapping) else v)
    return {k: v for k, v in curves.items() if v}


# --------------------------------------------------------------------------- formatting


def fmt(value: Any) -> str:
    """A number with 4 significant digits ('—' when absent)."""
    if isinstance(value, bool):
        return str(value)
    f = _float(value)
    if f is None:
        return "—" if value is None else str(value)
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return f"{f:.3e}"
    return f"{f:.4g}"


def fmt_interval(value: Any) -> str:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return "—"
    return f"[{fmt(value[0])}, {fmt(value[1])}]"


def fmt_int(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—"


def fmt_pct(value: Any) -> str:
    f = _float(value)
    return "—" if f is None else f"{100 * f:.2f}%"


def _anchor(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "init"
    anchor, i = f"i-{base}", 2
    while anchor in taken:
        anchor, i = f"i-{base}-{i}", i + 1
    taken.add(anchor)
    return anchor


def _order(check: str) -> tuple[int, str]:
    """A check's place in reports (:attr:`initcheck.registry.Check.order`)."""
    from initcheck import registry

    known = {c.name: c.order for c in registry.checks()}
    return known.get(check, 10**6), check


# --------------------------------------------------------------------------- view model


def _initializer_views(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from initcheck.report import figures

    grouped: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        grouped.setdefault(str(r.get("initializer", "?")), []).append(r)
    taken: set[str] = set()
    views = []
    for name, rs in grouped.items():
        family = next(
            (
                r["details"].get("family")
                for r in rs
                if r.get("check") == "tails" and isinstance(r.get("details"), Mapping)
            ),
            None,
        )
        checks = []
        rs = sorted(rs, key=lambda r: (bool(r.get("passed")), _order(str(r.get("check")))))
        for r, found in zip(rs, figures.figures_by_result(rs), strict=True):
            figs = [{"caption": c, "svg": svg} for c, svg in found]
            details = r.get("details") if isinstance(r.get("details"), Mapping) else {}
            checks.append(
                {
                    "check": str(r.get("check")),
                    "passed": bool(r.get("passed")),
                    "message": str(r.get("message", "")),
                    "statistic": fmt(r.get("statistic")),
                    "target": fmt(r.get("target")),
                    "target_label": details.get("target") or details.get("law"),
                    "interval": fmt_interval(r.get("interval")),
                    "pvalue": fmt(r.get("pvalue")),
                    "alpha": fmt(r.get("alpha")),
                    "n": fmt_int(r.get("n")),
                    "figures": figs,
                    "family_note": r.get("check") == "centering" and bool(figs),
                    "family": str(family) if family else None,
                    "training": _training_table(r) if r.get("check") == "training" else None,
                    "table": _details_table(r),
                }
            )
        by_check = {c["check"]: c for c in checks}
        views.append(
            {
                "name": name,
                "anchor": _anchor(name, taken),
                "passed": all(c["passed"] for c in checks),
                "failed": [c for c in checks if not c["passed"]],
                "checks": checks,
                "by_check": by_check,
            }
        )
    return views


def _details_table(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """A small table for checks whose details read best as one (seeds, dtypes)."""
    details = result.get("details") or {}
    if not isinstance(details, Mapping):
        return None
    check = result.get("check")
    if check == "seeds" and "distinct" in details:
        yes = {True: "yes", False: "no"}
        return {
            "header": [
                "takes a seed",
                "distinct seeds → distinct tensors",
                "same seed → same tensor",
                "declared deterministic",
            ],
            "rows": [
                [
                    yes.get(details.get(k), "—")
                    for k in ("seedable", "distinct", "reproducible", "deterministic")
                ]
            ],
        }
    per_dtype = details.get("per_dtype")
    if check == "dtypes" and isinstance(per_dtype, Mapping):
        rows = []
        for dtype, info in per_dtype.items():
            if not isinstance(info, Mapping):
                continue
            up, low = info.get("pile_up_upper") or {}, info.get("pile_up_lower") or {}
            rows.append(
                [
                    str(dtype),
                    str(info.get("returned", "—")),
                    fmt_int(info.get("distinct")),
                    f"{low.get('extreme', '—')} / {low.get('neighbour', '—')}",
                    f"{up.get('extreme', '—')} / {up.get('neighbour', '—')}",
                    fmt(info.get("variance_ratio")),
                    "; ".join(info.get("problems") or []) or "—",
                ]
            )
        return {
            "header": [
                "requested",
                "returned",
                "distinct of 10,000",
                "at min / next",
                "at max / next",
                "Var/target",
                "problems",
            ],
            "rows": rows,
        }
    return None


def _training_table(result: Mapping[str, Any]) -> list[dict[str, str]]:
    details = result.get("details") or {}
    if not isinstance(details, Mapping):
        return []
    rows = []
    if "val_accuracy" in details:
        rows.append(
            {
                "name": str(result.get("initializer")),
                "val_accuracy": fmt_pct(details.get("val_accuracy")),
            }
        )
    ref = details.get("reference_val_accuracy")
    if isinstance(ref, Mapping):
        rows += [{"name": str(k), "val_accuracy": fmt_pct(v)} for k, v in ref.items()]
    elif ref is not None:
        rows.append(
            {
                "name": f"{details.get('reference') or 'reference'} (reference)",
                "val_accuracy": fmt_pct(ref),
            }
        )
    return rows


def _comparison_views(comparisons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from initcheck.report import figures

    out = []
    for comp in comparisons:
        svg = figures.curves_svg({r["name"]: r["losses"] for r in comp["runs"]})
        best = max((r["val_accuracy"] or -1.0 for r in comp["runs"]), default=None)
        out.append(
            {
                "title": comp["title"],
                "meta": [(str(k), str(v)) for k, v in comp["meta"].items()],
                "svg": svg,
                "runs": [
                    {
                        "name": r["name"],
                        "val_accuracy": fmt_pct(r["val_accuracy"]),
                        "val_loss": fmt(r["val_loss"]),
                        "last_loss": fmt(r["last_loss"]),
                        "mean_last_50": fmt(r["mean_last_50"]),
                        "batches": fmt_int(r["batches"]),
                        "best": r["val_accuracy"] is not None and r["val_accuracy"] == best,
                        "diverged": r["diverged"],
                    }
                    for r in comp["runs"]
                ],
            }
        )
    return out


def runtime_versions() -> dict[str, str]:
    """initcheck's version and those of the numeric libraries (imported or installed)."""
    import platform

    from initcheck._version import __version__

    env = {"initcheck": __version__, "python": platform.python_version()}
    for mod in ("numpy", "scipy", "tensorflow", "keras", "jinja2"):
        if mod in sys.modules:
            env[mod] = str(getattr(sys.modules[mod], "__version__", "?"))
        elif mod in ("numpy", "tensorflow", "keras"):
            # installed but not imported in this run: report it without importing it
            with contextlib.suppress(importlib.metadata.PackageNotFoundError):
                env[mod] = f"{importlib.metadata.version(mod)} (installed, not loaded)"
    return env


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

    from initcheck.results import jsonable

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
    return env


def _markup(svg: str) -> Any:
    from markupsafe import Markup

    if "<script" in svg.lower():  # never expected from matplotlib; refuse to inline
        raise ValueError("refusing to inline an SVG figure containing <script>")
    return Markup(svg)


def render_html(
    results: Iterable[Any] | None,
    *,
    comparisons: Iterable[Any] | None = None,
    settings: Mapping[str, Any] | None = None,
    title: str | None = None,
) -> str:
    """The report as an HTML string (see :func:`write_html_report`)."""
    result_dicts = as_result_dicts(results)
    inits = _initializer_views(result_dicts)
    comps = _comparison_views(normalize_comparisons(comparisons))
    present = {r.get("check") for r in result_dicts}
    columns = sorted((str(c) for c in present), key=_order)
    n_failed = sum(not i["passed"] for i in inits)
    return (
        _environment()
        .get_template(_TEMPLATE)
        .render(
            title=title or "initcheck report",
            generated=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            initializers=inits,
            columns=columns,
            n_failed=n_failed,
            comparisons=comps,
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
) -> Path:
    """Write one self-contained HTML report and return its path.

    Args:
        path: the file to write; parent directories are created. The file is written
            to a temporary file in the same directory, then renamed over ``path``, so a
            reader never sees a half-written report.
        results: :class:`~initcheck.results.CheckResult` objects or their ``to_dict()``
            dicts, for any number of initializers (Reports are accepted too).
        comparisons: :class:`~initcheck.training.Comparison` objects or dicts
            ``{name: {"losses": [...], "val_accuracy": x, "val_loss": y}}``.
        settings: settings to show for reproduction (e.g. ``Report.settings``, with
            ``versions``); initcheck's and the loaded libraries' versions are added.
        title: the page title.
    """
    html = render_html(results, comparisons=comparisons, settings=settings, title=title)
    target = Path(path)
    if target.is_dir():
        raise IsADirectoryError(
            f"The report path {str(target)!r} is a directory; "
            "give a file name such as reports/initcheck.html."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(html)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
