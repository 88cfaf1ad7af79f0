"""Measured, not named (issue 26): a normalization is the module whose traced output
does not change when its input is scaled, whatever its class is called, and its gain is
the parameter it multiplies in; attention is a softmax over scores that are a product of
two signals (q·kᵀ), so a router's softmax over experts is not judged as attention."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

import initcheck  # noqa: E402
from initcheck.models.torch_model import TORCH  # noqa: E402


class Standardize(nn.Module):
    """A user's batch norm + ReLU in one class, named like no norm (timm's BatchNormAct
    style): per-channel gain and shift, ``F.batch_norm`` inside."""

    def __init__(self, c: int, gain: float = 1.0) -> None:
        super().__init__()
        self.g = nn.Parameter(torch.full((c,), gain))
        self.b = nn.Parameter(torch.zeros(c))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(x, None, None, training=True)
        return F.relu(x * self.g[:, None, None] + self.b[:, None, None])


class Net(nn.Module):
    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(3, 16, 3, padding=1), Standardize(16, gain)
        self.c2, self.n2 = nn.Conv2d(16, 16, 3, padding=1), Standardize(16, gain)
        self.head = nn.Linear(16, 10)
        for m in (self.c1, self.c2):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.n2(self.c2(self.n1(self.c1(x))))
        return self.head(x.mean((2, 3)))


def test_a_norm_class_with_no_norm_name_is_measured_as_a_norm() -> None:
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    trace = TORCH.trace(Net(), x, seed=0)
    call = trace.get("n1")
    assert call is not None and call.role == "norm"  # measured: scaling x changes nothing
    sound = initcheck.audit(Net, variance="auto", inputs=x)
    gain, shift = sound.row("n1.g"), sound.row("n1.b")
    assert gain.role == "constant" and "= 1" in gain.results[0].message, gain.describe()
    assert shift.role == "constant" and "= 0" in shift.results[0].message, shift.describe()
    assert sound.row("c1.weight").status == "scale-invariant"
    assert sound.verdict != "failed", str(sound)


def test_a_norm_gain_off_one_fails_naming_the_value_and_the_target() -> None:
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(lambda: Net(gain=0.5), variance="auto", inputs=x)
    row = report.row("n1.g")
    assert not row.passed
    message = row.failures[0].message
    assert "expected every value = 1" in message and "0.5" in message, message


class Router(nn.Module):
    """A mixture-of-experts router: a softmax over experts of a layer's outputs."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.router = nn.Linear(32, 8, bias=False)
        self.expert = nn.Linear(32, 32)
        nn.init.normal_(self.router.weight, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = F.softmax(self.router(x), dim=-1)
        return self.expert(x) * p.max(-1, keepdim=True).values


class Attention(nn.Module):
    """Attention written out: softmax(q·kᵀ/√d) over keys."""

    def __init__(self, std: float) -> None:
        super().__init__()
        self.q, self.k = nn.Linear(32, 32), nn.Linear(32, 32)
        for m in (self.q, self.k):
            nn.init.normal_(m.weight, std=std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.q(x) @ self.k(x).transpose(-2, -1) / 32**0.5
        return F.softmax(scores, dim=-1) @ x


def test_a_routers_softmax_is_not_attention_and_scores_softmax_is() -> None:
    x = torch.randn(4, 12, 32, generator=torch.Generator().manual_seed(0))
    assert TORCH.trace(Router(std=1.0), x, seed=0).attention == []
    saturated = TORCH.trace(Attention(std=1.0), x, seed=0).attention
    uniform = TORCH.trace(Attention(std=0.02), x, seed=0).attention
    assert len(saturated) == 1 and len(uniform) == 1
    assert saturated[0][1] < 0.3 < 0.9 < uniform[0][1], (saturated, uniform)


class Upsampler(nn.Module):
    """A sub-pixel upsampler drawn as nearest-neighbour upsampling (Nemotron's): a repeated
    identity on the centre tap, so its units come in identical groups, each feeding its
    own output frame after the reshape."""

    def __init__(self, d: int = 16, factor: int = 4, repeat: bool = True) -> None:
        super().__init__()
        self.inp = nn.Linear(d, d)
        self.conv = nn.Conv1d(d, d * factor, 3, padding=1)
        self.factor, self.repeat = factor, repeat
        with torch.no_grad():
            w = torch.zeros_like(self.conv.weight)
            w[:, :, 1] = torch.eye(d).repeat(factor, 1)
            self.conv.weight.copy_(w)
            self.conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.conv(self.inp(x).transpose(1, 2)).transpose(1, 2)
        if self.repeat:  # each copy to its own frame: their gradients differ
            return h.reshape(b, t * self.factor, d)
        return h.reshape(b, t, self.factor, d).mean(2)  # copies summed: same gradient


def test_identical_units_that_learn_apart_are_a_deliberate_init() -> None:
    x = torch.randn(4, 6, 16, generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(Upsampler, inputs=x, signal=False)
    row = report.row("conv.weight")
    assert row.passed and row.status == "learns-apart", row.describe()
    symmetry = row["symmetry"]
    assert symmetry.details["deferred"] == "learns-apart" and "identical units" in symmetry.message
    averaged = initcheck.audit(lambda: Upsampler(repeat=False), inputs=x, signal=False)
    assert not averaged.row("conv.weight").passed  # the same gradient: they stay identical
    unreached = initcheck.audit(Upsampler, signal=False)  # no batch: nothing measured
    assert unreached.row("conv.weight").verdict == "inconclusive"


class NormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d style: a batch norm whose output is its own activation
    module's (an identity where the block ends)."""

    def __init__(self, c: int, act: bool = True) -> None:
        super().__init__(c)
        self.drop = nn.Identity()
        self.act = nn.ReLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, True)
        return self.act(self.drop(x))


class ZeroLastBlock(nn.Module):
    """A residual block whose last γ is zero (zero-init-last, Goyal et al. 2017), the add
    in its forward."""

    def __init__(self, c: int, project: bool = False) -> None:
        super().__init__()
        self.c1, self.n1 = nn.Conv2d(c, c, 3, padding=1, bias=False), NormAct(c)
        self.c2, self.n2 = nn.Conv2d(c, c, 3, padding=1, bias=False), NormAct(c, act=False)
        nn.init.zeros_(self.n2.weight)
        self.drop_path = nn.Identity()
        projection = nn.Sequential(nn.Conv2d(c, c, 1, bias=False), NormAct(c, act=False))
        self.shortcut = projection if project else nn.Identity()  # timm's RegNet
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.n2(self.c2(self.n1(self.c1(x))))
        return self.act(self.drop_path(y) + self.shortcut(x))


class Stage(nn.Module):
    """timm's RegStage: blocks as attributes ``b1``, ``b2`` (no container)."""

    def __init__(self, c: int, depth: int) -> None:
        super().__init__()
        for i in range(depth):
            self.add_module(f"b{i + 1}", ZeroLastBlock(c, project=i == 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            x = block(x)
        return x


class ZeroLastNet(nn.Module):
    """Stages of blocks written as timm's RegNet is: no stack of alike modules in a
    container, so the blocks' merges are the stream's points."""

    def __init__(self) -> None:
        super().__init__()
        self.stem, self.n0 = nn.Conv2d(3, 16, 3, padding=1, bias=False), NormAct(16)
        self.s1, self.s2 = Stage(16, 2), Stage(16, 2)
        self.head = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.s2(self.s1(self.n0(self.stem(x)))).mean((2, 3)))


def test_a_zero_gamma_closing_a_branch_through_its_own_activation_is_identity_at_init() -> None:
    report = initcheck.audit(ZeroLastNet, inputs=torch.randn(8, 3, 16, 16))
    for block in ("s1.b1", "s1.b2", "s2.b1", "s2.b2"):
        assert report.row(f"{block}.n2.weight").status == "identity-at-init", str(report)
    assert report.row("n0.weight").status == ""  # γ outside the branches: still 1
    assert report.passed, str(report)


class SpeechAndText(nn.Module):
    """A text model with a weight-normed audio encoder a text batch never runs (a
    multimodal model's tower): its g (per-unit norms, all positive) and v are read from
    their shapes, as tables, with no use to say what they are."""

    def __init__(self) -> None:
        super().__init__()
        self.text = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 32))
        wn = nn.utils.parametrizations.weight_norm
        self.audio = nn.Sequential(wn(nn.Conv1d(8, 256, 3)), nn.ReLU(), wn(nn.Conv1d(256, 8, 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.text(x)


def test_a_parameter_the_pass_never_used_is_checked_only_for_what_presumes_no_role() -> None:
    report = initcheck.audit(SpeechAndText, inputs=torch.randn(16, 32))
    g = report.row("audio.0.parametrizations.weight.original0")  # (256, 1, 1) norms, > 0
    assert [r.check for r in g.results] == ["finite"] and g.passed, g.describe()
    assert "not used by the traced pass" in g.results[0].message
    v = report.row("audio.0.parametrizations.weight.original1")  # units of 24 values
    assert [r.check for r in v.results] == ["symmetry"] and v.passed, v.describe()
    assert not report.failed_rows, str(report)  # never "not zero-centered" on a norm
