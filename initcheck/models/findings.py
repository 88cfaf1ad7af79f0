"""The findings of a model audit: its failing (and informational) rows grouped by cause.

A model of 300 weights fails in a few ways, each repeated over many layers: every
``Linear`` keeps PyTorch's default, every ``Conv2D`` before a BatchNorm sits at ×0.5 of
He. A :class:`Finding` is one such cause: the rows that share a diagnosis, a layer type
and a rule (and, for informational rows, a status), with the measured ratio range, the
explanation and, where the cause is known, the fix in the model's framework
(:mod:`initcheck.models.fixcode`). Findings come first in every view of a report (text,
HTML, JSON); the per-weight table comes last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from initcheck.models.fixcode import Fix, fix_for
from initcheck.models.weightrow import WeightRow

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


def abbreviate(names: Sequence[str]) -> str:
    """``a, b, c`` in full up to :data:`NAMES_IN_FULL` names, else ``a, b, c … y, z``."""
    if len(names) <= NAMES_IN_FULL:
        return ", ".join(names)
    return f"{', '.join(names[:3])} … {', '.join(names[-2:])}"


def rule_of(row: WeightRow) -> str:
    """The rule a row's target was evaluated from (its label without the fans)."""
    return (row.target or "").split(" at fan_in=")[0]


def cause_of(row: WeightRow) -> str:
    """The row's diagnosis without its measured numbers: what the ratio is consistent
    with (``"PyTorch's default init … (kaiming_uniform_ with a=√5)"``), or ``""``."""
    text = row.diagnosis
    if " consistent with " in text:
        text = text.split(" consistent with ", 1)[1]
    return re.sub(r" \(predicts ×[^)]*\)$", "", text)


def _general(cause: str) -> str:
    """A cause without the numbers of its first row (its fans, its kernel's shape, its
    predicted ratio), for a group whose rows differ in them."""
    cause = re.sub(r" = \d+/\(\d+·\d+\)", "", cause)  # "= 1/(3·256)"
    cause = re.sub(r" \(\d+(?:, \d+)*\)", "", cause)  # a kernel's shape "(7, 7, 3, 64)"
    cause = re.sub(r": fan_in=\d+, fan_out=\d+", "", cause)
    return re.sub(r": ×[\d.e+-]+ of [^:]*$", "", cause)


def _ratio(row: WeightRow) -> float | None:
    for r in row.results:
        if r.check == _VARIANCE and r.statistic is not None:
            return float(r.statistic)
    return None


def _head(message: str) -> str:
    """A failure message's first clause (``"variance too small"``)."""
    return message.split(":", 1)[0].split(";", 1)[0].strip()


def _key_and_cause(row: WeightRow) -> tuple[tuple[Any, ...], str, str] | None:
    """``(group key, kind, cause)`` of a row that belongs in a finding, else ``None``."""
    family = re.sub(r"\d+(?:\.\d+)?(?:e-?\d+)?", "#", cause_of(row))
    base = (row.layer_type, row.param, rule_of(row))
    if row.status == "accepted":  # the user vouches for it: told, never "fixed"
        return ("info", *base, row.acceptance, family), "info", cause_of(row)
    if not row.audited:
        return (("unaudited", *base), "unaudited", row.note)
    if not row.passed:
        kind = "inconclusive" if row.verdict == "inconclusive" else "fail"
        checks = tuple(r.check for r in row.failures)
        first = row.failures[0]
        diagnosed = bool(row.diagnosis) and first.check == _VARIANCE
        cause = _head(first.message) if first.check == _VARIANCE else first.message
        if diagnosed:
            cause = f"{cause}, consistent with {cause_of(row)}"
        key = (kind, *base, checks, family if diagnosed else _head(first.message))
        return key, kind, cause
    if row.status:
        followed = re.search(r"\(followed by ([^)]+)\)", row.note)
        status = f"{row.status} ({followed.group(0)[1:-1]})" if followed else row.status
        return ("info", *base, status, family), "info", cause_of(row)
    return None


def findings_of(rows: Sequence[WeightRow], framework: str = "") -> tuple[Finding, ...]:
    """The findings of an audit's rows: failing ones first, then rows no rule could
    audit, then informational ones; each in the order of its first row.

    Args:
        rows: the report's rows.
        framework: the model's framework (``"torch"``, ``"keras"``, ``"flax"``): failing
            findings with a known remedy carry its fix.

    Returns:
        The findings.
    """
    groups: dict[tuple[Any, ...], list[WeightRow]] = {}
    causes: dict[tuple[Any, ...], tuple[str, str]] = {}
    for row in rows:
        found = _key_and_cause(row)
        if found is None:
            continue
        key, kind, cause = found
        groups.setdefault(key, []).append(row)
        causes.setdefault(key, (kind, cause))
    out: list[Finding] = []
    for key, members in groups.items():
        kind, cause = causes[key]
        if len({cause_of(r) for r in members}) > 1:  # the rows' numbers differ
            cause = _general(cause)
        ratios = [x for x in map(_ratio, members) if x is not None]
        first = members[0]
        finding = Finding(
            kind=kind,
            layer_type=first.layer_type,
            param=first.param,
            rule=rule_of(first),
            status=key[4] if kind == "info" else "",
            checks=key[4] if kind in ("fail", "inconclusive") else (),
            rows=tuple(r.name for r in members),
            ratio=(min(ratios), max(ratios)) if ratios else None,
            cause=cause,
            messages=tuple(
                f"{r.name}: {f.check}: {f.message}" for r in members for f in r.failures
            ),
        )
        if kind == "fail":
            fix = fix_for(framework, members, rows)
            finding = replace(finding, fix=fix) if fix is not None else finding
        out.append(finding)
    order = {"fail": 0, "inconclusive": 1, "unaudited": 2, "info": 3}
    return tuple(sorted(out, key=lambda f: order[f.kind]))
