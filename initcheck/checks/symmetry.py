"""Symmetry breaking: hidden units must be distinguishable.

Per kernel shape, on the first draw (this check is structural, not statistical):

1. not constant: the values are not all equal;
2. distinct units: no two output units (columns of the ``(fan_in, units)`` matrix) are
   equal up to a relative distance of ``UNIT_RTOL`` (float round-off). Two continuous
   random units of dimension d come that close with probability ~UNIT_RTOL**d, so the
   weight comparison runs for fan_in ≥ 3 (≤ 1e-18 a pair); below that, float32 values can
   collide by chance and the activation/gradient comparison (step 4) decides. All units
   are compared, in O(values + units·log units): units are sorted by their projection on
   a random unit vector, and only units whose projections differ by at most the
   tolerance (a necessary condition, by Cauchy-Schwarz) are compared in full, so every
   such pair is found (exact and round-off duplicates alike). Two or more all-zero units
   fail as "zero units", named. In a grouped convolution (``KernelLayout(...,
   groups=g)``) units are compared only within their group: units of different groups
   read different inputs, so a per-group identity (``torch.nn.init.dirac_(groups=g)``)
   is not symmetric;
3. numerical rank: recorded (of a seeded sample of ≤ 256 units); a rank-1 kernel (every
   unit a multiple of one vector) fails. The tolerance follows the dtype the initializer
   *returned* (``max(d, units)·eps`` relative to the largest singular value), so a
   float32 rank-1 kernel, full rank at float64 precision through its rounding, fails;
4. activations and gradients: a two-layer ReLU network, both layers from the initializer
   (the second a dense ``(m, m)`` kernel, m = min(units, 256), over a seeded sample of m
   units), on a random input batch: hidden activations and the gradients of the first
   layer's units must be pairwise distinct (within a group, for grouped layouts). This
   is the failure "loss still drops but all hidden units stay identical". The second
   layer is drawn only when the shapes include a dense (2-D) kernel: for conv-only
   shapes (an initializer that accepts conv kernels only) steps 1-3 decide on the conv
   kernels given.

References:
    - Goodfellow, Bengio & Courville, *Deep Learning*, §8.4 ("break symmetry").
    - Zhao et al., 2022, "ZerO Initialization": deterministic inits can break symmetry,
      so the check asks for distinguishable units, not for randomness.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from initcheck.checkdef import Check
from initcheck.checks._common import sampling_failure
from initcheck.report.figures import message_svg
from initcheck.report.inputs import finite_float
from initcheck.report.png import diverging_color, png_rgb
from initcheck.report.svg import esc
from initcheck.results import CheckResult
from initcheck.sampling import HEAD_UNITS, UNIT_SAMPLE, Samples
from initcheck.settings import Settings

UNIT_RTOL = 1e-6
MIN_DIM = 3  # compare weight vectors only from this fan_in on (see step 2)
BATCH = 64


def _column_norms(cols: np.ndarray) -> np.ndarray:
    """Euclidean norms of the columns in float64, a block of rows at a time."""
    sq = np.zeros(cols.shape[1])
    step = max(1, (1 << 20) // max(cols.shape[1], 1))
    for r in range(0, cols.shape[0], step):
        block = np.asarray(cols[r : r + step], dtype=np.float64)
        sq += np.einsum("ij,ij->j", block, block)
    return np.sqrt(sq)


def _duplicate_pair(cols: np.ndarray, rtol: float = UNIT_RTOL) -> tuple[int, int] | None:
    """A pair (i, j) of columns equal within ``rtol`` (relative: ‖a-b‖ ≤ rtol·max(‖a‖,‖b‖)),
    else None. Exhaustive, without comparing all pairs: ``|r·(a-b)| ≤ ‖a-b‖`` for a unit
    vector r, so only columns whose projections on r are that close can be a pair."""
    m = cols.shape[1]
    if m < 2:
        return None
    r = np.asarray(np.random.default_rng(m).standard_normal(cols.shape[0]))
    r /= float(np.linalg.norm(r)) or 1.0
    proj = np.zeros(m)
    step = max(1, (1 << 20) // m)
    for start in range(0, cols.shape[0], step):
        proj += r[start : start + step] @ np.asarray(cols[start : start + step], np.float64)
    norms = _column_norms(cols)
    order = np.argsort(proj, kind="stable")
    p, nrm = proj[order], norms[order]
    slack = rtol * nrm.max() * (1 + 1e-9) + 1e-300
    for k in range(1, m):
        near = np.flatnonzero(p[k:] - p[:-k] <= slack)
        if near.size == 0:
            return None  # sorted: wider offsets are farther apart
        for pos in near[:4096]:
            i, j = int(order[pos]), int(order[pos + k])
            a = np.asarray(cols[:, i], np.float64)
            b = np.asarray(cols[:, j], np.float64)
            dist = float(np.linalg.norm(a - b))
            if dist <= rtol * max(norms[i], norms[j]) or dist == 0:
                return min(i, j), max(i, j)
    return None


def _duplicate_in_groups(
    cols: np.ndarray, groups: np.ndarray | None, rtol: float = UNIT_RTOL
) -> tuple[int, int] | None:
    """:func:`_duplicate_pair` among columns of the same group only (``groups[i]`` the
    group of column i; ``None``: one group). Units of different groups of a grouped
    convolution read different inputs, so equal weights there are different functions."""
    if groups is None or np.unique(groups).size < 2:
        return _duplicate_pair(cols, rtol)
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        pair = _duplicate_pair(cols[:, members], rtol)
        if pair:
            return int(members[pair[0]]), int(members[pair[1]])
    return None


def _zero_units_text(norms: np.ndarray, shape: tuple[int, ...]) -> str | None:
    """The failure for ≥ 2 all-zero units (they are identical: no gradient separates them)."""
    zero = np.flatnonzero(norms == 0)
    if zero.size < 2:
        return None
    listed = ", ".join(str(int(i)) for i in zero[:8]) + (" ..." if zero.size > 8 else "")
    return (
        f"identical units: {zero.size} of {norms.size} units of shape {shape} are zero units "
        f"(all weights zero: units {listed}), so they compute the same function"
    )


def _forward_backward(w1: np.ndarray, w2: np.ndarray, rng: np.random.Generator):
    x = rng.standard_normal((BATCH, w1.shape[0]))
    y = rng.standard_normal((BATCH, w2.shape[1]))
    pre = x @ w1
    h = np.maximum(pre, 0)
    resid = (h @ w2 - y) / BATCH
    grad_w1 = x.T @ ((resid @ w2.T) * (pre > 0))
    return h, grad_w1


def _rank_one(u: np.ndarray, eps: float) -> bool:
    """Whether every column of ``u`` is a multiple of its largest one, to within
    ``max(u.shape)·eps`` of ``‖u‖`` (all units, a block of rows at a time)."""
    norms = _column_norms(u)
    v = np.asarray(u[:, int(np.argmax(norms))], np.float64)
    vv = float(v @ v)
    if vv == 0:
        return True
    coef = np.zeros(u.shape[1])
    step = max(1, (1 << 20) // u.shape[1])
    for r in range(0, u.shape[0], step):
        coef += v[r : r + step] @ np.asarray(u[r : r + step], np.float64)
    coef /= vv
    resid = 0.0
    for r in range(0, u.shape[0], step):
        block = np.asarray(u[r : r + step], np.float64) - np.outer(v[r : r + step], coef)
        resid += float(np.einsum("ij,ij->", block, block))
    return math.sqrt(resid) <= max(u.shape) * eps * math.sqrt(float(norms @ norms))


def _inspect(samples: Samples, index: int, seed: int) -> tuple[str | None, dict]:
    s = samples.shapes[index]
    w = s.draws[0]
    info: dict = {}
    first = s.summaries[0]
    if first.hi == first.lo:
        info["constant"] = True
        return (
            f"constant kernel: all {w.size} values equal {w.flat[0]:.6g} on shape {s.shape}",
            info,
        )
    u = s.units(samples.layout)
    info["units"] = int(u.shape[1])
    sv = s.singular_values(samples.layout, seed=seed)
    sampled = min(UNIT_SAMPLE, u.shape[1])
    # numpy.linalg.matrix_rank's tolerance, at the precision of the dtype returned
    tol = max(u.shape) * s.eps
    rank = int(np.sum(sv > sv.max() * tol)) if sv.size else 0
    info["rank"] = rank
    info["full_rank"] = min(u.shape[0], sampled)
    info["rank_of_units_sampled"] = sampled
    info["dtype_eps"] = s.eps
    zero = _zero_units_text(_column_norms(u), s.shape)
    if zero:
        return zero, info
    n_groups = samples.layout.unit_groups(s.shape)
    info["unit_groups"] = n_groups
    groups = None
    if n_groups > 1:
        groups = samples.layout.unit_group_of(s.shape, np.arange(u.shape[1]))
    pair = _duplicate_in_groups(u, groups) if u.shape[0] >= MIN_DIM else None
    if pair:
        info["identical"] = [int(pair[0]), int(pair[1])]
        return (
            f"identical units: units {pair[0]} and {pair[1]} of shape {s.shape} have the same "
            f"weights, so they compute the same function and receive the same updates"
        ), info
    if rank == 1 and min(u.shape) > 1 and _rank_one(u, s.eps):
        return (
            f"rank-1 kernel on shape {s.shape}: every unit is a multiple of one weight vector "
            f"(numerical rank 1 of {min(u.shape)})"
        ), info
    units = min(u.shape[1], HEAD_UNITS)
    head = samples.heads.get(samples.layout.dense_shape(units, units))
    if head is None or units < 2:
        return None, info
    w2 = samples.layout.dense_matrix(head)
    u_sample, idx = s.unit_sample(samples.layout, HEAD_UNITS, seed)
    h, g = _forward_backward(u_sample, w2, np.random.default_rng(seed))
    sampled_groups = None if groups is None else groups[idx]
    pair = _duplicate_in_groups(h, sampled_groups)
    if pair:
        pair = (int(idx[pair[0]]), int(idx[pair[1]]))
        return (
            f"identical activations: hidden units {pair[0]} and {pair[1]} of shape {s.shape} "
            f"output the same values on a random batch of {BATCH} inputs"
        ), info
    pair = _duplicate_in_groups(g, sampled_groups, UNIT_RTOL if u.shape[0] >= MIN_DIM else 1e-12)
    if pair:
        pair = (int(idx[pair[0]]), int(idx[pair[1]]))
        return (
            f"identical gradients: hidden units {pair[0]} and {pair[1]} of shape {s.shape} "
            f"receive the same gradient in a 2-layer ReLU network built with this initializer,"
            f" so training cannot separate them"
        ), info
    return None, info


def _similarity(samples: Samples, max_units: int = 24) -> dict | None:
    """Cosine similarity of the first units of the largest shape, for the report."""
    drawn = [s for s in samples.shapes if s.draws]
    if not drawn:
        return None
    s = max(drawn, key=lambda s: s.n)
    u = np.asarray(samples.layout.units_matrix(s.draws[0])[:, :max_units], np.float64)
    norms = np.linalg.norm(u, axis=0)
    norms[norms == 0] = 1.0
    cos = (u.T @ u) / np.outer(norms, norms)
    return {"shape": list(s.shape), "matrix": np.round(cos, 3).tolist()}


def check_symmetry(samples: Samples, settings: Settings) -> CheckResult:
    """Are the hidden units distinguishable on every sampled shape?"""
    failed = sampling_failure("symmetry", samples)
    if failed:
        return failed
    problems = []
    per_shape = {}
    for i, s in enumerate(samples.shapes):
        problem, info = _inspect(samples, i, settings.seed)
        per_shape[str(s.shape)] = {**info, "problem": problem}
        if problem:
            problems.append(problem)
    passed = not problems
    if passed:
        msg = (
            f"units are distinguishable on all {len(samples.shapes)} shapes: not constant, "
            "pairwise distinct weights, activations and gradients."
        )
    else:
        msg = "symmetry not broken: " + "; ".join(problems[:3])
        if len(problems) > 3:
            msg += f"; and {len(problems) - 3} more shape(s)"
    similarity = _similarity(samples)
    # numerical rank as a fraction of full rank (1 = full), the worst shape's
    ranks = [v["rank"] / v["full_rank"] for v in per_shape.values() if v.get("full_rank")]
    return CheckResult(
        check="symmetry",
        initializer=samples.initializer,
        passed=passed,
        message=msg,
        statistic=float(min(ranks)) if ranks else 0.0,
        n=samples.n,
        shapes=samples.shape_tuple,
        details={"per_shape": per_shape, "unit_rtol": UNIT_RTOL, "similarity": similarity},
    )


def similarity_svg(details: Mapping[str, Any]) -> str | None:
    """Cosine-similarity heat map of units (a tiny inline PNG, pixelated) with a scale."""
    sim = details.get("similarity")
    if not isinstance(sim, Mapping):
        return None
    matrix = sim.get("matrix")
    if not isinstance(matrix, Sequence) or len(matrix) < 2:
        return None
    values = []
    for r in matrix:
        if not isinstance(r, Sequence) or len(r) != len(matrix[0]) or not r:
            return None
        values.append([finite_float(v) for v in r])
    shape = sim.get("shape")
    title = f"units of shape {tuple(shape)}" if isinstance(shape, Sequence) else "units"
    # a unit whose self-similarity is not 1 is a zero vector: its cosines are undefined
    zero = [v is None or abs(v) < 0.5 for v in (values[i][i] for i in range(len(values)))]
    if all(zero):
        return message_svg(
            title,
            [
                f"All {len(values)} units' weight vectors are zero:",
                "every pairwise cosine similarity is undefined (0 / 0),",
                "so there is no heat map to draw. The units are identical:",
                "training can never tell them apart.",
            ],
        )
    finite = [v for row in values for v in row if v is not None]
    notes = []
    if any(zero):
        notes.append(f"{sum(zero)} of {len(zero)} units are zero vectors (grey: undefined)")
        values = [
            [None if zero[i] or (j < len(zero) and zero[j]) else v for j, v in enumerate(row)]
            for i, row in enumerate(values)
        ]
    elif finite and min(finite) > 0.999:
        notes.append("all units identical: every pairwise cosine is +1")
    rows = [[diverging_color(v) for v in row] for row in values]
    png = base64.b64encode(png_rgb(rows)).decode()
    n_rows, n_cols = len(rows), len(rows[0])
    size = 200
    cell = size / max(n_rows, n_cols)
    w, h = cell * n_cols, cell * n_rows
    height = 250 + 16 * len(notes)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="330" height="{height}" '
        f'viewBox="0 0 330 {height}" font-family="sans-serif" font-size="11" role="img">',
        f'<rect width="330" height="{height}" fill="#fff"/>',
        f'<text x="{20 + w / 2:.1f}" y="15" text-anchor="middle" font-weight="bold">'
        f"{esc(title)}</text>",
        f'<image x="20" y="26" width="{w:.1f}" height="{h:.1f}" preserveAspectRatio="none" '
        f'style="image-rendering:pixelated" href="data:image/png;base64,{png}"/>',
        f'<rect x="20" y="26" width="{w:.1f}" height="{h:.1f}" fill="none" stroke="#333"/>',
        f'<text x="{20 + w / 2:.1f}" y="{26 + h + 16:.1f}" text-anchor="middle">'
        f"{n_rows} × {n_cols} units</text>",
    ]
    for i, note in enumerate(notes):
        out.append(f'<text x="20" y="{26 + h + 32 + 16 * i:.1f}">{esc(note)}</text>')
    x = 20 + w + 24
    for i in range(21):
        v = 1 - i / 10
        out.append(
            f'<rect x="{x:.1f}" y="{26 + i * 9.5:.1f}" width="14" height="10" '
            f'fill="rgb{diverging_color(v)}"/>'
        )
    for v, label in ((1, "+1"), (0, "0"), (-1, "−1")):
        y = 26 + (1 - v) * 95 + 9
        out.append(f'<text x="{x + 18:.1f}" y="{y:.1f}">{label}</text>')
    out.append(
        f'<text transform="translate({x + 48:.1f},{26 + 100}) rotate(-90)" '
        f'text-anchor="middle">cosine similarity</text>'
    )
    out.append("</svg>")
    return "".join(out)


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    svg = similarity_svg(result.get("details") or {})
    caption = (
        "Cosine similarity between units' weight vectors (identical units show "
        "as a uniform +1 block)"
    )
    return [(caption, svg)] if svg else []


CHECK = Check(
    name="symmetry",
    run=lambda ctx: check_symmetry(ctx.samples, ctx.settings),
    summary="hidden units distinguishable: weights, rank, activations, gradients",
    unit="min rank / full rank",
    needs=frozenset({"heads"}),
    order=10,
    figure=_figures,
)
