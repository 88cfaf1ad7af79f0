"""``initcheck.check``: the whole battery on one initializer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from initcheck import listeners, registry
from initcheck._threads import single_threaded_blas
from initcheck.context import CheckContext, Plan
from initcheck.fans import KernelLayout, Layout, as_layout
from initcheck.initializers import Initializer, resolve
from initcheck.initializers.base import InitializerLike
from initcheck.inputs import validate
from initcheck.results import CheckResult, Report
from initcheck.settings import Settings
from initcheck.shapes import ShapesLike, normalize_shapes
from initcheck.targets import TargetSpec, resolve_target
from initcheck.versions import versions


def environment() -> dict[str, str]:
    """Versions that make a run reproducible (only of modules already imported)."""
    return versions()


def check(
    init: InitializerLike,
    *,
    variance: TargetSpec | None = None,
    layout: Layout | KernelLayout = "keras",
    shapes: ShapesLike = None,
    seed: int | None = None,
    train: bool = False,
    family: str | None = None,
    nonlinearity: str | None = None,
    deterministic: bool = False,
    checks: Iterable[str] | None = None,
    name: str | None = None,
    settings: Settings | None = None,
    **options: Any,
) -> Report:
    """Run initcheck's battery on one initializer.

    By default: symmetry breaking, zero-centering, seeds, tails and degenerate units;
    variance against the target and the 1/n scaling law when ``variance`` is given; a
    goodness-of-fit test when ``family`` is declared; signal propagation through a deep
    network when ``nonlinearity`` is given; early training on MNIST when ``train=True``.
    ``checks`` picks the checks explicitly (see :func:`initcheck.registry.names`;
    ``"dtypes"`` runs only when asked for).

    Args:
        init: a Keras name (``"he_normal"``), a Keras initializer instance or class, a
            callable ``(shape, dtype=None) -> array`` (optionally accepting ``seed=``), or
            a PyTorch/JAX initializer (with the extras installed).
        variance: the variance target: ``"lecun"``, ``"glorot"``/``"xavier"``,
            ``"he"``/``"kaiming"``, a number, or a callable ``(fan_in, fan_out) -> var``.
        layout: ``"keras"`` for ``(*kernel, in, out)``, ``"torch"`` for ``(out, in, *kernel)``,
            or a :class:`~initcheck.fans.KernelLayout` for transposed, depthwise and grouped
            convolutions.
        shapes: kernel shapes to draw (default: :data:`DEFAULT_SHAPES`).
        seed: the seed all draws derive from; the same seed gives the same report
            (default: ``settings.seed``, which defaults to 0).
        train: also run the MNIST early-training check (a few seconds).
        family: declared distribution family: ``"normal"``, ``"truncated_normal"``,
            ``"uniform"`` (sharpens the tail check, adds a KS test).
        nonlinearity: ``"relu"``, ``"tanh"`` or ``"linear"``: check signal propagation.
        deterministic: the initializer is deterministic by design (identity, ZerO):
            equal tensors for different seeds are then not a failure.
        checks: the checks to run, overriding the defaults.
        name: display name of the initializer.
        settings: :class:`~initcheck.settings.Settings`; ``seed`` and ``options``
            override single fields (``alpha=``, ``std_tolerance=``, ``batches=`` …).

    Returns:
        A :class:`~initcheck.results.Report`.

    Example:
        >>> report = initcheck.check("he_normal", variance="he")
        >>> report.passed
        True
    """
    if seed is not None:
        options["seed"] = seed
    settings = Settings.of(settings, **options)
    initializer = resolve(init, name=name, timeout=settings.timeout)
    plan = make_plan(
        shapes,
        layout=layout,
        variance=variance,
        family=family,
        nonlinearity=nonlinearity,
        deterministic=deterministic,
        train=train,
    )
    names = select_checks(checks, plan)
    results = run_checks(initializer, plan, settings, names)
    listeners.publish(*results)
    return Report(
        initializer=initializer.name,
        results=tuple(results),
        settings={
            **settings.to_dict(),
            "layout": str(plan.layout),
            "variance": plan.target.label if plan.target else None,
            "family": family,
            "nonlinearity": nonlinearity,
            "shapes": [list(s) for s in plan.shapes],
            "checks": list(names),
            "versions": environment(),
        },
    )


def make_plan(
    shapes: ShapesLike = None,
    *,
    layout: Layout | KernelLayout = "keras",
    variance: TargetSpec | None = None,
    family: str | None = None,
    nonlinearity: str | None = None,
    deterministic: bool = False,
    train: bool = False,
) -> Plan:
    """Validate the user's declarations into a :class:`~initcheck.context.Plan`.

    Raises:
        ValueError: an invalid shape, target, family or nonlinearity (echoed).
    """
    kind = as_layout(layout)
    variance = validate("variance", variance)  # one rule ("auto" is a model's)
    for declaration, value in (("family", family), ("nonlinearity", nonlinearity)):
        valid = registry.option_choices(declaration)
        if value is not None and value not in valid:
            raise ValueError(
                f"Unknown {declaration}: expected one of {list(valid)} or None. "
                f"Received: {declaration}={value!r}"
            )
    return Plan(
        shapes=normalize_shapes(shapes, kind),
        layout=kind,
        target=resolve_target(variance) if variance is not None else None,
        family=family,
        nonlinearity=nonlinearity,
        deterministic=bool(deterministic),
        train=bool(train),
    )


def select_checks(checks: Iterable[str] | None, plan: Plan) -> tuple[str, ...]:
    """The named checks, validated, or the default battery for the plan's declarations."""
    if checks is None:
        return registry.default_names(plan.declared)
    return registry.validate_names(checks, plan.declared)


@single_threaded_blas()  # the checks' small matrix products: one BLAS thread
def run_checks(
    initializer: Initializer,
    plan: Plan,
    settings: Settings,
    names: Iterable[str],
    family: int = 1,
) -> list[CheckResult]:
    """Run the named checks in order; the draws they need are made once, on first use.

    A check that does not apply (e.g. a scaling law over shapes of one fan) is left out.
    ``family``: how many such runs decide one verdict together (a model's weights); a
    check an exact initializer fails by chance (:attr:`~initcheck.checkdef.Check.by_chance`)
    then decides at ``alpha/family`` (Bonferroni), so together they fail an exact init at
    a rate up to ``alpha``, not ``family × alpha``.
    """
    selected = [registry.check_named(n) for n in dict.fromkeys(names)]
    ctx = CheckContext(
        initializer=initializer,
        plan=plan,
        settings=settings,
        needs=frozenset().union(*(c.needs for c in selected)),
    )
    results = []
    with initializer.batch():  # per-call setup (e.g. the global RNG state) saved once
        for c in selected:
            if c.declarations and not all(plan.declared.has(d) for d in c.declarations):
                continue
            result = c.run(_split(ctx, family) if c.by_chance and family > 1 else ctx)
            if result is not None:
                unit = registry.unit_of(result)
                results.append(replace(result, unit=unit) if unit != result.unit else result)
    return results


def _split(ctx: CheckContext, family: int) -> CheckContext:
    """``ctx`` deciding at ``alpha/family``, on the same draws (made now if needed)."""
    if ctx.needs:
        ctx.samples  # noqa: B018 - drawn once, shared with the other checks
    alpha = ctx.settings.alpha / family
    return replace(ctx, settings=replace(ctx.settings, alpha=alpha), _samples=ctx._samples)
