"""Seeds: different seeds give different tensors; the same seed reproduces.

Three draws at one shape: seed a, seed a again, seed b (the samples' first and second
draws are reused where the other checks made them: a model's large weight is drawn
whole per seed).

- Different seeds, same tensor: every layer initialized with it gets identical weights
  (a seed that is ignored). Fails, unless the initializer is declared deterministic
  (identity, ZerO, …: ``deterministic=True``).
- Same seed, different tensors: fails when the initializer takes a seed (Keras config
  seed or ``seed=``) — it is not reproducible. An initializer that takes no seed is run
  with numpy's global RNG seeded; if it draws from another random state, that is noted,
  not failed.

A Keras instance returning the same values on repeated calls is Keras's documented
behaviour and not a failure: initcheck re-creates Keras initializers from their config
with each seed.

Not statistical: equality is exact, so there is no false-failure rate.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from initcheck.checkdef import Check
from initcheck.errors import InitializerError
from initcheck.initializers import Initializer
from initcheck.initializers.base import RESEED
from initcheck.results import MISBEHAVED, CheckResult
from initcheck.sampling import draw_seed
from initcheck.settings import Settings


def check_seeds(
    initializer: Initializer,
    shape: tuple[int, ...],
    settings: Settings,
    *,
    deterministic: bool = False,
    first: tuple[int, np.ndarray] | None = None,
    second: tuple[int, np.ndarray] | None = None,
) -> CheckResult:
    """Do distinct seeds give distinct tensors, and does a seed reproduce its tensor?

    Args:
        initializer: the initializer.
        shape: the kernel shape drawn.
        settings: the seed all draws derive from.
        deterministic: the initializer is deterministic by design.
        first: ``(seed, values)`` of a draw already made at ``shape`` (reused instead of
            drawing it again).
        second: the same of a draw at another seed (the distinct seed's tensor, reused).
    """
    base: dict[str, Any] = dict(check="seeds", initializer=initializer.name, shapes=(tuple(shape),))
    seed_a = draw_seed(settings.seed, 2**21, 0)
    seed_b = draw_seed(settings.seed, 2**21, 1)
    try:
        # compared in the dtype returned, one redraw held at a time: no float64 copies
        if first is not None:
            seed_a, a1 = first
        else:
            a1 = initializer.draw_native(shape, seed_a)
        a2 = initializer.draw_native(shape, seed_a)
        reproducible = bool(np.array_equal(a1, a2))
        diff = 0.0 if reproducible else float(np.max(np.abs(a1.astype(float) - a2)))
        del a2
        if second is not None and second[0] != seed_a:
            seed_b, b = second
        else:
            b = initializer.draw_native(shape, seed_b)
        distinct = not np.array_equal(a1, b)
        del b
    except InitializerError as exc:
        return CheckResult(passed=False, message=f"{MISBEHAVED}{exc}", **base)
    details = {
        "seedable": initializer.seedable,
        "reproducible": reproducible,
        "distinct": distinct,
        "deterministic": deterministic,
        "seeds": [seed_a, seed_b],
    }
    n = 3 * a1.size
    if not distinct and not deterministic:
        if initializer.reseed != RESEED:  # a model's weight: how to write its factory
            how, by_design = initializer.reseed, ""
        elif initializer.seedable:
            how = "it accepts a seed but ignores it"
            by_design = (
                " If the initializer is deterministic by design, declare deterministic=True."
            )
        else:
            how = (
                "it takes no seed, and its random state does not follow numpy's global RNG; "
                "accept `seed=`"
            )
            by_design = (
                " If the initializer is deterministic by design, declare deterministic=True."
            )
        msg = (
            f"seed ignored: seeds {seed_a} and {seed_b} gave the very same tensor of shape "
            f"{tuple(shape)}, so every layer initialized with it gets identical weights "
            f"({how}).{by_design}"
        )
        return CheckResult(passed=False, message=msg, n=n, details=details, **base)
    if not reproducible and initializer.seedable:
        msg = (
            f"not reproducible: the same seed {seed_a} gave different tensors of shape "
            f"{tuple(shape)} (max difference {diff:.3g}); the seed is not honoured."
        )
        return CheckResult(passed=False, message=msg, n=n, details=details, **base)
    if not distinct:
        msg = f"deterministic (declared): every seed gives the same tensor of shape {tuple(shape)}."
    elif reproducible:
        msg = (
            "distinct seeds give distinct tensors and a seed reproduces its tensor "
            f"({tuple(shape)})."
        )
    else:
        msg = (
            "distinct seeds give distinct tensors; the initializer takes no seed and draws from "
            "a random state initcheck cannot seed, so runs are not reproducible (noted)."
        )
    return CheckResult(passed=True, message=msg, n=n, details=details, **base)


def _table(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The report's table: which seed properties hold (result dict -> header and rows)."""
    details = result.get("details") or {}
    if "distinct" not in details:
        return None
    yes: dict[Any, str] = {True: "yes", False: "no"}
    keys = ("seedable", "distinct", "reproducible", "deterministic")
    return {
        "header": [
            "takes a seed",
            "distinct seeds → distinct tensors",
            "same seed → same tensor",
            "declared deterministic",
        ],
        "rows": [[yes.get(details.get(k), "—") for k in keys]],
    }


CHECK = Check(
    name="seeds",
    run=lambda ctx: check_seeds(
        ctx.initializer,
        ctx.plan.seed_shape,
        ctx.settings,
        deterministic=ctx.plan.deterministic,
        first=ctx.held_draw(ctx.plan.seed_shape),
        second=ctx.held_draw(ctx.plan.seed_shape, 1),
    ),
    summary="distinct seeds give distinct tensors; a seed reproduces its tensor",
    gate="once",
    order=70,
    table=_table,
)
