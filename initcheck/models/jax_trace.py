"""Recording a JAX model's forward pass, shared by the Flax NNX and Linen adapters.

:class:`ArrayRecorder` records each call that produces a bare array (a module's
``__call__``, an activation function) as a :class:`~initcheck.models.graph.Call`, with the
calls its inputs came from; on a second pass it adds ``eps[i]`` to the i-th recorded
output, so ``jax.grad`` of the loss with respect to those zeros gives the gradient at
every output (:meth:`ArrayRecorder.set_grads`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from initcheck.models.attention import normalized_entropy, probabilities
from initcheck.models.graph import Call, Trace
from initcheck.models.measure import measured_role
from initcheck.models.outputs import first_tensor
from initcheck.models.patching import patched_functions


class ArrayRecorder:
    """Records calls into a :class:`~initcheck.models.graph.Trace` (see the module)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.producer: dict[int, str] = {}
        self.order: list[tuple[str, tuple, Any]] = []
        self.keep: list[Any] = []  # the recorded arrays, alive so their ids stay unique
        self.frames: list[set[int]] = []  # ids of what each open call's callees returned
        self.eps: list[Any] | None = None
        self.index = 0
        self.op_counts: dict[str, int] = {}  # array methods met so far (their paths)
        self.eps_ids: set[int] = set()  # the gradient pass's recorded outputs
        # whether each fused attention call of the first pass was recorded, replayed in
        # order on the gradient pass (where it may convert its inputs to new arrays)
        self.decided: list[bool] = []
        self.replay = 0
        self.quiet = 0  # > 0 while a call is re-run to measure it: nothing is recorded
        self.attending = 0  # > 0 inside a fused attention op (its entropy measured once)

    def record(
        self,
        path: str,
        kind: str,
        args: tuple,
        run: Callable[[], Any],
        again: Callable[[Any], Any] | None = None,
    ) -> Any:
        """``run()``, recorded as a call at ``path`` if it returns a bare array it made
        itself (not one a callee returned), with ``eps`` added on the gradient pass.
        ``again(z)`` re-runs an op on another input of the first argument's shape: what
        the op is is then measured (:func:`~initcheck.models.measure.measured_role`)."""
        import jax

        if self.quiet:  # a call re-run to measure another: not the model's pass
            return run()
        leaves = jax.tree_util.tree_leaves(args)
        srcs = [self.producer[id(a)] for a in leaves if id(a) in self.producer]
        self.frames.append(set())
        try:
            out = run()
        finally:
            inner = self.frames.pop()
        t = first_tensor(out)
        if t is None or not hasattr(t, "shape"):
            return out
        if id(t) not in inner and t is out:  # produced here, a bare array
            if self.eps is not None:
                import jax.numpy as jnp

                out = t = jnp.add(t, self.eps[self.index])  # not `+`: methods() patches it
                self.eps_ids.add(id(t))
                self.keep.append(t)
            else:
                self.producer[id(t)] = path
                self.keep.append(t)
                self.order.append((path, tuple(t.shape), t.dtype))
                if self.trace.get(path) is None:
                    ms = float(np.mean(np.square(np.asarray(t, dtype=np.float64))))
                    call = self.trace.add(Call(path, kind, tuple(dict.fromkeys(srcs)), ms))
                    if again is not None and args and getattr(args[0], "shape", None) == t.shape:
                        call.role, call.gain = self._measure(again, args[0], t)
            self.index += 1
        inner.add(id(t))
        if self.frames:
            self.frames[-1].update(inner)
        return out

    def begin_pass(self, eps: list[Any] | None) -> None:
        """Start the first pass (``eps`` None) or the gradient pass (its ``eps``)."""
        self.eps, self.index, self.op_counts, self.replay = eps, 0, {}, 0
        if eps is None:
            self.decided = []

    def _decide(self, recorded: Callable[[], bool]) -> bool:
        """Whether to record this fused attention call: measured on the first pass (its
        arrays come from recorded calls), replayed in order on the gradient pass."""
        if self.eps is None:
            self.decided.append(recorded())
            return self.decided[-1]
        self.replay += 1
        return self.replay <= len(self.decided) and self.decided[self.replay - 1]

    def _recorded(self, a: Any) -> bool:
        """Whether ``a`` is a recorded call's output in this pass."""
        return id(a) in (self.producer if self.eps is None else self.eps_ids)

    def _measure(self, again: Callable[[Any], Any], x: Any, out: Any) -> tuple[str | None, Any]:
        import jax.numpy as jnp

        def on_arrays(z: np.ndarray) -> np.ndarray:
            return np.asarray(first_tensor(again(jnp.asarray(z, dtype=x.dtype))), dtype=np.float64)

        self.quiet += 1
        try:
            return measured_role(on_arrays, np.asarray(x), np.asarray(out))
        except Exception:  # a call that takes no other input: its role stays unmeasured
            return None, None
        finally:
            self.quiet -= 1

    @contextmanager
    def functions(self, modules: list[Any]) -> Iterator[None]:
        """Every public function of ``modules`` (``jax.nn``, ``flax.nnx``) recorded, when
        the model's own code calls it on an array a recorded call produced, as an op
        whose role and gain are measured: ``nnx.relu(x)`` in a ``__call__``."""
        counts: dict[str, int] = {}
        busy = [False]

        def wrap(name: str, fn: Callable) -> Callable:
            def op(*args: Any, **kwargs: Any) -> Any:
                first = args[0] if args else None
                if busy[0] or self.quiet or first is None or not hasattr(first, "shape"):
                    return fn(*args, **kwargs)
                arrays = [a for a in (*args, *kwargs.values()) if hasattr(a, "shape")]
                again: Callable[[Any], Any] | None = None
                if name == "dot_product_attention":  # q, k, v: a product of signals
                    if self.eps is None and not self.attending:
                        self._fused_attention(name, args, kwargs)
                    if not self._decide(lambda: any(map(self._recorded, arrays[:3]))):
                        return fn(*args, **kwargs)
                elif not self._recorded(first) or any(a is not first for a in arrays):
                    return fn(*args, **kwargs)  # not on the signal, or two signals
                else:
                    again = lambda z: fn(z, *args[1:], **kwargs)  # noqa: E731
                counts[name] = counts.get(name, 0) + 1
                path = f":{name}#{counts[name]}"
                busy[0] = True
                self.quiet += 1  # what the function runs inside is not the model's code
                self.attending += again is None
                try:
                    value = fn(*args, **kwargs)
                finally:
                    busy[0] = False
                    self.quiet -= 1
                    self.attending -= again is None
                out = self.record(path, name, args, lambda: value, again)
                call = self.trace.get(path)
                if again is None and call is not None and self.eps is None:
                    call.role = "product"
                return out

            return op

        with patched_functions(modules, wrap):
            yield

    @contextmanager
    def methods(self) -> Iterator[None]:
        """Array methods a ``__call__`` writes, on recorded arrays, recorded: ``a + b`` of
        two of one shape as a merge (a residual add: a point of the residual stream),
        ``reshape``, ``transpose`` and ``swapaxes`` as ops that pass the signal through
        (attention's heads split and joined), each on both passes."""
        import jax
        import jax.numpy as jnp

        classes = [type(jnp.zeros(())), jax.core.Tracer]
        names = ("__add__", "__radd__", "reshape", "transpose", "swapaxes")
        saved = [(c, n, getattr(c, n)) for c in classes for n in names]

        def merge(original: Callable[..., Any]) -> Callable[..., Any]:
            def add(a: Any, b: Any) -> Any:
                same = getattr(a, "shape", None) == getattr(b, "shape", ())
                if self.quiet or a is b or not same:
                    return original(a, b)
                if not self._recorded(a) or not self._recorded(b):
                    return original(a, b)
                return self._op("add", (a, b), lambda: original(a, b), "merge")

            return add

        def view(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
            def method(a: Any, *args: Any, **kwargs: Any) -> Any:
                if self.quiet or not self._recorded(a):
                    return original(a, *args, **kwargs)
                return self._op(name, (a,), lambda: original(a, *args, **kwargs), "pass")

            return method

        for c, n, original in saved:
            setattr(c, n, merge(original) if n.startswith("__") else view(n, original))
        try:
            yield
        finally:
            for c, n, original in saved:
                setattr(c, n, original)

    def _op(self, name: str, args: tuple, run: Callable[[], Any], role: str) -> Any:
        """``run()`` recorded as the op ``name`` of ``role`` (its path by its order)."""
        self.op_counts[name] = self.op_counts.get(name, 0) + 1
        path = f":{name}#{self.op_counts[name]}"
        self.quiet += 1  # what the op runs inside is not the model's
        try:
            out = run()
        finally:
            self.quiet -= 1
        out = self.record(path, name, args, lambda: out)
        call = self.trace.get(path)
        if call is not None and self.eps is None:
            call.role, call.block = role, role == "merge" and len(call.sources) == 2
        return out

    def _fused_attention(self, name: str, args: tuple, kwargs: dict) -> None:
        """The entropy of a fused attention call's probabilities, recomputed from its
        query and key (``(batch, length, heads, head_dim)``), bias, mask and causality."""
        if len(args) < 2:
            return
        bias = kwargs.get("bias", args[3] if len(args) > 3 else None)
        mask = kwargs.get("mask", args[4] if len(args) > 4 else None)
        p = probabilities(
            np.asarray(args[0]),
            np.asarray(args[1]),
            scale=kwargs.get("scale"),
            bias=None if bias is None else np.asarray(bias),
            mask=None if mask is None else np.asarray(mask),
            causal=bool(kwargs.get("is_causal", False)),
        )
        self._entropy(name, p)

    def _entropy(self, name: str, p: np.ndarray) -> None:
        h = normalized_entropy(p)
        if h is not None:
            at = len(self.trace.attention) + 1
            self.trace.attention.append((f":{name}#a{at}", h))

    @contextmanager
    def attention_weights(self, modules: list[Any]) -> Iterator[None]:
        """Flax's ``dot_product_attention_weights`` (what ``MultiHeadAttention`` calls,
        looked up in its module at run time) wrapped in ``modules``: the probabilities it
        returns on the first pass give their normalized entropy (attention at init)."""
        saved = [(m, m.dot_product_attention_weights) for m in modules]

        def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
            def weights(*args: Any, **kwargs: Any) -> Any:
                w = fn(*args, **kwargs)
                if self.eps is None and not self.attending:
                    self._entropy("dot_product_attention_weights", np.asarray(w))
                return w

            return weights

        for m, fn in saved:
            m.dot_product_attention_weights = wrap(fn)
        try:
            yield
        finally:
            for m, fn in saved:
                m.dot_product_attention_weights = fn

    def zeros(self) -> list[Any]:
        """One zero array per recorded output: the point ``jax.grad`` differentiates at."""
        import jax.numpy as jnp

        return [jnp.zeros(shape, dtype) for _, shape, dtype in self.order]

    def set_grads(self, grads: list[Any], n: int) -> None:
        """Each path's first call gets its gradient's mean squared norm per example."""
        for (path, _, _), g in zip(self.order, grads, strict=True):
            call = self.trace.get(path)
            if call is not None and call.grad_n2 is None:
                call.set_grad(float(np.sum(np.square(np.asarray(g, dtype=np.float64)))) / n)
