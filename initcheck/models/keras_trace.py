"""The Keras traced pass: every layer's ``call`` wrapped to record its inputs' producers
and its output, and every ``keras.ops`` / ``keras.activations`` function that a model's
own ``call()`` runs between layers (a subclassed model's ``keras.ops.relu(x)``, and a
residual written ``h + f(h)``: the tensor's ``+`` is recorded as ``keras.ops.add`` is) as
an op. Dropout off, BatchNorm on batch statistics (moving statistics restored),
gradients by ``tf.GradientTape`` (gradients of intermediate tensors, which Keras's own API
does not give: the signal needs the TensorFlow backend; elsewhere Keras's API serves).

What an op is, and a layer's own ``activation=``, is measured
(:func:`~initcheck.models.measure.measured_role`): a normalization, a linear op, or a
nonlinearity with its :class:`~initcheck.models.graph.Gain`; names only explain.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np

from initcheck.models.attention import (
    is_distribution,
    normalized_entropy,
    of_scores,
    probabilities,
)
from initcheck.models.graph import Call, Gain, Trace
from initcheck.models.layers import category
from initcheck.models.measure import (
    function_gain,
    measured_role,
    parameter_effect,
    scale_invariant,
)
from initcheck.models.outputs import first_tensor
from initcheck.models.patching import patched_functions, patched_operators

#: ``keras.ops`` functions recorded as residual merges (two inputs of the output's shape).
_ADDS = frozenset({"add"})


def _activation(layer: Any, seen: dict[int, Gain | None]) -> tuple[str | None, Gain | None]:
    """A layer's own ``activation=``: its name (an explanation) and measured gain
    (``seen`` caches it per function)."""
    import keras

    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None)
    if not isinstance(name, str) or act is None or name == "linear":
        return (name if isinstance(name, str) else None), None
    if id(act) in seen:
        return name, seen[id(act)]

    def on_arrays(z: np.ndarray) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(act(keras.ops.convert_to_tensor(z))))

    try:
        gain = function_gain(on_arrays)
    except Exception:  # an activation that is not elementwise: named, not measured
        gain = None
    seen[id(act)] = gain
    return name, gain


def _numpy(t: Any) -> np.ndarray:
    import keras

    return np.asarray(keras.ops.convert_to_numpy(t), dtype=np.float64)


def _ms(t: Any) -> float:
    a = _numpy(t)
    return float(np.mean(a * a)) if a.size else float("nan")


def trace_pass(
    model: Any, x: Any, seed: int, layers: list[tuple[str, Any, bool]], trace: Trace
) -> None:
    """Run the model on ``x`` and one backward pass, filling ``trace``.

    Args:
        model: the Keras model.
        x: the batch.
        seed: seeds the backward direction.
        layers: ``(path, layer, leaf)`` of every layer under the model.
        trace: filled in place.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise NotImplementedError(
            f"the Keras signal trace takes gradients with TensorFlow; this Keras runs on "
            f"{keras.backend.backend()} (KERAS_BACKEND). The weights are audited on every "
            "backend; for the signal, run the audit with KERAS_BACKEND=tensorflow"
        )
    import tensorflow as tf

    producer: dict[int, str] = {}
    frames: list[set[int]] = []
    leaves: list[tuple[str, bool]] = []
    keep: list[tuple[Any, Call]] = []
    keep_in: list[tuple[Any, Call]] = []
    wrapped: list[Any] = []
    counts: dict[str, int] = {}
    gains: dict[int, Gain | None] = {}
    busy = [False]
    tapes: list[Any] = []

    def wrap(path: str, layer: Any, leaf: bool) -> None:
        original = layer.call
        kind = type(layer).__name__
        act, gain = _activation(layer, gains)
        cat = category(kind)
        own = [v for v in getattr(layer, "weights", ()) if v.trainable]
        try:  # an attention layer returns its probabilities when asked (Keras's API)
            scores = "return_attention_scores" in inspect.signature(original).parameters
        except (TypeError, ValueError):
            scores = False
        vectors = bool(own) and all(len(v.shape) <= 1 for v in own)  # per-channel only

        def call(*args: Any, **kwargs: Any) -> Any:
            srcs = []
            for a in keras.tree.flatten((args, kwargs)):
                if id(a) in producer:
                    srcs.append(producer[id(a)])
            if cat == "pass" and "training" in kwargs:
                kwargs["training"] = False
            frames.append(set())
            leaves.append((path, leaf))
            try:
                out = original(*args, **kwargs)
            finally:
                inner = frames.pop()
                leaves.pop()
            busy[0], was = True, busy[0]  # our bookkeeping's ops are not the model's
            try:
                after(out, inner, srcs)
                with tapes[0].stop_recording() if tapes else contextlib.nullcontext():
                    if vectors and args and trace.get(path) is not None:
                        measure_norm(path, layer, original, args, kwargs, out)
                    if scores:
                        layer_attention(path, original, args, kwargs)
            finally:
                busy[0] = was
            return out

        def after(out: Any, inner: set[int], srcs: list[str]) -> None:
            t = first_tensor(out)
            if t is not None:
                if id(t) not in inner:
                    producer[id(t)] = path
                inner.add(id(t))
                if trace.get(path) is None:
                    c = Call(
                        path,
                        kind,
                        tuple(dict.fromkeys(srcs)),
                        _ms(t),
                        activation=act,
                        block=cat == "merge",
                        gain=gain,
                    )
                    trace.add(c)
                    keep.append((t, c))
                    softmax(path, c.sources, t)
            if frames:
                frames[-1].update(inner)

        object.__setattr__(layer, "call", call)
        wrapped.append(layer)

    def measure_norm(path: str, layer: Any, fn: Any, args: tuple, kwargs: dict, out: Any) -> None:
        """A layer holding only per-channel weights: is it a normalization (measured), and
        what does each weight do to its output (:data:`Trace.effects`)?"""
        c, first, t = trace.get(path), args[0], first_tensor(out)
        if c is None or c.role is not None or t is None or not keras.ops.is_tensor(first):
            return
        if tuple(first.shape) != tuple(t.shape):
            return

        def again(z: np.ndarray) -> np.ndarray:
            z = keras.ops.convert_to_tensor(z, dtype=first.dtype)
            return _numpy(first_tensor(fn(z, *args[1:], **kwargs)))

        try:
            c.role, c.gain = measured_role(again, _numpy(first), _numpy(t))
            if c.role != "norm" and not scale_invariant(again, _numpy(first)):
                return
        except Exception:  # a layer that takes no other input: its role stays unmeasured
            c.role, c.gain = None, None
            return
        for i, v in enumerate(layer.weights):
            if not v.trainable or len(v.shape) > 1:
                continue
            value = v.numpy()
            v.assign(value + 1)
            try:
                bumped = _numpy(first_tensor(fn(*args, **kwargs)))
            finally:
                v.assign(value)
            effect = parameter_effect(_numpy(t), bumped)
            if effect is not None:
                trace.effects[f"{path}/{i}"] = effect

    def record(name: str, fn: Any, args: tuple, kwargs: dict, out: Any) -> None:
        t = first_tensor(out)
        tensors = [a for a in (*args, *kwargs.values()) if keras.ops.is_tensor(a)]
        traced = [a for a in tensors if id(a) in producer]
        if name == "dot_product_attention" and len(args) >= 2:  # fused: (B, T, heads, dim)
            attention(name, args, kwargs)
        if t is None or not keras.ops.is_tensor(t) or not traced:
            return
        first = traced[0]
        others = [a for a in tensors if a is not first]
        counts[name] = counts.get(name, 0) + 1
        path = f"{leaves[-1][0] if leaves else ''}:{name}#{counts[name]}"
        if name in _ADDS and len(others) == 1 and tuple(others[0].shape) == tuple(t.shape):
            srcs = tuple(producer[id(a)] for a in (first, others[0]) if id(a) in producer)
            srcs = tuple(dict.fromkeys(srcs))  # a residual merge: a point of the stream
            c = trace.add(Call(path, "add", srcs, _ms(t), role="merge", block=len(srcs) == 2))
        elif len(traced) >= 2 or name == "dot_product_attention":  # q·kᵀ, a gate, attention
            srcs = tuple(dict.fromkeys(producer[id(a)] for a in traced))
            c = trace.add(Call(path, name, srcs, _ms(t), role="product"))
        elif first is not args[0] or any(len(o.shape) > 1 for o in others):
            return  # a contraction with a tensor that is not a traced signal: not followed
        else:
            role, g = "pass", None
            if tuple(first.shape) == tuple(t.shape):

                def again(z: np.ndarray) -> np.ndarray:
                    y = fn(keras.ops.convert_to_tensor(z), *args[1:], **kwargs)
                    return _numpy(first_tensor(y))

                role, g = measured_role(again, _numpy(first), _numpy(t))
            c = trace.add(Call(path, name, (producer[id(first)],), _ms(t), role=role, gain=g))
            if role == "pass":
                c.ms_in = _ms(first)
                keep_in.append((first, c))
        producer[id(t)] = path
        keep.append((t, c))
        if frames:
            frames[-1].add(id(t))
        softmax(path, c.sources, t)

    def layer_attention(path: str, fn: Any, args: tuple, kwargs: dict) -> None:
        """An attention layer called again for its probabilities: their entropy."""
        if kwargs.get("return_attention_scores"):
            return
        try:
            again = fn(*args, **{**kwargs, "return_attention_scores": True, "training": False})
        except Exception:  # the layer cannot return them here: not measured
            return
        if isinstance(again, tuple | list) and len(again) == 2 and keras.ops.is_tensor(again[1]):
            p = _numpy(again[1])
            if is_distribution(p):
                entropy(path, p)

    def attention(name: str, args: tuple, kwargs: dict) -> None:
        """A fused attention's probabilities, recomputed from its query and key."""
        opts = dict(zip(("bias", "mask", "scale", "is_causal"), args[3:], strict=False))
        opts.update(
            {k: v for k, v in kwargs.items() if k in ("bias", "mask", "scale", "is_causal")}
        )
        p = probabilities(
            _numpy(args[0]),
            _numpy(args[1]),
            scale=opts.get("scale"),
            bias=None if opts.get("bias") is None else _numpy(opts["bias"]),
            mask=None if opts.get("mask") is None else np.asarray(opts["mask"]),
            causal=bool(opts.get("is_causal", False)),
        )
        entropy(name, p)

    def softmax(path: str, sources: tuple[str, ...], t: Any) -> None:
        """A softmax over attention scores (its output distributions along the last axis,
        its input a product of two signals), as a layer or an op: its entropy."""
        if len(sources) == 1 and of_scores(trace, sources[0]):
            p = _numpy(t)
            if is_distribution(p):
                entropy(path, p)

    def entropy(where: str, p: np.ndarray) -> None:
        h = normalized_entropy(p)
        if h is not None:
            trace.attention.append((f"{where}#a{len(trace.attention) + 1}", h))

    def wrap_op(name: str, fn: Any) -> Any:
        def op(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            if busy[0] or not args or (leaves and leaves[-1][1]):
                return out  # inside a leaf layer, or our own measurement
            busy[0] = True
            try:
                record(name, fn, args, kwargs, out)
            finally:
                busy[0] = False
            return out

        return op

    for path, layer, leaf in layers:
        wrap(path, layer, leaf)
    stats = [(v, v.numpy()) for v in model.non_trainable_weights]
    try:
        xt = keras.ops.convert_to_tensor(x)
        with (
            patched_functions([keras.ops, keras.activations], wrap_op),
            patched_operators(tf.Tensor, ("__add__", "__radd__"), "add", wrap_op),
            tf.GradientTape() as tape,
        ):
            tapes.append(tape)
            out = first_tensor(model(xt, training=True))
            if out is None:
                raise ValueError(f"{type(model).__name__} returned no floating tensor.")
            trace.outputs = (producer[id(out)],) if id(out) in producer else ()
            trace.logits = np.asarray(out)
            r = tf.random.stateless_normal(tf.shape(out), seed=[seed, 1], dtype=out.dtype)
            loss = tf.reduce_sum(out * r)  # not keras.ops: its functions are traced here
        grads = tape.gradient(loss, [t for t, _ in keep] + [t for t, _ in keep_in])
    finally:
        for layer in wrapped:
            object.__delattr__(layer, "call")
        for v, value in stats:
            v.assign(value)
    n = int(np.shape(x)[0])
    for (_, c), g in zip(keep, grads[: len(keep)], strict=True):
        if g is not None:
            c.set_grad(float(np.sum(_numpy(g) ** 2)) / n)
    for (_, c), g in zip(keep_in, grads[len(keep) :], strict=True):
        if g is not None:
            c.set_grad_in(float(np.sum(_numpy(g) ** 2)) / n)
