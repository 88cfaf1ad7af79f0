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

import functools
import importlib
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import numpy as np

from initcheck.errors import NoDefaultBatch
from initcheck.fans import KernelLayout, Layer
from initcheck.models import flax_fix
from initcheck.models.adapter import NotAModelError
from initcheck.models.draws import FLAX_RESEED, Way, native
from initcheck.models.graph import Trace, flow
from initcheck.models.jax_trace import ArrayRecorder
from initcheck.models.layers import category
from initcheck.models.measure import norm_value, parameter_effect, scale_invariant
from initcheck.models.outputs import first_tensor
from initcheck.models.records import WeightPiece, with_init_fans

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


def _vector_params(m: Any) -> dict[str, Any]:
    """A module's own parameters when every one is per-channel (at most 1-D), else ``{}``:
    the modules whose role (a normalization?) the trace measures."""
    from flax import nnx

    params = {n: v for n, v in _own_variables(m).items() if isinstance(v, nnx.Param)}
    return params if params and all(np.ndim(_get(v)) <= 1 for v in params.values()) else {}


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


#: Layer types (NNX's and Linen's names) whose ``kernel`` is (…, in, out), Keras's layout.
KERNELS = (
    "Linear", "Conv", "ConvTranspose", "Dense", "DenseGeneral", "LinearGeneral", "ConvLocal"
)  # fmt: skip


def flax_piece(path: str, name: str, shape: tuple, m: Any, trace: Trace | None) -> WeightPiece:
    """The piece of parameter ``name`` (of ``shape``) of the Flax module ``m`` (NNX or
    Linen) at ``path``, read through the trace's data flow."""
    kind = type(m).__name__ if m is not None else "?"
    f = flow(trace, path)
    base: dict[str, Any] = dict(
        layer=path,
        layer_type=kind,
        framework="flax",
        activation=f.activation,
        gain=f.gain,
        norm=f.norm,
        output=f.output,
        branch_end=f.merge,
        param=name,
        key=_key(path, name),
    )
    if kind in KERNELS and name == "kernel" and len(shape) >= 2:
        if kind in ("DenseGeneral", "LinearGeneral") and len(shape) > 2:  # in axes, out axes
            axes = getattr(m, "in_features", None) if kind == "LinearGeneral" else m.axis
            n_in = len(axes) if isinstance(axes, tuple | list) else 1
            shape = (int(np.prod(shape[:n_in])), int(np.prod(shape[n_in:])))
        groups = int(getattr(m, "feature_group_count", 1) or 1)
        layer: Layer = "conv_transpose" if kind == "ConvTranspose" else "standard"
        lay = KernelLayout("keras", layer, groups if len(shape) > 2 else 1)
        return WeightPiece(role="kernel", layout=lay, fans=lay.fans(shape), **base)
    if kind == "Embed" and name == "embedding":
        lay = KernelLayout("torch")  # rows are the embedding vectors
        return WeightPiece(role="embedding", layout=lay, fans=lay.fans(shape), **base)
    if name == "bias" and kind in KERNELS:
        return WeightPiece(role="constant", constant=0.0, **base)
    call = trace.get(path) if trace is not None else None
    unmeasured = call is None or call.role is None or not call.act_ms  # or a zero gain
    vector = len(shape) <= 1
    effect = trace.effects.get(_key(path, name)) if trace is not None else None
    measured = call is not None and (call.role == "norm" or effect is not None)
    if vector and (measured or (unmeasured and category(kind) == "norm")):
        # measured a norm; or, with nothing measured, named one
        values = (
            np.asarray(_get(getattr(m, name))) if m is not None and hasattr(m, name) else np.ones(1)
        )
        value, note = norm_value(
            effect, NORM_VALUES.get(name), values, call.act_ms if call else None
        )
        return WeightPiece(role="constant", constant=value, note=note, **base)
    return WeightPiece(role="unknown", note=f"not audited (unknown layer type {kind})", **base)


