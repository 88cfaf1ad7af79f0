"""Keras 3 models: every weight as :class:`~initcheck.models.records.WeightPiece` rows, fresh
draws under a seed, and the model's own signal at init.

A factory is called after ``keras.utils.set_random_seed(seed)``. An instance is cloned
with ``keras.models.clone_model`` whose ``clone_function`` re-creates each layer from its
config with every initializer's ``seed`` replaced by one derived from the draw's seed.
Weights are matched between rebuilds by their position in ``model.weights``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from initcheck.fans import Fans, KernelLayout
from initcheck.models.records import WeightPiece
from initcheck.models.rules import reading
from initcheck.models.signal import LayerSignal

__all__ = ["own_values", "pieces", "signal", "snapshotter"]

GATES = {"LSTM": ("i", "f", "c", "o"), "GRU": ("z", "r", "h"), "SimpleRNN": ("h",)}
NORMS = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}
STANDARD = ("Dense", "Conv1D", "Conv2D", "Conv3D")
TRANSPOSED = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")


def _flat_layers(model: Any, prefix: str = "") -> list[tuple[str, Any]]:
    out = []
    for layer in getattr(model, "layers", []):
        path = f"{prefix}{layer.name}"
        if hasattr(layer, "layers") and type(layer).__name__ in (
            "Sequential",
            "Functional",
            "Model",
        ):
            out.extend(_flat_layers(layer, path + "/"))
        else:
            out.append((path, layer))
    return out


def _activation(layers: list[tuple[str, Any]], i: int) -> str | None:
    act = getattr(layers[i][1], "activation", None)
    name = getattr(act, "__name__", None)
    if name and name != "linear":
        return name
    for _, nxt in layers[i + 1 : i + 2]:
        kind = type(nxt).__name__
        if kind == "Activation":
            return getattr(nxt.activation, "__name__", None)
        if kind in ("ReLU", "LeakyReLU", "ELU", "PReLU"):
            return kind.lower()
    return name


def _configured(layer: Any, attr: str, shape: tuple[int, ...], why: str) -> tuple:
    """The variance the layer's VarianceScaling initializer draws, at Keras's own fans."""
    import keras

    init = getattr(layer, f"{attr}_initializer", None)
    if not isinstance(init, keras.initializers.VarianceScaling):
        return ()
    f = KernelLayout("keras").fans(shape) if len(shape) >= 2 else None
    if f is None:
        return ()
    n = {"fan_in": f.fan_in, "fan_out": f.fan_out, "fan_avg": f.fan_avg}[init.mode]
    name = type(init).__name__
    return (
        (
            init.scale / max(n, 1),
            f"Keras's {name} (scale={init.scale:g}, mode={init.mode}) at Keras's own fans of the "
            f"stored kernel {shape}: fan_in={f.fan_in}, fan_out={f.fan_out}{why}",
        ),
    )


def _bias_const(layer: Any, attr: str) -> float | None:
    import keras

    init = getattr(layer, f"{attr}_initializer", None)
    if isinstance(init, keras.initializers.Zeros):
        return 0.0
    if isinstance(init, keras.initializers.Ones):
        return 1.0
    if isinstance(init, keras.initializers.Constant):
        return float(init.value)
    return None


def _layer_pieces(
    path: str, layer: Any, act: str | None, keys: dict[int, str]
) -> list[WeightPiece]:
    kind = type(layer).__name__
    base = dict(layer=path, layer_type=kind, framework="keras", activation=act)
    out: list[WeightPiece] = []

    def add(v: Any, **kw: Any) -> None:
        out.append(WeightPiece(param=v.name, key=keys[id(v)], **{**base, **kw}))

    def kernel(v: Any, lay: KernelLayout, attr: str, why: str = "", readings: tuple = ()) -> None:
        shape = tuple(v.shape)
        add(
            v,
            role="kernel",
            layout=lay,
            fans=lay.fans(shape),
            readings=readings,
            defaults=_configured(layer, attr, shape, why),
        )

    if kind in STANDARD or kind in TRANSPOSED:
        groups = int(getattr(layer, "groups", 1) or 1)
        transposed = kind in TRANSPOSED
        lay = KernelLayout("keras", "conv_transpose" if transposed else "standard", groups)
        shape = tuple(layer.kernel.shape)
        readings: tuple = ()
        why = ""
        if transposed:
            f, t = KernelLayout("keras").fans(shape), lay.fans(shape)
            readings = (
                reading(
                    f,
                    "the swapped fans Keras reads from a transposed "
                    "convolution's (*k, out, in) kernel",
                ),
            )
            why = (
                f" — the swapped fan: fan_in read as out·k = {f.fan_in} "
                f"instead of in·k = {t.fan_in}"
            )
        kernel(layer.kernel, lay, "kernel", why, readings)
        if getattr(layer, "bias", None) is not None:
            add(layer.bias, role="constant", constant=_bias_const(layer, "bias"))
        return out
    if kind in ("DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D"):
        lay = KernelLayout("keras", "depthwise")
        v = layer.depthwise_kernel if kind.startswith("Separable") else layer.kernel
        shape = tuple(v.shape)
        f, t = KernelLayout("keras").fans(shape), lay.fans(shape)
        why = (
            f" — the depthwise fan: Keras counts the {shape[-2]} input channels into fan_in "
            f"(in·k = {f.fan_in}) though each output sums over k = {t.fan_in} inputs"
        )
        readings = (
            reading(f, "Keras's fans of a depthwise kernel (channels counted into fan_in)"),
        )
        kernel(v, lay, "depthwise", why, readings)
        if kind.startswith("Separable"):
            kernel(layer.pointwise_kernel, KernelLayout("keras"), "pointwise")
        if getattr(layer, "bias", None) is not None:
            add(layer.bias, role="constant", constant=_bias_const(layer, "bias"))
        return out
    if kind in GATES:
        cell = layer.cell
        gates = GATES[kind]
        u = cell.units
        n_in = int(cell.kernel.shape[0])
        packed = reading(
            Fans(n_in, len(gates) * u), f"the packed (in, {len(gates)}·units) kernel's fans"
        )
        defaults = _configured(cell, "kernel", tuple(cell.kernel.shape), " (the packed kernel)")
        for i, g in enumerate(gates):
            add(
                cell.kernel,
                piece=f"gate {g}",
                role="kernel",
                layout=KernelLayout("keras"),
                fans=Fans(n_in, u),
                readings=(packed,),
                defaults=defaults,
                extract=lambda a, i=i: a[:, i * u : (i + 1) * u],
            )
        rpacked = reading(
            Fans(u, len(gates) * u), f"the packed (units, {len(gates)}·units) kernel's fans"
        )
        add(
            cell.recurrent_kernel,
            role="recurrent",
            layout=KernelLayout("keras"),
            fans=Fans(u, u),
            readings=(rpacked,),
        )
        if getattr(cell, "bias", None) is not None:
            add(cell.bias, role="constant", constant=None)
        return out
    if kind == "MultiHeadAttention":
        for sub in ("_query_dense", "_key_dense", "_value_dense", "_output_dense"):
            d = getattr(layer, sub)
            shape = tuple(d.kernel.shape)
            if sub == "_output_dense":
                f = Fans(shape[0] * shape[1], shape[-1])
                flat = (f.fan_in, f.fan_out)
            else:
                f = Fans(shape[0], shape[1] * shape[2])
                flat = (f.fan_in, f.fan_out)
            keras_f = KernelLayout("keras").fans(shape)
            add(
                d.kernel,
                param=f"{sub.strip('_').split('_')[0]}/kernel",
                role="kernel",
                layout=KernelLayout("keras"),
                fans=f,
                readings=(reading(keras_f, f"Keras's fans of the 3-D {shape} EinsumDense kernel"),),
                defaults=_configured(layer, "kernel", shape, ""),
                extract=lambda a, flat=flat: a.reshape(flat),
            )
            if getattr(d, "bias", None) is not None:
                add(
                    d.bias,
                    param=f"{sub.strip('_').split('_')[0]}/bias",
                    role="constant",
                    constant=_bias_const(layer, "bias"),
                )
        return out
    if kind == "Embedding":
        v = layer.embeddings
        lay = KernelLayout("torch")  # rows are the embedding vectors (units)
        add(v, role="embedding", layout=lay, fans=lay.fans(tuple(v.shape)))
        return out
    if kind in (
        "BatchNormalization",
        "LayerNormalization",
        "GroupNormalization",
        "RMSNormalization",
    ):
        for v in layer.weights:
            add(v, role="constant", constant=NORMS.get(v.name))
        return out
    for v in layer.weights:
        add(v, role="unknown", note=f"not audited (unknown layer type {kind})")
    return out


def pieces(model: Any) -> list[WeightPiece]:
    """One :class:`WeightPiece` per weight (per gate/projection of packed ones)."""
    keys = {id(v): str(i) for i, v in enumerate(model.weights)}
    layers = _flat_layers(model)
    out: list[WeightPiece] = []
    for i, (path, layer) in enumerate(layers):
        if layer.weights:
            out.extend(_layer_pieces(path, layer, _activation(layers, i), keys))
    return out


def own_values(model: Any) -> dict[str, np.ndarray]:
    return {str(i): np.asarray(v.numpy(), dtype=np.float64) for i, v in enumerate(model.weights)}


def _reseed(config: Any, seed: int, salt: list[int]) -> Any:
    if isinstance(config, dict):
        if "seed" in config.get("config", {}) if isinstance(config.get("config"), dict) else False:
            salt[0] += 1
            config["config"]["seed"] = int((seed * 1_000_003 + salt[0] * 7919) % 2**31)
        for v in config.values():
            _reseed(v, seed, salt)
    elif isinstance(config, list):
        for v in config:
            _reseed(v, seed, salt)
    return config


def snapshotter(model: Any, factory: Callable[[], Any] | None) -> Callable[[int], dict]:
    """``snapshot(seed) -> {weight index: float64 array}`` of a fresh draw under ``seed``."""
    import keras

    def snapshot(seed: int) -> dict[str, np.ndarray]:
        keras.utils.set_random_seed(seed)
        if factory is not None:
            return own_values(factory())
        salt = [0]

        def clone(layer: Any) -> Any:
            return layer.__class__.from_config(_reseed(layer.get_config(), seed, salt))

        return own_values(keras.models.clone_model(model, clone_function=clone))

    return snapshot


def _default_input(model: Any, batch: int, seed: int) -> np.ndarray:
    shape = tuple(model.inputs[0].shape[1:])
    if None in shape:
        raise ValueError(f"Cannot build a default input of shape {shape}: pass inputs=...")
    if int(np.prod(shape)) == 784:
        from initcheck.mnist import load_mnist

        return load_mnist().x_train[:batch].reshape((batch, *shape)).astype("float32")
    return np.random.default_rng(seed).standard_normal((batch, *shape)).astype("float32")


def signal(model: Any, layers: list[str], inputs: Any, seed: int, batch: int = 32) -> tuple:
    """Forward and backward one batch (training mode) through a functional sub-model that
    returns every weighted layer's output; gradients by ``tf.GradientTape``."""
    import keras
    import tensorflow as tf

    by_path = dict(_flat_layers(model))
    chosen = [(p, by_path[p]) for p in layers if p in by_path]
    x = inputs if inputs is not None else _default_input(model, batch, seed)
    what = "the given inputs" if inputs is not None else f"a default batch of shape {x.shape}"
    outputs = [lay.output for _, lay in chosen]
    outputs = [o[0] if isinstance(o, list | tuple) else o for o in outputs]
    sub = keras.Model(model.inputs, [*outputs, model.outputs[0]])
    with tf.GradientTape() as tape:
        outs = sub(tf.convert_to_tensor(x), training=True)
        final = outs[-1]
        r = tf.random.stateless_normal(tf.shape(final), seed=[seed, 1], dtype=final.dtype)
        loss = tf.reduce_sum(final * r)
    grads = tape.gradient(loss, outs[:-1])
    n = int(x.shape[0])
    recorded = []
    for (path, lay), o, g in zip(chosen, outs[:-1], grads, strict=True):
        o64 = tf.cast(o, tf.float64)
        s = LayerSignal(path, type(lay).__name__, float(tf.reduce_mean(o64 * o64)))
        if g is not None:
            g64 = tf.cast(g, tf.float64)
            s.set_grad(float(tf.reduce_sum(g64 * g64)) / n)
        recorded.append(s)
    return recorded, what
