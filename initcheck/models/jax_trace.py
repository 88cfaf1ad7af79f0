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
        self.eps_ids: dict[int, int] = {}  # on the gradient pass: a recorded output's index
        self.merge_count = 0  # merges met so far in this pass (their paths)

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

                out = t = jnp.add(t, self.eps[self.index])  # not `+`: merges() patches it
                self.eps_ids[id(t)] = self.index
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

    @staticmethod
    def _measure(again: Callable[[Any], Any], x: Any, out: Any) -> tuple[str | None, Any]:
        import jax.numpy as jnp

        def on_arrays(z: np.ndarray) -> np.ndarray:
            return np.asarray(first_tensor(again(jnp.asarray(z, dtype=x.dtype))), dtype=np.float64)

        try:
            return measured_role(on_arrays, np.asarray(x), np.asarray(out))
        except Exception:  # a call that takes no other input: its role stays unmeasured
            return None, None

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
                known = id(first) in self.producer or self.eps is not None
                if busy[0] or first is None or not hasattr(first, "shape") or not known:
                    return fn(*args, **kwargs)
                if any(hasattr(a, "shape") and a is not first for a in (*args, *kwargs.values())):
                    return fn(*args, **kwargs)  # two signals: not followed
                counts[name] = counts.get(name, 0) + 1
                busy[0] = True
                try:
                    return self.record(
                        f":{name}#{counts[name]}",
                        name,
                        args,
                        lambda: fn(*args, **kwargs),
                        lambda z: fn(z, *args[1:], **kwargs),
                    )
                finally:
                    busy[0] = False

            return op

        with patched_functions(modules, wrap):
            yield

    @contextmanager
    def merges(self) -> Iterator[None]:
        """``a + b`` of two recorded arrays of one shape (a residual add written in a
        ``__call__``) recorded as a merge, a point of the residual stream; on the
        gradient pass the same adds of recorded arrays, in the same order (the forward is
        the same program), get their ``eps``."""
        import jax
        import jax.numpy as jnp

        classes = [type(jnp.zeros(())), jax.core.Tracer]
        saved = [(c, name, getattr(c, name)) for c in classes for name in ("__add__", "__radd__")]

        def wrap(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
            def add(a: Any, b: Any) -> Any:
                recorded = self.producer if self.eps is None else self.eps_ids
                if (
                    a is b
                    or id(a) not in recorded
                    or id(b) not in recorded
                    or getattr(a, "shape", None) != getattr(b, "shape", ())
                ):
                    return original(a, b)
                self.merge_count += 1
                path = f":add#{self.merge_count}"
                out = self.record(path, "add", (a, b), lambda: original(a, b))
                call = self.trace.get(path)
                if call is not None and self.eps is None:
                    call.role, call.block = "merge", len(call.sources) == 2
                return out

            return add

        for c, name, original in saved:
            setattr(c, name, wrap(original))
        try:
            yield
        finally:
            for c, name, original in saved:
                setattr(c, name, original)

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
