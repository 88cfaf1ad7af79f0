"""Sampling: draw enough independent values from an initializer for the checks to decide.

:func:`collect` draws each kernel shape with distinct seeds, pooling draws until the
interval estimates of the requested checks are narrow enough (sample sizes from
:mod:`initcheck.stats`), and records when an initializer returns the same tensor for
different seeds, so that no check pretends to have more independent data than it has.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from initcheck import stats
from initcheck.errors import InitializerError
from initcheck.fans import Fans, KernelLayout, Layout, as_layout
from initcheck.initializers import Initializer
from initcheck.settings import Settings
from initcheck.targets import VarianceTarget

__all__ = ["SAFETY", "Samples", "ShapeDraws", "collect", "draw_seed"]

SAFETY = 1.2  # draw this many times the planned sample size: the kurtosis is estimated
PILOT = 4096  # values drawn before the sample size is planned


def draw_seed(seed: int, shape_index: int, draw: int) -> int:
    """A distinct, reproducible 31-bit seed per (session seed, shape, draw)."""
    return int(np.random.SeedSequence([seed, shape_index, draw]).generate_state(1)[0] >> 1)


@dataclass
class ShapeDraws:
    """All independent draws at one kernel shape."""

    shape: tuple[int, ...]
    fans: Fans
    target_std: float | None
    draws: list[np.ndarray] = field(default_factory=list)
    identical: bool = False  # different seeds gave the very same tensor
    _singular: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.draws) * math.prod(self.shape)

    def standardized(self) -> np.ndarray:
        """Values divided by the target std (by each draw's own std if no target)."""
        if not self.draws:
            return np.empty(0)
        if self.target_std is not None:
            return np.concatenate([d.ravel() for d in self.draws]) / self.target_std
        parts = []
        for d in self.draws:
            sd = float(np.std(d))
            parts.append(d.ravel() / sd if sd > 0 else d.ravel())
        return np.concatenate(parts)

    def values(self) -> np.ndarray:
        return np.concatenate([d.ravel() for d in self.draws]) if self.draws else np.empty(0)

    def units(self, layout: KernelLayout) -> np.ndarray:
        """The first draw as a ``(weights per unit, units)`` matrix."""
        return layout.units_matrix(self.draws[0])

    def singular_values(self, layout: KernelLayout) -> np.ndarray:
        """Singular values of :meth:`units` (computed once; used by several checks)."""
        if self._singular is None:
            self._singular = np.linalg.svd(self.units(layout), compute_uv=False)
        return self._singular


@dataclass
class Samples:
    """Draws of one initializer over a set of shapes."""

    initializer: str
    layout: KernelLayout
    target: VarianceTarget | None
    shapes: list[ShapeDraws]
    heads: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    error: str | None = None  # the initializer misbehaved; checks fail with this message

    @property
    def n(self) -> int:
        return sum(s.n for s in self.shapes)

    @property
    def shape_tuple(self) -> tuple[tuple[int, ...], ...]:
        return tuple(s.shape for s in self.shapes)

    def pooled(self) -> np.ndarray:
        parts = [s.standardized() for s in self.shapes if s.draws]
        return np.concatenate(parts) if parts else np.empty(0)

    @property
    def identical(self) -> bool:
        return any(s.identical for s in self.shapes)


def _pooled_need(z: np.ndarray, needs: set[str], settings: Settings) -> int:
    need = 0
    if z.size < 2:
        return PILOT
    if "variance" in needs:
        kurt = stats.estimate_variance(z, settings.alpha).kurtosis
        need = max(
            need,
            stats.required_n_variance(
                kurt, settings.std_tolerance, settings.std_detect, settings.alpha, settings.power
            ),
        )
    if "mean" in needs:
        sd = float(np.std(z))
        need = max(
            need,
            stats.required_n_mean(
                sd, settings.mean_tolerance, settings.mean_detect, settings.alpha, settings.power
            ),
        )
    return max(math.ceil(need * SAFETY), PILOT if needs else 0)


def _shape_need(s: ShapeDraws, n_shapes: int, settings: Settings) -> int:
    z = s.standardized()
    if z.size < 2:
        return PILOT
    kurt = stats.estimate_variance(z, settings.alpha).kurtosis
    alpha = settings.alpha / max(n_shapes, 1)  # Bonferroni across shapes
    need = stats.required_n_variance(
        kurt, settings.std_tolerance, settings.shape_detect, alpha, settings.power
    )
    return max(math.ceil(need * SAFETY), min(PILOT, 1024))


def collect(
    init: Initializer,
    shapes: Sequence[tuple[int, ...]],
    *,
    layout: Layout | KernelLayout = "keras",
    target: VarianceTarget | None = None,
    settings: Settings | None = None,
    needs: Iterable[str] = ("variance", "mean", "per_shape", "heads"),
) -> Samples:
    """Draw from ``init`` at ``shapes`` until the ``needs`` can be decided.

    Args:
        init: a resolved initializer (:func:`initcheck.initializers.resolve`).
        shapes: kernel shapes in ``layout``.
        layout: ``"keras"``, ``"torch"`` or a :class:`~initcheck.fans.KernelLayout`.
        target: the variance target used to standardize values (``None``: each draw's std).
        settings: statistical settings (sample sizes follow from them).
        needs: what the values must support: ``"variance"``/``"mean"`` (pooled),
            ``"per_shape"`` (the scaling law), ``"heads"`` (a second layer per shape for
            the symmetry check's gradients).

    Returns:
        :class:`Samples`; if the initializer misbehaves, ``Samples.error`` says how.
    """
    settings = settings or Settings()
    layout = as_layout(layout)
    needs = set(needs)
    per_shape = [
        ShapeDraws(
            shape=tuple(shape),
            fans=(fans := layout.fans(shape)),
            target_std=target.std(fans) if target is not None else None,
        )
        for shape in shapes
    ]
    samples = Samples(initializer=init.name, layout=layout, target=target, shapes=per_shape)
    try:
        _draw_all(init, samples, needs, settings)
    except InitializerError as exc:
        samples.error = str(exc)
    return samples


def _draw(init: Initializer, s: ShapeDraws, index: int, settings: Settings) -> None:
    arr = init.draw(s.shape, seed=draw_seed(settings.seed, index, len(s.draws) + s.identical))
    if len(s.draws) == 1 and np.array_equal(arr, s.draws[0]):
        s.identical = True  # never counts as a second draw
        return
    s.draws.append(arr)


def _draw_all(init: Initializer, samples: Samples, needs: set[str], settings: Settings) -> None:
    shapes = samples.shapes
    for i, s in enumerate(shapes):
        _draw(init, s, i, settings)
    if "heads" in needs:
        for s in shapes:
            units = samples.layout.n_units(s.shape)
            head = samples.layout.dense_shape(units, units)
            if head not in samples.heads:
                samples.heads[head] = init.draw(head, seed=draw_seed(settings.seed, 2**20, units))
    statistical = needs & {"variance", "mean", "per_shape"}
    if not statistical:
        return
    for i, s in enumerate(shapes):  # a second draw tells whether seeds are honoured
        _draw(init, s, i, settings)

    def can_draw(s: ShapeDraws) -> bool:
        return not s.identical and len(s.draws) < settings.max_draws

    while samples.n < settings.max_values:
        want: dict[int, int] = {}
        pooled_deficit = _pooled_need(samples.pooled(), needs, settings) - samples.n
        if pooled_deficit > 0:
            open_shapes = [i for i, s in enumerate(shapes) if can_draw(s)]
            round_size = sum(math.prod(shapes[i].shape) for i in open_shapes)
            if round_size:
                rounds = math.ceil(pooled_deficit / round_size)
                want = {i: rounds for i in open_shapes}
        if "per_shape" in needs:
            for i, s in enumerate(shapes):
                deficit = _shape_need(s, len(shapes), settings) - s.n
                if deficit > 0 and can_draw(s):
                    want[i] = max(want.get(i, 0), math.ceil(deficit / math.prod(s.shape)))
        if not want:
            return
        budget = settings.max_values - samples.n
        for i, k in want.items():
            s = shapes[i]
            k = min(k, settings.max_draws - len(s.draws), max(1, budget // math.prod(s.shape)))
            for _ in range(k):
                _draw(init, s, i, settings)
                if s.identical:
                    break
