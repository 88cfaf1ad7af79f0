"""Inits declared by path (issue 31): a user states the init they intend per weight glob,
``"normal(std=0.02/sqrt(2*L))"``, ``"trunc_normal(std=0.02, at=2)"``, and each tensor
is held to it; the tensors that break it are named. Injected on small meta-device models:
the bugs of transformers #47458, llama2.c #579 / torchtitan #3334, and trunc_normal_'s
absolute bounds."""

from __future__ import annotations

import math

import pytest

import initcheck
from initcheck.declared import parse, truncated_variance

torch = pytest.importorskip("torch")
nn = torch.nn

LAYERS = 4


def _gpt2(skip_c_proj_scaling: bool = False):  # type: ignore[no-untyped-def]
    transformers = pytest.importorskip("transformers")
    config = transformers.GPT2Config(n_embd=128, n_layer=LAYERS, n_head=4, vocab_size=512)

    def build() -> nn.Module:
        with torch.device("meta"):
            model = transformers.GPT2LMHeadModel(config)
        model.init_weights()
        if skip_c_proj_scaling:  # the refactor that dropped the 1/sqrt(2*n_layer)
            for block in model.transformer.h:
                for proj in (block.attn.c_proj, block.mlp.c_proj):
                    nn.init.normal_(proj.weight, std=config.initializer_range)
        return model

    return build


GPT2_RULES = {"*.c_proj.weight": "normal(std=0.02/sqrt(2*L))", "*": "auto"}


def test_gpt2_as_built_holds_its_declared_residual_scaling() -> None:
    report = initcheck.audit(_gpt2(), variance=GPT2_RULES)
    rows = [r for r in report.rows if r.name.endswith("c_proj.weight")]
    assert len(rows) == 2 * LAYERS and all(r.passed for r in rows), str(report)
    assert all(f"with L={LAYERS}" in r.rule for r in rows)  # L measured: the blocks


def test_the_configs_promise_is_declared_by_its_names() -> None:
    # GPT-2's own rule in its config's names, read from the model the audit builds
    rules = {"*.c_proj.weight": "normal(std=initializer_range/sqrt(2*n_layer))", "*": "auto"}
    sound = initcheck.audit(_gpt2(), variance=rules)
    rows = [r for r in sound.rows if r.name.endswith("c_proj.weight")]
    assert len(rows) == 2 * LAYERS and all(r.passed for r in rows), str(sound)
    assert all(r.rule.endswith(f"with initializer_range=0.02, n_layer={LAYERS}") for r in rows)
    skipped = initcheck.audit(_gpt2(skip_c_proj_scaling=True), variance=rules)
    assert {r.name for r in skipped.failed_rows} == {r.name for r in rows}, str(skipped)
    # a name the config does not give is an input error naming the close one
    with pytest.raises(ValueError, match="did you mean 'initializer_range'"):
        initcheck.audit(_gpt2(), variance={"*.c_proj.weight": "normal(std=initializer_rnge)"})
    with pytest.raises(ValueError, match="it has none"):  # no `config` at all
        initcheck.audit(nn.Linear(4, 4), variance={"*": "normal(std=initializer_range)"})


def test_gpt2_with_its_c_proj_scaling_skipped_fails_naming_every_c_proj() -> None:
    report = initcheck.audit(_gpt2(skip_c_proj_scaling=True), variance=GPT2_RULES)
    failing = {r.name for r in report.failed_rows}
    expected = {
        f"transformer.h.{i}.{part}.c_proj.weight" for i in range(LAYERS) for part in ("attn", "mlp")
    }
    assert failing == expected, str(report)
    for name in expected:  # Var ×2L of the declared: ×8 at L = 4
        ratio = report.row(name).ratio
        assert ratio is not None and 6 < ratio < 10.5, str(report)


