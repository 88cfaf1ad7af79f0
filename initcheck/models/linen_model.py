"""The Flax Linen :class:`~initcheck.models.adapter.ModelAdapter`.

A Linen module is a definition: its parameters exist only once ``module.init(key, x)``
has run on a batch. So a Linen model is audited from the module **and** ``inputs=``:

- each draw is ``module.init`` under a fresh key (the module is its own factory);
- pieces: ``Dense``/``DenseGeneral``/``Conv``/``ConvTranspose`` kernels in Flax's
  (…, in, out) layout, ``Embed`` tables, biases and norms' scale and bias as constants;
- trace: every submodule's ``__call__`` is recorded with ``nn.intercept_methods``, and the
  gradient at each output comes from ``jax.grad`` of the loss with respect to a zero added
  to that output; BatchNorm statistics are updated in a copy (``mutable=True``), dropout
  gets a key. Activation functions called through ``flax.linen`` or ``jax.nn``
  (``nn.relu(x)``, ``jax.nn.gelu(x)``) are recorded too, by their name.

Example:
    >>> initcheck.audit(MLP(), inputs=x, variance="he")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from initcheck.models.draws import FLAX_RESEED, Way, native
from initcheck.models.flax_model import flax_piece
from initcheck.models.graph import Trace
from initcheck.models.jax_trace import ArrayRecorder
from initcheck.models.layers import ACTIVATIONS
from initcheck.models.outputs import first_tensor
from initcheck.models.records import WeightPiece


def is_linen(obj: Any) -> bool:
    """Is ``obj`` a Flax Linen module (checked without importing Flax)?"""
    return any(
        c.__name__ == "Module" and c.__module__.startswith("flax.linen") for c in type(obj).__mro__
    )


@dataclass
class LinenModel:
    """A Linen module with the variables ``module.init`` gave it on ``inputs``, and the
    class name of the module at each path."""

    module: Any
    variables: Any
    inputs: Any
    kinds: dict[str, Any] = field(default_factory=dict)


@contextmanager
def _intercept(visit: Callable[[Any, Callable[..., Any], tuple, dict], Any]) -> Iterator[None]:
    import flax.linen as nn

    def interceptor(next_fun: Callable[..., Any], args: tuple, kwargs: dict, ctx: Any) -> Any:
        if ctx.method_name != "__call__" or not ctx.module.path:
            return next_fun(*args, **kwargs)
        return visit(ctx.module, next_fun, args, kwargs)

    with nn.intercept_methods(interceptor):
        yield


def _path(module: Any) -> str:
    return ".".join(str(p) for p in module.path)


def _init(module: Any, inputs: Any, key: Any) -> LinenModel:
    import jax

    kinds: dict[str, Any] = {}

    def visit(m: Any, next_fun: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        kinds.setdefault(_path(m), m)
        return next_fun(*args, **kwargs)

    with _intercept(visit):
        variables = module.init({"params": key, "dropout": jax.random.fold_in(key, 1)}, inputs)
    kinds[""] = module  # the root's own parameters (a bare nn.Dense)
    return LinenModel(module, variables, inputs, kinds)


def linen_factory(module: Any, inputs: Any) -> Callable[[Any], LinenModel]:
    """A factory ``f(rngs) -> LinenModel`` that initializes ``module`` on ``inputs``
    under the key ``rngs()`` (the Flax adapter calls it with ``nnx.Rngs(seed)``)."""
    if inputs is None:
        raise ValueError(
            f"A Flax Linen module ({type(module).__name__}) has no parameters until it is "
            "initialized on a batch: pass inputs=... (a batch the module accepts), e.g. "
            "audit(MLP(), inputs=jnp.ones((8, 784)))."
        )
    import jax.numpy as jnp

    x = jnp.asarray(np.asarray(inputs))

    def build(rngs: Any) -> LinenModel:
        return _init(module, x, rngs())

    build.__name__ = f"{type(module).__name__}.init"
    return build


def _leaves(tree: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(tree, "items"):
        for k, v in tree.items():
            yield from _leaves(v, (*prefix, str(k)))
    else:
        yield prefix, tree


def _params(model: LinenModel) -> list[tuple[str, str, Any]]:
    """``(module path, parameter name, array)`` in init order."""
    return [(".".join(p[:-1]), p[-1], a) for p, a in _leaves(model.variables.get("params", {}))]


class LinenAdapter:
    """Flax Linen models, as :class:`LinenModel` (see :func:`linen_factory`)."""

    name = "linen"
    reseed = FLAX_RESEED
    measures_learning = False

    def write_fix(self, members: Any, rows: Any) -> None:
        """No fix: Linen keeps its parameters outside the module (``variables``), so there
        is no built model to draw into; build with the rule's ``kernel_init``."""
        return None

    def fixed(self, model: Any, fixes: Any, paths: Any, instance: bool) -> Any:
        raise ValueError("A Flax Linen model has no fix to apply (its findings carry none).")

    def detects(self, obj: Any) -> bool:
        return isinstance(obj, LinenModel)

    def build(self, factory: Callable[..., Any], seed: int) -> Any:
        return factory()  # a Linen factory is seeded by the NNX adapter's nnx.Rngs(seed)

    def pieces(self, model: LinenModel, trace: Trace | None) -> list[WeightPiece]:
        return [
            flax_piece(path, name, tuple(np.shape(a)), model.kinds.get(path), trace)
            for path, name, a in _params(model)
        ]

    def own_values(self, model: LinenModel) -> dict[str, np.ndarray]:
        return {
            (f"{path}.{name}" if path else name): native(np.asarray(a))
            for path, name, a in _params(model)
        }

    def ways(self, model: LinenModel) -> dict[str, list[Way]]:
        return {}  # Linen layers keep no initializer objects: the module is re-initialized

    def trace(self, model: LinenModel, inputs: Any, seed: int) -> Trace:
        import jax
        import jax.numpy as jnp

        x = model.inputs if inputs is None else jnp.asarray(np.asarray(inputs))
        trace = Trace(source="the given inputs")
        rec = _Recorder(trace)
        key = jax.random.PRNGKey(seed)
        nn_attention = importlib.import_module("flax.linen.attention")

        def run() -> Any:
            rec.begin_pass(rec.eps)
            rec.used = {}
            out, _ = model.module.apply(model.variables, x, rngs={"dropout": key}, mutable=True)
            return first_tensor(out)

        with rec.patched(), rec.methods(), rec.attention_weights([nn_attention]):
            out = run()
            if out is None:
                raise ValueError(f"{type(model.module).__name__} returned no floating array.")
            trace.outputs = (rec.producer[id(out)],) if id(out) in rec.producer else ()
            trace.logits = np.asarray(out)
            r = jax.random.normal(jax.random.PRNGKey(seed + 1), out.shape, out.dtype)

            def loss(eps: list[Any]) -> Any:
                rec.eps = eps
                try:
                    return jnp.sum(run() * r)
                finally:
                    rec.eps = None

            grads = jax.grad(loss)(rec.zeros())
        rec.set_grads(grads, int(x.shape[0]))
        return trace


