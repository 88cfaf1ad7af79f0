"""How an audit draws each weight afresh (initcheck.models.draws; issue 17): from the
weight's own initializer or module init code, a rebuilt factory only where that does not
reproduce the model, the instance's own values last — and each row says which."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import initcheck
from initcheck.models.draws import OWN, REBUILT
from initcheck.models.fidelity import compare

torch = pytest.importorskip("torch")
nn = torch.nn


def _mlp() -> nn.Module:
    return nn.Sequential(
        nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 48), nn.ReLU(), nn.Linear(48, 10)
    )


class HeLoop(nn.Module):
    """Initialized by a loop in ``__init__`` (as torchvision's ResNets): no module's own
    ``reset_parameters()`` reproduces it."""

    def __init__(self) -> None:
        super().__init__()
        # wide enough that one draw (an instance's own values) decides the variance
        self.body = nn.Sequential(
            nn.Linear(256, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _kernels(report: initcheck.ModelReport) -> list:
    return [r for r in report.rows if r.param == "weight"]


def test_a_factory_of_standard_modules_is_never_rebuilt() -> None:
    report = initcheck.audit(_mlp, variance=None)
    assert report.settings["rebuilds"] == 0
    assert [r.drawn for r in _kernels(report)] == [REPLAYED.format("kaiming_uniform_")] * 3
    assert all(r["seeds"].passed for r in _kernels(report)), str(report)


REPLAYED = "the init calls construction made ({})"


def test_an_init_loop_in_init_is_drawn_by_replaying_the_calls_construction_made() -> None:
    report = initcheck.audit(HeLoop, variance="he")
    hidden = _kernels(report)[:2]
    # an nn.init call is recorded as itself; the reset_parameters draw it overwrites
    # is not replayed
    assert all(r.drawn == REPLAYED.format("kaiming_normal_") for r in hidden)
    assert report.settings["rebuilds"] == 0  # no rebuild of the whole model per draw
    # the replayed draws are independent and He: the rule passes, the seeds check runs
    assert all(r["variance"].passed and r["seeds"].passed for r in hidden), str(report)


class LegacyLinear(nn.Module):
    """Written as many users write a layer: ``nn.Parameter(torch.Tensor(out, in))`` (a
    constructor no torch function records), then an init that fills it whole."""

    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.Tensor(n_out, n_in))
        self.bias = nn.Parameter(torch.Tensor(n_out))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.kaiming_normal_(self.weight, nonlinearity="relu")
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight.t() + self.bias


def test_a_parameter_made_outside_torch_functions_is_replayed_from_an_empty_tensor() -> None:
    def net() -> nn.Module:
        return nn.Sequential(LegacyLinear(256, 512), nn.ReLU(), LegacyLinear(512, 10))

    report = initcheck.audit(net, variance="he", inputs=torch.randn(32, 256))
    first = _kernels(report)[0]
    assert first.drawn == REPLAYED.format("kaiming_normal_"), first.drawn
    assert first["variance"].passed and first["seeds"].passed, str(report)


def test_a_parameter_made_outside_torch_functions_and_only_scaled_is_not_replayed() -> None:
    class Scaled(LegacyLinear):
        def reset_parameters(self) -> None:  # reads what torch.Tensor left: not a fill
            with torch.no_grad():
                self.weight.mul_(0.0).add_(torch.randn_like(self.weight) * 0.05)
                self.bias.zero_()

    report = initcheck.audit(lambda: Scaled(64, 32), inputs=torch.randn(8, 64), signal=False)
    assert not report.rows[0].drawn.startswith(REPLAYED.format("")[:-2]), report.rows[0].drawn


class Mixer(nn.Module):
    """A Mamba-style mixer: ``A_log`` is the log of a range, the same at every seed."""

    def __init__(self, width: int = 32, states: int = 16) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, states + 1.0)).repeat(width, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) * self.A_log.exp().mean()


def test_a_deterministic_parameter_is_replayed_not_rebuilt() -> None:
    """Construction's calls replayed from nothing reproduce ``A_log`` exactly: that is its
    deterministic result (Zamba's 76 were each climbed to the whole layer list)."""
    report = initcheck.audit(
        lambda: nn.Sequential(Mixer(), Mixer()), variance=None, inputs=torch.randn(8, 32)
    )
    assert report.settings["rebuilds"] == 0
    assert report.row("1.A_log").drawn == REPLAYED.format("arange, log, repeat")


def test_a_large_weight_s_third_and_later_draws_are_runs_of_its_own_units(monkeypatch) -> None:
    from initcheck.models import draws

    fresh: list[str] = []
    value = draws.ModelDraws.value

    def counted(self: draws.ModelDraws, key: str, seed: int) -> np.ndarray:
        if seed != self.own_seed:
            fresh.append(key)
        return value(self, key, seed)

    monkeypatch.setattr(draws.ModelDraws, "value", counted)
    # checked on 2 of its 1024 units a draw (4,096 values): its checks need several draws
    report = initcheck.audit(
        lambda: nn.Linear(2048, 1024), max_piece_values=4096, inputs=torch.randn(8, 2048)
    )
    (weight,) = _kernels(report)
    assert weight["centering"].n >= 4 * 4096, weight["centering"].n
    assert weight["centering"].passed and weight["tails"].passed, str(report)
    # its own values (the first draw), the fidelity draw (the second), then its own units
    assert "weight" not in fresh, fresh


def test_subsample_units_gives_the_first_units_then_disjoint_runs() -> None:
    from initcheck.fans import KernelLayout
    from initcheck.models.draws import subsample_units
    from initcheck.models.records import WeightPiece

    table = WeightPiece("emb", "weight", "Embedding", "embedding", "emb.weight", "torch")
    rows = np.arange(40.0).reshape(10, 4)
    assert subsample_units(table, rows, 8).tolist() == rows[:2].tolist()
    assert subsample_units(table, rows, 8, block=4).tolist() == rows[8:].tolist()
    assert subsample_units(table, rows, 8, block=5).size == 0  # past the last whole run
    wide = np.arange(10.0).reshape(1, 10)  # one row over the limit: still its first row
    assert subsample_units(table, wide, 4).tolist() == wide.tolist()
    dense = WeightPiece("fc", "weight", "Linear", "kernel", "fc.weight", "torch")
    dense = dataclasses.replace(dense, layout=KernelLayout("torch"))
    w = np.arange(60.0).reshape(6, 10)  # torch (out, in): units are rows
    assert subsample_units(dense, w, 20, block=1).tolist() == w[2:4].tolist()
    assert subsample_units(dense, w, 100, block=1).size == 0  # fits whole: one run


class NumpyLoop(HeLoop):
    """Initialized from numpy in ``__init__``: no recorded torch call draws it."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(int(torch.randint(0, 2**31, ())))  # torch seeds it
        for m in self.modules():
            if isinstance(m, nn.Linear):
                std = np.sqrt(2.0 / m.in_features)
                drawn = rng.normal(0.0, std, tuple(m.weight.shape)).astype(np.float32)
                m.weight.data = torch.from_numpy(drawn)


def test_an_init_no_recorded_call_draws_is_drawn_by_rebuilding_the_factory() -> None:
    report = initcheck.audit(NumpyLoop, variance="he")
    hidden = _kernels(report)[:2]
    assert all(r.drawn == REBUILT for r in hidden)
    assert report.settings["rebuilds"] > 0
    assert all(r["variance"].passed and r["seeds"].passed for r in hidden), str(report)


def test_a_factory_that_seeds_torch_is_never_replayed() -> None:
    def seeded() -> nn.Module:
        torch.manual_seed(0)  # every build the same weights: a replay would hide it
        return _mlp()

    report = initcheck.audit(seeded, variance=None)
    assert not any(r.drawn.startswith(REPLAYED.format("")[:-2]) for r in report.rows)


def test_a_generator_of_its_own_is_not_replayed_under_initcheck_s_seed() -> None:
    def fixed() -> nn.Module:
        model = _mlp()
        gen = torch.Generator().manual_seed(1)
        for m in model:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=m.in_features**-0.5, generator=gen)
        return model

    report = initcheck.audit(fixed, variance=None)
    assert all(r.drawn == REBUILT for r in _kernels(report))
    assert not _kernels(report)[0]["seeds"].passed


def test_an_instance_whose_init_no_module_reproduces_is_audited_from_its_own_values() -> None:
    report = initcheck.audit(HeLoop(), variance="he")
    row = _kernels(report)[0]
    assert row.drawn == OWN
    assert "instance's own values" in row.note
    assert "init code of body.0 (Linear): it draws std" in row.note  # why the module's didn't
    with pytest.raises(KeyError):
        row["seeds"]  # one draw: no seeds check
    assert row["variance"].passed


def test_gpt2_instance_is_drawn_by_its_own_init_weights_including_the_scaled_projections() -> None:
    pytest.importorskip("transformers")
    import zoo

    report = initcheck.audit(zoo.gpt2(), variance=None, inputs=zoo.gpt2_inputs())
    assert not [r.name for r in report.rows if r.drawn == OWN]
    # GPT-2's attention and MLP modules set c_proj to σ/√(2·n_layer), not its own Conv1D
    # init: one Conv1D that differs distrusts every Conv1D's own init code
    for name, parent in (("attn.c_proj", "attn (GPT2Attention)"), ("mlp.c_fc", "mlp (GPT2MLP)")):
        row = report.row(f"transformer.h.0.{name}.weight")
        assert row.drawn == f"init code of transformer.h.0.{parent}"
        assert row["seeds"].passed
    assert report.row("transformer.h.0.attn.c_attn.weight[Q]").drawn.endswith("(GPT2Attention)")
    assert report.row("transformer.wte.weight").drawn == (
        "init code of transformer.wte (Embedding)"
    )


def test_keras_weights_name_the_initializer_that_drew_them() -> None:
    keras = pytest.importorskip("keras")

    def build() -> object:
        return keras.Sequential(
            [keras.Input((16,)), keras.layers.Dense(24, activation="relu"), keras.layers.Dense(4)]
        )

    report = initcheck.audit(build, variance=None, inputs=np.zeros((4, 16), "float32"))
    assert report.settings["rebuilds"] == 0
    assert [r.drawn for r in report.rows] == [
        "Dense.kernel_initializer",
        "Dense.bias_initializer",
    ] * 2


def test_flax_module_class_is_a_factory_of_rngs() -> None:
    pytest.importorskip("flax")
    from flax import nnx

    class Net(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.a = nnx.Linear(32, 48, rngs=rngs)
            self.b = nnx.Linear(48, 8, rngs=rngs)

        def __call__(self, x):
            return self.b(nnx.relu(self.a(x)))

    report = initcheck.audit(Net, variance=None, inputs=np.ones((4, 32), "float32"))
    kernel = report.row("a.kernel")
    assert kernel.drawn == REBUILT and kernel["seeds"].passed


@pytest.mark.parametrize(
    ("drawn", "own", "reason"),
    [
        (np.zeros(16), np.zeros(16), ""),
        (np.ones(16), np.zeros(16), "the model holds the constant 0"),
        (np.arange(100.0), np.arange(100.0), "leaves the values unchanged"),
        (np.zeros(100), np.arange(100.0), "it draws a constant"),
        (np.zeros((3, 4)), np.zeros((4, 3)), "it draws shape (3, 4)"),
    ],
)
def test_compare_names_why_a_way_does_not_draw_the_model(
    drawn: np.ndarray, own: np.ndarray, reason: str
) -> None:
    got = compare(drawn, own).reason
    assert (reason in got and got) if reason else got == ""


def test_compare_takes_a_fresh_way_s_equal_values_as_deterministic() -> None:
    """A replay starts from nothing: equal values are construction's own result."""
    assert compare(np.arange(100.0), np.arange(100.0), fresh=True).reason == ""
    assert "it draws std" in compare(np.arange(100.0) * 2, np.arange(100.0), fresh=True).reason


def test_compare_judges_std_and_shape_at_their_sampling_error() -> None:
    """z limit 4.5 (false distrust 7e-6 per weight), KS at 1e-5."""
    rng = np.random.default_rng(0)
    own = rng.standard_normal(10_000)
    same = compare(rng.standard_normal(10_000), own)
    assert same.reason == "" and abs(same.z) < 4.5
    # ×1.06 in std at 10,000 values is z ≈ 5.8 standard errors: a different init
    assert "it draws std 1.06" in compare(rng.standard_normal(10_000) * 1.06, own).reason
    # a uniform of the same std: the KS test sees the other shape
    uniform = rng.uniform(-np.sqrt(3), np.sqrt(3), 10_000)
    assert "distribution differs" in compare(uniform, own).reason
    # 64 values: ×1.3 is within 4.5 standard errors, not judged alone
    small = rng.standard_normal(64)
    assert compare(rng.standard_normal(64) * 1.3 * small.std(), small).reason == ""


def test_the_ks_shortcut_calls_scipy_wherever_the_exact_p_could_decide() -> None:
    from scipy import stats

    from initcheck.models.fidelity import KS_ALPHA, _ks_pvalue

    rng = np.random.default_rng(3)
    for n, m in [(64, 64), (100, 700), (2000, 2000), (32768, 32768)]:
        for shift in np.linspace(0.0, 1.2, 25):
            a, b = np.sort(rng.normal(size=n)), np.sort(rng.normal(shift, 1.0, size=m))
            exact = float(stats.ks_2samp(a, b).pvalue)
            got = _ks_pvalue(a, b)
            if got <= 100 * KS_ALPHA:  # scipy's own p
                assert got == exact
            else:  # Kolmogorov's limit, and the exact p could not have been below alpha
                assert exact > KS_ALPHA, (n, m, shift, exact, got)


def test_compare_leaves_out_a_far_value_the_same_init_can_draw() -> None:
    """A float32 ``erfinv(-1)`` clamped to -2 at std 0.02 (timm's ``trunc_normal_``): one
    value at 100 σ moves the std of 10^5 values by 5 %, though the way draws exactly
    the model's init; a scale that differs everywhere is still seen."""
    rng = np.random.default_rng(1)
    own = rng.standard_normal(100_000) * 0.02
    own[123] = -2.0
    assert compare(rng.standard_normal(100_000) * 0.02, own).reason == ""
    assert "it draws std" in compare(rng.standard_normal(100_000) * 0.021, own).reason


def test_weights_drawn_by_the_same_calls_on_the_same_shape_share_their_draws() -> None:
    """CaiT's talking-heads weights: 4×4 each, 24 of them, ~850 draws each for the checks'
    power; one set of draws serves them all (one distribution), except under the model's
    own seed, whose draws are each weight's own values (independent: a meta model's
    stand-in values, the streamed pass's weights)."""
    from initcheck.models.draws import ModelDraws, Way

    calls: list[tuple[str, int]] = []

    def way(key: str, size: int, pool: object) -> Way:
        def draw(seed: int) -> np.ndarray:
            calls.append((key, seed))
            return np.random.default_rng([seed, len(key)]).standard_normal(size)

        return Way(f"replay of {key}", draw, kind=key, pool=pool)

    ways = {"a": [way("a", 16, "4x4")], "b": [way("bb", 16, "4x4")]}
    ways["big"] = [way("big", 2**13, "big")]
    ways["big2"] = [way("big22", 2**13, "big")]
    own = {k: w[0].draw(99) for k, w in ways.items()}  # the model: another draw
    draws = ModelDraws(ways=ways, own=own, rebuild=None, own_seed=0)
    draws.decide(0)
    calls.clear()
    assert draws.value("b", 5) is draws.value("a", 5)  # one draw serves both
    assert calls == [("bb", 5)]
    assert not np.array_equal(draws.value("a", 0), draws.value("b", 0))  # own seed: each
    draws.value("big", 5), draws.value("big2", 5)  # over POOL_VALUES: each drawn
    assert ("big", 5) in calls and ("big22", 5) in calls


def test_a_model_s_weights_of_one_recipe_are_pooled_and_pass() -> None:
    class Heads(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mix = nn.ModuleList(nn.Linear(4, 4, bias=False) for _ in range(6))
            self.out = nn.Linear(4, 5, bias=False)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.trunc_normal_(m.weight, std=0.02)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for m in self.mix:
                x = m(x)
            return self.out(x)

    from initcheck.models.torch_record import recorded
    from initcheck.models.torch_replay import replay_ways

    replays = replay_ways(recorded(Heads))
    recipes = {replays[f"mix.{i}.weight"][2] for i in range(6)}
    assert len(recipes) == 1 and None not in recipes
    assert replays["out.weight"][2] not in recipes  # another shape: its own
    report = initcheck.audit(Heads, variance="normal(std=0.02)", signal=False)
    assert report.verdict == "passed", str(report)  # (σ 0.02 at width 4: rows only)
    assert all(r.drawn.startswith("the init calls") for r in report.rows)
