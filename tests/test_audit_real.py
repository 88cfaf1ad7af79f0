"""initcheck.audit on the models people actually use (issue 15): torchvision-style ResNets,
Hugging Face transformers from tiny configs, keras.applications with ``weights=None``,
torch's own TransformerEncoder, and defect variants of them (tests/zoo.py).

Every sound model passes under ``variance=None``, ``"auto"`` and its authors' own rule,
with no weight left unaudited; every defect fails under ``"auto"`` and the message names
the reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import zoo

import initcheck

torch = pytest.importorskip("torch")


def _torch_default(fan_in: int, fan_out: int) -> float:
    return 1.0 / (3.0 * fan_in)


#: torchvision's rule: kaiming_normal_(mode="fan_out") on convs; the fc keeps PyTorch's default.
TORCHVISION = {"Conv2d": "he_fan_out", "Linear": _torch_default}
#: nn.TransformerEncoder's own init: xavier_uniform_ on the packed in_proj, default elsewhere.
ENCODER = {
    "MultiheadAttention": lambda fi, fo: 2.0 / (4 * fi),
    "*": _torch_default,
}


def _hf(name: str) -> Any:
    return zoo.hf_rule(name)


#: name -> (factory, inputs or None, the authors' own rule, needs)
SOUND: dict[str, tuple[Callable[[], Any], Callable[[], Any] | None, Any, str]] = {
    "resnet18": (zoo.resnet18, zoo.resnet18_inputs, TORCHVISION, "torch"),
    "resnet18_zero_init": (
        lambda: zoo.resnet18(zero_init_residual=True),
        zoo.resnet18_inputs,
        TORCHVISION,
        "torch",
    ),
    "transformer_encoder": (
        zoo.transformer_encoder,
        zoo.transformer_encoder_inputs,
        ENCODER,
        "torch",
    ),
    "transformer_encoder_default_inputs": (zoo.transformer_encoder, None, ENCODER, "torch"),
    "bert": (zoo.bert, zoo.bert_inputs, "hf:bert", "transformers"),
    "gpt2": (zoo.gpt2, zoo.gpt2_inputs, "hf:gpt2", "transformers"),
    "vit": (zoo.vit, zoo.vit_inputs, "hf:vit", "transformers"),
    "llama": (zoo.llama, None, "hf:llama", "transformers"),
    "keras_resnet50": (zoo.keras_resnet50, None, "glorot", "keras"),
    "keras_mobilenet_v2": (zoo.keras_mobilenet_v2, None, "glorot", "keras"),
    "keras_convnext_tiny": (zoo.keras_convnext_tiny, None, "glorot", "keras"),
}
RULES = ("none", "auto", "authors")


def _needs(what: str) -> None:
    if what == "transformers":
        pytest.importorskip("transformers")


def _rule(kind: str, authors: Any) -> Any:
    if kind == "none":
        return None
    if kind == "auto":
        return "auto"
    if isinstance(authors, str) and authors.startswith("hf:"):
        return _hf(authors[3:])
    return authors


@pytest.mark.slow
@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("name", list(SOUND))
def test_sound_models_pass_with_every_weight_audited(name: str, rule: str) -> None:
    factory, inputs, authors, needs = SOUND[name]
    _needs(needs)
    report = initcheck.audit(
        factory, variance=_rule(rule, authors), inputs=inputs() if inputs else None
    )
    assert report.verdict == "passed", str(report)
    assert not report.unaudited
    cov = report.coverage
    assert cov["weights_audited"] == cov["weights"] > 0
    assert report.signal is not None and report.signal.passed
    assert report.signal.details["regime"] == "residual"  # measured on the stream


@pytest.mark.slow
def test_unnormalized_resnet_fails_on_the_streams_geometric_growth() -> None:
    report = initcheck.audit(
        lambda: zoo.resnet18(norm=False), variance="auto", inputs=zoo.resnet18_inputs()
    )
    assert report.verdict == "failed"
    sig = report.signal
    assert not sig.passed
    assert "grows geometrically" in sig.message and "per block" in sig.message
    assert sig.details["activation"]["per_block"] > 1.4


@pytest.mark.slow
def test_deep_plain_cnn_with_pytorch_default_fails_naming_the_layers_and_the_cause() -> None:
    report = initcheck.audit(
        zoo.plain_cnn_default, variance="auto", inputs=zoo.plain_cnn_default_inputs()
    )
    assert report.verdict == "failed"
    convs = [r for r in report.failed_rows if r.layer_type == "Conv2d"]
    assert len(convs) >= 7
    for row in convs:
        assert row["variance"].statistic == pytest.approx(1 / 6, rel=0.1)
        assert "PyTorch's default init" in row.diagnosis
    assert not report.signal.passed and "shrink" in report.signal.message


@pytest.mark.slow
@pytest.mark.parametrize(
    "factory",
    [
        pytest.param(zoo.vgg_glorot, id="torch-vgg"),
        pytest.param(zoo.keras_plain_cnn_glorot, id="keras-plain"),
    ],
)
def test_glorot_under_relu_without_bn_fails_naming_glorot(factory: Callable[[], Any]) -> None:
    report = initcheck.audit(factory, variance="auto")
    assert report.verdict == "failed"
    hidden = [r for r in report.failed_rows if r.role == "kernel"]
    assert hidden, str(report)
    assert all("Glorot" in r.diagnosis for r in hidden), [r.diagnosis for r in hidden]
    assert not report.signal.passed and "shrink" in report.signal.message


@pytest.mark.slow
def test_zero_init_residual_gamma_is_identity_at_init_not_a_failure() -> None:
    report = initcheck.audit(
        lambda: zoo.resnet18(zero_init_residual=True), inputs=zoo.resnet18_inputs()
    )
    zeros = [r for r in report.rows if r.name.endswith("bn2.weight")]
    assert len(zeros) == 8
    for row in zeros:
        assert row.passed and row.status == "identity-at-init"
        assert "Goyal" in row["constant"].message
    # γ of a norm outside a residual branch must still be 1: the stem's
    assert report.row("bn1.weight").status == ""


@pytest.mark.slow
def test_bn_resnet_kernels_are_scale_invariant_and_reported() -> None:
    report = initcheck.audit(zoo.resnet18, variance="auto", inputs=zoo.resnet18_inputs())
    row = report.row("layer2.0.conv1.weight")
    assert row.status == "scale-invariant" and "BatchNorm2d" in row.note
    var = row["variance"]
    # He at fan_out: Var ×1/2 of the forward target 2/fan_in (in/out = 1/2), which is the
    # backward target (He et al. 2015): within the range the measured ReLU gain admits
    assert var.passed and "backward" in var.message
    assert var.statistic == pytest.approx(0.5, rel=0.1)
    # an explicit rule for the layer type still decides
    strict = initcheck.audit(
        zoo.resnet18,
        variance={"Conv2d": "he", "Linear": _torch_default},
        inputs=zoo.resnet18_inputs(),
    )
    assert not strict.row("layer2.0.conv1.weight").passed


@pytest.mark.slow
def test_bert_fixed_std_is_the_transformer_convention_not_pytorch_default() -> None:
    pytest.importorskip("transformers")
    report = initcheck.audit(zoo.bert, variance="lecun", inputs=zoo.bert_inputs())
    row = report.row("encoder.layer.0.attention.self.query.weight")
    assert not row.passed  # an explicit rule decides
    assert "σ = 0.02" in row.diagnosis and "initializer_range" in row.diagnosis
    assert "PyTorch" not in row.diagnosis
    auto = initcheck.audit(zoo.bert, variance="auto", inputs=zoo.bert_inputs())
    assert any(r.status == "convention" for r in auto.rows), str(auto)
    pooler = auto.row("pooler.dense.weight")  # it produces pooler_output: a model output
    assert pooler.passed and pooler.status == "output head"


@pytest.mark.slow
def test_gpt2_conv1d_is_dense_in_out_and_c_attn_is_split() -> None:
    pytest.importorskip("transformers")
    report = initcheck.audit(zoo.gpt2, inputs=zoo.gpt2_inputs())
    rows = [r for r in report.rows if r.layer == "transformer.h.0.attn.c_attn"]
    assert [r.piece for r in rows if r.param == "weight"] == ["Q", "K", "V"]
    q = rows[0]
    assert q.layout == "keras" and q.fans == (zoo.HIDDEN, zoo.HIDDEN)
    assert not report.unaudited
    # the LM head is tied to the token embedding: audited once, under its first name
    assert not [r for r in report.rows if r.layer == "lm_head"]


@pytest.mark.slow
def test_convnext_layer_scale_is_identity_at_init() -> None:
    report = initcheck.audit(zoo.keras_convnext_tiny)
    scales = [r for r in report.rows if r.layer_type == "LayerScale"]
    assert scales and all(r.status == "identity-at-init" for r in scales)
    assert "Touvron" in scales[0]["constant"].message


def test_rezero_alpha_zero_is_identity_at_init() -> None:
    nn = torch.nn

    class ReZeroBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(16, 16)
            self.alpha = nn.Parameter(torch.zeros(1))

        def forward(self, x: Any) -> Any:
            return x + self.alpha * torch.relu(self.fc(x))

    def build() -> Any:
        return nn.Sequential(nn.Linear(8, 16), *[ReZeroBlock() for _ in range(4)])

    report = initcheck.audit(build)
    alphas = [r for r in report.rows if r.param == "alpha"]
    assert len(alphas) == 4
    assert all(r.status == "identity-at-init" and r.passed for r in alphas)
    assert "ReZero" in alphas[0]["constant"].message


def test_an_error_in_one_weight_is_an_error_row_and_the_rest_stands(monkeypatch) -> None:
    from initcheck.models import torch_layers

    def broken(site: Any) -> Any:
        return [site.piece("weight", "kernel", layout=None, fans=None, extract=_raise)]

    def _raise(_a: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setitem(torch_layers.BUILDERS, "Bilinear", broken)
    nn = torch.nn

    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(8, 8)
            self.b = nn.Bilinear(8, 8, 8)

        def forward(self, x: Any) -> Any:
            return self.b(self.a(x), x)

    report = initcheck.audit(Pair)
    err = report.row("b.weight")
    assert not err.passed and err["error"].message.startswith("auditing this weight raised")
    assert "boom" in err["error"].message
    assert report.row("a.weight").passed
    assert report.signal is not None


#: wide enough that one instance's gain through 6 layers is within a few % of its mean
#: (a 16-channel stack's varies by ×/÷1.5 from seed to seed)
WIDTH = 64


def _torch_cnn(init: str) -> Any:
    nn = torch.nn
    layers: list[Any] = []
    c = 3
    for _ in range(6):
        layers += [nn.Conv2d(c, WIDTH, 3, padding=1), nn.ReLU()]
        c = WIDTH
    model = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 10))
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if init == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return model


def _keras_cnn(init: str) -> Any:
    import keras

    name = "he_normal" if init == "he" else "glorot_uniform"
    layers: list[Any] = [keras.Input((32, 32, 3))]
    for _ in range(6):
        layers.append(
            keras.layers.Conv2D(
                WIDTH, 3, padding="same", activation="relu", kernel_initializer=name
            )
        )
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]
    return keras.Sequential(layers)


@pytest.mark.slow
@pytest.mark.parametrize("init", ["he", "glorot"])
def test_torch_and_keras_agree_on_the_same_cnn(init: str) -> None:
    images = zoo.plain_cnn_default_inputs(size=32)
    torch_report = initcheck.audit(lambda: _torch_cnn(init), variance="auto", inputs=images)
    keras_report = initcheck.audit(
        lambda: _keras_cnn(init),
        variance="auto",
        inputs=images.permute(0, 2, 3, 1).numpy(),
    )
    assert (
        torch_report.verdict == keras_report.verdict == ("passed" if init == "he" else "failed")
    ), f"{torch_report}\n{keras_report}"
    assert torch_report.signal.passed == keras_report.signal.passed
    t = [r["variance"].statistic for r in torch_report.rows if r.role == "kernel"][1:-1]
    k = [r["variance"].statistic for r in keras_report.rows if r.role == "kernel"][1:-1]
    assert all(math.isclose(a, b, rel_tol=0.1) for a, b in zip(t, k, strict=True))


@pytest.mark.slow
def test_the_cli_gives_the_same_verdicts_on_real_models(tmp_path) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    here = Path(__file__).parent / "zoo.py"
    for attr, inputs, verdict, code in (
        ("resnet18", "resnet18_inputs", "passed", 0),
        ("plain_cnn_default", "plain_cnn_default_inputs", "failed", 1),
    ):
        out = tmp_path / f"{attr}.json"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "initcheck",
                "audit",
                f"{here}:{attr}",
                "--variance",
                "auto",
                "--inputs",
                f"{here}:{inputs}",
                "--json",
                str(out),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert run.returncode == code, run.stderr[-2000:]
        data = json.loads(out.read_text())["payload"]
        assert data["verdict"] == verdict
        factory = getattr(zoo, attr)
        lib = initcheck.audit(factory, variance="auto", inputs=getattr(zoo, inputs)())
        assert [r["passed"] for r in data["rows"]] == [r.passed for r in lib.rows]
        assert data["signal"]["passed"] == lib.signal.passed


def test_the_signal_runs_with_dropout_off() -> None:
    nn = torch.nn

    def encoder(p: float) -> Any:
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=p, batch_first=True)
        return nn.TransformerEncoder(layer, num_layers=4, enable_nested_tensor=False)

    # same weights (dropout draws nothing at init): the same signal iff dropout is off
    with_dropout = initcheck.audit(lambda: encoder(0.5), checks=["symmetry"])
    without = initcheck.audit(lambda: encoder(0.0), checks=["symmetry"])
    assert with_dropout.signal.details["layers"] == without.signal.details["layers"]
