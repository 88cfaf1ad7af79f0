"""Keras fixes: the failing layers' initializer set (``kernel_initializer="he_normal"``,
or the ``VarianceScaling`` at the fans Keras reads from the whole kernel, so transposed
and depthwise kernels are drawn right) and drawn into their kernels, applied to a clone
whose auto-numbered layer names may differ from the audited model's."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from initcheck.models.fixcode import Fix, run_fixes, scaling
from initcheck.models.weightrow import WeightRow

#: ``model -> (path, layer, is_leaf)`` for every layer: the Keras adapter's walk.
Walk = Callable[[Any], Iterable[tuple[str, Any, bool]]]

_NAMED = {
    "he": '"he_normal"',
    "lecun": '"lecun_normal"',
    "glorot": '"glorot_normal"',
    "he_fan_out": 'keras.initializers.VarianceScaling(scale=2.0, mode="fan_out")',
    "lecun_fan_out": 'keras.initializers.VarianceScaling(scale=1.0, mode="fan_out")',
}
_CUSTOM = 'keras.initializers.VarianceScaling(scale={scale}, mode="fan_in")'


def _attr(row: WeightRow) -> str:
    """The layer attribute holding the weight's initializer (Keras's own naming)."""
    if "Depthwise" in row.layer_type and row.param == "kernel":
        return "depthwise_initializer"
    base = row.param[: -len("_kernel")] if row.param.endswith("_kernel") else row.param
    return f"{base}_initializer"


def write_fix(members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    """The code setting and drawing each failing layer's initializer, or ``None``."""
    groups: dict[tuple[str, str], list[str]] = {}
    for row in members:
        var, fans = row.target_variance, row.init_fans
        if var is None or fans is None:
            return None
        key = (scaling(var, fans, _NAMED, _CUSTOM), _attr(row))
        if row.layer not in groups.setdefault(key, []):
            groups[key].append(row.layer)
    param = members[0].param
    code, hints = [], []
    for (expr, attr), layers in groups.items():
        get = ", ".join(
            "model" + "".join(f'.get_layer("{p}")' for p in path.split("/")) for path in layers
        )
        init = expr if not expr.startswith('"') else f"keras.initializers.get({expr})"
        code.append(f"for layer in [{get}]:")
        code.append(
            f"    layer.{attr} = {init}; layer.{param}.assign(layer.{attr}(layer.{param}.shape))"
        )
        hints.append(f"{attr}={expr}")
    hint = f"build the {members[0].layer_type} layers with {' or '.join(hints)}"
    return Fix("keras", tuple(r.name for r in members), "\n".join(code), hint)


class _Layers:
    """``model.get_layer(name)`` by the audited model's layer paths, on a model of the
    same architecture whose Keras layer names may differ (Keras numbers auto-named layers
    per process: a rebuilt or cloned ``dense`` is ``dense_7``), nested paths included
    (``mha/query``: a layer inside a layer, which has no ``get_layer`` of its own)."""

    def __init__(self, layers: dict[str, Any], prefix: str = "") -> None:
        self._layers, self._prefix = layers, prefix

    def get_layer(self, name: str) -> Any:
        path = self._prefix + name
        if path in self._layers:
            return self._layers[path]
        if any(p.startswith(path + "/") for p in self._layers):
            return _Layers(self._layers, path + "/")
        raise ValueError(
            f"The fixed model has no layer at {path!r} (the audited model's layer paths: "
            f"{sorted(self._layers)[:8]}). Received: name={name!r}"
        )


def _scope(model: Any, paths: Sequence[str], walk: Walk) -> Any:
    """``model`` seen through the audited model's layer paths (:class:`_Layers`)."""
    mine = [(p, layer) for p, layer, leaf in walk(model) if leaf and layer.weights]
    if len(mine) != len(paths):
        return model
    return _Layers({old: layer for old, (_, layer) in zip(paths, mine, strict=True)})


def fixed(
    model: Any, fixes: Sequence[Fix], paths: Sequence[str], instance: bool, walk: Walk
) -> Any:
    """A fixed clone of a model (``instance``), else a factory of fixed models.

    Args:
        model: the audited model or factory.
        fixes: the fixes to run.
        paths: the audited model's weighted layer paths, in order.
        instance: whether ``model`` is a model (else a factory).
        walk: ``model -> (path, layer, is_leaf)`` for every layer (the adapter's walk).
    """
    import keras

    def apply(built: Any) -> Any:
        run_fixes(fixes, {"keras": keras, "model": _scope(built, paths, walk)})
        return built

    if instance:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return apply(clone)
    factory: Callable[[], Any] = model
    return functools.wraps(factory)(lambda: apply(factory()))
