"""Every record's ``repr`` is short: raw samples stay in ``details`` (issue 11)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import initcheck
from initcheck.errors import InitCheckFailure, InitializerError
from initcheck.results import CheckResult, Report

LIMIT = 400


def _he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[0]), shape)


@pytest.fixture(scope="module")
def report() -> Report:
    return initcheck.check(_he, variance="he", family="normal", nonlinearity="relu", name="he")


def test_report_and_result_reprs_are_short(report: Report) -> None:
    assert len(repr(report)) <= LIMIT, repr(report)
    assert "he" in repr(report) and "passed=" in repr(report)
    for result in report.results:
        text = repr(result)
        assert len(text) <= LIMIT, text
        assert result.check in text


def test_samples_stay_available(report: Report) -> None:
    centering = report["centering"]
    sample = centering.sample
    assert sample is centering.details["sample"]
    # the histogram's subsample (2,000 values) of the standardized weights, reproducible:
    # the same seed picks the same values, another seed others
    assert 1990 <= len(sample) <= 2000  # per-shape picks are rounded
    assert all(isinstance(v, float) for v in sample) and len(set(sample)) > 1900

    def again(seed):
        return initcheck.check(_he, variance="he", checks=["centering"], seed=seed)["centering"]

    assert again(0).sample == again(0).sample != again(1).sample
    assert centering.to_dict()["details"]["sample"] == sample  # kept in the record
    rebuilt = CheckResult.from_dict(centering.to_dict())
    assert rebuilt.details == centering.to_dict()["details"]


def test_long_fields_are_cut() -> None:
    result = CheckResult(
        check="variance",
        initializer="x" * 1000,
        passed=False,
        message="m" * 5000,
        details={"sample": list(range(10_000))},
        shapes=tuple((i, i + 1) for i in range(1, 500)),
    )
    assert len(repr(result)) <= LIMIT
    assert len(repr(Report(initializer="y" * 1000, results=(result,) * 50))) <= LIMIT
    failure = InitCheckFailure([result] * 20)
    assert len(repr(failure)) <= LIMIT
    assert "m" * 5000 in str(failure)  # the message itself is complete
    assert len(repr(InitializerError("e" * 5000))) <= LIMIT


def test_json_leaves_out_the_figures_raw_samples():
    """Issue 29 item 7: JSON stays small; the HTML report still draws the histogram."""
    import json

    from initcheck.output.jsonfile import json_text

    report = initcheck.check("he_normal", checks=["centering"])
    lean = json_text("check", report.to_dict())
    full = json_text("check", report.to_dict(), samples=True)
    assert '"sample"' not in lean and '"sample"' in full
    assert len(lean) < len(full) / 5
    assert json.loads(lean)["payload"]["results"][0]["details"]["sample_unit"]