def takes_rngs(factory: Callable[..., Any]) -> str | None:
    """How a Flax factory takes its ``nnx.Rngs``: ``"positional"`` (a required positional
    parameter, ``build(rngs)``), ``"keyword"`` (a required keyword-only ``rngs``, as in
    ``def __init__(self, *, rngs)``), or ``None`` (called as ``factory()``). A Module
    class's ``__init__`` is read past its metaclass."""
    try:  # a Module class: its metaclass's __call__ hides __init__'s signature
        inner = inspect.unwrap(factory)
        if isinstance(inner, type):
            init = cast(Any, inner).__init__  # the class's own, past the metaclass
            params = list(inspect.signature(init).parameters.values())[1:]
        else:
            params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    required = [p for p in params if p.default is p.empty]
    if any(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in required):
        return "positional"
    if any(p.kind is p.KEYWORD_ONLY and p.name == "rngs" for p in required):
        return "keyword"
    return None


def call_with_rngs(factory: Callable[..., Any], rngs: Any) -> Any:
    """``factory`` called with ``rngs`` the way it takes them (:func:`takes_rngs`)."""
    how = takes_rngs(factory)
    if how == "positional":
        return factory(rngs)
    return factory(rngs=rngs) if how == "keyword" else factory()


def _call_with_rngs(factory: Callable[..., Any], seed: int) -> Any:
    from flax import nnx

    return call_with_rngs(factory, nnx.Rngs(seed))


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
    first: Any = next((m for _, m in _modules(model) if _own_variables(m)), None)
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
    raise NoDefaultBatch(
        f"Cannot build a default input for {type(model).__name__} (its first parameterized "
        f"module is {kind})."
    )


class _Recorder(ArrayRecorder):
    """Patches module classes' ``__call__`` (and ``nnx.Sequential``'s plain functions) to
    record each call, and to add ``eps[i]`` to the i-th recorded output."""

    def __init__(self, model: Any, trace: Trace) -> None:
        super().__init__(trace)
        self.paths = {id(m): p for p, m in _modules(model)}
        self.classes = {type(m) for _, m in _modules(model)}

    @contextmanager
    def patched(self) -> Iterator[None]:
        from flax import nnx

        saved = {cls: cls.__call__ for cls in self.classes}
        rec = self

        def wrap(cls: type, original: Callable) -> Callable:
            def call(self: Any, *args: Any, **kwargs: Any) -> Any:
                path = rec.paths.get(id(self))
                if isinstance(self, nnx.Sequential) and path is not None:
                    return rec.sequential(self, path, args, kwargs)
                if not path:  # not in the model, or the model itself
                    return original(self, *args, **kwargs)
                params = _vector_params(self)
                again = (lambda z: original(self, z, *args[1:], **kwargs)) if params else None
                out = rec.record(
                    path, cls.__name__, args, lambda: original(self, *args, **kwargs), again
                )
                call = rec.trace.get(path)
                if call is None or again is None or rec.eps is not None:
                    return out
                if call.role == "norm" or rec.invariant(again, args[0]):
                    rec.effects(path, params, lambda: original(self, *args, **kwargs), out)
                return out

            return call

        for cls, original in saved.items():
            cls.__call__ = wrap(cls, original)
        try:
            yield
        finally:
            for cls, original in saved.items():
                cls.__call__ = original

    def invariant(self, again: Callable[[Any], Any], x: Any) -> bool:
        """:func:`~initcheck.models.measure.scale_invariant` of a module call, quietly."""
        import jax.numpy as jnp

        def on_arrays(z: np.ndarray) -> np.ndarray:
            return np.asarray(first_tensor(again(jnp.asarray(z, dtype=x.dtype))), np.float64)

        self.quiet += 1
        try:
            return scale_invariant(on_arrays, np.asarray(x))
        except Exception:  # a call that takes no other input
            return False
        finally:
            self.quiet -= 1

    def effects(self, path: str, params: dict[str, Any], run: Callable[[], Any], out: Any) -> None:
        """What each per-channel parameter of a measured normalization does to its output
        (:func:`~initcheck.models.measure.parameter_effect`), into ``Trace.effects``."""
        base = np.asarray(first_tensor(out))
        for name, v in params.items():
            value = _get(v)
            _set(v, value + 1)
            self.quiet += 1
            try:
                bumped = np.asarray(first_tensor(run()))
            finally:
                _set(v, value)
                self.quiet -= 1
            effect = parameter_effect(base, bumped)
            if effect is not None:
                self.trace.effects[_key(path, name)] = effect

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
                    output = self.record(
                        _key(path, str(i)),
                        name,
                        a,
                        functools.partial(f, *a),
                        f,
                    )
            return output

        return self.record(path, "Sequential", args, run) if path else run()


