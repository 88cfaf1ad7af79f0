"""The CI gate for models (issue 12 item 5): ``[tool.initcheck.models.NAME]`` tables
become ``initcheck::NAME::LAYER::PROPERTY`` items (and ``initcheck::NAME::signal``) with
the verdicts of :func:`initcheck.audit`, with and without pytest-xdist; every row reaches
``--initcheck-json`` and ``--initcheck-report``."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

# imported before in-process pytester runs (C extensions cannot be imported twice)
import initcheck  # noqa: E402
import initcheck.gate  # noqa: E402
import initcheck.models  # noqa: E402
import initcheck.report  # noqa: E402

MODELS = """
import torch
import torch.nn as nn


def default_mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))


def kaiming_mlp():
    model = default_mlp()
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model


def encoder():  # attention first: no default batch can be built for it
    layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=2)


def batch():
    return torch.randn(4, 10, 16)


def broken_batch():
    raise RuntimeError("no data")
"""

PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.initcheck.models.default]
target = "mymodels:default_mlp"
variance = "he"

[tool.initcheck.models.kaiming]
target = "mymodels:kaiming_mlp"
variance = "he"
"""


WEIGHT_CHECKS = ("symmetry", "degeneracy", "centering", "variance", "tails", "seeds")


def expected_items() -> dict[str, str]:
    """The gate's items and verdicts, from what the models are (not from ``audit()``):
    PyTorch's default Linear init is U(±1/√fan_in), Var = 1/(3·fan_in) = He/6, so each
    default weight fails variance (std ×0.41, tens of se out) and passes the rest
    (continuous, symmetric, independent), and the signal vanishes by ×1/6 a layer; the
    Kaiming model passes everything. Biases are checked for being a constant policy."""
    want = {}
    for model in ("default", "kaiming"):
        for layer in ("0", "2"):
            for check in WEIGHT_CHECKS:
                failed = model == "default" and check == "variance"
                want[f"initcheck::{model}::{layer}.weight::{check}"] = (
                    "FAILED" if failed else "PASSED"
                )
            want[f"initcheck::{model}::{layer}.bias::constant"] = "PASSED"
        want[f"initcheck::{model}::signal"] = "FAILED" if model == "default" else "PASSED"
    return want


def project(pytester: pytest.Pytester, pyproject: str = PYPROJECT) -> None:
    pytester.makepyfile(mymodels=MODELS)
    pytester.makefile(".toml", pyproject=pyproject)


def run(pytester: pytest.Pytester, args: list[str], *more: str) -> pytest.RunResult:
    full = [*args, "-p", "no:cacheprovider", "-v", *more]
    return pytester.runpytest_subprocess(*full) if "-n" in args else pytester.runpytest(*full)


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """``{nodeid: PASSED | FAILED}`` of the gate's items from ``-v`` output."""
    found = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED"):
            parts = line.split()
            if word in parts:
                node = next((p for p in parts if p.startswith("initcheck::")), None)
                if node is not None and not line.startswith(word):
                    found[node] = word
    return found


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["inprocess", "xdist"])
def test_model_items_have_audit_verdicts(pytester: pytest.Pytester, args: list[str]) -> None:
    project(pytester)
    result = run(pytester, args, "--initcheck-json", "r.json", "--initcheck-report=r.html")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert outcomes(result) == expected_items()
    result.stdout.fnmatch_lines(
        [
            "*[[]default[]] 0.weight (Linear, torch, fans=(784, 256)*variance FAILED*",
            "*diagnosis:*PyTorch's default init*(predicts ×0.167)*",
            "model default (torch): FAILED, 2 of 4 weights failed: 0.weight, 2.weight*",
            "model kaiming (torch): passed*",
        ]
    )
    data = json.loads((pytester.path / "r.json").read_text())["payload"]
    models = {m["model"]: m for m in data["models"]}
    assert sorted(models) == ["default", "kaiming"]
    html = (pytester.path / "r.html").read_text()
    want = expected_items()
    for name in ("default", "kaiming"):
        got = initcheck.models.ModelReport.from_dict(models[name])
        # the JSON's rows carry the items' verdicts
        assert {
            f"initcheck::{name}::{r.name}::{c.check}": "PASSED" if c.passed else "FAILED"
            for r in got.rows
            for c in r.results
        } == {
            k: v
            for k, v in want.items()
            if k.startswith(f"initcheck::{name}::") and not k.endswith("::signal")
        }
        assert f"Model <code>{name}</code>" in html
    for layer, param in (("0", "weight"), ("0", "bias"), ("2", "weight"), ("2", "bias")):
        assert f"<td><code>{layer}</code></td>\n<td><code>{param}</code></td>" in html
    assert html.count("<td><code>weight</code></td>") == 4  # 2 weights × 2 models


