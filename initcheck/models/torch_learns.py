"""Whether a weight whose units start alike learns apart, read from its gradient in the
traced pass: a constant weight (zero-at-init) or one with identical units (a repeated
init) breaks its symmetry on the first step when the gradient differs across its units
(Goodfellow et al. 2016, §8.4: units with the same init and the same gradient stay
the same)."""

from __future__ import annotations

from typing import Any


def identical_rows(p: Any) -> list[Any] | None:
    """Groups of a ≥ 2-D weight's identical units (rows along its first axis: a repeated
    init, such as nearest-neighbour upsampling's), found through their sums; ``None``
    when every unit differs."""
    import torch

    if p.dim() < 2 or p.shape[0] < 2:
        return None
    rows = p.detach().reshape(p.shape[0], -1)
    _, inverse, counts = torch.unique(rows.sum(1), return_inverse=True, return_counts=True)
    groups = []
    for k in torch.nonzero(counts > 1).flatten().tolist():
        idx = torch.nonzero(inverse == k).flatten()
        same = idx[(rows[idx] == rows[idx[0]]).all(1)]
        if len(same) > 1:
            groups.append(same)
    return groups or None


def rows_differ(g: Any, groups: list[Any]) -> bool:
    """Whether the gradient sets each group of identical units apart (they then differ
    after the first step)."""
    rows = g.detach().double().reshape(g.shape[0], -1)
    scale = float(rows.abs().max())
    return scale > 0 and all(
        float((rows[idx] - rows[idx[0]]).abs().max()) > 1e-6 * scale for idx in groups
    )


def units_differ(g: Any) -> bool:
    """Whether a gradient differs along each axis a weight's units may lie on: across
    its first axis, and across and along its last (a constant weight's units then move
    apart on the first step)."""
    g = g.detach().double()
    scale = float(g.abs().max())
    if not scale > 0:
        return False
    first, last = g.reshape(g.shape[0], -1), g.reshape(-1, g.shape[-1])
    views = ((first, 0), (last, 0), (last, 1))
    return all(
        v.shape[axis] < 2 or float((v - v.narrow(axis, 0, 1)).abs().max()) > 1e-6 * scale
        for v, axis in views
    )
