"""Result records: what a check decided, as small immutable, JSON-safe records.

Data flows one way: initializer → samples → check → :class:`CheckResult` →
(assertion | report). A :class:`Report` is the results of one :func:`initcheck.check`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from initcheck.report.notebook import report_html
from initcheck.verdicts import (
    MARKS,
    VERDICTS,
    WORDS,
    combined_verdict,
)

#: The longest ``repr`` of a record; details (raw samples, per-shape tables) stay out of it.
REPR_LIMIT = 300


def _verdict(verdict: str | None, passed: bool | None) -> str:
    """The verdict from ``verdict=`` and/or ``passed=``. ``passed=`` given with a verdict
    it contradicts overrides it, as ``dataclasses.replace(result, passed=True)`` asks:
    ``True`` makes it ``"pass"``; ``False`` makes a ``"pass"`` a ``"fail"`` and keeps an
    ``"inconclusive"``."""
    if verdict is None:
        if passed is None:
            raise TypeError(
                "CheckResult needs verdict= ('pass', 'fail' or 'inconclusive') or passed=. "
                "Received neither."
            )
        return "pass" if passed else "fail"
    if verdict not in VERDICTS:
        raise ValueError(
            f"verdict must be one of {', '.join(map(repr, VERDICTS))}. Received: "
            f"verdict={verdict!r}"
        )
    if passed is None or bool(passed) == (verdict == "pass"):
        return verdict
    return "pass" if passed else "fail"


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples to plain JSON-safe Python data."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalar or array
        return jsonable(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def short(text: str, limit: int = 120) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut.

    Args:
        text: any text.
        limit: the longest result.

    Returns:
        The text, at most ``limit`` characters long.
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"


def short_number(value: Any) -> str:
    """A number with 4 significant digits for text output; ``—`` for ``None``; anything
    else as ``str``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def aligned(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """``rows`` as text lines, every column padded to its widest cell (the last column,
    free text, is not padded), so the columns line up whatever the values.

    Args:
        rows: the cells, a header row first.
        indent: put before every line.
    """
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)]
        lines.append((indent + "  ".join([*cells, row[-1]])).rstrip())
    return lines


def verdict_matrix(reports: Sequence[Report]) -> str:
    """One line per initializer: its verdict on each check (``ok``, ``FAIL``,
    ``INCONCLUSIVE``, ``—`` not run) and overall, columns aligned.

    Args:
        reports: :class:`Report` objects, one per initializer.
    """
    checks = list(dict.fromkeys(r.check for rep in reports for r in rep.results))
    rows = [["initializer", *checks, "verdict"]]
    for rep in reports:
        by = {r.check: r for r in rep.results}
        cells = [MARKS[by[c].verdict] if c in by else "—" for c in checks]
        rows.append([rep.initializer, *cells, WORDS[rep.verdict]])
    return "\n".join(aligned(rows))


MISBEHAVED = "the initializer misbehaved: "  # how a check says the draws themselves failed


def said_once(results: Sequence[CheckResult]) -> list[tuple[tuple[str, ...], CheckResult]]:
    """The failing (or inconclusive) results, each message said once: results with the
    same message, and every check's report of the initializer's own misbehaviour (a raise,
    a wrong shape: the first one's words), grouped as ``(checks, the first result)``.

    Example:
        >>> a = CheckResult("symmetry", "f", False, MISBEHAVED + "f raised")
        >>> b = CheckResult("variance", "f", False, MISBEHAVED + "f raised at (8, 4)")
        >>> [checks for checks, _ in said_once([a, b])]
        [('symmetry', 'variance')]
    """
    groups: dict[str, tuple[list[str], CheckResult]] = {}
    for r in results:
        if r.passed:
            continue
        key = MISBEHAVED if r.message.startswith(MISBEHAVED) else f"{r.verdict}:{r.message}"
        groups.setdefault(key, ([], r))[0].append(r.check)
    return [(tuple(checks), first) for checks, first in groups.values()]