class FeedForward(nn.Module):
    """llama2.c's FFN: w2(silu(w1 x) * w3 x); w2 writes the residual stream."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(nn.functional.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, 4 * dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.ffn(self.norm(x))


class Tiny(nn.Module):
    def __init__(self, scaled: str) -> None:
        super().__init__()
        dim = 64
        self.embed = nn.Embedding(256, dim)
        self.layers = nn.ModuleList(Block(dim) for _ in range(LAYERS))
        self.out = nn.Linear(dim, 256, bias=False)
        for name, p in self.named_parameters():  # llama2.c's _init_weights, then the scaling
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
            if name.endswith(f"{scaled}.weight"):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * LAYERS))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x)
        return self.out(x)


LLAMA_RULES = {
    "*.w2.weight": "normal(std=0.02/sqrt(2*L))",
    "*.w[13].weight": "normal(std=0.02)",
    "*": "auto",
}


def _tiny(scaled: str):  # type: ignore[no-untyped-def]
    def build() -> nn.Module:
        with torch.device("meta"):
            return Tiny(scaled)

    return build


def test_depth_scaling_on_w2_as_declared_passes() -> None:
    ids = torch.randint(0, 256, (8, 16), generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(_tiny("w2"), variance=LLAMA_RULES, inputs=ids)
    ffn = [r for r in report.rows if ".ffn." in r.name]
    assert ffn and all(r.passed for r in ffn), str(report)


def test_depth_scaling_put_on_w3_instead_of_w2_fails_naming_both() -> None:
    ids = torch.randint(0, 256, (8, 16), generator=torch.Generator().manual_seed(0))
    report = initcheck.audit(_tiny("w3"), variance=LLAMA_RULES, inputs=ids)
    failing = {r.name for r in report.failed_rows}
    expected = {f"layers.{i}.ffn.{w}.weight" for i in range(LAYERS) for w in ("w2", "w3")}
    assert failing == expected, str(report)
    assert report.row("layers.0.ffn.w2.weight").ratio > 4  # ×2L too large
    assert report.row("layers.0.ffn.w3.weight").ratio < 0.25  # ÷2L too small


class Truncated(nn.Module):
    def __init__(self, bound: float) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(256, 256), nn.Linear(256, 10)
        for m in (self.a, self.b):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-bound, b=bound)
            nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.relu(self.a(x)))


TRUNCATED = {"*.weight": "trunc_normal(std=0.02, at=2)"}


def _truncated(bound: float):  # type: ignore[no-untyped-def]
    def build() -> nn.Module:
        with torch.device("meta"):
            return Truncated(bound)

    return build


def test_trunc_normal_with_bounds_at_2_sigma_passes_the_declared_truncation() -> None:
    report = initcheck.audit(_truncated(0.04), variance=TRUNCATED, signal=False)
    for name in ("a.weight", "b.weight"):
        row = report.row(name)
        assert row["truncation"].passed and row["variance"].passed, str(report)


def test_trunc_normal_with_its_default_absolute_bounds_fails_the_declared_truncation() -> None:
    report = initcheck.audit(_truncated(2.0), variance=TRUNCATED, signal=False)
    assert {r.name for r in report.failed_rows} == {"a.weight", "b.weight"}, str(report)
    result = report.row("a.weight")["truncation"]
    assert result.statistic > 3  # an untruncated normal reaches past 3σ in 65,536 values
    assert "beyond the declared 2σ" in result.message and "a.weight" in result.message
    assert "absolute values" in result.message  # what to do


def test_a_declared_draw_is_parsed_and_its_errors_name_the_fix() -> None:
    declared = parse("trunc_normal(std=0.02, at=2)")
    assert declared is not None and declared.at == 2.0
    assert math.isclose(declared.variance, 0.02**2 * truncated_variance(2.0))
    assert math.isclose(truncated_variance(2.0) ** 0.5, 0.8796, abs_tol=1e-4)
    for bad, words in (
        ("normal(0.02)", "arguments are std="),
        ("trunc_normal(std=0.02)", "at= (the truncation"),
        ("normal(std=0.02*abs(L))", "arithmetic in numbers, L, the model's config numbers"),
        ("normal(std=0.02) with L=twelve", "name=number pairs"),
        ("normal(std=-0.02)", "positive"),
    ):
        with pytest.raises(ValueError, match=words.replace("(", r"\(")):
            parse(bad)
    with pytest.raises(ValueError, match="arguments are std="):
        initcheck.audit(nn.Linear(4, 4), variance={"*": "normal(0.02)"})


def test_the_command_line_takes_the_same_declaration(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from initcheck.cli import main

    module = tmp_path / "models.py"
    module.write_text(
        "import torch\nfrom torch import nn\n\n\n"
        "def build():\n"
        "    model = nn.Sequential(nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))\n"
        "    for m in model:\n"
        "        if isinstance(m, nn.Linear):\n"
        "            nn.init.trunc_normal_(m.weight, std=0.02)  # bounds ±2: absolute\n"
        "    return model\n"
    )
    spec = f"{module}:build"
    rule = "*.weight=trunc_normal(std=0.02, at=2), *=auto"
    rc = main(["audit", spec, "--variance", rule, "--verbose"])
    out, err = capsys.readouterr()
    text = out + err
    assert rc == 1 and "truncation not where declared" in text and "0.weight" in text, text
