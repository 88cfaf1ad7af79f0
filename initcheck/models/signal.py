"""The model's own signal at init, measured where it is carried.

One batch goes forward and backward through the actual model (dropout off, BatchNorm on
batch statistics; loss ``Σ out·r`` for a fixed random direction ``r``). Each signal point
records the mean square of its output (activations) and the per-example squared norm of
the gradient there.

**Signal points.** In a model with repeated blocks (the children of a stack of alike
blocks; without such blocks, the residual merges, where the model adds a branch to its
input) the points are the block outputs: the residual stream. Otherwise they are the
weighted layers' outputs, a scale-invariant kernel's point being its normalization's
output (a raw pre-norm output says nothing the norm does not undo).

**Plain nets** (no repeated blocks): both end-to-end RMS ratios, activations last/first and
gradients first/last, must lie within ×/÷ :data:`BAND`, widened by one weight draw's
finite-width fluctuation (:data:`FLUCTUATION`, :data:`Z`, added in quadrature in log
space: at width 48 over 8 layers the band is ×/÷4.8, at width 256 over 5 ×/÷2.3; a loss of
×0.71 in RMS per layer, as LeCun under ReLU, fails from 4 layers of width 256 on).
He-initialized ReLU stacks sit within ×0.6–×1.5; the common default
kaiming_uniform(a=√5) loses ×0.41 per ReLU layer (docs/audit.md). A net whose
nonlinearity saturates (measured: its gain falls with scale) settles toward its fixed
point as a power law; its shrinking is deferred to the rows.

**The residual-depth criterion** (blocks): from block ``h = L//2`` to block ``L`` the
stream's second moment may grow at most as linear growth from the first block's output
allows, ``m_L/m_h ≤ (L−1)/(h−1)`` (``m_l = m_1 + (l−1)·c``, ``m_1, c ≥ 0``: the first
block's increment is free, a warm-up; ``L/h`` below 4 blocks), times :data:`KAPPA`, and
shrink by no more than the inverse. Geometric growth by ``r`` per block gives
``r^(L−h)``: an unnormalized ResNet (``r ≈ 2``, Hanin & Rolnick 2018; Fixup) fails, a BN
ResNet or a pre-LN transformer (linear growth, Xiong et al. 2020) passes. The gradient
at the block outputs is reported, not decided: in sound BN ResNets it grows about ×2 per
block backward within a stage. A measured ratio on one batch, not a statistical test;
its calibration grid is in docs/audit.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from initcheck.models.graph import Call
from initcheck.models.stream import KAPPA, container, segments
from initcheck.results import CheckResult

BAND = 2.0
#: Said of a verdict reached without a backward pass.
FORWARD_ONLY = (
    " Forward only: the backward pass is not run on a model without values (autograd "
    "would keep every weight it used, the whole model), so gradients are not measured."
)
#: Finite-width fluctuation of a plain net's signal: Var(log m_L/m_1) ≈ 5·Σ 1/n_l over
#: the layers' widths n_l (Hanin & Rolnick 2018, for ReLU), one draw of the weights. The
#: band is widened by Z of its standard deviations (two-sided false-failure rate 1e-3
#: from the fluctuation, beyond the band itself).
FLUCTUATION = 5.0
Z = 3.29
#: The name of the model-level result (not a registered per-initializer check).
SIGNAL_CHECK = "model_signal"


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (b > 0) or not math.isfinite(a) or not math.isfinite(b):
        return None
    return math.sqrt(max(a, 0.0) / b)


def _table(points: Sequence[Call]) -> list[dict[str, Any]]:
    return [
        {"layer": c.path, "type": c.kind, "activation_ms": c.act_ms, "gradient_norm2": c.grad_n2}
        for c in points
    ]


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


def _pass_factors(points: list[Call], calls: Sequence[Call]) -> tuple[float, float, int]:
    """The product of the measured forward and backward factors of the pass-through ops
    (pooling, flattening, means) run between the first and the last point: what they do
    to the signal's scale is theirs, not the weights' (a max pool raises the mean square,
    a global average lowers the gradient's per-example norm)."""
    ids = [id(c) for c in calls]
    try:
        lo, hi = ids.index(id(points[0])), ids.index(id(points[-1]))
    except ValueError:
        return 1.0, 1.0, 0
    fwd = bwd = 1.0
    used = 0
    for c in calls[lo + 1 : hi]:
        f, b = c.pass_gains()
        if f is None and b is None:
            continue
        used += 1
        fwd *= f if f is not None and f > 0 else 1.0
        bwd *= b if b is not None and b > 0 else 1.0
    return fwd, bwd, used


def _band(widths: Sequence[int]) -> float:
    """The RMS band: :data:`BAND` and ``Z`` standard deviations of one draw's finite-width
    fluctuation, added in quadrature in log space (two independent allowances)."""
    beta = FLUCTUATION * sum(1 / w for w in widths[:-1] if w > 0)
    return math.exp(math.hypot(math.log(BAND), Z * math.sqrt(beta) / 2))


def _plain(
    points: list[Call],
    source: str,
    base: dict,
    saturating: bool = False,
    calls: Sequence[Call] = (),
    widths: Sequence[int] = (),
    forward_only: bool = False,
) -> CheckResult:
    first, last = points[0], points[-1]
    band_f = _band(widths)
    fwd, bwd, n_pass = _pass_factors(points, calls)
    act = _ratio(last.act_ms, first.act_ms * fwd if first.act_ms is not None else None)
    grad = _ratio(first.grad_n2, last.grad_n2 * bwd if last.grad_n2 is not None else None)
    act_steps = [(b.path, _ratio(b.act_ms, a.act_ms) or 0.0) for a, b in pairwise(points)]
    grad_steps = [(a.path, _ratio(a.grad_n2, b.grad_n2) or 0.0) for a, b in pairwise(points)]
    kinds = "/".join(dict.fromkeys(s.kind for s in points[1:]))
    details = {
        "regime": "plain",
        "band": [1 / band_f, band_f],
        "activation_ratio": act,
        "gradient_ratio": grad,
        "source": source,
        "layers": _table(points),
        "activation_gains": act_steps,
        "gradient_gains": grad_steps,
        "pass_ops": {"count": n_pass, "forward": fwd, "backward": bwd},
    }
    measured = (("activations", act),) + (() if forward_only else (("gradients", grad),))
    missing = [what for what, value in measured if value is None]
    if missing:  # a verdict needs evidence
        return CheckResult(
            verdict="inconclusive",
            message=(
                f"the signal was not measured on {source}: no finite {' or '.join(missing)} "
                f"ratio between {first.path} and {last.path} (a NaN or Inf in the pass, or no "
                "gradient reached the weights: are they frozen, requires_grad=False?)"
            ),
            statistic=act,
            details=details,
            **base,
        )
    problems = []
    if act is None or not (1 / band_f <= act <= band_f):
        problems.append(
            "activations: no finite ratio"
            if act is None
            else _story("activations", act, act_steps, first.path, last.path, kinds)
        )
    # every point a norm's output: no kernel's scale reaches the backward growth there
    # (batch norm's own gradient explosion in deep plain nets, Yang et al. 2019)
    normalized = sum(c.category == "norm" for c in points) >= len(points) - 1
    reported = ""
    if grad is not None and not (1 / band_f <= grad <= band_f):
        story = _story("gradients (backward)", grad, grad_steps[::-1], last.path, first.path, kinds)
        if normalized:
            reported = (
                f" (Reported, not decided: {story}; every point is a norm's output, so no "
                "kernel's scale sets it: batch norm's own gradient growth, Yang et al. 2019.)"
            )
        else:
            problems.append(story)
    band = f"within ×/÷{band_f:.3g}"
    if band_f > BAND:
        band += (
            f" (×/÷{BAND:g}, widened for one weight draw's fluctuation at these widths, "
            "Hanin & Rolnick 2018)"
        )
    if n_pass:
        band += (
            f", after dividing out the measured factors of {n_pass} pooling/reshaping ops "
            f"(×{fwd:.3g} forward, ×{bwd:.3g} backward in second moment)"
        )
    grad_text = "not recorded" if grad is None else f"×{grad:.3g}"
    shrinking = all(r is not None and r <= band_f for r in (act, grad))
    if problems and saturating and shrinking:
        details["regime"] = "plain, saturating"
        msg = (
            f"activation RMS last/first ×{act:.3g}, gradient RMS first/last {grad_text} over "
            f"{len(points)} weighted layers on {source}: shrinking beyond ×/÷{band_f:.3g}, but the "
            "nonlinearity saturates (its measured gain at the batch's scale is below its "
            "small-signal gain), so a finite stack settles toward its fixed point as a power "
            "law, not geometrically (Poole et al. 2016). The deep-limit criterion, "
            "χ = Var(W)·fan_in·gain(0) = 1 (Schoenholz et al. 2017), is each kernel's row."
        )
        return CheckResult(passed=True, message=msg, statistic=act, details=details, **base)
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
            f"over {len(points)} weighted layers on {source}: {band}." + reported
        )
    return CheckResult(passed=not problems, message=msg, statistic=act, details=details, **base)


