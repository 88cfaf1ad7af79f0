"""Findings first, the fix in the model's framework, verified (issue 20): the 7-layer ReLU
MLP with its framework's default init, audited under He, in torch, Keras and Flax NNX.
Each: the default text is at most 15 lines with one failing finding naming the 7 weights
(6 in Keras: its output Dense's Glorot is within He's tolerance at 256 → 10), the cause
and the framework's fix; the printed fix applied by hand and via ``report.fixed`` makes
the audit pass; findings and fixes are in the JSON."""

from __future__ import annotations

import json
import math
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

import initcheck
from initcheck.models import ModelReport
from initcheck.models.weightrow import Status


def printed_fix(text: str, framework: str) -> str:
    """The code under ``fix (FRAMEWORK)…:`` in a report's text, dedented."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"    fix ({framework})"))
    code = []
    for line in lines[start + 1 :]:
        if not line.startswith("      "):
            break
        code.append(line)
    return textwrap.dedent("\n".join(code))


def check_text_and_json(report: ModelReport, framework: str, n: int, cause: str) -> str:
    text = str(report)
    lines = text.splitlines()
    assert len(lines) <= 15, text
    failing = [f for f in report.findings if f.kind == "fail"]
    assert len(failing) == 1, text
    (finding,) = failing
    weights = [r.name for r in report.rows if r.role == "kernel" and not r.passed]
    assert finding.rows == tuple(weights) and len(weights) == n
    line = next(line for line in lines if line.startswith("  FAIL:"))
    assert all(w in line for w in weights) and cause in line, line
    assert finding.fix is not None and finding.fix.framework == framework
    # one line per failing weight, the passing ones counted
    assert sum(1 for line in lines if re.match(r"  \S+\s+\S+\s+\d", line)) == n, text
    assert f"{len(report.rows) - n} weights passed" in text
    data = json.loads(json.dumps(report.to_dict()))
    (fd,) = [f for f in data["findings"] if f["kind"] == "fail"]
    assert fd["rows"] == weights and fd["fix"]["code"] == finding.fix.code
    assert fd["count"] == n and fd["ratio"][0] <= fd["ratio"][1]
    return printed_fix(text, framework)


def check_fixed(report: ModelReport, factory: Any) -> None:
    after = initcheck.fix(report, factory)
    assert after.after_fix is not None and after.after_fix.passed, str(after.after_fix)
    assert "after the suggested fix: passes" in str(after)
    again = ModelReport.from_dict(json.loads(json.dumps(after.to_dict())))
    assert again.after_fix is not None and again.after_fix.passed
    # fix(report, model) is a function, and a report read back from JSON (plain data, no
    # function of its own) is fixed the same way, from its recorded settings
    read_back = ModelReport.from_dict(json.loads(json.dumps(report.to_dict())))
    refixed = initcheck.models.fix(read_back, factory).after_fix
    assert refixed is not None and refixed.passed, str(refixed)


def test_torch_mlp_default_init_one_finding_and_its_fix_passes() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def build() -> Any:
        layers: list[Any] = []
        for i in range(7):
            layers.append(nn.Linear(256, 256 if i < 6 else 10))
            if i < 6:
                layers.append(nn.ReLU())
        return nn.Sequential(*layers)

    report = initcheck.audit(build, variance="he")
    code = check_text_and_json(report, "torch", 7, "PyTorch's default init")
    assert 'nn.init.kaiming_normal_(model.get_submodule(name).weight, nonlinearity="relu")' in code

    def by_hand() -> Any:
        model = build()
        exec(code, {"model": model, "nn": nn})
        return model

    assert initcheck.audit(by_hand, variance="he").passed
    check_fixed(report, build)


def test_torch_fix_reads_transposed_fans_and_packed_slices() -> None:
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def deconv() -> Any:
        return nn.ConvTranspose2d(64, 16, 3)

    report = initcheck.audit(deconv, variance="he", signal=False)
    (finding,) = [f for f in report.findings if f.kind == "fail"]
    assert 'mode="fan_out"' in finding.fix.code
    assert initcheck.fix(report, deconv).after_fix.passed

    def attention() -> Any:
        return nn.MultiheadAttention(64, 4)

    report = initcheck.audit(attention, variance="he", signal=False)
    (finding,) = [f for f in report.findings if f.kind == "fail" and f.param == "in_proj_weight"]
    assert finding.rows == tuple(f"in_proj_weight[{q}]" for q in "QKV")
    assert "in_proj_weight.data.chunk(3)[i]" in finding.fix.code
    assert initcheck.fix(report, attention).after_fix.passed


def test_keras_mlp_default_init_one_finding_and_its_fix_passes() -> None:
    keras = pytest.importorskip("keras")

    def build(kernel_initializer: str = "glorot_uniform") -> Any:
        # named layers: auto-names would be numbered on from other tests' in this process
        layers: list[Any] = [keras.Input((256,))]
        for i in range(7):
            relu = "relu" if i < 6 else None
            units = 256 if i < 6 else 10
            layers.append(
                keras.layers.Dense(
                    units, activation=relu, kernel_initializer=kernel_initializer, name=f"fc{i}"
                )
            )
        return keras.Sequential(layers, name="mlp")

    report = initcheck.audit(build, variance="he")
    code = check_text_and_json(report, "keras", 6, "GlorotUniform")
    assert 'kernel_initializer="he_normal"' in report.findings[0].fix.hint
    # by hand: the constructor argument the hint names, and the printed code on a built model
    assert initcheck.audit(lambda: build("he_normal"), variance="he").passed

    def by_hand() -> Any:
        model = build()
        printed = [r.layer for r in report.rows if r.role == "kernel"]  # the first build's
        renamed = dict(zip(printed, model.layers, strict=True))
        exec(code, {"model": _Named(renamed), "keras": keras})
        return model

    assert initcheck.audit(by_hand, variance="he").passed
    check_fixed(report, build)


def test_keras_fix_reads_the_transposed_and_depthwise_fans() -> None:
    keras = pytest.importorskip("keras")

    # named layers: an auto-named one would shift other tests' "conv2d_transpose" names
    def deconv() -> Any:
        layer = keras.layers.Conv2DTranspose(32, 3, name="up")
        return keras.Sequential([keras.Input((8, 8, 16)), layer], name="deconv")

    def depthwise() -> Any:
        layer = keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="dw")
        return keras.Sequential([keras.Input((8, 8, 16)), layer], name="depthwise")

    for factory, code in (
        (deconv, 'VarianceScaling(scale=2.0, mode="fan_out")'),  # Keras reads them swapped
        (depthwise, "layer.depthwise_initializer = keras.initializers.VarianceScaling("),
    ):
        report = initcheck.audit(factory, variance="he", signal=False)
        (finding,) = [f for f in report.findings if f.kind == "fail"]
        assert code in finding.fix.code, finding.fix.code
        assert initcheck.fix(report, factory).after_fix.passed


class _Named:
    """``get_layer`` by the names the first build printed (Keras numbers auto-named
    layers per process, so each rebuild's ``dense`` has a new number)."""

    def __init__(self, layers: dict[str, Any]) -> None:
        self.layers = layers

    def get_layer(self, name: str) -> Any:
        return self.layers[name]


def test_flax_mlp_default_init_one_finding_and_its_fix_passes() -> None:
    nnx = pytest.importorskip("flax.nnx")

    def factory(kernel_init: Any = None) -> Any:
        def build(rngs: Any) -> Any:
            kw = {} if kernel_init is None else {"kernel_init": kernel_init}
            layers: list[Any] = []
            for i in range(7):
                layers.append(nnx.Linear(256, 256 if i < 6 else 10, rngs=rngs, **kw))
                if i < 6:
                    layers.append(nnx.relu)
            return nnx.Sequential(*layers)

        return build

    report = initcheck.audit(factory(), variance="he")
    code = check_text_and_json(report, "flax", 7, "LeCun")
    assert "kernel_init=nnx.initializers.he_normal()" in report.findings[0].fix.hint
    assert initcheck.audit(factory(nnx.initializers.he_normal()), variance="he").passed

    def by_hand(rngs: Any) -> Any:
        model = factory()(rngs)
        exec(code, {"model": model, "nnx": nnx, "rngs": rngs})
        return model

    assert initcheck.audit(by_hand, variance="he").passed
    check_fixed(report, factory())


MODELS = """
from torch import nn

def default_mlp():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, 64))
"""


def test_cli_verbose_fix_preview_and_json(tmp_path: Path, capsys: Any) -> None:
    pytest.importorskip("torch")
    from initcheck.cli import main

    models = tmp_path / "models.py"
    models.write_text(MODELS)
    spec = f"{models}:default_mlp"
    out_json = tmp_path / "a.json"
    assert main(["audit", spec, "--variance", "he", "--json", str(out_json)]) == 1
    short = capsys.readouterr().out
    assert "nn.init.kaiming_normal_" in short and "after the suggested fix" not in short
    assert "3 weights passed" in short and "0.bias" not in short
    data = json.loads(out_json.read_text())["payload"]
    assert data["findings"][0]["fix"]["framework"] == "torch"
    assert main(["audit", spec, "--variance", "he", "--verbose", "--fix-preview"]) == 1
    full = capsys.readouterr().out
    assert "after the suggested fix: passes" in full
    assert "0.bias" in full and "Var(W) = " in full  # every row, and the full messages


def test_undecided_rows_are_their_own_finding_without_a_fix() -> None:
    from initcheck.models import WeightRow
    from initcheck.models.findings import findings_of
    from initcheck.results import CheckResult

    def row(layer: str, verdict: str) -> WeightRow:
        result = CheckResult(
            check="centering", initializer=layer, verdict=verdict, message=f"{verdict}: few values"
        )
        return WeightRow(
            layer, "weight", "", "Linear", "kernel", (10, 4), "", (4, 10), None, (result,)
        )

    rows = [row("a", "inconclusive"), row("b", "inconclusive"), row("c", "pass")]
    (finding,) = findings_of(rows)
    assert finding.kind == "inconclusive" and finding.rows == ("a.weight", "b.weight")
    assert finding.fix is None and finding.line().startswith("INCONCLUSIVE: 2 Linear weights")


def test_a_subsampled_weight_says_how_many_values_it_has() -> None:
    """A large kernel is checked on its first units; its line says the weight is larger
    than the shape checked."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def build() -> Any:
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))

    report = initcheck.audit(build, variance="he", signal=False)
    row = report.row("0.weight")
    assert row.size == 784 * 256 > math.prod(row.shape), row.shape
    line = next(line for line in str(report).splitlines() if line.startswith("  0.weight "))
    assert "×784 (of 200,704 values)" in line, line
    small = next(line for line in str(report).splitlines() if line.startswith("  2.weight "))
    assert "(of" not in small, small


def test_a_report_is_plain_data_and_its_findings_group_on_row_fields() -> None:
    """A ModelReport round-trips through JSON unchanged (rows, findings, signal,
    settings), holds no function, and its findings group on the rows' fields: rows whose
    explanations differ only in their numbers are one finding with the general cause."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def build() -> Any:
        return nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))

    report = initcheck.audit(build, variance="he")
    back = ModelReport.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back == report
    assert not any(callable(v) for v in vars(report).values())
    (finding,) = [f for f in report.findings if f.kind == "fail"]
    rows = [report.row(name) for name in finding.rows]
    assert len(rows) == 2 and {r.fans for r in rows} == {(64, 128), (128, 10)}
    assert {r.explanation.family for r in rows if r.explanation} == {
        rows[0].explanation.family if rows[0].explanation else ""
    }
    assert rows[0].explanation is not None and rows[0].explanation.text != rows[1].explanation.text
    assert finding.cause == f"variance too small, consistent with {rows[0].explanation.general}"
    for r in rows:
        assert r.rule == "2/fan_in" and r.status is Status.NONE
        assert r.target_variance == pytest.approx(2 / r.fans[0])
        assert r.ratio is not None and r.interval is not None and r.interval[0] < r.ratio
        assert r.init_fans == r.fans  # what nn.init reads from a Linear weight
    assert Status("accepted") is Status.ACCEPTED and f"{Status.ACCEPTED}" == "accepted"


def test_a_fix_whose_re_audit_does_not_improve_is_not_offered() -> None:
    """A rule the measurement contradicts (LeCun held to a deep He-initialized ReLU net):
    its fix makes the rows pass and the signal fail, so fix() withdraws it, saying why."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def build() -> Any:
        layers: list[Any] = []
        for _ in range(10):
            linear = nn.Linear(128, 128)
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            layers += [linear, nn.ReLU()]
        return nn.Sequential(*layers, nn.Linear(128, 10))

    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(build, variance="lecun", inputs=x)
    assert report.signal is not None and report.signal.passed
    assert any(f.fix for f in report.findings)  # offered from the rule held
    after = initcheck.fix(report, build, inputs=x)
    assert after.after_fix is not None and not after.after_fix.signal.passed
    assert not any(f.fix for f in after.findings)
    assert "not offered: its re-audit does not improve what failed" in str(after)
