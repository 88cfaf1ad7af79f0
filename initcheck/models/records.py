"""What an audit works from and returns: the :class:`WeightPiece` (one weight, or one gate
or projection of a packed weight, with its layout and fans) and the report records
(:class:`WeightRow`, :class:`ModelReport`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from initcheck.fans import Fans, KernelLayout
from initcheck.models.findings import Finding
from initcheck.models.graph import Gain
from initcheck.models.weightrow import WeightRow
from initcheck.report.notebook import model_html
from initcheck.results import REPR_LIMIT, CheckResult, jsonable, short

#: Roles of a weight: a kernel (fan rule applies), a recurrent kernel (orthogonal or the
#: per-gate fan rule), an embedding (fan rule only when declared), a constant (bias,
#: normalization; finite and equal to ``constant``), a branch scale (LayerScale γ,
#: ReZero/SkipInit α: a constant, identity-at-init when small), an offset added to the
#: signal (a learned token or bias: finite, identity-at-init when zero), or unknown (not
#: audited).
ROLES = ("kernel", "recurrent", "embedding", "constant", "scale", "offset", "unknown")


@dataclass(frozen=True)
class Reading:
    """Another way of reading a weight's fans (``fans``) that a framework is known to use,
    and ``why``: the convention, e.g. ``"the swapped fans of a transposed convolution"``."""

    fans: Fans
    why: str


@dataclass(frozen=True)
class Default:
    """A draw a framework is known to make for a weight (its default init, or the layer's
    configured initializer read the framework's way): its ``variance``, ``what`` it is
    (no numbers of this weight: rows group on it) and ``where``, this weight's numbers
    (its fans, its shape), appended when one row is explained."""

    variance: float
    what: str
    where: str = ""


@dataclass(frozen=True)
class WeightPiece:
    """One audited weight (or one piece of a packed weight).

    Attributes:
        layer: the layer's path in the model (``"encoder.0"``, ``"conv2d_1"``).
        param: the parameter's name (``"weight"``, ``"kernel"``).
        layer_type: the layer's class name.
        role: see :data:`ROLES`.
        key: the key of the parameter in a snapshot of the model's parameters.
        framework: ``"torch"``, ``"keras"`` or ``"flax"``.
        piece: the piece of a packed weight (``"Q"``, ``"gate f"``), or ``""``.
        layout: how the piece's axes map to units (for the structural checks).
        fans: the piece's true fans (``None`` where no fan rule applies).
        readings: fan readings a framework is known to use instead.
        extract: full parameter array → the piece's array.
        constant: the value a constant weight is meant to hold (``None``: any constant).
        activation: the activation that follows the layer (for ``variance="auto"``).
        note: why a weight is not audited, or a remark.
        defaults: :class:`Default` draws: what the framework draws by default (or
            what the layer's configured initializer draws, read the framework's way).
        norm: the normalization layer the kernel's output reaches through pass-through
            layers only (the kernel is then scale-invariant), or ``""``.
        output: whether the layer is the model's output head.
        branch_end: whether the weight sits inside a residual block / branch (a zero
            norm γ there closes the branch: identity-at-init).
        gain: the measured gain of the nonlinearity that follows (``variance="auto"``
            decides from it; ``activation`` only names it).
        unmeasured: why a weight's meaning was not measured: a norm weight of zeros
            whose norm did not run (a gain of 0, or an offset from 1), its row then
            inconclusive unless its values agree with both readings; a parameter the
            traced pass never used, read as a table from its shape, checked only for
            finite values and distinct units (no check that presumes a role).
        init_fans: the fans the framework's own init functions read from the tensor a
            fix draws into (set by the adapter), or ``None``.
    """

    layer: str
    param: str
    layer_type: str
    role: str
    key: str
    framework: str
    piece: str = ""
    layout: KernelLayout | None = None
    fans: Fans | None = None
    readings: tuple[Reading, ...] = ()
    extract: Callable[[np.ndarray], np.ndarray] = field(default=lambda a: a, repr=False)
    constant: float | None = None
    activation: str | None = None
    note: str = ""
    defaults: tuple[Default, ...] = ()
    norm: str = ""
    output: bool = False
    branch_end: bool = False
    gain: Gain | None = None
    unmeasured: str = ""
    init_fans: Fans | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:  # an adapter's table entry is wrong
            raise ValueError(
                f"Unknown role for weight {self.name}: expected one of {ROLES}. "
                f"Received: role={self.role!r}"
            )

    @property
    def name(self) -> str:
        piece = f"[{self.piece}]" if self.piece else ""
        return f"{self.layer}.{self.param}{piece}" if self.layer else f"{self.param}{piece}"


def with_init_fans(
    pieces: Sequence[WeightPiece], shapes: Mapping[str, tuple[int, ...]]
) -> list[WeightPiece]:
    """Each kernel piece with the fans read from its whole parameter's shape (``shapes``
    by key) laid out ``(*kernel, in, out)``: how Keras's and Flax's variance scalings
    read a kernel (transposed and depthwise kernels included), which their fixes draw."""
    out = []
    for p in pieces:
        shape = shapes.get(p.key)
        if p.role in ("kernel", "recurrent") and shape is not None and len(shape) >= 2:
            p = replace(p, init_fans=KernelLayout("keras").fans(tuple(shape)))
        out.append(p)
    return out


@dataclass(frozen=True)
class ModelReport:
    """The audit of a whole model, as plain data (it round-trips through JSON:
    :meth:`to_dict`, :meth:`from_dict`): one row per weight (piece), the rows grouped by
    cause, and the model's signal.

    Attributes:
        model: the model's display name.
        framework: the adapter that audited it: ``"torch"``, ``"keras"``, ``"flax"``
            (NNX) or ``"linen"``.
        rows: one :class:`WeightRow` per weight or piece, in the model's order.
        signal: the end-to-end signal result (``None`` when it could not be measured).
        settings: the run's settings and versions (a re-audit replays them).
        findings: the failing and informational rows grouped by cause, failing first,
            each with its fix where the cause is known (:mod:`initcheck.models.findings`).
        after_fix: the audit of the model with its findings' fixes applied
            (:func:`initcheck.models.fix`), or ``None``.
    """

    model: str
    framework: str
    rows: tuple[WeightRow, ...]
    signal: CheckResult | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    after_fix: ModelReport | None = field(default=None, compare=False)

    @property
    def unaudited(self) -> tuple[WeightRow, ...]:
        """Rows no rule could audit (unknown layer types), unless accepted."""
        return tuple(r for r in self.rows if not r.audited)

    @property
    def coverage(self) -> dict[str, int]:
        """How many weights (rows) and parameters (values) were audited, of all."""
        seen: dict[tuple[str, str], bool] = {}
        sizes: dict[tuple[str, str], int] = {}
        for r in self.rows:
            key = (r.layer, r.param)
            seen[key] = seen.get(key, True) and r.audited
            sizes[key] = sizes.get(key, 0) + r.size
        return {
            "weights": len(seen),
            "weights_audited": sum(seen.values()),
            "parameters": sum(sizes.values()),
            "parameters_audited": sum(n for k, n in sizes.items() if seen[k]),
        }

    @property
    def verdict(self) -> str:
        """``"failed"`` (a weight or the signal fails), ``"inconclusive"`` (nothing fails,
        but a check could not decide: the signal not measured), ``"incomplete"`` (some
        weights, or all, were not audited), or ``"passed"``. A verdict needs evidence: a
        model with no audited weight never passes."""
        undecided = self.failures
        if any(f.verdict != "inconclusive" for f in undecided):
            return "failed"
        if undecided:
            return "inconclusive"
        if self.unaudited or not any(r.audited for r in self.rows):
            return "incomplete"
        return "passed"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    def __repr__(self) -> str:
        """One short line, so an assertion's message stays readable (print: the table)."""
        failing = [f"{r.layer}.{r.param}".strip(".") for r in self.failed_rows]
        c = self.coverage
        text = (
            f"ModelReport(model={short(self.model, 40)!r}, framework={self.framework!r}, "
            f"verdict={self.verdict!r}, weights={c['weights_audited']}/{c['weights']}, "
            f"failing={failing!r}, signal={self.signal.verdict if self.signal else None!r})"
        )
        return short(text, REPR_LIMIT)

    def coverage_text(self) -> str:
        c = self.coverage
        text = (
            f"audited {c['weights_audited']} of {c['weights']} weights "
            f"({c['parameters_audited']:,} of {c['parameters']:,} parameters)"
        )
        if not any(r.audited for r in self.rows):
            text += (
                "; nothing to audit: no weight initcheck can read (a model without "
                "parameters, packed or quantized weights, or a Keras model not yet built: "
                "call it on a batch in the factory)"
            )
        if self.unaudited:
            kinds = sorted({r.layer_type for r in self.unaudited})
            text += (
                f"; incomplete: {len(self.unaudited)} weights not audited (unknown layer "
                f"type {', '.join(kinds)}; accept them with accept=[...])"
            )
        return text

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        out = [f for r in self.failed_rows for f in r.failures]
        if self.signal is not None and not self.signal.passed:
            out.append(self.signal)
        return tuple(out)

    @property
    def failed_rows(self) -> tuple[WeightRow, ...]:  # failed or undecided, unless accepted
        return tuple(r for r in self.rows if not r.passed and r.status != "accepted")

    def text(self, verbose: bool = False) -> str:
        """The report as text: findings (with fixes), the signal and its gains by depth,
        the failing rows and a count of the rest; ``verbose``: every message and row."""
        from initcheck.models.text import report_text

        return report_text(self, verbose)

    def row(self, name: str) -> WeightRow:
        """The row named ``layer.param[piece]`` (or ``layer.param`` if unique)."""
        hits = [r for r in self.rows if r.name == name or f"{r.layer}.{r.param}" == name]
        if len(hits) != 1:
            raise KeyError(f"{len(hits)} rows match {name!r}; rows: {[r.name for r in self.rows]}")
        return hits[0]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data: every row (with its results' ``to_dict()``) and
        the signal record (its ``details`` hold the per-layer activation and gradient
        second moments and gains). Rebuilt by :meth:`from_dict`."""
        return {
            "model": self.model,
            "framework": self.framework,
            "passed": self.passed,
            "verdict": self.verdict,
            "coverage": self.coverage,
            "findings": [f.to_dict() for f in self.findings],
            "rows": [r.to_dict() for r in self.rows],
            "signal": self.signal.to_dict() if self.signal else None,
            "settings": jsonable(self.settings),
            "after_fix": self.after_fix.to_dict() if self.after_fix else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelReport:
        """The report :meth:`to_dict` returned ``data`` for (or its JSON round trip, e.g.
        sent by an xdist worker): the same rows, verdicts and signal."""
        signal = data.get("signal")
        after = data.get("after_fix")
        return cls(
            model=str(data["model"]),
            framework=str(data.get("framework", "")),
            rows=tuple(WeightRow.from_dict(r) for r in data.get("rows", ())),
            signal=CheckResult.from_dict(signal) if signal else None,
            settings=dict(data.get("settings") or {}),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings") or ()),
            after_fix=cls.from_dict(after) if after else None,
        )

    def _repr_html_(self) -> str:
        """The notebook display: the weight table and the signal (self-contained HTML)."""
        return model_html(self)

    def __str__(self) -> str:
        return self.text()
