"""Keras 3 layer types → their weight pieces: one small builder per type in the table
:data:`BUILDERS` (looked up through the layer's class hierarchy). Each piece carries the
layer attribute of its initializer (``init_attr``), so a fresh draw calls that very
initializer object (see :mod:`initcheck.models.keras_model`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from initcheck.fans import Fans, KernelLayout
from initcheck.models.graph import Call
from initcheck.models.layers import category
from initcheck.models.measure import norm_value
from initcheck.models.records import Default, WeightPiece
from initcheck.models.rules import reading

GATES = {"LSTM": ("i", "f", "c", "o"), "GRU": ("z", "r", "h"), "SimpleRNN": ("h",)}
NORM_VALUES = {"gamma": 1.0, "beta": 0.0, "moving_mean": 0.0, "moving_variance": 1.0}


@dataclass
class Site:
    """A layer, its path, the weight → key map, and the shared fields of its pieces."""

    path: str
    layer: Any
    keys: dict[int, str]
    base: dict[str, Any]
    out: list[WeightPiece] = field(default_factory=list)
    call: Call | None = None  # the layer's traced call
    effects: dict[str, str] = field(default_factory=dict)  # Trace.effects

    def add(self, v: Any, **kw: Any) -> None:
        fields = {"param": v.name, **self.base, **kw}  # a builder may name the parameter
        self.out.append(WeightPiece(key=self.keys[id(v)], **fields))

    def kernel(
        self, v: Any, lay: KernelLayout, attr: str, why: str = "", readings: tuple = ()
    ) -> None:
        shape = tuple(v.shape)
        self.add(
            v,
            role="kernel",
            layout=lay,
            fans=lay.fans(shape),
            readings=readings,
            defaults=configured(self.layer, attr, shape, why),
        )

    def bias(self, owner: Any = None) -> None:
        owner = owner if owner is not None else self.layer
        if getattr(owner, "bias", None) is not None:
            self.add(owner.bias, role="constant", constant=_bias_const(owner, "bias"))


def configured(layer: Any, attr: str, shape: tuple[int, ...], why: str) -> tuple[Default, ...]:
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
        Default(
            init.scale / max(n, 1),
            f"Keras's {name} (scale={init.scale:g}, mode={init.mode}) at Keras's own fans of "
            f"the stored kernel{why}",
            f" {shape}: fan_in={f.fan_in}, fan_out={f.fan_out}",
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


def conv(s: Site) -> None:
    kind = type(s.layer).__name__
    groups = int(getattr(s.layer, "groups", 1) or 1)
    transposed = "Transpose" in kind
    lay = KernelLayout("keras", "conv_transpose" if transposed else "standard", groups)
    shape = tuple(s.layer.kernel.shape)
    readings: tuple = ()
    why = ""
    if transposed:
        f, t = KernelLayout("keras").fans(shape), lay.fans(shape)
        readings = (
            reading(
                f,
                "the swapped fans Keras reads from a transposed convolution's (*k, out, in) kernel",
            ),
        )
        why = f" — the swapped fan: fan_in read as out·k = {f.fan_in} instead of in·k = {t.fan_in}"
    s.kernel(s.layer.kernel, lay, "kernel", why, readings)
    s.bias()


def depthwise(s: Site) -> None:
    kind = type(s.layer).__name__
    lay = KernelLayout("keras", "depthwise")
    v = s.layer.depthwise_kernel if kind.startswith("Separable") else s.layer.kernel
    shape = tuple(v.shape)
    f, t = KernelLayout("keras").fans(shape), lay.fans(shape)
    why = (
        f" — the depthwise fan: Keras counts the {shape[-2]} input channels into fan_in "
        f"(in·k = {f.fan_in}) though each output sums over k = {t.fan_in} inputs"
    )
    readings = (reading(f, "Keras's fans of a depthwise kernel (channels counted into fan_in)"),)
    s.kernel(v, lay, "depthwise", why, readings)
    if kind.startswith("Separable"):
        s.kernel(s.layer.pointwise_kernel, KernelLayout("keras"), "pointwise")
    s.bias()


def recurrent(s: Site) -> None:
    cell = s.layer.cell
    gates = GATES[type(s.layer).__name__]
    u = cell.units
    n_in = int(cell.kernel.shape[0])
    packed = reading(
        Fans(n_in, len(gates) * u), f"the packed (in, {len(gates)}·units) kernel's fans"
    )
    defaults = configured(cell, "kernel", tuple(cell.kernel.shape), " (the packed kernel)")
    for i, g in enumerate(gates):
        s.add(
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
    s.add(
        cell.recurrent_kernel,
        role="recurrent",
        layout=KernelLayout("keras"),
        fans=Fans(u, u),
        readings=(rpacked,),
    )
    if getattr(cell, "bias", None) is not None:
        s.add(cell.bias, role="constant", constant=None)


def attention(s: Site) -> None:
    for sub in ("_query_dense", "_key_dense", "_value_dense", "_output_dense"):
        d = getattr(s.layer, sub)
        shape = tuple(d.kernel.shape)
        if sub == "_output_dense":
            f = Fans(shape[0] * shape[1], shape[-1])
        else:
            f = Fans(shape[0], shape[1] * shape[2])
        flat = (f.fan_in, f.fan_out)
        name = sub.strip("_").split("_")[0]
        s.add(
            d.kernel,
            param=f"{name}/kernel",
            role="kernel",
            layout=KernelLayout("keras"),
            fans=f,
            readings=(
                reading(
                    KernelLayout("keras").fans(shape), f"Keras's fans of the 3-D {shape} kernel"
                ),
            ),
            defaults=configured(s.layer, "kernel", shape, ""),
            extract=lambda a, flat=flat: a.reshape(flat),
        )
        if getattr(d, "bias", None) is not None:
            s.add(
                d.bias,
                param=f"{name}/bias",
                role="constant",
                constant=_bias_const(s.layer, "bias"),
            )


def embedding(s: Site) -> None:
    v = s.layer.embeddings
    lay = KernelLayout("torch")  # rows are the embedding vectors (units)
    s.add(v, role="embedding", layout=lay, fans=lay.fans(tuple(v.shape)))


def _statistics(layer: Any) -> set[int]:
    """``id``s of a trainable layer's untrainable variables (statistics, not weights)."""
    if not getattr(layer, "trainable", True):
        return set()
    return {id(v) for v in layer.weights if not getattr(v, "trainable", True)}


