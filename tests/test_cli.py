"""The command line: exit codes 0/1/2, JSON output, reports, help, light import."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from initcheck import cli, registry
from initcheck.cli import main
from initcheck.keras_names import KERAS_INITIALIZER_NAMES
from initcheck.registry import Check
from initcheck.training_runs import Comparison, TrainingRun, comparison_table

TESTS = Path(__file__).parent
GOOD = f"{TESTS / 'broken_inits.py'}:he_normal"
BAD = f"{TESTS / 'broken_inits.py'}:missing_relu_gain"


# --------------------------------------------------------------------------- check


def test_check_passing_initializer_exits_0_and_writes_json(tmp_path, capsys):
    out = tmp_path / "out" / "result.json"
    assert main(["check", GOOD, "--variance", "he", "--json", str(out)]) == 0
    data = json.loads(out.read_text())["payload"]
    assert data["passed"] is True
    assert {"symmetry", "centering", "variance", "scaling"} <= {r["check"] for r in data["results"]}
    assert data["settings"]["seed"] == 0 and data["settings"]["variance"] == "2/fan_in"
    assert "PASSED" in capsys.readouterr().out


def test_check_failing_initializer_exits_1_json_to_stdout(tmp_path, capsys):
    report = tmp_path / "r.html"
    code = main(["check", BAD, "--variance", "he", "--json", "-", "--report", str(report)])
    assert code == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)["payload"]  # stdout is only the JSON
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
        (["check", GOOD, "--layout", "jax"], "`layout` must be one of ['keras', 'torch']"),
        (["check"], "required"),
        ([], "required"),
        (["compare"], "at least one SPEC"),
        (["compare", "--batches", "0", "classic"], "positive integer"),
        (["check", GOOD, "--checks", "speed"], "Unknown check(s) ['speed']"),
        (["check", GOOD, "--checks", "variance"], "needs a target"),
        (["check", GOOD, "--family", "gaussian"], "`family` must be one of ['normal'"),
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
    data = json.loads(capsys.readouterr().out)["payload"]
    assert [r["check"] for r in data["results"]] == ["variance", "distribution"]


def _run_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "initcheck", *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_unknown_keras_name_is_one_line_without_tensorflow():
    """Issue 11: a typo exits 2 with one stderr line and no TensorFlow (its time:
    benchmarks/bench_cli.py)."""
    proc = _run_cli("check", "he_normall")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert "did you mean 'he_normal'" in lines[0]
    code = (
        "import sys; from initcheck.cli import main; rc = main(['check', 'he_normall']); "
        "print(rc, sorted(m for m in ('tensorflow', 'keras', 'scipy') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "2 []"


def test_static_keras_names_match_the_installed_keras():
    import keras

    base = keras.initializers.Initializer
    live = {
        name
        for name in dir(keras.initializers)
        if not name.startswith("_")
        and isinstance(getattr(keras.initializers, name), type)
        and issubclass(getattr(keras.initializers, name), base)
        and getattr(keras.initializers, name) is not base
    }
    assert live <= KERAS_INITIALIZER_NAMES, sorted(live - KERAS_INITIALIZER_NAMES)
    aliases = KERAS_INITIALIZER_NAMES - live  # e.g. "normal", "zero": accepted by get()
    for name in sorted(aliases):
        assert isinstance(keras.initializers.get(name), base), name


def test_check_prints_no_tensorflow_log_lines():
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL",)}
    env.pop("_INITCHECK_TF_QUIET", None)
    proc = _run_cli("check", "he_normal", "--variance", "he", env=env)
    assert proc.returncode == 0, proc.stderr
    for noise in ("oneDNN", "cuda drivers", "cuInit", "absl::InitializeLog", "I0000", "W0000"):
        assert noise not in proc.stderr, proc.stderr
    assert proc.stderr == ""


def test_missing_attribute_names_the_file_and_what_it_defines(tmp_path, capsys):
    inits = tmp_path / "inits.py"
    inits.write_text("import os\n\ndef a(shape, dtype=None):\n    pass\n\nb = c = 1\n")
    assert main(["check", f"{inits}:nosuchattr"]) == 2
    err = capsys.readouterr().err
    assert f"'nosuchattr' not found in {inits.resolve()}; it defines: a, b, c." in err
    assert "_initcheck_spec_" not in err and "<module" not in err


def test_error_inside_a_check_is_a_crash_not_a_usage_error(capsys):
    def boom(ctx):
        raise ValueError("internal: shapes do not broadcast")

    registry.register(Check(name="boom_test", run=boom, summary="raises", when="requested"))
    try:
        assert main(["check", GOOD, "--checks", "boom_test"]) == 1
    finally:
        registry.unregister("boom_test")
    err = capsys.readouterr().err
    assert "raised ValueError: internal: shapes do not broadcast" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_json_and_html_get_the_same_permissions(tmp_path, capsys):
    old = os.umask(0o027)
    try:
        js, html = tmp_path / "r.json", tmp_path / "r.html"
        assert (
            main(["check", GOOD, "--variance", "he", "--json", str(js), "--report", str(html)]) == 0
        )
    finally:
        os.umask(old)
    assert (js.stat().st_mode & 0o777) == (html.stat().st_mode & 0o777) == 0o640
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files left


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


USER_INITS = """
import numpy as np


