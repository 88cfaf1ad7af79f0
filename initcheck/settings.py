"""Settings of the statistical checks, with the error rates they imply.

Every statistical decision in initcheck has the same shape: estimate a quantity with a
``1 - alpha`` confidence interval and **fail only when the whole interval lies outside
the tolerance band** around the target. So:

- ``alpha`` bounds the false-failure rate of one decision for an initializer whose
  true error is *exactly at* the tolerance; an initializer with no error fails far less
  often (see :func:`initcheck.stats.false_failure_rate`).
- The number of values drawn is chosen so that an error of the ``*_detect`` size fails
  with probability at least ``power``; draws are pooled across seeds and shapes until the
  interval is that narrow (bounded by ``max_values`` and ``max_draws``).

Defaults (one decision):

===================  =========  ==========================================================
setting              default    meaning
===================  =========  ==========================================================
``alpha``            1e-4       false-failure rate at the tolerance edge, per decision
``power``            0.999      probability of failing an error of the ``*_detect`` size
``std_tolerance``    0.05       std within a factor 1.05 of the target passes
``std_detect``       0.10       std off by a factor 1.10 (or 1/1.10) must fail
``shape_detect``     0.20       per shape (scaling law): std off by 1.20 on one shape fails
``mean_tolerance``   0.05       |mean| ≤ 0.05 target std passes
``mean_detect``      0.10       |mean| ≥ 0.10 target std must fail
===================  =========  ==========================================================

Run settings travel in the same object: ``seed`` (all draws derive from it), ``timeout``
(seconds one call of the initializer may take), ``batches`` (training batches of the
MNIST check; ``None``: its default) and ``mnist`` (a path to the user's own MNIST files
for the training check; ``None``: the bundled subset).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from initcheck.validators import (
    FRONTS,
    Input,
    batches,
    checked,
    path_or_none,
    positive,
    positive_int,
    probability,
    seconds,
    seed,
    to_float,
    to_int,
    unknown_keys,
)


def _s(name: str, check: Callable[[Any], Any], default: Any, help: str, **kw: Any) -> Input:
    return Input(name, check, default, help, kw.pop("fronts", frozenset(FRONTS)), **kw)


_NOT_AUDIT = frozenset(FRONTS) - {"audit"}  # the training settings: no training in audit

#: The fields of :class:`Settings` as inputs of :data:`initcheck.inputs.TABLE`: name,
#: validator, default, help (the one place each is declared).
SETTING_INPUTS: tuple[Input, ...] = (
    _s(
        "alpha", probability, 1e-4, "false-failure rate per decision", convert=to_float, metavar="P"
    ),
    _s(
        "power",
        probability,
        0.999,
        "power against a *_detect-sized error",
        convert=to_float,
        metavar="P",
    ),
    _s("std_tolerance", positive, 0.05, "std within a factor 1+X passes", convert=to_float),
    _s("std_detect", positive, 0.10, "std off by a factor 1+X must fail", convert=to_float),
    _s(
        "shape_detect",
        positive,
        0.20,
        "scaling law: per-shape std error to detect",
        convert=to_float,
    ),
    _s("mean_tolerance", positive, 0.05, "|mean| <= X target std passes", convert=to_float),
    _s("mean_detect", positive, 0.10, "|mean| >= X target std must fail", convert=to_float),
    _s(
        "max_values",
        positive_int,
        2**22,
        "cap on weights drawn per check",
        convert=to_int,
        metavar="N",
    ),
    _s(
        "max_draws",
        positive_int,
        5000,
        "cap on initializer calls per check",
        convert=to_int,
        metavar="N",
    ),
    _s("seed", seed, 0, "seed all draws derive from", convert=to_int, metavar="N"),
    _s(
        "timeout",
        seconds,
        60.0,
        "max seconds per initializer call",
        convert=to_float,
        metavar="SECONDS",
    ),
    _s(
        "mnist",
        path_or_none,
        None,
        "MNIST dataset (mnist.npz or IDX directory) for the "
        "training checks (none: the bundled subset)",
        metavar="PATH",
        fronts=_NOT_AUDIT - {"compare"},
    ),
    _s(
        "batches",
        batches,
        None,
        "training batches of the MNIST check (none: its default)",
        convert=to_int,
        metavar="N",
        fronts=_NOT_AUDIT - {"compare"},  # compare --batches: the training length
    ),
)
_BY_NAME = {i.name: i for i in SETTING_INPUTS}
_DEFAULTS = {i.name: i.default for i in SETTING_INPUTS}


@dataclass(frozen=True)
class Settings:
    """Statistical settings shared by all checks (see the module docstring). Each field's
    default, validator and help are its entry in :data:`initcheck.inputs.TABLE`."""

    alpha: float = _DEFAULTS["alpha"]
    power: float = _DEFAULTS["power"]
    std_tolerance: float = _DEFAULTS["std_tolerance"]
    std_detect: float = _DEFAULTS["std_detect"]
    shape_detect: float = _DEFAULTS["shape_detect"]
    mean_tolerance: float = _DEFAULTS["mean_tolerance"]
    mean_detect: float = _DEFAULTS["mean_detect"]
    max_values: int = _DEFAULTS["max_values"]
    max_draws: int = _DEFAULTS["max_draws"]
    seed: int = _DEFAULTS["seed"]
    timeout: float = _DEFAULTS["timeout"]
    batches: int | None = _DEFAULTS["batches"]
    mnist: str | None = _DEFAULTS["mnist"]

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            checked(_BY_NAME[f.name], value, value)  # the table's validator, its wording
        for tol, det in (
            ("std_tolerance", "std_detect"),
            ("std_tolerance", "shape_detect"),
            ("mean_tolerance", "mean_detect"),
        ):
            if getattr(self, det) <= getattr(self, tol):
                raise ValueError(
                    f"`{det}` must be larger than `{tol}` (an error inside the tolerance cannot "
                    f"be required to fail). Received: {det}={getattr(self, det)!r}, "
                    f"{tol}={getattr(self, tol)!r}"
                )

    def updated(self, **options: Any) -> Settings:
        """These settings with ``options`` overriding, validated.

        Raises:
            TypeError: an unknown option (with a did-you-mean).
            ValueError: a bad value (``"`x` must be … Received: x=…"``).
        """
        error = unknown_keys(options, (f.name for f in fields(self)))
        if error is not None:
            raise error
        return replace(self, **options) if options else self

    @classmethod
    def of(cls, settings: Settings | None = None, **options: Any) -> Settings:
        """``settings`` (or the settings in force, :func:`in_force`) with ``options``
        overriding, validated."""
        return (settings or in_force()).updated(**options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The settings of the running pytest test (set by the plugin around each test phase).
_IN_FORCE: ContextVar[Settings | None] = ContextVar("initcheck_settings", default=None)


def in_force() -> Settings:
    """The settings a call without ``settings=`` uses: inside a pytest test, the
    session's (``--initcheck-*`` options, ``initcheck_*`` ini keys) with the test's
    ``@pytest.mark.initcheck`` applied; elsewhere the defaults.

    Example:
        >>> in_force() == Settings()  # outside pytest
        True
    """
    return _IN_FORCE.get() or Settings()


@contextmanager
def settings_in_force(settings: Settings | None) -> Iterator[None]:
    """Make ``settings`` the ones :func:`in_force` returns inside the block (the
    plugin's, around each phase of a test; ``None``: the defaults)."""
    token = _IN_FORCE.set(settings)
    try:
        yield
    finally:
        _IN_FORCE.reset(token)


def parse_seed(text: str) -> int:
    """A seed from the command line or an ini file, validated as :class:`Settings`
    validates it: one wording for every front end.

    Raises:
        ValueError: ``"`seed` must be a non-negative integer. Received: seed=…"``.
    """
    inp = _BY_NAME["seed"]
    return int(checked(inp, to_int(text), text))
