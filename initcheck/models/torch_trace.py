"""The PyTorch traced pass: every module call by hooks, and every op the model's own
``forward`` code runs between them by a :class:`torch.overrides.TorchFunctionMode`, so
``F.relu(x)``, ``x.relu()``, ``torch.tanh``, ``x + f(x)`` and a user-written norm class
are seen as they are written.

What an op *is* comes from measurement on the batch, never from its name
(:func:`~initcheck.models.measure.measured_role`): a normalization, a linear op, or a
nonlinearity with its measured second-moment :class:`~initcheck.models.graph.Gain`. The
names stay as explanations.

Modules from ``torch.nn`` are recorded as one call each (their inner ops are not traced),
and so is a module without weight matrices that maps one tensor to one of the same shape
(an activation or norm class): it is measured as a whole.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from initcheck._threads import CallTimeout, abandoned
from initcheck.models.attention import of_scores
from initcheck.models.graph import Call, Gain, Trace
from initcheck.models.measure import measured_role
from initcheck.models.outputs import first_tensor, float_tensors
from initcheck.models.torch_attention import attention_probs, normalized_entropy
from initcheck.models.torch_learns import identical_rows, rows_differ, units_differ
from initcheck.models.uses import INDEXING, Use

#: The path the input batch is produced by (no call has it).
INPUT = "<input>"

#: Ops recorded as residual merges (both inputs tensors of the output's shape).
_ADDS = frozenset({"add", "__add__", "__radd__", "__iadd__", "add_"})
#: ops whose operands may be swapped: a parameter or an untraced tensor first (γ * x)
_COMMUTATIVE = frozenset({"add", "__add__", "__radd__", "mul", "__mul__", "__rmul__"})


def _ms(t: Any) -> float:
    """The mean square of a tensor's values (a float32 norm: microseconds, where torch's
    elementwise ops on a loaded machine cost milliseconds)."""
    import torch

    x = t.detach()
    return float(torch.linalg.vector_norm(x.float())) ** 2 / max(x.numel(), 1)


def _role(f: Callable[[Any], Any], x: Any, out: Any) -> tuple[str, Gain | None]:
    """:func:`~initcheck.models.measure.measured_role` of a torch map, on numpy arrays."""
    import torch

    def on_arrays(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            y = f(torch.from_numpy(np.ascontiguousarray(z)).to(x.dtype))
        return first_tensor(y).detach().float().numpy()

    return measured_role(on_arrays, _numpy(x), _numpy(out))


def _numpy(t: Any) -> np.ndarray:
    return t.detach().float().cpu().numpy()


def _float_tensor(t: Any) -> bool:
    import torch

    return isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel() > 1


def _swapped(before: Any, after: Any) -> bool:
    """Whether a view swapped a non-square matrix's last two axes (a transpose, ``.T``),
    read from the shapes."""
    if len(before) < 2 or len(after) < 2 or before[-1] == before[-2]:
        return False
    return tuple(after[-2:]) == (before[-1], before[-2])


def _measurable(m: Any) -> bool:
    """A module without weight matrices (an activation, norm, dropout class)."""
    return all(p.dim() <= 1 for p in m.parameters())


def _normalizes(x: Any, out: Any) -> bool:
    """Whether an op of two signals normalized ``x``, measured: every row of its output
    (the last axis) has the same norm while ``x``'s rows do not (``x / x.norm()``)."""
    if out.shape != x.shape or out.dim() < 2 or out.shape[-1] < 2:
        return False
    rows = [t.detach().double().reshape(-1, t.shape[-1]).norm(dim=-1) for t in (x, out)]
    if rows[0].numel() < 2 or not float(rows[1].mean()) > 0:
        return False
    spread = [float(r.std() / r.mean()) if float(r.mean()) > 0 else 0.0 for r in rows]
    return spread[1] < 1e-4 and spread[0] > 100 * spread[1]


def _library(m: Any) -> bool:
    return type(m).__module__.startswith("torch.")


