"""Attention probabilities of a PyTorch op, for the attention-at-init check
(:mod:`initcheck.models.attention`): a softmax over keys as it ran, or
``scaled_dot_product_attention`` recomputed from its query and key (the batch's first
sample: every head and query of it)."""

from __future__ import annotations

from typing import Any

#: the keyword names of ``scaled_dot_product_attention``'s arguments after q, k, v
_SDPA = ("attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")


def attention_probs(name: str, args: Any, kwargs: dict, out: Any) -> Any:
    """The attention probabilities of a softmax over the keys (the last axis of a ≥ 3-D
    score tensor) or of ``scaled_dot_product_attention`` (recomputed from q and k), or
    ``None`` for any other op."""
    import torch

    if name == "softmax" and out.dim() >= 3:
        dim = kwargs.get("dim", args[1] if len(args) > 1 else None)
        return out if dim in (-1, out.dim() - 1) else None
    if name != "scaled_dot_product_attention" or len(args) < 2:
        return None
    opts = {**dict(zip(_SDPA, args[3:], strict=False)), **kwargs}
    q, k = args[0], args[1]
    mask = opts.get("attn_mask")
    if q.dim() == 4 and k.dim() == 4 and q.shape[0] > 1:  # the first sample's heads
        q, k = q[:1], k[:1]
        if isinstance(mask, torch.Tensor) and mask.dim() == 4 and mask.shape[0] > 1:
            mask = mask[:1]
    if k.dim() >= 3 and q.dim() >= 3 and k.shape[-3] != q.shape[-3]:  # grouped key heads
        k = k.repeat_interleave(q.shape[-3] // k.shape[-3], dim=-3)
    scores = (q @ k.transpose(-2, -1)) * (opts.get("scale") or q.shape[-1] ** -0.5)
    if isinstance(mask, torch.Tensor):
        scores = (
            scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
        )
    if opts.get("is_causal"):
        t, s = scores.shape[-2:]
        upper = torch.ones(t, s, dtype=torch.bool, device=scores.device).triu(1)
        scores = scores.masked_fill(upper, float("-inf"))
    return torch.softmax(scores.float(), -1)


#: rows (queries of a head of a sample) the mean entropy is taken over, evenly strided:
#: its standard error is then at most 0.5/√4096 ≈ 0.008 (an entropy ratio lies in [0, 1])
ENTROPY_ROWS = 2**12


def normalized_entropy(p: Any) -> float | None:
    """Mean of ``H(p)/ln n`` over rows with ``n ≥ 2`` unmasked keys (``p > 0``), from at
    most :data:`ENTROPY_ROWS` rows evenly strided over samples, heads and queries."""
    import torch

    p = p.detach().reshape(-1, p.shape[-1])
    p = p[:: max(1, -(-p.shape[0] // ENTROPY_ROWS))].double()
    keys = (p > 0).sum(-1)
    rows = keys >= 2
    if not bool(rows.any()):
        return None
    h = -torch.where(p > 0, p * p.clamp_min(1e-300).log(), torch.zeros_like(p)).sum(-1)
    return float((h[rows] / keys[rows].double().log()).mean())
