"""The audit on models written the way users write them (PyTorch): activations as modules,
functions and methods, user-written norm classes, residual adds in ``forward``, SDPA
attention, pooled and flattened heads. ``variance="auto"`` decides from what it measures
on the batch (a nonlinearity's gain, a norm's invariance, a merge), never from names.

The framework-free analysis itself is tested on hand-built graphs in
``tests/test_audit_graph.py``.
"""

from __future__ import annotations

import pytest

import initcheck

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional


def _init(model: nn.Module, how: str) -> nn.Module:
    """``how``: "he", "lecun", "glorot", "glorot-tanh-gain", "std1" (N(0, 1)), or
    "default" (PyTorch's own)."""
    for m in model.modules() if how != "default" else ():
        if isinstance(m, nn.Linear | nn.Conv2d):
            if how == "he":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif how == "lecun":
                nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
            elif how == "glorot":
                nn.init.xavier_normal_(m.weight)
            elif how == "glorot-tanh-gain":  # PyTorch's calculate_gain("tanh") = 5/3
                nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("tanh"))
            elif how == "std1":
                nn.init.normal_(m.weight, std=1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return model


class MLP(nn.Module):
    """8 hidden layers, the activation written as ``style``."""

    def __init__(self, style: str, how: str, width: int = 48) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(24 if i == 0 else width, width) for i in range(8)])
        self.act = nn.ReLU() if style == "module" else nn.Tanh() if style == "tanh-module" else None
        self.head = nn.Linear(width, 10)
        self.style = style
        _init(self, how)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
            if self.act is not None:
                x = self.act(x)
            elif self.style == "F.relu":
                x = F.relu(x)
            elif self.style == "torch.relu":
                x = torch.relu(x)
            elif self.style == "method":
                x = x.relu()
            elif self.style == "tanh":
                x = torch.tanh(x)
        return self.head(x)


class CNN(nn.Module):
    """8 ReLU convs (``F.relu``), max pooling, then a pooled or a flattened head."""

    def __init__(self, head: str, how: str) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(3 if i == 0 else 16, 16, 3, padding=1) for i in range(8)]
        )
        self.head_kind = head
        self.head = nn.Linear(16 if head == "gap" else 16 * 8 * 8, 10)
        _init(self, how)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, conv in enumerate(self.convs):
            x = F.relu(conv(x))
            if i in (3, 5):
                x = F.max_pool2d(x, 2)
        x = x.mean((2, 3)) if self.head_kind == "gap" else torch.flatten(x, 1)
        return self.head(x)


