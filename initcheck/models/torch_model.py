"""PyTorch models: every parameter as :class:`~initcheck.models.records.WeightPiece` rows,
fresh draws under a seed, and the model's own signal at init.

A model given as a zero-arg factory is rebuilt under ``torch.manual_seed(seed)`` for each
draw. A model given as an instance is deep-copied once and re-initialized under the seed
by calling ``reset_parameters()`` (and ``_reset_parameters()``) on every submodule,
children before parents (the order of construction).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from initcheck.fans import Fans, KernelLayout
from initcheck.models.records import WeightPiece
from initcheck.models.rules import reading
from initcheck.models.signal import LayerSignal

__all__ = [
    "is_torch_model",
    "own_values",
    "pieces",
    "signal",
    "snapshotter",
    "torch_own_values",
    "torch_pieces",
    "torch_signal",
    "torch_snapshotter",
]

NORMS = ("BatchNorm", "LayerNorm", "GroupNorm", "InstanceNorm", "RMSNorm", "LocalResponseNorm")
ACTIVATIONS = {
    "ReLU": "relu",
    "ReLU6": "relu6",
    "LeakyReLU": "leaky_relu",
    "ELU": "elu",
    "SELU": "selu",
    "GELU": "gelu",
    "SiLU": "silu",
    "Mish": "mish",
    "PReLU": "prelu",
    "RReLU": "rrelu",
    "CELU": "celu",
    "Hardswish": "hardswish",
    "Softplus": "softplus",
    "Tanh": "tanh",
    "Sigmoid": "sigmoid",
    "Identity": "identity",
    "Softmax": "softmax",
    "Hardtanh": "hardtanh",
    "Softsign": "softsign",
    "Hardsigmoid": "hard_sigmoid",
}
PASS_THROUGH = ("Dropout", "Pool", "Flatten", "Unflatten", *NORMS)
GATES = {"LSTM": ("i", "f", "g", "o"), "GRU": ("r", "z", "n"), "RNN": ("h",)}


def is_torch_model(obj: Any) -> bool:
    """Whether ``obj`` is a ``torch.nn.Module`` (without importing torch)."""
    return any(
        c.__module__.startswith("torch.nn") and c.__name__ == "Module" for c in type(obj).__mro__
    )


def _rows(a: np.ndarray, i: int, n: int) -> np.ndarray:
    return a[i * n : (i + 1) * n]


def _default(fans: Fans, what: str = "") -> tuple[tuple[float, str], ...]:
    """PyTorch's default init of Linear and Conv weights: ``kaiming_uniform_(a=√5)``, i.e.
    Var = 1/(3·fan_in) with PyTorch's own fan_in."""
    return (
        (
            1.0 / (3.0 * max(fans.fan_in, 1)),
            f"PyTorch's default init Var = 1/(3·fan_in) = 1/(3·{fans.fan_in}){what} "
            "(kaiming_uniform_ with a=√5)",
        ),
    )


def _following_activation(leaves: list[tuple[str, Any]], index: int) -> str | None:
    for _, m in leaves[index + 1 :]:
        kind = type(m).__name__
        if kind in ACTIVATIONS:
            return ACTIVATIONS[kind]
        if not any(p in kind for p in PASS_THROUGH):
            return None
    return None