def _depth(values: list[float | None], names: list[str], what: str) -> tuple[dict, str]:
    """The residual-depth criterion on one sequence (in the direction of propagation)."""
    n = len(values)
    h = n // 2
    a, b = values[h - 1], values[-1]
    info: dict[str, Any] = {"blocks": n, "from": names[h - 1], "to": names[-1]}
    if a is None or b is None or not (a > 0) or not math.isfinite(b):
        info["ratio"] = None
        return info, "" if what.startswith("grad") else f"{what}: no finite second moment"
    ratio = b / a
    # linear from the first point on: the first block's own increment is free (a warm-up)
    bound = KAPPA * ((n - 1) / (h - 1) if h >= 2 else n / h)
    per = ratio ** (1 / (n - h)) if n > h else 1.0
    info.update(ratio=ratio, bound=bound, per_block=per)
    if 1 / bound <= ratio <= bound:
        return info, ""
    verb = "grows" if ratio > 1 else "shrinks"
    return info, (
        f"{what} {verb} geometrically with depth: ×{per:.3g} per block in second moment "
        f"(×{ratio:.3g} from {names[h - 1]} to {names[-1]}, over {n - h} blocks, where "
        f"linear growth allows ×{bound / KAPPA:.3g} and the bound is ×{bound:.3g})"
    )


