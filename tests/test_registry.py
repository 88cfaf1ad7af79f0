"""The check registry: one registration puts a check everywhere (check(), the gate, the
JSON and the HTML report), and settings reach every check."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

import initcheck
from initcheck import registry
from initcheck.registry import Check
from initcheck.results import CheckResult
from initcheck.settings import Settings

TOY_SOURCE = """
from initcheck.registry import Check, register
from initcheck.results import CheckResult


def run(ctx):
    samples = ctx.samples
    return CheckResult(
        check="toy",
        initializer=ctx.initializer.name,
        passed=True,
        message=f"toy saw {samples.n} values on {len(ctx.plan.shapes)} shapes",
        n=samples.n,
        shapes=ctx.plan.shapes,
    )


def figure(result):
    return [("Toy figure caption", '<svg xmlns="http://www.w3.org/2000/svg"></svg>')]


register(
    Check(name="toy", run=run, summary="a toy", needs={"draws"}, order=5, figure=figure),
    replace=True,
)
"""

HE_SOURCE = """
import numpy as np


def he(shape, dtype=None, seed=None):
    fan_in = int(np.prod(shape[:-1]))
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), shape).astype("float32")
"""


def he(shape: tuple[int, ...], dtype: object = None, seed: int | None = None) -> np.ndarray:
    fan_in = int(np.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0.0, np.sqrt(2.0 / fan_in), shape)


@pytest.fixture
def toy() -> Iterator[Check]:
    namespace: dict[str, object] = {}
    exec(compile(TOY_SOURCE, "toy_check.py", "exec"), namespace)
    yield registry.check_named("toy")
    registry.unregister("toy")


def test_a_registered_check_runs_in_check_and_reaches_json_and_html(toy: Check) -> None:
    from initcheck.report import render_html

    assert "toy" in registry.names()
    assert "toy" in registry.default_names(registry.Declared())
    report = initcheck.check(he)
    assert report["toy"].passed
    assert report["toy"].message.startswith("toy saw")
    assert next(r["check"] for r in report.to_dict()["results"]) == "toy"  # order=5
    html = render_html(report.results)
    assert ">toy<" in html
    assert "Toy figure caption" in html


def test_a_registered_check_becomes_a_gate_item_in_json_and_html(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(TOY_SOURCE)
    pytester.makepyfile(myinits=HE_SOURCE)
    collected = pytester.runpytest_subprocess(
        "--initcheck", "myinits.py:he", "--collect-only", "-q", "-p", "no:cacheprovider"
    )
    assert "initcheck::myinits.py:he::toy" in collected.stdout.str()
    run = pytester.runpytest_subprocess(
        "--initcheck",
        "myinits.py:he",
        "--initcheck-json",
        "out.json",
        "--initcheck-report",
        "out.html",
        "-k",
        "toy",
        "-p",
        "no:cacheprovider",
    )
    run.assert_outcomes(passed=1)
    data = json.loads((pytester.path / "out.json").read_text())["payload"]
    checks = [r["check"] for r in _results(data)]
    assert "toy" in checks
    html = (pytester.path / "out.html").read_text()
    assert "Toy figure caption" in html


def _results(data: object) -> list[dict]:
    """Every result record anywhere in the JSON document."""
    found: list[dict] = []
    if isinstance(data, dict):
        if "check" in data and "passed" in data:
            found.append(data)
        for value in data.values():
            found.extend(_results(value))
    elif isinstance(data, list):
        for value in data:
            found.extend(_results(value))
    return found


def test_register_refuses_a_second_check_of_the_same_name(toy: Check) -> None:
    other = Check(name="toy", run=toy.run, summary="another")
    with pytest.raises(ValueError, match="replace=True"):
        registry.register(other)


def test_a_check_declaration_is_validated() -> None:
    def run(ctx: object) -> None:
        return None

    with pytest.raises(ValueError, match="when"):
        Check(name="bad", run=run, summary="", when="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="identifier"):
        Check(name="two words", run=run, summary="")


def test_unknown_and_undeclared_checks_are_named() -> None:
    with pytest.raises(ValueError, match="Unknown check"):
        initcheck.check(he, checks=["symmetri"])
    with pytest.raises(ValueError, match="needs a target"):
        initcheck.check(he, checks=["variance"])


# --------------------------------------------------------------------------- settings


def test_settings_seed_is_not_overridden_by_the_default_seed_argument() -> None:
    report = initcheck.check(he, settings=Settings(seed=5), checks=["centering"])
    assert report.settings["seed"] == 5
    assert (
        initcheck.check(he, settings=Settings(seed=5), seed=7, checks=["centering"]).settings[
            "seed"
        ]
        == 7
    )
    a = initcheck.check(he, settings=Settings(seed=5), checks=["centering"])["centering"]
    b = initcheck.check(he, seed=5, checks=["centering"])["centering"]
    assert a.statistic == b.statistic


def test_std_tolerance_reaches_propagation() -> None:
    def low(shape: tuple[int, ...], dtype: object = None, seed: int | None = None) -> np.ndarray:
        # 15% low std: outside a 5% per-layer tolerance, inside a 30% one
        return he(shape, seed=seed) * 0.85

    strict = initcheck.check(low, nonlinearity="relu", checks=["propagation"])
    loose = initcheck.check(
        low,
        nonlinearity="relu",
        checks=["propagation"],
        std_tolerance=0.3,
        std_detect=0.4,
        shape_detect=0.4,
    )
    assert not strict.passed
    assert loose.passed, loose["propagation"].message
    assert loose["propagation"].details["tolerance"] == 0.3


def test_batches_reach_the_training_check(monkeypatch: pytest.MonkeyPatch) -> None:

    seen: dict[str, object] = {}

    def fake_run(ctx: object) -> CheckResult:
        seen["batches"] = ctx.settings.batches  # type: ignore[attr-defined]
        seen["mnist"] = ctx.settings.mnist  # type: ignore[attr-defined]
        return CheckResult(check="training", initializer="x", passed=True, message="ok")

    monkeypatch.setattr(
        registry, "_registry", {**registry._registry, "training": _with_run(fake_run)}
    )
    initcheck.check(he, train=True, checks=["training"], batches=7, mnist="/data/mnist.npz")
    assert seen == {"batches": 7, "mnist": "/data/mnist.npz"}


def _with_run(run: object) -> Check:
    from dataclasses import replace

    return replace(registry.check_named("training"), run=run)  # type: ignore[arg-type]
