"""``assert_*`` helpers: one check each, raising :class:`InitCheckFailure` on failure.

They work in any test, with or without initcheck's pytest fixtures, and return the
:class:`~initcheck.results.CheckResult` so a test can look at the numbers. Options are
:class:`~initcheck.settings.Settings` fields (``alpha=``, ``std_tolerance=``, ``seed=`` …).
"""

from __future__ import annotations

from typing import Any

from initcheck import recording
from initcheck.api import check, make_plan, run_checks
from initcheck.checks import scaling as _scaling
from initcheck.checks import symmetry as _symmetry
from initcheck.checks import variance as _variance
from initcheck.errors import InitCheckFailure
from initcheck.fans import KernelLayout, Layout
from initcheck.initializers import resolve
from initcheck.results import CheckResult, Report
from initcheck.settings import Settings
from initcheck.targets import TargetSpec

__all__ = [
    "assert_breaks_symmetry",
    "assert_loss_decreases",
    "assert_sound",
    "assert_variance",
    "assert_variance_scaling",
    "assert_zero_centered",
]


def _run(
    check: str,
    init: Any,
    shape: Any,
    *,
    target: TargetSpec | None,
    layout: Layout | KernelLayout,
    name: str | None,
    options: dict[str, Any],
) -> CheckResult:
    __tracebackhide__ = True
    settings = Settings.of(**options)
    initializer = resolve(init, name=name, timeout=settings.timeout)
    plan = make_plan(shape, layout=layout, variance=target)
    (result,) = run_checks(initializer, plan, settings, [check])
    recording.publish(result)
    if not result.passed:
        raise InitCheckFailure([result])
    return result


def assert_breaks_symmetry(
    init: Any,
    shape: Any = None,
    *,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    **options: Any,
) -> CheckResult:
    """Assert hidden units are distinguishable: not constant, distinct units, rank > 1,
    distinct activations and gradients in a 2-layer ReLU net built from ``init``.

    Example:
        >>> assert_breaks_symmetry("glorot_uniform", (784, 256))
    """
    __tracebackhide__ = True
    return _run(
        _symmetry.CHECK.name, init, shape, target=None, layout=layout, name=name, options=options
    )


def assert_zero_centered(
    init: Any,
    shape: Any = None,
    *,
    variance: TargetSpec | None = None,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    **options: Any,
) -> CheckResult:
    """Assert |mean| ≤ ``mean_tolerance`` (default 0.05) in units of the target std
    (of the measured std if ``variance`` is not given), decided with a confidence interval.
    """
    __tracebackhide__ = True
    return _run(
        "centering", init, shape, target=variance, layout=layout, name=name, options=options
    )


def assert_variance(
    init: Any,
    target: TargetSpec,
    shape: Any = None,
    *,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    **options: Any,
) -> CheckResult:
    """Assert Var(W) ≈ target within ``std_tolerance`` (default: std within ×1.05),
    pooling draws until a std error of ``std_detect`` (default 10%) would fail with
    probability ``power`` (default 0.999).

    Example:
        >>> assert_variance("he_normal", "he", shape=[(3, 5), (256, 128)])
    """
    __tracebackhide__ = True
    return _run(
        _variance.CHECK.name, init, shape, target=target, layout=layout, name=name, options=options
    )


def assert_variance_scaling(
    init: Any,
    target: TargetSpec | None = None,
    *,
    shapes: Any = None,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    **options: Any,
) -> CheckResult:
    """Assert Var(W)·fan stays constant across ``shapes`` (the 1/n scaling law), for the
    fan rule of ``target`` or, without one, for the best-fitting fan rule.

    Raises:
        ValueError: fewer than two shapes with different fans.
    """
    __tracebackhide__ = True
    plan = make_plan(shapes, layout=layout)
    if len({plan.layout.fans(s) for s in plan.shapes}) < 2:
        raise ValueError(
            "assert_variance_scaling needs at least 2 shapes with different fans. "
            f"Received: shapes={shapes!r}"
        )
    return _run(
        _scaling.CHECK.name,
        init,
        plan.shapes,
        target=target,
        layout=layout,
        name=name,
        options=options,
    )


def assert_loss_decreases(init: Any, *, name: str | None = None, **options: Any) -> CheckResult:
    """Assert a 784-256-128-10 ReLU MLP trains on MNIST from ``init`` (see
    :func:`initcheck.training.check_training` for the criterion and options)."""
    __tracebackhide__ = True
    from initcheck.training import check_training

    result = check_training(resolve(init, name=name), **options)
    recording.publish(result)
    if not result.passed:
        raise InitCheckFailure([result])
    return result


def assert_sound(init: Any, **kwargs: Any) -> Report:
    """Run :func:`initcheck.check` (same arguments) and raise :class:`InitCheckFailure`
    listing every failed check.

    Example:
        >>> assert_sound("he_normal", variance="he", family="truncated_normal")
    """
    __tracebackhide__ = True
    report = check(init, **kwargs)
    if not report.passed:
        raise InitCheckFailure(report.failures)
    return report
