"""Sampling: draw enough independent values from an initializer for the checks to decide.

:func:`collect` draws each kernel shape with distinct seeds, pooling draws until the
interval estimates of the requested checks are narrow enough (sample sizes from
:mod:`initcheck.stats`), and records when an initializer returns the same tensor for
different seeds, so that no check pretends to have more independent data than it has.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from initcheck import stats
from initcheck.errors import InitializerError
from initcheck.fans import Fans, KernelLayout, Layout, as_layout
from initcheck.initializers import Initializer
from initcheck.initializers.base import RESEED
from initcheck.settings import Settings
from initcheck.targets import VarianceTarget

SAFETY = 1.2  # draw this many times the planned sample size: the kurtosis is estimated
PILOT = 4096  # values drawn before the sample size is planned
#: A planned sample more than this many times ``max_values`` is not drawn toward: at a
#: quarter of the plan the stated defect fails with power Φ((z_α + z_power)/2 − z_α)
#: (≈ 0.34 at the defaults).
REACH = 4
#: A shape with at least this many values is drawn once unless the statistics need more
#: (one draw of it already exceeds the planned sample size; seeds are the seeds check's).
LARGE = 2**17
#: Values of small draws summarized together (a few float64 temporaries of this size).
SUMMARY_BLOCK = 2**16
#: Units sampled (seeded, uniformly) for the unit-pair and spectral statistics of a shape.
UNIT_SAMPLE = 256
#: Units of the second ("head") layer the symmetry check's 2-layer network uses.
HEAD_UNITS = 256


@functools.lru_cache(maxsize=2**16)  # pure, and the same triples recur in every check
def draw_seed(seed: int, shape_index: int, draw: int) -> int:
    """A distinct, reproducible 31-bit seed per (session seed, shape, draw)."""
    return int(np.random.SeedSequence([seed, shape_index, draw]).generate_state(1)[0] >> 1)


def native_eps(dtype: np.dtype) -> float:
    """Machine epsilon of the dtype an initializer returned (bfloat16: 2**-7)."""
    try:
        return float(np.finfo(dtype).eps)
    except (TypeError, ValueError):
        return 2.0**-7 if "bfloat16" in str(dtype) else float(np.finfo(np.float32).eps)


def _nonzero_values(arr: np.ndarray) -> np.ndarray:
    flat = arr.reshape(-1)
    return flat[flat != 0]


def _moments_row(values: np.ndarray) -> np.ndarray:
    return np.array(stats.Moments.of(values), dtype=np.float64)


def _row_moments(row: np.ndarray) -> stats.Moments:
    n, mean, m2, m3, m4, lo, hi = (float(v) for v in row)
    return stats.Moments(int(n), mean, m2, m3, m4, lo, hi)


def _rows_as_moments(table: np.ndarray, done: list[stats.Moments]) -> list[stats.Moments]:
    """``table``'s rows as :class:`~initcheck.stats.Moments`, extending ``done`` (the rows
    converted before) with the new ones only."""
    done.extend(_row_moments(r) for r in table[len(done) :])
    return done


def _storable(arr: np.ndarray) -> np.ndarray:
    """float16/32/64 as returned; other float types (bfloat16) as float32 (exact)."""
    if arr.dtype in (np.float16, np.float32, np.float64):
        return arr
    return arr.astype(np.float32)


@dataclass
class ShapeDraws:
    """All independent draws at one kernel shape.

    Draws are kept in the dtype the initializer returned (float32 in general), each
    summarized once in float64 (:class:`~initcheck.stats.Moments`): the checks' means,
    variances, extremes and tails come from those summaries, never from a float64 copy
    of every value.
    """

    shape: tuple[int, ...]
    fans: Fans
    target_std: float | None
    draws: list[np.ndarray] = field(default_factory=list)
    identical: bool = False  # different seeds gave the very same tensor
    eps: float = float(np.finfo(np.float32).eps)  # of the dtype the initializer returned
    _table: np.ndarray = field(default_factory=lambda: np.empty((0, 7)), repr=False)
    _nonzero_table: np.ndarray = field(default_factory=lambda: np.empty((0, 7)), repr=False)
    _summary_list: list[stats.Moments] = field(default_factory=list, repr=False)
    _nonzero_list: list[stats.Moments] = field(default_factory=list, repr=False)
    _units: tuple[KernelLayout, np.ndarray] | None = field(default=None, repr=False)
    _sample: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)
    _singular: dict[tuple[int, int], np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.draws) * math.prod(self.shape)

    def add(self, arr: np.ndarray) -> None:
        """Keep one draw (in its native float dtype); it is summarized on first use."""
        self.eps = native_eps(arr.dtype)
        self.draws.append(_storable(arr))

    def _summarize(self) -> None:
        """Summarize the draws not summarized yet: small draws in blocks of at most
        :data:`SUMMARY_BLOCK` values, one row a draw (:meth:`~initcheck.stats.Moments.rows`),
        larger ones a chunk at a time (:meth:`~initcheck.stats.Moments.of`)."""
        new = self.draws[self._table.shape[0] :]
        if not new:
            return
        size = math.prod(self.shape)
        per_block = SUMMARY_BLOCK // size
        parts, nonzero_parts = [], []
        if per_block >= 2:
            for start in range(0, len(new), per_block):
                block = np.stack([d.reshape(-1) for d in new[start : start + per_block]])
                rows = stats.Moments.rows(block)
                nonzero = rows.copy()
                for i in np.flatnonzero(np.count_nonzero(block, axis=1) < size):
                    nonzero[i] = _moments_row(_nonzero_values(block[i]))
                parts.append(rows)
                nonzero_parts.append(nonzero)
        else:
            parts = [np.array([_moments_row(d) for d in new])]
            nonzero_parts = [np.array([_moments_row(_nonzero_values(d)) for d in new])]
        self._table = np.concatenate([self._table, *(p.reshape(-1, 7) for p in parts)])
        self._nonzero_table = np.concatenate(
            [self._nonzero_table, *(p.reshape(-1, 7) for p in nonzero_parts)]
        )

    @property
    def summaries(self) -> list[stats.Moments]:
        """One summary a draw."""
        self._summarize()
        return _rows_as_moments(self._table, self._summary_list)

    @property
    def nonzero(self) -> list[stats.Moments]:
        """One summary a draw, of its nonzero values."""
        self._summarize()
        return _rows_as_moments(self._nonzero_table, self._nonzero_list)

    def moments(self) -> stats.Moments:
        """Summary of all values drawn."""
        self._summarize()
        return stats.Moments.pool(self._table)

    def standardized_moments(self) -> stats.Moments:
        """Summary of the values divided by the target std (by each draw's own std if no
        target): the summary of :meth:`standardized`."""
        self._summarize()
        if self.target_std is not None:
            return stats.Moments.pool(self._table, 1 / self.target_std)
        sd = np.sqrt(self._table[:, 2] / np.maximum(self._table[:, 0], 1))
        return stats.Moments.pool(self._table, np.where(sd > 0, 1 / np.where(sd > 0, sd, 1), 1.0))

    def standardized(self) -> np.ndarray:
        """Values divided by the target std (by each draw's own std if no target)."""
        if not self.draws:
            return np.empty(0)
        if self.target_std is not None:
            return self.values() / self.target_std
        parts = []
        for d, m in zip(self.draws, self.summaries, strict=True):
            parts.append(d.ravel() / m.std if m.std > 0 else d.ravel().astype(np.float64))
        return np.concatenate(parts).astype(np.float64, copy=False)

    def values(self) -> np.ndarray:
        """All values drawn, as one float64 vector."""
        if not self.draws:
            return np.empty(0)
        return np.concatenate([d.ravel() for d in self.draws]).astype(np.float64, copy=False)

    def units(self, layout: KernelLayout) -> np.ndarray:
        """The first draw as a ``(weights per unit, units)`` matrix, in its native dtype
        (computed once per layout)."""
        if self._units is None or self._units[0] != layout:
            self._units = (layout, layout.units_matrix(self.draws[0]))
        return self._units[1]

    def unit_sample(self, layout: KernelLayout, size: int = UNIT_SAMPLE, seed: int = 0):
        """Up to ``size`` units of the first draw, chosen uniformly at random (seeded;
        all units, in order, when there are at most ``size``), as a float64
        ``(weights per unit, units)`` matrix, and the indices chosen."""
        key = (size, seed)
        if key not in self._sample:
            u = self.units(layout)
            units = u.shape[1]
            if units <= size:
                idx = np.arange(units)
            else:
                idx = np.sort(np.random.default_rng([seed, units]).choice(units, size, False))
            self._sample[key] = idx
        idx = self._sample[key]
        return np.asarray(self.units(layout)[:, idx], dtype=np.float64), idx

    def singular_values(self, layout: KernelLayout, size: int = UNIT_SAMPLE, seed: int = 0):
        """Singular values of :meth:`unit_sample` (computed once; used by several checks).
        For at most ``size`` units these are the kernel's own singular values."""
        key = (size, seed)
        if key not in self._singular:
            u, _ = self.unit_sample(layout, size, seed)
            # via the Gram matrix: O(d·m²), and m ≤ size
            if u.shape[0] > 4 * u.shape[1]:
                ev = np.linalg.eigvalsh(u.T @ u)[::-1]
                self._singular[key] = np.sqrt(np.clip(ev, 0, None))
            else:
                self._singular[key] = np.linalg.svd(u, compute_uv=False)
        return self._singular[key]


@dataclass
class Samples:
    """Draws of one initializer over a set of shapes."""

    initializer: str
    layout: KernelLayout
    target: VarianceTarget | None
    shapes: list[ShapeDraws]
    heads: dict[tuple[int, ...], np.ndarray] = field(default_factory=dict)
    error: str | None = None  # the initializer misbehaved; checks fail with this message
    reseed: str = RESEED  # how to make distinct seeds give distinct values (its Initializer's)

    @property
    def n(self) -> int:
        return sum(s.n for s in self.shapes)

    @property
    def shape_tuple(self) -> tuple[tuple[int, ...], ...]:
        return tuple(s.shape for s in self.shapes)

    def pooled(self) -> np.ndarray:
        parts = [s.standardized() for s in self.shapes if s.draws]
        return np.concatenate(parts) if parts else np.empty(0)

    def pooled_moments(self) -> stats.Moments:
        """Summary of :meth:`pooled`, without concatenating anything."""
        out = stats.Moments.empty()
        for s in self.shapes:
            out = out.combine(s.standardized_moments())
        return out

    @property
    def identical(self) -> bool:
        return any(s.identical for s in self.shapes)


def _pooled_need(z: stats.Moments, needs: set[str], settings: Settings) -> int:
    """The pooled values the ``needs`` plan, from the pilot's moments. A need beyond
    :data:`REACH` × ``max_values`` is not drawn toward: at the cap its check would detect
    its stated defect with under 35% power, so the draws would not make it the check it
    states; it stays inconclusive, saying how many values it needs (a weight 357× its
    target's std needs 2.5·10⁹ values to decide its mean in target-std units)."""
    if z.n < PILOT:  # plan from the pilot only: a kurtosis of a few values is noise
        return PILOT
    planned = []
    if "variance" in needs:
        planned.append(
            stats.required_n_variance(
                z.kurtosis,
                settings.std_tolerance,
                settings.std_detect,
                settings.alpha,
                settings.power,
            )
        )
    if "mean" in needs:
        planned.append(
            stats.required_n_mean(
                z.std, settings.mean_tolerance, settings.mean_detect, settings.alpha, settings.power
            )
        )
    need = max((n for n in planned if n <= REACH * settings.max_values), default=0)
    return max(math.ceil(need * SAFETY), PILOT if needs else 0)


def _shape_need(s: ShapeDraws, n_shapes: int, settings: Settings) -> int:
    z = s.standardized_moments()
    pilot = min(PILOT, 1024)
    if z.n < pilot:
        return pilot
    kurt = z.kurtosis
    alpha = settings.alpha / max(n_shapes, 1)  # Bonferroni across shapes
    # ×2: the scaling check compares each shape with the other shapes' pooled ratio, whose
    # se is at most any one shape's, so the comparison's se is at most √2 × a shape's own
    need = 2 * stats.required_n_variance(
        kurt, settings.std_tolerance, settings.shape_detect, alpha, settings.power
    )
    return max(math.ceil(need * SAFETY), pilot)


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
            ``"per_shape"`` (the scaling law), ``"heads"`` (a dense second layer per
            shape for the symmetry check's gradients; drawn only if ``shapes`` has a
            dense (2-D) kernel, so a conv-only initializer is never asked for one).

    Returns:
        :class:`Samples`; if the initializer misbehaves, ``Samples.error`` says how.
    """
    settings = Settings.of(settings)
    kind: KernelLayout = as_layout(layout)
    needs = set(needs)
    per_shape = [
        ShapeDraws(
            shape=tuple(shape),
            fans=(fans := kind.fans(shape)),
            target_std=target.std(fans) if target is not None else None,
        )
        for shape in shapes
    ]
    samples = Samples(
        initializer=init.name, layout=kind, target=target, shapes=per_shape, reseed=init.reseed
    )
    try:
        _draw_all(init, samples, needs, settings)
    except InitializerError as exc:
        samples.error = str(exc)
    return samples


def _draw(init: Initializer, s: ShapeDraws, index: int, settings: Settings) -> None:
    arr = init.draw_native(
        s.shape, seed=draw_seed(settings.seed, index, len(s.draws) + s.identical)
    )
    if len(s.draws) == 1 and np.array_equal(_storable(arr), s.draws[0]):
        s.identical = True  # never counts as a second draw
        return
    s.add(arr)


def _draw_all(init: Initializer, samples: Samples, needs: set[str], settings: Settings) -> None:
    shapes = samples.shapes
    for i, s in enumerate(shapes):
        _draw(init, s, i, settings)
    if "heads" in needs and any(len(s.shape) == 2 for s in shapes):
        for s in shapes:
            units = min(samples.layout.n_units(s.shape), HEAD_UNITS)
            head = samples.layout.dense_shape(units, units)
            if head not in samples.heads:
                samples.heads[head] = init.draw(head, seed=draw_seed(settings.seed, 2**20, units))
    statistical = needs & {"variance", "mean", "per_shape"}
    if not statistical:
        return
    for i, s in enumerate(shapes):  # a second draw tells whether seeds are honoured
        if math.prod(s.shape) < LARGE:
            _draw(init, s, i, settings)

    def can_draw(s: ShapeDraws) -> bool:
        return not s.identical and len(s.draws) < settings.max_draws

    while samples.n < settings.max_values:
        want: dict[int, int] = {}
        pooled_deficit = _pooled_need(samples.pooled_moments(), needs, settings) - samples.n
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
