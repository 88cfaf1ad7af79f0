"""The findings of a model audit: its failing (and informational) rows grouped by cause.

A model of 300 weights fails in a few ways, each repeated over many layers: every
``Linear`` keeps its framework's default, every ``Conv2D`` before a BatchNorm sits at ×0.5
of He. A :class:`Finding` is one such cause: the rows that share a diagnosis, a layer type
and a rule (and, for informational rows, a status), with the measured ratio range, the
explanation and, where the cause is known, the fix in the model's framework (written by
its adapter: :mod:`initcheck.models.fixcode`). Rows group on their fields, never on
their messages' text. Findings come first in every view of a report (text, HTML, JSON);
the per-weight table comes last.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from initcheck.models.fixcode import Fix
from initcheck.models.weightrow import Status, WeightRow
from initcheck.results import CheckResult

#: Names listed in full up to this many; past it, the first and last few.
NAMES_IN_FULL = 8
_VARIANCE = "variance"


@dataclass(frozen=True)
class Finding:
    """Rows of one audit that share a cause.

    Attributes:
        kind: ``"fail"`` (the rows fail), ``"inconclusive"`` (a check could not decide on
            them, e.g. too few values; none failed), ``"unaudited"`` (no rule knows their layer
            type) or ``"info"`` (they inform: scale-invariant, output head, convention,
            residual branch, identity-at-init, accepted).
        layer_type: the rows' layer type.
        param: the rows' parameter name (``"weight"``, ``"kernel"``).
        rule: the variance rule they were held to (``"2/fan_in"``), or ``""``.
        status: the rows' status (informational findings), or ``""``.
        checks: the checks that fail on them (failing findings).
        rows: the rows' names, in the model's order.
        ratio: the range of Var(W)/target over the rows, or ``None``.
        cause: the explanation (the diagnosis, or the failing check's message).
        messages: each row's full failure messages (``"name: check: message"``).
        fix: the suggested fix (failing findings with a known remedy), or ``None``.
    """

    kind: str
    layer_type: str
    param: str
    rule: str
    status: str
    checks: tuple[str, ...]
    rows: tuple[str, ...]
    ratio: tuple[float, float] | None
    cause: str
    messages: tuple[str, ...] = ()
    fix: Fix | None = None

    @property
    def count(self) -> int:
        return len(self.rows)

    def line(self) -> str:
        """The finding on one line: count, paths, measured range, explanation."""
        what = f"{self.count} {self.layer_type} {self.param}{'' if self.count == 1 else 's'}"
        head = {
            "fail": "FAIL",
            "inconclusive": "INCONCLUSIVE",
            "unaudited": "not audited",
            "info": "info",
        }[self.kind]
        parts = [f"{head}: {what} ({abbreviate(self.rows)})"]
        if self.ratio is not None and (not self.checks or _VARIANCE in self.checks):
            lo, hi = self.ratio
            span = f"×{lo:.3g}" if f"{lo:.3g}" == f"{hi:.3g}" else f"×{lo:.3g}–{hi:.3g}"
            parts.append(f"Var {span} of {self.rule or 'the target'}")
        elif self.checks:
            parts.append("fails " + ", ".join(self.checks))
        if self.status:
            parts.append(self.status)
        return ": ".join(parts) + (f": {self.cause}" if self.cause else "")

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-safe data (its fix's ``to_dict()`` under ``fix``)."""
        return {
            "kind": self.kind,
            "count": self.count,
            "layer_type": self.layer_type,
            "param": self.param,
            "rule": self.rule,
            "status": self.status,
            "checks": list(self.checks),
            "rows": list(self.rows),
            "ratio": list(self.ratio) if self.ratio else None,
            "cause": self.cause,
            "text": self.line(),
            "messages": list(self.messages),
            "fix": self.fix.to_dict() if self.fix else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding :meth:`to_dict` returned ``data`` for (or its JSON round trip)."""
        ratio, fix = data.get("ratio"), data.get("fix")
        return cls(
            kind=str(data["kind"]),
            layer_type=str(data.get("layer_type", "")),
            param=str(data.get("param", "")),
            rule=str(data.get("rule", "")),
            status=str(data.get("status", "")),
            checks=tuple(str(c) for c in data.get("checks", ())),
            rows=tuple(str(r) for r in data.get("rows", ())),
            ratio=(float(ratio[0]), float(ratio[1])) if ratio else None,
            cause=str(data.get("cause", "")),
            messages=tuple(str(m) for m in data.get("messages", ())),
            fix=Fix.from_dict(fix) if fix else None,
        )


def abbreviate(names: Sequence[str]) -> str:
    """``a, b, c`` in full up to :data:`NAMES_IN_FULL` names, else ``a, b, c … y, z``."""
    if len(names) <= NAMES_IN_FULL:
        return ", ".join(names)
    return f"{', '.join(names[:3])} … {', '.join(names[-2:])}"


def _family(row: WeightRow) -> str:
    return row.explanation.family if row.explanation else ""


def _cause(members: Sequence[WeightRow]) -> str:
    """What the rows' ratios are consistent with: the first row's explanation, or, where
    the rows' numbers differ, the explanation without them."""
    texts = {r.explanation.text for r in members if r.explanation}
    first = members[0].explanation
    if first is None:
        return ""
    return first.text if len(texts) == 1 else first.general


def _defect(result: CheckResult) -> str:
    """A failing result's kind: the variance check's ``details["defect"]`` (``"too
    small"``), else the verdict of its check."""
    defect = result.details.get("defect") if result.check == _VARIANCE else None
    if defect == "zero":
        return "variance is zero"
    return f"variance {defect}" if defect else f"{result.check} {result.verdict}"


def _key(row: WeightRow) -> tuple[str, tuple[Any, ...]] | None:
    """``(kind, group key)`` of a row that belongs in a finding, else ``None``: rows group
    on their fields (layer type, parameter, rule, failing checks, the defect, the family
    of their explanation, their status), never on message text."""
    base = (row.layer_type, row.param, row.rule)
    if row.status is Status.ACCEPTED:  # the user vouches for it: told, never "fixed"
        return "info", (*base, row.acceptance, _family(row))
    if not row.audited:
        return "unaudited", base
    if not row.passed:
        kind = "inconclusive" if row.verdict == "inconclusive" else "fail"
        checks = tuple(r.check for r in row.failures)
        first = row.failures[0]
        diagnosed = row.explanation is not None and first.check == _VARIANCE
        return kind, (*base, checks, _defect(first), _family(row) if diagnosed else "")
    if row.status:
        return "info", (*base, row.status, row.follows, _family(row))
    return None


def _finding(kind: str, members: Sequence[WeightRow]) -> Finding:
    first = members[0]
    ratios = [r.ratio for r in members if r.ratio is not None]
    checks: tuple[str, ...] = ()
    status = ""
    if kind == "unaudited":
        cause = first.note
    elif kind == "info":
        status = first.acceptance or str(first.status)
        if first.follows:
            status += f" (followed by {first.follows})"
        cause = _cause(members)
    else:
        checks = tuple(r.check for r in first.failures)
        failure = first.failures[0]
        if failure.check != _VARIANCE:
            cause = failure.message
        else:
            explained = _cause(members)
            cause = _defect(failure) + (f", consistent with {explained}" if explained else "")
    return Finding(
        kind=kind,
        layer_type=first.layer_type,
        param=first.param,
        rule=first.rule,
        status=status,
        checks=checks,
        rows=tuple(r.name for r in members),
        ratio=(min(ratios), max(ratios)) if ratios else None,
        cause=cause,
        messages=tuple(f"{r.name}: {f.check}: {f.message}" for r in members for f in r.failures),
    )


#: ``writer(members, rows)``: a failing finding's fix in the model's framework, or
#: ``None`` (an adapter's ``write_fix``).
FixWriter = Callable[[Sequence[WeightRow], Sequence[WeightRow]], "Fix | None"]


def fixable(members: Sequence[WeightRow]) -> bool:
    """Whether a failing finding's rows are kernels with a rule failing only their
    variance: the one cause a fix (drawing them from that rule) removes."""
    return bool(members) and all(
        r.role in ("kernel", "recurrent")
        and r.target_variance is not None
        and r.fans is not None
        and {f.check for f in r.failures} == {_VARIANCE}
        for r in members
    )


def findings_of(rows: Sequence[WeightRow], writer: FixWriter | None = None) -> tuple[Finding, ...]:
    """The findings of an audit's rows: failing ones first, then inconclusive ones, rows
    no rule could audit, then informational ones; each in the order of its first row.

    Args:
        rows: the report's rows.
        writer: the model's framework's fix writer (its adapter's ``write_fix``): failing
            findings it can fix carry the fix.

    Returns:
        The findings.
    """
    groups: dict[tuple[Any, ...], list[WeightRow]] = {}
    for row in rows:
        found = _key(row)
        if found is not None:
            groups.setdefault((found[0], *found[1]), []).append(row)
    out: list[Finding] = []
    for key, members in groups.items():
        finding = _finding(key[0], members)
        if key[0] == "fail" and writer is not None and fixable(members):
            fix = writer(members, rows)
            finding = replace(finding, fix=fix) if fix is not None else finding
        out.append(finding)
    order = {"fail": 0, "inconclusive": 1, "unaudited": 2, "info": 3}
    return tuple(sorted(out, key=lambda f: order[f.kind]))
