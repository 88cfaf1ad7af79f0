"""initcheck.audit on PyTorch models: acceptance cases (a), (b), (c) of issue 12."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

import initcheck  # noqa: E402
from initcheck.errors import InitCheckFailure  # noqa: E402


def relu_mlp(blocks: int = 6, width: int = 512, he: bool = False) -> nn.Module:
    layers: list[nn.Module] = []
    d = 784
    for _ in range(blocks):
        layers += [nn.Linear(d, width), nn.ReLU()]
        d = width
    model = nn.Sequential(*layers)
    if he:
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
    return model


def test_default_relu_mlp_fails_every_linear_at_a_sixth_of_he():
    report = initcheck.audit(relu_mlp, variance="he")
    weights = [r for r in report.rows if r.param == "weight"]
    assert len(weights) == 6
    for row in weights:
        var = row["variance"]
        assert not var.passed
        assert var.statistic == pytest.approx(1 / 6, rel=0.05)
        assert "1/(3·fan_in)" in row.diagnosis and "×0.167" in row.diagnosis
    assert not report.signal.passed
    assert "shrink" in report.signal.message
    assert report.signal.details["gradient_ratio"] < 0.5
    assert not report.passed


def test_he_relu_mlp_passes_factory_and_instance():
    report = initcheck.audit(lambda: relu_mlp(he=True), variance="he")
    assert report.passed, str(report)
    # an instance whose weights were set after construction is audited from its own values
    inst = initcheck.audit(relu_mlp(he=True), variance="he")
    assert inst.passed, str(inst)
    assert "instance's own values" in inst.row("0.weight").note


def test_assert_sound_model_raises_with_rows():
    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_sound_model(lambda: relu_mlp(blocks=4, width=64), variance="he")
    assert "0.weight" in str(info.value)


def test_default_relu_stack_of_depth_4_fails_the_signal_without_a_target():
    report = initcheck.audit(lambda: relu_mlp(blocks=4, width=256))
    assert not report.signal.passed
    assert all(r.target is None for r in report.rows)


def test_conv_transpose_default_names_the_swapped_fan():
    report = initcheck.audit(lambda: nn.ConvTranspose2d(64, 16, 3), variance="he", signal=False)
    row = report.row("weight")
    assert not row["variance"].passed
    assert "swapped" in row.diagnosis
    assert row.fans == (576, 144)


def test_multihead_attention_qkv_each_half_of_glorot():
    report = initcheck.audit(lambda: nn.MultiheadAttention(64, 4), variance="glorot", signal=False)
    for q in "QKV":
        row = report.row(f"in_proj_weight[{q}]")
        assert row.fans == (64, 64)
        assert row["variance"].statistic == pytest.approx(0.5, rel=0.08)
        assert "packed (3E, E)" in row.diagnosis
    assert report.row("in_proj_bias")["constant"].passed


def test_lstm_gates_and_unknown_layer():
    class Odd(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(4, 4))

    report = initcheck.audit(lambda: nn.Sequential(Odd(), nn.Linear(4, 4)), signal=False)
    # Odd has no forward, so the pass fails and no use of its parameter is seen
    assert report.row("0.w").note.startswith("not audited (no traced pass")
    lstm = initcheck.audit(lambda: nn.LSTM(16, 32), variance="glorot", signal=False)
    gates = [r for r in lstm.rows if r.param == "weight_ih_l0"]
    assert [r.piece for r in gates] == ["gate i", "gate f", "gate g", "gate o"]
    assert all(r.fans == (16, 32) for r in gates)


def resnet18_sized() -> nn.Module:
    """The model benchmarks/bench_audit.py times (one definition for both)."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_audit.py"
    spec = importlib.util.spec_from_file_location("bench_audit", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.resnet18_sized()


@pytest.mark.slow
def test_resnet18_sized_audit_has_a_row_per_parameter():
    """The benchmark's 11 M-parameter model audits end to end (its time: bench_audit.py)."""
    model = resnet18_sized()
    assert 10e6 < sum(p.numel() for p in model.parameters()) < 13e6
    report = initcheck.audit(model, variance="he", inputs=torch.randn(4, 3, 64, 64))
    assert len(report.rows) == sum(1 for _ in model.parameters())


def test_the_signal_of_a_factory_is_the_same_in_every_run():
    """The instance the signal runs through is built under the audit's seed."""

    def model():
        return relu_mlp(blocks=3, width=64)

    torch.manual_seed(1)
    first = initcheck.audit(model, checks=["centering"]).signal
    torch.manual_seed(2)  # the caller's RNG state does not matter
    second = initcheck.audit(model, checks=["centering"]).signal
    assert first.to_dict() == second.to_dict()


def test_a_model_reports_repr_is_one_short_line():
    """An assertion on ``report.passed`` shows the repr: the verdict and the failing
    weights in one line, not every row's results."""
    report = initcheck.audit(lambda: relu_mlp(blocks=3, width=64), variance="he")
    text = repr(report)
    assert "\n" not in text
    assert len(text) <= 300
    assert text.startswith("ModelReport(model='Sequential', framework='torch', verdict='failed'")
    assert "'0.weight'" in text


def test_two_kernels_at_two_widths_are_not_a_fixed_sigma_law():
    """Issue 29 item 7: He at width 256 and LeCun at width 128 share σ = 0.0884, but two
    widths are not a law; the LeCun kernel is diagnosed as LeCun, not a fixed σ."""

    def build() -> nn.Module:
        m = nn.Sequential(
            nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10)
        )
        nn.init.kaiming_normal_(m[0].weight, nonlinearity="relu")
        nn.init.normal_(m[2].weight, std=(1 / 128) ** 0.5)
        nn.init.kaiming_normal_(m[4].weight, nonlinearity="relu")
        return m

    report = initcheck.audit(build, variance="he", signal=False)
    row = report.row("2.weight")
    assert not row.passed
    assert "LeCun" in row.diagnosis and "fixed std" not in row.diagnosis, row.diagnosis


