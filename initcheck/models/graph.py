"""One traced forward/backward pass of a model, and what its data flow says about each
weight: the activation that follows it, the normalization that makes it scale-invariant,
whether it is the model's output layer, and the residual stream's points.

A framework adapter records every layer call, and every op the model's own code runs
between them, in execution order (:class:`Call`): which calls produced its inputs (matched
by tensor identity; an op it does not follow, such as a product of two signals, breaks the
chain — conservatively), the mean square of its output and the per-example squared norm of
the gradient there. What a call *is* (a norm, a nonlinearity and its :class:`Gain`, a
merge) is measured by the adapter on the batch; a class name only explains it.

This module is framework-free: it holds numbers and paths, never a framework object
(``tests/test_audit_styles.py`` checks it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from initcheck.models.layers import ACTIVATIONS, HOMOGENEOUS, category
from initcheck.models.uses import Use

#: The input scale, relative to the batch's, at which a nonlinearity's small-signal gain
#: is measured (φ'(0)² for a smooth φ).
SMALL = 1 / 64


@dataclass(frozen=True)
class Gain:
    """A nonlinearity's second-moment gain, measured on the traced batch.

    ``E[φ(z)²]/E[z²]``: the factor by which it scales the mean square of what the weight
    before it produced. A kernel keeps the next layer's input where its own input was
    when ``Var(W) = 1/(gain·fan_in)`` (He et al. 2015 for ReLU's ½; LeCun et al. 1998 for
    a gain of 1).

    Attributes:
        at_scale: the gain at the batch's own scale.
        small: the gain at :data:`SMALL` of that scale (a smooth φ's φ'(0)²): where a
            saturating φ (tanh) settles in a deep stack (Poole et al. 2016).
        se: the standard error of ``at_scale`` across the batch's examples.
        homogeneous: φ(2z) = 2φ(z) measured (ReLU, leaky ReLU): the gain does not depend
            on the scale, and a norm after φ still removes the kernel's scale.
    """

    at_scale: float
    small: float
    se: float = 0.0
    homogeneous: bool = False

    def band(self, k: float = 3.0) -> tuple[float, float]:
        """The gains the measurement admits: both ends widened by ``k`` standard errors."""
        lo, hi = sorted((self.at_scale, self.small))
        return max(lo - k * self.se, 1e-12), hi + k * self.se

    def __str__(self) -> str:
        if self.homogeneous or math.isclose(self.at_scale, self.small, rel_tol=0.02):
            return f"{self.at_scale:.3g}"
        return f"{self.at_scale:.3g} (→{self.small:.3g} at small scale)"


#: The gain of "no nonlinearity": what a weight meets when only linear ops (pass-through,
#: merges, the output) follow it in the traced pass.
LINEAR = Gain(at_scale=1.0, small=1.0, se=0.0, homogeneous=True)


def _quotient(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not (b > 0) or not math.isfinite(a) or not math.isfinite(b):
        return None
    return a / b


@dataclass
class Call:
    """One layer call of the traced pass.

    Attributes:
        path: the layer's path in the model.
        kind: the layer's class name.
        sources: paths of the (leaf) calls whose outputs it took as inputs.
        act_ms: mean square of its output.
        grad_n2: per-example squared norm of the gradient at its output.
        activation: a layer's own activation function name (an ``activation=`` argument).
        block: whether it is one of the model's repeated blocks / residual merges.
        role: what the adapter *measured* the call to be (``"activation"``, ``"norm"``,
            ``"merge"``, ``"pass"``, ``"product"`` of two signals); it overrides the
            class-name table.
        gain: a nonlinearity's measured :class:`Gain`.
        ms_in: mean square of its (main) input, where the adapter measured it.
        grad_in: per-example squared norm of the gradient at that input.
        made_by: for a module call, the call inside it that produced its output (``""``:
            the module's own op, or not recorded).
        unread: a module without weight matrices whose inner ops were not recorded and
            whose role could not be measured (several inputs: a quantizer adding the
            residual): what it does is unknown.
    """

    path: str
    kind: str
    sources: tuple[str, ...] = ()
    act_ms: float | None = None
    grad_n2: float | None = None
    activation: str | None = None
    block: bool = False
    role: str | None = None
    gain: Gain | None = None
    ms_in: float | None = None
    grad_in: float | None = None
    made_by: str = ""
    unread: bool = False

    def set_grad(self, value: float) -> None:
        self.grad_n2 = value

    @property
    def category(self) -> str:
        return self.role or category(self.kind)

    def set_grad_in(self, value: float) -> None:
        self.grad_in = value

    def pass_gains(self) -> tuple[float | None, float | None]:
        """A pass-through op's measured ``(forward, backward)`` second-moment factors:
        ``ms(out)/ms(in)`` and ``|grad in|²/|grad out|²`` (pooling, flattening, means),
        ``None`` where not measured."""
        if self.category != "pass":
            return None, None
        fwd = _quotient(self.act_ms, self.ms_in)
        return fwd, _quotient(self.grad_in, self.grad_n2)

    @property
    def act_name(self) -> str | None:
        if self.kind in ACTIVATIONS:
            return ACTIVATIONS[self.kind]
        if self.role == "activation":
            return self.kind
        return self.activation

    @property
    def homogeneous(self) -> bool:
        """Positively homogeneous (measured where the adapter measured it)."""
        if self.gain is not None:
            return self.gain.homogeneous
        return (self.act_name or "") in HOMOGENEOUS


@dataclass
class Trace:
    """Every call of one forward pass (first call per path), the paths whose outputs
    are the model's output, and a description of the input batch."""

    calls: list[Call] = field(default_factory=list)
    outputs: tuple[str, ...] = ()
    source: str = ""
    #: parameter path → the ops that consumed it (or a view of it), in forward order
    uses: dict[str, list[Use]] = field(default_factory=dict)
    #: the model's output values (an array), for the output at init
    logits: Any = None
    #: a constant parameter's path → whether its units received distinct gradients in
    #: the traced backward pass (the first step then breaks their symmetry); ``None``
    #: when the pass did not reach it
    learns: dict[str, bool | None] = field(default_factory=dict)
    #: each attention softmax of the pass: (its op's path, its normalized entropy)
    attention: list[tuple[str, float]] = field(default_factory=list)
    #: a measured normalization's per-channel parameter path → what it does to the
    #: output (:func:`~initcheck.models.measure.parameter_effect`: "gain" or "offset")
    effects: dict[str, str] = field(default_factory=dict)
    #: no backward pass was run (a meta-device model): gradients are not measured
    forward_only: bool = False

    def __post_init__(self) -> None:
        self._by_path: dict[str, Call] = {}
        self._consumers: dict[str, list[Call]] = {}
        #: repeated modules whose output the parent adds to the stream: residual branches
        self._branches: set[str] = set()

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
        repeated blocks, or its residual merges where it has no block modules."""
        return [c for c in self.calls if c.block]

    @property
    def saturating(self) -> bool:
        """Whether a measured nonlinearity of the pass saturates: its gain at the batch's
        scale is below its small-signal gain (tanh, sigmoid), beyond its error."""
        return any(
            c.gain is not None and c.gain.small - c.gain.at_scale > 3 * c.gain.se
            for c in self.calls
        )

    def keep_residual_blocks(self, unseen: frozenset[str] = frozenset()) -> None:
        """Keep as the stream's points only the repeated blocks a residual stream runs
        through, read from the recorded merges: a block whose output is an add its own
        input reaches with no weight on the way (:meth:`_output_of_merge`), or whose
        output a merge takes (``x = x + block(x)`` in the parent's code: the merge is then
        the point). A stack of alike blocks with no such add (a conv feature encoder, VGG
        stages, codec blocks that upsample before their residual units) is a plain
        chain, not a stream; the residual adds inside such a block, outside any block
        kept, are points themselves (a stage that downsamples before its residual layers).
        A block in ``unseen`` (a library module whose inner ops are not recorded) stays.
        Where no block carries a stream, the merges are the points, as in a model without
        blocks."""
        merges = {c.path for c in self.calls if c.category == "merge"}
        if not any(c.block for c in self.calls):
            return
        dropped = []
        for c in self.calls:
            if not c.block or c.path in unseen or self._output_of_merge(c, merges):
                continue
            c.block = False
            dropped.append((c.path + ".", c.path + ":"))
            for m in self._merges_after([c.path, c.made_by], merges):
                self._by_path[m].block = True
                self._branches.add(c.path)
        kept = [(c.path + ".", c.path + ":") for c in self.calls if c.block]
        for m in merges:
            call = self._by_path[m]
            inner = any(m.startswith(d) for d in dropped) and len(call.sources) == 2
            if inner and not any(m.startswith(k) for k in kept):
                call.block = True
        if not any(c.block for c in self.calls):
            for m in merges:
                self._by_path[m].block = len(self._by_path[m].sources) == 2

    def _output_of_merge(self, block: Call, merges: set[str]) -> bool:
        """Whether ``block``'s output is a residual merge: reached from the output through
        ops that weigh nothing (a norm, a nonlinearity, a reshape, later merges: a
        post-norm block's ``norm(x + f(x))``, a ResNet block's ``relu(x + f(x))``), an add
        whose two inputs part at the block's input (the skip and the branch: ``x + f(x)``,
        or a projection shortcut's ``p(x) + f(x)``). A block whose adds all part after a
        weighted op of its own (a codec block's upsampling conv, then residual units over
        its output) carries no stream across blocks. Where the adapter did not record what
        produced the output, any merge inside counts."""
        inside = (block.path + ".", block.path + ":")
        if not block.made_by:
            return any(m.startswith(inside) for m in merges)
        todo, seen = [block.made_by], set[str]()
        while todo and len(seen) < 256:
            path = todo.pop()
            call = self.get(path)
            if path in seen or call is None or not path.startswith(inside):
                continue
            seen.add(path)
            if path in merges:
                a, b = (self._ancestors(s, inside) for s in (*call.sources, "", "")[:2])
                if not a & b:
                    return True
                todo.extend(call.sources)
            elif call.category in ("pass", "norm", "activation"):
                todo.extend(call.sources)
            elif call.made_by:  # a submodule without weights of its own around the merge
                todo.append(call.made_by)
            elif call.unread or any(c.path.startswith(path + ".") for c in self.calls):
                return True  # what made the output was not seen: kept, never dropped
        return False

    def _ancestors(self, path: str, inside: tuple[str, str]) -> set[str]:
        """``path`` and the calls it was computed from, inside the block (``inside``)."""
        out: set[str] = set()
        todo = [path]
        while todo and len(out) < 512:
            p = todo.pop()
            call = self.get(p)
            if p in out or call is None or not p.startswith(inside):
                continue
            out.add(p)
            todo.extend(call.sources)
        return out

    def _merges_after(self, paths: list[str], merges: set[str]) -> list[str]:
        """The merges a module's output reaches through pass-through ops (dropout); its
        consumers name it by ``paths``: its own, or the call inside it that made it."""
        found, todo, seen = [], [p for p in paths if p], 0
        while todo and seen < 64:
            seen += 1
            for c in self.consumers(todo.pop()):
                if c.path in merges:
                    found.append(c.path)
                elif c.category == "pass":
                    todo.append(c.path)
        return found

    def in_block(self, path: str) -> bool:
        """Whether ``path`` is inside a repeated block or a residual branch module."""
        inside = [c.path + "." for c in self.calls if c.block] + [b + "." for b in self._branches]
        return any(path.startswith(p) for p in inside)


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
        gain: the measured gain of the nonlinearity that follows: :data:`LINEAR` when the
            layer ran in the traced pass and no nonlinearity follows it, ``None`` when
            nothing was measured (it did not run, or its nonlinearity could not be
            measured): ``variance="auto"`` cannot decide then.
    """

    activation: str | None = None
    norm: str = ""
    output: bool = False
    merge: bool = False
    gain: Gain | None = None


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
        if cat == "pass" or (cat == "activation" and c.homogeneous):
            deeper = _norm_after(trace, c.path, depth + 1)
            if not deeper:
                return ""
            found = found or deeper
            continue
        if _into_norms(trace, c.path, depth + 1):  # a norm's statistics: ‖x‖ of x / ‖x‖
            continue
        return ""
    return found


def _into_norms(trace: Trace, path: str, depth: int) -> bool:
    """Whether everything computed from ``path`` ends in norms (a statistic a norm divides
    by), never reaching a weight or the output otherwise."""
    consumers = trace.consumers(path)
    if not consumers or depth > 8 or path in trace.outputs:
        return False
    return all(c.category == "norm" or _into_norms(trace, c.path, depth + 1) for c in consumers)


def _activation_after(trace: Trace, path: str) -> tuple[str | None, Gain | None]:
    """The first activation along pass-through calls (and norms) after ``path``: its name
    (an explanation) and its measured gain (the deciding input), if measured."""
    call = trace.get(path)
    if call is not None and call.activation and call.activation != "linear":
        return call.activation, call.gain
    seen = 0
    while seen < 8:
        nxt = trace.consumers(path)
        if len(nxt) != 1:
            return None, None
        c = nxt[0]
        if c.category == "activation" and not (c.gain is None and c.act_name == "linear"):
            return c.act_name, c.gain
        if c.category not in ("pass", "norm", "activation"):  # an identity activation
            return None, None
        path, seen = c.path, seen + 1
    return None, None


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
    on a residual branch, or writing into the stream. A module with no consumers of its
    own has those of the call inside it that made its output (a norm ending in its act)."""
    for _ in range(32):
        nxt, call = trace.consumers(path), trace.get(path)
        if not nxt and call is not None and call.made_by:
            path = call.made_by
            continue
        if any(c.category == "merge" for c in nxt):
            return True
        if len(nxt) != 1:
            return False
        path = nxt[0].path
    return False


def flow(trace: Trace | None, path: str) -> Flow:
    """The :class:`Flow` of the layer at ``path`` (an empty one if it did not run)."""
    if trace is None:
        return Flow()
    if trace.get(path) is None:  # not called as a layer (e.g. MHA's out_proj)
        return Flow(merge=trace.in_block(path))
    activation, gain = _activation_after(trace, path)
    if activation is None and gain is None:
        gain = LINEAR  # measured: only linear ops follow
    output = _is_output(trace, path)
    merge = trace.in_block(path) or _reaches_merge(trace, path)
    if not output and not merge and not trace.consumers(path):  # used inside its parent's
        outer = _enclosing(trace, path)  # own computation (attention's q, k, v): on the
        merge = outer is not None and _reaches_merge(trace, outer)  # parent's branch
    return Flow(
        activation=activation,
        gain=gain,
        norm=_norm_after(trace, path),
        output=output,
        merge=merge,
    )


def _enclosing(trace: Trace, path: str) -> str | None:
    """The nearest recorded call whose path encloses ``path`` (``a.b`` of ``a.b.c``, or
    ``a/b`` of ``a/b/c``), else ``None``."""
    while True:
        cut = max(path.rfind("."), path.rfind("/"))
        if cut <= 0:
            return None
        path = path[:cut]
        if trace.get(path) is not None:
            return path
