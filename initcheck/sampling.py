"""Adapters: turn *any* initializer into independent, validated numpy draws.

Accepted initializers:

- a Keras name (``"he_normal"``) or a Keras initializer instance or class;
- a plain callable ``init(shape, dtype=None)`` returning a numpy array or a tensor,
  optionally accepting ``seed=``.

:func:`resolve` returns an :class:`Initializer` whose :meth:`~Initializer.draw`
returns a float64 copy of one draw, validated (type, shape, dtype, finiteness), or raises
:class:`~initcheck.errors.InitializerError` naming what went wrong.

Independence of draws:

- A Keras instance with a fixed seed returns the same values on every call (Keras's
  documented behaviour), so each draw re-creates it from its config with a fresh seed.
- A callable that accepts ``seed`` gets a distinct seed per draw.
- Any other callable is called with numpy's legacy global RNG seeded per draw (the
  previous global state is restored afterwards), which keeps draws independent even
  inside ``@given``, where Hypothesis reseeds the global RNGs for every example.
  Whether draws really differ is measured by the sampler (:mod:`initcheck.samples`).
"""

from __future__ import annotations

import concurrent.futures
import difflib
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from initcheck.errors import InitializerError

__all__ = ["DEFAULT_TIMEOUT", "Initializer", "keras_names", "resolve"]

DEFAULT_TIMEOUT = 60.0  # seconds one call of the initializer may take


def _keras():
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras


def keras_names() -> list[str]:
    """Names Keras accepts in ``keras.initializers.get`` (snake_case and class names)."""
    keras = _keras()
    base = keras.initializers.Initializer
    names = []
    for name in dir(keras.initializers):
        obj = getattr(keras.initializers, name)
        if name.startswith("_") or not isinstance(obj, type) or not issubclass(obj, base):
            continue
        if obj is base:
            continue
        names.append(name)
    return sorted(names)


def _is_keras_initializer(obj: object) -> bool:
    if "keras" not in sys.modules:  # nothing can be a Keras object before Keras is imported
        return False
    return isinstance(obj, sys.modules["keras"].initializers.Initializer)


def _is_keras_initializer_class(obj: object) -> bool:
    if "keras" not in sys.modules or not isinstance(obj, type):
        return False
    return issubclass(obj, sys.modules["keras"].initializers.Initializer)


def accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def _describe(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        name = type(obj).__name__
    return str(name)


@dataclass
class Initializer:
    """A resolved initializer that can be drawn from.

    Attributes:
        name: a readable name, used in messages and reports.
        kind: ``"keras"`` or ``"callable"``.
        seedable: whether distinct seeds are passed to it (Keras config seed or ``seed=``).
        takes_dtype: whether it is asked for a dtype (Keras initializers, callables with a
            ``dtype`` parameter).
        timeout: seconds one call may take before the draw fails.
    """

    name: str
    kind: str
    seedable: bool
    call: Callable[..., Any] = field(repr=False)
    takes_dtype: bool = True
    timeout: float = DEFAULT_TIMEOUT
    _pool: concurrent.futures.ThreadPoolExecutor | None = field(default=None, repr=False)

    def draw(self, shape: tuple[int, ...], seed: int, dtype: str = "float32") -> np.ndarray:
        """One draw at ``shape`` as a float64 array, validated.

        Raises:
            InitializerError: the initializer raised, hung, or returned something that is
                not a finite floating-point array of ``shape``.
        """
        return self.draw_native(shape, seed, dtype).astype(np.float64)

    def draw_native(self, shape: tuple[int, ...], seed: int, dtype: str = "float32") -> np.ndarray:
        """Like :meth:`draw`, but in the dtype the initializer returned (e.g. bfloat16)."""
        shape = tuple(int(s) for s in shape)
        raw = self._call_with_timeout(shape, int(seed), dtype)
        return _validate(raw, shape, self.name)

    def _call_with_timeout(self, shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="initcheck-draw"
            )
        future = self._pool.submit(self.call, shape, seed, dtype)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            # The hung call cannot be killed; abandon its thread and start a new one.
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise InitializerError(
                f"{self.name} did not return within {self.timeout:g} s for shape={shape}. "
                "Make it faster, or raise the limit (timeout=..., --initcheck-timeout)."
            ) from None
        except InitializerError:
            raise
        except Exception as exc:
            raise InitializerError(
                f"{self.name} raised {type(exc).__name__}: {exc} (called with shape={shape})"
            ) from exc

    def __getstate__(self) -> dict[str, Any]:  # executors do not pickle
        state = self.__dict__.copy()
        state["_pool"] = None
        return state


def _validate(raw: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    where = f"{name} for shape={shape}"
    if raw is None:
        raise InitializerError(f"{where} returned None; it must return an array of that shape.")
    if isinstance(raw, list | tuple):
        raise InitializerError(
            f"{where} returned a {type(raw).__name__}; return a numpy array or a tensor "
            "(e.g. np.asarray(values, dtype='float32'))."
        )
    if hasattr(raw, "detach") and hasattr(raw, "cpu"):  # torch tensor
        raw = raw.detach().cpu()
    if hasattr(raw, "numpy") and not isinstance(raw, np.ndarray):  # TF/torch tensor
        raw = raw.numpy()
    if not hasattr(raw, "__array__") and not isinstance(raw, np.ndarray):
        raise InitializerError(
            f"{where} returned {type(raw).__name__} ({raw!r:.60}); it must return a numpy "
            "array or a tensor."
        )
    arr = np.asarray(raw)
    if arr.dtype.kind not in "f" and arr.dtype.name != "bfloat16":
        raise InitializerError(
            f"{where} returned dtype {arr.dtype}; weights must be floating point "
            "(float16, bfloat16, float32 or float64)."
        )
    if arr.shape != shape:
        raise InitializerError(f"{where} returned shape {arr.shape}; expected {shape}.")
    finite = np.isfinite(arr.astype(np.float64))
    if not finite.all():
        bad = arr.size - int(finite.sum())
        raise InitializerError(
            f"{where} returned {bad} non-finite value(s) (NaN or Inf) out of {arr.size}."
        )
    return arr


def _framework_adapter(init: Any, name: str | None) -> Initializer | None:
    """PyTorch and JAX initializers (:mod:`initcheck.frameworks`), else ``None``."""
    try:
        from initcheck.frameworks import adapt
    except ImportError:  # pragma: no cover - the adapters module is optional during development
        return None
    return adapt(init, name=name)


def _from_keras_instance(obj: Any, name: str | None = None) -> Initializer:
    cls = type(obj)
    config = obj.get_config()
    seedable = "seed" in config

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        inst = cls.from_config({**config, "seed": seed}) if seedable else obj
        return inst(shape, dtype=dtype)

    return Initializer(name=name or cls.__name__, kind="keras", seedable=seedable, call=call)


def _from_callable(fn: Callable[..., Any], name: str | None = None) -> Initializer:
    takes_seed = accepts(fn, "seed")
    takes_dtype = accepts(fn, "dtype")
    label = name or _describe(fn)

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        kwargs: dict[str, Any] = {}
        if takes_dtype:
            kwargs["dtype"] = dtype
        if takes_seed:
            return fn(shape, seed=seed, **kwargs)
        state = np.random.get_state()
        np.random.seed(seed % 2**32)
        try:
            return fn(shape, **kwargs)
        finally:
            np.random.set_state(state)

    return Initializer(
        name=label, kind="callable", seedable=takes_seed, call=call, takes_dtype=takes_dtype
    )


def resolve(init: Any, *, name: str | None = None, timeout: float | None = None) -> Initializer:
    """Resolve any accepted initializer into an :class:`Initializer`.

    Args:
        init: a Keras name, a Keras initializer instance or class, a plain callable
            ``(shape, dtype=None) -> array``, or an already resolved :class:`Initializer`.
        name: a display name (defaults to the Keras class or the function name).
        timeout: seconds one call may take (default :data:`DEFAULT_TIMEOUT`).

    Raises:
        ValueError: an unknown Keras name (with the closest known names).
        TypeError: an object that is not an initializer.

    Example:
        >>> init = resolve(lambda shape, dtype=None: np.zeros(shape))
        >>> init.draw((2, 3), seed=0).shape
        (2, 3)
    """
    if timeout is not None and not (timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds. Received: {timeout!r}")
    resolved: Initializer
    if isinstance(init, Initializer):
        resolved = init
    elif isinstance(init, str):
        keras = _keras()
        try:
            obj = keras.initializers.get(init)
        except (ValueError, TypeError):
            known = keras_names()
            close = difflib.get_close_matches(init, known, n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"Unknown Keras initializer name {init!r}.{hint} Known names include "
                "'glorot_uniform', 'he_normal', 'lecun_normal', 'orthogonal', 'zeros'; "
                "or pass an initializer object or a callable (shape, dtype=None) -> array."
            ) from None
        resolved = _from_keras_instance(obj, name=name or init)
    elif _is_keras_initializer_class(init):
        resolved = _from_keras_instance(init(), name=name or init.__name__)
    elif _is_keras_initializer(init):
        resolved = _from_keras_instance(init, name=name)
    elif isinstance(init, type):
        raise TypeError(
            f"{init.__name__} is a class but not a Keras initializer class; pass an instance "
            "or a callable (shape, dtype=None) -> array."
        )
    elif (adapted := _framework_adapter(init, name)) is not None:
        resolved = adapted
    elif callable(init):
        resolved = _from_callable(init, name=name)
    else:
        raise TypeError(
            "An initializer must be a Keras name, a Keras initializer (instance or class) or a "
            f"callable (shape, dtype=None) -> array. Received: {init!r:.80} "
            f"(type={type(init).__name__})"
        )
    if timeout is not None:
        resolved.timeout = float(timeout)
    if name is not None:
        resolved.name = name
    return resolved
