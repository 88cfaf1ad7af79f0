"""The CI gate's model nodes: ``[tool.initcheck.models.NAME]`` tables become
``initcheck::NAME`` (:class:`ModelCollector`: loads the target and runs
:func:`initcheck.audit` once per process) → ``initcheck::NAME::LAYER``
(:class:`RowCollector`, one per audited weight row, named as the audit names it, e.g.
``0.weight``) → ``initcheck::NAME::LAYER::PROPERTY`` (:class:`ModelItem`, one per check of
the row), plus ``initcheck::NAME::signal`` for the model's signal at init.

Each item reports its row's verdict from the shared audit. The first item of a model that
runs in a process also carries the whole report as plain data
(:meth:`~initcheck.models.records.ModelReport.to_dict`, see :data:`MODEL_DATA`), so the
controller of an xdist run gets every row for ``--initcheck-json`` and
``--initcheck-report``.

Standard library and pytest only at import; the audit (numpy, torch or Keras) loads at
collection of a model.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from initcheck._tf import quiet_stderr
from initcheck.results import short_number
from initcheck.specs import SpecError, load_inputs, load_spec, with_kwargs

if TYPE_CHECKING:
    from initcheck.gate.config import ModelSource
    from initcheck.models.records import ModelReport, WeightRow
    from initcheck.results import CheckResult
    from initcheck.session import SessionOptions

#: Stash key of an item's copy of its model's report (``ModelReport.to_dict()``), set on
#: the first item of the model run in this process; the plugin puts it on the test report.
MODEL_DATA = pytest.StashKey[dict[str, Any]]()
#: Name of the item of the model's signal.
SIGNAL = "signal"
#: The item that fails when some weights could not be audited (verdict "incomplete").
COVERAGE = "coverage"
#: The one item of a model that could not be loaded, built or audited.
BUILD = "build"


class ModelCollectError(Exception):
    """A gated model cannot be collected (bad table, unloadable target, failing audit)."""


class ModelCollector(pytest.Collector):
    """``initcheck::NAME``: loads the model and audits it (once per process)."""

    def __init__(self, *, source: ModelSource, options: SessionOptions, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.options = options
        self.report: ModelReport | None = None
        self.error = ""  # why the model could not be loaded, built or audited
        self.sent = False

    def _audit(self) -> ModelReport:
        from initcheck.models import audit

        source = self.source
        try:
            with quiet_stderr():  # the user's module may import TensorFlow
                obj = with_kwargs(
                    load_spec(source.target, root=self.config.rootpath), source["kwargs"]
                )
        except SpecError as exc:
            raise ModelCollectError(
                f"initcheck: cannot load model {source.name!r} ({source.origin}): {exc}"
            ) from None
        settings = self.options.settings.of(self.options.settings, **dict(source.overrides))
        inputs = None
        if source["inputs"] is not None:
            try:
                with quiet_stderr():
                    inputs = load_inputs(
                        source["inputs"], root=self.config.rootpath, seed=settings.seed
                    )
            except SpecError as exc:
                raise ModelCollectError(
                    f"initcheck: cannot load the inputs of model {source.name!r} "
                    f"({source.origin}): {exc}"
                ) from None
        try:
            report = audit(
                obj,
                variance=source["variance"],
                inputs=inputs,
                seed=settings.seed,
                settings=settings,
                signal=source["signal"],
                accept=source["accept"],
            )
        except (Exception, SystemExit) as exc:  # the user's factory raised or exited: name it
            raise ModelCollectError(
                f"initcheck: cannot audit model {source.name!r} ({source.origin}, "
                f"target {source.target!r}): {type(exc).__name__}: {exc}"
            ) from None
        return dataclasses.replace(report, model=source.name)

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        if self.source.error:  # the table itself is wrong: a collection error, as pytest's
            raise ModelCollectError(f"initcheck: model {self.source.name!r}: {self.source.error}")
        try:
            self.report = self._audit()
        except ModelCollectError as exc:  # one bad model fails its own item, not the run
            self.error = str(exc)
            return [ModelItem.from_parent(self, name=BUILD, prop=BUILD)]
        nodes: list[pytest.Item | pytest.Collector] = [
            RowCollector.from_parent(self, name=row.name, row=row)
            for row in self.report.rows
            if row.audited
        ]
        if self.source["signal"]:
            nodes.append(ModelItem.from_parent(self, name=SIGNAL, prop=SIGNAL))
        if self.report.unaudited or not any(r.audited for r in self.report.rows):
            # a verdict needs evidence: a model with nothing audited is a failing item
            nodes.append(ModelItem.from_parent(self, name=COVERAGE, prop=COVERAGE))
        return nodes

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> str:  # type: ignore[override]
        if isinstance(excinfo.value, ModelCollectError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def take_data(self) -> dict[str, Any] | None:
        """The report as plain data the first time it is asked for in this process."""
        if self.sent or self.report is None:
            return None
        self.sent = True
        return self.report.to_dict()


class RowCollector(pytest.Collector):
    """``initcheck::NAME::LAYER``: one audited weight (piece) of the model."""

    def __init__(self, *, row: WeightRow, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.row = row

    def collect(self) -> list[pytest.Item]:
        return [ModelItem.from_parent(self, name=r.check, prop=r.check) for r in self.row.results]


def row_failure(model: str, row: WeightRow | None, result: CheckResult) -> str:
    """The failure text of one item: the row (layer, layout, fans, target), the check's
    message, measured against target, and the row's diagnosis.

    Args:
        model: the gate's name of the model.
        row: the weight row (``None`` for the model's signal).
        result: the failed check's result.

    Returns:
        The text pytest shows for the failed item.
    """
    if row is None:
        return f"[{model}] model {SIGNAL} FAILED: {result.message}"
    where = ", ".join(
        filter(
            None,
            [
                row.layer_type,
                row.layout,
                f"fans={row.fans}" if row.fans else "",
                f"target {row.target}" if row.target else "",
            ],
        )
    )
    lines = [
        f"[{model}] {row.name} ({where}) {result.check} FAILED: {result.message}",
        f"  measured {short_number(result.statistic)} vs target {short_number(result.target)}"
        + (f" ({row.target})" if row.target else ""),
    ]
    if row.diagnosis:
        lines.append(f"  diagnosis: {row.diagnosis}")
    if row.note:
        lines.append(f"  note: {row.note}")
    return "\n".join(lines)


class ModelItem(pytest.Item):
    """``initcheck::NAME::LAYER::PROPERTY`` (one check of one weight row) or
    ``initcheck::NAME::signal``, decided by the model's shared audit."""

    def __init__(self, *, prop: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.prop = prop

    @property
    def model(self) -> ModelCollector:
        node = self.parent
        while not isinstance(node, ModelCollector):
            node = node.parent  # type: ignore[union-attr]
        return node

    def runtest(self) -> None:
        model = self.model
        data = model.take_data()
        if data is not None:
            self.stash[MODEL_DATA] = data
        if self.prop == BUILD:
            pytest.fail(model.error, pytrace=False)
        report = model.report
        assert report is not None  # collected, so audited
        row = self.parent.row if isinstance(self.parent, RowCollector) else None
        if self.prop == COVERAGE:
            missing = ", ".join(r.name for r in report.unaudited[:8])
            pytest.fail(
                f"[{model.source.name}] incomplete: {report.coverage_text()}"
                + (f"; not audited: {missing}" if missing else "")
                + (" …" if len(report.unaudited) > 8 else ""),
                pytrace=False,
            )
        if row is None:
            result = report.signal
            if result is None:  # signal=False: nothing was asked of it
                pytest.skip(f"{model.source.name}: the model's signal was not measured")
        else:
            result = row[self.prop]
        if not result.passed and row is not None and row.status == "accepted":
            pytest.xfail(f"[{model.source.name}] {row.name} {result.check}: {row.acceptance}")
        if not result.passed:
            pytest.fail(row_failure(model.source.name, row, result), pytrace=False)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        source = self.model.source
        where = self.nodeid.removeprefix("initcheck::")
        return self.path, None, f"initcheck {where} ({source.origin})"
