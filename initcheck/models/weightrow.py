"""One audited weight's record: :class:`WeightRow` (layer, fans, rule, its check results,
explanation and status), as plain fields. Its own module so the modules that read rows
(findings, fixes, text) import the type without importing the report that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from initcheck.results import CheckResult
from initcheck.verdicts import combined_verdict


class Status(str, Enum):
    """How a row informs rather than decides (its value is the JSON form).

    ``NONE``: the row's checks decide. The others inform without failing: a kernel's scale
    normalized away, a fixed-σ convention the signal decides, a residual branch of a
    normalized model under ``"auto"``, a deliberate identity-at-init, an output head under
    ``"auto"``, a table its init computes (sinusoidal positions), a constant whose units
    learn apart (measured gradients), identical units that learn apart (a repeated init),
    a weight the user vouches for (``accept=``).
    """

    NONE = ""
    SCALE_INVARIANT = "scale-invariant"
    CONVENTION = "convention"
    RESIDUAL_BRANCH = "residual branch"
    IDENTITY_AT_INIT = "identity-at-init"
    OUTPUT_HEAD = "output head"
    DETERMINISTIC = "deterministic"
    ZERO_AT_INIT = "zero-at-init"
    LEARNS_APART = "learns-apart"
    ACCEPTED = "accepted"

    __str__ = str.__str__  # str() and f-strings give the value on every Python


#: The informational statuses' values, in :class:`Status` order.
STATUSES = tuple(s.value for s in Status if s.value)
_VARIANCE = "variance"


def _undecided(result: CheckResult) -> bool:
    """Whether a result that did not pass was undecided rather than failed (sort key)."""
    return result.verdict != "fail"


@dataclass(frozen=True)
class Explanation:
    """What a row's measured variance ratio is consistent with (a named convention or
    defect; :mod:`initcheck.models.conventions` chooses it).

    Attributes:
        text: the explanation with this row's numbers (its fans, its kernel's shape).
        general: the same without them, for a group of rows whose numbers differ.
        family: the explanation's family (one key per cause, e.g. ``"he"``,
            ``"sigma 0.02"``): rows group on it.
        predicted: the ratio of the target the explanation predicts.
        convention: whether it is a fixed σ (declared, or seen at several widths).
    """

    text: str
    general: str
    family: str
    predicted: float
    convention: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "general": self.general,
            "family": self.family,
            "predicted": self.predicted,
            "convention": self.convention,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Explanation:
        return cls(
            text=str(data["text"]),
            general=str(data.get("general", data["text"])),
            family=str(data.get("family", "")),
            predicted=float(data.get("predicted", 0.0)),
            convention=bool(data.get("convention", False)),
        )


@dataclass(frozen=True)
class WeightRow:
    """The audit of one weight (piece): where it is, how it is read, and the verdicts.

    Attributes:
        layer, param, piece, layer_type, role: see :class:`WeightPiece`.
        shape: the shape of the values checked (a packed weight's piece, or a subsample
            of a large kernel's units).
        layout: the layout's description.
        fans: ``(fan_in, fan_out)`` of the piece, or ``None``.
        target: the variance target's label at the piece's fans, or ``None``.
        results: the checks' results.
        note: remarks (not audited, heuristic target, subsampled).
        status: a :class:`Status` (a string is converted); not ``NONE`` when the row
            informs rather than decides (its variance result is then kept, marked
            ``details["deferred"]``).
        size: the number of values of the whole weight (piece).
        drawn: how its independent draws were made: the initializer or init code that
            ran on this weight alone, ``"rebuilt model"`` or ``"own values"`` (one draw).
        rule: the variance rule the target was evaluated from (``"2/fan_in"``), or ``""``.
        target_variance: the target variance at the piece's fans, or ``None``.
        explanation: what its measured ratio is consistent with, or ``None``.
        follows: the normalization that makes it scale-invariant, or ``""``.
        acceptance: ``"accepted: REASON"`` for a row the user vouches for, else ``""``.
        init_fans: the fans the framework's own init functions read from this weight
            (a fix drawn with them hits the target), or ``None``.
    """

    layer: str
    param: str
    piece: str
    layer_type: str
    role: str
    shape: tuple[int, ...]
    layout: str
    fans: tuple[int, int] | None
    target: str | None
    results: tuple[CheckResult, ...] = ()
    note: str = ""
    status: Status = Status.NONE
    size: int = 0
    drawn: str = ""
    rule: str = ""
    target_variance: float | None = None
    explanation: Explanation | None = None
    follows: str = ""
    acceptance: str = ""
    init_fans: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.status, Status):
            object.__setattr__(self, "status", Status(self.status))

    @property
    def name(self) -> str:
        piece = f"[{self.piece}]" if self.piece else ""
        return f"{self.layer}.{self.param}{piece}" if self.layer else f"{self.param}{piece}"

    @property
    def audited(self) -> bool:
        return bool(self.results) or self.status == "accepted"

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def variance_result(self) -> CheckResult | None:
        return next((r for r in self.results if r.check == _VARIANCE), None)

    @property
    def ratio(self) -> float | None:
        """The measured Var(W)/target, or ``None`` (no variance check ran)."""
        r = self.variance_result
        return None if r is None or r.statistic is None else float(r.statistic)

    @property
    def interval(self) -> tuple[float, float] | None:
        """The confidence interval of :attr:`ratio`, or ``None``."""
        r = self.variance_result
        return None if r is None else r.interval

    @property
    def diagnosis(self) -> str:
        """The explanation as a sentence with the measured ratio, or ``""``."""
        e, ratio = self.explanation, self.ratio
        if e is None or ratio is None:
            return ""
        return (
            f"measured ×{ratio:.3g} of the target is consistent with {e.text} "
            f"(predicts ×{e.predicted:.3g})"
        )

    @property
    def verdict(self) -> str:
        """``"fail"`` if a check failed, else ``"inconclusive"`` if one could not decide
        (too few values), else ``"pass"`` (:func:`~initcheck.results.combined_verdict`)."""
        return combined_verdict(r.verdict for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that did not pass, the failed ones before the undecided ones (the
        first is the row's defect: a variance ×2,500 off its target, not the centering
        that cannot be decided against that target's std)."""
        return tuple(sorted((r for r in self.results if not r.passed), key=_undecided))

    def __getitem__(self, check: str) -> CheckResult:
        for r in self.results:
            if r.check == check:
                return r
        raise KeyError(
            f"No {check!r} result for {self.name}; have {[r.check for r in self.results]}"
        )

    def describe(self) -> str:
        if not self.audited:
            return f"{self.name} ({self.layer_type}): {self.note}"
        verdict = {"pass": "ok", "fail": "FAILED"}.get(self.verdict, "INCONCLUSIVE")
        fans = f"fans={self.fans}" if self.fans else ""
        where = ", ".join(
            filter(None, [self.layer_type, " ".join(filter(None, [self.layout, fans]))])
        )
        status = f" [{self.status}]" if self.status else ""
        text = f"{self.name} ({where}) {verdict}{status}"
        for r in self.failures:
            text += f"\n    {r.check}: {r.message}"
        if self.diagnosis:
            text += f"\n    diagnosis: {self.diagnosis}"
        if self.status and self.note:
            text += f"\n    note: {self.note}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The row as JSON-safe data (rebuilt by :meth:`from_dict`)."""
        return {
            "name": self.name,
            "layer": self.layer,
            "param": self.param,
            "piece": self.piece,
            "layer_type": self.layer_type,
            "role": self.role,
            "shape": list(self.shape),
            "layout": self.layout,
            "fans": list(self.fans) if self.fans else None,
            "target": self.target,
            "audited": self.audited,
            "passed": self.passed,
            "verdict": self.verdict,
            "results": [r.to_dict() for r in self.results],
            "diagnosis": self.diagnosis,
            "note": self.note,
            "status": self.status.value,
            "size": self.size,
            "drawn": self.drawn,
            "rule": self.rule,
            "target_variance": self.target_variance,
            "ratio": self.ratio,
            "interval": list(self.interval) if self.interval else None,
            "explanation": self.explanation.to_dict() if self.explanation else None,
            "follows": self.follows,
            "acceptance": self.acceptance,
            "init_fans": list(self.init_fans) if self.init_fans else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightRow:
        """Rebuild a row from :meth:`to_dict` output (e.g. sent by an xdist worker).

        Args:
            data: the mapping :meth:`to_dict` returned (or its JSON round trip).

        Returns:
            An equal :class:`WeightRow`.
        """
        fans, init_fans = data.get("fans"), data.get("init_fans")
        explanation, target_variance = data.get("explanation"), data.get("target_variance")
        return cls(
            layer=str(data["layer"]),
            param=str(data["param"]),
            piece=str(data.get("piece", "")),
            layer_type=str(data.get("layer_type", "")),
            role=str(data.get("role", "")),
            shape=tuple(int(n) for n in data.get("shape", ())),
            layout=str(data.get("layout", "")),
            fans=(int(fans[0]), int(fans[1])) if fans else None,
            target=data.get("target"),
            results=tuple(CheckResult.from_dict(r) for r in data.get("results", ())),
            note=str(data.get("note", "")),
            status=Status(data.get("status", "")),
            size=int(data.get("size", 0)),
            drawn=str(data.get("drawn", "")),
            rule=str(data.get("rule", "")),
            target_variance=None if target_variance is None else float(target_variance),
            explanation=Explanation.from_dict(explanation) if explanation else None,
            follows=str(data.get("follows", "")),
            acceptance=str(data.get("acceptance", "")),
            init_fans=(int(init_fans[0]), int(init_fans[1])) if init_fans else None,
        )
