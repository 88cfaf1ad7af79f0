"""The text of a model audit, findings first.

Default (``str(report)``, the CLI): the verdict and coverage; one line per finding, with
its fix under it; the signal's verdict and its gains by depth; the failing rows, one line
each; and a count of the rest ("314 weights passed"). Verbose (``report.text(verbose=True)``,
``--verbose``): each finding's full messages under it, and every row.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from initcheck.models.findings import Finding
from initcheck.models.weightrow import WeightRow
from initcheck.results import CheckResult


class AuditReport(Protocol):
    """What the text reads of a :class:`~initcheck.models.records.ModelReport` (a protocol:
    the report's ``text()`` calls this module, which so needs no import of it)."""

    @property
    def model(self) -> str: ...
    @property
    def framework(self) -> str: ...
    @property
    def rows(self) -> tuple[WeightRow, ...]: ...
    @property
    def signal(self) -> CheckResult | None: ...
    @property
    def after_fix(self) -> AuditReport | None: ...
    @property
    def verdict(self) -> str: ...
    @property
    def passed(self) -> bool: ...
    @property
    def findings(self) -> tuple[Finding, ...]: ...
    def coverage_text(self) -> str: ...


_MAX_GAINS = 8


def _x(v: float) -> str:
    return f"×{v:.2g}"


def _series(values: Sequence[float]) -> str:
    if len(values) <= _MAX_GAINS:
        return " ".join(map(_x, values))
    head, tail = values[: _MAX_GAINS // 2], values[-_MAX_GAINS // 2 :]
    return " ".join(map(_x, head)) + " … " + " ".join(map(_x, tail))


def gains_line(signal: Mapping[str, Any] | None) -> str:
    """The signal by depth on one line: activation mean square ÷ the first point's and
    gradient norm² ÷ the last point's, at each signal point (``""`` without points)."""
    layers = ((signal or {}).get("details") or {}).get("layers") or []
    act = [s.get("activation_ms") for s in layers]
    grad = [s.get("gradient_norm2") for s in layers]
    if len(layers) < 2 or not all(isinstance(v, int | float) for v in act + grad):
        return ""
    if not (act[0] > 0 and grad[-1] > 0):
        return ""
    a = _series([v / act[0] for v in act])
    g = _series([v / grad[-1] for v in grad])
    return (
        f"signal by depth ({len(layers)} points): activation mean square ÷ first {a}; "
        f"gradient norm² ÷ last {g}"
    )


def _cells(row: WeightRow) -> list[str]:
    var = next((r for r in row.results if r.check == "variance"), None)
    ratio = ""
    if var is not None and var.statistic is not None:
        ratio = f"{var.statistic:.3g}"
        if var.interval:
            ratio += f" [{var.interval[0]:.3g}, {var.interval[1]:.3g}]"
    shape = "×".join(map(str, row.shape)) or "—"
    if row.shape and row.size > math.prod(row.shape):  # a large kernel's first units
        shape += f" (of {row.size:,} values)"
    if not row.audited:
        verdict = "not audited"
    elif row.status == "accepted":
        verdict = "accepted"
    elif row.passed:
        verdict = "ok" + (f" ({row.status})" if row.status else "")
    else:
        first = row.failures[0]
        mark = "INCONCLUSIVE" if row.verdict == "inconclusive" else "FAIL"
        verdict = f"{mark} {first.check}: {first.message.split(':', 1)[0].split(';', 1)[0]}"
    rule = row.rule or "—"
    return [row.name, row.layer_type, shape, rule, ratio or "—", verdict]


def row_lines(rows: Sequence[WeightRow], indent: str = "  ") -> list[str]:
    """One aligned line per row: path, type, shape, rule, Var/target [interval], verdict."""
    cells = [_cells(r) for r in rows]
    if not cells:
        return []
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]) - 1)]
    return [
        indent + "  ".join(c.ljust(w) for c, w in zip(cs, widths, strict=False)) + "  " + cs[-1]
        for cs in cells
    ]


def report_text(report: AuditReport, verbose: bool = False) -> str:
    """The report's text (module docstring)."""
    lines = [
        f"initcheck audit of {report.model} ({report.framework}): "
        f"{report.verdict.upper()}; {report.coverage_text()}"
    ]
    for f in report.findings:
        lines.append("  " + f.line())
        if f.fix is not None:
            lines.append(f"    fix ({f.fix.framework}){': ' + f.fix.hint if f.fix.hint else ''}:")
            lines += ["      " + c for c in f.fix.code.splitlines()]
        if verbose:
            lines += ["      " + m for m in f.messages]
    if report.after_fix is not None:
        after = report.after_fix
        if after.passed:
            lines.append("  after the suggested fix: passes")
        else:
            still = [f.line() for f in after.findings if f.kind != "info"]
            if after.signal is not None and not after.signal.passed:
                still.append(f"model signal: {after.signal.message}")
            withdrawn = not any(f.fix for f in report.findings)
            head = (
                "not offered: its re-audit does not improve what failed"
                if withdrawn
                else (f"still {after.verdict.upper()}")
            )
            lines.append(f"  after the suggested fix: {head}")
            lines += ["    " + s for s in still]
    if report.signal is not None:
        mark = {"pass": "ok", "fail": "FAILED"}.get(report.signal.verdict, "INCONCLUSIVE")
        lines.append(f"  model signal {mark}: {report.signal.message}")
        gains = gains_line(report.signal.to_dict())
        if gains:
            lines.append("  " + gains)
    shown = (
        list(report.rows) if verbose else [r for r in report.rows if not (r.passed and r.audited)]
    )
    lines += row_lines(shown)
    rest = len(report.rows) - len(shown)
    if rest:
        lines.append(
            f"  {rest} weight{'s' if rest != 1 else ''} passed"
            " (every row: report.text(verbose=True), initcheck audit --verbose)"
        )
    return "\n".join(lines)
