"""JAX initializers ``init(key, shape, dtype)`` (extra ``initcheck[jax]``).

Recognized by the object itself: a callable whose function ``__module__`` is a ``jax``
module (the closures returned by ``jax.nn.initializers.*`` — ``he_normal()``,
``glorot_uniform()``, ``truncated_normal(0.1)`` … — live in ``jax._src.nn.initializers``),
or a ``functools.partial`` of one at any depth. A function of your own is adapted when
declared with :func:`jax_initializer`. Each draw gets ``jax.random.key(seed)``.

This module does not import jax; the adapter imports it when it is built.

References:
    - ``jax/_src/nn/initializers.py`` (the ``Initializer`` protocol ``(key, shape, dtype)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from initcheck.initializers.base import (
    DeclaredInitializer,
    Initializer,
    call_text,
    closure_values,
    describe,
    framework_module,
    unwrap_partial,
)

# jax.nn.initializers.variance_scaling(scale, mode, distribution) -> its public name
_JAX_VARIANCE_SCALING_NAMES: dict[tuple[float, str, str], str] = {
    (1.0, "fan_in", "truncated_normal"): "lecun_normal",
    (1.0, "fan_in", "uniform"): "lecun_uniform",
    (1.0, "fan_avg", "truncated_normal"): "glorot_normal",
    (1.0, "fan_avg", "uniform"): "glorot_uniform",
    (2.0, "fan_in", "truncated_normal"): "he_normal",
    (2.0, "fan_in", "uniform"): "he_uniform",
}


def _jax() -> Any:
    return framework_module("jax", "JAX", "jax")


def jax_initializer(fn: Callable[..., Any], name: str | None = None) -> DeclaredInitializer:
    """Declare ``fn`` a JAX initializer ``fn(key, shape, dtype) -> array``.

    Args:
        fn: the function.
        name: a display name (default: the function's qualified name).

    Returns:
        A wrapper that :func:`~initcheck.initializers.resolve` (and so every check)
        adapts as a JAX initializer; calling it calls ``fn``.

    Example:
        >>> def mine(key, shape, dtype=None):
        ...     return jax.random.normal(key, shape, dtype) * 0.1
        >>> initcheck.check(jax_initializer(mine), variance=0.01)
    """
    return DeclaredInitializer(fn=fn, framework="jax", name=name)


def is_jax_initializer(init: Any) -> bool:
    """Whether ``init`` is a JAX initializer, judged by the object itself.

    Args:
        init: any object.

    Returns:
        ``True`` for a callable whose function ``__module__`` is ``jax`` or a ``jax.``
        module (e.g. ``jax.nn.initializers.he_normal()``), or a ``functools.partial`` of
        one that leaves the key (the first positional argument) unbound.
    """
    if isinstance(init, type) or not callable(init):
        return False
    base, args, _ = unwrap_partial(init)
    if args:
        return False
    module = getattr(base, "__module__", None) or ""
    return module == "jax" or module.startswith("jax.")


def _jax_name(init: Any) -> str:
    base, args, kwargs = unwrap_partial(init)
    qualname = getattr(base, "__qualname__", "") or ""
    module = getattr(base, "__module__", "") or ""
    if not module.startswith("jax"):
        return call_text(qualname or describe(base), args, kwargs)
    outer = qualname.split(".<locals>")[0]
    if outer == qualname:  # a module-level function such as jax.nn.initializers.zeros
        return call_text(f"jax.nn.initializers.{qualname}", args, kwargs)
    env = closure_values(base)
    if outer == "variance_scaling":
        key = (float(env.get("scale", 0.0)), str(env.get("mode")), str(env.get("distribution")))
        public = _JAX_VARIANCE_SCALING_NAMES.get(key)
        if public is not None:
            return f"jax.nn.initializers.{public}"
        shown: dict[str, Any] = {k: env[k] for k in ("scale", "mode", "distribution") if k in env}
    else:
        shown = {
            k: v
            for k, v in env.items()
            if isinstance(v, int | float | str | bool) and not k.startswith("_")
        }
    return call_text(f"jax.nn.initializers.{outer}", (), shown)


def from_jax(init: Callable[..., Any], name: str | None = None) -> Initializer:
    """An :class:`~initcheck.initializers.base.Initializer` for a JAX initializer.

    Args:
        init: ``init(key, shape, dtype)``, or a ``functools.partial`` of one.
        name: a display name (default: e.g. ``jax.nn.initializers.he_normal``).

    Returns:
        The adapted initializer (``kind="jax"``).
    """
    jax = _jax()
    make_key = getattr(jax.random, "key", None) or jax.random.PRNGKey
    # Compiled once per (shape, dtype): eager dispatch costs milliseconds per call, and the
    # sampler calls thousands of times. An initializer that cannot be traced (Python
    # control flow on values, host callbacks) is called eagerly instead.
    compiled = jax.jit(init, static_argnums=(1, 2))
    state = {"jit": True}

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        key, jdtype = make_key(seed), jax.numpy.dtype(dtype)
        out = None
        if state["jit"]:
            try:
                out = compiled(key, shape, jdtype)
            except Exception:
                state["jit"] = False
        if not state["jit"]:
            out = init(key, shape, jdtype)
        return np.asarray(out) if hasattr(out, "__array__") else out

    return Initializer(name=name or _jax_name(init), kind="jax", seedable=True, call=call)
