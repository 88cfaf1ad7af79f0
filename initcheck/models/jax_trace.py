"""Recording a JAX model's forward pass, shared by the Flax NNX and Linen adapters.

:class:`ArrayRecorder` records each call that produces a bare array (a module's
``__call__``, an activation function) as a :class:`~initcheck.models.graph.Call`, with the
calls its inputs came from; on a second pass it adds ``eps[i]`` to the i-th recorded
output, so ``jax.grad`` of the loss with respect to those zeros gives the gradient at
every output (:meth:`ArrayRecorder.set_grads`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from initcheck.models.graph import Call, Trace
from initcheck.models.outputs import first_tensor

__all__ = ["ArrayRecorder"]


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

    def record(self, path: str, kind: str, args: tuple, run: Callable[[], Any]) -> Any:
        """``run()``, recorded as a call at ``path`` if it returns a bare array it made
        itself (not one a callee returned), with ``eps`` added on the gradient pass."""
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
                out = t = t + self.eps[self.index]
            else:
                self.producer[id(t)] = path
                self.keep.append(t)
                self.order.append((path, tuple(t.shape), t.dtype))
                if self.trace.get(path) is None:
                    ms = float(np.mean(np.square(np.asarray(t, dtype=np.float64))))
                    self.trace.add(Call(path, kind, tuple(dict.fromkeys(srcs)), ms))
            self.index += 1
        inner.add(id(t))
        if self.frames:
            self.frames[-1].update(inner)
        return out

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
