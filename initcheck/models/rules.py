"""Variance targets per weight, and what a measured variance ratio is consistent with.

``variance=`` of :func:`~initcheck.models.audit` is one rule for every kernel (``"he"``,
``"glorot"``, ``"lecun"``, a number, a callable), a mapping from layer-path globs
(:func:`fnmatch.fnmatch`) or layer type names to rules (first match wins), or ``"auto"``:
each kernel's target Var = 1/(gain·fan_in) from the *measured* gain E[φ(z)²]/E[z²] of the
nonlinearity that follows it in the traced pass (gain 1 when only linear ops follow), and
the range up to the backward target 1/(gain·fan_out) accepted (Glorot & Bengio 2010). The
published rule the gain matches (He's 2/fan_in, LeCun's 1/fan_in) only explains the row; an
activation's name never decides it. Where no gain was measured the row is inconclusive.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatch
from typing import Any

from initcheck.fans import Fans
from initcheck.models.graph import Gain
from initcheck.models.records import Reading, WeightPiece
from initcheck.targets import VarianceTarget, resolve_target

#: A measured ratio within this factor of an explanation's prediction is "consistent".
CONSISTENT = 1.15


def _auto(piece: WeightPiece) -> tuple[Any, str]:
    """The target under ``"auto"``: Var = 1/(gain·fan_in) from the measured gain of what
    follows the weight (:data:`~initcheck.models.graph.LINEAR` when only linear ops do);
    no target, and a note saying why, where nothing was measured."""
    gain = piece.gain
    if gain is None:
        what = f"the {piece.activation} that follows" if piece.activation else "this layer"
        return None, (
            f"variance='auto' measured no gain for {what} (it did not run in the traced "
            "pass, or its output could not be measured): inconclusive; pass inputs= that "
            "run it, or a rule for its path or type"
        )
    follows = (
        f"of the {piece.activation} that follows"
        if piece.activation
        else ("(no nonlinearity follows)")
    )
    scale = _auto_scale(gain)
    return (
        VarianceTarget(label=f"{scale:.3g}/fan_in", scale=scale, rule="fan_in"),
        f"target from variance='auto': measured gain {gain} {follows} → Var = "
        f"{scale:.3g}/fan_in{_named(gain)}",
    )


def _named(gain: Gain) -> str:
    """The published rule a measured gain corresponds to (an explanation only)."""
    lo, hi = gain.band()
    if lo <= 0.5 <= hi:
        return ", He's rule (He et al. 2015)"
    if lo <= 1.0 <= hi:
        return ", LeCun's rule (LeCun et al. 1998)"
    return ""


def _auto_scale(gain: Gain) -> float:
    """The target's scale (Var·fan_in) under "auto": the published rule where the
    measurement admits it (exact, and its fix named), else 1/gain."""
    named = _named(gain)
    return 2.0 if "He" in named else 1.0 if "LeCun" in named else 1 / gain.at_scale


def auto_band(piece: WeightPiece, k: float = 3.0) -> tuple[float, float] | None:
    """Under ``variance="auto"`` with a measured gain: the range of the ratio of Var(W) to
    the row's target (:func:`_auto_scale`/fan_in) that keeps the signal.

    Forward propagation asks Var = 1/(g·fan_in), backward 1/(g·fan_out); Glorot &
    Bengio (2010) take a value between them, He et al. (2015) either one. A scale-dependent
    φ (tanh, GELU) admits the gains from its small-signal value to its value at the batch's
    scale; each gain is widened by ``k`` standard errors of its measurement.

    Returns:
        ``(lo, hi)`` ratios to the row's target, or ``None`` without a measured gain.
    """
    gain, fans = piece.gain, piece.fans
    if gain is None or fans is None or not gain.at_scale > 0:
        return None
    g_lo, g_hi = gain.band(k)
    scale = _auto_scale(gain)
    forward = [1 / (g_hi * scale), 1 / (g_lo * scale)]
    per_fan = fans.fan_in / max(fans.fan_out, 1)
    ratios = forward + [r * per_fan for r in forward]
    return min(ratios), max(ratios)


def is_auto(spec: Any) -> bool:
    """Whether a rule is ``"auto"`` (any case)."""
    return isinstance(spec, str) and spec.strip().lower() == "auto"


def matches(pattern: str, layer_type: str, layer: str, param: str) -> bool:
    """Whether a user's pattern (a ``variance=`` mapping key, an ``accept=`` entry) names a
    weight: its layer type, or a glob of its layer's path or of ``layer.param``."""
    return pattern == layer_type or fnmatch(layer, pattern) or fnmatch(f"{layer}.{param}", pattern)


def layer_rule(piece: WeightPiece, variance: Any) -> tuple[bool, Any]:
    """``(matched, rule)``: the first entry of a ``variance=`` mapping that
    :func:`matches` the piece; ``(False, variance)`` for a single rule."""
    if not isinstance(variance, Mapping):
        return False, variance
    for key, rule in variance.items():
        if matches(str(key), piece.layer_type, piece.layer, piece.param):
            return True, rule
    return False, None


def piece_target(piece: WeightPiece, variance: Any) -> tuple[VarianceTarget | None, str]:
    """The resolved rule for ``piece`` (before fans are applied) and a note.

    Returns:
        ``(target, note)``; ``target`` is ``None`` when no rule applies.
    """
    if piece.role not in ("kernel", "recurrent", "embedding") or piece.fans is None:
        return None, ""
    if piece.role == "embedding" and not isinstance(variance, Mapping):
        return None, "embedding: no fan rule unless declared for its path or type"
    _, spec = layer_rule(piece, variance)
    note = ""
    if spec is None:
        return None, note
    if is_auto(spec):
        spec, note = _auto(piece)
        if spec is None:
            return None, note
    return resolve_target(spec), note


def fixed_target(rule: VarianceTarget, fans: Fans) -> VarianceTarget:
    """``rule`` evaluated at ``fans``, as a fixed-variance target labelled with both."""
    return VarianceTarget(
        label=f"{rule.label} at fan_in={fans.fan_in}, fan_out={fans.fan_out}",
        value=rule.variance(fans),
    )


def reading(fans: Fans, why: str) -> Reading:
    """A :class:`Reading` (shorthand for the layer tables)."""
    return Reading(fans, why)
