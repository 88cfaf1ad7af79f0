"""Patching a framework's public function namespaces for one traced pass: how the trace
sees the functions a model's own code calls (``keras.ops.relu``, ``jax.nn.relu``)."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def patched_functions(modules: list[Any], wrap: Callable[[str, Any], Any]) -> Iterator[None]:
    """Every public function of ``modules`` (not classes, not submodules) replaced by
    ``wrap(name, fn)`` inside the block, restored after."""
    saved: list[tuple[Any, str, Any]] = []
    for mod in modules:
        for name in dir(mod):
            fn = getattr(mod, name, None)
            if (
                name.startswith("_")
                or not callable(fn)
                or isinstance(fn, type)
                or inspect.ismodule(fn)
            ):
                continue
            saved.append((mod, name, fn))
            setattr(mod, name, wrap(name, fn))
    try:
        yield
    finally:
        for mod, name, fn in saved:
            setattr(mod, name, fn)
