"""The resolved :class:`Initializer`: one validated draw per call, with a time limit.

Every adapter (:mod:`~initcheck.initializers.keras`, :mod:`~initcheck.initializers.callables`,
:mod:`~initcheck.initializers.torch`, :mod:`~initcheck.initializers.jax`) builds one of
these; :meth:`Initializer.draw` returns a float64 copy of one draw, validated (type, shape,
dtype, finiteness), or raises :class:`~initcheck.errors.InitializerError` naming what went
wrong.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from initcheck._threads import CallTimeout, DaemonWorker
from initcheck.errors import InitializerError

if TYPE_CHECKING:
    from initcheck.initializers.cache import DrawCache

DEFAULT_TIMEOUT = 60.0  # seconds one call of the initializer may take
#: A call that returns within this many seconds lets later calls at its shape run inline.
FAST_CALL = 0.05


def accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes a keyword argument ``name`` (or ``**kwargs``).

    Args:
        fn: any callable.
        name: the keyword argument.

    Returns:
        ``True`` if ``fn`` accepts ``name=``; ``False`` also when it has no signature.
    """
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in params)


def first_parameter(fn: Callable[..., Any]) -> str | None:
    """The name of ``fn``'s first parameter, or ``None`` (no parameters or no signature)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return None
    return params[0].name if params else None


def unwrap_partial(fn: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any]]:
    """The function under any ``functools.partial`` layers, with the bound arguments.

    Args:
        fn: any object.

    Returns:
        ``(base, args, kwargs)``: the innermost function and the arguments bound on the way.
    """
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = {}
    while isinstance(fn, functools.partial):
        args = fn.args + args
        kwargs = {**fn.keywords, **kwargs}
        fn = fn.func
    return fn, args, kwargs


def closure_values(fn: Any) -> dict[str, Any]:
    """The values a closure captured, by variable name (empty cells left out)."""
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


def describe(obj: object) -> str:
    """A readable name for ``obj``: its qualified name, else its type's name. A closure
    is named by the function that made it, with the numbers and strings it captured
    (``scaled_uniform(scale=1.3)``, not ``scaled_uniform.<locals>.init``); a local
    function that captured no number or string by its own name."""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if name is None:
        name = type(obj).__name__
    name = str(name)
    if ".<locals>." not in name:
        return name
    parts = name.split(".<locals>.")
    simple = {
        k: v
        for k, v in closure_values(obj).items()
        if isinstance(v, int | float | str) and not isinstance(v, bool) and not k.startswith("_")
    }
    # a factory's product carries its arguments; a local function (a test's) its own name
    return call_text(parts[-2], (), simple) if simple else parts[-1]


def call_text(base: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``base(args…, k=v…)``, or ``base`` alone without arguments: a call as it reads."""
    bound = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{base}({', '.join(bound)})" if bound else base


def framework_module(name: str, what: str, extra: str) -> Any:
    """The framework module ``name`` (imported on first use), or an ImportError saying
    which extra installs it."""
    try:
        return sys.modules.get(name) or importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"{what} initializers need {what} ({exc}): install the extra, "
            f"pip install 'initcheck[{extra}]'"
        ) from exc


#: How a declared initializer is called (``framework=`` of the API, the gate and the CLI):
#: a PyTorch in-place ``fn(tensor)``, a JAX ``fn(key, shape, dtype)``, or a plain
#: ``fn(shape, dtype=None) -> array``.
FRAMEWORKS = ("torch", "jax", "array")


#: How an initializer whose seeds all give the same tensor is fixed (its ``reseed``).
RESEED = "accept `seed=` (or use a fresh random state per call)"


@dataclass(frozen=True)
class DeclaredInitializer:
    """A callable the user declared as a framework initializer.

    Built by :func:`~initcheck.initializers.torch_initializer` and
    :func:`~initcheck.initializers.jax_initializer`; :func:`~initcheck.initializers.resolve`
    adapts it as that framework's initializer. Calling it calls the wrapped function.

    Attributes:
        fn: the wrapped function.
        framework: ``"torch"``, ``"jax"`` or ``"array"`` (a numpy-array initializer: a
            plain callable ``(shape, dtype=None) -> array``, whatever the object looks
            like, or an in-place filler ``fn(array)``).
        name: a display name, or ``None`` for the function's name.
    """

    fn: Callable[..., Any]
    framework: str
    name: str | None = None
    in_place: bool | None = None  # "array" only: see initcheck.initializers.callables.from_array

    def __post_init__(self) -> None:
        if self.framework not in FRAMEWORKS:
            raise ValueError(
                f"framework must be one of {list(FRAMEWORKS)}. Received: {self.framework!r}"
            )
        if not callable(self.fn) or isinstance(self.fn, type):
            raise TypeError(
                f"A {self.framework} initializer must be a function. Received: {self.fn!r:.80} "
                f"(type={type(self.fn).__name__})"
            )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


