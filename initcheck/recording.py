"""Where results go after a check: every result is offered to the active recorders.

The pytest plugin opens a recorder around each test, so results of ``assert_*`` calls in
a user's own tests reach the test report (and, under xdist, the controller). Outside
pytest nothing listens and :func:`publish` is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from initcheck.results import CheckResult

__all__ = ["publish", "recording"]

_recorders: list[list[CheckResult]] = []


def publish(*results: CheckResult) -> None:
    """Offer results to every open recorder."""
    for recorder in _recorders:
        recorder.extend(results)


@contextmanager
def recording() -> Iterator[list[CheckResult]]:
    """Collect the results published inside the ``with`` block."""
    recorder: list[CheckResult] = []
    _recorders.append(recorder)
    try:
        yield recorder
    finally:
        _recorders.remove(recorder)