class FlaxAdapter:
    """Flax NNX models (``flax.nnx.Module``)."""

    name = "flax"
    reseed = FLAX_RESEED
    measures_learning = False
    write_fix = staticmethod(flax_fix.write_fix)

    def fixed(self, model: Any, fixes: Any, paths: Any, instance: bool) -> Any:
        return flax_fix.fixed(model, fixes, instance, call_with_rngs)

    def detects(self, obj: Any) -> bool:
        return _is_nnx(obj)

    def build(self, factory: Callable[..., Any], seed: int) -> Any:
        return _call_with_rngs(factory, seed)

    def pieces(self, model: Any, trace: Trace | None) -> list[WeightPiece]:
        import jax
        from flax import nnx

        abstract = [
            f"{path}.{name}" if path else name
            for path, m in _modules(model)
            for name, v in _own_variables(m).items()
            if isinstance(_get(v), jax.ShapeDtypeStruct)
        ]
        if abstract:  # built by nnx.eval_shape: shapes, no values
            more = f" (and {len(abstract) - 1} more)" if len(abstract) > 1 else ""
            raise NotAModelError(
                f"{type(model).__name__} has no values: {abstract[0]}{more} is a "
                "jax.ShapeDtypeStruct, as nnx.eval_shape builds it. Auditing a model "
                "without values is PyTorch only for now (the meta device): pass a "
                "factory that builds the Flax model with values, "
                "`initcheck.audit(lambda rngs: Model(rngs=rngs))`, at a width that fits"
            )
        params = [  # statistics (nnx.BatchStat) are not initialized weights: only Params
            (path, name, tuple(np.shape(_get(v))), m)
            for path, m in _modules(model)
            for name, v in _own_variables(m).items()
            if isinstance(v, nnx.Param)
        ]
        pieces = [flax_piece(path, name, shape, m, trace) for path, name, shape, m in params]
        shapes = {piece.key: param[2] for piece, param in zip(pieces, params, strict=True)}
        return with_init_fans(pieces, shapes)

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
        functions = [jax.nn, importlib.import_module("flax.nnx")]
        fused = [importlib.import_module("flax.nnx.nn.attention")]
        with (
            _signal_mode(model),
            rec.patched(),
            rec.functions(functions),
            rec.methods(),
            rec.attention_weights(fused),
        ):
            rec.begin_pass(None)
            out = first_tensor(model(x))
            if out is None:
                raise ValueError(f"{type(model).__name__} returned no floating array.")
            trace.outputs = (rec.producer[id(out)],) if id(out) in rec.producer else ()
            trace.logits = np.asarray(out)
            r = jax.random.normal(jax.random.PRNGKey(seed + 1), out.shape, out.dtype)

            def loss(eps: list[Any]) -> Any:
                rec.begin_pass(eps)
                try:
                    return jnp.sum(first_tensor(model(x)) * r)
                finally:
                    rec.eps = None

            grads = jax.grad(loss)(rec.zeros())
        rec.set_grads(grads, int(x.shape[0]))
        return trace


FLAX = FlaxAdapter()
