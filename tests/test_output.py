"""The one output path (issue 16): every JSON file initcheck writes is one versioned
envelope ``{"initcheck": VERSION, "schema": N, "kind": ..., "payload": ...}`` around the
payload, written by :mod:`initcheck.output`; the plugin's payload keeps its version."""

from __future__ import annotations

import argparse
import ast
import json
from pathlib import Path

import numpy as np
import pytest

import initcheck
import initcheck.api
import initcheck.assertions
import initcheck.gate
import initcheck.strategies
from initcheck import output
from initcheck._version import __version__
from initcheck.cli import main
from initcheck.cli.commands import _outputs
from initcheck.training_runs import Comparison, TrainingRun, comparison_json

TESTS = Path(__file__).parent
GOOD = f"{TESTS / 'broken_inits.py'}:he_normal"
PACKAGE = TESTS.parent / "initcheck"


def _envelope(text: str, kind: str) -> dict:
    data = json.loads(text)
    assert list(data) == ["initcheck", "schema", "kind", "payload"], list(data)
    assert data["initcheck"] == __version__
    assert data["schema"] == output.SCHEMA == 1
    assert data["kind"] == kind
    return data["payload"]


def test_check_json_is_the_report_in_its_envelope(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    assert main(["check", GOOD, "--variance", "he", "--json", str(path)]) == 0
    payload = _envelope(path.read_text(), "check")
    report = initcheck.check(_he, variance="he")
    assert set(payload) == set(report.to_dict())  # the payload is Report.to_dict()


def _he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, np.sqrt(2 / np.prod(shape[:-1])), shape)


def test_compare_json_is_the_comparison_in_its_envelope(tmp_path: Path, capsys) -> None:
    runs = {"a": TrainingRun("a", np.linspace(2.3, 0.1, 10), 0.9, 0.3, 10, 1.0, 0)}
    comparison = Comparison(runs, 128, 0, "fake data")
    args = argparse.Namespace(json=str(tmp_path / "m.json"), report=None, seed=0)
    _outputs(args, comparison, [], "", False)
    payload = _envelope((tmp_path / "m.json").read_text(), "compare")
    assert payload == json.loads(json.dumps(comparison_json(comparison)))


def test_audit_json_wraps_whatever_the_model_report_holds(tmp_path: Path, capsys) -> None:
    pytest.importorskip("torch")
    models = tmp_path / "models.py"
    models.write_text("import torch\n\ndef make():\n    return torch.nn.Linear(64, 32)\n")
    code = main(["audit", f"{models}:make", "--variance", "auto", "--json", "-"])
    assert code in (0, 1)
    payload = _envelope(capsys.readouterr().out, "audit")
    assert payload["model"] and payload["rows"]
    rebuilt = initcheck.models.records.ModelReport.from_dict(payload)
    assert set(rebuilt.to_dict()) == set(payload)


def test_the_session_json_keeps_its_version_and_payload(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_one="""
        import numpy as np
        import initcheck

        def he(shape, dtype=None, seed=None):
            return np.random.default_rng(seed).normal(0, np.sqrt(2 / shape[0]), shape)

        def test_he():
            initcheck.assert_variance(he, "he", (64, 32))
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--initcheck-json", "s.json")
    result.assert_outcomes(passed=1)
    payload = _envelope((pytester.path / "s.json").read_text(), "session")
    # the plugin's JSON was the one versioned output ("initcheck": 1): schema 1, and the
    # same payload as before the envelope
    assert set(payload) == {"settings", "summary", "records"}
    assert payload["summary"] == {
        "records": 1,
        "passed": 1,
        "failed": 0,
        "inconclusive": 0,
        "expected": 0,
    }


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Received: kind='checks'"):
        output.envelope("checks", {})


def test_no_module_but_the_output_path_writes_json() -> None:
    """Every ``json.dump``/``json.dumps`` in initcheck is the envelope's (the HTML report
    embeds one value as text, which is not a JSON file)."""
    allowed = {"output.py", "report/html.py"}
    calls = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("dump", "dumps")
                and isinstance(node.value, ast.Name)
                and node.value.id == "json"
                and rel not in allowed
            ):
                calls.append(f"{rel}:{node.lineno}")
    assert not calls, f"JSON written outside initcheck.output: {calls}"
