"""The command line: exit codes 0/1/2, JSON output, reports, help, light import."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from initcheck import cli
from initcheck.cli import main

TESTS = Path(__file__).parent
GOOD = f"{TESTS / 'broken_inits.py'}:he_normal"
BAD = f"{TESTS / 'broken_inits.py'}:missing_relu_gain"


# --------------------------------------------------------------------------- check


def test_check_passing_initializer_exits_0_and_writes_json(tmp_path, capsys):
    out = tmp_path / "out" / "result.json"
    assert main(["check", GOOD, "--variance", "he", "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["passed"] is True
    assert {"symmetry", "centering", "variance", "scaling"} <= {r["check"] for r in data["results"]}
    assert data["settings"]["seed"] == 0 and data["settings"]["variance"] == "2/fan_in"
    assert "PASSED" in capsys.readouterr().out


def test_check_failing_initializer_exits_1_json_to_stdout(tmp_path, capsys):
    report = tmp_path / "r.html"
    code = main(["check", BAD, "--variance", "he", "--json", "-", "--report", str(report)])
    assert code == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)  # stdout is only the JSON
    failed = [r["check"] for r in data["results"] if not r["passed"]]
    assert failed == ["variance"]
    assert "FAILED" in captured.err and "report written" in captured.err
    assert "variance too small" in report.read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "no_such_module_xyz:init"], "cannot import module"),
        (["check", "missing_dir/inits.py:init"], "does not exist"),
        (["check", f"{TESTS / 'broken_inits.py'}:nope"], "'nope' not found"),
        (["check", "numpy:pi"], "numpy:pi"),
        (["check", GOOD, "--variance", "bogus"], "bogus"),
        (["check", "not a spec!"], "neither a Keras name"),
        (["check", GOOD, "--layout", "jax"], "invalid choice"),
        (["check"], "required"),
        ([], "required"),
        (["compare"], "at least one SPEC"),
        (["compare", "--batches", "0", "classic"], "positive integer"),
        (["check", GOOD, "--checks", "speed"], "Unknown check(s) ['speed']"),
        (["check", GOOD, "--checks", "variance"], "needs a target"),
        (["check", GOOD, "--family", "gaussian"], "invalid choice"),
    ],
)
def test_usage_and_load_errors_exit_2_without_traceback(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_check_declarations_add_checks(capsys):
    argv = [
        "check",
        GOOD,
        "--variance",
        "he",
        "--family",
        "normal",
        "--checks",
        "variance,distribution",
        "--json",
        "-",
    ]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["check"] for r in data["results"]] == ["variance", "distribution"]


def test_unknown_keras_name_suggests_close_names(capsys):
    pytest.importorskip("keras")
    assert main(["check", "he_normall"]) == 2
    err = capsys.readouterr().err
    assert "he_normal" in err and "Did you mean" in err
    assert "Traceback" not in err


def test_help_has_examples(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "initcheck compare --classic" in out
    assert main(["compare", "--help"]) == 0
    assert "--classic" in capsys.readouterr().out


def test_python_dash_m_help_and_light_import():
    proc = subprocess.run(
        [sys.executable, "-m", "initcheck", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "usage: initcheck" in proc.stdout and "examples:" in proc.stdout
    code = (
        "import sys, initcheck.cli, initcheck.report; print(sorted(m for m in "
        "('tensorflow', 'keras', "
        "'matplotlib', 'jinja2', 'scipy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "[]"


# --------------------------------------------------------------------------- compare


@dataclass
class FakeRun:
    name: str
    losses: np.ndarray = field(repr=False)
    val_accuracy: float
    val_loss: float
    batches: int
    epochs: float
    seed: int

    @property
    def last_loss(self) -> float:
        return float(self.losses[-1])

    def mean_loss(self, last: int = 50) -> float:
        return float(np.mean(self.losses[-last:]))


@dataclass
class FakeComparison:
    runs: dict
    batch_size: int
    seed: int
    data_source: str


@pytest.fixture
def fake_training(monkeypatch):
    """Replace initcheck.training (TensorFlow) by a fake compare() that records its call."""
    calls = []

    def compare(inits, *, epochs=2, batches=None, batch_size=128, seed=0):
        calls.append(
            {
                "names": list(inits),
                "epochs": epochs,
                "batches": batches,
                "batch_size": batch_size,
                "seed": seed,
            }
        )
        n = batches or 62
        runs = {
            name: FakeRun(name, np.linspace(2.3, 0.1 + i, n), 0.9 - 0.05 * i, 0.3, n, n / 31, seed)
            for i, name in enumerate(inits)
        }
        return FakeComparison(runs, batch_size, seed, "fake data")

    module = types.ModuleType("initcheck.training")
    module.compare = compare
    module.KERNEL_SHAPES = ((784, 256), (256, 128), (128, 10))
    monkeypatch.setitem(sys.modules, "initcheck.training", module)
    return calls


def test_compare_prints_table_and_writes_json_and_report(fake_training, tmp_path, capsys):
    js, html = tmp_path / "c.json", tmp_path / "reports" / "c.html"
    argv = [
        "compare",
        GOOD,
        BAD,
        "--epochs",
        "3",
        "--seed",
        "7",
        "--json",
        str(js),
        "--report",
        str(html),
    ]
    assert main(argv) == 0
    assert fake_training == [
        {"names": [GOOD, BAD], "epochs": 3.0, "batches": None, "batch_size": 128, "seed": 7}
    ]
    out = capsys.readouterr().out
    assert "val acc" in out and "90.00%" in out and "85.00%" in out
    data = json.loads(js.read_text())
    assert list(data["runs"]) == [GOOD, BAD]
    assert data["runs"][GOOD]["val_accuracy"] == pytest.approx(0.9)
    assert len(data["runs"][GOOD]["losses"]) == 62
    assert [r["initializer"] for r in data["checks"]] == [GOOD, BAD]  # checks ran too
    text = html.read_text()
    assert "Training:" in text and "missing_relu_gain" in text and "<svg" in text


def test_compare_classic_defaults_to_the_notebooks_batches(fake_training, capsys):
    assert main(["compare", "--classic", "--no-checks"]) == 0
    call = fake_training[0]
    assert call["batches"] == cli.CLASSIC_BATCHES == 858
    assert call["names"][:2] == ["All Zeros", "All Ones"]
    assert "--classic default" in capsys.readouterr().out
    fake_training.clear()
    assert main(["compare", "classic", GOOD, "--batches", "5"]) == 0
    assert fake_training[0]["batches"] == 5 and fake_training[0]["names"][-1] == GOOD


def test_comparison_table_handles_missing_values():
    table = cli.comparison_table(
        [
            {
                "name": "x",
                "val_accuracy": None,
                "val_loss": None,
                "last_loss": 1.0,
                "mean_last_50": None,
            }
        ]
    )
    assert "x" in table and "—" in table


def test_progress_is_silent_without_a_terminal(capsys):
    with cli.Progress() as progress:
        progress.update("working")
    assert capsys.readouterr().err == ""
