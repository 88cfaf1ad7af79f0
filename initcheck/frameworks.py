"""Adapters for PyTorch and JAX initializers (extras ``initcheck[torch]``, ``initcheck[jax]``).

:func:`adapt` turns a framework initializer into an :class:`~initcheck.sampling.Initializer`
(or returns ``None`` when the object is not one), so every check draws from it like from
a Keras initializer:

- **PyTorch** in-place initializers ``fn(tensor, ...) -> tensor``: the functions of
  ``torch.nn.init`` (``kaiming_normal_``, ``xavier_uniform_``, ``trunc_normal_`` …), a
  ``functools.partial`` of one (``partial(kaiming_normal_, nonlinearity="relu")``), or any
  callable whose first parameter is named ``tensor``. Each draw fills a fresh
  ``torch.empty(shape, dtype=...)``; the seed goes to ``generator=`` when the function
  accepts it, else to ``torch.manual_seed`` inside ``torch.random.fork_rng()`` so the
  caller's global torch RNG state is left as it was.
- **JAX** initializers ``init(key, shape, dtype)``: those returned by
  ``jax.nn.initializers.*`` (``he_normal()``, ``glorot_uniform()``, ``truncated_normal(0.1)``
  …), and any callable from a ``jax…`` module or whose first parameter is named ``key``.
  Each draw gets ``jax.random.key(seed)``.

The adapters call with the shape as given: PyTorch weights are ``(out, in, *kernel)``, so
check them with ``layout="torch"``. Neither framework is imported here unless it already
is (a torch or jax object cannot exist otherwise), so this module costs nothing for
Keras users.

References:
    - ``torch/nn/init.py`` (PyTorch ≥ 2.1: every random initializer takes ``generator=``).
    - ``jax/_src/nn/initializers.py`` (the ``Initializer`` protocol ``(key, shape, dtype)``).
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from initcheck.sampling import Initializer, accepts

__all__ = ["adapt", "is_jax_initializer", "is_torch_initializer"]

# jax.nn.initializers.variance_scaling(scale, mode, distribution) -> its public name
_JAX_VARIANCE_SCALING_NAMES: dict[tuple[float, str, str], str] = {
    (1.0, "fan_in", "truncated_normal"): "lecun_normal",
    (1.0, "fan_in", "uniform"): "lecun_uniform",
    (1.0, "fan_avg", "truncated_normal"): "glorot_normal",
    (1.0, "fan_avg", "uniform"): "glorot_uniform",
    (2.0, "fan_in", "truncated_normal"): "he_normal",
    (2.0, "fan_in", "uniform"): "he_uniform",
}


def _unwrap(fn: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The function under any ``functools.partial`` layers, with the bound arguments."""
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        args = fn.args + args
        kwargs = {**fn.keywords, **kwargs}
        fn = fn.func
    return fn, args, kwargs


def _first_parameter(fn: Callable[..., Any]) -> str | None:
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[0].name if params else None


