"""The three verdicts of a check, and how several combine: a leaf module (standard library
only), shared by the records (:mod:`initcheck.results`), the report layer, the plugin and
the gate, so none of them imports another to read a verdict.

``"pass"``; ``"fail"``: a defect was found; ``"inconclusive"``: the values that could be
drawn are too few to decide either way (e.g. an initializer that ignores its seed on a
small kernel). An inconclusive result does not pass: assertions raise, the gate's item
fails, the CLI exits 1, and each says how to decide it (more or larger shapes, an
initializer taking ``seed=``, a higher ``max_draws``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

#: What a check decided.
Verdict = Literal["pass", "fail", "inconclusive"]
VERDICTS: tuple[str, ...] = ("pass", "fail", "inconclusive")
#: A verdict's mark in text tables, and its word in headlines.
MARKS = {"pass": "ok", "fail": "FAIL", "inconclusive": "INCONCLUSIVE", "expected": "expected"}
WORDS = {
    "pass": "PASSED",
    "fail": "FAILED",
    "inconclusive": "INCONCLUSIVE",
    "expected": "EXPECTED FAILURE",
}
#: How a view shows a result that did not pass in a test that passed (the test expected
#: it: ``pytest.raises(InitCheckFailure)``, or ``assert not report.passed``): like
#: pytest's xfail, it is not a failure of the run. Not a verdict: the record keeps its own.
EXPECTED = "expected"


def combined_verdict(verdicts: Iterable[str]) -> str:
    """The verdict of several: ``"fail"`` if one failed, else ``"inconclusive"`` if one
    was inconclusive, else ``"pass"`` (also for none)."""
    seen = set(verdicts)
    if "fail" in seen or "inconclusive" in seen:
        return "fail" if "fail" in seen else "inconclusive"
    return EXPECTED if EXPECTED in seen else "pass"


def verdict_of(record: Mapping[str, Any]) -> str:
    """The verdict of a result dict (``CheckResult.to_dict()``): its ``"verdict"``, or for a
    dict without one (written before verdicts) ``"pass"``/``"fail"`` from ``"passed"``."""
    verdict = record.get("verdict")
    if verdict in VERDICTS:
        return str(verdict)
    return "pass" if record.get("passed") else "fail"


def shown_verdict(record: Mapping[str, Any]) -> str:
    """What a view shows for a result dict: :data:`EXPECTED` for a result that did not
    pass in a test that passed (the plugin marks it ``"expected": true``), else its
    verdict."""
    verdict = verdict_of(record)
    return EXPECTED if verdict != "pass" and record.get("expected") else verdict
