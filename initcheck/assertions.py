"""``assert_*`` helpers: one check each, raising :class:`InitCheckFailure` on failure.

They work in any test, with or without initcheck's pytest fixtures, and return the
:class:`~initcheck.results.CheckResult` so a test can look at the numbers. Options are
a :class:`~initcheck.settings.Settings` (``settings=``) and single fields overriding it
(``alpha=``, ``std_tolerance=``, ``seed=`` …).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from initcheck import listeners
from initcheck.api import check, make_plan, run_checks
from initcheck.checks import centering as _centering
from initcheck.checks import scaling as _scaling
from initcheck.checks import symmetry as _symmetry
from initcheck.checks import variance as _variance
from initcheck.errors import InitCheckFailure
from initcheck.fans import KernelLayout, Layout
from initcheck.initializers import resolve
from initcheck.initializers.base import InitializerLike
from initcheck.initializers.cache import cache_for
from initcheck.results import CheckResult, Report
from initcheck.settings import Settings
from initcheck.shapes import ShapesLike
from initcheck.targets import TargetSpec
from initcheck.validators import unknown_keys

#: The uncached cost of each (initializer, check, shapes) run: (seconds, calls, values).
_COSTS: dict[tuple[Any, ...], tuple[float, int, int]] = {}
_MAX_COSTS = 4096
NOTE_FRACTION = 0.25  # note the cost when a run takes this fraction of the deadline


def _check_keywords(caller: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """An unknown keyword of an ``assert_*`` call is named with a did-you-mean among the
    function's own parameters and the :class:`~initcheck.settings.Settings` fields."""
    own = [
        n
        for n, p in inspect.signature(caller).parameters.items()
        if p.kind is not p.VAR_KEYWORD and n != "init"
    ]
    error = unknown_keys(options, [*own, *(f.name for f in dataclasses.fields(Settings))])
    if error is not None:
        raise TypeError(f"{caller.__name__}() got {error}") from None


def _run(
    check: str,
    init: InitializerLike,
    shape: ShapesLike,
    *,
    target: TargetSpec | None,
    layout: Layout | KernelLayout,
    name: str | None,
    settings: Settings | None,
    options: dict[str, Any],
    caller: Callable[..., Any],
    passing_note: str = "",
) -> CheckResult:
    __tracebackhide__ = True
    _check_keywords(caller, options)
    settings = Settings.of(settings, **options)
    initializer = resolve(init, name=name, timeout=settings.timeout)
    plan = make_plan(shape, layout=layout, variance=target)
    final = _hypothesis_state()[0]
    # The final replay of a failing Hypothesis example redraws, so it is timed honestly.
    cache = None if final else cache_for(init)
    previous, initializer.cache = initializer.cache, cache
    calls = initializer.calls
    start = time.perf_counter()
    try:
        (result,) = run_checks(initializer, plan, settings, [check])
    finally:
        initializer.cache = previous
    if cache is not None or final:
        _note_cost(
            (cache.token if cache else id(init), check, plan.shapes, settings),
            time.perf_counter() - start,
            initializer.calls - calls,
            result,
            uncached=cache is None or cache.hits == 0,
        )
    if result.passed and passing_note:
        result = dataclasses.replace(result, message=f"{result.message} {passing_note}")
    listeners.publish(result)
    if not result.passed:
        raise InitCheckFailure([result])
    return result


def _hypothesis_state() -> tuple[bool, float | None]:
    """``(final replay?, deadline in seconds)`` of the running Hypothesis example, if any."""
    if "hypothesis" not in sys.modules:
        return False, None
    from hypothesis import control, settings

    if not control.currently_in_test_context():
        return False, None
    context = control.current_build_context()
    chosen = getattr(context.wrapped_test, "_hypothesis_internal_use_settings", None)
    active = chosen or settings.default
    deadline = active.deadline if active is not None else None
    return bool(context.is_final), None if deadline is None else deadline.total_seconds()


def _note_cost(
    key: tuple[Any, ...], elapsed: float, calls: int, result: CheckResult, *, uncached: bool
) -> None:
    """Tell Hypothesis (for a failing example) what a slow assertion cost and how to allow it."""
    if "hypothesis" not in sys.modules:
        return
    if uncached:
        if len(_COSTS) >= _MAX_COSTS:
            _COSTS.clear()
        _COSTS[key] = (elapsed, calls, result.n)
    final, deadline = _hypothesis_state()
    if not final:
        return
    cost = max(_COSTS.get(key, (0.0, 0, 0)), (elapsed, calls, result.n))
    if deadline is not None and cost[0] < NOTE_FRACTION * deadline:
        return
    from hypothesis import note

    shapes = ", ".join(str(s) for s in result.shapes) or "?"
    per_call = f"{cost[0] / cost[1] * 1e3:.2g} ms each, " if cost[1] else ""
    note(
        f"initcheck draws ~{cost[2]} values on shape {shapes} ({cost[1]} calls of your "
        f"initializer, {per_call}{cost[0] * 1e3:.0f} ms in all); for slow initializers use "
        "@settings(deadline=None)."
    )


