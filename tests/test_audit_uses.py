"""Roles from use, and the residual stream per stretch (issue 26, items 2 and 6).

A parameter no layer rule claims is read from the ops that consumed it in the traced pass
(:mod:`initcheck.models.uses`): a contraction makes it a kernel with the fans of its
orientation (a stack of experts folded into its units), an add or concatenation a table or
offset (zero: identity-at-init, never a symmetry failure), a product a scale. The residual
criterion compares blocks within one stream: a stack whose input is not computed from the
previous stack's output, or whose scale drops, starts its own (:func:`segments`).
The first half runs with no framework; the second on hand-written PyTorch models.
"""

from __future__ import annotations

from typing import Any

import pytest

import initcheck
from initcheck.models.graph import Call
from initcheck.models.signal import decide_signal
from initcheck.models.stream import segments
from initcheck.models.uses import Use, role_from_uses, unused_role


def test_a_contraction_reads_fans_from_its_orientation() -> None:
    linear = role_from_uses([Use("linear", 1)], (64, 16))  # F.linear(x, W): W is (out, in)
    assert (linear.role, linear.fans, linear.units_last) == ("kernel", (16, 64), False)
    right = role_from_uses([Use("__matmul__", 1)], (16, 64))  # x @ W: W is (in, out)
    assert (right.role, right.fans, right.units_last) == ("kernel", (16, 64), True)
    flipped = role_from_uses([Use("__matmul__", 1, transposed=True)], (64, 16))  # x @ W.T
    assert (flipped.fans, flipped.units_last) == ((16, 64), False)
    experts = role_from_uses([Use("linear", 1)], (4, 64, 16))  # W[e] of a (E, out, in) stack
    assert experts.fans == (16, 64)
    import numpy as np

    assert experts.extract()(np.zeros((4, 64, 16))).shape == (256, 16)  # units: E·out
    assert role_from_uses([Use("einsum", 1)], (16, 64)).fans is None  # orientation unread


def test_adds_products_and_lookups_give_tables_offsets_and_scales() -> None:
    assert role_from_uses([Use("__add__", 1)], (1, 197, 64)).role == "table"
    assert role_from_uses([Use("cat", 0)], (1, 1, 64)).role == "offset"  # one class token
    assert role_from_uses([Use("__add__", 1)], (64,)).role == "offset"  # a bias
    assert role_from_uses([Use("__mul__", 1)], (64,)).role == "scale"
    assert role_from_uses([Use("embedding", 1)], (100, 64)).role == "embedding"
    # a contraction anywhere decides over an earlier add
    assert role_from_uses([Use("__add__", 1), Use("linear", 1)], (8, 8)).role == "kernel"
    assert role_from_uses([], (8, 8)) is None
    assert unused_role((8, 8)).role == "table" and unused_role((8,)).role == "offset"


def _block(path: str, ms: float, sources: tuple[str, ...]) -> Call:
    return Call(path, "Block", sources, act_ms=ms, grad_n2=1.0, block=True)


def test_a_tower_that_starts_from_its_own_input_is_its_own_stretch() -> None:
    # a vision tower at scale ~1, then a text tower from small embeddings that grows
    # linearly: joined, the text tower's start reads as a collapse and its growth as ×10
    vision = [
        _block(f"vision.layers.{i}", 1.0 + 0.1 * i, (f"vision.layers.{i - 1}",)) for i in range(4)
    ]
    text = [_block(f"text.layers.{i}", 0.01 * (i + 1), (f"text.layers.{i - 1}",)) for i in range(4)]
    text[0] = _block("text.layers.0", 0.01, ("text.embed",))
    calls = [*vision, Call("text.embed", "Embedding", (), act_ms=0.0004), *text]
    assert [len(s) for s in segments(vision + text, calls)] == [4, 4]
    result = decide_signal([], vision + text, "a batch", "Towers", calls=calls)
    assert result.passed, result.message
    assert "in 2 stacks" in result.message


