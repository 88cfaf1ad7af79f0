"""The Flax NNX :class:`~initcheck.models.adapter.ModelAdapter`.

- Models: an ``nnx.Module`` instance, or a factory ``f(rngs) -> nnx.Module`` (or a
  zero-arg one) rebuilt under fresh ``nnx.Rngs(seed)`` for each draw. NNX layers do not
  keep their initializers, so an instance is audited from its own values (one draw).
- Pieces: ``nnx.Linear`` and ``nnx.Conv`` kernels in Flax's (…, in, out) layout (Keras's),
  ``nnx.Embed`` tables, norms' scale and bias; other parameters are not audited.
- Trace: every module's ``__call__`` (and every plain function in an ``nnx.Sequential``,
  such as ``nnx.relu``) is recorded; gradients at each output come from ``jax.grad`` of the
  loss with respect to a zero added to that output. Dropout off, BatchNorm on batch
  statistics (its statistics restored).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from initcheck.fans import KernelLayout
from initcheck.models.draws import Way, native
from initcheck.models.graph import Call, Trace, flow
from initcheck.models.layers import category
from initcheck.models.outputs import first_tensor
from initcheck.models.records import WeightPiece

__all__ = ["FLAX"]

NORM_VALUES = {"scale": 1.0, "bias": 0.0, "mean": 0.0, "var": 1.0}


def _is_nnx(obj: Any) -> bool:
    return any(
        c.__name__ == "Module" and c.__module__.startswith("flax.nnx") for c in type(obj).__mro__
    )


def _modules(model: Any) -> list[tuple[str, Any]]:
    from flax import nnx

    found = [(path, node) for path, node in nnx.iter_graph(model) if isinstance(node, nnx.Module)]
    found.sort(
        key=lambda pn: tuple((0, p, "") if isinstance(p, int) else (1, 0, str(p)) for p in pn[0])
    )
    return [(".".join(str(p) for p in path), node) for path, node in found]


def _own_variables(m: Any) -> dict[str, Any]:
    from flax import nnx

    return {
        k: v
        for k, v in vars(m).items()
        if isinstance(v, nnx.Variable) and not isinstance(v, nnx.RngState)
    }


def _get(v: Any) -> Any:
    return v.get_value() if hasattr(v, "get_value") else v.value


def _set(v: Any, value: Any) -> None:
    if hasattr(v, "set_value"):
        v.set_value(value)
    else:
        v.value = value


def _key(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _values(model: Any) -> dict[str, np.ndarray]:
    return {
        _key(path, name): native(np.asarray(_get(v)))
        for path, m in _modules(model)
        for name, v in _own_variables(m).items()
    }


def _pieces(path: str, m: Any, trace: Trace | None) -> list[WeightPiece]:
    kind = type(m).__name__
    f = flow(trace, path)
    base = dict(
        layer=path,
        layer_type=kind,
        framework="flax",
        activation=f.activation,
        norm=f.norm,
        output=f.output,
        branch_end=f.merge,
    )
    out = []
    for name, v in _own_variables(m).items():
        key = _key(path, name)
        shape = tuple(np.shape(_get(v)))
        if kind in ("Linear", "Conv", "ConvTranspose") and name == "kernel":
            groups = int(getattr(m, "feature_group_count", 1) or 1)
            layer = "conv_transpose" if kind == "ConvTranspose" else "standard"
            lay = KernelLayout("keras", layer, groups if len(shape) > 2 else 1)
            out.append(
                WeightPiece(
                    param=name, role="kernel", key=key, layout=lay, fans=lay.fans(shape), **base
                )
            )
        elif kind == "Embed" and name == "embedding":
            lay = KernelLayout("torch")  # rows are the embedding vectors
            out.append(
                WeightPiece(
                    param=name, role="embedding", key=key, layout=lay, fans=lay.fans(shape), **base
                )
            )
        elif name == "bias" and kind in ("Linear", "Conv", "ConvTranspose"):
            out.append(WeightPiece(param=name, role="constant", key=key, constant=0.0, **base))
        elif category(kind) == "norm":
            out.append(
                WeightPiece(
                    param=name, role="constant", key=key, constant=NORM_VALUES.get(name), **base
                )
            )
        else:
            note = f"not audited (unknown layer type {kind})"
            out.append(WeightPiece(param=name, role="unknown", key=key, note=note, **base))
    return out


def _call_with_rngs(factory: Callable[..., Any], seed: int) -> Any:
    from flax import nnx

    try:  # a Module class: its metaclass's __call__ hides __init__'s signature
        inner = inspect.unwrap(factory)
        if isinstance(inner, type):
            params = list(inspect.signature(inner.__init__).parameters.values())[1:]
        else:
            params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        params = []
    required = [
        p
        for p in params
        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return factory(nnx.Rngs(seed)) if required else factory()


@contextmanager
def _signal_mode(model: Any) -> Iterator[None]:
    """Dropout off, BatchNorm on batch statistics; flags and statistics restored."""
    from flax import nnx

    mods = [m for _, m in _modules(model)]
    flags = [
        {a: getattr(m, a) for a in ("deterministic", "use_running_average") if hasattr(m, a)}
        for m in mods
    ]
    stats = [(v, _get(v)) for m in mods for v in _own_variables(m).values()]
    for m in mods:
        if isinstance(m, nnx.Dropout):
            m.deterministic = True
        if isinstance(m, nnx.BatchNorm):
            m.use_running_average = False
    try:
        yield
    finally:
        for m, saved in zip(mods, flags, strict=True):
            for a, value in saved.items():
                setattr(m, a, value)
        for v, value in stats:
            _set(v, value)


def _default_input(model: Any, seed: int) -> Any:
    import jax.numpy as jnp

    rng = np.random.default_rng(seed)
    first = next((m for _, m in _modules(model) if _own_variables(m)), None)
    kind = type(first).__name__
    if kind == "Linear":
        if first.in_features == 784:
            from initcheck.mnist import load_mnist

            return jnp.asarray(load_mnist().x_train[:32])
        return jnp.asarray(rng.standard_normal((32, first.in_features)), dtype=jnp.float32)
    if kind == "Conv":
        dims = len(first.kernel_size)
        shape = (8, *([32] * dims), first.in_features)
        return jnp.asarray(rng.standard_normal(shape), dtype=jnp.float32)
    if kind == "Embed":
        return jnp.asarray(rng.integers(0, first.num_embeddings, size=(8, 16)))
    raise ValueError(
        f"Cannot build a default input for {type(model).__name__} (its first parameterized "
        f"module is {kind}): pass inputs=... (a batch the model accepts)."
    )


class _Recorder:
    """Patches module classes' ``__call__`` (and ``nnx.Sequential``'s plain functions) to
    record each call, and to add ``eps[i]`` to the i-th recorded output."""

    def __init__(self, model: Any, trace: Trace) -> None:
        self.paths = {id(m): p for p, m in _modules(model)}
        self.classes = {type(m) for _, m in _modules(model)}
        self.trace = trace
        self.producer: dict[int, str] = {}
        self.frames: list[set[int]] = []
        self.keep: list[Any] = []
        self.eps: list[Any] | None = None
        self.index = 0

    def record(self, path: str, kind: str, args: tuple, run: Callable[[], Any]) -> Any:
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
        if id(t) not in inner and t is out:  # produced here (not by a submodule), a bare array
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

    order: list[tuple[str, tuple, Any]]

    @contextmanager
    def patched(self) -> Iterator[None]:
        from flax import nnx

        self.order = []
        saved = {cls: cls.__call__ for cls in self.classes}
        rec = self

        def wrap(cls: type, original: Callable) -> Callable:
            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                path = rec.paths.get(id(self))
                if isinstance(self, nnx.Sequential) and path is not None:
                    return rec.sequential(self, path, args, kwargs)
                if not path:  # not in the model, or the model itself
                    return original(self, *args, **kwargs)
                return rec.record(path, cls.__name__, args, lambda: original(self, *args, **kwargs))

            return call

        for cls, original in saved.items():
            cls.__call__ = wrap(cls, original)
        try:
            yield
        finally:
            for cls, original in saved.items():
                cls.__call__ = original

    def sequential(self, seq: Any, path: str, args: tuple, kwargs: dict) -> Any:
        from flax import nnx

        def run() -> Any:
            output: Any = args
            for i, f in enumerate(seq.layers):
                a = output if isinstance(output, tuple) else (output,)
                if isinstance(f, nnx.Module):
                    output = f(*a, **(kwargs if i == 0 else {}))
                else:
                    name = getattr(f, "__name__", type(f).__name__)
                    output = self.record(_key(path, str(i)), name, a, lambda f=f, a=a: f(*a))
            return output

        return self.record(path, "Sequential", args, run) if path else run()


class FlaxAdapter:
    """Flax NNX models (``flax.nnx.Module``)."""

    name = "flax"

    def detects(self, obj: Any) -> bool:
        return _is_nnx(obj)

    def build(self, factory: Callable[..., Any], seed: int) -> Any:
        return _call_with_rngs(factory, seed)

    def pieces(self, model: Any, trace: Trace | None) -> list[WeightPiece]:
        out: list[WeightPiece] = []
        for path, m in _modules(model):
            out.extend(_pieces(path, m, trace))
        return out

    def own_values(self, model: Any) -> dict[str, np.ndarray]:
        return _values(model)

    def ways(self, model: Any) -> dict[str, list[Way]]:
        return {}  # NNX layers keep no initializers: a factory is rebuilt per draw

    def trace(self, model: Any, inputs: Any, seed: int) -> Trace:
        import jax
        import jax.numpy as jnp

        x = _default_input(model, seed) if inputs is None else jnp.asarray(np.asarray(inputs))
        what = "the given inputs" if inputs is not None else f"a default batch of shape {x.shape}"
        trace = Trace(source=what)
        rec = _Recorder(model, trace)
        with _signal_mode(model), rec.patched():
            rec.index = 0
            out = first_tensor(model(x))
            if out is None:
                raise ValueError(f"{type(model).__name__} returned no floating array.")
            trace.outputs = (rec.producer[id(out)],) if id(out) in rec.producer else ()
            order = list(rec.order)
            r = jax.random.normal(jax.random.PRNGKey(seed + 1), out.shape, out.dtype)

            def loss(eps: list[Any]) -> Any:
                rec.eps, rec.index = eps, 0
                try:
                    return jnp.sum(first_tensor(model(x)) * r)
                finally:
                    rec.eps = None

            zeros = [jnp.zeros(shape, dtype) for _, shape, dtype in order]
            grads = jax.grad(loss)(zeros)
        n = int(x.shape[0])
        for (path, _, _), g in zip(order, grads, strict=True):  # the first call of each path
            call = trace.get(path)
            if call is not None and call.grad_n2 is None:
                call.set_grad(float(np.sum(np.square(np.asarray(g, dtype=np.float64)))) / n)
        return trace


FLAX = FlaxAdapter()
