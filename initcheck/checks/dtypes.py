"""Reduced precision: float16, bfloat16, float32, float64.

For each dtype, ``draws`` draws of one shape are requested in that dtype, and:

- the dtype is honoured (an initializer that takes ``dtype`` must return it);
- values are finite (checked when drawing);
- enough distinct values: among the first 10,000 values, more than 5,000 (float32,
  float64), 3,000 (float16) or 1,000 (bfloat16) distinct ones — the thresholds of
  PyTorch's reduced-precision ``trunc_normal_`` tests (``test/nn/test_init.py``), for a
  continuous family;
- no pile-up at the bounds: the count at the most extreme value on each side is compared
  with the count at its neighbouring representable value by a one-sided binomial test
  (``scipy.stats.binomtest``, alpha/2 per side): a smooth density puts no more mass on
  the extreme value than on its neighbour; a clamp (PyTorch's bf16 ``trunc_normal_`` put
  391 of 10⁵ values at −2) puts many times more;
- the statistics hold at that precision: with a variance target, the variance ratio's
  interval must not lie outside the band (as in the variance check; with the ``draws``
  drawn here it detects errors of about 10% in std).

False-failure rate ≤ alpha per decision for a continuous correct initializer.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import stats as sps

from initcheck import stats
from initcheck.checkdef import Check
from initcheck.errors import InitializerError
from initcheck.fans import KernelLayout
from initcheck.initializers import Initializer
from initcheck.report.format import fmt, fmt_int
from initcheck.results import CheckResult
from initcheck.sampling import draw_seed
from initcheck.settings import Settings
from initcheck.targets import VarianceTarget

DTYPES = ("float16", "bfloat16", "float32", "float64")
DISTINCT_MIN = {"float64": 5000, "float32": 5000, "float16": 3000, "bfloat16": 1000}
PROBE = 10_000


def _pile_up(values: np.ndarray, side: int, alpha: float) -> tuple[float, int, int]:
    """p-value that the extreme value on ``side`` (+1 max, -1 min) holds more values than
    its neighbour, with the two counts."""
    uniq, counts = np.unique(values, return_counts=True)
    if uniq.size < 3:
        return 1.0, int(counts[-1 if side > 0 else 0]), 0
    ext, nb = (counts[-1], counts[-2]) if side > 0 else (counts[0], counts[1])
    p = sps.binomtest(int(ext), int(ext + nb), 0.5, alternative="greater").pvalue
    return float(p), int(ext), int(nb)


def _one_dtype(
    initializer: Initializer,
    shape: tuple[int, ...],
    dtype: str,
    draws: int,
    target_std: float | None,
    settings: Settings,
) -> tuple[list[str], dict]:
    arrays = [
        initializer.draw_native(shape, draw_seed(settings.seed, 2**22, i), dtype)
        for i in range(draws)
    ]
    problems: list[str] = []
    got = str(arrays[0].dtype)
    info: dict = {"returned": got}
    if got != dtype:
        problems.append(f"{dtype} requested, {got} returned")
    values = np.concatenate([a.ravel() for a in arrays])
    probe = values[:PROBE]
    distinct = int(np.unique(probe).size)
    info["distinct"] = distinct
    need = min(DISTINCT_MIN[dtype], probe.size // 2)
    if distinct <= need:
        problems.append(
            f"only {distinct} distinct values among {probe.size} in {got} (need > {need})"
        )
    v64 = values.astype(np.float64)
    for side, name in ((1, "upper"), (-1, "lower")):
        p, ext, nb = _pile_up(v64, side, settings.alpha)
        info[f"pile_up_{name}"] = {"pvalue": p, "extreme": ext, "neighbour": nb}
        if p < settings.alpha / 2:
            bound = v64.max() if side > 0 else v64.min()
            problems.append(
                f"pile-up at the {name} bound {bound:.4g}: {ext} values there vs {nb} at the "
                f"next representable value (binomial p = {p:.2g})"
            )
    if target_std is not None:
        est = stats.estimate_variance(v64 / target_std, settings.alpha)
        band = ((1 + settings.std_tolerance) ** -2, (1 + settings.std_tolerance) ** 2)
        info["variance_ratio"] = est.statistic
        if est.high < band[0] or est.low > band[1]:
            problems.append(
                f"Var(W) = {est.statistic:.4f} × target (CI [{est.low:.4f}, {est.high:.4f}]) "
                f"in {got}, outside ×{band[1]:.4g}"
            )
    return problems, info


def check_dtypes(
    initializer: Initializer,
    shape: tuple[int, ...],
    settings: Settings,
    *,
    layout: KernelLayout | None = None,
    target: VarianceTarget | None = None,
    dtypes: tuple[str, ...] = DTYPES,
    draws: int | None = None,
) -> CheckResult:
    """Does the initializer honour each dtype, with finite, distinct, unclamped values?"""
    shape = tuple(shape)
    layout = layout or KernelLayout()
    if not initializer.takes_dtype:
        return CheckResult(
            check="dtypes",
            initializer=initializer.name,
            passed=True,
            message="not checked: the initializer takes no `dtype` argument, so the caller "
            "casts its output; add `dtype=None` to its signature to have dtypes checked.",
            shapes=(shape,),
            details={"skipped": True},
        )
    target_std = target.std(layout.fans(shape)) if target is not None else None
    draws = draws or max(1, math.ceil(4 * PROBE / math.prod(shape)))
    per_dtype: dict[str, dict] = {}
    problems: list[str] = []
    for dtype in dtypes:
        try:
            found, info = _one_dtype(initializer, shape, dtype, draws, target_std, settings)
        except InitializerError as exc:
            found, info = [f"drawing failed: {exc}"], {"error": str(exc)}
        per_dtype[dtype] = {**info, "problems": found}
        problems += [f"{dtype}: {p}" for p in found]
    passed = not problems
    if passed:
        msg = f"{', '.join(dtypes)} honoured on shape {shape}: finite, distinct, no pile-up" + (
            ", variance on target." if target is not None else "."
        )
    else:
        msg = f"reduced-precision problems on shape {shape}: " + "; ".join(problems[:4])
        if len(problems) > 4:
            msg += f"; and {len(problems) - 4} more"
    return CheckResult(
        check="dtypes",
        initializer=initializer.name,
        passed=passed,
        message=msg,
        alpha=settings.alpha,
        n=draws * math.prod(shape) * len(dtypes),
        shapes=(shape,),
        details={"per_dtype": per_dtype, "draws": draws},
    )


def _table(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report's table: one row per requested dtype (result dict -> header and rows)."""

    per_dtype = (result.get("details") or {}).get("per_dtype")
    if not isinstance(per_dtype, dict):
        return None
    rows = []
    for dtype, info in per_dtype.items():
        if not isinstance(info, dict):
            continue
        up, low = info.get("pile_up_upper") or {}, info.get("pile_up_lower") or {}
        rows.append(
            [
                str(dtype),
                str(info.get("returned", "—")),
                fmt_int(info.get("distinct")),
                f"{low.get('extreme', '—')} / {low.get('neighbour', '—')}",
                f"{up.get('extreme', '—')} / {up.get('neighbour', '—')}",
                fmt(info.get("variance_ratio")),
                "; ".join(info.get("problems") or []) or "—",
            ]
        )
    header = ["requested", "returned", "distinct of 10,000", "at min / next", "at max / next"]
    return {"header": [*header, "Var/target", "problems"], "rows": rows}


CHECK = Check(
    name="dtypes",
    run=lambda ctx: check_dtypes(
        ctx.initializer,
        ctx.plan.seed_shape,
        ctx.settings,
        layout=ctx.plan.layout,
        target=ctx.plan.target,
    ),
    summary="each dtype honoured with finite, distinct, unclamped values",
    when="requested",
    order=75,
    table=_table,
    by_chance=True,
)
