"""Plain callables ``init(shape, dtype=None)`` returning a numpy array or a tensor.

- A callable that accepts ``seed`` gets a distinct seed per draw.
- Any other callable is called with numpy's legacy global RNG seeded per draw (the
  previous global state is restored afterwards), which keeps draws independent even
  inside ``@given``, where Hypothesis reseeds the global RNGs for every example. Saving
  and restoring that state costs more than a small draw, so inside
  ``with initializer.batch():`` it is saved once on entry and restored once on exit.
  Whether draws really differ is measured by the sampler (:mod:`initcheck.sampling`).

A callable is never guessed to be a PyTorch or JAX initializer from its parameter names;
if its first parameter is named ``tensor`` or ``key``, its error messages point to
:func:`~initcheck.initializers.torch_initializer` / :func:`~initcheck.initializers.jax_initializer`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np

from initcheck._tf import import_quietly
from initcheck.errors import InitializerError
from initcheck.initializers.base import (
    DeclaredInitializer,
    Initializer,
    accepts,
    describe,
    first_parameter,
)

_HINTS = {
    "tensor": (
        "If {name} is a PyTorch in-place initializer fn(tensor, ...), declare it: "
        'initcheck.initializers.torch_initializer({fn}) (framework = "torch" in the '
        "gate, --framework torch on the command line)."
    ),
    "key": (
        "If {name} is a JAX initializer fn(key, shape, dtype), declare it: "
        'initcheck.initializers.jax_initializer({fn}) (framework = "jax" in the '
        "gate, --framework jax on the command line)."
    ),
}


def _python_name(name: str) -> str:
    """``name`` if it reads as a Python expression naming a function, else ``fn``."""
    return name if all(part.isidentifier() for part in name.split(".")) else "fn"


def array_hint(name: str) -> str:
    """The hint for a function that fails on a shape tuple: declare an in-place filler.

    Args:
        name: the function's display name.

    Returns:
        A sentence whose code is valid Python (``fn`` stands for a name that is not).
    """
    fn = _python_name(name)
    return (
        f"If {name} fills a numpy array in place, fn(array) (Chainer initializers, MXNet's "
        f"_init_weight), declare it: initcheck.initializers.array_initializer({fn}) "
        '(framework = "array" in the gate, --framework array on the command line).'
    )


def _on_shape_tuple(exc: Exception) -> bool:
    """Whether ``exc`` looks like a function meant for an array that was given a shape."""
    return isinstance(exc, AttributeError | TypeError) and "'tuple' object" in str(exc)


def _on_string_dtype(exc: Exception) -> bool:
    """Whether ``exc`` looks like a TF1-style function that was given a dtype string."""
    return isinstance(exc, AttributeError) and "'str' object has no attribute" in str(exc)


def _has_tf() -> bool:
    """Whether TensorFlow is installed (a TF1-style function can only come with it)."""
    return "tensorflow" in sys.modules or importlib.util.find_spec("tensorflow") is not None


def tf_dtype(dtype: str) -> Any:
    """``tf.as_dtype(dtype)``: what a TF1-style initializer expects (``.as_numpy_dtype``)."""
    return import_quietly("tensorflow").as_dtype(dtype)


def framework_hint(fn: Callable[..., Any], name: str) -> str:
    """A hint to declare ``fn`` as a framework initializer, or ``""``.

    Args:
        fn: the callable.
        name: its display name.

    Returns:
        The hint when ``fn``'s first parameter is named ``tensor`` or ``key`` (a hint
        only: ``fn`` is still called as ``fn(shape, dtype=None)``), else ``""``.
    """
    template = _HINTS.get(first_parameter(fn) or "")
    return template.format(name=name, fn=_python_name(name)) if template else ""


class LegacyRngGuard:
    """Keeps numpy's legacy global RNG state as the user left it.

    Outside a ``with guard:`` block, :meth:`seeded` saves and restores the state around
    each call; inside one (re-entrant), the state is saved on entry and restored on exit.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: Any = None

    def __enter__(self) -> LegacyRngGuard:
        with self._lock:
            if self._depth == 0:
                self._saved = np.random.get_state()
            self._depth += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                np.random.set_state(self._saved)
                self._saved = None

    def seeded(self, seed: int, fn: Callable[[], Any]) -> Any:
        """``fn()`` with the global RNG seeded with ``seed``; the user's state is kept.

        Args:
            seed: the seed (reduced modulo 2**32).
            fn: the call to make.

        Returns:
            What ``fn`` returned.
        """
        if self._depth:
            np.random.seed(seed % 2**32)
            return fn()
        state = np.random.get_state()
        np.random.seed(seed % 2**32)
        try:
            return fn()
        finally:
            np.random.set_state(state)


