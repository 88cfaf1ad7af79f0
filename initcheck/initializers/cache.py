"""A bounded cache of draws, so that repeated ``assert_*`` calls do not redraw.

Inside ``@given(kernel_shapes())`` the same small shapes come back again and again, and
a small kernel is drawn thousands of times per assertion. A draw is a function of
``(initializer, shape, dtype, seed)`` for every initializer that honours its seed, so a
cached draw is *exactly* the draw the initializer would make again: reusing it changes
no result. That is verified, not assumed: the first time an initializer is cached, one
seed is drawn twice, and an initializer whose two draws differ (it keeps its own random
state) is never cached.

The cache is shared by all initializers, least recently used entries go first, and its
size is bounded in bytes (:data:`MAX_BYTES`).
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import OrderedDict
from typing import Any, Protocol

import numpy as np

#: The most bytes all cached draws may hold together.
MAX_BYTES = 64 * 2**20
#: Draws larger than this fraction of :data:`MAX_BYTES` are not cached.
MAX_ENTRY_FRACTION = 1 / 16
_OVERHEAD = 128  # bytes of a small numpy array besides its data

_Key = tuple[Any, tuple[int, ...], str, int]


class _Store:
    """The shared least-recently-used store, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.entries: OrderedDict[_Key, np.ndarray] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: _Key) -> np.ndarray | None:
        with self.lock:
            arr = self.entries.get(key)
            if arr is not None:
                self.entries.move_to_end(key)
            return arr

    def put(self, key: _Key, arr: np.ndarray) -> None:
        size = arr.nbytes + _OVERHEAD
        if size > self.max_bytes * MAX_ENTRY_FRACTION:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes + _OVERHEAD
            self.entries[key] = arr
            self.nbytes += size
            while self.nbytes > self.max_bytes:
                _, dropped = self.entries.popitem(last=False)
                self.nbytes -= dropped.nbytes + _OVERHEAD

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.nbytes = 0


_STORE = _Store(MAX_BYTES)
_TOKENS: dict[int, tuple[weakref.ref[Any], int]] = {}
_COUNTER = itertools.count()
_VERIFIED: dict[Any, bool] = {}  # token -> one seed gave equal draws twice


class Drawable(Protocol):
    """What the cache draws from on a miss (an :class:`~initcheck.initializers.Initializer`)."""

    def _draw_native(self, shape: tuple[int, ...], seed: int, dtype: str) -> np.ndarray: ...


class DrawCache:
    """The cached draws of one user initializer (see the module docstring).

    Attributes:
        token: identifies the user's initializer object in the shared store.
        hits: draws served from the cache.
    """

    def __init__(self, token: Any) -> None:
        self.token = token
        self.hits = 0

    def draw(self, init: Drawable, shape: tuple[int, ...], seed: int, dtype: str) -> np.ndarray:
        """``init``'s draw at ``(shape, seed, dtype)``, from the cache when possible.

        Args:
            init: the resolved initializer (drawn from on a miss).
            shape: the kernel shape.
            seed: the seed of the draw.
            dtype: the dtype asked of the initializer.

        Returns:
            The draw in the dtype the initializer returned, read-only (it may be shared).
        """
        verified = _VERIFIED.get(self.token)
        if verified is False:
            return init._draw_native(shape, seed, dtype)
        key = (self.token, shape, dtype, seed)
        hit = _STORE.get(key)
        if hit is not None:
            self.hits += 1
            return hit
        arr = init._draw_native(shape, seed, dtype)
        if verified is None:
            again = init._draw_native(shape, seed, dtype)
            _VERIFIED[self.token] = bool(np.array_equal(arr, again))
            if not _VERIFIED[self.token]:
                return arr
        arr.setflags(write=False)
        _STORE.put(key, arr)
        return arr


def _token(obj: Any) -> Any:
    """A key for ``obj`` that lives as long as ``obj`` (``None``: cannot be cached)."""
    if isinstance(obj, str):
        return ("name", obj)
    ident = id(obj)
    entry = _TOKENS.get(ident)
    if entry is not None and entry[0]() is obj:
        return entry[1]

    def forget(ref: weakref.ref[Any], ident: int = ident) -> None:
        current = _TOKENS.get(ident)
        if current is not None and current[0] is ref:
            del _TOKENS[ident]
            _VERIFIED.pop(current[1], None)

    try:
        ref = weakref.ref(obj, forget)
    except TypeError:
        return None
    token = next(_COUNTER)
    _TOKENS[ident] = (ref, token)
    return token


def cache_for(obj: Any) -> DrawCache | None:
    """The draw cache of the user's initializer ``obj``.

    Args:
        obj: what the user passed (a Keras name, an initializer object, a function).

    Returns:
        A :class:`DrawCache`, or ``None`` if ``obj`` cannot be tracked (no weak references).
    """
    token = _token(obj)
    if token is None:
        return None
    get_config = getattr(obj, "get_config", None)  # Keras: a changed config is a new key
    if callable(get_config):
        try:
            token = (token, repr(sorted(get_config().items())))
        except Exception:  # an odd get_config: do not cache
            return None
    return DrawCache(token)


def clear() -> None:
    """Drop every cached draw (and forget which initializers could not be cached)."""
    _STORE.clear()
    _VERIFIED.clear()
