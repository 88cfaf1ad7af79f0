"""The commands: ``initcheck check SPEC`` and ``initcheck compare SPEC...``.

Each command validates everything the user typed first — the SPECs (a bare name against
the static list of Keras names), the variance target, the check names and the options —
and only then imports the heavy machinery (Keras, TensorFlow, the checks). So a usage
error costs a fraction of a second and is never confused with an error raised while a
check or the training runs (that is reported as a crash of that step, exit code 1).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from initcheck._tf import quiet_stderr
from initcheck.cli._common import (
    CLASSIC_BATCHES,
    EXIT_FAILED,
    EXIT_OK,
    UsageError,
    say,
    write,
)
from initcheck.cli.progress import Progress
from initcheck.fans import KernelLayout
from initcheck.inputs import settings_of
from initcheck.output import Output
from initcheck.results import verdict_matrix
from initcheck.specs import SpecError, check_keras_name, load_spec

if TYPE_CHECKING:
    from initcheck.context import Plan
    from initcheck.fans import Layout
    from initcheck.initializers import Initializer
    from initcheck.mnist import MNIST
    from initcheck.results import Report
    from initcheck.training_runs import Comparison


# --------------------------------------------------------------------------- validation


def _spec(spec: str) -> Any:
    """SPEC → the object it names, or a known Keras name; problems are UsageErrors."""

    quiet: Any = contextlib.nullcontext()
    if ":" in spec:  # a user module may import TensorFlow: no start-up lines from it
        quiet = quiet_stderr()
    try:
        with quiet:
            obj = load_spec(spec)
        if isinstance(obj, str):
            check_keras_name(obj)
    except SpecError as exc:
        raise UsageError(str(exc)) from None
    return obj


def _declare(obj: Any, spec: str, framework: str | None) -> Any:
    """``obj`` declared as a ``--framework`` initializer (UsageError for a Keras SPEC)."""
    from initcheck.initializers.resolve import declare

    try:
        return declare(obj, framework)
    except (ValueError, TypeError) as exc:
        raise UsageError(f"--framework {framework} with {spec!r}: {exc}") from None


def _resolve(obj: Any, spec: str, name: str | None = None) -> Initializer:
    """The initializer for a validated SPEC (imports Keras, quietly, for a Keras name)."""
    from initcheck.initializers import resolve

    try:
        return resolve(obj, name=name or spec)
    except (ValueError, TypeError, ImportError) as exc:
        raise UsageError(f"{spec!r}: {exc}") from None


def _plan(
    args: argparse.Namespace, target: Any, shapes: Any = None
) -> tuple[Plan, tuple[str, ...]]:
    """The validated declarations and check names of ``check`` and ``compare`` (UsageError
    otherwise)."""
    from initcheck.api import make_plan, select_checks

    try:
        plan = make_plan(
            shapes,
            layout=args.layout,
            variance=target,
            family=args.family,
            nonlinearity=args.nonlinearity,
            deterministic=args.deterministic,
            train=getattr(args, "train", False),
        )
        return plan, select_checks(args.checks, plan)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def _crash(command: str, step: str, exc: BaseException) -> int:
    print(
        f"initcheck {command}: error: {step} raised {type(exc).__name__}: {exc}",
        file=sys.stderr,
    )
    return EXIT_FAILED


# --------------------------------------------------------------------------- check


def cmd_check(args: argparse.Namespace) -> int:
    """``initcheck check SPEC``: run the battery, print, write JSON/HTML, exit 0/1.

    Args:
        args: the parsed arguments of ``check``.

    Returns:
        0 if every check passed, 1 if one failed or crashed.

    Raises:
        UsageError: a bad SPEC, variance target, check name or option.
    """
    obj = _declare(_spec(args.spec), args.spec, args.framework)
    plan, names = _plan(args, args.variance)
    target = plan.target
    init = _resolve(obj, args.spec, args.name)
    from initcheck.api import check

    with Progress() as progress:
        progress.update(f"checking {init.name}" + (" (training on MNIST)" if args.train else ""))
        try:
            report = check(
                init,
                variance=target,
                layout=args.layout,
                seed=args.seed,
                train=args.train,
                family=args.family,
                nonlinearity=args.nonlinearity,
                deterministic=args.deterministic,
                checks=names,
                settings=settings_of(vars(args)),
            )
        except Exception as exc:  # a bug in a check, not the user's typing: exit 1
            progress.close()
            return _crash("check", f"a check on {init.name!r}", exc)
    say(args, str(report))

    output = Output(
        kind="check",
        payload=report.to_dict(),
        results=report.results,
        settings=report.settings,
        title=f"initcheck report: {report.initializer}",
    )
    write(args, output)
    return EXIT_OK if report.passed else EXIT_FAILED


# --------------------------------------------------------------------------- compare


def _framework_prefix(spec: str, default: str | None) -> tuple[str | None, str]:
    """``("jax", "mod:fn")`` for ``"jax:mod:fn"``: a SPEC's own declaration, which wins over
    ``--framework`` (``default``); else ``(default, spec)``."""
    from initcheck.initializers.base import FRAMEWORKS

    head, _, rest = spec.partition(":")
    if head in FRAMEWORKS and ":" in rest:
        return head, rest
    return default, spec


def _compare_specs(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """{display name: validated SPEC object} in order, and whether it is the classic set
    alone."""
    specs = list(args.specs)
    classic = args.classic or "classic" in specs
    specs = [s for s in specs if s != "classic"]
    objs: dict[str, Any] = {}
    if classic:
        from initcheck.classic import CLASSIC

        objs.update(CLASSIC)
    declared = 0
    for spec in specs:
        framework, target = _framework_prefix(spec, args.framework)
        obj = _spec(target)
        if not isinstance(obj, str):  # a Keras name needs no declaration beside the others
            obj = _declare(obj, spec, framework)
            declared += framework is not None
        if spec in objs:
            raise UsageError(f"{spec!r} is given twice; each initializer is trained once.")
        objs[spec] = obj
    if not objs:
        raise UsageError(
            "compare needs at least one SPEC, or --classic for the notebook's "
            "initializers (e.g. initcheck compare --classic)."
        )
    if args.framework is not None and specs and not declared:
        raise UsageError(
            f"--framework {args.framework} applies to no SPEC: {', '.join(map(repr, specs))} "
            "need no declaration (a Keras name, or a SPEC with its own FRAMEWORK: prefix)."
        )
    return objs, classic and not specs


def _data(batch_size: int) -> MNIST:
    """The MNIST data, with ``--batch-size`` checked against its training set size."""
    from initcheck.mnist import load_mnist

    try:
        data = load_mnist()
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot load MNIST: {exc}") from None
    if batch_size > len(data.y_train):
        raise UsageError(
            f"--batch-size must be at most the training set size {len(data.y_train)} "
            f"({data.source}). Received: --batch-size {batch_size}"
        )
    return data


def cmd_compare(args: argparse.Namespace) -> int:
    """``initcheck compare SPEC...``: train side by side, print the table, write outputs.

    Args:
        args: the parsed arguments of ``compare``.

    Returns:
        0 if the comparison ran, 1 if an initializer misbehaved or training crashed.

    Raises:
        UsageError: a bad SPEC or option.
    """
    objs, classic_only = _compare_specs(args)
    plan, names = _plan(args, args.variance, shapes=_kernel_shapes(args.layout))
    target = plan.target
    epochs, batches = args.epochs, args.batches
    note = ""
    if classic_only and epochs is None and batches is None:
        batches = CLASSIC_BATCHES
        note = (
            f"(--classic default: {CLASSIC_BATCHES} batches as in the notebook, which "
            "ran 2 epochs of 55,000 images; pass --batches or --epochs to change)"
        )
    data = _data(args.batch_size)
    inits = {name: _resolve(obj, name) for name, obj in objs.items()}
    length = f"{batches} batches" if batches else f"{epochs or 2:g} epochs"
    reports: list[Report] = []
    with Progress() as progress:
        progress.update(
            f"training {len(inits)} initializer{'s' if len(inits) > 1 else ''} for {length}"
        )
        from initcheck.training import compare

        try:
            comparison = compare(
                inits,
                epochs=epochs if epochs is not None else 2,
                batches=batches,
                batch_size=args.batch_size,
                seed=args.seed,
                data=data,
                layout=args.layout,
                keep_going=True,  # a bad initializer gets a failed row; the others train
            )
        except Exception as exc:  # a bug in the training, not the user's typing: exit 1
            progress.close()
            return _crash("compare", "the training run", exc)
        if args.run_checks:
            from initcheck.api import check

            for i, (name, init) in enumerate(inits.items(), 1):
                progress.update(f"checking {name} ({i}/{len(inits)})")
                reports.append(
                    check(
                        init,
                        name=name,
                        seed=args.seed,
                        shapes=plan.shapes,
                        variance=target,
                        layout=args.layout,
                        family=args.family,
                        nonlinearity=args.nonlinearity,
                        deterministic=args.deterministic,
                        checks=names,
                        settings=settings_of(vars(args) | {"batches": None}),
                    )
                )
    _outputs(args, comparison, reports, note, classic_only)
    if comparison.failed:
        print(
            "initcheck compare: error: not trained (raised or returned bad weights): "
            + "; ".join(comparison.failed.values()),
            file=sys.stderr,
        )
    return EXIT_FAILED if comparison.failed else EXIT_OK


def _kernel_shapes(layout: Layout) -> tuple[tuple[int, ...], ...]:
    """The MLP's kernel shapes in ``layout`` (PyTorch weights are ``(out, in)``)."""
    from initcheck.training_runs import KERNEL_SHAPES

    return tuple(KernelLayout(layout).from_keras(s) for s in KERNEL_SHAPES)


