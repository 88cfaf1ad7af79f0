"""The model's own signal at init: does it survive from the first weighted layer to the last?

One batch goes forward and backward through the actual model. Per weighted layer (in
forward order) two numbers are recorded: the mean square of its output (activations) and
the per-example squared norm of the gradient at its output (a fixed random direction
``r`` at the model's output, loss ``Σ out·r``).

Why these two: a fan_in-scaled (He/LeCun) layer keeps the *per-unit* second moment of its
output when the widths change, while backward it keeps the *per-example norm* of the
gradient (``‖Wᵀg‖² ≈ ‖g‖²`` for He fan_in under ReLU); so neither statistic drifts with the
widths of a sound model.

Decision: both end-to-end RMS ratios, ``rms(act_last)/rms(act_first)`` and
``rms(grad_first)/rms(grad_last)``, must lie within ``[1/BAND, BAND]`` (``BAND = 2``).
Calibration (docs/audit.md): He-initialized ReLU MLPs and CNNs (with a LeCun linear output
layer) sit within ×0.6–×1.5; PyTorch's default ReLU stacks lose ×0.41 per block, so a
stack of 3 or more weighted layers fails (×0.17 after 3). This is a measured ratio on one
batch, not a statistical test: its sampling error (relative ≈ 1/√(batch·width), ~1% here)
is far inside the band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

from initcheck.results import CheckResult

__all__ = ["BAND", "SIGNAL_CHECK", "LayerSignal", "decide_signal"]

BAND = 2.0
#: The name of the model-level result (not a registered per-initializer check).
SIGNAL_CHECK = "model_signal"


@dataclass
class LayerSignal:
    """What one weighted layer's output carried on the batch."""

    name: str
    kind: str
    act_ms: float
    grad_n2: float | None = None

    def set_grad(self, value: float) -> None:
        self.grad_n2 = value


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (b > 0) or not math.isfinite(a) or not math.isfinite(b):
        return None
    return math.sqrt(max(a, 0.0) / b)


def _story(
    what: str, ratio: float, steps: list[tuple[str, float]], first: str, last: str, kinds: str
) -> str:
    n = len(steps)
    per = ratio ** (1 / n) if n and ratio > 0 else 0.0
    verb = "shrink" if ratio < 1 else "grow"
    worst = min(steps, key=lambda s: s[1]) if ratio < 1 else max(steps, key=lambda s: s[1])
    return (
        f"{what} {verb} ×{per:.2g} per {kinds} layer (geometric mean); ×{ratio:.2g} after "
        f"{n + 1} weighted layers (from {first} to {last}); the largest step is ×{worst[1]:.2g} "
        f"into {worst[0]}"
    )


def decide_signal(layers: list[LayerSignal], source: str, model: str) -> CheckResult:
    """Decide whether activations and gradients survive from the first weighted layer to
    the last (see the module docstring).

    Args:
        layers: per weighted layer, in forward order.
        source: a description of the input batch.
        model: the model's display name.

    Returns:
        A :class:`~initcheck.results.CheckResult` named :data:`SIGNAL_CHECK`.
    """
    base = dict(check=SIGNAL_CHECK, initializer=model, target=1.0, n=len(layers))
    if len(layers) < 2:
        return CheckResult(
            passed=True,
            message=f"fewer than 2 weighted layers ran on {source}: nothing to compare.",
            **base,
        )
    first, last = layers[0], layers[-1]
    act = _ratio(last.act_ms, first.act_ms)
    grad = _ratio(first.grad_n2, last.grad_n2)
    act_steps = [(b.name, _ratio(b.act_ms, a.act_ms) or 0.0) for a, b in pairwise(layers)]
    grad_steps = [(a.name, _ratio(a.grad_n2, b.grad_n2) or 0.0) for a, b in pairwise(layers)]
    kinds = "/".join(dict.fromkeys(s.kind for s in layers[1:]))
    details = {
        "band": [1 / BAND, BAND],
        "activation_ratio": act,
        "gradient_ratio": grad,
        "source": source,
        "layers": [
            {
                "layer": s.name,
                "type": s.kind,
                "activation_ms": s.act_ms,
                "gradient_norm2": s.grad_n2,
            }
            for s in layers
        ],
        "activation_gains": act_steps,
        "gradient_gains": grad_steps,
    }
    problems = []
    if act is None or not (1 / BAND <= act <= BAND):
        problems.append(
            "activations: no finite ratio"
            if act is None
            else _story("activations", act, act_steps, first.name, last.name, kinds)
        )
    if grad is not None and not (1 / BAND <= grad <= BAND):
        problems.append(
            _story("gradients (backward)", grad, grad_steps[::-1], last.name, first.name, kinds)
        )
    band = f"within ×/÷{BAND:g}"
    grad_text = "not recorded" if grad is None else f"×{grad:.3g}"
    if problems:
        msg = (
            f"the signal does not survive the model at init on {source}: "
            + "; ".join(problems)
            + f". Activation RMS last/first ×{act if act is not None else float('nan'):.3g}, "
            f"gradient RMS first/last {grad_text}; both must be {band}."
        )
    else:
        msg = (
            f"activation RMS last/first ×{act:.3g}, gradient RMS first/last {grad_text} "
            f"over {len(layers)} weighted layers on {source}: {band}."
        )
    return CheckResult(
        passed=not problems,
        message=msg,
        statistic=act,
        interval=None,
        details=details,
        **base,
    )
