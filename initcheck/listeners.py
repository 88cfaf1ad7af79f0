"""Where results go after a check: every result is offered to the open recorders.

The pytest plugin opens a recorder around each test phase, so results of ``assert_*``
calls in a user's own tests reach the test report (and, under xdist, the controller).
Outside pytest nothing listens and :func:`publish` is a no-op.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from initcheck.results import CheckResult


@dataclass(eq=False)  # compared by identity: nested recorders never remove each other
class _Recorder:
    innermost: bool
    results: list[CheckResult] = field(default_factory=list)


_recorders: list[_Recorder] = []


def publish(*results: CheckResult) -> None:
    """Offer results to the open recorders (of the ``innermost`` ones, only the last)."""
    inner = [r for r in _recorders if r.innermost]
    for recorder in _recorders:
        if recorder.innermost and recorder is not inner[-1]:
            continue
        recorder.results.extend(results)


@contextmanager
def recording(*, innermost: bool = False) -> Iterator[list[CheckResult]]:
    """Collect the results published inside the ``with`` block.

    Args:
        innermost: among nested ``innermost`` recorders only the most recent one receives
            results (a test that runs pytest in-process keeps the inner tests' results
            out of its own report).
    """
    recorder = _Recorder(innermost)
    _recorders.append(recorder)
    try:
        yield recorder.results
    finally:
        for i, r in enumerate(_recorders):
            if r is recorder:
                del _recorders[i]
                break