class RMSNorm(nn.Module):
    """A user's RMSNorm, written from ``rsqrt``: no library class, no name to match."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * self.scale


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = RMSNorm(d), RMSNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.up, self.down = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, 4, d // 4).transpose(1, 2) for z in self.qkv(self.norm1(x)).chunk(3, -1)
        )
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(a.transpose(1, 2).reshape(b, t, d))
        return x + self.down(F.gelu(self.up(self.norm2(x))))


class GPT(nn.Module):
    """A pre-norm transformer as nanoGPT-style code writes it, N(0, σ²) everywhere."""

    def __init__(self, std: float = 0.02, d: int = 32, layers: int = 4, vocab: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList([Block(d) for _ in range(layers)])
        self.norm = RMSNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=std)
                if getattr(m, "bias", None) is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.norm(x))


class ResMLP(nn.Module):
    """Residual adds written in ``forward``, no norm, no block modules."""

    def __init__(self, zero_branch: bool, d: int = 32, depth: int = 8) -> None:
        super().__init__()
        self.stem = nn.Linear(16, d)
        self.f1 = nn.ModuleList([nn.Linear(d, d) for _ in range(depth)])
        self.f2 = nn.ModuleList([nn.Linear(d, d) for _ in range(depth)])
        self.out = nn.Linear(d, 10)
        _init(self, "he")
        if zero_branch:  # SkipInit / Fixup's zero last layer: every block starts as identity
            for layer in self.f2:
                nn.init.zeros_(layer.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for a, b in zip(self.f1, self.f2, strict=True):
            x = x + b(F.relu(a(x)))
        return self.out(x)


def _batch(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def _failing(report: object) -> list[str]:
    return [r.name for r in report.rows if not r.passed]  # type: ignore[attr-defined]


@pytest.mark.parametrize("style", ["module", "F.relu", "torch.relu", "method"])
def test_he_under_relu_passes_however_the_activation_is_written(style: str) -> None:
    report = initcheck.audit(lambda: MLP(style, "he"), variance="auto", inputs=_batch(32, 24))
    assert report.verdict == "passed", str(report)
    row = report.row("layers.3.weight")
    assert "measured gain 0.5" in row.note and "He" in row.note, row.note


@pytest.mark.parametrize("style", ["module", "F.relu", "method"])
def test_lecun_under_relu_fails_naming_the_measured_gain(style: str) -> None:
    report = initcheck.audit(lambda: MLP(style, "lecun"), variance="auto", inputs=_batch(32, 24))
    assert report.verdict == "failed"
    failing = _failing(report)
    assert "layers.3.weight" in failing and "head.weight" not in failing
    var = report.row("layers.3.weight")["variance"]
    assert var.statistic == pytest.approx(0.5, rel=0.1)  # Var ×½ of 1/(½·fan_in)
    assert "measured gain 0.5" in report.row("layers.3.weight").note
    # the fix must not contradict the measurement (issue: "nonlinearity='linear'")
    assert 'nonlinearity="linear"' not in report.text()


@pytest.mark.parametrize(
    ("style", "how"),
    [("tanh", "glorot"), ("tanh-module", "glorot"), ("tanh", "glorot-tanh-gain")],
)
def test_glorot_under_tanh_passes(style: str, how: str) -> None:
    report = initcheck.audit(lambda: MLP(style, how), variance="auto", inputs=_batch(32, 24))
    assert report.verdict == "passed", str(report)
    assert "saturates" in report.signal.message or report.signal.details["regime"] == "plain"


def test_tanh_at_std_1_fails_on_its_exploding_gradients() -> None:
    # saturated: the forward signal is bounded, the gradient grows (the chaotic phase,
    # Poole et al. 2016), and no power law excuses growth
    report = initcheck.audit(lambda: MLP("tanh", "std1"), variance="auto", inputs=_batch(32, 24))
    assert report.verdict == "failed"
    assert not report.signal.passed and "gradients (backward) grow" in report.signal.message


@pytest.mark.parametrize("head", ["gap", "flatten"])
def test_relu_cnn_with_pooling_passes_with_he_and_fails_with_lecun(head: str) -> None:
    x = _batch(8, 3, 32, 32)
    sound = initcheck.audit(lambda: CNN(head, "he"), variance="auto", inputs=x)
    assert sound.verdict == "passed", str(sound)
    assert sound.signal.passed
    broken = initcheck.audit(lambda: CNN(head, "lecun"), variance="auto", inputs=x)
    assert broken.verdict == "failed"
    assert "convs.4.weight" in _failing(broken)


def test_user_written_norm_is_measured_as_a_norm() -> None:
    from initcheck.models.torch_model import TORCH

    trace = TORCH.trace(GPT(), torch.randint(0, 64, (2, 8)), seed=0)
    norm = trace.get("blocks.0.norm1")
    assert norm is not None and norm.kind == "RMSNorm" and norm.category == "norm"
    gelu = [c for c in trace.calls if c.kind == "gelu"]
    assert gelu and gelu[0].category == "activation" and gelu[0].gain is not None
    assert any(c.category == "merge" for c in trace.calls)


def test_pre_norm_transformer_with_sdpa_passes_at_0_02() -> None:
    report = initcheck.audit(GPT, variance="auto", inputs=torch.randint(0, 64, (4, 16)))
    assert report.verdict == "passed", str(report)


def test_attention_at_init_is_measured_and_a_saturated_softmax_fails() -> None:
    x = torch.randint(0, 64, (4, 16), generator=torch.Generator().manual_seed(0))
    sound = initcheck.audit(GPT, variance="auto", inputs=x).signal
    entropies = [e["normalized_entropy"] for e in sound.details["attention"]["entropy"]]
    assert len(entropies) == 4 and min(entropies) > 0.9  # SDPA, recomputed: near uniform
    saturated = initcheck.audit(lambda: GPT(std=1.0), variance="auto", inputs=x).signal
    assert not saturated.passed
    assert "attention at init" in saturated.message and "below the bound 0.3" in saturated.message
    assert "scaled_dot_product_attention" in saturated.message


def test_residual_adds_in_forward_are_the_stream() -> None:
    x = _batch(16, 16)
    grows = initcheck.audit(lambda: ResMLP(zero_branch=False), variance="auto", inputs=x)
    assert grows.verdict == "failed"
    assert not grows.signal.passed and "geometrically" in grows.signal.message
    identity = initcheck.audit(lambda: ResMLP(zero_branch=True), variance="auto", inputs=x)
    assert identity.signal.passed, str(identity)


class Blocks(nn.Module):
    """Alike block modules: ``Sequential(Linear, ReLU)`` chained, or residual branches
    ``Sequential(Linear, ReLU, Linear)`` added to the stream in this ``forward``."""

    def __init__(self, residual: bool, how: str, d: int = 32, depth: int = 8) -> None:
        super().__init__()
        self.residual = residual

        def block() -> nn.Module:
            if residual:
                return nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
            return nn.Sequential(nn.Linear(d, d), nn.ReLU())

        self.blocks = nn.ModuleList([block() for _ in range(depth)])
        self.out = nn.Linear(d, 10)
        _init(self, how)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = x + block(x) if self.residual else block(x)
        return self.out(x)


def test_alike_blocks_without_an_add_are_a_plain_chain_and_with_one_a_stream() -> None:
    x = _batch(64, 32)
    chain = initcheck.audit(lambda: Blocks(False, "he"), variance="auto", inputs=x)
    assert chain.signal.details["regime"] == "plain" and chain.signal.passed, str(chain)
    assert chain.verdict == "passed", str(chain)
    shrinks = initcheck.audit(lambda: Blocks(False, "lecun"), variance=None, inputs=x)
    assert not shrinks.signal.passed and "activations shrink" in shrinks.signal.message
    # the add in the parent's forward is the stream's point, not the branch's output
    grows = initcheck.audit(lambda: Blocks(True, "he"), variance="auto", inputs=x)
    assert grows.signal.details["regime"] == "residual", str(grows)
    assert all(":" in row["layer"] for row in grows.signal.details["layers"])
    assert not grows.signal.passed and "geometrically" in grows.signal.message


def test_a_new_activation_written_as_a_plain_function_needs_no_table_entry() -> None:
    def squareplus(x: torch.Tensor) -> torch.Tensor:  # in no table: (x + √(x²+4))/2
        return (x + torch.sqrt(x * x + 4)) / 2

    class Net(MLP):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = squareplus(layer(x)) - 1  # centred
            return self.head(x)

    from initcheck.models.torch_model import TORCH

    trace = TORCH.trace(Net("none", "he"), _batch(8, 24), seed=0)
    # the ops are recorded and measured one by one: the sqrt is a nonlinearity
    assert any(c.category == "activation" and c.gain is not None for c in trace.calls)


def test_inputs_as_a_tuple_of_positional_or_a_dict_of_keyword_inputs() -> None:
    class TwoInputs(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 64), nn.Linear(6, 64)
            self.c, self.head = nn.Linear(64, 64), nn.Linear(64, 2)
            _init(self, "he")

        def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            return self.head(F.relu(self.c(F.relu(self.a(x) + self.b(y)))))

    x, y = _batch(16, 4), _batch(16, 6)
    positional = initcheck.audit(TwoInputs, variance="auto", inputs=(x, y))
    keywords = initcheck.audit(TwoInputs, variance="auto", inputs={"x": x, "y": y})
    for report in (positional, keywords):
        assert report.signal is not None and report.signal.verdict == "pass", str(report)
        assert report.signal.details["source"] == "the given inputs"


@pytest.mark.parametrize(("style", "how"), [("F.relu", "he"), ("method", "he"), ("tanh", "glorot")])
def test_sound_inits_pass_with_no_rule_too(style: str, how: str) -> None:
    report = initcheck.audit(lambda: MLP(style, how), variance=None, inputs=_batch(32, 24))
    assert report.verdict == "passed", str(report)


@pytest.mark.parametrize("how", ["default", "lecun", "glorot", "std1"])
def test_relu_defects_fail_for_their_cause_and_the_fix_follows_the_measurement(how: str) -> None:
    auto = initcheck.audit(lambda: MLP("F.relu", how), variance="auto", inputs=_batch(32, 24))
    assert auto.verdict == "failed"
    assert {f"layers.{i}.weight" for i in range(1, 8)} <= set(_failing(auto))
    row = auto.row("layers.3.weight")
    assert "measured gain 0.5" in row.note and "Var = 2/fan_in" in row.note, row.note
    text = auto.text()
    assert 'nonlinearity="relu"' in text and 'nonlinearity="linear"' not in text, text
    # with no rule the signal names the defect: it shrinks (or grows) through depth
    plain = initcheck.audit(lambda: MLP("F.relu", how), variance=None, inputs=_batch(32, 24))
    assert plain.verdict == "failed" and not plain.signal.passed
    direction = "grow" if how == "std1" else "shrink"
    assert f"activations {direction}" in plain.signal.message, plain.signal.message


class LayerNorm(nn.Module):
    """A user's LayerNorm class over ``F.layer_norm``: measured as a norm, not named."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.w, self.b = nn.Parameter(torch.ones(d)), nn.Parameter(torch.zeros(d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, x.shape[-1:], self.w, self.b)


