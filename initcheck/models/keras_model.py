"""The Keras 3 :class:`~initcheck.models.adapter.ModelAdapter`.

- Pieces: every layer of the model, nested models and composite layers flattened
  (paths ``outer/inner``), read by the builders of :mod:`initcheck.models.keras_layers`.
- Draws: each weight is drawn from its own layer's initializer object
  (``kernel_initializer``, ``depthwise_initializer``, ``gamma_initializer``, …) on the
  weight's shape, re-seeded per draw: no model is rebuilt. A weight with no initializer
  object (or whose values it does not reproduce) is drawn by rebuilding a factory under
  the seed, or (an instance) read from the instance's own values.
- Trace: the model is called eagerly once with every layer's ``call`` wrapped to record
  its inputs' producers and its output; dropout off, BatchNorm on batch statistics (its
  moving statistics restored), gradients by ``tf.GradientTape``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from initcheck.errors import NoDefaultBatch
from initcheck.models import keras_fix
from initcheck.models.draws import FACTORY_RESEED, LazyValues, Way, native
from initcheck.models.graph import Trace, flow
from initcheck.models.keras_layers import BUILDERS, layer_pieces
from initcheck.models.keras_trace import trace_pass
from initcheck.models.layers import category
from initcheck.models.records import WeightPiece, with_init_fans

CONTAINERS = ("Sequential", "Functional", "Model")
#: the weight name → the layer attribute holding its initializer, where not ``NAME_initializer``
INIT_ATTRS = {
    "depthwise_kernel": "depthwise",
    "pointwise_kernel": "pointwise",
    "recurrent_kernel": "recurrent",
}


def _numpy_of(v: Any) -> np.ndarray:
    """A Keras variable's values, native byte order."""
    return native(np.asarray(v.numpy()))


def _is_container(layer: Any) -> bool:
    return any(c.__name__ in CONTAINERS for c in type(layer).__mro__[:3]) and hasattr(
        layer, "layers"
    )


def _sublayers(layer: Any) -> list[Any]:
    if _is_container(layer):
        ops = getattr(layer, "operations", None)
        return list(ops if ops is not None else layer.layers)
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))
    except AttributeError:
        return []


def _has_builder(layer: Any) -> bool:
    kinds = {c.__name__ for c in type(layer).__mro__}
    return bool(kinds & set(BUILDERS)) or category(type(layer).__name__) == "norm"


def _walk(model: Any, prefix: str = "") -> Iterator[tuple[str, Any, bool]]:
    """``(path, layer, leaf)`` for every layer and op under ``model``, depth first;
    ``leaf`` is False for containers and composite layers read through their parts."""
    for layer in _sublayers(model):
        if type(layer).__name__ == "InputLayer":
            continue
        path = f"{prefix}{layer.name}"
        subs = [] if _has_builder(layer) else _sublayers(layer)
        if subs:
            yield path, layer, False
            yield from _walk(layer, path + "/")
        else:
            yield path, layer, True


def _activation_name(layer: Any) -> str | None:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None)
    return name if isinstance(name, str) else None


def _initializer(owner: Any, v: Any) -> tuple[str, Any]:
    """``(attribute, initializer object)`` of the layer attribute that drew ``v``."""
    name = v.name
    attr = INIT_ATTRS.get(name, name)
    if name == "kernel" and hasattr(owner, "depthwise_initializer"):
        attr = "depthwise"
    return f"{attr}_initializer", getattr(owner, f"{attr}_initializer", None)


def _owners(model: Any) -> dict[int, tuple[str, Any]]:
    """id(variable) → ``(attribute, initializer object)`` that drew it (where the layer
    keeps one)."""
    out: dict[int, tuple[str, Any]] = {}
    for layer in model._flatten_layers(include_self=False, recursive=True):
        own = list(getattr(layer, "_trainable_variables", [])) + list(
            getattr(layer, "_non_trainable_variables", [])
        )
        for v in own:
            attr, init = _initializer(layer, v)
            if init is not None and callable(init):
                out[id(v)] = (f"{type(layer).__name__}.{attr}", init)
    return out


def _draw_from(init: Any, shape: tuple, dtype: str, seed: int) -> np.ndarray:
    import keras

    config = init.get_config() if hasattr(init, "get_config") else {}
    if isinstance(config, dict) and "seed" in config:
        fresh = type(init).from_config({**config, "seed": int(seed % 2**31)})
    else:
        keras.utils.set_random_seed(int(seed % 2**31))
        fresh = init
    return native(np.asarray(keras.ops.convert_to_numpy(fresh(shape, dtype=dtype))))