def _call_text(base: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    bound = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{base}({', '.join(bound)})" if bound else base


def is_torch_initializer(init: Any) -> bool:
    """Whether ``init`` is a PyTorch in-place initializer (``torch.nn.init.*_`` or
    ``fn(tensor, ...)``, possibly wrapped in ``functools.partial``)."""
    if "torch" not in sys.modules or not callable(init) or isinstance(init, type):
        return False
    base, args, _ = _unwrap(init)
    if args:  # the tensor is the first positional argument; it cannot be pre-bound
        return False
    if getattr(base, "__module__", None) == "torch.nn.init":
        return True
    return _first_parameter(init) == "tensor"


def is_jax_initializer(init: Any) -> bool:
    """Whether ``init`` is a JAX initializer ``init(key, shape, dtype)``
    (``jax.nn.initializers.*()``, or a callable whose first parameter is ``key``)."""
    if "jax" not in sys.modules or not callable(init) or isinstance(init, type):
        return False
    base, args, _ = _unwrap(init)
    if args:
        return False
    module = getattr(base, "__module__", None) or ""
    if module == "jax" or module.startswith("jax.") or module.startswith("jax._src"):
        return _first_parameter(init) in ("key", "rng", "prng_key")
    return _first_parameter(init) == "key"


def _torch_name(init: Any) -> str:
    base, args, kwargs = _unwrap(init)
    if getattr(base, "__module__", None) == "torch.nn.init":
        label = f"torch.nn.init.{base.__name__}"
    else:
        label = getattr(base, "__qualname__", None) or type(base).__name__
    return _call_text(label, args, kwargs)


def _closure(fn: Any) -> dict[str, Any]:
    code = getattr(fn, "__code__", None)
    cells = getattr(fn, "__closure__", None) or ()
    if code is None:
        return {}
    values = {}
    for var, cell in zip(code.co_freevars, cells, strict=False):
        try:
            values[var] = cell.cell_contents
        except ValueError:  # empty cell
            continue
    return values


def _jax_name(init: Any) -> str:
    base, args, kwargs = _unwrap(init)
    qualname = getattr(base, "__qualname__", "") or ""
    module = getattr(base, "__module__", "") or ""
    if not module.startswith("jax"):
        return _call_text(qualname or type(base).__name__, args, kwargs)
    outer = qualname.split(".<locals>")[0]
    if outer == qualname:  # a module-level function such as jax.nn.initializers.zeros
        return _call_text(f"jax.nn.initializers.{qualname}", args, kwargs)
    env = _closure(base)
    if outer == "variance_scaling":
        key = (float(env.get("scale", 0.0)), str(env.get("mode")), str(env.get("distribution")))
        public = _JAX_VARIANCE_SCALING_NAMES.get(key)
        if public is not None:
            return f"jax.nn.initializers.{public}"
        shown = {k: env[k] for k in ("scale", "mode", "distribution") if k in env}
    else:
        shown = {
            k: v
            for k, v in env.items()
            if isinstance(v, int | float | str | bool) and not k.startswith("_")
        }
    return _call_text(f"jax.nn.initializers.{outer}", (), shown)


def _torch_dtype(torch: Any, dtype: str) -> Any:
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"{dtype!r} is not a PyTorch dtype (e.g. 'float32', 'bfloat16').")
    return value


def _torch_to_numpy(tensor: Any) -> Any:
    """A torch tensor as numpy, keeping bfloat16 (which ``Tensor.numpy()`` rejects)."""
    torch = sys.modules["torch"]
    if not isinstance(tensor, torch.Tensor):
        return tensor  # let the sampler's validation name what came back
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        import ml_dtypes

        return tensor.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    return tensor.numpy()


def _from_torch(init: Callable[..., Any], name: str | None) -> Initializer:
    torch = sys.modules["torch"]
    takes_generator = accepts(init, "generator")

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        tensor = torch.empty(shape, dtype=_torch_dtype(torch, dtype))
        with torch.no_grad():
            if takes_generator:
                out = init(tensor, generator=torch.Generator().manual_seed(seed))
            else:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(seed)
                    out = init(tensor)
        return _torch_to_numpy(tensor if out is None else out)

    return Initializer(name=name or _torch_name(init), kind="torch", seedable=True, call=call)


def _from_jax(init: Callable[..., Any], name: str | None) -> Initializer:
    jax = sys.modules["jax"]
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


def adapt(init: Any, *, name: str | None = None) -> Initializer | None:
    """An :class:`~initcheck.sampling.Initializer` for a PyTorch or JAX initializer.

    Args:
        init: any object; PyTorch in-place initializers and JAX ``(key, shape, dtype)``
            initializers are adapted (see the module docstring).
        name: a display name (default: e.g. ``torch.nn.init.kaiming_normal_(mode='fan_out')``
            or ``jax.nn.initializers.he_normal``).

    Returns:
        The adapted initializer, or ``None`` if ``init`` is neither (then
        :func:`initcheck.sampling.resolve` treats it as usual).

    Example:
        >>> import functools, torch
        >>> init = adapt(functools.partial(torch.nn.init.kaiming_normal_, nonlinearity="relu"))
        >>> init.name
        "torch.nn.init.kaiming_normal_(nonlinearity='relu')"
        >>> init.draw((4, 3), seed=0).shape
        (4, 3)
    """
    if isinstance(init, Initializer | str):
        return None
    if is_torch_initializer(init):
        return _from_torch(init, name)
    if is_jax_initializer(init):
        return _from_jax(init, name)
    return None