class NormedMLP(nn.Module):
    def __init__(self, std: float, d: int = 32) -> None:
        super().__init__()
        self.fc = nn.ModuleList([nn.Linear(16 if i == 0 else d, d) for i in range(6)])
        self.norms = nn.ModuleList([LayerNorm(d) for _ in range(6)])
        self.head = nn.Linear(d, 4)
        for m in self.fc:
            nn.init.normal_(m.weight, std=std)
        nn.init.kaiming_normal_(self.head.weight, nonlinearity="linear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for fc, norm in zip(self.fc, self.norms, strict=True):
            x = F.relu(norm(fc(x)))
        return self.head(x)


def test_a_kernel_before_a_user_written_layer_norm_is_scale_invariant() -> None:
    report = initcheck.audit(lambda: NormedMLP(std=1.0), variance="auto", inputs=_batch(16, 16))
    assert report.verdict == "passed", str(report)
    assert report.row("fc.2.weight").status == "scale-invariant"
    assert "LayerNorm" in report.row("fc.2.weight").note  # the name explains, after measuring


#: VGG-16's layout ("D") in units of the width; "M" is a 2×2 max-pool module.
VGG16 = (1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M")


def _vgg16(how: str, width: int = 4) -> nn.Module:
    """VGG-16 as torchvision writes it (no BN; nn.ReLU(inplace=True), nn.MaxPool2d,
    AdaptiveAvgPool2d, Flatten, Dropout), at a tiny width."""
    layers: list[nn.Module] = []
    c = 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, int(v) * width, 3, padding=1), nn.ReLU(inplace=True)]
            c = int(v) * width
    head = [nn.Linear(c, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 64), nn.ReLU(True)]
    model = nn.Sequential(
        nn.Sequential(*layers),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Sequential(*head, nn.Dropout(), nn.Linear(64, 10)),
    )
    return _init(model, how)


