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
    from initcheck.report.html import training_curves

    curves = training_curves(result)
    svg = curves_svg(curves) if curves else None
    return [("Training loss per batch", svg)] if svg else []


CHECK = register(
    Check(
        name="training",
        run=_run,
        summary="early training on MNIST: the loss falls like a sound init's",
        when="train",
        gate="alone",
        order=80,
        figure=_figures,
    )
)
