"""PyTorch layer types → their weight pieces: one small builder per type, found through
the module's class hierarchy (so subclasses such as ``NonDynamicallyQuantizableLinear``
are read as their base), in the table :data:`BUILDERS`.

A parameter no builder claims is read by :func:`free_parameter` from the ops that consume it
in the traced pass (an attention class's own projections, stacked expert kernels, class
tokens, position tables, LayerScale γ, ReZero α): :mod:`initcheck.models.uses`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from initcheck.fans import Fans, KernelLayout
from initcheck.models.graph import Trace, flow
from initcheck.models.layers import NORMS, category
from initcheck.models.records import Default, WeightPiece
from initcheck.models.rules import reading
from initcheck.models.uses import ADDITIVE, Use, role_from_uses, unused_role

GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n"), "RNN": ("h",)}


@dataclass
class Site:
    """Where a module's parameters sit: its path, the module, and the shared fields."""

    path: str
    module: Any
    base: dict[str, Any]
    out_ms: float | None = None  # the module's output mean square in the traced pass
    uses: dict[str, Any] | None = None  # the traced ops that consumed each parameter, by key

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def piece(self, name: str, role: str, **kw: Any) -> WeightPiece:
        return WeightPiece(param=name, role=role, key=self.key(name), **{**self.base, **kw})

    def const(self, name: str, value: float | None) -> WeightPiece:
        return self.piece(name, "constant", constant=value)

    def unknown(self, name: str, what: str) -> WeightPiece:
        return self.piece(name, "unknown", note=f"not audited ({what})")

    def own(self) -> dict[str, Any]:
        return dict(self.module.named_parameters(recurse=False))


def _rows(a: np.ndarray, i: int, n: int) -> np.ndarray:
    return a[i * n : (i + 1) * n]


def _default(fans: Fans, swapped_from: Fans | None = None) -> tuple[Default, ...]:
    """PyTorch's default init of Linear and Conv weights: ``kaiming_uniform_(a=√5)``, i.e.
    Var = 1/(3·fan_in) with PyTorch's own fan_in (``swapped_from``: the true fans of a
    transposed convolution, whose fan_in PyTorch reads as out·k)."""
    what = "PyTorch's default init Var = 1/(3·fan_in) (kaiming_uniform_ with a=√5)"
    where = f" at fan_in = {fans.fan_in}"
    if swapped_from is not None:
        what += " with the swapped fan: fan_in read as out·k instead of in·k"
        where = f" at fan_in = {fans.fan_in} instead of {swapped_from.fan_in}"
    return (Default(1.0 / (3.0 * max(fans.fan_in, 1)), what, where),)


def _bias(s: Site, out: list[WeightPiece]) -> list[WeightPiece]:
    if getattr(s.module, "bias", None) is not None:
        out.append(s.const("bias", None))
    return out


def linear(s: Site) -> list[WeightPiece]:
    lay = KernelLayout("torch")
    f = lay.fans(tuple(s.module.weight.shape))
    return _bias(s, [s.piece("weight", "kernel", layout=lay, fans=f, defaults=_default(f))])


def conv(s: Site) -> list[WeightPiece]:
    import torch.nn as nn

    m = s.module
    transposed = isinstance(m, nn.modules.conv._ConvTransposeNd)
    lay = KernelLayout("torch", "conv_transpose" if transposed else "standard", m.groups)
    shape = tuple(m.weight.shape)
    readings: tuple = ()
    defaults = _default(lay.fans(shape))
    if m.groups > 1 and not transposed:  # torch's init functions read out·k, not out/g·k
        readings = (
            reading(
                KernelLayout("torch").fans(shape),
                "the fans PyTorch's init functions read from a grouped convolution's "
                "(out, in/groups, *k) weight (fan_out = out·k, the groups not divided out)",
            ),
        )
    if transposed:
        swapped = KernelLayout("torch").fans(shape)
        readings = (
            reading(
                swapped,
                "the swapped fans PyTorch reads from a transposed "
                "convolution's (in, out/groups, *k) weight",
            ),
        )
        defaults = _default(swapped, swapped_from=lay.fans(shape))
    piece = s.piece(
        "weight",
        "kernel",
        layout=lay,
        fans=lay.fans(shape),
        readings=readings,
        defaults=defaults,
    )
    return _bias(s, [piece])