def _module_pieces(path: str, m: Any, activation: str | None) -> list[WeightPiece]:
    kind = type(m).__name__
    own = dict(m.named_parameters(recurse=False))
    base = dict(layer=path, layer_type=kind, framework="torch", activation=activation)
    out: list[WeightPiece] = []

    def key(name: str) -> str:
        return f"{path}.{name}" if path else name

    def const(name: str, value: float | None) -> WeightPiece:
        return WeightPiece(param=name, role="constant", key=key(name), constant=value, **base)

    def unknown(name: str, what: str) -> WeightPiece:
        return WeightPiece(
            param=name, role="unknown", key=key(name), note=f"not audited ({what})", **base
        )

    import torch.nn as nn

    if isinstance(m, nn.Linear):
        lay = KernelLayout("torch")
        shape = tuple(m.weight.shape)
        out.append(
            WeightPiece(
                param="weight",
                role="kernel",
                key=key("weight"),
                layout=lay,
                fans=lay.fans(shape),
                defaults=_default(lay.fans(shape)),
                **base,
            )
        )
        if m.bias is not None:
            out.append(const("bias", None))
        return out
    if isinstance(m, nn.modules.conv._ConvNd):
        transposed = isinstance(m, nn.modules.conv._ConvTransposeNd)
        lay = KernelLayout("torch", "conv_transpose" if transposed else "standard", m.groups)
        shape = tuple(m.weight.shape)
        readings: tuple = ()
        defaults = _default(lay.fans(shape))
        if transposed:
            swapped = KernelLayout("torch").fans(shape)
            readings = (
                reading(
                    swapped,
                    "the swapped fans PyTorch reads from a transposed "
                    "convolution's (in, out/groups, *k) weight",
                ),
            )
            defaults = _default(
                swapped,
                f" with the swapped fan: fan_in read as out·k = "
                f"{swapped.fan_in} instead of in·k = {lay.fans(shape).fan_in}",
            )
        out.append(
            WeightPiece(
                param="weight",
                role="kernel",
                key=key("weight"),
                layout=lay,
                fans=lay.fans(shape),
                readings=readings,
                defaults=defaults,
                **base,
            )
        )
        if m.bias is not None:
            out.append(const("bias", None))
        return out
    if isinstance(m, nn.MultiheadAttention):
        lay = KernelLayout("torch")
        e = m.embed_dim
        for name, p in own.items():
            if name == "in_proj_weight":
                packed = reading(Fans(e, 3 * e), "the packed (3E, E) in_proj_weight's fans")
                xavier = (
                    (
                        1.0 / (2 * e),
                        f"PyTorch's xavier_uniform_ on the packed (3E, E) = "
                        f"({3 * e}, {e}) in_proj_weight: Var = 2/(E+3E), half of per-projection "
                        "Glorot",
                    ),
                )
                for i, q in enumerate("QKV"):
                    out.append(
                        WeightPiece(
                            param=name,
                            piece=q,
                            role="kernel",
                            key=key(name),
                            layout=lay,
                            fans=Fans(e, e),
                            readings=(packed,),
                            defaults=xavier,
                            extract=lambda a, i=i: _rows(a, i, e),
                            **base,
                        )
                    )
            elif name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                out.append(
                    WeightPiece(
                        param=name,
                        role="kernel",
                        key=key(name),
                        layout=lay,
                        fans=lay.fans(tuple(p.shape)),
                        **base,
                    )
                )
            elif name == "in_proj_bias":
                out.append(const(name, 0.0))
            else:
                out.append(unknown(name, f"MultiheadAttention {name}"))
        return out
    if isinstance(m, nn.modules.rnn.RNNBase) and kind in GATES:
        gates = GATES[kind]
        h = m.hidden_size
        lay = KernelLayout("torch")
        base["defaults"] = (
            (
                1.0 / (3 * h),
                f"PyTorch's {kind} default uniform(±1/√hidden): Var = 1/(3·hidden) = 1/(3·{h})",
            ),
        )
        for name, p in own.items():
            if name.startswith("weight_ih"):
                n_in = p.shape[1]
                packed = reading(
                    Fans(n_in, len(gates) * h),
                    f"the packed ({len(gates)}·hidden, in) matrix's fans",
                )
                for i, g in enumerate(gates):
                    out.append(
                        WeightPiece(
                            param=name,
                            piece=f"gate {g}",
                            role="kernel",
                            key=key(name),
                            layout=lay,
                            fans=Fans(n_in, h),
                            readings=(packed,),
                            extract=lambda a, i=i: _rows(a, i, h),
                            **base,
                        )
                    )
            elif name.startswith("weight_hh"):
                packed = reading(
                    Fans(h, len(gates) * h),
                    f"the packed ({len(gates)}·hidden, hidden) matrix's fans",
                )
                out.append(
                    WeightPiece(
                        param=name,
                        role="recurrent",
                        key=key(name),
                        layout=lay,
                        fans=Fans(h, h),
                        readings=(packed,),
                        **base,
                    )
                )
            elif name.startswith("bias"):
                out.append(const(name, None))
            else:
                out.append(unknown(name, f"{kind} {name}"))
        return out
    if isinstance(m, nn.Embedding):
        lay = KernelLayout("torch")  # rows are the embedding vectors (units)
        out.append(
            WeightPiece(
                param="weight",
                role="embedding",
                key=key("weight"),
                layout=lay,
                fans=lay.fans(tuple(m.weight.shape)),
                **base,
            )
        )
        return out
    if any(n in kind for n in NORMS):
        for name in own:
            out.append(const(name, 1.0 if name == "weight" else 0.0 if name == "bias" else None))
        return out
    for name in own:
        out.append(unknown(name, f"unknown layer type {kind}"))
    return out


