"""Records of early training on MNIST, and their table and JSON forms.

:class:`TrainingRun` (one network) and :class:`Comparison` (several, side by side) are
plain data: this module imports numpy but never TensorFlow, so the command line, the
reports and tests can build, print and serialize them without the training engine
(:mod:`initcheck.training`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from initcheck.report.notebook import comparison_html
from initcheck.results import jsonable

if TYPE_CHECKING:
    from initcheck.results import Report

#: The classic MLP's kernels (Keras layout ``(in, out)``): 784-256-128-10.
KERNEL_SHAPES: tuple[tuple[int, int], ...] = ((784, 256), (256, 128), (128, 10))
#: Cross-entropy of a uniform guess over 10 digits.
CHANCE_LOSS = math.log(10)


@dataclass(frozen=True)
class TrainingRun:
    """One network trained from one initializer.

    Attributes:
        name: the initializer's display name.
        losses: per-batch training losses, in order (float64 array, length ``batches``);
            ``losses[:100]`` is the notebook's plotted curve.
        val_accuracy: fraction of validation images classified correctly (0..1) after
            training; non-finite logits count as wrong.
        val_loss: mean validation cross-entropy after training (``nan`` if non-finite).
        batches: number of training batches (updates).
        epochs: passes over the training set (``batches / batches_per_epoch``).
        seed: the seed of the weight draws and the data order.
    """

    name: str
    losses: np.ndarray = field(repr=False)
    val_accuracy: float
    val_loss: float
    batches: int
    epochs: float
    seed: int

    @property
    def last_loss(self) -> float:
        """The last batch's training loss (the notebook's printed "Loss")."""
        return float(self.losses[-1])

    def mean_loss(self, last: int = 50) -> float:
        """Mean training loss over the last ``last`` batches (less noisy than one batch).

        Args:
            last: how many of the last batches to average.

        Returns:
            The mean (``nan`` if one of those losses is not finite).
        """
        return float(np.mean(self.losses[-last:]))


@dataclass(frozen=True)
class Comparison:
    """Initializers trained side by side on the same data order and seed.

    ``runs`` maps each name to its :class:`TrainingRun`; ``failed`` maps each initializer
    that raised or returned invalid weights (so it was not trained) to what went wrong
    (``compare(..., keep_going=True)``); ``str(comparison)`` is the notebook's table (see
    :func:`comparison_table`).
    """

    runs: Mapping[str, TrainingRun]
    batch_size: int
    seed: int
    data_source: str
    failed: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> TrainingRun:
        return self.runs[name]

    def __str__(self) -> str:
        return comparison_table(self)

    def _repr_html_(self) -> str:
        """The notebook display: the training table and loss curves (self-contained)."""
        return comparison_html(self)


def _num(value: float, spec: str, width: int) -> str:
    return f"{value:{spec}}" if math.isfinite(value) else f"{'—':>{width}}"


def comparison_table(comparison: Comparison) -> str:
    """The notebook's table: a header line, then per initializer the validation accuracy,
    validation loss, last batch loss and mean loss of the last 50 batches.

    Args:
        comparison: the trained comparison.

    Returns:
        The table; values that are not finite (a diverged run) are shown as ``—``.
    """
    runs = list(comparison.runs.values())
    if not runs and not comparison.failed:
        raise ValueError(f"A comparison has at least one run. Received: {comparison!r}")
    width = max(len("initializer"), *(len(n) for n in [*comparison.runs, *comparison.failed]))
    where = f"batch {comparison.batch_size}, seed {comparison.seed}) on {comparison.data_source}"
    if runs:
        head = f"After {runs[0].batches} batches ({runs[0].epochs:.3g} epochs, {where}:"
    else:
        head = f"Nothing trained ({where}:"
    last_50 = all(run.batches >= 50 for run in runs)  # else the column would average fewer
    cols = f"{'initializer':<{width}}  {'val acc':>8}  {'val loss':>8}  {'last loss':>9}"
    cols += f"  {'mean last 50':>12}" if last_50 else ""
    lines = [head, cols, "-" * len(cols)]
    for name, run in comparison.runs.items():
        lines.append(
            f"{name:<{width}}  {_num(100 * run.val_accuracy, '7.2f', 7)}%  "
            f"{_num(run.val_loss, '8.3f', 8)}  {_num(run.last_loss, '9.3f', 9)}"
            + (f"  {_num(run.mean_loss(50), '12.3f', 12)}" if last_50 else "")
        )
    for name, error in comparison.failed.items():
        lines.append(f"{name:<{width}}  {'FAILED':>8}  not trained: {error}")
    return "\n".join(lines)


def comparison_json(comparison: Comparison, reports: Sequence[Report] = ()) -> dict[str, Any]:
    """A comparison (and optional check reports) as JSON-safe data.

    Args:
        comparison: the trained comparison.
        reports: :class:`~initcheck.results.Report` objects of the static checks.

    Returns:
        ``{"batch_size", "seed", "data_source", "runs": {name: {...}}, "failed": {name:
        error}, "checks": [...]}``;
        non-finite numbers become JSON-safe (see :func:`initcheck.results.jsonable`).
    """

    runs = {}
    for name, run in comparison.runs.items():
        runs[name] = jsonable(
            {
                "losses": list(run.losses),
                "val_accuracy": run.val_accuracy,
                "val_loss": run.val_loss,
                "last_loss": run.last_loss,
                "mean_last_50": run.mean_loss(50) if run.batches >= 50 else None,
                "batches": run.batches,
                "epochs": run.epochs,
                "seed": run.seed,
            }
        )
    return {
        "batch_size": comparison.batch_size,
        "seed": comparison.seed,
        "data_source": comparison.data_source,
        "runs": runs,
        "failed": dict(comparison.failed),
        "checks": [r.to_dict() for r in reports],
    }