class _Recorder(ArrayRecorder):
    """Records each submodule call and each activation function (``nn.relu``, ``jax.nn.gelu``,
    …, patched on ``flax.linen`` and ``jax.nn`` while tracing), and adds ``eps[i]`` to
    the i-th recorded output."""

    def __init__(self, trace: Trace) -> None:
        super().__init__(trace)
        self.paths: list[str] = []  # the open calls' paths: an activation's parent
        self.used: dict[str, int] = {}

    def record(
        self,
        path: str,
        kind: str,
        args: tuple,
        run: Callable[[], Any],
        again: Callable[[Any], Any] | None = None,
    ) -> Any:
        self.paths.append(path)
        try:
            return super().record(path, kind, args, run, again)
        finally:
            self.paths.pop()

    def _function(self, name: str, f: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            if self.paths and self.paths[-1].endswith(f".{name}"):  # nn.gelu -> jax.nn.gelu
                return f(*args, **kwargs)
            parent = self.paths[-1] if self.paths else ""
            base = f"{parent}.{name}" if parent else name
            k = self.used[base] = self.used.get(base, -1) + 1
            path = base if k == 0 else f"{base}_{k}"
            return self.record(
                path,
                name,
                args,
                lambda: f(*args, **kwargs),
                again=lambda z: f(z, *args[1:], **kwargs),  # its role and gain measured
            )

        return call

    @contextmanager
    def patched(self) -> Iterator[None]:
        import flax.linen as nn
        import jax

        names = [n for n in ACTIVATIONS if n.islower()]
        saved = [
            (mod, n, getattr(mod, n)) for mod in (nn, jax.nn) for n in names if hasattr(mod, n)
        ]
        for mod, n, f in saved:
            setattr(mod, n, self._function(n, f))

        def visit(m: Any, next_fun: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
            return self.record(_path(m), type(m).__name__, args, lambda: next_fun(*args, **kwargs))

        try:
            with _intercept(visit):
                yield
        finally:
            for mod, n, f in saved:
                setattr(mod, n, f)


LINEN = LinenAdapter()
