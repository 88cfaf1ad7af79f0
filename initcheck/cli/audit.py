"""``initcheck audit SPEC``: every weight of a model checked where it sits, and its signal.

SPEC names a model instance or a zero-arg factory returning one (``module:attr`` or
``path/file.py:attr``). As with ``check``, the SPEC's form and every flag are validated
(by :mod:`initcheck.inputs`) before anything heavy is imported; only loading the user's
module imports its framework. ``--kwargs`` gives a factory its arguments.
A factory that raises, or an object that is not a Keras, torch or Flax model, is a
load error (exit 2); an error raised while auditing is a crash (exit 1).

``--inputs SPEC2`` names the signal's batch the same way: an array, a tensor or a zero-arg
function returning one (:func:`initcheck.specs.load_inputs`); its form is validated with
the table's, and a function that raises or returns something else is a load error.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from initcheck._tf import quiet_stderr
from initcheck.cli._common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, say, write
from initcheck.cli.progress import Progress
from initcheck.inputs import InputError, settings_of
from initcheck.output import Output
from initcheck.specs import SpecError, load_inputs, load_spec, with_kwargs


class _FactoryError(Exception):
    """The user's factory raised (a load error, exit 2)."""


def _line(exc: BaseException) -> str:
    """An exception's message on one line."""
    return " ".join(str(exc).split())


def _check_form(spec: str) -> None:
    """SPEC needs ``:attr``, checked before anything is imported."""
    if ":" not in spec:
        raise UsageError(
            "a model SPEC is module:attr or path/file.py:attr naming a model or a zero-arg "
            f"factory returning one (e.g. models.py:make_model). Received: {spec!r}"
        )


def _load_batch(spec: str | None, seed: int) -> Any:
    """``--inputs`` → the batch it names (``None`` without it); problems are UsageErrors."""
    if spec is None:
        return None

    try:
        with quiet_stderr():  # the user's module may import TensorFlow
            return load_inputs(spec, seed=seed)
    except SpecError as exc:
        raise UsageError(f"--inputs {_line(exc)}") from None


def _model_spec(spec: str) -> Any:
    """SPEC → the object it names; problems are UsageErrors."""

    try:
        with quiet_stderr():  # the user's module may import TensorFlow
            return load_spec(spec)
    except SpecError as exc:
        raise UsageError(str(exc)) from None


def _bound(obj: Any, kwargs: Any) -> Any:
    """``--kwargs`` bound to the factory (a UsageError names what does not fit)."""

    try:
        return with_kwargs(obj, kwargs)
    except SpecError as exc:
        raise UsageError(f"--kwargs: {exc}") from None


def _guarded(obj: Any, spec: str, inputs: str | None) -> Any:
    """The model instance as is; a factory wrapped so its errors are load errors."""
    from initcheck.models.adapter import framework_of
    from initcheck.models.linen_model import is_linen

    if is_linen(obj) and inputs is None:
        raise UsageError(
            f"{spec!r} is a Flax Linen module, which has no parameters until it is "
            "initialized on a batch: pass --inputs FILE.py:batch (a batch it accepts)."
        )
    if framework_of(obj) is not None or is_linen(obj):
        return obj
    if not callable(obj):
        raise UsageError(
            f"{spec!r} is a {type(obj).__name__}, not a Keras model, a torch.nn.Module, a "
            "Flax nnx.Module or a factory returning one."
        )

    @functools.wraps(obj)  # keeps its signature: a Flax factory takes rngs
    def factory(*args: Any, **kwargs: Any) -> Any:
        try:
            return obj(*args, **kwargs)
        except Exception as exc:
            raise _FactoryError(
                f"{spec!r}: calling the factory raised {type(exc).__name__}: {_line(exc)}"
            ) from exc

    return factory


def _preview(report: Any, model: Any, spec: str, **options: Any) -> Any:
    """``report`` with the audit of its fixed copy (``--fix-preview``) under the first
    audit's ``options``; a fix that raises is reported on stderr and leaves the report as
    it was."""
    from initcheck.models.core import fix

    if not any(f.fix for f in report.findings):
        print("initcheck audit: --fix-preview: no finding has a suggested fix", file=sys.stderr)
        return report
    with Progress() as progress:
        progress.update(f"re-auditing {spec} with the suggested fixes")
        try:
            return fix(report, model, **options)
        except Exception as exc:  # the preview must not hide the audit itself
            progress.close()
            print(
                f"initcheck audit: --fix-preview: applying the suggested fixes raised "
                f"{type(exc).__name__}: {_line(exc)}",
                file=sys.stderr,
            )
            return report


def cmd_audit(args: argparse.Namespace) -> int:
    """``initcheck audit SPEC``: audit, print the report, write JSON/HTML, exit 0/1.

    Args:
        args: the parsed arguments of ``audit``.

    Returns:
        0 if every weight and the signal passed, 1 if one failed, if some weights could
        not be audited (INCOMPLETE; ``--accept TYPE`` accepts a layer type) or the audit
        crashed, 2 if the factory raised or did not return a model.

    Raises:
        UsageError: a bad SPEC, ``--inputs`` or ``--variance``.
    """
    _check_form(args.spec)
    obj = _bound(_model_spec(args.spec), args.kwargs)
    model = _guarded(obj, args.spec, args.inputs)
    inputs = _load_batch(args.inputs, args.seed)
    from initcheck.models.adapter import NotAModelError
    from initcheck.models.core import audit

    with Progress() as progress:
        progress.update(f"auditing {args.spec}")
        try:
            options = dict(
                variance=args.variance,
                inputs=inputs,
                seed=args.seed,
                signal=args.signal,
                accept=args.accept,
                settings=settings_of(vars(args)),
            )
            report = audit(model, **options)
        except (_FactoryError, NotAModelError, InputError) as exc:
            progress.close()
            print(f"initcheck audit: error: {_line(exc)}", file=sys.stderr)
            return EXIT_USAGE
        except SystemExit as exc:  # the user's factory exited: no audit, never a green run
            progress.close()
            print(
                f"initcheck audit: error: calling {args.spec!r} called sys.exit({exc.code!r}); "
                "a factory must return a model",
                file=sys.stderr,
            )
            return EXIT_USAGE
        except Exception as exc:  # a bug or an unsupported model, not the user's typing
            progress.close()
            print(
                f"initcheck audit: error: auditing {args.spec!r} raised "
                f"{type(exc).__name__}: {_line(exc)}",
                file=sys.stderr,
            )
            return EXIT_FAILED
    if getattr(args, "fix_preview", False):
        report = _preview(report, model, args.spec, **options)
    say(args, report.text(verbose=getattr(args, "verbose", False)))

    output = Output(
        kind="audit",
        payload=report.to_dict(),
        models=[report],
        settings=report.settings,
        title=f"initcheck audit: {report.model}",
    )
    write(args, output)
    return EXIT_OK if report.passed else EXIT_FAILED
