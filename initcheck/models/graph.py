"""One traced forward/backward pass of a model, and what its data flow says about each
weight: the activation that follows it, the normalization that makes it scale-invariant,
whether it is the model's output layer, and the residual stream's points.

A framework adapter records every layer call in execution order (:class:`Call`): which
calls produced its inputs (matched by tensor identity, so an op the framework does not
see as a layer, such as a functional ``x + f(x)``, breaks the chain — conservatively),
the mean square of its output and the per-example squared norm of the gradient there.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from initcheck.models.layers import ACTIVATIONS, HOMOGENEOUS, category

__all__ = ["Call", "Flow", "Trace", "flow"]


@dataclass
class Call:
    """One layer call of the traced pass.

    Attributes:
        path: the layer's path in the model.
        kind: the layer's class name.
        sources: paths of the (leaf) calls whose outputs it took as inputs.
        act_ms: mean square of its output.
        grad_n2: per-example squared norm of the gradient at its output.
        activation: a Keras layer's own activation function name (``Dense(activation=)``).
        block: whether it is one of the model's repeated blocks / residual merges.
    """

    path: str
    kind: str
    sources: tuple[str, ...] = ()
    act_ms: float | None = None
    grad_n2: float | None = None
    activation: str | None = None
    block: bool = False

    def set_grad(self, value: float) -> None:
        self.grad_n2 = value

    @property
    def category(self) -> str:
        return category(self.kind)

    @property
    def act_name(self) -> str | None:
        if self.kind in ACTIVATIONS:
            return ACTIVATIONS[self.kind]
        return self.activation


@dataclass
class Trace:
    """Every call of one forward pass (first call per path), the paths whose outputs
    are the model's output, and a description of the input batch."""

    calls: list[Call] = field(default_factory=list)
    outputs: tuple[str, ...] = ()
    source: str = ""

    def __post_init__(self) -> None:
        self._by_path: dict[str, Call] = {}
        self._consumers: dict[str, list[Call]] = {}

    def add(self, call: Call) -> Call:
        """Record ``call`` (a path already seen keeps its first call)."""
        if call.path in self._by_path:
            return self._by_path[call.path]
        self.calls.append(call)
        self._by_path[call.path] = call
        for s in call.sources:
            self._consumers.setdefault(s, []).append(call)
        return call

    def get(self, path: str) -> Call | None:
        return self._by_path.get(path)

    def consumers(self, path: str) -> list[Call]:
        return self._consumers.get(path, [])

    @property
    def blocks(self) -> list[Call]:
        """The residual stream's points in forward order: the outputs of the model's
        repeated blocks (torch) or of its residual merges (Keras ``Add``)."""
        return [c for c in self.calls if c.block]

    def in_block(self, path: str) -> bool:
        return any(path.startswith(c.path + ".") for c in self.calls if c.block)


@dataclass(frozen=True)
class Flow:
    """What a weighted layer's output meets downstream.

    Attributes:
        activation: the first activation along pass-through layers (and norms), or None.
        norm: the norm layer's class name when every path from the layer's output reaches
            a normalization through pass-through layers and homogeneous activations
            (the kernel is then scale-invariant), else ``""``.
        output: whether the layer's output is the model's output (through pass-through
            layers and a final activation only): an output head.
        merge: whether the layer sits on a residual branch: inside a repeated block, or
            its output reaches a merge (``Add``) through pass-through layers and norms.
    """

    activation: str | None = None
    norm: str = ""
    output: bool = False
    merge: bool = False


def _norm_after(trace: Trace, path: str, depth: int = 0) -> str:
    consumers = trace.consumers(path)
    if not consumers or depth > 8 or path in trace.outputs:
        return ""
    found = ""
    for c in consumers:
        cat = c.category
        if cat == "norm":
            found = found or c.kind
            continue
        if cat == "pass" or (cat == "activation" and (c.act_name or "") in HOMOGENEOUS):
            deeper = _norm_after(trace, c.path, depth + 1)
            if not deeper:
                return ""
            found = found or deeper
            continue
        return ""
    return found


def _activation_after(trace: Trace, path: str) -> str | None:
    call = trace.get(path)
    if call is not None and call.activation and call.activation != "linear":
        return call.activation
    seen = 0
    while seen < 8:
        nxt = trace.consumers(path)
        if len(nxt) != 1:
            return None
        c = nxt[0]
        if c.category == "activation":
            return c.act_name
        if c.category not in ("pass", "norm"):
            return None
        path, seen = c.path, seen + 1
    return None


def _is_output(trace: Trace, path: str) -> bool:
    seen = 0
    while seen < 8:
        if path in trace.outputs:
            return True
        nxt = trace.consumers(path)
        if len(nxt) != 1:
            return False
        c = nxt[0]
        if c.category == "pass" or (c.category == "activation" and not trace.consumers(c.path)):
            path, seen = c.path, seen + 1
            continue
        return False
    return False


def _reaches_merge(trace: Trace, path: str) -> bool:
    """Whether ``path``'s output flows, one consumer at a time, into a merge (``Add``):
    the layer is on a residual branch, or writes into the residual stream."""
    seen = 0
    while seen < 16:
        nxt = trace.consumers(path)
        if any(c.category == "merge" for c in nxt):
            return True
        if len(nxt) != 1:
            return False
        path, seen = nxt[0].path, seen + 1
    return False


def flow(trace: Trace | None, path: str) -> Flow:
    """The :class:`Flow` of the layer at ``path`` (an empty one if it did not run)."""
    if trace is None:
        return Flow()
    if trace.get(path) is None:  # not called as a layer (e.g. MHA's out_proj)
        return Flow(merge=trace.in_block(path))
    return Flow(
        activation=_activation_after(trace, path),
        norm=_norm_after(trace, path),
        output=_is_output(trace, path),
        merge=trace.in_block(path) or _reaches_merge(trace, path),
    )
