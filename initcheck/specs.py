"""Initializer specs on the command line and in ``pyproject.toml``.

A SPEC is one of:

- a Keras name: ``he_normal``;
- ``module:attr`` (``mypkg.inits:my_he``; ``attr`` may be dotted);
- ``path/file.py:attr`` (relative to the current directory or ``root``).

An inputs SPEC (``initcheck audit --inputs``, ``inputs =`` of a gated model) is
``module:attr`` or ``path/file.py:attr`` naming a batch: an array, a tensor, or a zero-arg
function returning one (:func:`load_inputs`).
"""

from __future__ import annotations
import __future__

import functools
import importlib
import importlib.util
import inspect
import re
import sys
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from initcheck.keras_names import KERAS_INITIALIZER_NAMES
from initcheck.keras_names import did_you_mean as keras_did_you_mean
from initcheck.validators import did_you_mean

_MAX_LISTED = 20  # names listed after "it defines:"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SpecError(ValueError):
    """A SPEC could not be loaded; the message says why and what is accepted."""


def _defined(obj: Any) -> list[str]:
    """The public names of ``obj`` a SPEC could name (not modules or ``__future__`` flags)."""
    names = []
    for name in sorted(vars(obj) if hasattr(obj, "__dict__") else dir(obj)):
        value = getattr(obj, name, None)
        if name.startswith("_") or isinstance(value, types.ModuleType | __future__._Feature):
            continue
        names.append(name)
    return names


def _getattr_path(obj: Any, attr: str, spec: str, where: str) -> Any:
    """``obj.attr`` (``attr`` may be dotted); ``where`` names ``obj`` in error messages."""
    done: list[str] = []
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            place = f"{'.'.join(done)} of {where}" if done else where
            names = _defined(obj)
            more = len(names) - _MAX_LISTED
            listed = ", ".join(names[:_MAX_LISTED]) + (f" and {more} more" if more > 0 else "")
            defines = f"; it defines: {listed}" if names else "; it defines no public names"
            raise SpecError(f"{spec!r}: {part!r} not found in {place}{defines}.") from None
        done.append(part)
    return obj


def check_keras_name(name: str) -> None:
    """Check a bare SPEC against the names Keras accepts, without importing Keras.

    Args:
        name: the SPEC (a Keras initializer name such as ``"he_normal"``).

    Raises:
        SpecError: an unknown name; the message suggests the closest known names.
    """

    if name in KERAS_INITIALIZER_NAMES:
        return
    raise SpecError(
        f"unknown Keras initializer {name!r}; {keras_did_you_mean(name)}A SPEC is a Keras name "
        "(he_normal), module:attr or path/file.py:attr."
    )


