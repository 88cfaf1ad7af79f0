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

__all__ = ["InitCheckFailure", "InitializerError"]


_REPR_LIMIT = 300


def _short_repr(exc: BaseException) -> str:
    text = f"{type(exc).__name__}({str(exc)!r})"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 2] + "…)"


class InitializerError(Exception):
    """The initializer under test misbehaved while being sampled."""

    def __repr__(self) -> str:
        return _short_repr(self)


class InitCheckFailure(AssertionError):
    """A check failed. ``results`` holds the failed :class:`CheckResult` records."""

    def __init__(self, results: Sequence[CheckResult]) -> None:
        self.results = tuple(results)
        super().__init__("\n".join(r.describe() for r in self.results))

    def __repr__(self) -> str:
        return _short_repr(self)
