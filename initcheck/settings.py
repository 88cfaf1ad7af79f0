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

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = ["Settings", "parse_seed"]


@dataclass(frozen=True)
class Settings:
    """Statistical settings shared by all checks (see the module docstring)."""

    alpha: float = 1e-4
    power: float = 0.999
    std_tolerance: float = 0.05
    std_detect: float = 0.10
    shape_detect: float = 0.20
    mean_tolerance: float = 0.05
    mean_detect: float = 0.10
    max_values: int = 2**22
    max_draws: int = 5000
    seed: int = 0
    timeout: float = 60.0
    batches: int | None = None
    mnist: str | None = None

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ValueError:
            return ValueError(f"`{name}` must be {rule}. Received: {name}={getattr(self, name)!r}")

        for name in ("alpha", "power"):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not 0 < v < 1:
                raise bad(name, "a number strictly between 0 and 1")
        for name in (
            "std_tolerance",
            "std_detect",
            "shape_detect",
            "mean_tolerance",
            "mean_detect",
        ):
            v = getattr(self, name)
            if not isinstance(v, int | float) or not (math.isfinite(v) and v > 0):
                raise bad(name, "a positive number")
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
        for name in ("max_values", "max_draws"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise bad(name, "a positive integer")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise bad("seed", "a non-negative integer")
        if not isinstance(self.timeout, int | float) or not self.timeout > 0:
            raise bad("timeout", "a positive number of seconds")
        if self.batches is not None and (
            not isinstance(self.batches, int) or isinstance(self.batches, bool) or self.batches < 1
        ):
            raise bad("batches", "a positive integer (training batches) or None")
        if self.mnist is not None and not isinstance(self.mnist, str):
            raise bad("mnist", "a path (str) to mnist.npz or IDX files, or None")

    @classmethod
    def of(cls, settings: Settings | None = None, **options: Any) -> Settings:
        """``settings`` (or the defaults) with ``options`` overriding, validated."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise TypeError(f"Unknown option(s) {unknown}. Valid options: {sorted(names)}.")
        return replace(settings or cls(), **options)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_seed(text: str) -> int:
    """A seed from the command line or an ini file, validated as :class:`Settings`
    validates it: one wording for every front end.

    Raises:
        ValueError: ``"`seed` must be a non-negative integer. Received: seed=…"``.
    """
    try:
        value: Any = int(text)
    except (TypeError, ValueError):
        value = text
    return Settings(seed=value).seed