def load_spec(spec: str, *, root: str | Path | None = None) -> Any:
    """Return the initializer object a SPEC names (a Keras name is returned as is).

    Raises:
        SpecError: the module or file cannot be imported, or the attribute is missing.

    Example:
        >>> load_spec("he_normal")
        'he_normal'
        >>> load_spec("numpy.random:default_rng")  # doctest: +ELLIPSIS
        <built-in function default_rng>
    """
    if not isinstance(spec, str) or not spec.strip():
        raise SpecError(
            "An initializer SPEC is a Keras name (he_normal), module:attr or path/file.py:attr. "
            f"Received: {spec!r}"
        )
    spec = spec.strip()
    if ":" not in spec:
        if _NAME.match(spec):
            return spec
        raise SpecError(
            f"{spec!r} is neither a Keras name nor module:attr nor path/file.py:attr "
            "(a file path needs ':attr', e.g. inits.py:my_he)."
        )
    target, attr = spec.rsplit(":", 1)
    if not attr:
        raise SpecError(f"{spec!r}: missing the attribute after ':'.")
    if target.endswith(".py") or "/" in target or "\\" in target:
        path = Path(target)
        if not path.is_absolute() and root is not None:
            path = Path(root) / path
        if not path.is_file():
            raise SpecError(f"{spec!r}: file {str(path)!r} does not exist.")
        mod_name = f"_initcheck_spec_{abs(hash(str(path.resolve())))}"
        module = sys.modules.get(mod_name)
        if module is None:
            loader_spec = importlib.util.spec_from_file_location(mod_name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise SpecError(f"{spec!r}: cannot import {str(path)!r} as a Python file.")
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[mod_name] = module
            try:
                loader_spec.loader.exec_module(module)
            except SystemExit as exc:  # a script without a __main__ guard
                del sys.modules[mod_name]
                raise SpecError(_exit_text(spec, repr(str(path)), exc)) from None
            except Exception as exc:
                del sys.modules[mod_name]
                raise SpecError(
                    f"{spec!r}: importing {str(path)!r} raised {type(exc).__name__}: {exc}"
                ) from exc
        return _getattr_path(module, attr, spec, str(path.resolve()))
    try:
        module = importlib.import_module(target)
    except SystemExit as exc:
        raise SpecError(_exit_text(spec, f"module {target!r}", exc)) from None
    except Exception as exc:
        raise SpecError(
            f"{spec!r}: cannot import module {target!r} ({type(exc).__name__}: {exc}). "
            "Is it installed or on sys.path (e.g. pythonpath in your pytest config)?"
        ) from exc
    return _getattr_path(module, attr, spec, f"module {target!r}")


def _exit_text(spec: str, what: str, exc: SystemExit) -> str:
    return (
        f"{spec!r}: importing {what} called sys.exit({exc.code!r}); guard the script's own "
        "code with if __name__ == '__main__':"
    )


#: What an inputs SPEC names, for error messages.
INPUTS_FORM = (
    "module:attr or path/file.py:attr naming an array, a tensor, a tuple of them (positional "
    "inputs), a dict of them (keyword inputs) or a zero-arg function returning one (e.g. "
    "data.py:batch)"
)


def _line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def check_inputs_spec(spec: Any) -> str:
    """Check an inputs SPEC's form without importing anything; return it stripped.

    Raises:
        SpecError: not a string with ``:attr``.
    """
    if not isinstance(spec, str) or ":" not in spec or not spec.strip():
        raise SpecError(f"an inputs SPEC is {INPUTS_FORM}. Received: {spec!r}")
    return spec.strip()


def _batch(obj: Any) -> Any:
    """``obj`` if it is an array or tensor (or a numeric nested list, as an array), a
    tuple of them (positional inputs) or a dict of them (keyword inputs), else ``None``."""
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        parts = {k: _batch(v) for k, v in obj.items()}
        return parts if all(v is not None for v in parts.values()) else None
    if isinstance(obj, tuple) and obj and all(hasattr(v, "shape") for v in obj):
        return obj
    if isinstance(obj, list | tuple):
        import numpy as np

        try:
            array = np.asarray(obj)
        except (ValueError, TypeError):
            return None
        return array if array.dtype.kind in "biuf" else None
    if isinstance(obj, type) or not (hasattr(obj, "shape") and hasattr(obj, "dtype")):
        return None
    return obj


def _seeded_call(func: Any, seed: int) -> Any:
    """``func()`` with the random generators of the frameworks already imported seeded by
    ``seed`` (numpy's and torch's global states are restored afterwards; Keras's
    ``set_random_seed`` is global), so a batch drawn at random is the same in every run."""
    np, torch, keras = (sys.modules.get(m) for m in ("numpy", "torch", "keras"))
    np_state = np.random.get_state() if np is not None else None
    torch_state = torch.random.get_rng_state() if torch is not None else None
    try:
        if keras is not None:
            keras.utils.set_random_seed(seed)
        if np is not None:
            np.random.seed(seed)
        if torch is not None:
            torch.manual_seed(seed)
        return func()
    finally:
        if np is not None and np_state is not None:
            np.random.set_state(np_state)
        if torch is not None and torch_state is not None:
            torch.random.set_rng_state(torch_state)


def load_inputs(spec: str, *, root: str | Path | None = None, seed: int = 0) -> Any:
    """The batch an inputs SPEC names: the array or tensor itself, or what the zero-arg
    function it names returns (called once, numpy/torch/Keras seeded by ``seed``).

    Args:
        spec: ``module:attr`` or ``path/file.py:attr``, resolved like :func:`load_spec`.
        root: the directory a relative file path is resolved against.
        seed: the seed of the function's call.

    Returns:
        An array or tensor (a numeric nested list becomes a numpy array).

    Raises:
        SpecError: a bad form, an unloadable SPEC, an object that is neither a batch nor
            callable, a function that raises or returns something else.
    """
    spec = check_inputs_spec(spec)
    obj = _seeded_call(lambda: load_spec(spec, root=root), seed)  # an import draws too
    batch = _batch(obj)
    if batch is not None:
        return batch
    if not callable(obj):
        raise SpecError(
            f"{spec!r} is a {type(obj).__name__}, not an array, a tensor or a zero-arg "
            "function returning one; name a batch the model accepts."
        )
    try:
        built = _seeded_call(obj, seed)
    except Exception as exc:
        raise SpecError(
            f"{spec!r}: calling it raised {type(exc).__name__}: {_line(exc)} (it must take "
            "no arguments and return a batch the model accepts)."
        ) from exc
    batch = _batch(built)
    if batch is None:
        raise SpecError(
            f"{spec!r}: calling it returned a {type(built).__name__}, not an array or a "
            "tensor; return a batch the model accepts (e.g. a numpy array or torch tensor)."
        )
    return batch


def with_kwargs(factory: Any, kwargs: Mapping[str, Any] | None) -> Any:
    """``factory`` with its arguments bound (``kwargs`` of a gate table, ``--kwargs``), so
    it can be called as a zero-arg (or ``rngs``) factory; ``factory`` itself without them.

    Raises:
        SpecError: ``factory`` is not a function or class, or does not take a name given.

    Example:
        >>> with_kwargs(dict, {"a": 1})()
        {'a': 1}
    """
    if not kwargs:
        return factory
    if not (inspect.isroutine(factory) or inspect.isclass(factory)) and not isinstance(
        factory, functools.partial
    ):
        raise SpecError(
            f"kwargs are a factory's arguments, but {factory!r:.60} is a "
            f"{type(factory).__name__}, not a function or class. Received: kwargs={dict(kwargs)}"
        )
    params: Mapping[str, inspect.Parameter]
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature: let the call decide
        params = {}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    unknown = [k for k in kwargs if params and not takes_any and k not in params]
    if unknown:
        hint = "".join(did_you_mean(k, params) for k in unknown)
        name = getattr(factory, "__name__", type(factory).__name__)
        raise SpecError(
            f"{name}() takes no argument {', '.join(map(repr, unknown))}; its parameters are "
            f"{list(params)}. Received: kwargs={dict(kwargs)}.{hint}"
        )
    return functools.partial(factory, **kwargs)