def hf_conv1d(s: Site) -> list[WeightPiece]:
    """Hugging Face's ``Conv1D`` (GPT-2): a dense layer storing its weight (in, out); a
    packed ``c_attn`` (in, 3·in) is split into its Q, K, V column blocks."""
    n_in, n_out = (int(d) for d in s.module.weight.shape)
    lay = KernelLayout("keras")  # (in, out)
    out: list[WeightPiece] = []
    if s.path.endswith("c_attn") and n_out == 3 * n_in:
        packed = reading(Fans(n_in, n_out), f"the packed (in, 3·in) = ({n_in}, {n_out}) matrix")
        for i, q in enumerate("QKV"):
            out.append(
                s.piece(
                    "weight",
                    "kernel",
                    piece=q,
                    layout=lay,
                    fans=Fans(n_in, n_in),
                    readings=(packed,),
                    extract=lambda a, i=i: a[:, i * n_in : (i + 1) * n_in],
                )
            )
    else:
        out.append(s.piece("weight", "kernel", layout=lay, fans=Fans(n_in, n_out)))
    return _bias(s, out)


def attention(s: Site) -> list[WeightPiece]:
    m = s.module
    lay = KernelLayout("torch")
    e = m.embed_dim
    out: list[WeightPiece] = []
    for name, p in s.own().items():
        if name == "in_proj_weight":
            packed = reading(Fans(e, 3 * e), "the packed (3E, E) in_proj_weight's fans")
            xavier = (
                Default(
                    1.0 / (2 * e),
                    "PyTorch's xavier_uniform_ on the packed (3E, E) in_proj_weight: "
                    "Var = 2/(E+3E), half of per-projection Glorot",
                    f" (E = {e})",
                ),
            )
            for i, q in enumerate("QKV"):
                out.append(
                    s.piece(
                        name,
                        "kernel",
                        piece=q,
                        layout=lay,
                        fans=Fans(e, e),
                        readings=(packed,),
                        defaults=xavier,
                        extract=lambda a, i=i: _rows(a, i, e),
                    )
                )
        elif name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
            out.append(s.piece(name, "kernel", layout=lay, fans=lay.fans(tuple(p.shape))))
        elif name == "in_proj_bias":
            out.append(s.const(name, 0.0))
        elif name in ("bias_k", "bias_v"):
            out.append(s.piece(name, "embedding", layout=lay, fans=None))
        else:
            out.append(s.unknown(name, f"MultiheadAttention {name}"))
    return out


def recurrent(s: Site) -> list[WeightPiece]:
    m = s.module
    kind = type(m).__name__
    gates = GATES.get(kind)
    if gates is None or int(getattr(m, "proj_size", 0) or 0):
        return [s.unknown(n, f"{kind} with projections") for n in s.own()]
    h = m.hidden_size
    lay = KernelLayout("torch")
    defaults = (
        Default(
            1.0 / (3 * h),
            f"PyTorch's {kind} default uniform(±1/√hidden): Var = 1/(3·hidden)",
            f" at hidden = {h}",
        ),
    )
    out: list[WeightPiece] = []
    for name, p in s.own().items():
        if name.startswith("weight_ih"):
            n_in = p.shape[1]
            packed = reading(
                Fans(n_in, len(gates) * h), f"the packed ({len(gates)}·hidden, in) matrix's fans"
            )
            for i, g in enumerate(gates):
                out.append(
                    s.piece(
                        name,
                        "kernel",
                        piece=f"gate {g}",
                        layout=lay,
                        fans=Fans(n_in, h),
                        readings=(packed,),
                        defaults=defaults,
                        extract=lambda a, i=i: _rows(a, i, h),
                    )
                )
        elif name.startswith("weight_hh"):
            packed = reading(
                Fans(h, len(gates) * h), f"the packed ({len(gates)}·hidden, hidden) matrix's fans"
            )
            out.append(
                s.piece(
                    name,
                    "recurrent",
                    layout=lay,
                    fans=Fans(h, h),
                    readings=(packed,),
                    defaults=defaults,
                )
            )
        elif name.startswith("bias"):
            out.append(s.const(name, None))
        else:
            out.append(s.unknown(name, f"{kind} {name}"))
    return out


