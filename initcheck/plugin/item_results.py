"""What one test item contributes to initcheck's outputs: its check results as plain data.

Results published while a test phase runs (gate items, ``initcheck.check``/``assert_*``
calls in the user's tests) are caught by :func:`recording_phase` and attached to the test
report as JSON-safe dicts (``report.initcheck``), which pytest-xdist carries to the
controller.

A Hypothesis ``@given`` test calls its body once per example: dozens of times, and while
shrinking a failure, many more. So its results are recorded per example (through the
documented, reassignable ``test.hypothesis.inner_test``) and reduced to **one failing
test, one row** (:func:`reduce_examples`): the results of the last example (Hypothesis
replays the final, shrunk failing example last) and, per initializer and check, one
aggregated row for the passing examples ("variance passed on 57 examples").

Standard library and pytest only.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from initcheck.listeners import recording

#: Name of the report attribute carrying the records (a list of ``CheckResult.to_dict()``).
REPORT_KEY = "initcheck"
#: Name of the report attribute carrying gated models' reports (``ModelReport.to_dict()``
#: dicts, each sent once per process by the first item of its model that runs there).
MODELS_KEY = "initcheck_models"

_PHASES = pytest.StashKey[dict[str, list[dict[str, Any]]]]()
_EXAMPLES = pytest.StashKey[list[list[dict[str, Any]]]]()


def _hypothesis_handle(item: pytest.Item) -> Any:
    """The ``.hypothesis`` handle of a ``@given`` test function, else ``None``."""
    obj = getattr(item, "obj", None)
    if not getattr(obj, "is_hypothesis_test", False):
        return None
    handle = getattr(obj, "hypothesis", None)
    return handle if hasattr(handle, "inner_test") else None


@contextmanager
def _per_example(item: pytest.Item) -> Iterator[None]:
    """Record each Hypothesis example's results separately (in ``item.stash``)."""
    handle = _hypothesis_handle(item)
    if handle is None:
        yield
        return

    examples = item.stash.setdefault(_EXAMPLES, [])
    inner = handle.inner_test

    @functools.wraps(inner)
    def example(*args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        with recording(innermost=True) as records:
            try:
                return inner(*args, **kwargs)
            finally:
                examples.append([r.to_dict() for r in records])

    handle.inner_test = example
    try:
        yield
    finally:
        handle.inner_test = inner


def recording_phase(item: pytest.Item, when: str) -> Iterator[None]:
    """The body of a ``pytest_runtest_<when>`` wrapper: record the phase's results.

    Args:
        item: the test item.
        when: ``"setup"``, ``"call"`` or ``"teardown"``.

    Returns:
        A generator for ``yield from`` in a hook wrapper.
    """

    with recording(innermost=True) as records:
        try:
            if when == "call":
                with _per_example(item):
                    return (yield)
            return (yield)
        finally:  # also when the test fails: a failed assertion's result is the point
            if records:
                phases = item.stash.setdefault(_PHASES, {})
                phases[when] = [r.to_dict() for r in records]


def take_records(item: pytest.Item, when: str, failed: bool) -> list[dict[str, Any]]:
    """The records of ``item``'s phase ``when``, reduced (one row per failing test).

    Args:
        item: the test item.
        when: the phase.
        failed: whether the phase failed.

    Returns:
        Plain JSON-safe dicts (``CheckResult.to_dict()`` layout); in a phase that passed,
        a result that did not pass is marked ``"expected": true`` (the test expected it,
        as pytest's xfail: every view shows it as expected, not as a failure of the run).
    """
    phases = item.stash.get(_PHASES, None)
    records = phases.pop(when, []) if phases else []
    if when == "call":
        examples = item.stash.get(_EXAMPLES, None)
        if examples:
            records = records + reduce_examples(examples, failed=failed, test=item.name)
            examples.clear()
    if not failed:  # the test passed anyway: it expected these (pytest.raises, assert not)
        records = [r if r["passed"] else {**r, "expected": True} for r in records]
    return records


def reduce_examples(
    examples: list[list[dict[str, Any]]], *, failed: bool, test: str
) -> list[dict[str, Any]]:
    """One failing test, one row: the results of a ``@given`` test's examples, reduced.

    Args:
        examples: the records of each example, in the order Hypothesis ran them.
        failed: whether the test failed (its last example is then the shrunk failure).
        test: the test's name (for the aggregated rows' messages).

    Returns:
        When ``failed``: the last example's records, preceded by one aggregated record
        per (initializer, check) for the passing results of the other examples (failing
        results met while shrinking are dropped). Otherwise one aggregated record per
        (initializer, check, verdict) over all examples.
    """
    final: list[dict[str, Any]] = []
    earlier = examples
    if failed and examples:
        final, earlier = examples[-1], examples[:-1]
    groups: dict[tuple[str, str, bool], list[dict[str, Any]]] = {}
    for records in earlier:
        for record in records:
            if failed and not record["passed"]:
                continue
            key = (str(record["initializer"]), str(record["check"]), bool(record["passed"]))
            groups.setdefault(key, []).append(record)
    return [aggregate(group, test=test) for group in groups.values()] + list(final)


def aggregate(records: list[dict[str, Any]], *, test: str) -> dict[str, Any]:
    """One record standing for the same check's results on several examples.

    The record is the last example's (so its figures and details stay those of a real
    measurement) with the message saying how many examples it stands for and
    ``details["examples"]``, ``details["statistic_range"]`` and ``details["example_shapes"]``
    describing them all.

    Args:
        records: records of one initializer, check and verdict (at least one).
        test: the test's name.

    Returns:
        The aggregated record.
    """
    last = records[-1]
    count = len(records)
    verdict = "passed" if last["passed"] else "failed"
    stats = [r["statistic"] for r in records if isinstance(r.get("statistic"), int | float)]
    shapes = list(dict.fromkeys(tuple(s) for r in records for s in r.get("shapes", ())))
    noun = "example" if count == 1 else "examples"
    return {
        **last,
        "message": f"{test}: {last['check']} {verdict} on {count} {noun}",
        "details": {
            **dict(last.get("details") or {}),
            "examples": count,
            "statistic_range": [min(stats), max(stats)] if stats else None,
            "example_shapes": [list(s) for s in shapes],
            "last_example_message": last["message"],
        },
    }
