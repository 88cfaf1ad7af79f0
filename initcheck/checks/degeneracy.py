"""Degenerate units: distinct, but not really independent.

Per kernel shape, on the first draw, with the kernel as a ``(d, units)`` matrix (one
column per output unit, ``d`` weights each), two tests at level ``a = alpha/(2·shapes)``
each, so the whole check's false-failure rate is ≤ alpha:

- **near-duplicate units**: the largest |cosine similarity| between two units among a
  seeded uniform sample of m = min(units, 256) units, each restricted to a seeded
  sample of d' = min(d, 4096) of its weights (the same coordinates for all). For
  independent symmetric units, ``(cos + 1)/2`` follows Beta((d'-1)/2, (d'-1)/2) (exact
  for Gaussian units, close for any iid family at moderate d'); the limit is its
  ``1 - a/(2P)`` quantile over the P = m(m-1)/2 pairs compared (Bonferroni), so a
  correct initializer fails with probability ≤ a. Cost O(m²·d'), whatever the kernel
  size. Power: a near-duplicate pair is compared with probability m(m-1)/(U(U-1)) among
  U units, so with U ≤ 256 every pair is; with more units a kernel with k near-duplicate
  pairs is detected with probability ≥ 1 - (1 - m(m-1)/(U(U-1)))^k (e.g. U = 4096:
  ≥ 0.99 when k ≥ 1,200 of its 8.4 million pairs, i.e. when ≥ 3% of units have a near
  twin). Exact and round-off duplicates are found among *all* units by the symmetry
  check. Needs d' ≥ 8 to say anything (below, this test is skipped for that shape).
- **one-signed units** (all units, O(values)): the number of positive weights of a unit
  is Binomial(d, 1/2) for a zero-centred symmetric family; a unit whose weights
  (nearly) all share one sign fails the two-sided exact binomial test (as
  ``scipy.stats.binomtest``) at a/units (Bonferroni). An all-one-sign unit
  (p = 2^(1-d)) is detectable from d ≈ 25 at the defaults.
- **effective rank** (Roy & Vetterli, 2007: exp of the entropy of the normalized singular
  values) of the (d, m) matrix of the m sampled units against that of a Gaussian matrix
  of the same shape; fails below ``RANK_FRACTION`` of it (a rank-1 or low-rank kernel:
  a rank-r kernel's sampled units have rank ≤ r too). Exact for ≤ 256 units.
  Orthogonal kernels score above Gaussian ones. Deterministic kernels with many zero
  units (delta-orthogonal convs with more outputs than inputs) can legitimately score
  low: use ``checks=`` to leave this check out for them.

Structured kernels and groups: every test uses the units' *effective dimension*, their
common support (the weights nonzero in some sampled unit): a delta-orthogonal kernel
(Xiao et al., 2018) lives in its centre taps, so its 32 units of (3, 3, 16, ·) are
compared as 16-dimensional vectors, not 144-dimensional ones. In a grouped convolution
(``KernelLayout(..., groups=g)``) only units of the same group are compared (pairs and
Bonferroni count alike), and the effective rank is each group's against a Gaussian
block of the group's size (the worst group reported).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats

from initcheck.checkdef import Check
from initcheck.checks._common import sampling_failure
from initcheck.fans import KernelLayout
from initcheck.report.figures import shape_rows
from initcheck.report.inputs import finite_floats
from initcheck.report.svg import SvgPlot, side_by_side
from initcheck.results import CheckResult
from initcheck.sampling import UNIT_SAMPLE, Samples, ShapeDraws
from initcheck.settings import Settings

RANK_FRACTION = 0.5
MIN_DIM_COSINE = 8
MAX_DIM_COSINE = 4096  # weights per unit compared (a seeded sample beyond this)


def effective_rank(singular_values: np.ndarray) -> float:
    """exp(entropy of the singular values normalized to sum 1) (Roy & Vetterli, 2007)."""
    s = np.asarray(singular_values, dtype=np.float64)
    total = s.sum()
    if total == 0:
        return 0.0
    p = s / total
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


@functools.lru_cache(maxsize=64)
def gaussian_effective_rank(rows: int, cols: int, seed: int) -> float:
    """Effective rank of a standard Gaussian matrix of the given shape (one seeded draw;
    it concentrates tightly around its mean for all but tiny shapes)."""
    g = np.random.default_rng(seed).standard_normal((rows, cols))
    if rows > 4 * cols:  # via the Gram matrix, as ShapeDraws.singular_values
        return effective_rank(np.sqrt(np.clip(np.linalg.eigvalsh(g.T @ g), 0, None)))
    return effective_rank(np.linalg.svd(g, compute_uv=False))


def sign_pvalues(positives: np.ndarray, nonzero: np.ndarray) -> np.ndarray:
    """Two-sided exact binomial p-values of ``positives`` out of ``nonzero`` at p = 1/2
    (vectorized ``scipy.stats.binomtest``: for p = 1/2 the two tails are symmetric)."""
    k = np.minimum(positives, nonzero - positives)
    p = 2 * stats.binom.cdf(k, nonzero, 0.5)
    return np.where(nonzero > 0, np.minimum(p, 1.0), 1.0)


def _max_cosine(u: np.ndarray, same: np.ndarray) -> tuple[float, tuple[int, int]]:
    """The largest |cosine| between two columns of ``u`` where ``same`` is true."""
    norms = np.linalg.norm(u, axis=0)
    norms[norms == 0] = np.inf
    cos = (u.T @ u) / np.outer(norms, norms)
    np.fill_diagonal(cos, 0.0)
    cos[~same] = 0.0
    i, j = np.unravel_index(int(np.argmax(np.abs(cos))), cos.shape)
    return float(abs(cos[i, j])), (int(i), int(j))


def _same_group(groups: np.ndarray | None, m: int) -> np.ndarray:
    """``(m, m)`` mask of the pairs of sampled units in the same group."""
    if groups is None:
        return np.ones((m, m), dtype=bool)
    return groups[:, None] == groups[None, :]


def _inspect(s: ShapeDraws, layout: KernelLayout, alpha: float, seed: int):
    u = s.units(layout)
    shape = s.shape
    d, units = u.shape
    problems: list[str] = []
    info: dict = {"d": d, "units": units}
    full, idx = s.unit_sample(layout, UNIT_SAMPLE, seed)
    m = full.shape[1]
    # the units' common support: weights nonzero in some sampled unit (a delta-orthogonal
    # or Dirac kernel lives in its centre taps; a dense random kernel keeps every row)
    support = np.flatnonzero(np.any(full != 0, axis=1))
    sample = full[support] if 0 < support.size < d else full
    d_eff = sample.shape[0]
    n_groups = layout.unit_groups(shape)
    groups = layout.unit_group_of(shape, idx) if n_groups > 1 else None
    same = _same_group(groups, m)
    info.update(units_compared=m, effective_dimension=d_eff, unit_groups=n_groups)
    pairs = int((np.count_nonzero(same) - m) // 2)
    if pairs >= 1 and d_eff >= MIN_DIM_COSINE:
        rows = sample
        if d_eff > MAX_DIM_COSINE:
            keep = np.random.default_rng([seed, d]).choice(d_eff, MAX_DIM_COSINE, replace=False)
            rows = sample[np.sort(keep)]
        dd = rows.shape[0]
        half = (dd - 1) / 2
        limit = 2 * float(stats.beta.isf(alpha / (2 * pairs), half, half)) - 1
        worst, (i, j) = _max_cosine(rows, same)
        i, j = int(idx[i]), int(idx[j])
        info.update(max_cosine=worst, cosine_limit=limit, weights_compared=dd)
        if worst > limit:
            problems.append(
                f"near-duplicate units {i} and {j} on shape {shape}: |cos| = {worst:.4f} > "
                f"{limit:.4f}, the most two independent units of {dd} weights reach at alpha "
                f"{alpha:.2g}"
            )
    if d >= 2:
        positives = np.count_nonzero(u > 0, axis=0)
        nonzero = np.count_nonzero(u, axis=0)
        pvalues = sign_pvalues(positives, nonzero)
        worst_unit = int(np.argmin(pvalues))
        info["min_sign_pvalue"] = float(pvalues[worst_unit])
        if pvalues[worst_unit] < alpha / units:
            k, nz = int(positives[worst_unit]), int(nonzero[worst_unit])
            problems.append(
                f"one-signed unit {worst_unit} on shape {shape}: {k} of {nz} weights positive "
                f"(binomial p = {pvalues[worst_unit]:.2g} < alpha/units = "
                f"{alpha / units:.2g}); its weights are not centred"
            )
    if groups is not None:  # each group's units against a Gaussian block of that size
        ratios = []
        for g in np.unique(groups):
            block = sample[:, groups == g]
            if min(block.shape) >= 2:
                r = effective_rank(np.linalg.svd(block, compute_uv=False))
                ratios.append((r, gaussian_effective_rank(*block.shape, seed)))
        if ratios:
            rank, gauss = min(ratios, key=lambda rg: rg[0] / rg[1])
            info.update(effective_rank=rank, gaussian_effective_rank=gauss)
            if rank < RANK_FRACTION * gauss:
                problems.append(
                    f"low effective rank on shape {shape}: {rank:.3g} vs {gauss:.3g} for a "
                    f"random Gaussian group of units (limit {RANK_FRACTION:g}×)"
                )
    elif min(d_eff, m) >= 2:
        if d_eff < d:
            rank = effective_rank(np.linalg.svd(sample, compute_uv=False))
        else:
            rank = effective_rank(s.singular_values(layout, UNIT_SAMPLE, seed))
        gauss = gaussian_effective_rank(d_eff, m, seed)
        info.update(effective_rank=rank, gaussian_effective_rank=gauss)
        if rank < RANK_FRACTION * gauss:
            problems.append(
                f"low effective rank on shape {shape}: {rank:.3g} vs {gauss:.3g} for a random "
                f"Gaussian kernel of the same shape (limit {RANK_FRACTION:g}×)"
            )
    return problems, info


def check_degeneracy(samples: Samples, settings: Settings) -> CheckResult:
    """Near-duplicate units, one-signed units and low effective rank, per shape."""
    failed = sampling_failure("degeneracy", samples)
    if failed:
        return failed
    problems: list[str] = []
    per_shape = {}
    drawn = [s for s in samples.shapes if s.draws]
    alpha = settings.alpha / (2 * max(len(drawn), 1))  # Bonferroni: 2 tests per shape
    for s in drawn:
        found, info = _inspect(s, samples.layout, alpha, settings.seed)
        problems += found
        per_shape[str(s.shape)] = info
    ratios = [
        v["effective_rank"] / v["gaussian_effective_rank"]
        for v in per_shape.values()
        if v.get("gaussian_effective_rank")
    ]
    passed = not problems
    if passed:
        msg = (
            f"no degenerate units on {len(per_shape)} shapes: no near-duplicate or one-signed "
            "units, effective rank comparable to a random kernel."
        )
    else:
        msg = "degenerate units: " + "; ".join(problems[:3])
        if len(problems) > 3:
            msg += f"; and {len(problems) - 3} more"
    return CheckResult(
        check="degeneracy",
        initializer=samples.initializer,
        passed=passed,
        message=msg,
        statistic=min(ratios) if ratios else None,
        target=RANK_FRACTION,
        alpha=settings.alpha,
        n=samples.n,
        shapes=samples.shape_tuple,
        details={
            "per_shape": per_shape,
            "rank_fraction": RANK_FRACTION,
            # two statistical decisions per shape (cosine, sign), Bonferroni over all
            "alpha_per_decision": alpha,
        },
    )


def degeneracy_svg(details: Mapping[str, Any], rank_fraction: float) -> str | None:
    """Per shape: the effective rank as a fraction of a random kernel's, against the
    least allowed; and the largest unit cosine as a fraction of its limit, against 1."""
    rows = shape_rows(details.get("per_shape") or {})
    if not rows:
        return None
    xs = [float(i) for i in range(len(rows))]

    def ratio(r: Mapping[str, Any], a: str, b: str) -> float:
        num, den = finite_floats([r.get(a)]), finite_floats([r.get(b)])
        return num[0] / den[0] if num and den and den[0] > 0 else math.nan

    panels = []
    for ylabel, (a, b), limit in (
        ("effective rank ÷ random kernel's", ("effective_rank", "gaussian_effective_rank"),
         rank_fraction),
        ("max |cosine| ÷ its limit", ("max_cosine", "cosine_limit"), 1.0),
    ):  # fmt: skip
        ys = [ratio(r, a, b) for _, r in rows]
        if not any(math.isfinite(y) for y in ys):
            continue
        plot = SvgPlot(width=340, ylabel=ylabel)
        plot.line([-0.5, len(rows) - 0.5], [limit, limit], color="#d62728", dash="4,3")
        plot.points(xs, ys, color="#1f77b4")
        plot.xticks = [(x, shape) for x, (shape, _) in zip(xs, rows, strict=True)]
        plot.xlim = (-0.5, len(rows) - 0.5)
        panels.append(plot)
    return side_by_side(*panels) if panels else None


def _figures(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    svg = degeneracy_svg(result.get("details") or {}, RANK_FRACTION)
    caption = (
        "Per shape: effective rank as a fraction of a random kernel's (fails below the "
        "dashed line) and the largest cosine between units as a fraction of its limit "
        "(fails above 1)"
    )
    return [(caption, svg)] if svg else []


CHECK = Check(
    name="degeneracy",
    run=lambda ctx: check_degeneracy(ctx.samples, ctx.settings),
    summary="no dead, sign-biased or low-rank units",
    unit="effective rank / a random kernel's",
    needs=frozenset({"draws"}),
    order=20,
    figure=_figures,
    by_chance=True,
)