def test_a_stream_growing_through_its_stages_stays_one_stretch() -> None:
    # an unnormalized ResNet: each stage's first block takes the previous stage's output,
    # and the stream doubles per block through the stage boundaries
    paths = [f"layer{s}.{b}" for s in (1, 2, 3, 4) for b in (0, 1)]
    blocks = [_block(p, 2.0**i, (paths[i - 1],) if i else ()) for i, p in enumerate(paths)]
    assert [len(s) for s in segments(blocks, blocks)] == [8]
    result = decide_signal([], blocks, "a batch", "ResNet", calls=blocks)
    assert not result.passed and "grows geometrically" in result.message


# --- on hand-written PyTorch models ---------------------------------------------------


def _torch() -> Any:
    return pytest.importorskip("torch")


def _moe_model(std: float) -> Any:
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class Experts(nn.Module):  # stacked (E, out, in) kernels, applied per expert
        def __init__(self) -> None:
            super().__init__()
            self.up = nn.Parameter(torch.empty(4, 128, 32))
            self.down = nn.Parameter(torch.empty(4, 32, 128))
            self.gamma = nn.Parameter(torch.full((32,), 1e-4))
            nn.init.normal_(self.up, std=std)
            nn.init.normal_(self.down, std=std)

        def forward(self, x: Any) -> Any:
            out = sum(F.linear(F.relu(F.linear(x, self.up[e])), self.down[e]) for e in range(4))
            return x + self.gamma * out

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.cls = nn.Parameter(torch.zeros(1, 1, 32))  # a class token, zero at init
            self.pos = nn.Parameter(torch.zeros(1, 9, 32))  # a position table, zero at init
            self.proj = nn.Parameter(torch.empty(16, 32))  # used as x @ W: (in, out)
            nn.init.normal_(self.proj, std=16**-0.5)
            self.experts = nn.ModuleList([Experts(), Experts()])
            self.norm = nn.LayerNorm(32)

        def forward(self, x: Any) -> Any:
            h = x @ self.proj
            h = torch.cat([self.cls.expand(len(h), -1, -1), h], dim=1) + self.pos
            for block in self.experts:
                h = block(h)
            return self.norm(h)

    return Net


def test_parameters_held_by_a_users_own_classes_are_audited_from_their_use() -> None:
    torch = _torch()
    net = _moe_model(std=(2 / 32) ** 0.5)
    inputs = torch.randn(8, 8, 16, generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(lambda: net(), variance="auto", inputs=inputs)
    assert not report.unaudited, report
    up, proj = report.row("experts.0.up"), report.row("proj")
    assert up.role == "kernel" and up.fans == (32, 128)  # F.linear(x, up[e]): (out, in)
    assert "consumed by linear" in up.note
    assert proj.role == "kernel" and proj.fans == (16, 32)  # x @ proj: (in, out)
    for name in ("cls", "pos"):
        row = report.row(name)
        assert row.passed and row.status == "identity-at-init", row
    gamma = report.row("experts.0.gamma")
    assert gamma.role == "scale" and gamma.passed
    assert report.coverage["weights_audited"] == report.coverage["weights"]


def test_a_stack_of_experts_at_std_one_fails_naming_the_expert_kernels() -> None:
    torch = _torch()
    net = _moe_model(std=1.0)
    inputs = torch.randn(8, 8, 16, generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(lambda: net(), variance="he", inputs=inputs)
    failing = {r.name for r in report.failed_rows}
    assert {"experts.0.up", "experts.0.down", "experts.1.up", "experts.1.down"} <= failing
    assert "variance too large" in str(report.row("experts.0.up").failures[0].message)


def test_a_parameter_without_a_traced_pass_is_not_audited_until_accepted() -> None:
    torch = _torch()
    nn = torch.nn

    class Scaler(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(16, 16))

        def forward(self, x: Any) -> Any:
            return x @ self.w

    def build() -> Any:
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), Scaler())

    wrong = torch.randn(4, 5)  # the forward fails: no uses are recorded
    report = initcheck.audit(build, inputs=wrong, signal=False)
    assert report.verdict == "incomplete" and [r.name for r in report.unaudited] == ["2.w"]
    assert "no traced pass" in report.row("2.w").note
    accepted = initcheck.audit(build, inputs=wrong, signal=False, accept=["Scaler"])
    assert accepted.verdict == "passed" and accepted.row("2.w").status == "accepted"
    read = initcheck.audit(build)  # with the pass, the use decides: a (16, 16) kernel
    assert read.row("2.w").role == "kernel" and not read.unaudited