def torch_pieces(model: Any) -> list[WeightPiece]:
    """One :class:`WeightPiece` per parameter (per gate/projection of packed ones)."""
    modules = list(model.named_modules())
    leaves = [(n, m) for n, m in modules if not list(m.children())]
    index = {n: i for i, (n, _) in enumerate(leaves)}
    pieces: list[WeightPiece] = []
    for path, m in modules:
        if not list(m.named_parameters(recurse=False)):
            continue
        act = _following_activation(leaves, index[path]) if path in index else None
        pieces.extend(_module_pieces(path, m, act))
    return pieces


def _params(model: Any) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().double().numpy().copy() for k, v in model.named_parameters()}


def _reinit(model: Any) -> None:
    def visit(m: Any) -> None:
        for child in m.children():
            visit(child)
        for fn in ("reset_parameters", "_reset_parameters"):
            if callable(getattr(m, fn, None)):
                getattr(m, fn)()
                break

    visit(model)


def torch_snapshotter(model: Any, factory: Callable[[], Any] | None) -> Callable[[int], dict]:
    """``snapshot(seed) -> {parameter name: float64 array}`` of a fresh draw under ``seed``."""
    import torch

    work = None if factory is not None else copy.deepcopy(model)

    def snapshot(seed: int) -> dict[str, np.ndarray]:
        with torch.no_grad():
            state = torch.random.get_rng_state()
            try:
                torch.manual_seed(seed)
                if factory is not None:
                    return _params(factory())
                _reinit(work)
                return _params(work)
            finally:
                torch.random.set_rng_state(state)

    return snapshot


def torch_own_values(model: Any) -> dict[str, np.ndarray]:
    """The instance's own parameter values."""
    return _params(model)


def _default_input(model: Any, batch: int, seed: int) -> Any:
    import torch
    import torch.nn as nn

    g = torch.Generator().manual_seed(seed)
    for _, m in model.named_modules():
        if isinstance(m, nn.Linear):
            if m.in_features == 784:
                from initcheck.mnist import load_mnist

                return torch.from_numpy(load_mnist().x_train[:batch].copy())
            return torch.randn(batch, m.in_features, generator=g)
        if isinstance(m, nn.modules.conv._ConvNd):
            n = len(m.kernel_size)
            return torch.randn(batch, m.in_channels, *([32] * n), generator=g)
        if isinstance(m, nn.Embedding):
            return torch.randint(0, m.num_embeddings, (batch, 16), generator=g)
        if isinstance(m, nn.modules.rnn.RNNBase):
            dims = (batch, 8) if m.batch_first else (8, batch)
            return torch.randn(*dims, m.input_size, generator=g)
        if list(m.parameters(recurse=False)):
            break
    raise ValueError(
        f"Cannot build a default input for {type(model).__name__}: pass inputs=... "
        "(a batch the model accepts)."
    )


def torch_signal(
    model: Any, layers: list[str], inputs: Any, seed: int, batch: int = 32
) -> tuple[list[LayerSignal], str]:
    """Forward and backward one batch through a copy of ``model`` (train mode).

    Returns:
        Per weighted layer (in forward order): the second moment of its output and the
        per-example squared norm of the gradient at its output; and a description of the
        input batch.
    """
    import torch

    work = copy.deepcopy(model).train()
    x = inputs if inputs is not None else _default_input(work, batch, seed)
    what = (
        "the given inputs" if inputs is not None else f"a default batch of shape {tuple(x.shape)}"
    )
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.is_floating_point():
        x = x.to(next(work.parameters()).dtype)
    record: dict[str, LayerSignal] = {}
    order: list[str] = []
    handles = []
    wanted = set(layers)

    def hook(name: str, kind: str) -> Callable[..., None]:
        def fwd(_m: Any, _inp: Any, out: Any) -> None:
            t = out[0] if isinstance(out, tuple) else out
            if not isinstance(t, torch.Tensor) or name in record:
                return
            n = t.shape[0] if t.dim() else 1
            record[name] = LayerSignal(name, kind, float(t.detach().double().pow(2).mean()))
            order.append(name)
            if t.requires_grad:
                t.register_hook(lambda g: record[name].set_grad(float(g.double().pow(2).sum()) / n))

        return fwd

    for name, m in work.named_modules():
        if name in wanted:
            handles.append(m.register_forward_hook(hook(name, type(m).__name__)))
    try:
        gen = torch.Generator().manual_seed(seed + 1)
        out = work(x)
        out = out[0] if isinstance(out, tuple) else out
        r = torch.randn(out.shape, generator=gen, dtype=out.dtype)
        (out * r).sum().backward()
    finally:
        for h in handles:
            h.remove()
    return [record[n] for n in order], what


# The adapter interface :mod:`initcheck.models.core` calls (same in keras_model).
pieces = torch_pieces
snapshotter = torch_snapshotter
own_values = torch_own_values
signal = torch_signal