def test_vgg16_without_bn_gets_signal_points_through_max_pooling() -> None:
    x = _batch(4, 3, 32, 32)
    sound = initcheck.audit(lambda: _vgg16("he"), variance="auto", inputs=x)
    assert sound.signal.passed and sound.verdict == "passed", str(sound)
    assert len(sound.signal.details["layers"]) == 15  # 13 convs and 2 hidden Linears
    broken = initcheck.audit(lambda: _vgg16("glorot"), variance=None, inputs=x)
    assert not broken.signal.passed and "activations shrink" in broken.signal.message


def test_a_kernel_with_no_measured_gain_is_inconclusive_under_auto_never_passed() -> None:
    class Broken(MLP):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("this forward does not run")

    report = initcheck.audit(lambda: Broken("F.relu", "he"), variance="auto", inputs=_batch(8, 24))
    row = report.row("layers.3.weight")
    assert row.verdict == "inconclusive" and "measured no gain" in row["variance"].message
    assert report.verdict == "inconclusive", str(report)
    # an explicit rule needs no measurement: the row is decided
    assert (
        initcheck.audit(lambda: Broken("F.relu", "he"), variance="he", inputs=_batch(8, 24))
        .row("layers.3.weight")
        .passed
    )


def test_a_projection_l2_normalized_in_forward_is_scale_invariant() -> None:
    class Contrastive(nn.Module):  # CLIP-style: x / x.norm(), written in forward
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(32, 32)
            self.proj = nn.Linear(32, 16, bias=False)
            nn.init.kaiming_normal_(self.body.weight, nonlinearity="relu")
            nn.init.normal_(self.proj.weight, std=1.0)  # any scale: the norm removes it

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            z = self.proj(F.relu(self.body(x)))
            return z / z.norm(dim=-1, keepdim=True)

    report = initcheck.audit(Contrastive, variance="auto", inputs=_batch(32, 32))
    row = report.row("proj.weight")
    assert row.passed and row.status == "scale-invariant", row