def test_grouped_conv_kaiming_fan_out_names_torchs_grouped_fan_out():
    """PyTorch's init functions read a grouped conv's fan_out as out·k (the groups not
    divided out): a depthwise conv under kaiming_normal_(mode="fan_out"), as torchvision's
    MobileNet/EfficientNet initialize it, is ×1/groups of 2/fan_out, and the diagnosis
    names that reading (issue 26 item 2)."""
    import torch.nn as tnn

    def build() -> tnn.Module:
        model = tnn.Sequential(
            tnn.Conv2d(3, 32, 3, padding=1),
            tnn.ReLU(),
            tnn.Conv2d(32, 32, 3, padding=1, groups=32),
            tnn.ReLU(),
        )
        for m in model:
            if isinstance(m, tnn.Conv2d):
                tnn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        return model

    row = initcheck.audit(build, variance="he_fan_out", signal=False).row("2.weight")
    assert row.fans == (9, 9)
    assert row["variance"].statistic == pytest.approx(1 / 32, rel=0.15)
    assert "grouped convolution" in row.diagnosis and "fan_out=288" in row.diagnosis


class WrongAxes(nn.Module):
    """A video model whose forward permutes (B, T, C, H, W) to (B, C, T, H, W): a
    (B, C, D, H, W) batch fails at every size, for a reason no size decides."""

    def __init__(self) -> None:
        super().__init__()
        self.patch = nn.Conv3d(3, 8, (2, 4, 4), stride=(2, 4, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.patch(x.permute(0, 2, 1, 3, 4))


def test_a_volume_model_that_runs_at_no_size_gets_the_smallest_default_batch() -> None:
    """Not 8 × 3 × 224³ values (1 GB) for a batch that fails anyway (VJEPA2 took 10 s)."""
    from initcheck.models.torch_batch import IMAGE_SIZES, module_batch

    assert tuple(module_batch(WrongAxes(), 0).shape) == (8, 3, *[IMAGE_SIZES[0]] * 3)
    report = initcheck.audit(WrongAxes, variance=None)
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "could not build a batch" in report.signal.message
