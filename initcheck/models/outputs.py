"""The tensor a model (or layer) output stands for, whatever its container.

Models return tensors, tuples, lists, dicts, dataclasses or Hugging Face ``ModelOutput``
records (dict-like dataclasses). The audit measures the first floating tensor, preferring
the conventional fields ``logits`` and ``last_hidden_state``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

PREFERRED = ("logits", "last_hidden_state", "prediction_logits", "hidden_states")


def _is_float_tensor(x: Any) -> bool:
    floating = getattr(x, "is_floating_point", None)
    if callable(floating) and hasattr(x, "shape"):  # torch
        try:
            return bool(floating())
        except TypeError:
            return False
    dtype = getattr(x, "dtype", None)
    if hasattr(x, "shape") and dtype is not None and not isinstance(x, type):
        return bool(getattr(dtype, "is_floating", False)) or "float" in str(dtype)
    return False


def first_tensor(out: Any, depth: int = 0) -> Any:
    """The floating tensor ``out`` stands for, or ``None``.

    Args:
        out: a tensor, or a (nested) tuple, list, mapping, dataclass or ``ModelOutput``.

    Returns:
        ``logits`` / ``last_hidden_state`` where present, else the first floating tensor
        in order; ``None`` when there is none.
    """
    if depth > 6 or out is None:
        return None
    if _is_float_tensor(out):
        return out
    if isinstance(out, Mapping) or (hasattr(out, "keys") and hasattr(out, "__getitem__")):
        try:
            keys = list(out.keys())
        except Exception:  # not really a mapping
            keys = []
        for key in (*[k for k in PREFERRED if k in keys], *keys):
            found = first_tensor(out[key], depth + 1)
            if found is not None:
                return found
        return None
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        for f in dataclasses.fields(out):
            found = first_tensor(getattr(out, f.name), depth + 1)
            if found is not None:
                return found
        return None
    if isinstance(out, list | tuple):
        for item in out:
            found = first_tensor(item, depth + 1)
            if found is not None:
                return found
    return None


def float_tensors(out: Any, depth: int = 0) -> list[Any]:
    """Every floating tensor in ``out`` (a model's other outputs too: a pooled output
    beside the hidden states), in order, nested containers included."""
    if depth > 6 or out is None:
        return []
    if _is_float_tensor(out):
        return [out]
    items: list[Any] = []
    if isinstance(out, Mapping) or (hasattr(out, "keys") and hasattr(out, "__getitem__")):
        try:
            keys = list(out.keys())
            items = [out[k] for k in keys]
        except Exception:  # not really a mapping
            items = []
    elif dataclasses.is_dataclass(out) and not isinstance(out, type):
        items = [getattr(out, f.name) for f in dataclasses.fields(out)]
    elif isinstance(out, list | tuple):
        items = list(out)
    return [t for item in items for t in float_tensors(item, depth + 1)]
