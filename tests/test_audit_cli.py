"""``initcheck audit SPEC``: exit codes, the printed report, JSON, the HTML model section,
and the verdicts the models' own inits imply."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

import initcheck  # noqa: E402
from initcheck.cli import main  # noqa: E402
from initcheck.errors import InitCheckFailure  # noqa: E402
from initcheck.models import ModelReport  # noqa: E402
from initcheck.report import render_html  # noqa: E402

MODELS = textwrap.dedent(
    """
    import numpy as np
    import torch
    import torch.nn as nn

    def _mlp():
        return nn.Sequential(
            nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
        )

    def default_mlp():
        return _mlp()

    def kaiming_mlp():
        model = _mlp()
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        return model

    instance = _mlp()
    not_a_model = 3

    def returns_int():
        return 3

    def raises():
        raise RuntimeError("no GPU here\\nsecond line")

    def encoder():  # attention first: no input can be built from its first layer
        layer = nn.TransformerEncoderLayer(
            d_model=16, nhead=2, dim_feedforward=32, batch_first=True
        )
        return nn.TransformerEncoder(layer, num_layers=2)

    def batch():
        return torch.randn(4, 10, 16)

    array = np.random.default_rng(0).normal(size=(16, 32))

    def broken_batch():
        raise RuntimeError("no data\\nhere")

    def dict_batch():
        return {"x": 1}
    """
)


@pytest.fixture(scope="module")
def models_py(tmp_path_factory):
    path = tmp_path_factory.mktemp("audit") / "models.py"
    path.write_text(MODELS)
    return path


def _verdicts(data: dict) -> list[tuple[str, bool, list[tuple[str, bool]]]]:
    return [
        (r["name"], r["passed"], [(c["check"], c["passed"]) for c in r["results"]])
        for r in data["rows"]
    ]


def test_default_init_fails_like_audit_with_json_and_report(models_py, tmp_path, capsys):
    html_path = tmp_path / "out" / "audit.html"
    spec = f"{models_py}:default_mlp"
    rc = main(["audit", spec, "--variance", "he", "--json", "-", "--report", str(html_path)])
    out, err = capsys.readouterr()
    assert rc == 1
    data = json.loads(out)["payload"]  # the JSON alone on stdout; the human report on stderr
    assert "FAILED" in err and "PyTorch's default init Var = 1/(3·fan_in)" in err
    # the verdicts, from what the model is (not from audit()): PyTorch's default Linear
    # weight is U(±1/√fan_in), Var = He/6, so each weight fails variance only (std ×0.41;
    # continuous, symmetric, independent otherwise), each bias passes its constant-policy
    # check, and the signal vanishes by ×1/6 a layer
    weight = [
        (c, c != "variance")
        for c in ("symmetry", "degeneracy", "centering", "variance", "tails", "seeds")
    ]
    assert _verdicts(data) == [
        row
        for layer in ("0", "2", "4")
        for row in (
            (f"{layer}.weight", False, weight),
            (f"{layer}.bias", True, [("constant", True)]),
        )
    ]
    assert data["signal"]["passed"] is False
    assert data["passed"] is False
    weights = [r for r in data["rows"] if r["param"] == "weight"]
    assert [r["layer"] for r in weights] == ["0", "2", "4"]
    for r in data["rows"]:
        assert {"layer", "param", "piece", "layout", "fans", "target", "diagnosis"} <= set(r)
    for r in weights:
        assert r["fans"][0] in (32, 64) and r["target"].startswith("2/fan_in at fan_in=")
        assert "1/(3·fan_in)" in r["diagnosis"]
        (var,) = [c for c in r["results"] if c["statistic"] is not None and c["target"] == 1.0]
        assert var["statistic"] == pytest.approx(1 / 6, rel=0.1)
    layers = data["signal"]["details"]["layers"]
    # signal points stop at the last hidden layer: the output head "4" sets the logits' scale
    assert [s["layer"] for s in layers] == ["0", "2"]
    assert all(s["activation_ms"] > 0 and s["gradient_norm2"] > 0 for s in layers)
    # plain data rebuilds the same report
    rebuilt = ModelReport.from_dict(data)
    assert rebuilt.to_dict() == data
    assert str(rebuilt) == str(ModelReport.from_dict(json.loads(json.dumps(data))))
    # the HTML: every row, both figures, no script; the same from the JSON dict
    html = html_path.read_text()
    assert "<script" not in html.lower()
    body = html.split('<table class="weights">', 1)[1].split("</table>", 1)[0]
    assert body.count("<tr class=") == len(data["rows"]) == 6
    for r in data["rows"]:
        assert f"<td><code>{r['layer']}</code></td>\n<td><code>{r['param']}</code></td>" in body
    assert "Var(W) / target per weight" in html and "Signal by depth" in html
    assert html.count("<svg") >= 2
    assert "consistent with PyTorch&#39;s default init" in html
    from_dict = render_html(None, models=[data])

    def section(page: str) -> str:  # the model section, figure ids aside
        return re.sub(r"p\d+c", "", page.split("<main>")[1].split('<h2 id="settings">')[0])

    assert section(from_dict) == section(html)


def test_kaiming_factory_passes_and_an_instance_is_accepted(models_py, capsys):
    assert main(["audit", f"{models_py}:kaiming_mlp", "--variance", "he"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "model signal ok" in out
    # an instance (re-initialized by reset_parameters()), structural checks only, no signal
    assert main(["audit", f"{models_py}:instance", "--no-signal"]) == 0
    out = capsys.readouterr().out
    assert "PASSED" in out and "model signal" not in out


@pytest.mark.parametrize(
    ("attr", "extra", "message"),
    [
        (":missing", [], "'missing' not found in"),
        (":not_a_model", [], "is a int, not a Keras model"),
        (":returns_int", [], "must return a Keras model, a torch.nn.Module or a Flax nnx.Module"),
        (":raises", [], "calling the factory raised RuntimeError: no GPU here second line"),
        (":default_mlp", ["--variance", "hee"], "--variance: Unknown variance target 'hee'"),
    ],
)
def test_bad_spec_exits_2_with_one_line(models_py, capsys, attr, extra, message):
    assert main(["audit", f"{models_py}{attr}", *extra, "--no-signal"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("initcheck audit: error: ") and message in err, err


def test_usage_errors_are_answered_without_importing_a_framework():
    code = (
        "import sys; from initcheck.cli import main; "
        "rcs = [main(['audit', 'no_colon']), main(['audit', 'x.py:m', '--variance', 'bad']), "
        "main(['audit', 'x.py:m', '--inputs', 'no_colon'])]; "
        "print(rcs, sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "[2, 2, 2] []"
    assert len(proc.stderr.splitlines()) == 3 and "Traceback" not in proc.stderr
    assert "--inputs: `inputs` must be an inputs SPEC: module:attr or path/file.py:attr" in (
        proc.stderr
    )


def test_assert_sound_model_names_failed_rows_with_measured_and_target(models_py):
    from initcheck.specs import load_spec

    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_sound_model(
            load_spec(f"{models_py}:default_mlp"), variance="he", signal=False
        )
    text = str(info.value)
    for layer, fan_in in (("0", 32), ("2", 64), ("4", 64)):
        block = re.split(r"\n  (?! )", text.split(f"{layer}.weight (Linear", 1)[1])[0]
        assert "FAILED" in block
        assert re.search(r"Var\(W\) = 0\.1[5-8]\d* × target", block), block
        assert f"target Var = 2/fan_in at fan_in={fan_in}" in block


@pytest.mark.parametrize(
    ("model", "inputs"),
    [("encoder", "batch"), ("kaiming_mlp", "array")],
    ids=["encoder-function", "mlp-array"],
)
def test_inputs_are_the_signal_batch(models_py, capsys, model, inputs):
    # the encoder's first parameterized module is attention: no default batch is built
    # for it, so its signal needs --inputs; the MLP's comes from a numpy array attribute
    rc = main(["audit", f"{models_py}:{model}", "--inputs", f"{models_py}:{inputs}", "--json", "-"])
    out, err = capsys.readouterr()
    assert rc != 2, err
    data = json.loads(out)["payload"]
    assert data["signal"]["details"]["source"] == "the given inputs"
    assert "on the given inputs" in data["signal"]["message"]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ("batch", "--inputs: `inputs` must be an inputs SPEC: module:attr or path/file.py:attr"),
        (":missing", "'missing' not found in"),
        (":broken_batch", ":broken_batch': calling it raised RuntimeError: no data here"),
        (":dict_batch", ":dict_batch': calling it returned a dict, not an array or a tensor"),
        (":not_a_model", ":not_a_model' is a int, not an array, a tensor or a zero-arg"),
    ],
)
def test_bad_inputs_exit_2_with_one_line(models_py, capsys, inputs, message):
    spec = inputs if inputs == "batch" else f"{models_py}{inputs}"
    assert main(["audit", f"{models_py}:kaiming_mlp", "--inputs", spec]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1, err
    flag = ("initcheck audit: error: --inputs", "initcheck audit: error: argument --inputs")
    assert err.startswith(flag) and message in err, err
    if inputs.startswith(":"):
        assert repr(spec) in err  # names SPEC2


def test_an_inputs_function_is_called_under_the_seed(models_py):
    from initcheck.specs import load_inputs

    state = torch.random.get_rng_state()
    first = load_inputs(f"{models_py}:batch", seed=3)
    assert torch.equal(first, load_inputs(f"{models_py}:batch", seed=3))
    assert not torch.equal(first, load_inputs(f"{models_py}:batch", seed=4))
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's RNG untouched
    assert load_inputs(f"{models_py}:array") is load_inputs(f"{models_py}:array")
