"""Draws of one weight (piece) of a model under a seed, as an
:class:`~initcheck.initializers.base.Initializer` the existing checks can sample.

One rebuild (or re-initialization) of the model serves every weight: the parameters of
the model drawn under a seed are cached per seed (least recently used first out, within
a memory budget).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from initcheck.initializers.base import Initializer
from initcheck.models.records import WeightPiece

__all__ = ["MAX_PIECE_VALUES", "ModelDraws", "piece_initializer", "piece_values", "subsample_units"]

#: Kernels with more values are checked on their first output units (the fan rule is
#: still evaluated at the whole kernel's fans): keeps an audit of a large model fast.
MAX_PIECE_VALUES = 2**16
CACHE_BYTES = 2**30  # memory the cached draws may take


@dataclass
class ModelDraws:
    """Parameters of the model drawn under a seed, cached.

    Attributes:
        snapshot: ``seed -> {parameter key: float64 array}`` (a rebuild or re-init).
        own: the instance's own values (``None`` for a factory).
        frozen: keys whose draws come from ``own`` (the instance's values do not follow the
            re-initialization, so only the instance's values are faithful).
    """

    snapshot: Callable[[int], dict[str, np.ndarray]]
    own: dict[str, np.ndarray] | None = None
    frozen: dict[str, str] = field(default_factory=dict)
    _cache: OrderedDict[int, dict[str, np.ndarray]] = field(default_factory=OrderedDict)
    rebuilds: int = 0

    def params(self, seed: int) -> dict[str, np.ndarray]:
        if seed in self._cache:
            self._cache.move_to_end(seed)
            return self._cache[seed]
        params = self.snapshot(seed)
        self.rebuilds += 1
        size = getattr(params, "nbytes", None) or sum(a.nbytes for a in params.values()) or 1
        self._cache[seed] = params
        while len(self._cache) > max(4, CACHE_BYTES // size):
            self._cache.popitem(last=False)
        return params

    def value(self, key: str, seed: int) -> np.ndarray:
        if self.own is not None and key in self.frozen:
            return self.own[key]
        return self.params(seed)[key]

    def compare_own(self, seed: int, tolerance: float = 0.2) -> None:
        """Mark the instance's parameters that a re-initialization does not reproduce in
        scale (std or mean off by more than ``tolerance`` relative, on ≥ 64 values)."""
        if self.own is None:
            return
        fresh = self.params(seed)
        for key, mine in self.own.items():
            other = fresh.get(key)
            if other is None or other.shape != mine.shape:
                self.frozen[key] = "re-initialization does not produce this parameter"
                continue
            sd_a, sd_b = float(mine.std()), float(other.std())
            if mine.size >= 64 and (sd_a > 0 or sd_b > 0):
                if sd_a == 0 or sd_b == 0 or abs(math.log(sd_a / sd_b)) > math.log1p(tolerance):
                    self.frozen[key] = (
                        f"audited from the instance's own values: re-initialization draws std "
                        f"{sd_b:.3g}, the instance holds std {sd_a:.3g} (set after "
                        "construction?); pass a zero-arg factory for independent draws"
                    )
            elif sd_a == 0 and sd_b == 0 and not np.array_equal(mine, other):
                self.frozen[key] = "audited from the instance's own (constant) values"


def subsample_units(piece: WeightPiece, values: np.ndarray, limit: int) -> np.ndarray:
    """The first output units of ``values`` so that at most ``limit`` values remain."""
    if values.size <= limit or piece.layout is None or values.ndim < 2:
        return values
    if piece.layout.layer == "depthwise":
        axis = values.ndim - 2
    else:
        axis = piece.layout.units_axis(values.shape) % values.ndim
    per_unit = values.size // values.shape[axis]
    keep = max(2, limit // max(per_unit, 1))
    if keep >= values.shape[axis]:
        return values
    return np.take(values, np.arange(keep), axis=axis)


def piece_values(draws: ModelDraws, piece: WeightPiece, seed: int, limit: int) -> np.ndarray:
    """The piece's values in the model drawn under ``seed`` (subsampled to ``limit``)."""
    return subsample_units(piece, piece.extract(draws.value(piece.key, seed)), limit)


def piece_initializer(
    draws: ModelDraws, piece: WeightPiece, limit: int, base_seed: int, timeout: float
) -> Initializer:
    """An :class:`Initializer` whose draw at ``seed`` is the piece in the model drawn under
    ``seed``. Asked for another shape (the symmetry check's second layer), it returns the
    piece's own values resampled (with replacement) into that shape, from the draw under
    ``base_seed``: same marginal distribution, no extra rebuild.
    """

    def call(shape: tuple[int, ...], seed: int, dtype: str) -> np.ndarray:
        values = piece_values(draws, piece, seed, limit)
        if tuple(values.shape) == tuple(shape):
            return values.astype(dtype)
        base = piece_values(draws, piece, base_seed, limit).ravel()
        rng = np.random.default_rng(seed)
        return rng.choice(base, size=math.prod(shape)).reshape(shape).astype(dtype)

    return Initializer(
        name=piece.name, kind="model", seedable=True, call=call, takes_dtype=True, timeout=timeout
    )