@dataclass
class Initializer:
    """A resolved initializer that can be drawn from.

    Calls are timed. The first call at each ``(shape, dtype)`` runs on a daemon worker
    thread (:class:`~initcheck._threads.DaemonWorker`) with the time limit, so a hanging
    initializer fails with a clear :class:`~initcheck.errors.InitializerError` instead of
    hanging the session; the hung call is abandoned on its thread, which does not keep
    the interpreter from exiting. Once a
    ``(shape, dtype)`` has returned within :data:`FAST_CALL` seconds, later calls at it
    run on the calling thread (no thread hand-off per call), each followed by a
    wall-clock check: a call slower than the limit fails the draw, and one slower than
    :data:`FAST_CALL` sends that ``(shape, dtype)`` back to the worker thread.

    Attributes:
        name: a readable name, used in messages and reports.
        kind: one of ``"keras"``, ``"callable"``, ``"torch"``, ``"jax"``.
        seedable: whether distinct seeds are passed to it (Keras config seed, ``seed=``,
            a torch generator or a JAX key).
        takes_dtype: whether it is asked for a dtype (Keras initializers, callables with a
            ``dtype`` parameter, torch and JAX initializers).
        timeout: seconds one call may take before the draw fails.
        reseed: how to make distinct seeds give distinct values, said when they do not
            (default :data:`RESEED`; a model's weights: how to write its factory).
        hint: appended to every error message of a draw (e.g. how to declare a framework
            initializer); empty by default.
        batch: a context manager factory; draws made inside ``with init.batch():`` share
            per-call setup (e.g. the numpy global RNG state is saved once, not per call).
        cache: a :class:`~initcheck.initializers.cache.DrawCache` that :meth:`draw`
            consults (``None``: every draw calls the initializer).
        calls: how many times the initializer has been called.
        hung: ``None``, or why the initializer is not called again: a call overran the
            time limit. It is abandoned, still running on its daemon thread, and may hold
            locks or state a new call would wait on, so every later draw fails at once
            with this reason (one timeout per resolved initializer, not one per draw).
        inline: every call runs on the caller's thread, from the first (no worker thread
            to start): for code its caller has already run unguarded (a model's weight,
            drawn while the audit chose its way); a call over ``timeout`` still fails, after
            it returns.
    """

    name: str
    kind: str
    seedable: bool
    call: Callable[..., Any] = field(repr=False)
    takes_dtype: bool = True
    timeout: float = DEFAULT_TIMEOUT
    hint: str = field(default="", repr=False)
    reseed: str = field(default=RESEED, repr=False)
    batch: Callable[[], AbstractContextManager[Any]] = field(
        default=contextlib.nullcontext, repr=False
    )
    cache: DrawCache | None = field(default=None, repr=False)
    calls: int = field(default=0, repr=False)
    hung: str | None = field(default=None, repr=False)
    inline: bool = field(default=False, repr=False)
    _pool: DaemonWorker | None = field(default=None, repr=False)
    _fast: dict[tuple[tuple[int, ...], str], np.dtype] = field(default_factory=dict, repr=False)

    def draw(self, shape: tuple[int, ...], seed: int, dtype: str = "float32") -> np.ndarray:
        """One draw at ``shape`` as a float64 array, validated.

        Args:
            shape: the kernel shape.
            seed: the seed of this draw.
            dtype: the dtype asked of the initializer.

        Returns:
            The draw as float64 (a fresh array the caller may keep).

        Raises:
            InitializerError: the initializer raised, hung, or returned something that is
                not a finite floating-point array of ``shape``.
        """
        return self.draw_native(shape, seed, dtype).astype(np.float64)

    def draw_native(self, shape: tuple[int, ...], seed: int, dtype: str = "float32") -> np.ndarray:
        """Like :meth:`draw`, but in the dtype the initializer returned (e.g. bfloat16);
        read-only when it comes from :attr:`cache`."""
        shape = tuple(map(int, shape))
        if self.cache is not None:
            return self.cache.draw(self, shape, int(seed), dtype)
        return self._draw_native(shape, int(seed), dtype)

    def _draw_native(self, shape: tuple[int, ...], seed: int, dtype: str) -> np.ndarray:
        try:
            if self.hung is not None:
                raise InitializerError(f"{self.name} is not called again: {self.hung}.")
            key = (shape, dtype)
            expected = self._fast.get(key)
            if expected is not None or self.inline:
                raw = self._call_inline(key, seed)
                if (
                    type(raw) is np.ndarray
                    and raw.dtype == expected
                    and expected.kind == "f"
                    and raw.shape == shape
                ):
                    return _check_finite(raw, shape, self.name)
                return _validate(raw, shape, self.name)
            start = time.perf_counter()
            raw = self._call_with_timeout(shape, seed, dtype)
            fast = time.perf_counter() - start <= FAST_CALL
            arr = _validate(raw, shape, self.name)
            if fast:
                self._fast[key] = arr.dtype
            return arr
        except InitializerError as exc:
            if not self.hint:
                raise
            raise InitializerError(f"{exc} {self.hint}") from exc

    def _call_inline(self, key: tuple[tuple[int, ...], str], seed: int) -> Any:
        shape, dtype = key
        self.calls += 1
        start = time.perf_counter()
        try:
            raw = self.call(shape, seed, dtype)
        except InitializerError:
            raise
        except Exception as exc:
            raise _raised(self.name, shape, exc) from exc
        elapsed = time.perf_counter() - start
        if elapsed > FAST_CALL:  # slow now: back to the worker thread for this shape
            self._fast.pop(key, None)
            if elapsed > self.timeout:
                raise InitializerError(
                    f"{self.name} did not return within {self.timeout:g} s for shape={shape} "
                    f"(took {elapsed:.3g} s). Make it faster, or raise the limit "
                    "(timeout=..., --initcheck-timeout)."
                )
        return raw

    def _call_with_timeout(self, shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        if self._pool is None:
            self._pool = DaemonWorker("initcheck-draw")
        self.calls += 1
        try:
            return self._pool.run(self.call, shape, seed, dtype, timeout=self.timeout)
        except CallTimeout:
            # The hung call cannot be killed: abandon it on its daemon thread (which does
            # not keep the interpreter alive) and give later calls a new worker.
            self._pool = None
            self.hung = (
                f"an earlier call did not return within {self.timeout:g} s (shape={shape}) "
                "and may still be running"
            )
            raise InitializerError(
                f"{self.name} did not return within {self.timeout:g} s for shape={shape}. "
                "Make it faster, or raise the limit (timeout=..., --initcheck-timeout)."
            ) from None
        except InitializerError:
            raise
        except Exception as exc:
            raise _raised(self.name, shape, exc) from exc

    def __getstate__(self) -> dict[str, Any]:  # executors, caches and contexts do not pickle
        state = self.__dict__.copy()
        state.update(_pool=None, cache=None, batch=contextlib.nullcontext, _fast={})
        return state


def _raised(name: str, shape: tuple[int, ...], exc: Exception) -> InitializerError:
    return InitializerError(
        f"{name} raised {type(exc).__name__}: {exc} (called with shape={shape})"
    )


def _check_finite(arr: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """The cheap validation of a later call: only finiteness (type, shape, dtype known)."""
    bad = count_nonfinite(arr)
    if bad:
        raise InitializerError(
            f"{name} for shape={shape} returned {bad} non-finite value(s) (NaN or Inf) "
            f"out of {arr.size}."
        )
    return arr


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
    bad = count_nonfinite(arr)
    if bad:
        raise InitializerError(
            f"{where} returned {bad} non-finite value(s) (NaN or Inf) out of {arr.size}."
        )
    return arr


def count_nonfinite(arr: np.ndarray) -> int:
    """How many values of a floating-point array are NaN or Inf, without a float64 copy
    of the array: a float64 sum (numpy casts in small buffers) is finite when every value
    is, and only a non-finite sum pays for counting."""
    if arr.dtype.kind == "f":
        if np.isfinite(arr.sum(dtype=np.float64)):
            return 0
        return arr.size - int(np.count_nonzero(np.isfinite(arr)))
    return arr.size - int(np.count_nonzero(np.isfinite(arr.astype(np.float32))))


#: What every entry point takes as an initializer: a Keras name (``"he_normal"``), an
#: :class:`Initializer`, or any callable initcheck can call (a Keras initializer instance
#: or class, ``fn(shape, dtype=None)``, a torch in-place ``fn_(tensor)``, a JAX
#: ``fn(key, shape, dtype)``; see :func:`~initcheck.initializers.resolve`).
InitializerLike = str | Initializer | Callable[..., Any]
