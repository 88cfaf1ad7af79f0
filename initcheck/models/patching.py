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


@contextmanager
def patched_operators(
    cls: type, names: tuple[str, ...], op: str, wrap: Callable[[str, Any], Any]
) -> Iterator[None]:
    """The operator methods ``names`` of ``cls`` (``Tensor.__add__``) replaced by
    ``wrap(op, method)`` inside the block, restored after: ``h + f(h)`` in a model's own
    code is then seen as the op ``op`` is."""
    saved = [(name, cls.__dict__[name]) for name in names if name in cls.__dict__]
    for name, method in saved:
        setattr(cls, name, wrap(op, method))
    try:
        yield
    finally:
        for name, method in saved:
            setattr(cls, name, method)