def _outputs(
    args: argparse.Namespace,
    comparison: Comparison,
    reports: Sequence[Report],
    note: str,
    classic_only: bool,
) -> None:
    """Print the table and write ``--json`` / ``--report`` of a comparison."""
    from initcheck.training_runs import comparison_json, comparison_table

    say(args, comparison_table(comparison))
    if note:
        say(args, note)
    if reports:
        shapes = ", ".join(str(tuple(s)) for s in reports[0].settings.get("shapes", []))
        say(args, f"\nChecks on the network's kernel shapes {shapes}:")
        say(args, verdict_matrix(reports))
    settings: dict[str, Any] = {"seed": args.seed}
    for first in list(comparison.runs.values())[:1]:
        settings |= {"batches": first.batches, "epochs": round(float(first.epochs), 4)}
    settings |= {"batch_size": comparison.batch_size, "data": comparison.data_source}
    if reports:
        settings["checks"] = {
            k: v for k, v in reports[0].settings.items() if k not in ("versions", "seed", "train")
        }
        settings["versions"] = reports[0].settings.get("versions", {})
    names = ", ".join([*comparison.runs, *comparison.failed])
    titled = {
        "title": "the classic notebook's initializers" if classic_only else names,
        "runs": comparison.runs,
        "batch_size": comparison.batch_size,
        "seed": comparison.seed,
        "data": comparison.data_source,
        "failed": comparison.failed,
    }

    output = Output(
        kind="compare",
        payload=comparison_json(comparison, reports),
        results=reports,
        comparisons=[titled],
        settings=settings,
        title="initcheck: the classic initializer comparison"
        if classic_only
        else "initcheck comparison",
    )
    write(args, output)