def test_model_rows_in_collect_only(pytester: pytest.Pytester) -> None:
    project(pytester)
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        ["initcheck::default::0.weight::variance", "initcheck::kaiming::signal"]
    )


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('target = "mymodels:default_mlp"\nvarience = "he"', "*unknown key(s) [[]'varience'[]]*"),
        ('target = "mymodels:default_mlp"\nvariance = "hee"', "*variance='hee'*"),
        ('target = "mymodels:encoder"\ninputs = "batch"', "*`inputs` must be*inputs='batch'"),
        (
            'target = "mymodels:encoder"\ninputs = 3',
            "*`inputs` must be an inputs SPEC*Received: inputs=3",
        ),
    ],
)
def test_bad_model_table_is_collection_error(
    pytester: pytest.Pytester, table: str, message: str
) -> None:
    pytester.makepyfile(mymodels=MODELS + "\nMODELS_TEXT = 'not a model'\n")
    pytester.makefile(
        ".toml",
        pyproject=f'[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        f"[tool.initcheck.models.bad]\n{table}\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["inprocess", "xdist"])
@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('target = "mymodels:nothing"', "*cannot load model 'bad'*nothing*"),
        ('target = "mymodels:MODELS_TEXT"', "*cannot audit model 'bad'*"),
        ('target = "mymodels:raises"', "*cannot audit model 'bad'*RuntimeError: no weights*"),
        ('target = "mymodels:exits"', "*cannot audit model 'bad'*SystemExit*"),
        (
            'target = "mymodels:encoder"\ninputs = "mymodels:nothing"',
            "*cannot load the inputs of model 'bad'*'nothing' not found*",
        ),
        (
            'target = "mymodels:encoder"\ninputs = "mymodels:broken_batch"',
            "*cannot load the inputs of model 'bad'*broken_batch*raised RuntimeError: no data*",
        ),
    ],
    ids=["no-attr", "not-a-model", "raises", "exits", "no-inputs", "inputs-raise"],
)
def test_a_model_that_cannot_be_built_fails_its_own_item_and_the_others_run(
    pytester: pytest.Pytester, table: str, message: str, args: list[str]
) -> None:
    extra = (
        "\nMODELS_TEXT = 'not a model'\n\n"
        "def raises():\n    raise RuntimeError('no weights')\n\n"
        "def exits():\n    import sys\n    sys.exit(3)\n"
    )
    pytester.makepyfile(mymodels=MODELS + extra)
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        '[tool.initcheck.models.good]\ntarget = "mymodels:kaiming_mlp"\nvariance = "he"\n\n'
        f"[tool.initcheck.models.bad]\n{table}\n",
    )
    result = run(pytester, args)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    found = outcomes(result)
    assert found.pop("initcheck::bad::build") == "FAILED"
    assert found and set(found.values()) == {"PASSED"}  # every item of the good model ran
    assert any(node.startswith("initcheck::good::") for node in found)
    result.stdout.fnmatch_lines([message])
    assert "Traceback" not in result.stdout.str()


def test_signal_off_and_settings_override(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        '[tool.pytest.ini_options]\npythonpath = ["."]\n\n[tool.initcheck.models.k]\n'
        'target = "mymodels:kaiming_mlp"\nvariance = "he"\nsignal = false\nalpha = 1e-3\n',
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v", "--initcheck-json", "r.json")
    result.assert_outcomes(passed=14)
    assert "initcheck::k::signal" not in result.stdout.str()
    (model,) = json.loads((pytester.path / "r.json").read_text())["payload"]["models"]
    assert model["signal"] is None
    assert model["settings"]["alpha"] == 1e-3


@pytest.mark.parametrize("args", [[], ["-n", "2"]], ids=["inprocess", "xdist"])
def test_inputs_key_is_the_signal_batch(pytester: pytest.Pytester, args: list[str]) -> None:
    project(
        pytester,
        '[tool.pytest.ini_options]\npythonpath = ["."]\n\n[tool.initcheck.models.enc]\n'
        'target = "mymodels:encoder"\ninputs = "mymodels:batch"\n',
    )
    result = run(pytester, args, "--initcheck-json", "r.json")
    # the audit's own verdicts may change; the table collects and its items run
    assert result.ret in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED), result.stdout.str()
    found = outcomes(result)
    assert "initcheck::enc::signal" in found
    assert any(node.startswith("initcheck::enc::layers.0.") for node in found)
    (model,) = json.loads((pytester.path / "r.json").read_text())["payload"]["models"]
    assert model["signal"]["details"]["source"] == "the given inputs"