def _stream(blocks: list[Call], source: str, base: dict, calls: Sequence[Call]) -> CheckResult:
    judged = [s for s in segments(blocks, calls) if len(s) >= 2]
    if not judged:  # every point restarts the stream: nothing carries growth across blocks
        return CheckResult(
            passed=True,
            message=(
                f"every one of the model's {len(blocks)} residual points restarts the stream "
                f"on {source} (a norm, a weighted op such as a stage's downsampling, or a "
                "new input on every path between them, as in a post-norm model): nothing "
                "grows across blocks."
            ),
            details={"regime": "residual", "source": source, "layers": _table(blocks)},
            **base,
        )
    infos, problems, grad_problems = [], [], []
    for seg in judged:
        names = [c.path for c in seg]
        act_info, act_problem = _depth(
            [c.act_ms for c in seg], names, "the residual stream (activations)"
        )
        grad_info, grad_problem = _depth(
            [c.grad_n2 for c in seg][::-1], names[::-1], "the gradient along the stream"
        )
        infos.append((seg, act_info, grad_info))
        where = f" of {container(names[0])}" if len(judged) > 1 and container(names[0]) else ""
        if act_problem:
            problems.append(
                act_problem.replace("the residual stream", f"the residual stream{where}", 1)
            )
        if grad_problem and not grad_problem.startswith("the gradient along the stream: no finite"):
            grad_problems.append(grad_problem)

    def badness(item: tuple[list[Call], dict, dict]) -> float:
        r, bound = item[1].get("ratio"), item[1].get("bound")
        if r is None or not bound or not r > 0 or not math.isfinite(r):
            return math.inf  # no finite, positive ratio: the stretch to report
        return abs(math.log(r)) - math.log(bound)

    seg, act_info, grad_info = max(infos, key=badness)  # the segment closest to failing
    gains = [
        (b.path, (b.act_ms or 0.0) / a.act_ms if a.act_ms else 0.0) for a, b in pairwise(blocks)
    ]
    details = {
        "regime": "residual",
        "kappa": KAPPA,
        "source": source,
        "activation": act_info,
        "gradient": grad_info,
        "segments": [{"stack": container(s[0].path), **a} for s, a, _ in infos],
        "activation_ratio": _ratio(seg[-1].act_ms, seg[0].act_ms),
        "gradient_ratio": _ratio(seg[0].grad_n2, seg[-1].grad_n2),
        "layers": _table(blocks),
        "block_gains": gains,
    }
    ratio = act_info.get("ratio")
    stacks = f" in {len(judged)} stacks" if len(judged) > 1 else ""
    if problems:
        msg = (
            f"the signal does not hold along the model's {len(blocks)} blocks{stacks} on {source}: "
        )
        msg += "; ".join(problems) + "."
        if grad_problems:
            msg += f" (Reported, not decided: {'; '.join(grad_problems)}.)"
    else:
        g = grad_info.get("ratio")
        names = [c.path for c in seg]
        msg = (
            f"the residual stream over {len(blocks)} blocks{stacks} ({names[0]} … {names[-1]}"
            f"{', the stack closest to its bound' if stacks else ''}) grows "
            f"no faster than linearly on {source}: second moment ×{ratio:.3g} over the second "
            f"half (bound ×{act_info['bound']:.3g})"
            + (f", gradient ×{g:.3g}" if g is not None else "")
            + "."
        )
    return CheckResult(passed=not problems, message=msg, statistic=ratio, details=details, **base)


