"""What a check is: the :class:`Check` record every check module declares, and the
declarations a check can require. Standard library only, and importing nothing of
initcheck's at run time: the check modules import this, and :mod:`initcheck.registry`
imports the check modules, so the two never form a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from initcheck.context import CheckContext
    from initcheck.results import CheckResult

#: When a check runs by default: always; when its declaration is given (a variance
#: target, a distribution family, a nonlinearity, ``train=True``); or only when named.
When = Literal["always", "variance", "family", "nonlinearity", "train", "requested"]
#: How the CI gate decides a check: ``"shapes"`` pooled over the drawn shapes, then (on
#: failure) a search for the smallest failing shape; ``"once"`` pooled, no shape search
#: (the check does not depend on the shape); ``"alone"`` in a run of its own.
GateMode = Literal["shapes", "once", "alone"]
#: A check's figures: result dict (``CheckResult.to_dict()``) -> ``[(caption, svg), ...]``.
Figure = Callable[[Mapping[str, Any]], list[tuple[str, str]]]

#: The declarations a user can make about an initializer, and what each one asks for.
DECLARATIONS: Mapping[str, str] = {
    "variance": "a target: pass variance='he' (or 'lecun', 'glorot', a number, a callable)",
    "family": "a declared family: pass family='normal', 'truncated_normal' or 'uniform'",
    "nonlinearity": "a declared nonlinearity: pass nonlinearity='relu', 'tanh' or 'linear'",
    "train": "training: pass train=True",
}


@dataclass(frozen=True)
class Check:
    """One check, declared once.

    Attributes:
        name: the property checked; the name users pass in ``checks=`` and see in items.
        run: ``run(ctx) -> CheckResult | None``; ``None`` means not applicable to these
            shapes (e.g. a scaling law needs two distinct fans).
        summary: one line for ``--help`` and the docs.
        when: when the check runs by default (see :data:`When`).
        needs: what the check needs from the draws (see :func:`initcheck.sampling.collect`:
            ``"draws"``, ``"mean"``, ``"variance"``, ``"per_shape"``, ``"heads"``); empty
            for checks that call the initializer themselves.
        declarations: the declarations without which the check cannot run even when named
            (``needs`` is what it takes from the draws).
        gate: how the CI gate decides it (see :data:`GateMode`).
        order: place in reports and in a run (smaller first).
        figure: its figures for the HTML reports (figures with equal captions for one
            initializer are drawn once, from the check later in :attr:`order`).
        search_shapes: for the gate's smallest-failing-shape search, the shapes that one
            candidate shape is checked with (default: the shape alone).
        choices: the values this check accepts for a declaration, e.g.
            ``{"family": ("normal", …)}`` (see :func:`option_choices`).
        table: its table for the HTML report: result dict -> ``{"header": [...],
            "rows": [[...], ...]}`` (strings), or ``None`` for no table.
        unit: what its ``statistic`` measures, shown beside the value in every table
            (e.g. ``"Var(W) / target"``); a function of the result dict where it depends
            on the result; ``""`` for a check without a statistic.
        by_chance: whether an exact initializer fails it at a rate up to ``alpha`` (a
            test of the distribution itself, not of a tolerance band, where an exact
            initializer fails at a rate near 0): a model's audit divides ``alpha`` over
            its weights for it (:func:`initcheck.api.run_checks`).
    """

    name: str
    run: Callable[[CheckContext], CheckResult | None]
    summary: str
    when: When = "always"
    needs: frozenset[str] = frozenset()
    declarations: tuple[str, ...] = ()
    gate: GateMode = "shapes"
    order: int = 100
    figure: Figure | None = None
    search_shapes: Callable[[tuple[int, ...]], tuple[tuple[int, ...], ...]] | None = None
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    table: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None
    unit: str | Callable[[Mapping[str, Any]], str] = ""
    by_chance: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"A check name is an identifier. Received: name={self.name!r}")
        if self.when not in (*DECLARATIONS, "always", "requested"):
            raise ValueError(f"Unknown `when` for check {self.name!r}. Received: {self.when!r}")
        if self.gate not in ("shapes", "once", "alone"):
            raise ValueError(f"Unknown `gate` for check {self.name!r}. Received: {self.gate!r}")
        unknown = sorted(set(self.declarations) - set(DECLARATIONS))
        if unknown:
            raise ValueError(f"Unknown `declarations` for check {self.name!r}. Received: {unknown}")
        object.__setattr__(self, "needs", frozenset(self.needs))
