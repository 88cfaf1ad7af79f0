"""Turn *any* accepted initializer into an :class:`~initcheck.initializers.base.Initializer`.

Accepted, in the order they are recognized:

- an already resolved :class:`~initcheck.initializers.base.Initializer`;
- a Keras name (``"he_normal"``), or a Keras initializer class or instance
  (:mod:`initcheck.initializers.keras`);
- a declared framework initializer, :func:`~initcheck.initializers.torch.torch_initializer`
  or :func:`~initcheck.initializers.jax.jax_initializer`;
- a PyTorch or JAX initializer, recognized by the object itself
  (:mod:`initcheck.initializers.torch`, :mod:`initcheck.initializers.jax`);
- a plain callable ``init(shape, dtype=None)``, optionally accepting ``seed=``
  (:mod:`initcheck.initializers.callables`).
"""

from __future__ import annotations

from typing import Any

from initcheck.initializers.base import (
    FRAMEWORKS,
    DeclaredInitializer,
    Initializer,
    InitializerLike,
)
from initcheck.initializers.callables import from_array, from_callable
from initcheck.initializers.jax import from_jax, is_jax_initializer
from initcheck.initializers.keras import (
    from_keras_instance,
    is_keras_initializer,
    is_keras_initializer_class,
    keras_module,
)
from initcheck.initializers.torch import from_torch, is_torch_initializer
from initcheck.keras_names import did_you_mean


def _from_name(init: str, name: str | None) -> Initializer:
    keras = keras_module()
    try:
        obj = keras.initializers.get(init)
    except (ValueError, TypeError):
        raise ValueError(
            f"Unknown Keras initializer name {init!r}; {did_you_mean(init)}known names "
            "include 'glorot_uniform', 'he_normal', 'lecun_normal', 'orthogonal', 'zeros'; "
            "or pass an initializer object or a callable (shape, dtype=None) -> array."
        ) from None
    return from_keras_instance(obj, name=name or init)


def _from_declared(init: DeclaredInitializer, name: str | None) -> Initializer:
    if init.framework == "array":
        return from_array(init.fn, name=name or init.name, in_place=init.in_place)
    adapt = {"torch": from_torch, "jax": from_jax}[init.framework]
    return adapt(init.fn, name=name or init.name)


def declare(init: Any, framework: str | None) -> Any:
    """``init`` declared as a ``framework`` initializer (the gate's and the CLI's
    ``framework``), or ``init`` itself when ``framework`` is ``None``.

    Args:
        init: the object a SPEC names.
        framework: ``"torch"`` (an in-place ``fn(tensor)``), ``"jax"`` (``fn(key, shape,
            dtype)``), ``"array"`` (a plain ``fn(shape, dtype=None) -> array``, or an
            in-place numpy filler ``fn(array)``, told apart by its first call) or ``None``
            (recognized by the object itself).

    Returns:
        A :class:`DeclaredInitializer`, or ``init``.

    Raises:
        ValueError: an unknown framework.
        TypeError: ``init`` is not a function (e.g. a Keras name or initializer object).
    """
    if framework is None:
        return init
    if framework not in FRAMEWORKS:
        raise ValueError(
            f"Unknown framework: expected one of {list(FRAMEWORKS)} or None. "
            f"Received: framework={framework!r}"
        )
    if isinstance(init, str) or is_keras_initializer(init):
        raise TypeError(
            f"framework={framework!r} declares a function of yours; a Keras initializer "
            f"needs no declaration. Received: {init!r:.80}"
        )
    return DeclaredInitializer(fn=init, framework=framework)


def resolve(
    init: InitializerLike, *, name: str | None = None, timeout: float | None = None
) -> Initializer:
    """Resolve any accepted initializer into an :class:`Initializer`.

    Args:
        init: a Keras name, a Keras initializer instance or class, a PyTorch or JAX
            initializer (or one declared with ``torch_initializer`` / ``jax_initializer``),
            a plain callable ``(shape, dtype=None) -> array``, or an already resolved
            :class:`Initializer`.
        name: a display name (defaults to the Keras class or the function name).
        timeout: seconds one call may take (default
            :data:`~initcheck.initializers.base.DEFAULT_TIMEOUT`).

    Returns:
        The resolved initializer.

    Raises:
        ValueError: an unknown Keras name (with the closest known names), or a timeout
            that is not positive.
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
        resolved = _from_name(init, name)
    elif is_keras_initializer_class(init):
        resolved = from_keras_instance(init(), name=name or init.__name__)
    elif is_keras_initializer(init):
        resolved = from_keras_instance(init, name=name)
    elif isinstance(init, DeclaredInitializer):
        resolved = _from_declared(init, name)
    elif isinstance(init, type):
        raise TypeError(
            f"{init.__name__} is a class but not a Keras initializer class; pass an instance "
            "or a callable (shape, dtype=None) -> array."
        )
    elif is_torch_initializer(init):
        resolved = from_torch(init, name=name)
    elif is_jax_initializer(init):
        resolved = from_jax(init, name=name)
    elif callable(init):
        resolved = from_callable(init, name=name)
    else:
        raise TypeError(
            "An initializer must be a Keras name, a Keras initializer (instance or class), a "
            "PyTorch or JAX initializer or a callable (shape, dtype=None) -> array. "
            f"Received: {init!r:.80} (type={type(init).__name__})"
        )
    if timeout is not None:
        resolved.timeout = float(timeout)
    if name is not None:
        resolved.name = name
    return resolved