def decide_signal(
    points: list[Call],
    blocks: list[Call],
    source: str,
    model: str,
    saturating: bool = False,
    calls: Sequence[Call] = (),
    widths: Sequence[int] = (),
    forward_only: bool = False,
) -> CheckResult:
    """Decide whether the signal holds through the model (see the module docstring).

    Args:
        points: the weighted layers' signal points, in forward order.
        blocks: the residual stream's points (block outputs), in forward order.
        source: a description of the input batch.
        model: the model's display name.
        saturating: whether the model's nonlinearities were measured to saturate (gain
            at the batch's scale below the small-signal gain): a plain net may then decay
            as a power law.
        calls: every call of the traced pass, in order (the pass-through ops between the
            points, whose measured factors are divided out).
        widths: each point's width (the band is widened for the finite-width
            fluctuation of one weight draw, :data:`FLUCTUATION`).
        forward_only: no backward pass was run (a model without values, streamed one
            module at a time): the verdict is the activations' alone, and says so.

    Returns:
        A :class:`~initcheck.results.CheckResult` named :data:`SIGNAL_CHECK`.
    """
    base: dict[str, Any] = dict(check=SIGNAL_CHECK, initializer=model, target=1.0)
    if len(blocks) >= 2:
        found = _stream(blocks, source, {**base, "n": len(blocks)}, calls)
    elif len(points) < 2:
        return CheckResult(
            verdict="inconclusive",
            message=(
                f"fewer than 2 weighted layers ran on {source}: nothing to compare, so the "
                "signal is not measured."
            ),
            n=len(points),
            **base,
        )
    else:
        n = {**base, "n": len(points)}
        found = _plain(points, source, n, saturating, calls, widths, forward_only)
    if forward_only and found.verdict != "inconclusive":
        details = {**found.details, "forward_only": True}
        return dataclasses.replace(found, message=found.message + FORWARD_ONLY, details=details)
    return found