def from_callable(fn: Callable[..., Any], name: str | None = None) -> Initializer:
    """An :class:`~initcheck.initializers.base.Initializer` for ``fn(shape, dtype=None)``.

    Args:
        fn: the callable; ``dtype`` and ``seed`` are passed when it accepts them.
        name: a display name (default: the function's qualified name).

    Returns:
        The adapted initializer.
    """
    takes_seed = accepts(fn, "seed")
    takes_dtype = accepts(fn, "dtype")
    label = name or describe(fn)
    guard = LegacyRngGuard()
    # TF1-style (shape, dtype=None, partition_info=None) code reads dtype.as_numpy_dtype
    tf_style = {"on": takes_dtype and accepts(fn, "partition_info")}
    hint = framework_hint(fn, label)

    def plain(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        kwargs: dict[str, Any] = {}
        if takes_dtype:
            kwargs["dtype"] = tf_dtype(dtype) if tf_style["on"] else dtype
        if takes_seed:
            return fn(shape, seed=seed, **kwargs)
        return guard.seeded(seed, lambda: fn(shape, **kwargs))

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        try:
            return plain(shape, seed, dtype)
        except Exception as exc:
            if takes_dtype and not tf_style["on"] and _on_string_dtype(exc) and _has_tf():
                tf_style["on"] = True  # a real dtype object from now on
                return plain(shape, seed, dtype)
            if _on_shape_tuple(exc) and not hint:  # (a tensor/key hint says it all)
                raise InitializerError(
                    f"{label} raised {type(exc).__name__}: {exc} (called with shape={shape}). "
                    f"{array_hint(label)}"
                ) from exc
            raise

    return Initializer(
        name=label,
        kind="callable",
        seedable=takes_seed,
        call=call,
        takes_dtype=takes_dtype,
        hint=hint,
        batch=(lambda: guard) if not takes_seed else contextlib.nullcontext,
    )


def from_array(
    fn: Callable[..., Any], name: str | None = None, *, in_place: bool | None
) -> Initializer:
    """An :class:`~initcheck.initializers.base.Initializer` for a numpy-array initializer.

    Args:
        fn: ``fn(array)`` filling a numpy array in place (Chainer's ``init(array)``; for
            MXNet's ``_init_weight(name, arr)`` pass ``lambda arr: init._init_weight("w",
            arr)``), or a plain ``fn(shape, dtype=None) -> array``.
        name: a display name (default: the function's qualified name).
        in_place: ``True``: always in place on ``np.zeros(shape, dtype)`` (the array is
            the draw, whatever ``fn`` returns); ``False``: a plain callable; ``None``
            (the gate's and the CLI's ``framework = "array"``): called as a plain callable
            until a call fails on the shape tuple or returns ``None``, then in place.

    Returns:
        The adapted initializer; ``seed=`` is passed when ``fn`` accepts it, else numpy's
        global RNG is seeded per draw (as :func:`from_callable`).
    """
    if in_place is False:
        return from_callable(fn, name)
    label = name or describe(fn)
    takes_seed = accepts(fn, "seed")
    guard = LegacyRngGuard()
    plain = from_callable(fn, label).call
    mode = {"in_place": bool(in_place)}

    def fill(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        arr = np.zeros(shape, dtype=np.dtype(dtype))
        if takes_seed:
            fn(arr, seed=seed)
        else:
            guard.seeded(seed, lambda: fn(arr))
        return arr

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        if mode["in_place"]:
            return fill(shape, seed, dtype)
        try:
            out = plain(shape, seed, dtype)
        except InitializerError as exc:
            if not _on_shape_tuple(exc.__cause__ or exc):  # type: ignore[arg-type]
                raise
            out = None
        if out is None:
            mode["in_place"] = True
            return fill(shape, seed, dtype)
        return out

    return Initializer(
        name=label,
        kind="callable",
        seedable=takes_seed,
        call=call,
        takes_dtype=True,
        batch=(lambda: guard) if not takes_seed else contextlib.nullcontext,
    )


def array_initializer(fn: Callable[..., Any], name: str | None = None) -> DeclaredInitializer:
    """Declare ``fn`` an in-place numpy filler ``fn(array)`` (its return value is ignored).

    Args:
        fn: the function; it fills the float array it is given (e.g. Chainer's
            ``initializers.HeNormal()``; for MXNet's ``init._init_weight(name, arr)``
            pass ``lambda arr: init._init_weight("weight", arr)``). It gets ``seed=``
            if it accepts one, else numpy's global RNG is seeded per draw.
        name: a display name (default: the function's qualified name).

    Returns:
        A wrapper that :func:`~initcheck.initializers.resolve` (and so every check) calls
        on ``np.zeros(shape, dtype)``, taking the filled array as the draw.

    Example:
        >>> def mine(array):
        ...     array[...] = np.random.normal(0.0, 0.1, array.shape)
        >>> initcheck.check(array_initializer(mine), variance=0.01)
    """
    return DeclaredInitializer(fn=fn, framework="array", name=name, in_place=True)
