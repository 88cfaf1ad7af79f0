"""The plugin's outputs: the terminal summary, ``--initcheck-json``, pytest-html extras and
the session HTML report (``--initcheck-report``).

Records arrive as plain dicts on test reports (``report.initcheck``, see
:mod:`initcheck.plugin.item_results`), from this process or, under pytest-xdist, from the
workers; :class:`ResultsPlugin` gathers them on the controller, which alone writes files.

Standard library and pytest only at import; Jinja2 and the figures load when written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from initcheck.declarations import SUMMARY_AUTO_ROWS
from initcheck.output import Output, write_outputs
from initcheck.plugin.item_results import MODELS_KEY, REPORT_KEY
from initcheck.results import short_number
from initcheck.session import SessionOptions
from initcheck.verdicts import shown_verdict

#: A record's verdict in the terminal table and the pytest-html extras.
VERDICT_TEXT = {
    "pass": "passed",
    "fail": "FAILED",
    "inconclusive": "INCONCLUSIVE",
    "expected": "expected",
}


def verdict_text(record: dict[str, Any]) -> str:
    """``passed``, ``FAILED``, ``INCONCLUSIVE`` (too few values to decide) or
    ``expected`` (did not pass, in a test that expected it) of a record."""
    return VERDICT_TEXT[shown_verdict(record)]


def counts(records: list[dict[str, Any]]) -> dict[str, int]:
    """How many records each view counts: ``passed``, ``failed`` (failures of the run:
    not expected by their test), ``inconclusive`` (of those) and ``expected``."""
    shown = [verdict_text(r) for r in records]
    return {
        "passed": shown.count("passed"),
        "failed": shown.count("FAILED") + shown.count("INCONCLUSIVE"),
        "inconclusive": shown.count("INCONCLUSIVE"),
        "expected": shown.count("expected"),
    }


def _details(record: dict[str, Any]) -> dict[str, Any]:
    details = record.get("details")
    return details if isinstance(details, dict) else {}


def shape_text(record: dict[str, Any]) -> str:
    """The shape a record is about: the smallest failing shape, the one shape checked,
    the number of examples aggregated or of shapes pooled.

    Args:
        record: a record (``CheckResult.to_dict()`` layout).

    Returns:
        Text for a table cell, e.g. ``"(256, 128)"``, ``"57 examples"``, ``"8 shapes"``.
    """
    details = _details(record)
    if "examples" in details:
        count = details["examples"]
        return f"{count} example{'' if count == 1 else 's'}"
    smallest = details.get("smallest_failing_shape")
    if smallest:
        return str(tuple(smallest))
    shapes = record.get("shapes") or []
    if len(shapes) == 1:
        return str(tuple(shapes[0]))
    return f"{len(shapes)} shapes" if shapes else "—"


def measured_text(record: dict[str, Any]) -> str:
    span = _details(record).get("statistic_range")
    if isinstance(span, list) and len(span) == 2 and span[0] != span[1]:
        return f"{short_number(span[0])}–{short_number(span[1])}"
    return short_number(record.get("statistic"))


def summary_table(records: list[dict[str, Any]], *, failed_only: bool = False) -> list[str]:
    """The terminal summary: initializer, property, verdict, shape, measured vs target, test.

    Args:
        records: records carrying their ``nodeid``.
        failed_only: list the failed records only.

    Returns:
        The lines, ending with a count of results and failures.
    """
    header = ("initializer", "property", "verdict", "shape", "measured", "target", "test")
    if failed_only:
        shown = [r for r in records if verdict_text(r) in ("FAILED", "INCONCLUSIVE")]
    else:
        shown = records
    rows = [
        (
            str(r["initializer"]),
            str(r["check"]),
            verdict_text(r),
            shape_text(r),
            measured_text(r),
            short_number(r.get("target")),
            str(r["nodeid"]),
        )
        for r in shown
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]

    out = [line(header)] if rows else []
    out.extend(line(row) for row in rows)
    n = counts(records)
    failed, unsure = n["failed"], n["inconclusive"]
    tail = f" ({unsure} inconclusive: too few values to decide)" if unsure else ""
    if n["expected"]:
        tail += f", {n['expected']} expected by their tests"
    if failed_only:
        tail += (
            " (failed ones listed; --initcheck-summary=all lists all)"
            if failed
            else " (--initcheck-summary=all lists them)"
        )
    out.append(f"{len(records)} initcheck results, {failed} failed{tail}")
    return out


def model_line(model: dict[str, Any]) -> str:
    """One summary line per gated model: its verdict and failed rows.

    Args:
        model: a ``ModelReport.to_dict()`` dict.

    Returns:
        E.g. ``"model mlp (torch): FAILED, 2 of 5 weights failed: 0.weight, 2.weight"``.
    """
    rows = [r for r in model.get("rows", ()) if r.get("audited")]
    accepted = [str(r["name"]) for r in rows if r.get("status") == "accepted"]
    failed = [str(r["name"]) for r in rows if not r.get("passed") and r["name"] not in accepted]
    signal = model.get("signal")
    text = f"model {model['model']} ({model.get('framework', '?')}): "
    text += "passed" if model.get("passed") else "FAILED"
    text += f", {len(failed)} of {len(rows)} weights failed"
    text += f": {', '.join(failed)}" if failed else ""
    text += f"; {len(accepted)} accepted: {', '.join(accepted)}" if accepted else ""
    if signal is not None:
        text += f"; signal {'passed' if signal.get('passed') else 'FAILED'}"
    return text


class ResultsPlugin:
    """Gathers the records of every report (the controller's, under xdist) and writes the
    outputs; registered in ``pytest_configure`` as ``initcheck-results``.

    Attributes:
        config: the pytest config.
        options: the session's options.
        records: ``(nodeid, arrival index, record)`` of every record received.
        models: gated models' reports (``ModelReport.to_dict()``) by model name.
        written: ``(kind, path)`` of every file written.
    """

    def __init__(self, config: pytest.Config, options: SessionOptions) -> None:
        self.config = config
        self.options = options
        self.records: list[tuple[str, int, dict[str, Any]]] = []
        self.models: dict[str, dict[str, Any]] = {}
        self.written: list[tuple[str, Path]] = []
        self.unwritten: list[str] = []  # outputs that failed to write, said in one line

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def sorted_records(self) -> list[dict[str, Any]]:
        """Records with their ``nodeid``, in a deterministic order (xdist delivers them in
        any order)."""
        ordered = sorted(self.records, key=lambda t: (t[0], t[1]))
        return [{"nodeid": nodeid, **record} for nodeid, _, record in ordered]

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        for record in getattr(report, REPORT_KEY, None) or ():
            self.records.append((report.nodeid, len(self.records), record))
        for model in getattr(report, MODELS_KEY, None) or ():
            self.models.setdefault(str(model["model"]), model)  # every copy is the same audit

    def sorted_models(self) -> list[dict[str, Any]]:
        """The gated models' reports, by name."""
        return [self.models[name] for name in sorted(self.models)]

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.is_worker:
            return
        try:
            self._write_outputs()
        except OSError as exc:  # checked at start; a disk that fills up still loses no summary
            self.unwritten.append(f"{type(exc).__name__}: {exc}")

    def _write_outputs(self) -> None:
        if not self.options.outputs:
            return

        records = self.sorted_records()
        models = self.sorted_models()
        payload: dict[str, Any] = {
            "settings": self.options.settings_dict(),
            "summary": {"records": len(records), **counts(records)},
            "records": records,
        }
        if models:  # gated models: every weight row (ModelReport.to_dict())
            payload["summary"]["models"] = len(models)
            payload["summary"]["models_failed"] = sum(not m["passed"] for m in models)
            payload["models"] = models
        output = Output(
            kind="session",
            payload=payload,
            results=[{**r, "test": r["nodeid"], "shape": shape_text(r)} for r in records],
            models=models,
            settings=self.options.settings_dict(),
            title="initcheck: pytest session",
        )
        for f, path in write_outputs(output, self.options.outputs):
            if path is not None:
                self.written.append((f.noun, path))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if self.is_worker:
            return
        records = self.sorted_records()
        mode = self.options.summary
        if mode == "auto":
            mode = "all" if len(records) <= SUMMARY_AUTO_ROWS else "failed"
        models = self.sorted_models()
        if (records or models) and mode != "none":
            terminalreporter.write_sep("=", "initcheck summary")
            if records:
                for line in summary_table(records, failed_only=mode == "failed"):
                    terminalreporter.write_line(line)
            for model in models:
                terminalreporter.write_line(model_line(model))
        for kind, path in self.written:
            terminalreporter.write_sep("-", f"initcheck {kind} written to {path}")
        for problem in self.unwritten:
            terminalreporter.write_sep("-", f"initcheck could not write its output: {problem}")
