"""Applying the findings' fixes (:mod:`initcheck.models.fixcode`) to a copy of a model,
and re-auditing it: exactly the printed code, executed by the model's adapter on a copy
(or on what a factory builds, so the re-audit still draws every weight independently),
only on the failing layers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from initcheck.models.adapter import adapter_named, framework_of
from initcheck.models.records import ModelReport

#: The recorded settings a re-audit reads back (inputs are not recorded: pass them again).
_REPLAYED = ("variance", "seed", "accept", "checks", "signal", "max_piece_values")


def fixed_model(report: ModelReport, model: Any) -> Any:
    """A copy of ``model`` (an instance) or a factory of fixed models (a factory) with
    every fix of ``report``'s findings applied, and nothing else changed.

    Args:
        report: the audit of ``model``.
        model: the model or factory that was audited.
    """
    fixes = [f.fix for f in report.findings if f.fix is not None]
    paths = list(dict.fromkeys(r.layer for r in report.rows))
    instance = framework_of(model) is not None or not callable(model)
    return adapter_named(report.framework).fixed(model, fixes, paths, instance)


def fix_and_audit(
    report: ModelReport, model: Any, audit: Callable[..., ModelReport], **options: Any
) -> ModelReport:
    """``report`` with :attr:`~ModelReport.after_fix` set to ``audit`` of
    :func:`fixed_model`, under the report's recorded settings (``options`` override them).

    Args:
        report: the audit of ``model``.
        model: the model or factory that was audited.
        audit: :func:`initcheck.audit` (passed in: the audit module imports this one).
        **options: audit options overriding the recorded ones (``inputs=``: the same
            inputs as the first audit, which a report does not record).
    """
    if not any(f.fix for f in report.findings):
        return replace(report, after_fix=None)
    recorded = {k: report.settings[k] for k in _REPLAYED if k in report.settings}
    return replace(report, after_fix=audit(fixed_model(report, model), **{**recorded, **options}))
