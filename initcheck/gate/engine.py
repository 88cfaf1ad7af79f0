"""How a gate item decides, fast and with a stated error rate (see :mod:`initcheck.gate`):
one pooled run of the checks over the drawn shapes per initializer, and a Hypothesis
search for the smallest failing shape only when a property fails.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import pytest

from initcheck import registry
from initcheck.fans import KernelLayout, Layout

if TYPE_CHECKING:
    from initcheck.gate.config import GateSource
    from initcheck.results import CheckResult
    from initcheck.session import SessionOptions

#: Cap on the weights of one explored shape (keeps a gate item well under a second).
MAX_SHAPE_SIZE = 2**16
#: One real-size kernel (≥ 2**18 values, Keras layout) per kernel rank: the pooled run
#: includes one, so a defect that shows only in large tensors fails the gate. Every one
#: has in ≠ out, so a swapped fan shows in it too (it holds most of the pooled values).
LARGE_BY_RANK: dict[int, tuple[int, ...]] = {
    2: (1024, 256),
    3: (3, 256, 384),
    4: (3, 3, 128, 256),
    5: (3, 3, 3, 64, 160),
}


def large_kernel(layout: Layout, ranks: tuple[int, ...]) -> tuple[int, ...]:
    """The large kernel the pooled run adds: of the first of ``ranks``, in ``layout``.

    Args:
        layout: ``"keras"`` or ``"torch"``.
        ranks: the kernel ranks the gate draws (2: dense, 3-5: conv1d/2d/3d).

    Returns:
        The shape, ``(out, in, *kernel)`` for ``layout="torch"``.
    """
    shape = LARGE_BY_RANK[ranks[0]]
    return KernelLayout(layout).from_keras(shape)


def shape_strategy(layout: Layout, ranks: tuple[int, ...]) -> Any:
    """Hypothesis kernel shapes of ``ranks`` (≤ :data:`MAX_SHAPE_SIZE` values each).

    Args:
        layout: ``"keras"`` or ``"torch"``.
        ranks: kernel ranks to draw (2: dense, 3-5: conv1d/2d/3d).

    Returns:
        A strategy; all kinds (:func:`~initcheck.strategies.kernel_shapes`) for all ranks.
    """
    from hypothesis import strategies as st

    from initcheck.strategies import conv_shapes, dense_shapes, kernel_shapes

    if set(ranks) >= set(LARGE_BY_RANK):
        return kernel_shapes(max_size=MAX_SHAPE_SIZE, layout=layout)
    return st.one_of(
        *[
            dense_shapes(max_size=MAX_SHAPE_SIZE, layout=layout)
            if rank == 2
            else conv_shapes(rank - 2, max_size=MAX_SHAPE_SIZE, layout=layout)
            for rank in ranks
        ]
    )


class Engine:
    """The checks of one initializer, shared by its items (per process)."""

    def __init__(
        self, source: GateSource, obj: Any, options: SessionOptions, config: pytest.Config
    ):
        self.source = source
        self.obj = obj
        self.config = config
        self.settings = options.settings.updated(**dict(source.overrides))
        self.max_examples = options.max_examples
        self._pooled: dict[str, CheckResult] | None = None
        self._shapes: tuple[tuple[int, ...], ...] | None = None
        self._initializer: Any = None
        self._skip: dict[str, str] = {}

    def skip_reason(self, prop: str) -> str:
        return self._skip.get(prop, f"{prop} not applicable")

    # -- plumbing

    @property
    def initializer(self) -> Any:
        if self._initializer is None:
            from initcheck.initializers import resolve

            try:
                self._initializer = resolve(
                    self.obj, name=self.source.name, timeout=self.settings.timeout
                )
            except (TypeError, ValueError) as exc:
                error = str(exc)
            else:
                return self._initializer
            # outside the except block, so the message is not printed twice (chained)
            pytest.fail(
                f"initcheck: {self.source.target!r} ({self.source.origin}) is not a usable "
                f"initializer: {error}",
                pytrace=False,
            )
        return self._initializer

    def _run(self, shapes: tuple[tuple[int, ...], ...], only: list[str]) -> list[CheckResult]:
        from initcheck.api import run_checks

        plan = self.source.plan(shapes)
        return run_checks(self.initializer, plan, self.settings, only)

    def _hypothesis_settings(self, *, max_examples: int, shrink: bool) -> Any:
        from hypothesis import HealthCheck, Phase, settings

        phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
        return settings(
            settings(),  # the active profile (e.g. the suite's "ci" profile)
            max_examples=max_examples,
            derandomize=self._forced_seed() is None,
            database=None,
            deadline=None,
            phases=phases,
            print_blob=False,
            suppress_health_check=[HealthCheck.too_slow],
        )

    def _forced_seed(self) -> int | None:
        seed = self.config.getoption("hypothesis_seed", None)
        if seed is None:
            return None
        return stable_seed(seed)

    def _given(self, test: Any, *, max_examples: int, shrink: bool) -> Any:
        from hypothesis import given, seed

        source = self.source
        if isinstance(source["layout"], str):
            shapes = shape_strategy(source.layout_of(source.ranks[0]), source.ranks)
        else:  # one layout per rank
            from hypothesis import strategies as st

            shapes = st.one_of(*[shape_strategy(source.layout_of(r), (r,)) for r in source.ranks])
        wrapped = self._hypothesis_settings(max_examples=max_examples, shrink=shrink)(
            given(shapes)(test)
        )
        forced = self._forced_seed()
        return seed(forced)(wrapped) if forced is not None else wrapped

    # -- shapes and pooled decision

    def shapes(self) -> tuple[tuple[int, ...], ...]:
        """The pyproject's shapes, ``max_examples`` shapes drawn by Hypothesis (small, of
        the source's kernel ranks) and one large kernel (:func:`large_kernel`)."""
        if self._shapes is None:
            drawn: list[tuple[int, ...]] = []

            def draw(shape: tuple[int, ...]) -> None:
                drawn.append(tuple(shape))

            self._given(draw, max_examples=self.max_examples, shrink=False)()
            ranks = self.source.ranks
            large = large_kernel(self.source.layout_of(ranks[0]), ranks)
            self._shapes = tuple(dict.fromkeys([*self.source.shapes, *drawn, large]))
        return self._shapes

    def pooled(self) -> dict[str, CheckResult]:
        if self._pooled is None:
            names = [p for p in self.source.properties if registry.check_named(p).gate != "alone"]
            self._pooled = {r.check: r for r in self._run(self.shapes(), names)}
        return self._pooled

    def result(self, prop: str) -> CheckResult | None:
        """The record of ``prop`` (``None``: skipped, see :meth:`skip_reason`)."""
        mode = registry.check_named(prop).gate
        if mode == "alone":
            results = self._run(self.shapes(), [prop])
            return results[0] if results else None
        pooled = self.pooled().get(prop)
        if pooled is None:
            self._skip[prop] = (
                f"{prop}: the drawn shapes {list(self.shapes())} do not allow this check"
            )
            return None
        if pooled.verdict != "fail" or mode == "once" or self.initializer.hung is not None:
            # a hung initializer is not called again; an inconclusive one has no defect to
            # search for (single small shapes decide even less): it fails as it is
            return pooled
        return self._smallest_failing(prop, pooled)

    def _check_one(self, prop: str, shape: tuple[int, ...]) -> CheckResult | None:
        search_shapes = registry.check_named(prop).search_shapes
        shapes = search_shapes(shape) if search_shapes is not None else (shape,)
        results = self._run(shapes, [prop])
        return results[0] if results else None

    def _smallest_failing(self, prop: str, pooled: CheckResult) -> CheckResult:
        """Hypothesis searches single shapes for ``prop`` and shrinks a failure."""
        memo: dict[tuple[int, ...], CheckResult | None] = {}
        budget = 2 * self.max_examples

        class Found(Exception):
            def __init__(self, result: CheckResult) -> None:
                super().__init__(result.message)
                self.result = result

        def search(shape: tuple[int, ...]) -> None:
            shape = tuple(shape)
            if shape not in memo:
                if len(memo) >= budget:
                    return  # budget spent: unexplored shapes count as passing
                memo[shape] = self._check_one(prop, shape)
            result = memo[shape]
            if result is not None and result.verdict == "fail":  # a defect, not too few values
                raise Found(result)

        try:
            self._given(search, max_examples=self.max_examples, shrink=True)()
        except Found as found:
            smallest = found.result
            shape = smallest.shapes[-1] if smallest.shapes else None
            return replace(
                smallest,
                message=(
                    f"{smallest.message} [smallest failing shape found by Hypothesis: "
                    f"{shape}; pooled over {len(pooled.shapes)} shapes: "
                    f"{'passed' if pooled.passed else 'failed'}]"
                ),
                details={
                    **dict(smallest.details),
                    "smallest_failing_shape": list(shape) if shape else None,
                    "pooled": pooled.to_dict(),
                    "evaluated_shapes": [list(s) for s in memo],
                },
            )
        except Exception as exc:  # an ExceptionGroup of several failures, etc.
            inner = _first_found(exc, Found)
            if inner is not None:
                return cast(CheckResult, inner.result)
            raise
        for shape in self.shapes():  # small shapes pass: is it a large pooled kernel?
            if math.prod(shape) > MAX_SHAPE_SIZE and shape not in memo:
                memo[shape] = result = self._check_one(prop, shape)
                if result is not None and result.verdict == "fail":
                    return replace(
                        result,
                        message=(
                            f"{result.message} [fails on the large kernel {shape}; no failing "
                            f"shape among {len(memo) - 1} small shapes searched by Hypothesis]"
                        ),
                        details={
                            **dict(result.details),
                            "smallest_failing_shape": list(shape),
                            "pooled": pooled.to_dict(),
                            "evaluated_shapes": [list(s) for s in memo],
                        },
                    )
        return replace(
            pooled,
            details={
                **dict(pooled.details),
                "search": f"no single failing shape among {len(memo)} shapes searched",
            },
        )


def stable_seed(text: Any) -> int:
    """``--hypothesis-seed`` as an int: integers as given, other text by a stable hash
    (never the process-salted ``hash()``, so every xdist worker and rerun agree)."""
    try:
        return int(text)
    except ValueError:
        import hashlib

        return int.from_bytes(hashlib.sha256(str(text).encode()).digest()[:8], "big")


def _first_found(exc: BaseException, kind: type) -> Any:
    if isinstance(exc, kind):
        return exc
    for sub in getattr(exc, "exceptions", ()):
        found = _first_found(sub, kind)
        if found is not None:
            return found
    return None
