"""One audited weight's record: :class:`WeightRow` (layer, fans, rule, its check results,
diagnosis and status). Its own module so the modules that read rows (findings, fixes,
text) import the type without importing the report that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from initcheck.results import CheckResult
from initcheck.verdicts import combined_verdict

#: Row statuses that inform without failing: a kernel's scale normalized away, a
#: declared convention the signal decides, a residual branch of a normalized model under
#: ``"auto"``, a deliberate identity-at-init, an output head under ``"auto"``, a table its
#: init computes (sinusoidal positions), a weight the user vouches for (``accept=``: not
#: audited, or failing).
STATUSES = (
    "scale-invariant", "convention", "residual branch", "identity-at-init", "output head",
    "deterministic", "zero-at-init", "accepted",
)  # fmt: skip


@dataclass(frozen=True)
class WeightRow:
    """The audit of one weight (piece): where it is, how it is read, and the verdicts.

    Attributes:
        layer, param, piece, layer_type, role: see :class:`WeightPiece`.
        shape: the shape of the values checked (a packed weight's piece, or a subsample
            of a large kernel's units).
        layout: the layout's description.
        fans: ``(fan_in, fan_out)`` of the piece, or ``None``.
        target: the variance target's label, or ``None``.
        results: the checks' results.
        diagnosis: what a failing variance is consistent with (a named convention defect).
        note: remarks (not audited, heuristic target, subsampled).
        size: the number of values of the whole weight (piece).
        status: one of :data:`STATUSES` when the row informs rather than decides (its
            variance result is then kept, marked ``details["deferred"]``), else ``""``.
        drawn: how its independent draws were made: the initializer or init code that
            ran on this weight alone, ``"rebuilt model"`` or ``"own values"`` (one draw).
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
    diagnosis: str = ""
    note: str = ""
    status: str = ""
    size: int = 0
    drawn: str = ""

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
    def acceptance(self) -> str:
        """``"accepted: REASON"`` for a row the user vouches for (``accept=``), else ``""``."""
        return "accepted" + self.note.rpartition("accepted")[2] if self.status == "accepted" else ""

    @property
    def verdict(self) -> str:
        """``"fail"`` if a check failed, else ``"inconclusive"`` if one could not decide
        (too few values), else ``"pass"`` (:func:`~initcheck.results.combined_verdict`)."""
        return combined_verdict(r.verdict for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if not r.passed)

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
            "status": self.status,
            "size": self.size,
            "drawn": self.drawn,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WeightRow:
        """Rebuild a row from :meth:`to_dict` output (e.g. sent by an xdist worker).

        Args:
            data: the mapping :meth:`to_dict` returned (or its JSON round trip).

        Returns:
            An equal :class:`WeightRow`.
        """
        fans = data.get("fans")
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
            diagnosis=str(data.get("diagnosis", "")),
            note=str(data.get("note", "")),
            status=str(data.get("status", "")),
            size=int(data.get("size", 0)),
            drawn=str(data.get("drawn", "")),
        )
