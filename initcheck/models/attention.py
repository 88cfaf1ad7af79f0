"""How attention starts: the softmax over keys at init, measured on the traced batch.

An attention whose logits ``q·kᵀ/√d`` are spread far apart at init puts nearly all of each
query's weight on one arbitrary key: the softmax is saturated, its gradient vanishes, and
a norm before the block does not help (the logits scale with the product of the query and
key projections' scales). Each attention softmax of the pass (a ``softmax`` over the last
axis of a ≥ 3-D score tensor, or ``scaled_dot_product_attention``) gives its *normalized
entropy*: per query row, ``H(p)/ln n`` over its ``n`` unmasked keys (rows with one key
left out), averaged over the batch, heads and queries. Uniform attention is 1; one-hot is
0.

The check fails where an attention's normalized entropy is below :data:`ENTROPY_MIN`.
Calibration (Gaussian logits of standard deviation ``s`` over ``n`` keys, 2,000 rows):
``s`` = 1 gives 0.85–0.93 for ``n`` = 16–1,024, ``s`` = 2 gives 0.59–0.73, ``s`` = 4
gives 0.31–0.33, ``s`` = 6 gives 0.19–0.20. The bound 0.3 is the output check's logit
spread of 4 (:data:`~initcheck.models.output_scale.SPREAD_MAX`): the same saturation
read on the keys. Sound transformers at σ = 0.02 measure about 1.0, Xavier-initialized
projections on unit inputs about 0.8; every projection at std 1.0 about 0.1 (docs/audit.md).
A ratio measured on one batch, not a hypothesis test.

Framework-free: the adapter records ``(path, entropy)`` pairs in
:attr:`~initcheck.models.graph.Trace.attention`, from the probabilities it saw, or from
query and key arrays (:func:`probabilities`) where a fused attention op hides them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from initcheck.models.graph import Trace
from initcheck.models.output_scale import fold
from initcheck.results import CheckResult

ENTROPY_MIN = 0.3


def probabilities(
    q: np.ndarray,
    k: np.ndarray,
    *,
    scale: float | None = None,
    mask: Any = None,
    bias: Any = None,
    causal: bool = False,
) -> np.ndarray:
    """The softmax over keys of ``q·kᵀ·scale`` (default ``1/√head_dim``) for query and key
    arrays laid out ``(batch, length, heads, head_dim)`` (as fused attention ops take
    them), key heads repeated for grouped queries; ``mask`` (true = attend, broadcast to
    ``(batch, heads, queries, keys)``), ``bias`` added, ``causal`` masking keys after each
    query. Returns ``(batch, heads, queries, keys)``."""
    q = np.asarray(q, dtype=np.float64)
    k = np.asarray(k, dtype=np.float64)
    if k.shape[-2] != q.shape[-2]:  # grouped key heads
        k = np.repeat(k, q.shape[-2] // k.shape[-2], axis=-2)
    scores = np.einsum("btnh,bsnh->bnts", q, k) * (scale or 1.0 / math.sqrt(q.shape[-1]))
    if bias is not None:
        scores = scores + np.asarray(bias, dtype=np.float64)
    keep = np.ones(scores.shape, dtype=bool)
    if mask is not None:
        keep &= np.broadcast_to(np.asarray(mask, dtype=bool), scores.shape)
    if causal:
        t, n = scores.shape[-2:]
        keep &= ~np.triu(np.ones((t, n), dtype=bool), 1)
    scores = np.where(keep, scores, -np.inf)
    top = np.max(scores, axis=-1, keepdims=True)
    e = np.where(keep, np.exp(scores - np.where(np.isfinite(top), top, 0.0)), 0.0)
    return e / np.maximum(e.sum(-1, keepdims=True), 1e-300)


def normalized_entropy(p: np.ndarray) -> float | None:
    """Mean of ``H(p)/ln n`` over the rows (last axis) with ``n ≥ 2`` keys of nonzero
    probability; ``None`` where no row has two."""
    p = np.asarray(p, dtype=np.float64).reshape(-1, np.shape(p)[-1])
    keys = (p > 0).sum(-1)
    rows = keys >= 2
    if not rows.any():
        return None
    logs = np.log(np.where(p > 0, p, 1.0))
    h = -(p * logs).sum(-1)
    return float(np.mean(h[rows] / np.log(keys[rows])))


def of_scores(trace: Trace, path: str) -> bool:
    """Whether the signal at ``path`` is attention scores: a product of two traced
    signals (q·kᵀ), through scalings, masks and casts only (measured roles "pass")."""
    call = trace.get(path)
    while call is not None and call.role == "pass" and call.sources:
        call = trace.get(call.sources[0])
    return call is not None and call.role == "product"


def is_distribution(p: np.ndarray) -> bool:
    """Whether ``p`` holds probability distributions along its last axis (of at least 2
    entries, in an array of at least 3 dimensions: batch, queries, keys)."""
    p = np.asarray(p, dtype=np.float64)
    if p.ndim < 3 or p.shape[-1] < 2 or not np.isfinite(p).all() or (p < 0).any():
        return False
    return bool(np.abs(p.sum(-1) - 1.0).max() <= 1e-3)


def judge_attention(entries: Sequence[tuple[str, float]]) -> tuple[bool, str, dict] | None:
    """Whether every measured attention starts unsaturated, the message and the details;
    ``None`` where no attention was measured."""
    if not entries:
        return None
    worst_path, worst = min(entries, key=lambda e: e[1])
    low = [(p, h) for p, h in entries if not h >= ENTROPY_MIN]  # NaN counts as low
    details = {
        "entropy": [{"op": p, "normalized_entropy": h} for p, h in entries],
        "bound": ENTROPY_MIN,
        "worst": worst_path,
    }
    what = (
        f"attention at init ({len(entries)} softmax(es) over keys): normalized entropy "
        f"{worst:.3g} at its lowest ({worst_path}; 1 is uniform, 0 one-hot)"
    )
    if not low:
        return True, f"{what}; within the bound ≥ {ENTROPY_MIN:g}", details
    where = ", ".join(p for p, _ in low[:3]) + (f" and {len(low) - 3} more" if len(low) > 3 else "")
    return (
        False,
        (
            f"{what}: {len(low)} below the bound {ENTROPY_MIN:g} ({where}), a saturated "
            "softmax at init whose gradient vanishes (Zhai et al. 2023, attention entropy "
            "collapse): scale down the query and key projections"
        ),
        details,
    )


def with_attention(signal: CheckResult, entries: Sequence[tuple[str, float]]) -> CheckResult:
    """``signal`` with the attention at init judged in (see :func:`judge_attention`): a
    saturated attention fails it, a sound one adds its details."""
    return fold(signal, "attention", judge_attention(entries))
