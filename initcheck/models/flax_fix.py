"""Flax NNX fixes: each failing kernel drawn from ``nnx.initializers`` (the
``kernel_init`` to build with) with the model's ``rngs``, applied to a clone, or to each
model a factory builds with its own ``rngs``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from initcheck.models.fixcode import Fix, pieces, run_fixes, scaling
from initcheck.models.weightrow import WeightRow

_NAMED = {
    "he": "nnx.initializers.he_normal()",
    "lecun": "nnx.initializers.lecun_normal()",
    "glorot": "nnx.initializers.glorot_normal()",
    "he_fan_out": 'nnx.initializers.variance_scaling(2.0, "fan_out", "truncated_normal")',
    "lecun_fan_out": 'nnx.initializers.variance_scaling(1.0, "fan_out", "truncated_normal")',
}
_CUSTOM = 'nnx.initializers.variance_scaling({scale}, "fan_in", "truncated_normal")'


def _path(path: str) -> str:
    out = "model"
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}" if part.isidentifier() else ""
    return out


def write_fix(members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    """The code drawing each failing kernel from its rule, or ``None`` (a packed piece)."""
    groups: dict[str, list[str]] = {}
    for row in members:
        var, fans = row.target_variance, row.init_fans
        if var is None or fans is None or pieces(row, rows)[1] != 1:
            return None
        groups.setdefault(scaling(var, fans, _NAMED, _CUSTOM), []).append(row.layer)
    param = members[0].param
    code, hints = [], []
    for expr, layers in groups.items():
        w = f"layer.{param}"
        code.append(f"for layer in [{', '.join(map(_path, layers))}]:")
        code.append(f"    {w}[...] = {expr}(rngs.params(), {w}[...].shape, {w}[...].dtype)")
        hints.append(f"{param}_init={expr}")
    hint = f"build the {members[0].layer_type} layers with {' or '.join(hints)}"
    return Fix("flax", tuple(r.name for r in members), "\n".join(code), hint)


def fixed(
    model: Any,
    fixes: Sequence[Fix],
    instance: bool,
    call_with_rngs: Callable[[Any, Any], Any],
) -> Any:
    """A fixed clone of a model (``instance``), else a factory ``f(rngs)`` of fixed
    models (the fixes draw with the same ``rngs``; ``call_with_rngs(factory, rngs)``
    builds one, as the adapter does)."""
    from flax import nnx

    def apply(built: Any, rngs: Any) -> Any:
        run_fixes(fixes, {"nnx": nnx, "model": built, "rngs": rngs})
        return built

    if instance:
        return apply(nnx.clone(model), nnx.Rngs(0))

    def flax_factory(rngs: Any) -> Any:
        return apply(call_with_rngs(model, rngs), rngs)

    return flax_factory
