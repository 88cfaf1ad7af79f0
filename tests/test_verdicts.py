"""The three-way verdict (issue 16): "inconclusive" is neither a pass nor a defect, and
every output says which it is — the record, its JSON, the terminal, the HTML report and
the gate."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import initcheck
import initcheck.api
import initcheck.assertions
import initcheck.gate
import initcheck.strategies
from initcheck.errors import INCONCLUSIVE_HINT, InitCheckFailure
from initcheck.report import render_html
from initcheck.results import CheckResult, Report

FIXED = """
import math
import numpy as np


def fixed(shape, dtype=None):
    # one fixed tensor whatever the seed: 15 values of a 3x5 kernel are all there is
    return np.random.default_rng(0).normal(0, math.sqrt(2 / shape[0]), shape)


def seeded(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[0]), shape)
"""


def fixed(shape, dtype=None):
    return np.random.default_rng(0).normal(0, math.sqrt(2 / shape[0]), shape)


@pytest.fixture(scope="module")
def undecidable() -> Report:
    """15 values of a fixed tensor, centering: too few to decide, and no more can be drawn."""
    return initcheck.check(fixed, shapes=[(3, 5)], checks=["centering"])


def test_too_few_values_is_inconclusive_not_failed(undecidable: Report) -> None:
    result = undecidable["centering"]
    assert result.n == 15
    assert result.verdict == "inconclusive" and result.inconclusive
    assert result.passed is False  # it does not pass: the assertion still raises
    assert undecidable.verdict == "inconclusive" and not undecidable.passed
    data = json.loads(json.dumps(undecidable.to_dict()))
    assert data["verdict"] == "inconclusive"
    assert data["results"][0]["verdict"] == "inconclusive"
    assert CheckResult.from_dict(data["results"][0]) == result


def test_the_text_report_marks_it_inconclusive(undecidable: Report) -> None:
    text = str(undecidable)
    assert text.splitlines()[0].endswith(": INCONCLUSIVE")
    assert "INCONCLUSIVE  centering" in text and "FAIL" not in text


def test_the_html_report_marks_it_inconclusive_in_its_own_colour(undecidable: Report) -> None:
    html = render_html(undecidable.results)
    assert "default-src 'none'" in html  # the CSP is kept
    assert '<span class="verdict inconclusive">INCONCLUSIVE</span>' in html
    assert '<div class="check inconclusive">' in html
    assert '<tr class="inconclusive">' in html
    assert "--unsure:" in html and "td.inconclusive" in html
    assert 'class="banner inconclusive"' in html and 'class="banner fail"' not in html
    assert "<strong>Inconclusive:</strong> centering" in html  # not listed as failing
    assert "<strong>Failing:</strong>" not in html
    assert ">FAIL<" not in html


def test_a_defect_is_still_a_failure() -> None:
    def shifted(shape, dtype=None, seed=None):
        return np.random.default_rng(seed).normal(0.5, 0.1, shape)

    report = initcheck.check(shifted, shapes=[(64, 64)], checks=["centering"])
    assert report["centering"].verdict == "fail" and report.verdict == "fail"
    html = render_html(report.results)
    assert '<div class="check fail">' in html and "INCONCLUSIVE" not in html


def test_the_assertion_fails_and_says_how_to_decide_it() -> None:
    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_zero_centered(fixed, (3, 5))
    assert info.value.results[0].verdict == "inconclusive"
    assert "centering INCONCLUSIVE" in str(info.value)
    assert INCONCLUSIVE_HINT in str(info.value)
    for way in ("shapes", "seed=", "max_draws"):
        assert way in INCONCLUSIVE_HINT


def test_passed_stays_a_constructor_argument_and_follows_the_verdict() -> None:
    old = CheckResult("variance", "x", False, "too small", 0.4, 1.0)
    assert old.verdict == "fail" and old.passed is False
    assert CheckResult(check="c", initializer="x", passed=True, message="").verdict == "pass"
    new = CheckResult(check="c", initializer="x", verdict="inconclusive", message="m")
    assert new.passed is False and new.to_dict()["passed"] is False
    # dataclasses.replace(result, passed=...) keeps working: passed= overrides the verdict
    assert dataclasses.replace(new, passed=True).verdict == "pass"
    assert dataclasses.replace(new, passed=False).verdict == "inconclusive"
    assert dataclasses.replace(old, passed=True).verdict == "pass"
    assert dataclasses.replace(dataclasses.replace(old, passed=True), passed=False) == old
    assert dataclasses.replace(new, message="n").verdict == "inconclusive"
    with pytest.raises(ValueError, match=r"Received: verdict='maybe'"):
        CheckResult(check="c", initializer="x", verdict="maybe", message="")
    with pytest.raises(TypeError, match="verdict="):
        CheckResult(check="c", initializer="x", message="")
    # a dict written before verdicts existed reads as pass/fail
    legacy = {k: v for k, v in old.to_dict().items() if k != "verdict"}
    assert CheckResult.from_dict(legacy) == old


def test_the_terminal_summary_and_the_session_outputs_show_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(fixedinit=FIXED)
    pytester.makepyfile(
        test_fixed="""
        import initcheck
        import fixedinit

        def test_fixed():
            initcheck.assert_zero_centered(fixedinit.fixed, (3, 5))
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--initcheck-json", "r.json", "--initcheck-report", "r.html"
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "fixed*centering*INCONCLUSIVE*(3, 5)*",
            "1 initcheck results, 1 failed (1 inconclusive: too few values to decide)*",
        ]
    )
    result.stdout.fnmatch_lines(["*An inconclusive result fails*max_draws*"])
    data = json.loads((pytester.path / "r.json").read_text())["payload"]
    (record,) = data["records"]
    assert record["verdict"] == "inconclusive"
    assert data["summary"]["inconclusive"] == 1
    html = (pytester.path / "r.html").read_text()
    assert '<span class="verdict inconclusive">INCONCLUSIVE</span>' in html


UNSURE_CHECK = """
from initcheck.registry import Check, register
from initcheck.results import CheckResult


def run(ctx):
    return CheckResult(
        check="unsure",
        initializer=ctx.initializer.name,
        verdict="inconclusive",
        message=f"inconclusive: {ctx.samples.n} values are too few",
        n=ctx.samples.n,
        shapes=ctx.plan.shapes,
    )


register(Check(name="unsure", run=run, summary="never decides", needs={"draws"}), replace=True)
"""


def test_the_gate_fails_an_inconclusive_property_without_searching(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(UNSURE_CHECK)
    pytester.makepyfile(fixedinit=FIXED)
    result = pytester.runpytest_subprocess(
        "--initcheck",
        "fixedinit.py:seeded",
        "-k",
        "unsure",
        "--initcheck-json",
        "g.json",
        "-p",
        "no:cacheprovider",
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unsure INCONCLUSIVE*", "*max_draws*"])
    assert "smallest failing shape" not in result.stdout.str()  # no search: no defect
    (record,) = json.loads((pytester.path / "g.json").read_text())["payload"]["records"]
    assert record["check"] == "unsure" and record["verdict"] == "inconclusive"
