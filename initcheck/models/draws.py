"""Fresh draws of one weight (piece) of a model under a seed, as an
:class:`~initcheck.initializers.base.Initializer` the existing checks can sample.

Each weight is drawn on its own, by the first of its adapter's :class:`Way` s whose draws
reproduce the model's own distribution (:mod:`initcheck.models.fidelity`): a layer's
initializer object in Keras; in torch, the init calls the factory's build made, replayed
on that weight alone (:mod:`initcheck.models.torch_record`), then the module's own init
code, then its parents'.
Where no way does, a factory is rebuilt under the seed, and an instance is audited from
its own values (one draw). Each row says which (:attr:`ModelDraws.method`).

Memory: only the checked values of a piece (at most ``limit``) are kept per seed, and
only until its row is done (:meth:`ModelDraws.done`); a full weight is held for one draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from initcheck.initializers.base import Initializer
from initcheck.models.fidelity import Z_LIMIT, Fidelity, combined_z, compare
from initcheck.models.records import WeightPiece
from initcheck.sampling import draw_seed

#: Kernels with more values are checked on their first output units (the fan rule is
#: still evaluated at the whole kernel's fans): keeps an audit of a large model fast.
MAX_PIECE_VALUES = 2**16
#: checked values kept for pieces whose rows are pending (rebuilt draws), in bytes
KEEP_BYTES = 2**29
#: a draw of ways that share a pool (the same recorded calls on the same shape) is kept
#: per seed for the others when it has at most this many values (a 4×4 talking-heads
#: weight needs ~850 draws for its checks' power: 24 blocks' weights then cost one's
#: draws); never under the model's own seed, whose draws are each weight's values ...
POOL_VALUES = 2**12
#: ... up to this many bytes in all
POOL_BYTES = 2**26
REBUILT = "rebuilt model"
OWN = "own values"


class LazyValues(Mapping):
    """``{key: array}`` read on access (no copy of the model's weights is held)."""

    def __init__(self, read: dict[str, Callable[[], np.ndarray]]) -> None:
        self._read = read

    def __getitem__(self, key: str) -> np.ndarray:
        return self._read[key]()

    def __iter__(self) -> Iterator[str]:
        return iter(self._read)

    def __len__(self) -> int:
        return len(self._read)


class Unmaterialized(LazyValues):
    """The weights of a model without values (built on the meta device): its keys only.
    Its ways are not compared with anything: the first way that runs is the model's
    init (:mod:`initcheck.models.torch_meta`)."""

    def __init__(self, keys: Sequence[str]) -> None:
        super().__init__({k: self._none(k) for k in keys})

    @staticmethod
    def _none(key: str) -> Callable[[], np.ndarray]:
        def read() -> np.ndarray:
            raise ValueError(
                f"{key} is on the meta device and no way to draw it ran: build it on the "
                "CPU, or give its module init code (reset_parameters) that draws it"
            )

        return read


#: Said when every build of a model gives a weight the same values (its draws' reseed).
FACTORY_RESEED = (
    "every build gave the same weights: do not seed inside the factory or the init code "
    "(initcheck seeds each build), and pass a factory, not a built model"
)
FLAX_RESEED = (
    "every build gave the same weights: take `rngs` as a parameter (`def build(rngs): …`) "
    "or pass the Module class, and initcheck builds it with a fresh `nnx.Rngs` each time"
)


@dataclass(frozen=True)
class Way:
    """One way to draw a weight afresh: ``draw(seed)`` returns the whole weight (a float
    array of at least 32 bits, see :func:`native`).

    Attributes:
        label: what runs, for the row (``"init code of fc1 (Linear)"``).
        draw: ``seed -> array``.
        kind: the ways judged together (:func:`~initcheck.models.fidelity.combined_z`):
            every module of one class at one level, every layer attribute of one class.
        pool: ways of equal ``pool`` (not ``None``) draw one distribution (the same
            recorded calls on the same shape): a small draw of one, under a seed other
            than the model's own, serves the others' checks (:data:`POOL_VALUES`).
        fresh: the draw starts from nothing (a replay), not from a copy of the model's
            values: equal values are a deterministic init (Mamba's ``A_log``) reproduced.
    """

    label: str
    draw: Callable[[int], np.ndarray]
    kind: str = ""
    pool: Hashable = None
    fresh: bool = False


def native(values: np.ndarray) -> np.ndarray:
    """``values`` as a float array of at least 32 bits (float16 and integers widened)."""
    if values.dtype.kind == "f" and values.dtype.itemsize >= 4:
        return values
    return values.astype(np.float64)


@dataclass
class ModelDraws:
    """Where each weight's draws come from, and the checked values of pending pieces.

    Attributes:
        ways: ``key -> ways`` to try, in order (see :class:`Way`).
        own: the model's own values (the instance, or the factory's first build).
        own_seed: the seed whose draw is ``own`` (the factory's first build ran under it;
            an instance's values stand for it): the checks' first draw of every weight
            is its own values, and :meth:`decide` compares each way's draw under another
            seed with them, which then serves as the second draw.
        rebuild: ``seed -> {key: array}`` of a model rebuilt under the seed (a factory),
            else ``None``.
        limit: the most values checked per piece (:func:`subsample_units`).
        frozen: keys audited from the instance's own values, with the reason.
        method: ``key -> how its draws are made`` (a way's label, :data:`REBUILT`,
            :data:`OWN`), decided for every key by :meth:`decide`.
        rebuilds: the number of models rebuilt.
        reseed: how to write the model's code when every build gives the same weights
            (:data:`FACTORY_RESEED`, :data:`FLAX_RESEED`).
    """

    ways: Mapping[str, Sequence[Way]]
    own: Mapping[str, np.ndarray]
    rebuild: Callable[[int], Mapping[str, np.ndarray]] | None
    pieces: Sequence[WeightPiece] = ()
    limit: int = MAX_PIECE_VALUES
    frozen: dict[str, str] = field(default_factory=dict)
    method: dict[str, str] = field(default_factory=dict)
    rebuilds: int = 0
    own_seed: int | None = None
    reseed: str = ""
    _way: dict[str, Way | None] = field(default_factory=dict)
    _last: tuple[str, int, np.ndarray] | None = None
    _index: dict[int, int] = field(default_factory=dict)
    _kept: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    _kept_bytes: int = 0
    _decided: bool = False
    _pieces_of: dict[str, list[int]] = field(default_factory=dict)
    _shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    _bad: dict[int, int] = field(default_factory=dict)
    _pool: dict[tuple[Hashable, int], np.ndarray] = field(default_factory=dict)
    _pool_bytes: int = 0

    def __post_init__(self) -> None:
        for i, piece in enumerate(self.pieces):
            self._pieces_of.setdefault(piece.key, []).append(i)

    def decide(self, seed: int) -> None:
        """Choose every weight's way (drawing each once under ``seed``), then distrust
        every kind of way whose weights' combined z exceeds the limit, and choose again."""
        tried: dict[tuple[str, int], Fidelity] = {}
        distrusted: set[str] = set()
        while True:
            chosen: dict[str, tuple[int, Way]] = {}
            for key in self.own:
                for i, way in enumerate(self.ways.get(key, ())):
                    if way.kind in distrusted:
                        continue
                    if (key, i) not in tried:
                        tried[(key, i)] = self._try(key, way, seed)
                    if not tried[(key, i)].reason:
                        chosen[key] = (i, way)
                        break
            zs: dict[str, list[float]] = {}
            for key, (i, way) in chosen.items():
                zs.setdefault(way.kind, []).append(tried[(key, i)].z)
            bad = {k for k, z in zs.items() if abs(combined_z(z)) > Z_LIMIT}
            odd = {  # one weight of a kind that differs distrusts the kind
                self.ways[key][i].kind: key for (key, i), f in tried.items() if f.differs
            }
            bad |= {k for k in odd if k in zs}
            if not bad:
                break
            distrusted |= bad
            for key, (i, way) in chosen.items():
                if way.kind in bad:
                    why = (
                        f"{odd[way.kind]}, drawn the same way, differs from the model's"
                        if way.kind in odd
                        else f"the {len(zs[way.kind])} weights it draws differ from the "
                        f"model's in std together (combined z = {combined_z(zs[way.kind]):.1f})"
                    )
                    tried[(key, i)] = Fidelity(why)
                    self._drop(key, seed)
        for key in self.own:
            pick = chosen.get(key)
            self._way[key] = pick[1] if pick else None
            if pick is not None:
                self.method[key] = pick[1].label
                continue
            self._drop(key, seed)
            reasons = [
                f"{w.label}: {tried[(key, i)].reason}"
                for i, w in enumerate(self.ways.get(key, ()))
                if (key, i) in tried
            ]
            if self.rebuild is not None:
                self.method[key] = REBUILT
            else:
                self.method[key] = OWN
                why = "; ".join(reasons) or "its layer keeps no initializer"
                self.frozen[key] = (
                    f"audited from the instance's own values ({why}); pass a zero-arg "
                    "factory for independent draws"
                )
        self._decided = True

    def _try(self, key: str, way: Way, seed: int) -> Fidelity:
        """Draw ``key`` by ``way`` under ``seed`` and compare; keep the checked values."""
        try:
            drawn = way.draw(seed)
            unmaterialized = isinstance(self.own, Unmaterialized)  # nothing to compare
            same = Fidelity("", differs=False)
            found = same if unmaterialized else compare(drawn, self.own[key], way.fresh)
        except Exception as exc:  # a way that cannot run: the next one is tried
            return Fidelity(f"it raised {type(exc).__name__}: {exc}", differs=False)
        if not found.reason:
            self._drop(key, seed)
            for i in self._pieces_of.get(key, ()):
                try:
                    self._keep(i, seed, _checked(self.pieces[i], drawn, self.limit))
                    if unmaterialized and seed == self.own_seed:  # its own values' summary
                        self._shapes[key] = drawn.shape
                        self._bad[i] = _nonfinite(self.pieces[i].extract(drawn))
                except Exception:  # the piece's own row reports its error
                    continue
        return found

    def _keep(self, index: int, seed: int, values: np.ndarray) -> None:
        if self._kept_bytes < KEEP_BYTES and (index, seed) not in self._kept:
            self._kept[(index, seed)] = values
            self._kept_bytes += values.nbytes

    def _drop(self, key: str, seed: int) -> None:
        for i in self._pieces_of.get(key, ()):
            gone = self._kept.pop((i, seed), None)
            if gone is not None:
                self._kept_bytes -= gone.nbytes

    def _choose(self, key: str, seed: int) -> Way | None:
        if not self._decided:
            self.decide(seed)
        return self._way.get(key)

    def model_values(self, key: str) -> np.ndarray:
        """The model's own values of ``key``; a model without values (meta): its draw
        under the first build's seed, as its init would draw it."""
        if isinstance(self.own, Unmaterialized) and self.own_seed is not None:
            return self.value(key, self.own_seed)
        return np.asarray(self.own[key])

    def own_piece(self, piece: WeightPiece) -> tuple[np.ndarray, int]:
        """``piece`` of the model's own values, and how many are NaN or Inf. A model
        without values: a stand-in of the piece's shape (no memory: a broadcast zero)
        and the count in the draw :meth:`decide` made, so no weight is drawn again."""
        index = self._index_of(piece)
        if isinstance(self.own, Unmaterialized) and index in self._bad:
            stand_in = np.broadcast_to(np.float32(0), self._shapes[piece.key])
            return piece.extract(stand_in), self._bad[index]
        full = piece.extract(self.model_values(piece.key))
        return full, _nonfinite(full)

    def value(self, key: str, seed: int) -> np.ndarray:
        """The whole weight ``key`` drawn under ``seed`` (float32 or wider); under
        :attr:`own_seed`, the model's own values (no draw: the build made them)."""
        if seed == self.own_seed and not isinstance(self.own, Unmaterialized):
            return native(np.asarray(self.own[key]))
        way = self._choose(key, seed)
        if way is not None:
            if self._last is not None and self._last[:2] == (key, seed):
                return self._last[2]
            self._last = None  # one whole weight held at a time, not two
            pooled = (way.pool, seed) if way.pool is not None and seed != self.own_seed else None
            if pooled in self._pool:
                return self._pool[pooled]
            drawn = way.draw(seed)
            self._last = (key, seed, drawn)
            if pooled and drawn.size <= POOL_VALUES and self._pool_bytes < POOL_BYTES:
                self._pool[pooled] = drawn
                self._pool_bytes += drawn.nbytes
            return drawn
        if self.rebuild is None or seed == self.own_seed:
            return np.asarray(self.own[key])
        return np.asarray(self._rebuilt(seed)[key])

    def _rebuilt(self, seed: int) -> Mapping[str, np.ndarray]:
        """A rebuild under ``seed``; the checked values of every other pending piece that
        is drawn by rebuilding are kept, so one rebuild serves them all."""
        assert self.rebuild is not None
        params = self.rebuild(seed)
        self.rebuilds += 1
        for i, piece in enumerate(self.pieces):
            if (i, seed) in self._kept or self.method.get(piece.key) != REBUILT:
                continue
            if piece.key in params:
                self._keep(i, seed, _checked(piece, params[piece.key], self.limit))
        return params

    def _index_of(self, piece: WeightPiece) -> int:
        if not self._index:
            self._index = {id(p): i for i, p in enumerate(self.pieces)}
        return self._index.get(id(piece), -1)

    def piece_values(self, piece: WeightPiece, seed: int) -> np.ndarray:
        """The checked values of ``piece`` drawn under ``seed``."""
        index = self._index_of(piece)
        kept = self._kept.get((index, seed))
        if kept is not None:
            return kept
        values = _checked(piece, self.value(piece.key, seed), self.limit)
        if index >= 0:
            self._keep(index, seed, values)
        return values

    def done(self, piece: WeightPiece) -> None:
        """Drop the kept values of ``piece`` (its row is done)."""
        index = self._index_of(piece)
        for k in [k for k in self._kept if k[0] == index]:
            self._kept_bytes -= self._kept.pop(k).nbytes


def _nonfinite(values: np.ndarray) -> int:
    """How many of ``values`` are NaN or Inf (0 for integers)."""
    if values.dtype.kind != "f":
        return 0
    return int(values.size - np.count_nonzero(np.isfinite(values)))


def _checked(piece: WeightPiece, weight: np.ndarray, limit: int) -> np.ndarray:
    """The checked values of ``piece`` in the whole ``weight``, as float64."""
    return np.asarray(subsample_units(piece, piece.extract(weight), limit), dtype=np.float64)


def subsample_units(
    piece: WeightPiece, values: np.ndarray, limit: int, block: int = 0
) -> np.ndarray:
    """The first output units of ``values`` so that at most ``limit`` values remain (a
    weight without a kernel layout, an embedding table: its first rows); ``block`` j:
    the j-th run of that many units instead (an empty array past the last whole run)."""
    if values.size <= limit:
        return values if block == 0 else values[:0]
    if piece.layout is None or values.ndim < 2:  # rows are drawn alike: the first ones
        per_row = values.size // max(values.shape[0], 1) if values.ndim else 1
        keep = max(2, limit // max(per_row, 1))
        if block == 0:
            return values[:keep]
        return (
            values[block * keep : (block + 1) * keep]
            if (block + 1) * keep <= len(values)
            else values[:0]
        )
    if piece.layout.layer == "depthwise":
        axis = values.ndim - 2
    else:
        axis = piece.layout.units_axis(values.shape) % values.ndim
    per_unit = values.size // values.shape[axis]
    keep = max(2, limit // max(per_unit, 1))
    groups = piece.layout.groups
    if groups > 1:  # whole groups, so the checked shape still divides into them
        keep = max(groups, keep // groups * groups)
    if keep >= values.shape[axis]:
        return values if block == 0 else np.take(values, [], axis=axis)
    if (block + 1) * keep > values.shape[axis]:
        return np.take(values, [], axis=axis)
    return np.take(values, np.arange(block * keep, (block + 1) * keep), axis=axis)


def piece_values(draws: ModelDraws, piece: WeightPiece, seed: int, limit: int) -> np.ndarray:
    """The piece's checked values drawn under ``seed`` (subsampled to ``limit``)."""
    if limit == draws.limit:
        return draws.piece_values(piece, seed)
    return _checked(piece, draws.value(piece.key, seed), limit)


def piece_initializer(
    draws: ModelDraws, piece: WeightPiece, limit: int, seed: int, timeout: float
) -> Initializer:
    """An :class:`Initializer` whose draw at a seed is the piece drawn under that seed;
    ``seed``: the checks' (their k-th draw is under ``draw_seed(seed, 0, k)``).

    Its first draw is the model's own values (:attr:`ModelDraws.own_seed`) and its second
    a fresh draw, so the seeds check sees two seeds. A piece checked on its first units
    (a weight larger than ``limit``) answers its third and later draws with the next runs
    of units of the model's own values, while they last: the checks pool a draw's values
    as independent draws of the weight's distribution already, and a run of other units
    is that at no cost, where a fresh draw is the whole weight for ``limit`` of its values.
    Asked for another shape (the symmetry check's second layer), it returns the piece's
    own values resampled (with replacement) into that shape, from the first draw: same
    marginal distribution, no extra draw.
    """
    base_seed = draw_seed(seed, 0, 0)
    later: dict[int, int] = {}  # a third or later draw's seed -> its run of own units

    def call(shape: tuple[int, ...], seed_k: int, dtype: str) -> np.ndarray:
        base = piece_values(draws, piece, base_seed, limit)  # kept: its shape costs no draw
        if tuple(base.shape) != tuple(shape):
            rng = np.random.default_rng(seed_k)
            return rng.choice(base.ravel(), size=math.prod(shape)).reshape(shape).astype(dtype)
        run = _run_of(seed_k)
        if run:
            own = piece.extract(draws.model_values(piece.key))
            values = subsample_units(piece, own, limit, run)
            if values.shape == base.shape:
                return values.astype(dtype)
        return piece_values(draws, piece, seed_k, limit).astype(dtype)

    def _run_of(seed_k: int) -> int:
        if isinstance(draws.own, Unmaterialized) or seed_k == base_seed:
            return 0
        if not later:  # the seeds of the draws a run of units can answer, once
            full = piece.extract(draws.own[piece.key]) if piece.key in draws.own else None
            runs = 0 if full is None else full.size // max(limit, 1)
            later.update({draw_seed(seed, 0, k): k - 1 for k in range(2, min(runs, 4096) + 1)})
            later.setdefault(-1, 0)  # computed: never again
        return later.get(seed_k, 0)

    return Initializer(
        name=piece.name,
        kind="model",
        seedable=True,
        call=call,
        takes_dtype=True,
        timeout=timeout,
        reseed=draws.reseed or FACTORY_RESEED,
        inline=True,  # its way's code ran unguarded in ModelDraws.decide already
    )