def assert_breaks_symmetry(
    init: InitializerLike,
    shape: Sequence[int] | None = None,
    *,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> CheckResult:
    """Assert hidden units are distinguishable: not constant, distinct units, rank > 1,
    distinct activations and gradients in a 2-layer ReLU net built from ``init``.

    Example:
        >>> assert_breaks_symmetry("glorot_uniform", (784, 256))
    """
    __tracebackhide__ = True
    return _run(
        _symmetry.CHECK.name,
        init,
        shape,
        target=None,
        layout=layout,
        name=name,
        settings=settings,
        options=options,
        caller=assert_breaks_symmetry,
    )


def assert_zero_centered(
    init: InitializerLike,
    shape: Sequence[int] | None = None,
    *,
    variance: TargetSpec | None = None,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> CheckResult:
    """Assert |mean| ≤ ``mean_tolerance`` (default 0.05) in units of the target std
    (of the measured std if ``variance`` is not given), decided with a confidence interval.
    """
    __tracebackhide__ = True
    return _run(
        _centering.CHECK.name,
        init,
        shape,
        target=variance,
        layout=layout,
        name=name,
        settings=settings,
        options=options,
        caller=assert_zero_centered,
    )


def assert_variance(
    init: InitializerLike,
    target: TargetSpec,
    shape: Sequence[int] | None = None,
    *,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    settings: Settings | None = None,
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
        _variance.CHECK.name,
        init,
        shape,
        target=target,
        layout=layout,
        name=name,
        settings=settings,
        options=options,
        caller=assert_variance,
    )


def assert_variance_scaling(
    init: InitializerLike,
    target: TargetSpec | None = None,
    *,
    shapes: ShapesLike = None,
    layout: Layout | KernelLayout = "keras",
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> CheckResult:
    """Assert Var(W)·fan stays constant across ``shapes`` (the 1/n scaling law), for the
    fan rule of ``target`` or, without one, for the best-fitting fan rule.

    This tests the *law*, not the *level*: an initializer whose variance is 23% below
    the target at every shape still follows the law and passes. To check the level
    (Var(W) ≈ target), use :func:`assert_variance`; when ``target`` is given, the
    passing message says so.

    Args:
        init: the initializer (any form :func:`initcheck.initializers.resolve` accepts).
        target: the variance target whose fan rule the law uses (``"he"`` → fan_in), or
            ``None`` for the best-fitting fan rule.
        shapes: at least two kernel shapes with different fans.
        layout: the kernel layout.
        name: a display name.
        settings: a :class:`~initcheck.settings.Settings` (default: the defaults).
        **options: :class:`~initcheck.settings.Settings` fields overriding ``settings``.

    Returns:
        The passing :class:`~initcheck.results.CheckResult`.

    Raises:
        ValueError: fewer than two shapes with different fans.
        InitCheckFailure: Var(W)·fan is not constant across the shapes.
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
        settings=settings,
        options=options,
        passing_note=(
            ""
            if target is None
            else f"Only the scaling law was checked, not the level Var(W) = {target!r} at "
            "each shape; use assert_variance for the level."
        ),
        caller=assert_variance_scaling,
    )


def assert_loss_decreases(
    init: InitializerLike,
    *,
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> CheckResult:
    """Assert a 784-256-128-10 ReLU MLP trains on MNIST from ``init`` (see
    :func:`initcheck.checks.training.check_training` for the criterion and options;
    ``settings`` gives its ``batches``, ``seed``, ``mnist`` and ``timeout`` unless
    ``options`` name them)."""
    __tracebackhide__ = True
    from initcheck.checks.training import check_training

    settings = Settings.of(settings)  # inside pytest: the test's settings
    run = {"seed": settings.seed, "timeout": settings.timeout}
    run |= {k: v for k in ("batches", "mnist") if (v := getattr(settings, k)) is not None}
    if "data" in options:
        run.pop("mnist", None)
    options = {**run, **options}

    result = check_training(resolve(init, name=name), **options)
    listeners.publish(result)
    if not result.passed:
        raise InitCheckFailure([result])
    return result


def assert_sound(init: InitializerLike, **kwargs: Any) -> Report:
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
