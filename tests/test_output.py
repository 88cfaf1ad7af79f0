"""The one output path (issue 16): every JSON file initcheck writes is one versioned
envelope ``{"initcheck": VERSION, "schema": N, "kind": ..., "payload": ...}`` around the
payload, written by :mod:`initcheck.output.jsonfile`; the plugin's payload keeps its
version. A new format is one module plus one registry entry, in the CLI and the plugin."""

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
from initcheck._version import __version__
from initcheck.cli import main
from initcheck.cli.commands import _outputs
from initcheck.output import jsonfile as output
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
    allowed = {"output/jsonfile.py", "report/html.py"}
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


# ----------------------------------------------------------------- the format registry

TOY = """
from pathlib import Path


def write(path, output):
    records = output.payload.get("records", output.payload.get("results", []))
    Path(path).write_text(f"{output.kind}: {len(records)}\\n")
    return Path(path)
"""


@pytest.fixture
def toy_format(tmp_path, monkeypatch):
    """A toy output format: one module and one registry entry, nothing else."""
    from initcheck.output import FORMATS, Format

    (tmp_path / "toy_format.py").write_text(TOY)
    monkeypatch.syspath_prepend(str(tmp_path))
    toy = Format("toy", "toy_format", "toy", "write a toy line to PATH")
    monkeypatch.setitem(FORMATS, "toy", toy)
    return toy


def test_a_toy_format_is_a_cli_flag_of_every_command(toy_format, tmp_path, capsys) -> None:
    from initcheck.cli import main

    for command in ("check", "compare", "audit"):
        assert main([command, "--help"]) == 0
        assert "--toy PATH" in capsys.readouterr().out, command
    out = tmp_path / "toy.txt"
    assert main(["check", "he_normal", "--variance", "he", "--toy", str(out)]) == 0
    assert out.read_text().startswith("check: ")
    assert f"toy written to {out}" in capsys.readouterr().out


def test_a_toy_format_is_a_plugin_option(toy_format, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import initcheck\n"
        "def test_he():\n"
        "    initcheck.assert_breaks_symmetry('he_normal', (8, 4))\n"
    )
    help_text = pytester.runpytest("--help").stdout.str()
    assert "--initcheck-toy=PATH" in help_text
    result = pytester.runpytest("-p", "no:cacheprovider", "--initcheck-toy", "toy.txt")
    assert result.ret == pytest.ExitCode.OK
    assert (pytester.path / "toy.txt").read_text().startswith("session: ")
    result.stdout.fnmatch_lines(["*initcheck toy written to*toy.txt*"])
