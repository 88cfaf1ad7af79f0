"""Exceptions raised by initcheck.

``InitCheckFailure`` is what the ``assert_*`` helpers raise: an ``AssertionError`` so
pytest reports it as a test failure, carrying the failed result records.
``InitializerError`` is raised while *sampling* when the initializer under test
misbehaves (raises, hangs, returns the wrong thing); the checks turn it into a failed
result, so it never escapes :func:`initcheck.check`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from initcheck.results import CheckResult


_REPR_LIMIT = 300


def _short_repr(exc: BaseException) -> str:
    text = f"{type(exc).__name__}({str(exc)!r})"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 2] + "…)"


class InitializerError(Exception):
    """The initializer under test misbehaved while being sampled."""

    def __repr__(self) -> str:
        return _short_repr(self)


#: Appended once to a failure that holds an inconclusive result: how to decide it.
INCONCLUSIVE_HINT = (
    "An inconclusive result fails: too few values could be drawn to decide, which is not a "
    "defect found. To decide it, check more or larger shapes (shapes=), let the initializer "
    "take seed= so draws pool across seeds, or raise max_draws (and max_values)."
)


class InitCheckFailure(AssertionError):
    """A check did not pass. ``results`` holds the failed or inconclusive
    :class:`CheckResult` records; the message says how to decide an inconclusive one
    (:data:`INCONCLUSIVE_HINT`)."""

    def __init__(self, results: Sequence[CheckResult]) -> None:
        from initcheck.results import said_once

        self.results = tuple(results)
        lines = [r.describe(checks) for checks, r in said_once(self.results)]
        if any(r.verdict == "inconclusive" for r in self.results):
            lines.append(INCONCLUSIVE_HINT)
        super().__init__("\n".join(lines))

    def __repr__(self) -> str:
        return _short_repr(self)


#: How to give the audit a batch, in every front end.
INPUTS_HINT = (
    "pass inputs= (a batch the model's forward takes), --inputs FILE.py:batch on the "
    'command line, or inputs = "pkg.mod:batch" in the gate\'s model table'
)


class NoDefaultBatch(ValueError):
    """The audit could not build a batch for a model from what the model declares."""
