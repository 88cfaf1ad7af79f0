"""A verdict needs evidence (issue 27 items 1 and 2): a model with no weight audited, a
signal that was not measured (a NaN in the pass, frozen weights, fewer than 2 weighted
layers) and a weight holding NaN or Inf are never "passed"; the CLI exits 1 and the gate
yields a failing item."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import initcheck  # noqa: E402
import initcheck.gate  # noqa: E402  (before in-process pytester runs)
from initcheck.cli import main  # noqa: E402
from initcheck.models.adapter import NotAModelError  # noqa: E402
from initcheck.models.fidelity import compare  # noqa: E402

nn = torch.nn

MODELS = """
import torch
import torch.nn as nn


class Empty(nn.Module):
    def forward(self, x):
        return x * 2


def empty():
    return Empty()


def inf_weight():
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 16), nn.ReLU(),
                          nn.Linear(16, 4))
    with torch.no_grad():
        model[2].weight[3, 5] = float("inf")
    return model
"""


def _mlp(depth: int = 3) -> nn.Module:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(8 if i == 0 else 32, 32), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(32, 4))


def test_a_model_without_weights_is_never_passed() -> None:
    class Empty(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * 2

    report = initcheck.audit(Empty(), inputs=torch.randn(4, 3))
    assert report.verdict != "passed" and not report.passed
    assert "nothing to audit" in report.coverage_text()
    assert "not yet built" in report.coverage_text()  # the Keras remedy, in one line


def test_a_weight_holding_inf_fails_by_name_before_anything_is_compared() -> None:
    def build() -> nn.Module:
        model = _mlp()
        with torch.no_grad():
            model[2].weight[3, 5] = float("inf")
        return model

    report = initcheck.audit(build, signal=False)
    row = report.row("2.weight")
    assert not row.passed and row["finite"].statistic == 1
    assert "1 of 1,024 values" in row["finite"].message and "(32, 32)" in row["finite"].message
    assert report.verdict == "failed"


def test_a_non_finite_comparison_means_the_draw_differs() -> None:
    own = np.random.default_rng(0).standard_normal((64, 64))
    drawn = own.copy()
    drawn[0, 0] = np.nan
    assert compare(drawn, own + 1e-3).differs
    own_bad = own.copy()
    own_bad[1, 1] = np.inf
    assert compare(own + 1e-3, own_bad).differs


def test_a_nan_in_the_pass_leaves_the_signal_inconclusive() -> None:
    class NanHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = _mlp()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x) * float("nan")

    def build() -> nn.Module:
        model = NanHead()
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        return model

    report = initcheck.audit(build, inputs=torch.randn(16, 8))  # the rows' checks pass
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "not measured" in report.signal.message and "NaN" in report.signal.message
    assert "model signal INCONCLUSIVE" in report.text()
    assert report.verdict == "inconclusive" and not report.passed


def test_frozen_weights_leave_the_signal_inconclusive() -> None:
    def build() -> nn.Module:
        model = _mlp()
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    report = initcheck.audit(build, inputs=torch.randn(16, 8))
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "frozen" in report.signal.message
    assert not report.passed


def test_one_weighted_layer_has_no_signal_to_compare() -> None:
    report = initcheck.audit(lambda: nn.Linear(8, 4), inputs=torch.randn(16, 8))
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "nothing to compare" in report.signal.message
    assert not report.passed


def test_cli_exits_1_on_nothing_audited_and_on_an_inf_weight(tmp_path, capsys) -> None:
    models = tmp_path / "evidence_models.py"
    models.write_text(MODELS)
    assert main(["audit", f"{models}:empty", "--no-signal"]) == 1
    assert "nothing to audit" in "".join(capsys.readouterr())
    assert main(["audit", f"{models}:inf_weight", "--no-signal"]) == 1
    out = "".join(capsys.readouterr())
    assert "NaN or Inf" in out and "2.weight" in out


def test_gate_fails_a_model_with_nothing_audited(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(evidence_models=MODELS)
    pytester.makefile(
        ".toml",
        pyproject="""
[tool.pytest.ini_options]
pythonpath = ["."]

