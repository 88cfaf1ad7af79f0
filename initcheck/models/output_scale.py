"""The model's output at init: a classifier's or language model's logits, and the loss they
start from ("verify loss @ init", Karpathy 2019).

A head that starts with logits spread far apart across its classes starts from a loss far
above chance, ``ln C``, with its softmax saturated on one arbitrary class: the first steps
undo the init instead of learning (a tied embedding or head drawn N(0, 1): logits of std
≈ √width). Measured on the traced batch's output where a weighted layer produces it and it
has ``C ≥ 2`` classes on its last axis:

- the *spread*: the root mean square over rows of each row's standard deviation across
  the classes;
- the *initial loss* against a uniformly random label, ``mean(logsumexp(z) − mean(z))``
  (label-free), and its *excess* over ``ln C`` (≥ 0, Jensen).

The check passes iff the spread is at most :data:`SPREAD_MAX`. Calibration (Gaussian
logits): spread 2 gives an excess of 1.5 nats at C = 10 and 2.0 at C = 50,000; spread 4
gives 3.9 and 7.6 (the top class then holds 71% and 19% of the mass). Sound heads measure
0.1–2.5 (He-initialized MLPs and CNNs on MNIST-scale inputs up to 2.5; Hugging Face heads
at σ = 0.02 about 0.2), a head or tied table at std 1.0 about √width (8 at width 64): the
bound leaves a margin of ×1.6 on the sound side and ×2 on the defect side from width 64 on.
A ratio measured on one batch (its sampling error over B·T rows is far inside the margin),
not a hypothesis test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from initcheck.results import CheckResult

SPREAD_MAX = 4.0
#: at most this many rows are used (an LM's batch × tokens)
ROWS = 4096


def output_scale(values: Any) -> dict[str, float] | None:
    """The spread, initial loss and excess over ``ln C`` of logits ``values`` (classes on
    the last axis), or ``None`` if there are fewer than 2 classes or values are not finite.
    """
    z = np.asarray(values, dtype=np.float64)
    if z.ndim < 2 or z.shape[-1] < 2:
        return None
    z = z.reshape(-1, z.shape[-1])[:ROWS]
    if not np.isfinite(z).all():
        return None
    c = z.shape[-1]
    top = z.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(z - top).sum(axis=1))
    loss = float(np.mean(lse - z.mean(axis=1)))
    spread = float(np.sqrt(np.mean(z.var(axis=1))))
    return {"classes": c, "spread": spread, "loss": loss, "excess": loss - math.log(c)}


def judge_output(values: Any, head: str) -> tuple[bool, str, dict[str, Any]] | None:
    """Whether the logits ``values`` produced by the weight ``head`` start sound, the
    message, and the details; ``None`` if they cannot be judged (see :func:`output_scale`).
    """
    m = output_scale(values)
    if m is None:
        return None
    what = (
        f"the output at init ({head}, {m['classes']:,} classes): logit spread "
        f"{m['spread']:.3g} across classes, initial loss {m['loss']:.3g} against "
        f"ln C = {math.log(m['classes']):.3g} ({m['excess']:.3g} nats above chance)"
    )
    details = {**m, "head": head, "bound": SPREAD_MAX}
    if m["spread"] <= SPREAD_MAX:
        return True, f"{what}; within the spread bound {SPREAD_MAX:g}", details
    return (
        False,
        (
            f"{what}: beyond the spread bound {SPREAD_MAX:g}, so training starts far above "
            f"chance with a saturated softmax (Karpathy 2019, 'verify loss @ init'); "
            f"scale down {head} (or the table it is tied to), or the inputs if they are "
            "not normalized"
        ),
        details,
    )


def with_output(signal: CheckResult, pieces: Sequence[Any], trace: Any) -> CheckResult:
    """``signal`` with the output at init judged in: where a weighted layer produces the
    model's output (a kernel piece, or a layer whose weight is tied to another's: an LM
    head), its logits' spread is measured; a spread beyond the bound fails the signal,
    naming the head. Otherwise ``signal`` unchanged (a norm's output: hidden states)."""
    values = getattr(trace, "logits", None)
    outputs = list(getattr(trace, "outputs", ()))[:1]  # the output measured: the logits
    kernels = {p.key: p for p in pieces if p.role == "kernel"} | {
        p.layer: p for p in pieces if p.role == "kernel"
    }
    head = ""
    width = np.shape(values)[-1] if values is not None and np.ndim(values) else 0
    for path in outputs:  # a kernel, or a weighted layer whose weight is tied elsewhere
        call = trace.get(path)
        if path in kernels:
            fans = kernels[path].fans  # the classes are its units, on the last axis
            if fans is None or fans.fan_out == width or kernels[path].layout is None:
                head = kernels[path].key
        elif call is not None and call.category == "other":
            head = path
    if values is None or not head:
        return signal
    return fold(signal, "output", judge_output(values, head))


def fold(
    signal: CheckResult, key: str, judged: tuple[bool, str, dict[str, Any]] | None
) -> CheckResult:
    """``signal`` with a model-level judgment folded in under ``details[key]``: a failing
    one fails the signal, its message first; ``None`` (nothing measured) changes nothing."""
    if judged is None:
        return signal
    passed, message, details = judged
    merged = {**signal.details, key: details}
    if passed:
        return dataclasses.replace(signal, details=merged)
    lead = "" if signal.verdict == "inconclusive" else f" ({signal.message})"
    return dataclasses.replace(signal, verdict="fail", message=f"{message}.{lead}", details=merged)
