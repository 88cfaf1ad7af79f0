"""Models built on the meta device (issue 31): audited without ever holding the model,
each weight drawn alone, the signal streamed one module at a time, forward only; the
verdicts those of the same model audited in memory."""

from __future__ import annotations

import pytest

import initcheck

torch = pytest.importorskip("torch")
nn = torch.nn


def _llama(layers: int = 4, o_proj_std: float | None = None, meta: bool = True):  # type: ignore[no-untyped-def]
    transformers = pytest.importorskip("transformers")
    config = transformers.LlamaConfig(
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=512,
    )

    def build() -> nn.Module:
        with torch.device("meta" if meta else "cpu"):
            model = transformers.LlamaForCausalLM(config)
        if o_proj_std is not None:
            model.init_weights()  # then the defect: every o_proj drawn with a std of its own
            for layer in model.model.layers:
                nn.init.normal_(layer.self_attn.o_proj.weight, std=o_proj_std)
        return model

    return build


def _verdicts(report: initcheck.ModelReport) -> dict[str, str]:
    return {r.name: str(r.verdict) for r in report.rows}


def test_a_meta_llama_gets_the_verdicts_of_the_same_llama_in_memory() -> None:
    on_meta = initcheck.audit(_llama(), variance="auto")
    in_memory = initcheck.audit(_llama(meta=False), variance="auto")
    assert on_meta.verdict == in_memory.verdict == "passed", str(on_meta)
    assert _verdicts(on_meta) == _verdicts(in_memory)
    assert on_meta.settings["rebuilds"] == 0
    assert on_meta.signal is not None and on_meta.signal.passed
    assert "Forward only" in on_meta.signal.message  # what was not measured is said
    assert on_meta.signal.details["forward_only"]


def test_a_meta_llama_with_o_proj_drawn_at_std_1_fails_the_declared_rule_naming_them() -> None:
    build = _llama(o_proj_std=1.0)
    o_proj = {f"model.layers.{i}.self_attn.o_proj.weight" for i in range(4)}
    # the config's promise, declared by path: every o_proj drawn with initializer_range
    promise = {"*.o_proj.weight": "normal(std=initializer_range)", "*": "auto"}
    declared = initcheck.audit(build, variance=promise)
    failing = {r.name for r in declared.failed_rows}
    assert failing == o_proj, str(declared)
    # the defect named is the variance's, not the centering it leaves undecidable
    assert all(r.failures[0].check == "variance" for r in declared.failed_rows)
    assert "variance too large" in str(declared), str(declared)
    for name in o_proj:  # measured variance ÷ the declared 0.02²: (1/0.02)² = 2500
        ratio = declared.row(name).ratio
        assert ratio is not None and 2000 < ratio < 3000, str(declared)
    # under "auto" the measured signal decides: a pre-LN stream that grows no faster
    # than linearly is reported (the rows say ×128 of 1/fan_in), not failed
    auto = initcheck.audit(build, variance="auto")
    assert auto.signal is not None and auto.signal.passed
    assert all(auto.row(n).status == "residual branch" for n in o_proj), str(auto)


class FanOutLoop(nn.Module):
    """torchvision's init loop (He with fan_out) over a plain ReLU stack."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(128, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10)
        )
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def test_an_init_loop_run_on_the_meta_device_is_replayed_as_it_would_draw() -> None:
    def meta() -> nn.Module:
        with torch.device("meta"):
            return FanOutLoop()

    x = torch.randn(64, 128, generator=torch.Generator().manual_seed(0))
    on_meta = initcheck.audit(meta, variance="he_fan_out", inputs=x)
    in_memory = initcheck.audit(FanOutLoop, variance="he_fan_out", inputs=x)
    assert _verdicts(on_meta) == _verdicts(in_memory)
    assert all(r.drawn.startswith("the init calls construction made") for r in on_meta.rows)
    kernel = on_meta.row("body.2.weight")
    assert kernel["variance"].passed, str(on_meta)


def test_a_meta_instance_is_drawn_by_its_modules_init_code_on_cpu_copies() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(64, 96), nn.ReLU(), nn.Linear(96, 10))
    report = initcheck.audit(model, variance=None)
    assert report.model == "Sequential" and len(report.rows) == 4
    assert all(r.drawn.startswith("init code of") for r in report.rows), str(report)
    assert all(p.is_meta for p in model.parameters())  # the model is left as it was
    assert report.signal is not None and "Forward only" in report.signal.message


def test_a_meta_buffer_without_a_recorded_construction_leaves_the_signal_unmeasured() -> None:
    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(32, 32), nn.Linear(32, 32)
            self.register_buffer("scale", torch.ones(32))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.relu(self.a(x)) * self.scale)

    with torch.device("meta"):
        model = Scaled()
    report = initcheck.audit(model, variance=None)
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "buffer scale is on the meta device" in report.signal.message
    assert "pass a factory" in report.signal.message


def test_a_streamed_pass_past_its_timeout_stops_and_puts_the_model_back() -> None:
    """The audit gives up a pass that overran ``timeout``; the pass, still running on its
    worker thread, stops at the next module instead of drawing the rest of the model."""
    import gc
    import threading

    release, after = threading.Event(), threading.Event()

    class Stuck(nn.Module):  # the pass waits here until the audit has returned
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            release.wait(60)
            return x

    class Marks(nn.Linear):  # a module after it: drawn and run only if the pass went on
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            after.set()
            return super().forward(x)

    def build() -> nn.Module:
        with torch.device("meta"):
            return nn.Sequential(nn.Linear(32, 32), Stuck(), Marks(32, 10))

    model = build()
    report = initcheck.audit(
        model, variance=None, inputs=torch.ones(4, 32), settings=initcheck.Settings(timeout=1)
    )
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "did not return within 1 s" in report.signal.message
    gc.collect()  # the audit's workers are collected: their threads end after their call
    release.set()
    for t in threading.enumerate():
        if t.name == "initcheck-audit":
            t.join(60)
    assert not after.is_set()  # the pass stopped before the next module
    assert all(p.is_meta for p in model.parameters())  # the placeholders were put back
