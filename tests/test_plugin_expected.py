"""A failure the test expected is shown as expected in every view (issue 29 item 4).

A test that catches an initcheck failure (``pytest.raises(InitCheckFailure)``) passes in
pytest; its result is shown as expected, like pytest's xfail, never as a failure of the
run: the terminal summary, the JSON, the HTML banner, matrix and sections agree.
"""

from __future__ import annotations

import json
import re

import pytest

INITS = """
import math

import numpy as np


def sound_he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / math.prod(shape[:-1])), shape)


def broken_a(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, 0.2 * math.sqrt(2 / shape[-2]), shape)


def broken_b(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, 0.3 * math.sqrt(2 / shape[-2]), shape)
"""

TESTS = """
import initcheck
import pytest

import myinits


def test_sound():
    initcheck.assert_variance(myinits.sound_he, "he", (64, 32))


def test_really_broken():
    initcheck.assert_variance(myinits.broken_a, "he", (64, 32))


def test_expects_a_failure():
    with pytest.raises(initcheck.InitCheckFailure, match="variance"):
        initcheck.assert_variance(myinits.broken_b, "he", (64, 32))
"""


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["inprocess", "xdist"])
def test_views_agree_on_an_expected_failure(pytester: pytest.Pytester, args: list[str]) -> None:
    pytester.makepyfile(myinits=INITS, test_user=TESTS)
    result = pytester.runpytest_subprocess(
        *args,
        "-p",
        "no:cacheprovider",
        "--initcheck-json=s.json",
        "--initcheck-report=r.html",
        "--initcheck-summary=all",
        timeout=300,
    )
    result.assert_outcomes(passed=2, failed=1)
    out = result.stdout.str()
    # terminal: one failure of the run, one expected; the expected row says so
    assert "3 initcheck results, 1 failed, 1 expected by their tests" in out, out
    assert re.search(r"broken_b\s+variance\s+expected\s", out), out
    assert re.search(r"broken_a\s+variance\s+FAILED\s", out), out
    # JSON: the same counts, the record marked
    data = json.loads((pytester.path / "s.json").read_text())["payload"]
    assert data["summary"] == {
        "records": 3, "passed": 1, "failed": 1, "inconclusive": 0, "expected": 1
    }  # fmt: skip
    by_name = {r["initializer"]: r for r in data["records"]}
    assert by_name["broken_b"]["expected"] is True and not by_name["broken_b"]["passed"]
    assert "expected" not in by_name["broken_a"]
    # HTML: the banner counts the real failure only; matrix and sections agree
    html = (pytester.path / "r.html").read_text()
    assert "1 of 3 initializers failed at least one check." in html
    cells = re.findall(r'<td class="(\w+)"><span class="verdict">(\w+)</span></td>', html)
    assert sorted(cells) == [("expected", "expected"), ("fail", "FAIL"), ("pass", "PASS")]
    section = html.split('id="i-broken_b"', 1)[1].split("</section>", 1)[0]
    assert "EXPECTED FAILURE" in section and "Expected by its test" in section
    assert "Failing:" not in section
