"""The training loss curves of a comparison, and their caption (no check, no registry:
the report and the notebook display both draw them)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from initcheck.report.inputs import loss_curve
from initcheck.report.svg import SvgPlot, downsample, side_by_side

#: Line colours of the loss curves, in order (no two similar hues next to each other).
COLORS = (
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#17becf",
    "#000000",
    "#e377c2",
    "#8c564b",
    "#7f7f7f",
    "#bcbd22",
)
#: Dash patterns cycled with :data:`COLORS`, so curves that overlap stay apart.
DASHES = ("", "7,3", "2,2", "9,3,2,3")


def curves_caption(runs: Mapping[str, Sequence[float]], *, first: int = 100) -> str:
    """The caption of :func:`curves_svg`'s figure, naming the panels it draws."""
    longest = max((len(loss_curve(v)) for v in runs.values()), default=0)
    if longest > first:
        panels = f"the first {first} batches (as in the classic notebook) and all {longest}"
    else:
        panels = f"all {longest} batches"
    return (
        f"Training loss per batch: {panels}; each run has its own colour and dash pattern "
        "and is named at its line's end. The last batch loss is a single noisy mini-batch; "
        "compare the mean of the last 50 and the validation numbers."
    )


def curves_svg(runs: Mapping[str, Sequence[float]], *, first: int = 100) -> str | None:
    """Loss per batch for each run: the first ``first`` batches and all batches.

    Each run has its own colour and dash pattern, and its name is written at its line's
    end in the last panel, so runs whose curves overlap can still be told apart.
    """
    curves = {name: loss_curve(losses) for name, losses in runs.items()}
    curves = {k: v for k, v in curves.items() if v}
    if not curves:
        return None
    longest = max(len(v) for v in curves.values())
    if longest > first:
        panels: list[tuple[str, int | None]] = [
            (f"first {first} batches", first),
            (f"all {longest} batches", None),
        ]
    else:
        panels = [(f"all {longest} batches", None)]
    plots = []
    for i, (title, limit) in enumerate(panels):
        last = i == len(panels) - 1
        finite = [
            v
            for c in curves.values()
            for v in (c[:limit] if limit else c)
            if math.isfinite(v) and v > 0
        ]
        ylog = bool(finite) and max(finite) > 50 * max(min(finite), 1e-3)
        plot = SvgPlot(
            width=360 + (230 if last else 0),
            height=300,
            title=title,
            xlabel="batches",
            ylabel="loss",
            ylog=ylog,
            legend="ends" if last else "none",
        )
        for j, (name, losses) in enumerate(curves.items()):
            xs, ys = downsample(losses[:limit] if limit else losses)
            plot.line(
                xs,
                ys,
                color=COLORS[j % len(COLORS)],
                dash=DASHES[j % len(DASHES)],
                width=1.3,
                label=name if last else "",
            )
        plots.append(plot)
    return side_by_side(*plots)