def _input_spec(model: Any) -> tuple[tuple, str]:
    """``(shape without the batch axis, dtype)`` of the model's first input: a functional
    model's ``inputs``, or the shape a subclassed model was built with."""
    try:
        spec = model.inputs[0]
        return tuple(spec.shape[1:]), str(spec.dtype)
    except (AttributeError, IndexError, TypeError):
        pass
    shapes = getattr(model, "_build_shapes_dict", None) or {}
    shape = next(iter(shapes.values()), None) if isinstance(shapes, dict) else None
    if (
        isinstance(shape, tuple | list)
        and shape
        and all(d is None or isinstance(d, int) for d in shape)
    ):
        return tuple(shape[1:]), "float32"
    raise NoDefaultBatch(
        f"Cannot build a default input for {type(model).__name__}: a Keras model without "
        "an Input declares no input shape until it is built (call it once on a batch in the "
        "factory)"
    )


def _default_input(model: Any, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape, dtype = _input_spec(model)
    if "int" in dtype:
        emb = next((lay for _, lay, _ in _walk(model) if type(lay).__name__ == "Embedding"), None)
        vocab = int(getattr(emb, "input_dim", 100))
        length = tuple(16 if d is None else d for d in shape)
        return rng.integers(0, vocab, size=(8, *length)).astype(dtype)
    shape = tuple(64 if d is None else d for d in shape)
    if int(np.prod(shape)) == 784:
        from initcheck.mnist import load_mnist

        return load_mnist().x_train[:32].reshape((32, *shape)).astype("float32")
    batch = 32 if len(shape) == 1 else 8
    return rng.standard_normal((batch, *shape)).astype("float32")


class KerasAdapter:
    """Keras 3 models (Sequential, Functional, nested)."""

    name = "keras"
    reseed = FACTORY_RESEED
    measures_learning = False
    write_fix = staticmethod(keras_fix.write_fix)

    def fixed(self, model: Any, fixes: Any, paths: Any, instance: bool) -> Any:
        return keras_fix.fixed(model, fixes, paths, instance, _walk)

    def detects(self, obj: Any) -> bool:
        return any(c.__module__.startswith(("keras", "tf_keras")) for c in type(obj).__mro__) and (
            hasattr(obj, "weights") and hasattr(obj, "layers")
        )

    def build(self, factory: Callable[[], Any], seed: int) -> Any:
        import keras

        keras.utils.set_random_seed(seed)
        return factory()

    def pieces(self, model: Any, trace: Trace | None) -> list[WeightPiece]:
        keys = {id(v): str(i) for i, v in enumerate(model.weights)}
        out: list[WeightPiece] = []
        for path, layer, leaf in _walk(model):
            if not leaf or not getattr(layer, "weights", None):
                continue
            f = flow(trace, path)
            base = dict(
                framework="keras",
                activation=f.activation,
                gain=f.gain,
                norm=f.norm,
                output=f.output,
                branch_end=f.merge,
            )
            call = trace.get(path) if trace is not None else None
            effects = trace.effects if trace is not None else None
            out.extend(layer_pieces(path, layer, keys, base, call, effects))
        return with_init_fans(out, {str(i): tuple(v.shape) for i, v in enumerate(model.weights)})

    def own_values(self, model: Any) -> LazyValues:
        return LazyValues(
            {str(i): functools.partial(_numpy_of, v) for i, v in enumerate(model.weights)}
        )

    def ways(self, model: Any) -> dict[str, list[Way]]:
        owners = _owners(model)
        out: dict[str, list[Way]] = {}
        for i, v in enumerate(model.weights):
            found = owners.get(id(v))
            if found is None:
                continue
            label, init = found
            shape, dtype = tuple(v.shape), str(v.dtype)

            def draw(
                seed: int,
                init: Any = init,
                shape: tuple = shape,
                dtype: str = dtype,
                salt: int = i * 7919,
            ) -> np.ndarray:
                return _draw_from(init, shape, dtype, seed * 1_000_003 + salt)

            out[str(i)] = [Way(label, draw, kind=label)]
        return out

    def trace(self, model: Any, inputs: Any, seed: int) -> Trace:
        x = _default_input(model, seed) if inputs is None else inputs
        what = "the given inputs" if inputs is not None else f"a default batch of shape {x.shape}"
        trace = Trace(source=what)
        trace_pass(model, x, seed, list(_walk(model)), trace)
        return trace


KERAS = KerasAdapter()
