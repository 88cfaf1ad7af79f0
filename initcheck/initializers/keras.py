"""Keras initializers: names (``"he_normal"``), instances and classes.

A Keras instance with a fixed seed returns the same values on every call (Keras's
documented behaviour), so each draw re-creates it from its config with a fresh seed.
Keras is imported only when a name must be looked up (:func:`keras_module`); an instance
or class cannot exist before Keras is imported, so recognizing one never imports it.
"""

from __future__ import annotations

import sys
from typing import Any

from initcheck._tf import import_quietly
from initcheck.initializers.base import Initializer

#: What to install for Keras, said wherever Keras is missing.
INSTALL_KERAS = (
    "pip install 'initcheck[keras]' (Keras 3 with TensorFlow), or pip install keras with "
    "JAX or PyTorch and set KERAS_BACKEND=jax or torch"
)


def keras_module() -> Any:
    """The ``keras`` module, imported on first use without TensorFlow's start-up logs
    (unless the user set ``TF_CPP_MIN_LOG_LEVEL``; see :func:`initcheck._tf.import_quietly`).

    Raises:
        ImportError: Keras (or its backend) is not installed; the message says what to
            install.
    """

    try:
        return import_quietly("keras")
    except ImportError as exc:
        raise ImportError(
            f"Keras initializer names need Keras 3, which is not installed ({exc}): "
            f"{INSTALL_KERAS}."
        ) from None


def keras_names() -> list[str]:
    """Names Keras accepts in ``keras.initializers.get`` (snake_case and class names).

    Returns:
        The sorted names.
    """
    keras = keras_module()
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


def is_keras_initializer(obj: object) -> bool:
    """Whether ``obj`` is a Keras initializer instance."""
    if "keras" not in sys.modules:  # nothing can be a Keras object before Keras is imported
        return False
    return isinstance(obj, sys.modules["keras"].initializers.Initializer)


def is_keras_initializer_class(obj: object) -> bool:
    """Whether ``obj`` is a Keras initializer class."""
    if "keras" not in sys.modules or not isinstance(obj, type):
        return False
    return issubclass(obj, sys.modules["keras"].initializers.Initializer)


def from_keras_instance(obj: Any, name: str | None = None) -> Initializer:
    """An :class:`~initcheck.initializers.base.Initializer` for a Keras initializer instance.

    Args:
        obj: the Keras initializer.
        name: a display name (default: the class name).

    Returns:
        The adapted initializer; seedable when the config has a ``seed``.
    """
    cls = type(obj)
    config = obj.get_config()
    seedable = "seed" in config

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> Any:
        inst = cls.from_config({**config, "seed": seed}) if seedable else obj
        return inst(shape, dtype=dtype)

    return Initializer(name=name or cls.__name__, kind="keras", seedable=seedable, call=call)
