"""What one run of the checks works from: the :class:`Plan` (what the user declared about
an initializer, and the shapes to draw) and the :class:`CheckContext` a check receives.

Data flows one way: initializer → samples → check → result. The context draws the
samples once, on first use, for everything the selected checks need, so checks that do
not draw (seeds, propagation, training) cost nothing here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from initcheck.fans import KernelLayout
    from initcheck.initializers.base import Initializer
    from initcheck.sampling import Samples
    from initcheck.settings import Settings
    from initcheck.targets import VarianceTarget

#: The largest kernel the per-initializer checks (seeds, dtypes) draw.
SEED_SHAPE_MAX = 2**16


@dataclass(frozen=True)
class Declared:
    """What the user declared about an initializer (what selects the default checks)."""

    variance: bool = False
    family: bool = False
    nonlinearity: bool = False
    train: bool = False

    def has(self, declaration: str) -> bool:
        return bool(getattr(self, declaration))


@dataclass(frozen=True)
class Plan:
    """What to check about one initializer.

    Attributes:
        shapes: the kernel shapes to draw, in ``layout``.
        layout: how a kernel's axes map to fans and units.
        target: the variance target, if declared.
        family: the declared distribution family, if any.
        nonlinearity: the nonlinearity of the propagation check, if declared.
        deterministic: the initializer is deterministic by design (identity, ZerO).
        train: also run early training on MNIST.
    """

    shapes: tuple[tuple[int, ...], ...]
    layout: KernelLayout
    target: VarianceTarget | None = None
    family: str | None = None
    nonlinearity: str | None = None
    deterministic: bool = False
    train: bool = False

    @property
    def declared(self) -> Declared:
        return Declared(
            variance=self.target is not None,
            family=self.family is not None,
            nonlinearity=self.nonlinearity is not None,
            train=self.train,
        )

    @property
    def seed_shape(self) -> tuple[int, ...]:
        """A shape for the per-initializer checks: the largest up to 2**16 weights."""
        small = [s for s in self.shapes if math.prod(s) <= SEED_SHAPE_MAX]
        return max(small or [min(self.shapes, key=math.prod)], key=math.prod)


@dataclass
class CheckContext:
    """Everything a check may use; the samples are drawn once, on first access."""

    initializer: Initializer
    plan: Plan
    settings: Settings
    needs: frozenset[str] = frozenset()
    _samples: Samples | None = field(default=None, repr=False)

    def held_draw(self, shape: tuple[int, ...], k: int = 0) -> tuple[int, np.ndarray] | None:
        """The seed and values of the ``k``-th draw at ``shape`` if the samples already hold
        it (never draws): lets a later check reuse a large kernel instead of redrawing."""
        if self._samples is None:
            return None
        from initcheck.sampling import draw_seed

        for index, drawn in enumerate(self._samples.shapes):
            if drawn.shape == tuple(shape) and len(drawn.draws) > k:
                skipped = int(drawn.identical and k > 0)  # a draw equal to the first is not kept
                return draw_seed(self.settings.seed, index, k + skipped), drawn.draws[k]
        return None

    @property
    def samples(self) -> Samples:
        if self._samples is None:
            from initcheck.sampling import collect

            self._samples = collect(
                self.initializer,
                self.plan.shapes,
                layout=self.plan.layout,
                target=self.plan.target,
                settings=self.settings,
                needs=self.needs,
            )
        return self._samples
