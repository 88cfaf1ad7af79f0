"""Applying the findings' fixes (:mod:`initcheck.models.fixcode`) to a copy of a model,
and re-auditing it: exactly the printed code, executed on the copy (or on what a factory
builds, so the re-audit still draws every weight independently), only on the failing
layers."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from initcheck.models.fixcode import Fix
from initcheck.models.flax_model import call_with_rngs
from initcheck.models.records import ModelReport


class _Layers:
    """``model.get_layer(name)`` by the audited model's layer paths, on a model of the
    same architecture whose Keras layer names may differ (Keras numbers auto-named layers
    per process: a rebuilt or cloned ``dense`` is ``dense_7``), nested paths included
    (``mha/query``: a layer inside a layer, which has no ``get_layer`` of its own)."""

    def __init__(self, layers: dict[str, Any], prefix: str = "") -> None:
        self._layers, self._prefix = layers, prefix

    def get_layer(self, name: str) -> Any:
        path = self._prefix + name
        if path in self._layers:
            return self._layers[path]
        if any(p.startswith(path + "/") for p in self._layers):
            return _Layers(self._layers, path + "/")
        raise ValueError(
            f"The fixed model has no layer at {path!r} (the audited model's layer paths: "
            f"{sorted(self._layers)[:8]}). Received: name={name!r}"
        )


def _keras_scope(model: Any, paths: Sequence[str]) -> Any:
    """``model`` seen through the audited model's layer paths (:class:`_Layers`)."""
    from initcheck.models.keras_model import _walk

    mine = [(p, layer) for p, layer, leaf in _walk(model) if leaf and layer.weights]
    if len(mine) != len(paths):
        return model
    return _Layers({old: layer for old, (_, layer) in zip(paths, mine, strict=True)})


def apply_fixes(
    model: Any, fixes: Iterable[Fix], *, rngs: Any = None, paths: Sequence[str] = ()
) -> Any:
    """Run each fix's code on ``model`` (in place) and return it.

    Args:
        model: a built model of the fixes' framework.
        fixes: the fixes (:attr:`Finding.fix`).
        rngs: a Flax ``nnx.Rngs`` for Flax fixes (default ``nnx.Rngs(0)``).
        paths: the audited Keras model's weighted layer paths, in order: the fixes'
            layer names are looked up by them in ``model`` (whose names may differ).
    """
    for fix in fixes:
        scope: dict[str, Any] = {"model": model}
        if fix.framework == "torch":
            from torch import nn

            scope["nn"] = nn
        elif fix.framework == "keras":
            import keras

            scope.update(keras=keras, model=_keras_scope(model, paths))
        elif fix.framework == "flax":
            from flax import nnx

            scope.update(nnx=nnx, rngs=rngs if rngs is not None else nnx.Rngs(0))
        exec(compile(fix.code, f"<initcheck fix of {fix.rows[0]}>", "exec"), scope)
    return model


def _copy(model: Any, framework: str) -> Any:
    if framework == "keras":
        import keras

        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return clone
    if framework == "flax":
        from flax import nnx

        return nnx.clone(model)
    return copy.deepcopy(model)


def fixed_model(report: ModelReport, model: Any) -> Any:
    """A copy of ``model`` (an instance) or a factory of fixed models (a factory) with
    every fix of ``report``'s findings applied, and nothing else changed.

    Args:
        report: the audit of ``model``.
        model: the model or factory that was audited.
    """
    fixes = [f.fix for f in report.findings if f.fix is not None]
    framework = report.framework
    paths = list(dict.fromkeys(r.layer for r in report.rows))
    if _is_model(model) or not callable(model):
        return apply_fixes(_copy(model, framework), fixes, paths=paths)
    if framework == "flax":

        def flax_factory(rngs: Any) -> Any:
            built = call_with_rngs(model, rngs)
            return apply_fixes(built, fixes, rngs=rngs)

        return flax_factory

    @functools.wraps(model)
    def factory() -> Any:
        return apply_fixes(model(), fixes, paths=paths)

    return factory


def _is_model(obj: Any) -> bool:
    from initcheck.models.adapter import framework_of

    return framework_of(obj) is not None


def fix_and_audit(
    report: ModelReport, model: Any, audit: Callable[..., ModelReport], **options: Any
) -> ModelReport:
    """``report`` with :attr:`~ModelReport.after_fix` set to ``audit`` of
    :func:`fixed_model` under the report's options (``options`` override them).

    Args:
        report: the audit of ``model``.
        model: the model or factory that was audited.
        audit: :func:`initcheck.audit` (passed in: the audit module imports this one).
        **options: audit options overriding the report's.
    """
    if not any(f.fix for f in report.findings):
        return replace(report, after_fix=None)
    kwargs = {**report.options, **options}
    if not kwargs:  # a report rebuilt from JSON keeps its settings, not its options
        s = report.settings
        kwargs = {k: s[k] for k in ("variance", "seed", "accept") if k in s}
    return replace(report, after_fix=audit(fixed_model(report, model), **kwargs))