def embedding(s: Site) -> list[WeightPiece]:
    lay = KernelLayout("torch")  # rows are the embedding vectors (units)
    f = lay.fans(tuple(s.module.weight.shape))
    return [s.piece("weight", "embedding", layout=lay, fans=f)]


def norm(s: Site) -> list[WeightPiece]:
    """A norm's weight is meant 1 and its bias 0; a weight stored as an offset from 1
    (``x̂·(1 + w)``, Gemma's RMSNorm) is meant 0, which the pass measures: with every
    value 0 the norm's output still has a mean square near 1 (:data:`UNIT_MS`)."""
    out = []
    for name, p in s.own().items():
        value = _meant(name, (s.uses or {}).get(s.key(name)))
        unit = s.out_ms is not None and UNIT_MS[0] <= s.out_ms <= UNIT_MS[1]
        if value == 1.0 and unit and not bool(p.detach().ne(0).any()):
            note = (
                f"measured: with every value 0 the norm's output has mean square "
                f"{s.out_ms:.3g}, so its gain is 1 + w (an offset from 1, as Gemma's)"
            )
            out.append(s.piece(name, "constant", constant=0.0, note=note))
            continue
        if value == 1.0 and s.out_ms is None:
            why = (
                "the norm did not run in the traced pass, so whether the weight is a gain "
                "(meant 1) or an offset from 1 (meant 0, as Gemma's) was not measured: pass "
                "inputs= that reach it"
            )
            out.append(s.piece(name, "constant", constant=value, unmeasured=why))
            continue
        out.append(s.const(name, value))
    return out


def _meant(name: str, uses: Any) -> float | None:
    """What a norm's parameter is meant to hold: a gain (multiplied in) 1, a shift (added)
    0, as its traced uses show; one passed into a fused norm function
    (``F.layer_norm(x, shape, weight, bias)``) by the position its name gives."""
    ops = {u.op for u in uses or ()}
    if ops and ops <= {"mul", "__mul__", "__rmul__", "mul_"}:
        return 1.0
    if ops and ops <= ADDITIVE:
        return 0.0
    return 1.0 if name == "weight" else 0.0 if name == "bias" else None


#: a normalized output's mean square with its gain at 1 (a zero gain gives 0)
UNIT_MS = (0.25, 4.0)


BUILDERS: dict[str, Callable[[Site], list[WeightPiece]]] = {
    "Linear": linear,
    "Bilinear": linear,
    "_ConvNd": conv,
    "Conv1D": hf_conv1d,
    "MultiheadAttention": attention,
    "RNNBase": recurrent,
    "Embedding": embedding,
    "EmbeddingBag": embedding,
}


