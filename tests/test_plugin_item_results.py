"""Self-tests of "one failing test, one row" (``initcheck.plugin.item_results``) and quiet
output: a Hypothesis test reports its final shrunk example and one aggregated row for its
passing examples; the summary never claims failures it does not have; tracebacks show the
user's frames, not initcheck's.

Each feature runs without and with ``-n 2``; TensorFlow is never imported here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import initcheck.api
import initcheck.assertions
import initcheck.strategies
from initcheck.plugin.item_results import reduce_examples

INITS = """
import math
import numpy as np


def sound_he(shape, dtype=None, seed=None):
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_in), shape)


def broken_from_100(shape, dtype=None, seed=None):
    # He below fan_in 100, twice the He std from 100 on: the smallest failure is fan_in 100
    fan_in = math.prod(shape[:-1])
    scale = 2.0 if fan_in >= 100 else 1.0
    return np.random.default_rng(seed).normal(0.0, scale * math.sqrt(2.0 / fan_in), shape)
"""

GIVEN_TESTS = """
from hypothesis import given, settings, strategies as st
import initcheck
import myinits


@settings(max_examples=25, database=None, derandomize=True, deadline=None)
@given(st.integers(2, 400))
def test_shrinks(n):
    initcheck.assert_variance(myinits.broken_from_100, "he", (n, 16))


@settings(max_examples=12, database=None, derandomize=True, deadline=None)
@given(st.integers(2, 200))
def test_sound(n):
    initcheck.assert_variance(myinits.sound_he, "he", (n, 8))
"""


def summary_rows(result: pytest.RunResult, nodeid: str) -> list[str]:
    """The initcheck summary's rows of one test."""
    start = result.stdout.lines.index(
        next(ln for ln in result.stdout.lines if "initcheck summary" in ln)
    )
    return [ln for ln in result.stdout.lines[start:] if ln.endswith("  " + nodeid)]


def test_failing_given_test_is_one_row(
    pytester: pytest.Pytester, plugin_args: list[str], run_plugin
) -> None:
    pytester.makepyfile(myinits=INITS, test_given=GIVEN_TESTS)
    result = run_plugin(
        plugin_args,
        "--initcheck-json=r.json",
        "--initcheck-report=r.html",
        "--initcheck-summary=all",
    )
    result.assert_outcomes(passed=1, failed=1)
    assert "item_results.py" not in result.stdout.str()  # initcheck's example wrapper is hidden
    records = json.loads((pytester.path / "r.json").read_text())["payload"]["records"]

    shrunk = [r for r in records if r["nodeid"] == "test_given.py::test_shrinks"]
    assert [r["passed"] for r in shrunk] == [True, False]
    passing, final = shrunk
    assert final["shapes"] == [[100, 16]]  # the final shrunk example, nothing else failing
    assert final["statistic"] > 1 and final["target"] == 1
    examples = passing["details"]["examples"]
    assert examples >= 2
    assert passing["message"] == f"test_shrinks: variance passed on {examples} examples"
    assert all(shape[0] < 100 for shape in passing["details"]["example_shapes"])

    sound = [r for r in records if r["nodeid"] == "test_given.py::test_sound"]
    assert len(sound) == 1
    assert sound[0]["passed"] is True
    assert (
        sound[0]["message"]
        == f"test_sound: variance passed on {sound[0]['details']['examples']} examples"
    )
    assert sound[0]["details"]["examples"] >= 12

    # terminal summary: one row per verdict, the failure with its shape, measured, target
    rows = summary_rows(result, "test_given.py::test_shrinks")
    assert len(rows) == 2, rows
    assert re.search(r"passed\s+\d+ examples", rows[0]), rows[0]
    assert re.search(r"FAILED\s+\(100, 16\)\s+\d", rows[1]), rows[1]
    assert len(summary_rows(result, "test_given.py::test_sound")) == 1
    result.stdout.fnmatch_lines(["3 initcheck results, 1 failed"])

    # the session HTML report: the same three rows (not one per example tried)
    html = (pytester.path / "r.html").read_text()
    assert len(re.findall(r"<td[^>]*>variance</td>", html)) == 3  # cells carry a title
    assert f"test_shrinks: variance passed on {examples} examples" in html
    assert "(100, 16)" in html
    # each row's test id, breakable only after "::" and "/"
    nodeid = '<span class="nb">test_given.py::</span><wbr><span class="nb">test_shrinks</span>'
    assert f'<code class="nodeid">{nodeid}</code>' in html


def test_failed_summary_mode_says_nothing_failed(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makepyfile(
        myinits=INITS,
        test_ok="""
        import initcheck
        import myinits

        def test_ok():
            initcheck.assert_variance(myinits.sound_he, "he", (64, 32))
        """,
    )
    result = run_plugin(plugin_args, "--initcheck-summary=failed")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["1 initcheck results, 0 failed*"])
    result.stdout.no_fnmatch_line("*failed ones listed*")
    result.stdout.no_fnmatch_line("initializer*property*verdict*")


def test_traceback_shows_user_frames_only(
    run_plugin, pytester: pytest.Pytester, plugin_args: list[str]
) -> None:
    pytester.makepyfile(
        myinits=INITS,
        test_tb="""
        import pytest
        import initcheck
        import myinits

        def test_plain():
            initcheck.assert_variance(myinits.broken_from_100, "he", (256, 16))

        @pytest.mark.initcheck(variance="he")
        def test_fixture(initcheck):
            initcheck.assert_variance(myinits.broken_from_100, shape=(256, 16))
        """,
    )
    result = run_plugin(plugin_args, "--tb=long")
    result.assert_outcomes(failed=2)
    text = result.stdout.str()
    assert "variance too large" in text
    assert "test_tb.py" in text
    for frame in ("assertions.py", "fixtures.py", "item_results.py", "def _run(", "run_checks("):
        assert frame not in text, frame


def test_reduce_examples_keeps_final_example_and_counts_passes() -> None:
    def record(check: str, passed: bool, n: int) -> dict:
        return {
            "check": check,
            "initializer": "init",
            "passed": passed,
            "message": "m",
            "statistic": float(n),
            "target": 1.0,
            "shapes": [[n, 4]],
            "details": {},
        }

    examples = [
        [record("centering", True, 3), record("variance", True, 3)],
        [record("centering", True, 200), record("variance", False, 200)],  # shrink step
        [record("centering", True, 5), record("variance", True, 5)],
        [record("centering", True, 100), record("variance", False, 100)],  # final replay
    ]
    failed = reduce_examples(examples, failed=True, test="t")
    assert [(r["check"], r["passed"]) for r in failed] == [
        ("centering", True),
        ("variance", True),
        ("centering", True),
        ("variance", False),
    ]
    assert failed[0]["details"]["examples"] == 3
    assert failed[1]["details"]["examples"] == 2
    assert failed[1]["details"]["statistic_range"] == [3.0, 5.0]
    assert failed[3]["shapes"] == [[100, 4]]
    passed = reduce_examples(examples[:1] + examples[2:3], failed=False, test="t")
    assert [r["message"] for r in passed] == [
        "t: centering passed on 2 examples",
        "t: variance passed on 2 examples",
    ]
    assert reduce_examples([], failed=True, test="t") == []


def test_records_are_plain_data(tmp_path: Path) -> None:
    """What travels from xdist workers is JSON data (round-trips unchanged)."""
    examples = [[initcheck.assertions.assert_variance("he_normal", "he", (64, 32)).to_dict()]]
    (aggregated,) = reduce_examples(examples, failed=False, test="t")
    assert json.loads(json.dumps(aggregated)) == aggregated
