"""The check registry: every check is declared once, next to its code.

A check module in :mod:`initcheck.checks` ends with its one record (imported from
:mod:`initcheck.checkdef`, so the check modules never import the registry that loads
them)::

    CHECK = Check(
        name="centering",
        run=lambda ctx: check_centering(ctx.samples, ctx.settings),
        summary="mean ≈ 0 in units of the target std",
        needs={"mean"},
        order=30,
        figure=_figures,
    )

Everything else derives from these records: :func:`initcheck.check`'s default battery
(:func:`default_names`) and its validation (:func:`validate_names`), the CI gate's items
(``gate``), the CLI's ``--checks``, and the order and figures of the reports. Adding a
check means one new module in ``initcheck/checks/`` (found and registered by
:func:`checks`) or one :func:`register` call in a plugin's or a ``conftest.py``'s code.

This module is standard library only; the check modules (numpy, scipy) are imported the
first time :func:`checks` is called, never when the pytest plugin loads.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from initcheck.checkdef import DECLARATIONS, Check
from initcheck.context import Declared

if TYPE_CHECKING:
    pass

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
            module = importlib.import_module(f"initcheck.checks.{info.name}")
            register(module.CHECK)  # each check module declares CHECK = Check(...)


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
