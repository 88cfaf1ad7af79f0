"""The early-training check: does a 784-256-128-10 ReLU MLP learn MNIST from this init?

The verdict (:func:`initcheck.training.check_training`) trains with the engine in
:mod:`initcheck.training`; TensorFlow is imported only when this check runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from initcheck.registry import Check, register

if TYPE_CHECKING:
    from initcheck.context import CheckContext
    from initcheck.results import CheckResult

__all__ = ["CHECK"]


def _run(ctx: CheckContext) -> CheckResult:
    from initcheck.training import check_training

    kwargs: dict[str, Any] = {"seed": ctx.settings.seed}
    if ctx.settings.batches is not None:
        kwargs["batches"] = ctx.settings.batches
    return check_training(ctx.initializer, **kwargs)


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    from initcheck.report.figures import curves_svg
    from initcheck.report.inputs import training_curves

    curves = training_curves(result)
    svg = curves_svg(curves) if curves else None
    return [("Training loss per batch", svg)] if svg else []


def _table(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report's table: validation accuracy of this initializer and of the reference."""
    from initcheck.report.format import fmt_pct

    details = result.get("details") or {}
    rows = []
    if "val_accuracy" in details:
        rows.append([str(result.get("initializer")), fmt_pct(details.get("val_accuracy"))])
    if details.get("reference_val_accuracy") is not None:
        name = f"{details.get('reference') or 'reference'} (reference)"
        rows.append([name, fmt_pct(details["reference_val_accuracy"])])
    return {"header": ["initializer", "validation accuracy"], "rows": rows} if rows else None


CHECK = register(
    Check(
        name="training",
        run=_run,
        summary="early training on MNIST: the loss falls like a sound init's",
        when="train",
        gate="alone",
        order=80,
        figure=_figures,
        table=_table,
    )
)