@dataclass(frozen=True, init=False)
class CheckResult:
    """The verdict of one check.

    Attributes:
        check: the property checked (a registered check's name: :func:`initcheck.registry.names`).
        initializer: the initializer's display name.
        verdict: ``"pass"``, ``"fail"`` (a defect) or ``"inconclusive"`` (too few values
            could be drawn to decide, e.g. an initializer that ignores its seed on a small
            shape): see :data:`VERDICTS`.
        passed: ``verdict == "pass"`` (a property; ``passed=`` is still accepted by the
            constructor in place of ``verdict=``).
        statistic: the measured value (e.g. Var(W)/target; |mean|/target std).
        target: the value the statistic is compared with.
        interval: the confidence interval of ``statistic`` at level ``1 - alpha``.
        pvalue: a p-value where the check is a test, else ``None``.
        alpha: the stated false-failure rate of the decision, where statistical.
        n: number of values the decision used.
        shapes: the kernel shapes drawn.
        message: one human sentence naming the defect (or saying what passed).
        details: JSON-safe extras (per-shape statistics, fits, settings).
        unit: what ``statistic`` measures (e.g. ``"Var(W) / target"``), from the check's
            :attr:`~initcheck.registry.Check.unit` when it ran through the registry.
    """

    check: str
    initializer: str
    verdict: str
    message: str
    statistic: float | None = None
    target: float | None = None
    interval: tuple[float, float] | None = None
    pvalue: float | None = None
    alpha: float | None = None
    n: int = 0
    shapes: tuple[tuple[int, ...], ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)
    unit: str = ""

    def __init__(
        self,
        check: str,
        initializer: str,
        passed: bool | None = None,
        message: str = "",
        statistic: float | None = None,
        target: float | None = None,
        interval: tuple[float, float] | None = None,
        pvalue: float | None = None,
        alpha: float | None = None,
        n: int = 0,
        shapes: tuple[tuple[int, ...], ...] = (),
        details: Mapping[str, Any] | None = None,
        unit: str = "",
        *,
        verdict: str | None = None,
    ) -> None:
        values = {
            "check": check,
            "initializer": initializer,
            "verdict": _verdict(verdict, passed),
            "message": message,
            "statistic": statistic,
            "target": target,
            "interval": interval,
            "pvalue": pvalue,
            "alpha": alpha,
            "n": n,
            "shapes": shapes,
            "details": {} if details is None else details,
            "unit": unit,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    @property
    def passed(self) -> bool:
        """``verdict == "pass"``: a failure and an inconclusive result both do not pass."""
        return self.verdict == "pass"

    @property
    def inconclusive(self) -> bool:
        """``verdict == "inconclusive"``."""
        return self.verdict == "inconclusive"

    def __repr__(self) -> str:
        stat = "" if self.statistic is None else f", statistic={self.statistic:.4g}"
        text = (
            f"CheckResult(check={self.check!r}, initializer={short(self.initializer, 40)!r}, "
            f"verdict={self.verdict!r}{stat}, n={self.n}, shapes={len(self.shapes)}, "
            f"message={short(self.message, 120)!r}, details=<{len(self.details)} keys>)"
        )
        return short(text, REPR_LIMIT)

    @property
    def sample(self) -> Any:
        """The values a check kept for its figure (``details["sample"]``), or ``None``."""
        return self.details.get("sample")

    def describe(self, checks: Sequence[str] = ()) -> str:
        """``[initializer] check VERDICT: message`` (the message's own ``inconclusive:``
        prefix dropped: the verdict says it); ``checks`` names several checks that share
        this message (:func:`said_once`)."""
        message = self.message.removeprefix("inconclusive: ")
        names = ", ".join(checks) or self.check
        return f"[{self.initializer}] {names} {WORDS[self.verdict]}: {message}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "initializer": self.initializer,
            "passed": bool(self.passed),
            "verdict": self.verdict,
            "message": self.message,
            "statistic": jsonable(self.statistic),
            "target": jsonable(self.target),
            "interval": jsonable(self.interval),
            "pvalue": jsonable(self.pvalue),
            "alpha": jsonable(self.alpha),
            "n": int(self.n),
            "shapes": [list(s) for s in self.shapes],
            "details": jsonable(self.details),
            "unit": self.unit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        """Rebuild a record from :meth:`to_dict` output (e.g. sent by an xdist worker)."""
        interval = data.get("interval")
        return cls(
            check=data["check"],
            initializer=data["initializer"],
            verdict=data.get("verdict") or ("pass" if data["passed"] else "fail"),
            message=data["message"],
            statistic=data.get("statistic"),
            target=data.get("target"),
            interval=cast(tuple[float, float], tuple(interval)) if interval is not None else None,
            pvalue=data.get("pvalue"),
            alpha=data.get("alpha"),
            n=int(data.get("n", 0)),
            shapes=tuple(tuple(s) for s in data.get("shapes", ())),
            details=dict(data.get("details", {})),
            unit=str(data.get("unit") or ""),
        )


@dataclass(frozen=True)
class Report:
    """All results of one :func:`initcheck.check` run on one initializer."""

    initializer: str
    results: tuple[CheckResult, ...]
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def verdict(self) -> str:
        """``"fail"`` if a check failed, else ``"inconclusive"`` if one was, else ``"pass"``."""
        return combined_verdict(r.verdict for r in self.results)

    def __repr__(self) -> str:
        failed = [r.check for r in self.results if not r.passed]
        text = (
            f"Report(initializer={short(self.initializer, 40)!r}, passed={self.passed}, "
            f"checks={[r.check for r in self.results]!r}, failed={failed!r})"
        )
        return short(text, REPR_LIMIT)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)

    def _repr_html_(self) -> str:
        """The notebook display: a compact verdict table (self-contained HTML)."""
        return report_html(self)

    def __getitem__(self, check: str) -> CheckResult:
        for r in self.results:
            if r.check == check:
                return r
        raise KeyError(f"No {check!r} result; have {[r.check for r in self.results]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "initializer": self.initializer,
            "passed": self.passed,
            "verdict": self.verdict,
            "results": [r.to_dict() for r in self.results],
            "settings": jsonable(self.settings),
        }

    def __str__(self) -> str:
        rows = [["", "check", "measured", "target", "unit", "n", ""]]
        first = {c: checks[0] for checks, _ in said_once(self.results) for c in checks}
        for r in self.results:
            message = "" if r.passed else r.message
            if first.get(r.check, r.check) != r.check:
                message = f"as {first[r.check]}"
            rows.append(
                [
                    MARKS[r.verdict],
                    r.check,
                    short_number(r.statistic),
                    short_number(r.target),
                    r.unit if r.statistic is not None else "",
                    str(r.n),
                    message,
                ]
            )
        head = f"initcheck report for {self.initializer}: {WORDS[self.verdict]}"
        return "\n".join([head, *aligned(rows, indent="  ")])