def trace_pass(
    model: Any,
    x: Any,
    seed: int,
    blocks: set[str],
    run: Callable[[Any], Any],
    trace: Trace,
    backward: bool = True,
) -> None:
    """Run ``run(x)`` (the model's forward) and one backward pass (unless not
    ``backward``: :attr:`Trace.forward_only`), filling ``trace``."""
    import torch
    from torch.nn.parameter import is_lazy
    from torch.overrides import TorchFunctionMode

    producer: dict[int, str] = {}
    frames: list[set[int]] = []
    where: list[str] = []
    opaque: list[bool] = []
    refs: list[Any] = []  # a traced tensor's id is forgotten when it is freed
    sources: dict[str, tuple[str, ...]] = {}
    saved: dict[str, Any] = {}
    counts: dict[str, int] = {}
    measuring = [False]
    n = int(x.shape[0]) if x.dim() else 1
    params = {id(p): name for name, p in model.named_parameters()}
    views: dict[int, tuple[str, bool]] = {}  # a view of a parameter → (its path, transposed)

    def stop() -> None:
        """Give up once the audit's timeout has passed: at the next module, op or
        gradient (an abandoned pass left running would still be inside torch at exit,
        and the interpreter's shutdown would abort the process)."""
        if abandoned():
            raise CallTimeout("the traced pass was given up (timeout)")

    def on_grad(setter: Callable[[float], None]) -> Callable[[Any], None]:
        def hook(g: Any) -> None:
            stop()
            setter(_ms(g) * g.numel() / n)

        return hook

    def hold(t: Any) -> None:
        """Follow ``t`` by its id until it is freed (then a new tensor may take the id):
        the pass holds no tensor the model's own forward and backward would free."""
        key = id(t)

        def forget(_: Any) -> None:
            producer.pop(key, None)
            views.pop(key, None)
            for frame in frames:
                frame.discard(key)

        refs.append(weakref.ref(t, forget))

    def held_by(t: Any) -> str:
        """The path of the parameter ``t`` is, or is a view of ("" if neither)."""
        return params.get(id(t)) or views.get(id(t), ("", False))[0]

    def record_uses(name: str, args: Any, kwargs: dict, out: Any) -> None:
        """Each parameter (or view of one) among an op's tensor arguments: a view if it
        is the op's only tensor input (or is indexed), else a use (:mod:`uses`)."""
        flat = [*args, *kwargs.values()]
        tensors = [a for a in flat if isinstance(a, torch.Tensor)]
        tensors += [
            t for a in flat if isinstance(a, list | tuple) for t in a if isinstance(t, torch.Tensor)
        ]
        found = [(i, a) for i, a in enumerate(tensors) if id(a) in params or id(a) in views]
        if not found or any(is_lazy(a) for _, a in found):  # a lazy layer's own setup
            return
        i, a = found[0]
        path, flipped = views.get(id(a), (params.get(id(a), ""), False))
        built = len(found) == len(tensors) > 1  # a weight built from parameters alone
        if built:  # (weight_norm's v and g): a view of the first, a use of the others
            for j, b in found[1:]:
                other = views.get(id(b), (params.get(id(b), ""), False))
                trace.uses.setdefault(other[0], []).append(Use(name, j, other[1]))
        if len(tensors) == 1 or built or (i == 0 and name in INDEXING):
            outs = out if isinstance(out, list | tuple) else (out,)
            for o in outs:
                if isinstance(o, torch.Tensor):
                    hold(o)
                    views[id(o)] = (path, flipped ^ _swapped(a.shape, o.shape))
            return
        for i, a in found:
            path, flipped = views.get(id(a), (params.get(id(a), ""), False))
            trace.uses.setdefault(path, []).append(Use(name, i, flipped))

    def produced(t: Any, path: str) -> None:
        hold(t)
        producer[id(t)] = path
        if frames:
            frames[-1].add(id(t))

    def guarded(body: Callable[[Any], None]) -> Callable[..., None]:
        """A hook running ``body`` on its last argument (a pre-hook's args, a hook's
        output); the hook's own tensor ops, and our re-runs, are not the model's."""

        def hook(_m: Any, *rest: Any) -> None:
            if measuring[0]:
                return
            measuring[0] = True
            try:
                body(rest[-1])
            finally:
                measuring[0] = False

        return hook

    def pre(name: str, m: Any) -> Callable[..., None]:
        candidate = _library(m) or _measurable(m)

        def body(args: Any) -> None:
            stop()
            frames.append(set())
            where.append(name)
            opaque.append(candidate)
            srcs = []
            tensors = [a for a in (args if isinstance(args, tuple) else (args,))]
            for a in tensors:
                t = first_tensor(a)
                if t is not None and id(t) in producer:
                    srcs.append(producer[id(t)])
            sources[name] = tuple(dict.fromkeys(srcs))
            one = [a for a in tensors if isinstance(a, torch.Tensor)]
            if _measurable(m) and len(one) == 1 and len(tensors) == 1 and _float_tensor(one[0]):
                saved[name] = one[0].detach().clone()

        return guarded(body)

    def post(name: str, m: Any) -> Callable[..., None]:
        kind = type(m).__name__

        def body(out: Any) -> None:
            inner = frames.pop() if frames else set()
            where.pop()
            opaque.pop()
            x_in = saved.pop(name, None)
            x_in_saved = x_in is not None
            t = first_tensor(out)
            if t is None:
                return
            hold(t)
            made_by = producer.get(id(t), "") if id(t) in inner else ""
            path = name
            if trace.get(name) is not None:
                if not x_in_saved:  # a module with weights: its first call stands for it
                    _link(t, name, inner)
                    return
                counts[name] = counts.get(name, 1) + 1  # a shared activation module, reused
                path = f"{name}#{counts[name]}"
            _link(t, path, inner)
            role, gain = None, None
            if x_in is not None and isinstance(out, torch.Tensor) and out.shape == x_in.shape:
                role, gain = _role(m, x_in, out)
            call = trace.add(
                Call(
                    path,
                    kind,
                    sources.get(name, ()),
                    _ms(t),
                    block=name in blocks,
                    role=role,
                    gain=gain,
                    made_by=made_by,
                    unread=role is None and _measurable(m),
                )
            )
            if t.requires_grad:
                t.register_hook(on_grad(call.set_grad))

        return guarded(body)

    def _link(t: Any, path: str, inner: set[int]) -> None:
        if id(t) not in inner:  # produced here, not by a submodule or an op
            producer[id(t)] = path
        inner.add(id(t))
        if frames:
            frames[-1].update(inner)

    def op_call(
        path: str, kind: str, srcs: tuple[str, ...], out: Any, x: Any = None, **kw: Any
    ) -> None:
        call = trace.add(Call(path, kind, srcs, _ms(out), **kw))
        produced(out, path)
        if call.category == "pass" and x is not None and x is not out:
            call.ms_in = _ms(x)
            if out.requires_grad and x.requires_grad:
                out.register_hook(on_grad(call.set_grad))
                x.register_hook(on_grad(call.set_grad_in))

    class Ops(TorchFunctionMode):
        """Records the ops a model's own forward code runs between module calls."""

        def __torch_function__(
            self, func: Any, types: Any, args: Any = (), kwargs: Any = None
        ) -> Any:
            kwargs = kwargs or {}
            stop()
            if measuring[0] or not args:
                return func(*args, **kwargs)
            if opaque and opaque[-1]:  # a library module's own ops: only its parameters'
                out = func(*args, **kwargs)
                record_uses(getattr(func, "__name__", str(func)), args, kwargs, out)
                return out
            first = args[0]
            tracked = isinstance(first, torch.Tensor) and id(first) in producer
            x_before = first.detach().clone() if tracked and _float_tensor(first) else None
            out = func(*args, **kwargs)
            name = getattr(func, "__name__", str(func))
            record_uses(name, args, kwargs, out)
            second = args[1] if len(args) == 2 else None
            if (
                not tracked
                and name in _COMMUTATIVE
                and isinstance(second, torch.Tensor)
                and id(second) in producer
            ):
                args, first, tracked = (second, args[0]), second, True  # γ * x: follow x
                x_before = second.detach().clone() if _float_tensor(second) else None
            if isinstance(out, torch.Tensor) and _float_tensor(out):
                with torch.no_grad():
                    probs = attention_probs(name, args, kwargs, out)
                    if name == "softmax" and not of_scores(trace, producer.get(id(first), "")):
                        probs = None  # a softmax over a layer's outputs (a router), not keys
                    h = None if probs is None else normalized_entropy(probs)
                if h is not None:
                    at = len(trace.attention) + 1
                    trace.attention.append((f"{where[-1] if where else ''}:{name}#a{at}", h))
            if not isinstance(out, torch.Tensor) or not _float_tensor(out):
                return out
            if not tracked and isinstance(first, list | tuple):  # torch.cat([cls, x])
                srcs = tuple(
                    dict.fromkeys(
                        producer[id(t)]
                        for t in first
                        if isinstance(t, torch.Tensor) and id(t) in producer
                    )
                )
                if srcs:
                    counts[name] = counts.get(name, 0) + 1
                    path = f"{where[-1] if where else ''}:{name}#{counts[name]}"
                    op_call(path, name, srcs, out, role="pass")
                return out
            if not tracked:
                return out
            counts[name] = counts.get(name, 0) + 1
            path = f"{where[-1] if where else ''}:{name}#{counts[name]}"
            others = [a for a in args[1:] if isinstance(a, torch.Tensor)]
            others += [v for v in kwargs.values() if isinstance(v, torch.Tensor)]
            if name in _ADDS and len(others) == 1 and others[0].shape == out.shape:
                srcs = tuple(
                    dict.fromkeys(producer[id(t)] for t in (first, others[0]) if id(t) in producer)
                )
                # without repeated block modules, the merges are the stream's points
                op_call(path, "add", srcs, out, role="merge", block=not blocks and len(srcs) == 2)
                return out
            if name in _ADDS and len(others) == 1:  # x + a table broadcast over it
                srcs = tuple(
                    dict.fromkeys(producer[id(t)] for t in (first, others[0]) if id(t) in producer)
                )
                op_call(path, "add", srcs, out, first, role="pass")
                return out
            if any(o.dim() > 1 for o in others):  # a contraction, or two signals' product
                held = next((held_by(o) for o in others if held_by(o)), "")
                if held and trace.get(held) is None:  # a parameter's first use: its node
                    op_call(held, name, (producer[id(first)],), out)
                elif not held:  # two signals (x / ‖x‖, q·kᵀ, a gate): a consumer of each
                    srcs = (
                        producer[id(first)],
                        *(producer[id(o)] for o in others if id(o) in producer),
                    )
                    if len(srcs) > 1:
                        role = "norm" if _normalizes(first, out) else "product"
                        op_call(path, name, tuple(dict.fromkeys(srcs)), out, role=role)
                return out
            role, gain = "pass", None
            if x_before is not None and out.shape == x_before.shape:

                def again(z: Any) -> Any:
                    return func(z, *args[1:], **kwargs)

                role, gain = _role(again, x_before, out)
            op_call(path, name, (producer[id(first)],), out, first, role=role, gain=gain)
            return out

    handles = []
    for name, m in model.named_modules():
        if not name:
            continue
        handles.append(m.register_forward_pre_hook(pre(name, m)))
        handles.append(m.register_forward_hook(post(name, m)))
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        hold(x)
        producer[id(x)] = INPUT  # the forward's own ops on its input are the model's too
    try:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            with Ops():
                raw = run(x)
            out = first_tensor(raw)
            if out is None:
                raise ValueError(f"{type(model).__name__}'s forward returned no floating tensor.")
            # the output the audit measures first, then the model's other outputs
            made = [producer.get(id(t)) for t in (out, *float_tensors(raw))]
            trace.outputs = tuple(dict.fromkeys(p for p in made if p))
            if id(out) not in producer:
                trace.outputs = ("", *trace.outputs)  # the measured output is not traced
            trace.logits = _numpy(out)
            gen = torch.Generator().manual_seed(seed + 1)
            r = torch.randn(out.shape, generator=gen, dtype=out.dtype)
            # the parameters make autograd run through every recorded output, also
            # one a later in-place op (ReLU(inplace=True)) rebased, whose hooks then
            # read its gradient; .grad stays untouched. Asking for the outputs' own
            # gradients would hold them all at once: every activation again
            named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
            wanted = [p for _, p in named]
            trace.forward_only = not backward
            if wanted and out.requires_grad and backward:
                got = torch.autograd.grad((out * r).sum(), wanted, allow_unused=True)
                for (key, p), g in zip(named, got, strict=True):
                    if p.numel() > 1 and bool((p == p.flatten()[0]).all()):
                        trace.learns[key] = None if g is None else units_differ(g)
                    elif (twins := identical_rows(p)) is not None:  # units alike
                        trace.learns[key] = None if g is None else rows_differ(g, twins)
    finally:
        for h in handles:
            h.remove()
        for held in (refs, saved):  # the hooks' closures form cycles: free now
            held.clear()
    # a library block's own ops are not recorded (a container's children are)
    modules = dict(model.named_modules())
    generic = (torch.nn.Sequential, torch.nn.ModuleList, torch.nn.ModuleDict)
    unseen = (b for b in blocks if _library(modules[b]) and not isinstance(modules[b], generic))
    trace.keep_residual_blocks(frozenset(unseen))
