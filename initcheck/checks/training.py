"""The early-training check: does a 784-256-128-10 ReLU MLP learn MNIST from this init?

The verdict (:func:`check_training`, :func:`loss_decrease_result`) lives here with the
other checks; the training itself is :mod:`initcheck.training`'s numpy engine. The
reference is Glorot uniform drawn by :func:`initcheck.classic.glorot_uniform` (numpy, so
the check needs no framework).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from initcheck.checkdef import Check
from initcheck.errors import InitializerError
from initcheck.report.curves import curves_svg
from initcheck.report.format import fmt_pct
from initcheck.report.inputs import training_curves
from initcheck.results import CheckResult
from initcheck.training_runs import CHANCE_LOSS, KERNEL_SHAPES, TrainingRun

if TYPE_CHECKING:
    from initcheck.context import CheckContext
    from initcheck.mnist import MNIST
    from initcheck.results import CheckResult

DEFAULT_CHECK_BATCHES = 250
REFERENCE = "glorot_uniform"


LAST_K = 50  # the loss statistic: mean training loss over the last LAST_K batches
MAX_LOSS = CHANCE_LOSS / 2  # ≈ 1.151: must have learned well below chance (ln 10 ≈ 2.303)
MAX_RATIO = 20.0  # and be within this factor of the reference's statistic


def _shapes() -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(s) for s in KERNEL_SHAPES)


def _curve(losses: Any) -> list[float | None]:
    """A loss curve as JSON-safe floats (``None`` where not finite), rounded to 4 digits."""
    return [round(float(v), 4) if math.isfinite(v) else None for v in losses]


def loss_decrease_result(
    name: str,
    run: TrainingRun,
    reference: TrainingRun,
    *,
    data_source: str = "",
) -> CheckResult:
    """Judge ``run`` against ``reference`` (same data order and seed) — the training verdict.

    Criterion (see the README for the evidence): with ``L`` the mean training loss over
    the last :data:`LAST_K` batches,

    1. every loss and the validation logits are finite (no NaN/Inf);
    2. ``L <= ln(10) / 2`` — the network learned: chance level is ln 10 ≈ 2.303;
    3. ``L <= MAX_RATIO * L_ref`` — it trains within a factor 20 of Glorot uniform.

    Args:
        name: the initializer's display name.
        run: its training run.
        reference: the reference (Glorot uniform) run on the same batches and seed.
        data_source: where the data came from (recorded in ``details``).

    Returns:
        A :class:`~initcheck.results.CheckResult` of this check; ``statistic``
        is ``L``, ``target`` the reference's ``L_ref``, ``interval`` the accepted range
        ``(0, min(ln(10)/2, 20 L_ref))``.
    """

    stat, ref = run.mean_loss(LAST_K), reference.mean_loss(LAST_K)
    limit = min(MAX_LOSS, MAX_RATIO * ref)
    finite = bool(np.isfinite(run.losses).all() and math.isfinite(run.val_loss))
    details = {
        "batches": run.batches,
        "epochs": run.epochs,
        "seed": run.seed,
        "last_k": LAST_K,
        "reference": REFERENCE,
        "reference_mean_loss": ref,
        "reference_val_accuracy": reference.val_accuracy,
        "val_accuracy": run.val_accuracy,
        "val_loss": run.val_loss if math.isfinite(run.val_loss) else None,
        "first_loss": float(run.losses[0]),
        "ratio": stat / ref if finite and ref > 0 else None,
        "max_ratio": MAX_RATIO,
        "max_loss": MAX_LOSS,
        "data": data_source,
        "loss_curve": _curve(run.losses),
        "reference_loss_curve": _curve(reference.losses),
    }
    where = f"after {run.batches} batches of MNIST"
    if not finite:
        bad = np.flatnonzero(~np.isfinite(run.losses))
        when = (
            f"first non-finite loss at batch {int(bad[0]) + 1}"
            if bad.size
            else ("non-finite validation logits")
        )
        passed = False
        message = (
            f"training produced NaN/Inf ({when}); the weights are far too large or not finite."
        )
    elif not (math.isfinite(ref) and ref <= MAX_LOSS):
        passed = False
        message = (
            f"the reference {REFERENCE} did not train on this data (mean loss {ref:.3g} over "
            f"the last {LAST_K} batches {where}); train longer (the default is "
            f"{DEFAULT_CHECK_BATCHES} batches) or check the MNIST data ({data_source})."
        )
    elif stat > MAX_LOSS:
        passed = False
        message = (
            f"the network did not learn: mean loss over the last {LAST_K} batches is "
            f"{stat:.3g} {where}, {'above' if stat > CHANCE_LOSS else 'near'} chance level "
            f"(ln 10 = {CHANCE_LOSS:.3f}; must be <= {MAX_LOSS:.3f}); validation accuracy "
            f"{100 * run.val_accuracy:.1f}%."
        )
    elif stat > MAX_RATIO * ref:
        passed = False
        message = (
            f"trains far worse than {REFERENCE}: mean loss over the last {LAST_K} batches "
            f"{stat:.3g} vs {ref:.3g} ({stat / ref:.1f}x, limit {MAX_RATIO:g}x) {where}; "
            f"validation accuracy {100 * run.val_accuracy:.1f}% vs "
            f"{100 * reference.val_accuracy:.1f}%."
        )
    else:
        passed = True
        message = (
            f"trains: mean loss over the last {LAST_K} batches {stat:.3g} ({stat / ref:.2f}x "
            f"{REFERENCE}'s {ref:.3g}) {where}; validation accuracy "
            f"{100 * run.val_accuracy:.1f}%."
        )
    return CheckResult(
        check=CHECK.name,
        initializer=name,
        passed=passed,
        message=message,
        statistic=stat if math.isfinite(stat) else None,
        target=ref if math.isfinite(ref) else None,
        interval=(0.0, limit) if math.isfinite(limit) else None,
        pvalue=None,
        alpha=None,
        n=run.batches,
        shapes=_shapes(),
        details=details,
    )


def check_training(
    init: Any,
    *,
    batches: int | None = None,
    seed: int = 0,
    data: MNIST | None = None,
    mnist: str | None = None,
    timeout: float | None = None,
    name: str | None = None,
    layout: Any = "keras",
) -> CheckResult:
    """Does a network train from ``init``? Judged against Glorot uniform, side by side.

    Trains the classic MLP from ``init`` and from the reference (Glorot uniform) together,
    on the same batches with the same seed, for ``batches`` batches (default
    :data:`DEFAULT_CHECK_BATCHES` = 250, about 8 epochs of the bundled 4,000 images, a few
    seconds on 2 CPU cores), then applies :func:`loss_decrease_result`.

    Args:
        init: the initializer (Keras name/object or callable).
        batches: training batches (default 250).
        seed: seeds the weight draws and the data order.
        data: an :class:`~initcheck.mnist.MNIST` (default: loaded from ``mnist``).
        mnist: a path to MNIST (``mnist.npz`` or IDX files) for
            :func:`~initcheck.mnist.load_mnist`; ``None``: ``$INITCHECK_MNIST`` or the
            bundled subset.
        timeout: seconds one call of the initializer may take (default: the resolver's).
        name: display name (default: the resolved initializer's name).
        layout: the initializer's kernel layout, as for :func:`initcheck.check`
            (``"torch"``: it is called with PyTorch's ``(out, in)`` shapes, so its fans
            are read as PyTorch reads them).

    Returns:
        A ``CheckResult`` of this check. An initializer that raises or returns
        invalid weights gives a failed record naming the error; nothing is raised for it.

    Example:
        >>> check_training("he_normal").passed
        True
        >>> check_training("zeros").passed
        False
    """
    from initcheck.classic import glorot_uniform
    from initcheck.initializers import resolve
    from initcheck.mnist import load_mnist
    from initcheck.training import BATCH_SIZE, draw_kernels, train_kernels

    batches = DEFAULT_CHECK_BATCHES if batches is None else batches
    data = load_mnist(mnist) if data is None else data
    try:
        resolved = resolve(init, name=name, timeout=timeout)
        label = resolved.name
        kernels = draw_kernels(resolved, seed, layout=layout)
    except InitializerError as exc:
        return CheckResult(
            check=CHECK.name,
            initializer=name or _label(init),
            passed=False,
            message=f"could not draw the MLP's kernels: {exc}",
            n=0,
            shapes=_shapes(),
            details={"error": str(exc), "error_type": type(exc).__name__},
        )
    reference = draw_kernels(glorot_uniform, seed)
    runs, data = train_kernels(
        [label, "__reference__"],
        [kernels, reference],
        epochs=None,
        batches=batches,
        batch_size=BATCH_SIZE,
        seed=seed,
        data=data,
    )
    return loss_decrease_result(label, runs[label], runs["__reference__"], data_source=data.source)


def _label(init: Any) -> str:
    if isinstance(init, str):
        return init
    from initcheck.initializers.base import describe

    return describe(init)


def _run(ctx: CheckContext) -> CheckResult:
    return check_training(
        ctx.initializer,
        batches=ctx.settings.batches,
        seed=ctx.settings.seed,
        mnist=ctx.settings.mnist,
        timeout=ctx.settings.timeout,
        layout=ctx.plan.layout,
    )


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:

    curves = training_curves(result)
    svg = curves_svg(curves) if curves else None
    return [("Training loss per batch", svg)] if svg else []


def _table(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report's table: validation accuracy of this initializer and of the reference."""

    details = result.get("details") or {}
    rows = []
    if "val_accuracy" in details:
        rows.append([str(result.get("initializer")), fmt_pct(details.get("val_accuracy"))])
    if details.get("reference_val_accuracy") is not None:
        name = f"{details.get('reference') or 'reference'} (reference)"
        rows.append([name, fmt_pct(details["reference_val_accuracy"])])
    return {"header": ["initializer", "validation accuracy"], "rows": rows} if rows else None


CHECK = Check(
    name="training",
    run=_run,
    summary="early training on MNIST: the loss falls like a sound init's",
    unit="mean loss, last 50 batches",
    when="train",
    gate="alone",
    order=80,
    figure=_figures,
    table=_table,
)