[tool.initcheck.models.empty]
target = "evidence_models:empty"
signal = false
""",
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v")
    result.stdout.fnmatch_lines(["*initcheck::empty::coverage FAILED*"])
    result.stdout.fnmatch_lines(["*nothing to audit*"])
    assert result.ret == 1


# --- bad arguments, user code that exits, meta and lazy models (issue 27 items 5-7) ---


@pytest.mark.parametrize(
    ("kwargs", "error", "named"),
    [
        ({"accept": 5}, ValueError, "`accept`"),
        ({"checks": 5}, ValueError, "`checks`"),
        ({"inputs": "x"}, ValueError, "`inputs`"),
        ({"signal": "no"}, ValueError, "`signal`"),
        ({"settings": {"alpha": 2}}, TypeError, "`settings`"),
        ({"max_piece_values": 0}, ValueError, "`max_piece_values`"),
        ({"variance": "hee"}, ValueError, "variance"),
        ({"variance": {"fc": "nope"}}, ValueError, "variance"),
        (
            {"variance": {1: "he"}},
            ValueError,
            "`variance` must be a rule, or a mapping from layer path globs",
        ),
    ],
)
def test_audit_validates_every_argument_before_any_work(kwargs, error, named) -> None:
    calls = []

    def factory() -> nn.Module:
        calls.append(1)
        return _mlp()

    with pytest.raises(error, match=named):
        initcheck.audit(factory, **kwargs)
    assert calls == []  # raised before the factory ran


def test_accept_given_as_one_string_is_one_name() -> None:
    report = initcheck.audit(lambda: _mlp(), accept="ParametrizationList", signal=False)
    assert report.settings["accept"] == ["ParametrizationList"]


def test_cli_user_code_that_exits_is_a_load_error(tmp_path, capsys) -> None:
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint('training...')\nsys.exit(0)\n")
    assert main(["audit", f"{script}:build"]) == 2
    assert "called sys.exit(0)" in capsys.readouterr().err
    factory = tmp_path / "exits.py"
    factory.write_text("import sys\n\ndef build():\n    sys.exit(3)\n")
    assert main(["audit", f"{factory}:build"]) == 2
    assert "called sys.exit(3)" in capsys.readouterr().err


def test_a_meta_device_model_is_audited_without_being_materialized() -> None:
    with torch.device("meta"):
        model = _mlp()
    report = initcheck.audit(model)  # tests/test_audit_meta.py: its verdicts
    assert len(report.rows) == len(list(model.parameters()))
    assert all(p.is_meta for p in model.parameters())


def test_lazy_layers_are_never_materialized_at_a_made_up_width() -> None:
    def lazy() -> nn.Module:
        return nn.Sequential(nn.LazyLinear(16), nn.ReLU(), nn.LazyLinear(16), nn.ReLU())

    model = lazy()
    with pytest.raises(NotAModelError, match="pass inputs="):
        initcheck.audit(model)
    assert isinstance(model[0].weight, torch.nn.parameter.UninitializedParameter)  # untouched
    report = initcheck.audit(lazy, inputs=torch.randn(16, 5))
    assert report.row("0.weight").fans == (5, 16)  # its real shape, from the batch


def test_an_unwritable_report_path_is_a_usage_error_at_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_one="def test_ok():\n    assert True\n")
    blocker = pytester.path / "blocker"
    blocker.write_text("a file where a folder should be")
    for option in ("--initcheck-report", "--initcheck-json"):
        result = pytester.runpytest("-p", "no:cacheprovider", option, str(blocker / "r.html"))
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([f"*initcheck: {option}*cannot be written*"])
        assert "Traceback" not in result.stderr.str() + result.stdout.str()


@pytest.mark.filterwarnings("ignore:.*quantiz:DeprecationWarning", "ignore:.*quantiz:UserWarning")
def test_a_quantized_model_whose_packed_weights_are_not_listed_is_not_passed() -> None:
    model = torch.ao.quantization.quantize_dynamic(_mlp(), {nn.Linear}, dtype=torch.qint8)
    report = initcheck.audit(model, inputs=torch.randn(16, 8))
    assert report.verdict != "passed" and "nothing to audit" in report.coverage_text()


def test_a_keras_model_never_built_is_not_passed() -> None:
    keras = pytest.importorskip("keras")
    model = keras.Sequential([keras.layers.Dense(4), keras.layers.Dense(2)])
    report = initcheck.audit(model)
    assert report.verdict != "passed"
    assert "not yet built" in report.coverage_text()
    assert report.signal is not None and "could not build a batch" in report.signal.message


def test_a_models_weights_divide_alpha_for_the_checks_an_exact_init_fails_by_chance() -> None:
    """Tails, degeneracy, distribution and dtypes fail an exact init at up to alpha each
    (tests of the distribution itself): over a model's R weights they decide at alpha/R,
    so a sound model of many weights is not failed by chance (at 1e-4 per row, 300
    weights would fail one in 16 sound models); tolerance checks keep alpha (≈ 0 when
    exact)."""
    from initcheck import registry

    layers = [nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)]
    report = initcheck.audit(lambda: nn.Sequential(*layers))
    alpha = initcheck.Settings().alpha
    kernels = [r for r in report.rows if r.name.endswith("weight")]
    assert len(kernels) == 3
    seen = set()
    for row in kernels:
        for result in row.results:
            if result.alpha is None:
                continue
            chance = registry.check_named(result.check).by_chance
            assert result.alpha == pytest.approx(alpha / 3 if chance else alpha), result
            seen.add(chance)
    assert seen == {True, False}  # both kinds ran
    # one initializer's checks keep alpha: the family is a model's
    single = initcheck.check("he_normal", checks=["tails"])
    assert all(r.alpha == alpha for r in single.results)
