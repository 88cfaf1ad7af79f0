"""The check registry: every check is declared once, next to its code.

A check module in :mod:`initcheck.checks` ends with one :func:`register` call::

    register(Check(
        name="centering",
        run=lambda ctx: check_centering(ctx.samples, ctx.settings),
        summary="mean ≈ 0 in units of the target std",
        needs={"mean"},
        order=30,
        figure=_figures,
    ))

Everything else derives from these records: :func:`initcheck.check`'s default battery
(:func:`default_names`) and its validation (:func:`validate_names`), the CI gate's items
(``gate``), the CLI's ``--checks``, and the order and figures of the reports. Adding a
check means one new module in ``initcheck/checks/`` (found by :func:`checks`) or one
:func:`register` call in a plugin's or a ``conftest.py``'s code.

This module is standard library only; the check modules (numpy, scipy) are imported the
first time :func:`checks` is called, never when the pytest plugin loads.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from initcheck.context import Declared

if TYPE_CHECKING:
    from initcheck.context import CheckContext
    from initcheck.results import CheckResult

__all__ = [
    "DECLARATIONS",
    "Check",
    "Declared",
    "Figure",
    "When",
    "check_named",
    "checks",
    "default_names",
    "names",
    "option_choices",
    "register",
    "unit_of",
    "unregister",
    "validate_names",
]

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


_registry: dict[str, Check] = {}
_builtins_loaded = False


def register(check: Check, *, replace: bool = False) -> Check:
    """Add ``check`` to the registry and return it.

    Raises:
        ValueError: a check of that name exists (pass ``replace=True`` to override it).
    """
    if check.name in _registry and not replace and _registry[check.name] is not check:
        raise ValueError(
            f"A check named {check.name!r} is registered already; pass replace=True to override it."
        )
    _registry[check.name] = check
    return check


def unregister(name: str) -> None:
    """Remove a check (e.g. a test's toy check); unknown names are ignored."""
    _registry.pop(name, None)


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    package = importlib.import_module("initcheck.checks")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"initcheck.checks.{info.name}")


def checks() -> tuple[Check, ...]:
    """All registered checks, in :attr:`Check.order` (then by name)."""
    _load_builtins()
    return tuple(sorted(_registry.values(), key=lambda c: (c.order, c.name)))


def names() -> tuple[str, ...]:
    return tuple(c.name for c in checks())


def check_named(name: str) -> Check:
    """The registered check ``name``.

    Raises:
        ValueError: no such check (the message lists the valid names).
    """
    _load_builtins()
    if name not in _registry:
        raise ValueError(f"Unknown check {name!r}. Valid checks: {list(names())}.")
    return _registry[name]


def default_names(declared: Declared) -> tuple[str, ...]:
    """The checks that run when none are named: those that always run, plus those whose
    declaration was made (a variance target, a family, a nonlinearity, ``train``)."""
    return tuple(
        c.name
        for c in checks()
        if c.when == "always" or (c.when != "requested" and declared.has(c.when))
    )


def validate_names(requested: str | Iterable[str], declared: Declared) -> tuple[str, ...]:
    """Validate user-named checks: known, and their required declarations made.

    Returns:
        The names without duplicates, in the order given.

    Raises:
        ValueError: an unknown name, or a check whose declaration is missing.
    """
    if isinstance(requested, str):
        requested = [requested]
    wanted = tuple(dict.fromkeys(requested))
    valid = names()
    unknown = [n for n in wanted if n not in valid]
    if unknown:
        raise ValueError(f"Unknown check(s) {unknown}. Valid checks: {list(valid)}.")
    for n in wanted:
        for declaration in check_named(n).declarations:
            if not declared.has(declaration):
                raise ValueError(f"The {n!r} check needs {DECLARATIONS[declaration]}.")
    return wanted


def unit_of(result: Any) -> str:
    """The unit of a result's ``statistic``: its own ``unit``, else its check's
    :attr:`Check.unit`; ``""`` for an unknown check or a result without a statistic.

    Args:
        result: a :class:`~initcheck.results.CheckResult` or its ``to_dict()``.
    """
    data = result if isinstance(result, Mapping) else vars(result)
    if data.get("statistic") is None:
        return ""
    if data.get("unit"):
        return str(data["unit"])
    _load_builtins()
    check = _registry.get(str(data.get("check")))
    if check is None:
        return ""
    return check.unit(data) if callable(check.unit) else check.unit


def option_choices(declaration: str) -> tuple[str, ...]:
    """The values the registered checks accept for ``declaration`` (e.g. ``"family"``)."""
    seen: dict[str, None] = {}
    for c in checks():
        seen.update(dict.fromkeys(c.choices.get(declaration, ())))
    return tuple(seen)
