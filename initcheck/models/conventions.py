"""What a model's measured variances are consistent with, decided on the law across the
model's widths rather than the level at one width.

At one width several explanations can predict the same level: BERT's N(0, 0.02²) at
fan_in 768 is Var·768 ≈ 0.31, which is also PyTorch's default 1/(3·fan_in). Across widths
they part: a fixed σ keeps Var constant as fan_in changes, a fan rule scales it as 1/n.
So every explanation is a *family* (a fixed σ; PyTorch's default; a swapped or packed fan
reading; a Keras initializer read at Keras's fans), each row takes the consistent family
that holds on the most distinct fan_in values of the model, and a fixed σ counts only
when it is declared (Hugging Face's ``config.initializer_range``) or holds at
:data:`MIN_LAW_WIDTHS` (3) or more widths on at least half of the model's kernels: two
kernels at two widths are not a law (a He kernel at width 256 beside a LeCun kernel at
width 128 has the same σ).

Candidate families: the fan readings a framework is known to use (swapped transposed
fans, Keras's depthwise fan, packed matrices), the framework's default draws, the
standard rules (LeCun, Glorot, He at fan_in or fan_out), and fixed σ.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from initcheck.models.records import WeightPiece
from initcheck.models.rules import CONSISTENT
from initcheck.models.weightrow import Explanation
from initcheck.targets import VarianceTarget, resolve_target


@dataclass(frozen=True)
class Measured:
    """One kernel's measured variance against its rule."""

    piece: WeightPiece
    rule: VarianceTarget
    ratio: float

    @property
    def true(self) -> float:
        assert self.piece.fans is not None
        return self.rule.variance(self.piece.fans)

    @property
    def var(self) -> float:
        return self.ratio * self.true


def declared_sigmas(model: Any) -> list[tuple[float, str]]:
    """Fixed standard deviations a model declares for its weights: Hugging Face's
    ``initializer_range`` σ and GPT-2's residual projections σ/√(2·n_layer)."""
    config = getattr(model, "config", None)
    sigma = getattr(config, "initializer_range", None)
    if not isinstance(sigma, int | float) or not sigma > 0:
        return []
    out = [(float(sigma), f"the declared initializer_range σ = {sigma:g}")]
    layers = getattr(config, "n_layer", None) or getattr(config, "num_hidden_layers", None)
    if isinstance(layers, int) and layers > 0:
        out.append(
            (
                sigma / math.sqrt(2 * layers),
                f"σ/√(2·n_layer) = {sigma:g}/√{2 * layers} (GPT-2's scaled residual projections)",
            )
        )
    return out


#: The standard rules, as explanations of a measured ratio (rule name, description).
#: Distinct fan_in values a fixed σ must hold at before it is inferred as a convention.
MIN_LAW_WIDTHS = 3

STANDARD = (
    ("lecun", "LeCun's 1/fan_in (lecun_normal, PyTorch's kaiming at gain 1)"),
    ("glorot", "Glorot's 2/(fan_in+fan_out) (glorot_uniform, Keras's default; xavier_)"),
    ("he", "He's 2/fan_in (he_normal, kaiming_normal_)"),
    ("he_fan_out", "He at fan_out (kaiming_normal_(mode='fan_out'), as torchvision's ResNets)"),
)


def _family(text: str) -> str:
    return re.sub(r"[\d.,()·×=/ ]+", " ", text).strip()


def _close(ratio: float, predicted: float) -> bool:
    return predicted > 0 and abs(math.log(ratio / predicted)) <= math.log(CONSISTENT)


def _candidates(m: Measured, sigmas: Sequence[tuple[float, str]]) -> list[Explanation]:
    """Every explanation of ``m`` (each with the ratio it predicts)."""
    f = m.piece.fans
    assert f is not None
    out: list[Explanation] = []
    for r in m.piece.readings:
        g = r.fans
        seen = f"fan_in={g.fan_in}, fan_out={g.fan_out} instead of {f.fan_in}, {f.fan_out}"
        general = f"the target {m.rule.label} computed from {r.why}"
        pred = m.rule.variance(g) / m.true
        out.append(Explanation(f"{general} ({seen})", general, _family(r.why), pred))
    for d in m.piece.defaults:
        text = f"{d.what}{d.where}: ×{d.variance / m.true:.3g} of {m.rule.label}"
        out.append(Explanation(text, d.what, _family(d.what), d.variance / m.true))
    for name, what in STANDARD:
        other = resolve_target(name)
        if other.label != m.rule.label:
            out.append(Explanation(what, what, name, other.variance(f) / m.true))
    for sigma, what in sigmas:
        text = f"a fixed std σ = {sigma:.3g} at every width ({what}), not a fan rule"
        out.append(Explanation(text, text, f"sigma {sigma:.4g}", sigma**2 / m.true, True))
    return out


def explain(
    rows: Sequence[Measured], declared: Sequence[tuple[float, str]]
) -> list[Explanation | None]:
    """The explanation of each row's measured ratio (``None`` where nothing fits).

    Args:
        rows: the model's kernels with a rule and a measured ratio.
        declared: fixed σ the model declares (:func:`declared_sigmas`).

    Returns:
        One entry per row, in order.
    """
    inferred = []
    for m in rows:
        sigma = math.sqrt(m.var) if m.var > 0 else 0.0
        near = [o for o in rows if o.var > 0 and _close(o.var, sigma**2)]
        fans = {o.piece.fans.fan_in for o in near if o.piece.fans is not None}
        is_declared = any(_close(sigma**2, d**2) for d, _ in declared)  # explained by it
        enough = len(fans) >= MIN_LAW_WIDTHS and 2 * len(near) >= len(rows)
        if sigma > 0 and enough and not is_declared:
            inferred.append((sigma, f"the same σ on {len(near)} of {len(rows)} kernels"))
    cands = [_candidates(m, [*declared, *inferred]) for m in rows]
    declared_families = {f"sigma {s:.4g}" for s, _ in declared}
    widths: dict[str, set[int]] = {}
    for m, cs in zip(rows, cands, strict=True):
        for c in cs:
            if _close(m.ratio, c.predicted) and m.piece.fans is not None:
                widths.setdefault(c.family, set()).add(m.piece.fans.fan_in)
    # an inferred σ is one family per value: merge those within the consistency factor
    out: list[Explanation | None] = []
    counted: dict[tuple[str, bool], int] = {}  # a family's widths, counted once
    for m, cs in zip(rows, cands, strict=True):
        best: tuple[tuple[int, float], Explanation] | None = None
        for c in cs:
            if not _close(m.ratio, c.predicted):
                continue
            k = (c.family, c.convention)
            if k not in counted:
                counted[k] = (
                    _sigma_widths(c.family, widths)
                    if c.convention
                    else len(widths.get(c.family, ()))
                )
            n = counted[k]
            key = (n + (c.family in declared_families), -abs(math.log(m.ratio / c.predicted)))
            if best is None or key > best[0]:
                best = (key, c)
        out.append(best[1] if best else None)
    return out


def _sigma_widths(fam: str, widths: dict[str, set[int]]) -> int:
    """Distinct fan_in values of the rows consistent with the σ of ``fam`` or any σ
    within the consistency factor of it."""
    sigma = float(fam.split()[1])
    found: set[int] = set()
    for other, ws in widths.items():
        if other.startswith("sigma "):
            s = float(other.split()[1])
            if abs(math.log(s / sigma)) <= math.log(CONSISTENT) / 2:
                found |= ws
    return len(found)