def my_he(shape, dtype=None, seed=None):
    fan_in = int(np.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0, np.sqrt(2 / fan_in), shape).astype("float32")
"""


def test_console_script_imports_the_users_package_from_the_project_root(tmp_path):
    """Issue 19, item 3: ``initcheck check mypkg.inits:my_he`` from a project root finds
    ``mypkg``, as ``python -m initcheck`` does (a console script's sys.path[0] is bin/)."""
    script = shutil.which("initcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "initcheck"
    )
    if script is None:
        pytest.skip("the initcheck console script is not installed")
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "inits.py").write_text(USER_INITS)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    spec = ["check", "mypkg.inits:my_he", "--variance", "he", "--checks", "variance"]
    for command in ([script], [sys.executable, "-m", "initcheck"]):
        proc = subprocess.run(
            [*command, *spec],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, (command, proc.stdout, proc.stderr)
        assert "PASSED" in proc.stdout + proc.stderr
    elsewhere = subprocess.run(  # the directory is what makes it importable
        [script, *spec],
        cwd=tmp_path / "mypkg",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert elsewhere.returncode == 2 and "cannot import module 'mypkg.inits'" in elsewhere.stderr


def test_main_called_from_python_leaves_sys_path_alone(capsys):
    before = list(sys.path)
    assert main(["check", "he_normall"]) == 2
    assert sys.path == before
    assert "did you mean" in capsys.readouterr().err


# --------------------------------------------------------------------------- compare


@pytest.fixture
def fake_training(monkeypatch):
    """Replace the engine (TensorFlow) by a compare() that records its call and returns
    real records."""
    calls = []

    def compare(
        inits,
        *,
        epochs=2,
        batches=None,
        batch_size=128,
        seed=0,
        data=None,
        layout="keras",
        keep_going=False,
    ):
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
            name: TrainingRun(
                name, np.linspace(2.3, 0.1 + i, n), 0.9 - 0.05 * i, 0.3, n, n / 31, seed
            )
            for i, name in enumerate(inits)
        }
        return Comparison(runs, batch_size, seed, "fake data")

    module = types.ModuleType("initcheck.training")
    module.compare = compare
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
    data = json.loads(js.read_text())["payload"]
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
    diverged = TrainingRun("x", np.array([2.3, np.nan]), 0.1, float("nan"), 2, 2 / 31, 0)
    table = comparison_table(Comparison({"x": diverged}, 128, 0, "fake data"))
    assert "After 2 batches" in table and "10.00%" in table
    row = table.splitlines()[-1]
    assert row.startswith("x") and row.count("—") == 2  # val loss, last loss
    assert "mean last 50" not in table  # 2 batches: no mean over the last 50 to show


def test_the_last_50_column_shows_only_with_50_batches():
    """Issue 29 item 7: in the table, the notebook view, the JSON and the HTML report."""
    from initcheck.output.htmlfile import render_html
    from initcheck.training_runs import comparison_json

    for batches, shown in ((31, False), (50, True)):
        run = TrainingRun("x", np.linspace(2.3, 0.5, batches), 0.9, 0.4, batches, 1.0, 0)
        comparison = Comparison({"x": run}, 128, 0, "fake data")
        assert ("mean last 50" in comparison_table(comparison)) is shown
        assert ("mean last 50" in comparison._repr_html_()) is shown
        assert (comparison_json(comparison)["runs"]["x"]["mean_last_50"] is not None) is shown
        html = render_html([], comparisons=[comparison])
        assert ("mean loss, last 50" in html) is shown


def test_progress_is_silent_without_a_terminal(capsys):
    with cli.Progress() as progress:
        progress.update("working")
    assert capsys.readouterr().err == ""


def test_compare_exits_1_naming_an_initializer_that_raises(capsys):
    # the README: "compare 0 training ran, 1 an initializer raised or returned bad weights"
    raising = f"{TESTS / 'broken_inits.py'}:raises"
    assert main(["compare", GOOD, raising, "--batches", "2", "--no-checks"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("initcheck compare: error: ")
    assert "deliberately broken" in err and "Traceback" not in err