def test_a_stretch_whose_stream_vanishes_fails_without_a_crash() -> None:
    paths = [f"blocks.{i}" for i in range(4)]
    blocks = [
        _block(p, 1.0 if i < 2 else 0.0, (paths[i - 1],) if i else ()) for i, p in enumerate(paths)
    ]
    result = decide_signal([], blocks, "a batch", "Vanishing", calls=blocks)
    assert not result.passed and "shrinks" in result.message


def _norm_net(offset: bool) -> Any:
    torch = _torch()
    nn = torch.nn

    class OffsetRMSNorm(nn.Module):  # Gemma's x̂·(1 + w) with w = 0, or x̂·w with w = 0
        def __init__(self, width: int) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(width))

        def forward(self, x: Any) -> Any:
            x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
            return x * (1.0 + self.weight) if offset else x * self.weight

    layers: list[Any] = []
    for _ in range(3):
        layers += [nn.Linear(32, 32), OffsetRMSNorm(32), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(32, 32))


def test_a_norm_weight_stored_as_an_offset_from_one_is_measured_not_named() -> None:
    torch = _torch()
    inputs = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    gemma = initcheck.audit(lambda: _norm_net(offset=True), variance="auto", inputs=inputs)
    row = gemma.row("1.weight")
    assert row.passed and "gain is 1 + w" in row.note, row
    zero = initcheck.audit(lambda: _norm_net(offset=False), variance="auto", inputs=inputs)
    assert not zero.row("1.weight").passed  # a zero gain: the signal stops here


def test_a_zero_norm_weight_whose_norm_did_not_run_is_undecided_not_judged_by_name() -> None:
    torch = _torch()
    nn = torch.nn

    class WithProjector(nn.Module):  # a projector's norm the batch does not reach
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 32))
            self.projector_norm = nn.LayerNorm(32)
            nn.init.zeros_(self.projector_norm.weight)  # a gain of 0, or an offset from 1?
            nn.init.kaiming_normal_(self.body[0].weight, nonlinearity="relu")
            nn.init.kaiming_normal_(self.body[2].weight, nonlinearity="linear")

        def forward(self, x: Any) -> Any:
            return self.body(x)

    inputs = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(WithProjector, variance="auto", inputs=inputs)
    row = report.row("projector_norm.weight")
    assert row.verdict == "inconclusive" and "did not run" in str(row), row
    assert report.verdict == "inconclusive", str(report)


def _post_norm_chain(n: int, through_norm: bool) -> tuple[list[Call], list[Call]]:
    """Residual points ``add#i``, each from the previous point through a norm (post-norm)
    or also straight (pre-norm: the identity path skips the branch's norm)."""
    calls: list[Call] = [Call("embed", "Embedding", (), act_ms=0.0004)]
    blocks: list[Call] = []
    prev = "embed"
    for i in range(n):
        norm = Call(f"layers.{i}.norm", "Norm", (prev,), act_ms=1.0, role="norm")
        branch = Call(f"layers.{i}.mlp", "Linear", (norm.path,), act_ms=1.0)
        main = norm.path if through_norm else prev
        point = Call(
            f"layers.{i}:add#1",
            "add",
            (main, branch.path),
            act_ms=1.0 + i * (not through_norm),
            block=True,
            role="merge",
        )
        calls += [norm, branch, point]
        blocks.append(point)
        prev = point.path
    return blocks, calls


