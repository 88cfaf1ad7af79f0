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
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import numpy as np

from initcheck.initializers.base import Initializer, accepts, describe, first_parameter

__all__ = ["LegacyRngGuard", "framework_hint", "from_callable"]

_HINTS = {
    "tensor": (
        "If {name} is a PyTorch in-place initializer fn(tensor, ...), declare it: "
        'initcheck.initializers.torch_initializer({name}) (framework = "torch" in the '
        "gate, --framework torch on the command line)."
    ),
    "key": (
        "If {name} is a JAX initializer fn(key, shape, dtype), declare it: "
        'initcheck.initializers.jax_initializer({name}) (framework = "jax" in the '
        "gate, --framework jax on the command line)."
    ),
}


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
    return template.format(name=name) if template else ""


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

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        kwargs: dict[str, Any] = {}
        if takes_dtype:
            kwargs["dtype"] = dtype
        if takes_seed:
            return fn(shape, seed=seed, **kwargs)
        return guard.seeded(seed, lambda: fn(shape, **kwargs))

    return Initializer(
        name=label,
        kind="callable",
        seedable=takes_seed,
        call=call,
        takes_dtype=takes_dtype,
        hint=framework_hint(fn, label),
        batch=(lambda: guard) if not takes_seed else contextlib.nullcontext,
    )
