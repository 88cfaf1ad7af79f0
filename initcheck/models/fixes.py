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
    after = audit(fixed_model(report, model), **{**recorded, **options})
    if improves(report, after):
        return replace(report, after_fix=after)
    # not offered: the re-audit shows the fix does not improve what failed
    withdrawn = tuple(replace(f, fix=None) for f in report.findings)
    return replace(report, findings=withdrawn, after_fix=after)


def improves(before: ModelReport, after: ModelReport) -> bool:
    """Whether ``after`` (the audit with the fixes applied) improves on ``before``: fewer
    failing weights, none newly failing, and a signal that passed still passes."""
    failed = {r.name for r in before.failed_rows}
    still = {r.name for r in after.failed_rows}
    signal_ok = (
        before.signal is None
        or not before.signal.passed
        or (after.signal is not None and after.signal.passed)
    )
    return still < failed and signal_ok