def test_post_norm_points_each_restart_the_stream_and_pre_norm_ones_do_not() -> None:
    blocks, calls = _post_norm_chain(6, through_norm=True)
    assert [len(s) for s in segments(blocks, calls)] == [1] * 6
    post = decide_signal([], blocks, "a batch", "PostNorm", calls=calls)
    assert post.passed and "restarts the stream" in post.message
    blocks, calls = _post_norm_chain(6, through_norm=False)
    assert [len(s) for s in segments(blocks, calls)] == [6]
    pre = decide_signal([], blocks, "a batch", "PreNorm", calls=calls)
    assert pre.passed and "grows no faster than linearly" in pre.message


def test_a_computed_position_table_is_checked_as_a_table_not_as_draws() -> None:
    torch = _torch()
    nn = torch.nn

    class Sinusoidal(nn.Embedding):  # the same values under every seed
        def reset_parameters(self) -> None:
            pos = torch.arange(self.num_embeddings, dtype=torch.float32)[:, None]
            freq = torch.exp(-torch.arange(0, self.embedding_dim, 2) / self.embedding_dim * 9.2)
            with torch.no_grad():
                self.weight[:, 0::2] = torch.sin(pos * freq)
                self.weight[:, 1::2] = torch.cos(pos * freq)

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tokens = nn.Embedding(100, 32)
            self.positions = Sinusoidal(64, 32)
            self.out = nn.Linear(32, 32)

        def forward(self, ids: Any) -> Any:
            return self.out(self.tokens(ids) + self.positions(torch.arange(ids.shape[1])))

    ids = torch.randint(0, 100, (8, 16), generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(Net, inputs=ids)
    table = report.row("positions.weight")
    assert table.status == "deterministic" and table.passed, table
    assert "64 distinct rows of 64" in table.results[0].message
    assert report.row("tokens.weight").status == ""  # drawn: checked as draws


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
def test_an_empty_or_one_dimensional_parameter_gets_a_row_never_an_error() -> None:
    torch = _torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Linear(8, 8)
            self.unused = nn.Linear(8, 0)  # sized 0 by a config
            self.alpha = nn.Parameter(torch.zeros(()))  # a 0-D gate

        def forward(self, x: Any) -> Any:
            return self.body(x) * (1 + self.alpha)

    report = initcheck.audit(Net, inputs=torch.randn(16, 8))
    empty = report.row("unused.weight")
    assert empty.passed and "empty weight (0, 8)" in empty.results[0].message
    assert report.row("alpha").passed and report.row("alpha").role == "scale"
    assert not any(r.check == "error" for row in report.rows for r in row.results)


def test_a_grouped_conv_checked_on_its_first_units_keeps_whole_groups() -> None:
    torch = _torch()
    nn = torch.nn

    def build() -> Any:
        return nn.Sequential(nn.Conv2d(64, 256, 3, groups=8), nn.ReLU(), nn.Conv2d(256, 8, 1))

    report = initcheck.audit(build, inputs=torch.randn(4, 64, 8, 8), max_piece_values=1024)
    row = report.row("0.weight")  # 256 units of 8·9 values: 14 fit, 8 are kept
    assert not any(r.check == "error" for r in row.results), row
    assert row.shape[0] % 8 == 0 and row.shape[0] < 256  # whole groups of the first units


def _router_net(dead: bool) -> Any:
    """A zero-initialized router over 4 experts (softmax weights: uniform at init); or,
    ``dead``, one whose outputs are used alike by every unit (no unit can move apart)."""
    torch = _torch()
    nn, F = torch.nn, torch.nn.functional

    class Router(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.router = nn.Linear(32, 4, bias=False)
            nn.init.zeros_(self.router.weight)
            self.experts = nn.ModuleList([nn.Linear(32, 32) for _ in range(4)])
            self.head = nn.Linear(32, 10)
            for m in (*self.experts, self.head):
                nn.init.kaiming_normal_(m.weight, nonlinearity="linear")
                nn.init.zeros_(m.bias)

        def forward(self, x: Any) -> Any:
            w = F.softmax(self.router(x), -1)
            if dead:
                w = w.sum(-1, keepdim=True).expand(-1, 4) / 4
            return self.head(sum(w[:, i : i + 1] * e(x) for i, e in enumerate(self.experts)))

    return Router()


def test_a_zero_kernel_whose_units_get_distinct_gradients_is_deliberate() -> None:
    torch = _torch()
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(0))
    live = initcheck.audit(lambda: _router_net(dead=False), variance="auto", inputs=x)
    row = live.row("router.weight")
    assert row.passed and row.status == "zero-at-init", row
    assert "distinct gradients" in row["symmetry"].message
    assert row["symmetry"].details["deferred"] == "zero-at-init"
    dead = initcheck.audit(lambda: _router_net(dead=True), variance="auto", inputs=x)
    row = dead.row("router.weight")
    assert not row.passed and "constant kernel" in row["symmetry"].message, row
    # no traced pass (the batch does not fit): whether it learns apart is not measured
    unreached = initcheck.audit(lambda: _router_net(dead=False), inputs=torch.randn(8, 7))
    row = unreached.row("router.weight")
    assert row.verdict == "inconclusive" and "no traced pass reached it" in str(row), row


def test_a_plain_net_of_norm_outputs_reports_its_gradient_growth_without_deciding() -> None:
    def chain(category: str) -> list[Call]:
        return [
            Call(f"layer.{i}.bn", "BatchNorm2d", (), act_ms=1.0, grad_n2=4.0**-i, role=category)
            for i in range(8)
        ]

    normalized = decide_signal(chain("norm"), [], "a batch", "BN net")  # ×2 per layer back
    assert normalized.passed and "Reported, not decided" in normalized.message
    assert "Yang et al. 2019" in normalized.message
    plain = decide_signal(chain("other"), [], "a batch", "plain net")
    assert not plain.passed and "gradients (backward) grow" in plain.message


def test_a_layer_scale_written_parameter_first_keeps_the_residual_stream() -> None:
    torch = _torch()
    nn = torch.nn

    class Scaled(nn.Module):  # γ * f(x) + x: the parameter first (CaiT, InternVL)
        def __init__(self) -> None:
            super().__init__()
            self.f = nn.Linear(32, 32)
            self.gamma = nn.Parameter(torch.full((32,), 0.1))

        def forward(self, x: Any) -> Any:
            return self.gamma * self.f(x) + x

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList([Scaled() for _ in range(6)])

        def forward(self, x: Any) -> Any:
            for b in self.blocks:
                x = b(x)
            return x

    from initcheck.models.torch_model import TORCH

    trace = TORCH.trace(Net(), torch.randn(16, 32), seed=0)
    assert [c.path for c in trace.blocks] == [f"blocks.{i}" for i in range(6)]


def test_a_sum_of_branches_of_one_input_is_one_point_not_a_block_deeper() -> None:
    """RepVGG-style (Ding et al. 2021) sums written as chained adds: ``x1 = a(x) + b(x)``,
    ``x2 = x1 + c(x)``: ``c`` is not computed from ``x1``, so the two adds are one sum,
    one point; a residual ``x2 = x1 + f(x1)`` stays two."""
    x = Call("x", "Conv2d", (), act_ms=1.0)
    branches = [Call(f"{n}", "Conv2d", ("x",), act_ms=1.0) for n in "abc"]
    first = Call("add1", "add", ("a", "b"), act_ms=2.0, grad_n2=1.0, block=True, role="merge")
    summed = Call("add2", "add", ("add1", "c"), act_ms=3.0, grad_n2=1.0, block=True, role="merge")
    calls = [x, *branches, first, summed]
    (stretch,) = segments([first, summed], calls)
    assert [c.path for c in stretch] == ["add2"]
    f = Call("f", "Conv2d", ("add1",), act_ms=1.0)
    residual = Call("add2", "add", ("add1", "f"), act_ms=3.0, grad_n2=1.0, block=True, role="merge")
    (stretch,) = segments([first, residual], [x, *branches, first, f, residual])
    assert [c.path for c in stretch] == ["add1", "add2"]
