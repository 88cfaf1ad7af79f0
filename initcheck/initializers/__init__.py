"""Initializer adapters: turn *any* initializer into independent, validated numpy draws.

- :mod:`~initcheck.initializers.base`: the resolved :class:`Initializer` (validation,
  timeout);
- :mod:`~initcheck.initializers.keras`: Keras names, instances and classes;
- :mod:`~initcheck.initializers.callables`: plain callables ``(shape, dtype=None[, seed=])``;
- :mod:`~initcheck.initializers.torch`, :mod:`~initcheck.initializers.jax`: PyTorch and
  JAX initializers, recognized by the object itself or declared with
  :func:`torch_initializer` / :func:`jax_initializer`; in-place numpy fillers
  ``fn(array)`` declared with :func:`array_initializer`;
- :mod:`~initcheck.initializers.resolve`: :func:`resolve`, which picks the adapter.

Submodules import from one another, never from this package, so there is no cycle.
"""

from __future__ import annotations

from initcheck.initializers.base import (
    DEFAULT_TIMEOUT,
    DeclaredInitializer,
    Initializer,
    InitializerLike,
)
from initcheck.initializers.callables import array_initializer
from initcheck.initializers.jax import jax_initializer
from initcheck.initializers.keras import keras_names
from initcheck.initializers.resolve import resolve
from initcheck.initializers.torch import torch_initializer

__all__ = [
    "DEFAULT_TIMEOUT",
    "DeclaredInitializer",
    "Initializer",
    "InitializerLike",
    "array_initializer",
    "jax_initializer",
    "keras_names",
    "resolve",
    "torch_initializer",
]