def _weights(s: Site) -> list[Any]:
    """The layer's variables that are weights (those :func:`layer_pieces` keeps)."""
    return [v for v in s.layer.weights if id(v) in s.keys]


def norm(s: Site) -> None:
    """A normalization's weights: each meant to hold what its measured effect on the
    output says (a gain 1, a shift 0: :func:`~initcheck.models.measure.norm_value`),
    Keras's naming (``gamma``, ``beta``) where nothing was measured."""
    out_ms = s.call.act_ms if s.call is not None else None
    index = {id(v): i for i, v in enumerate(s.layer.weights)}
    for v in _weights(s):
        effect = s.effects.get(f"{s.path}/{index.get(id(v))}")
        value, note = norm_value(effect, NORM_VALUES.get(v.name), v.numpy(), out_ms)
        s.add(v, role="constant", constant=value, note=note)


def layer_scale(s: Site) -> None:
    for v in _weights(s):
        s.add(v, role="scale", constant=None)


BUILDERS: dict[str, Callable[[Site], None]] = {
    "Dense": conv,
    "EinsumDense": conv,
    "BaseConv": conv,
    "BaseConvTranspose": conv,
    "BaseDepthwiseConv": depthwise,
    "BaseSeparableConv": depthwise,
    "DepthwiseConv2D": depthwise,
    "SeparableConv2D": depthwise,
    "LSTM": recurrent,
    "GRU": recurrent,
    "SimpleRNN": recurrent,
    "MultiHeadAttention": attention,
    "Embedding": embedding,
    "LayerScale": layer_scale,
}


def layer_pieces(
    path: str,
    layer: Any,
    keys: dict[int, str],
    base: dict,
    call: Call | None = None,
    effects: dict[str, str] | None = None,
) -> list[WeightPiece]:
    """The pieces of ``layer``'s own weights. Statistics (the untrainable variables of a
    trainable layer: BatchNormalization's moving mean and variance, an adapted
    Normalization's mean, variance and count) are not initialized weights and get no
    piece. A frozen layer (``layer.trainable = False``) makes every variable untrainable,
    so there nothing can be told apart and every variable is audited."""
    keys = {k: v for k, v in keys.items() if k not in _statistics(layer)}
    s = Site(
        path, layer, keys, {**base, "layer": path, "layer_type": type(layer).__name__},
        call=call, effects=effects or {},
    )  # fmt: skip
    kind = type(layer).__name__
    build = next(
        (BUILDERS[c.__name__] for c in type(layer).__mro__ if c.__name__ in BUILDERS), None
    )
    if kind == "EinsumDense" and len(tuple(layer.kernel.shape)) != 2:
        build = None
    vectors = all(len(v.shape) <= 1 for v in _weights(s))
    unmeasured = call is None or call.role is None or not call.act_ms  # or a zero gain
    measured = call is not None and (
        call.role == "norm" or any(k.startswith(f"{path}/") for k in effects or ())
    )
    if build is None and vectors and measured:
        build = norm  # measured: its output unchanged when its input is scaled
    if build is None and vectors and unmeasured and category(kind) == "norm":
        build = norm  # nothing measured: read as its name says
    if build is None:
        for v in _weights(s):
            s.add(v, role="unknown", note=f"not audited (unknown layer type {kind})")
        return s.out
    build(s)
    return s.out
