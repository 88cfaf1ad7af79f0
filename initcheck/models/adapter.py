"""The contract every audited framework meets, and the list of frameworks.

A :class:`ModelAdapter` tells an audit everything framework-specific:

- ``detects(obj)``: is ``obj`` a model of this framework (without importing it)?
- ``build(factory, seed)``: ``factory()`` with the framework seeded.
- ``trace(model, inputs, seed)``: one forward/backward pass with every layer call
  recorded (:class:`~initcheck.models.graph.Trace`), dropout off, the model unchanged.
- ``pieces(model, trace)``: one :class:`~initcheck.models.records.WeightPiece` per weight
  (per gate or projection of a packed one), read through the trace's data flow.
- ``own_values(model)``: ``{key: array}`` of the instance's weights (float32 or wider).
- ``ways(model)``: ``{key: [Way, ...]}``, the ways to draw each weight afresh on its own
  (its initializer object, its module's init code); tried in order, the first that
  reproduces the model's values is used, else a factory is rebuilt
  (:mod:`initcheck.models.draws`).
- ``write_fix(members, rows)``: a failing finding's fix, as code in the framework
  (:class:`~initcheck.models.fixcode.Fix`), or ``None``.
- ``fixed(model, fixes, paths, instance)``: a fixed copy of an instance, or a factory of
  fixed models, with exactly those fixes' code run on it.
- ``reseed``: what to do when every build gives the same weights; ``measures_learning``:
  whether ``trace`` records, for each constant parameter, whether its units learn apart
  (:attr:`~initcheck.models.graph.Trace.learns`).

A new framework is one module with one adapter object, and one entry in
:data:`ADAPTERS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from initcheck.models.draws import Way
from initcheck.models.fixcode import Fix
from initcheck.models.graph import Trace
from initcheck.models.records import WeightPiece
from initcheck.models.weightrow import WeightRow

#: (module, attribute) of each framework's adapter, tried in order; imported on first use.
#: Keras first: on the PyTorch backend a Keras model is also a ``torch.nn.Module``.
ADAPTERS: list[tuple[str, str]] = [
    ("initcheck.models.keras_model", "KERAS"),
    ("initcheck.models.torch_model", "TORCH"),
    ("initcheck.models.flax_model", "FLAX"),
    ("initcheck.models.linen_model", "LINEN"),  # seeded through FLAX's nnx.Rngs
]


class NotAModelError(TypeError):
    """``audit()`` was given (or a factory returned) something that is not a model of a
    supported framework."""


class ModelAdapter(Protocol):
    name: str
    reseed: str
    measures_learning: bool

    def detects(self, obj: Any) -> bool: ...

    def build(self, factory: Callable[[], Any], seed: int) -> Any: ...

    def trace(self, model: Any, inputs: Any, seed: int) -> Trace: ...

    def pieces(self, model: Any, trace: Trace | None) -> list[WeightPiece]: ...

    def own_values(self, model: Any) -> Mapping[str, np.ndarray]: ...

    def ways(self, model: Any) -> Mapping[str, Sequence[Way]]: ...

    def write_fix(self, members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None: ...

    def fixed(
        self, model: Any, fixes: Sequence[Fix], paths: Sequence[str], instance: bool
    ) -> Any: ...


def _adapters() -> list[ModelAdapter]:
    return [getattr(importlib.import_module(m), a) for m, a in ADAPTERS]


def _detect(obj: Any) -> ModelAdapter | None:
    for adapter in _adapters():
        if adapter.detects(obj):
            return adapter
    return None


def adapter_named(name: str) -> ModelAdapter:
    """The adapter whose :attr:`~ModelAdapter.name` is ``name`` (a report's framework)."""
    for adapter in _adapters():
        if adapter.name == name:
            return adapter
    known = [a.name for a in _adapters()]
    raise ValueError(f"No framework named {name!r}; known: {known}. Received: name={name!r}")


def framework_of(obj: Any) -> str | None:
    """The name of the framework whose model ``obj`` is, else ``None``."""
    adapter = _detect(obj)
    return adapter.name if adapter else None


def seeded_build(factory: Callable[[], Any], seed: int) -> Any:
    """``factory()`` with every adapter's framework seeded (a factory's module imports
    its framework before it is called, so only imported frameworks are seeded)."""
    import inspect
    import sys

    try:  # f(rngs): a Flax factory, even one whose module imports Flax only when called
        wants_rngs = "rngs" in inspect.signature(factory).parameters
    except (TypeError, ValueError):
        wants_rngs = False
    if wants_rngs and "flax" not in sys.modules:
        importlib.import_module("flax.nnx")
    seeded = factory
    for module, attr in reversed(ADAPTERS):
        if module.rsplit(".", 1)[-1].split("_")[0] not in sys.modules:  # torch, keras, flax
            continue
        adapter = getattr(importlib.import_module(module), attr)
        seeded = (lambda a, f: lambda: a.build(f, seed))(adapter, seeded)
    return seeded()


def _takes_no_arguments(factory: Callable[..., Any]) -> None:
    """A factory is called with no arguments (or ``rngs``): one that needs more is told
    how to give them, before it is called."""
    import inspect

    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # no signature (a builtin): the call decides
        return
    needed = [
        p.name
        for p in params
        if p.default is p.empty
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        and p.name != "rngs"
    ]
    if needed:
        name = getattr(factory, "__name__", type(factory).__name__)
        example = ", ".join(f"{n}=..." for n in needed)
        raise NotAModelError(
            f"the factory {name}() needs {', '.join(map(repr, needed))}, but audit() calls a "
            f"factory with no arguments (or rngs). Give them: functools.partial({name}, "
            f"{example}) in Python, kwargs = {{ {example.replace('=', ' = ')} }} in the gate's "
            f'table, --kwargs "{example}" on the command line.'
        )


def adapter_for(model: Any, seed: int) -> tuple[ModelAdapter, Any, Callable[[], Any] | None]:
    """``(adapter, instance, factory)`` for a model or a zero-arg factory."""
    adapter = _detect(model)
    if adapter is not None:
        return adapter, model, None
    if callable(model):
        _takes_no_arguments(model)
        built = seeded_build(model, seed)
        adapter = _detect(built)
        if adapter is not None:
            return adapter, built, model
        raise NotAModelError(
            "A factory passed to audit() must return a Keras model, a torch.nn.Module or a "
            "Flax nnx.Module. "
            f"Received: factory() -> {type(built).__name__}"
        )
    raise NotAModelError(
        "audit() takes a Keras model, a torch.nn.Module, a Flax nnx.Module, or a factory "
        "returning one (zero-arg; for Flax also f(rngs)), or a Flax Linen module with "
        "inputs=. "
        f"Received: model={model!r:.80} (type={type(model).__name__})"
    )