def free_parameter(s: Site, name: str, p: Any, uses: Sequence[Use] | None) -> WeightPiece:
    """A parameter set directly on a module no builder claims, read from the ops that
    consumed it in the traced pass (:func:`~initcheck.models.uses.role_from_uses`): a
    kernel (a stack of them folded into its units), a table, a bias or a scale. One the
    pass never used is read from its shape; with no traced pass (``uses`` None) it is not
    audited."""
    shape = tuple(p.shape)
    role = role_from_uses(uses or (), shape)
    if role is None and uses is None:
        return s.unknown(name, "no traced pass: its role is read from the ops that consume it")
    unmeasured = ""
    if role is None:  # the pass ran without it (a training-only mask embedding)
        role = unused_role(shape)
        unmeasured = role.why
    note = f"read from its use: {role.why}"
    if role.role == "kernel":
        layout = KernelLayout("torch")
        if role.conv:
            fans: Fans | None = layout.fans(shape)
        else:
            fans = Fans(*role.fans) if role.fans else None
        return s.piece(
            name, "kernel", layout=layout, fans=fans, extract=role.extract(), note=note,
            defaults=_default(fans) if fans else (),
        )  # fmt: skip
    zero = role.role == "table" and not bool(p.detach().ne(0).any())
    if role.role in ("embedding", "table") and not zero:
        fans = Fans(*role.fans) if role.fans else None
        return s.piece(
            name, "embedding", layout=KernelLayout("torch"), fans=fans,
            extract=role.extract(), note=note, unmeasured=unmeasured,
        )  # fmt: skip
    if zero or role.role == "offset":  # added to the signal: zero is "adds nothing yet"
        return s.piece(name, "offset", constant=None, note=note)
    return s.piece(name, "scale", constant=None, note=note)


def _builder(m: Any, call: Any) -> Callable[[Site], list[WeightPiece]] | None:
    """The builder of a module's own parameters. PyTorch's layer types (through the class
    hierarchy) fix how their parameters are laid out: which axis holds the units, which
    gates are packed. A normalization is what the traced call measures (its output
    unchanged when its input is scaled: :func:`~initcheck.models.measure.measured_role`),
    with per-channel parameters, whatever its class; a name says "norm" only where
    nothing was measured (the pass did not reach it, or a zero gain left its output 0)."""
    per_channel = all(p.dim() <= 1 or p.numel() == max(p.shape) for p in m.parameters(False))
    if call is not None and call.role == "norm" and per_channel:
        return norm
    for cls in type(m).__mro__:
        if cls.__name__ in BUILDERS:
            return BUILDERS[cls.__name__]
    named_norm = any(c.__name__ in NORMS for c in type(m).__mro__) or (
        category(type(m).__name__) == "norm"
    )
    unmeasured = call is None or call.role is None or not call.act_ms  # all-zero output
    if named_norm and per_channel and unmeasured:
        return norm  # nothing measured (not run, or a zero gain): read as its name says
    return None


def module_pieces(path: str, m: Any, trace: Trace | None) -> list[WeightPiece]:
    """The pieces of the parameters set directly on module ``m`` at ``path``."""
    call = trace.get(path) if trace is not None else None
    f = flow(trace, path)
    owner = trace.get(path.rpartition(".")[0]) if trace is not None and call is None else None
    if owner is not None and owner.kind == "MultiheadAttention" and path.endswith(".out_proj"):
        # torch's attention applies out_proj's weights itself, as its last op (its API, not
        # a call the pass sees): what follows the attention's output follows out_proj
        f = flow(trace, owner.path)
    base = dict(layer=path, layer_type=type(m).__name__, framework="torch", **_flow_fields(f))
    uses = trace.uses if trace is not None else None
    site = Site(path, m, base, call.act_ms if call is not None else None, uses)
    build = _builder(m, call)
    if build is not None:
        return build(site)
    out = []
    for name, p in site.own().items():
        own = site  # a parameter used directly by a contraction: what follows that op
        if trace is not None and trace.get(site.key(name)) is not None:
            g = flow(trace, site.key(name))
            own = Site(path, m, base | _flow_fields(g))
        out.append(
            free_parameter(own, name, p, None if uses is None else uses.get(site.key(name), []))
        )
    return out


def _flow_fields(f: Any) -> dict[str, Any]:
    return dict(
        activation=f.activation, gain=f.gain, norm=f.norm, output=f.output, branch_end=f.merge
    )
