"""Early training on MNIST: determinism, comparison, and the training verdict."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from initcheck import classic
from initcheck.checks.training import MAX_LOSS, check_training, loss_decrease_result
from initcheck.mnist import ENV_VAR
from initcheck.training import batch_order, compare, layer_seeds, train
from initcheck.training_runs import Comparison, TrainingRun

BATCHES = 250  # the check's default


def constant_005(shape, dtype=None):
    return np.full(shape, 0.05, dtype="float32")


def raising(shape, dtype=None):
    raise RuntimeError("deliberately broken")


def huge(shape, dtype=None):
    return np.full(shape, 1e30, dtype="float32")


def standard_normal(shape, dtype=None, seed=None):
    """N(0, 1): the README's "does not train" row."""
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


VERDICTS = {
    "zeros": ("zeros", False),
    "ones": ("ones", False),
    "constant 0.05": (constant_005, False),
    "U[0,1)": (classic.uniform_0_1, False),
    "U[-1,1)": (classic.uniform_pm_1, False),  # the case that motivated the 20x rule
    "N(0, 1)": (standard_normal, False),
    "glorot_uniform": ("glorot_uniform", True),
    "glorot_normal": ("glorot_normal", True),
    "he_normal": ("he_normal", True),
    "he_uniform": ("he_uniform", True),
    "lecun_normal": ("lecun_normal", True),
    "general rule 1/sqrt(n)": (classic.general_rule, True),
    "N(0, 0.1)": (classic.normal_01, True),
}


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


@pytest.fixture(scope="module")
def shared() -> Comparison:
    """One vectorized run of every initializer the verdict tests need (same seed/batches)."""
    inits = {k: v for k, (v, _) in VERDICTS.items()}
    return compare({**inits, "reference": classic.glorot_uniform}, batches=BATCHES, seed=0)


# ---------------------------------------------------------------- data order and seeds


def test_batch_order_is_a_permutation_per_epoch() -> None:
    idx = batch_order(1000, 100, 25, seed=3)
    assert idx.shape == (25, 100)
    for epoch in range(2):
        rows = idx[10 * epoch : 10 * epoch + 10].ravel()
        assert sorted(rows.tolist()) == list(range(1000))
    assert not np.array_equal(idx[:10], idx[10:20])
    np.testing.assert_array_equal(idx, batch_order(1000, 100, 25, seed=3))
    assert not np.array_equal(idx, batch_order(1000, 100, 25, seed=4))


def test_layer_seeds_differ() -> None:
    assert len(set(layer_seeds(0))) == 3
    assert layer_seeds(0) != layer_seeds(1)


def test_classic_initializers() -> None:
    assert next(iter(classic.CLASSIC)) == "All Zeros"
    assert len(classic.CLASSIC) == 10
    for name, init in classic.CLASSIC.items():
        a = init((256, 128), seed=1)
        assert a.shape == (256, 128), name
        assert a.dtype == np.float32, name
        np.testing.assert_array_equal(a, init((256, 128), seed=1))
    assert classic.general_rule((784, 10), seed=0).max() <= 1 / 28
    assert np.abs(classic.truncated_normal_01((1000, 100), seed=0)).max() <= 0.2
    u = classic.uniform_0_1((1000, 100), seed=0)
    assert u.min() >= 0
    assert u.max() < 1


# ---------------------------------------------------------------- training runs


@pytest.mark.slow
def test_same_seed_identical_losses_different_seed_different() -> None:
    a = train("he_normal", batches=20, seed=0)
    b = train("he_normal", batches=20, seed=0)
    c = train("he_normal", batches=20, seed=1)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.val_accuracy == b.val_accuracy
    assert not np.array_equal(a.losses, c.losses)
    assert a.batches == 20
    assert len(a.losses) == 20
    assert a.epochs == pytest.approx(20 / (4000 // 128))
    assert a.seed == 0


@pytest.mark.slow
def test_train_matches_single_compare() -> None:
    run = train(classic.normal_01, batches=10, seed=2)
    cmp = compare([classic.normal_01], batches=10, seed=2)
    np.testing.assert_array_equal(run.losses, cmp.runs["normal_01"].losses)


@pytest.mark.slow
def test_all_networks_see_the_same_batches() -> None:
    cmp = compare(["he_normal", "he_normal"], batches=15, seed=0)
    assert list(cmp.runs) == ["he_normal", "he_normal #2"]
    np.testing.assert_allclose(
        cmp.runs["he_normal"].losses, cmp.runs["he_normal #2"].losses, rtol=1e-4
    )


def test_default_epochs_is_two(shared: Comparison) -> None:
    run = train("zeros", epochs=0.1)
    assert run.batches == round(0.1 * (4000 // 128))
    with pytest.raises(ValueError, match="not both"):
        train("zeros", epochs=1, batches=3)
    with pytest.raises(ValueError, match="batch_size"):
        train("zeros", batches=3, batch_size=0)


def test_comparison_table(shared: Comparison) -> None:
    text = str(shared)
    assert f"After {BATCHES} batches" in text
    for name in VERDICTS:
        assert name in text
    assert "val acc" in text
    assert "last loss" in text
    run = shared["he_normal"]
    assert run.losses.shape == (BATCHES,)
    assert np.isfinite(run.losses).all()
    assert run.last_loss == run.losses[-1]
    assert f"{100 * run.val_accuracy:7.2f}%" in text


def test_zeros_stay_at_chance(shared: Comparison) -> None:
    zeros = shared["zeros"]
    assert zeros.mean_loss() == pytest.approx(math.log(10), abs=0.01)
    assert zeros.val_accuracy == pytest.approx(0.1, abs=0.02)


def test_good_initializers_learn(shared: Comparison) -> None:
    for name, (_, should_pass) in VERDICTS.items():
        run = shared[name]
        if should_pass:
            assert run.val_accuracy > 0.88, name
            assert run.mean_loss() < run.losses[:10].mean() / 5, name


# ---------------------------------------------------------------- verdicts


# glorot_uniform is the reference every verdict is judged against: not judged itself
@pytest.mark.parametrize("name", [n for n in VERDICTS if n != "glorot_uniform"])
def test_verdicts(shared: Comparison, name: str) -> None:
    expected = VERDICTS[name][1]
    result = loss_decrease_result(name, shared[name], shared["glorot_uniform"])
    assert result.passed is expected, result.describe()
    assert result.check == "training"
    assert result.n == BATCHES
    json.dumps(result.to_dict())  # JSON-safe


def test_verdict_margins_are_wide(shared: Comparison) -> None:
    """The passing ones are far from the limits, the failing ones far past them."""
    ref = shared["glorot_uniform"].mean_loss()
    for name, (_, should_pass) in VERDICTS.items():
        ratio = shared[name].mean_loss() / ref
        assert (ratio < 5) if should_pass else (ratio > 25), (name, ratio)


@pytest.mark.slow
def test_check_training_end_to_end(shared: Comparison) -> None:
    good = check_training("he_normal", seed=0)
    bad = check_training("zeros", seed=0)
    assert good.passed, good.describe()
    assert not bad.passed
    assert "did not learn" in bad.message
    # the pairwise run is the shared vectorized run's (same batches and seed): each network
    # trains on its own slice, so only float32 rounding in the batched ops may differ
    assert good.statistic == pytest.approx(shared["he_normal"].mean_loss(), rel=1e-5)
    # the reference is Glorot uniform drawn in numpy (the check needs no Keras)
    assert good.target == pytest.approx(shared["reference"].mean_loss(), rel=1e-5)
    assert good.interval == (0.0, pytest.approx(min(MAX_LOSS, 20 * good.target)))


def test_raising_initializer_gives_failed_record() -> None:
    result = check_training(raising)
    assert not result.passed
    assert "deliberately broken" in result.message
    assert result.details["error_type"] == "InitializerError"


@pytest.mark.slow
def test_non_finite_training_fails() -> None:
    result = check_training(huge, batches=20)
    assert not result.passed
    assert "NaN/Inf" in result.message
    json.dumps(result.to_dict())


def test_records_and_verdict_do_not_import_tensorflow() -> None:
    code = (
        "import sys, initcheck.training_runs, initcheck.checks.training; "
        "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_the_check_passes_settings_mnist_timeout_and_batches(monkeypatch) -> None:
    from initcheck.checks import training as training_check
    from initcheck.context import CheckContext, Plan
    from initcheck.settings import Settings

    calls = []
    monkeypatch.setattr(training_check, "check_training", lambda init, **kw: calls.append(kw))
    settings = Settings(seed=3, batches=7, mnist="/data/mnist.npz", timeout=5.0)
    plan = Plan(shapes=((784, 256),), layout="keras", train=True)  # type: ignore[arg-type]
    training_check.CHECK.run(CheckContext(initializer="he_normal", plan=plan, settings=settings))  # type: ignore[arg-type]
    assert len(calls) == 1
    layout = calls[0].pop("layout")
    assert calls == [{"batches": 7, "seed": 3, "mnist": "/data/mnist.npz", "timeout": 5.0}]
    assert str(layout) == "keras"


def _torch_he(shape, dtype=None, seed=None):
    """He for a PyTorch weight (out, in): fan_in = shape[1]. It returns zeros for a shape
    whose first axis is the longer one, which a PyTorch (out, in) weight of this
    narrowing MLP never has: read in Keras layout, every kernel would be zero."""
    if shape[0] > shape[1]:
        return np.zeros(shape, dtype or "float32")
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[1]), shape)


def test_the_training_check_draws_in_the_declared_layout() -> None:
    """Issue 29 item 3: with layout="torch" the initializer is called with (out, in)
    shapes, so its fans are read as PyTorch reads them; the wrong layout changes the
    verdict (zeros do not learn)."""
    import initcheck

    seen: list[tuple[int, ...]] = []

    def recording(shape, dtype=None, seed=None):
        seen.append(tuple(shape))
        return _torch_he(shape, dtype, seed)

    report = initcheck.check(recording, layout="torch", train=True, checks=["training"])
    assert report.passed, report
    assert seen[:3] == [(256, 784), (128, 256), (10, 128)]
    assert initcheck.assert_loss_decreases(_torch_he, layout="torch", batches=100).passed
    with pytest.raises(initcheck.InitCheckFailure, match="did not learn"):
        initcheck.assert_loss_decreases(_torch_he, batches=100)


TORCH_HE_FILE = """
import math

import numpy as np


def torch_he(shape, dtype=None, seed=None):
    if shape[0] > shape[1]:  # never a (out, in) weight of the narrowing MLP
        return np.zeros(shape, dtype or "float32")
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[1]), shape)
"""


def test_the_cli_trains_in_the_declared_layout(tmp_path) -> None:
    """Issue 29 item 3, the CLI: ``check --train --layout torch`` draws (out, in) weights;
    without the layout, the filler is handed Keras (in, out) kernels: zeros, no learning."""
    from initcheck.cli import main

    path = tmp_path / "torch_inits.py"
    path.write_text(TORCH_HE_FILE)
    out = tmp_path / "check.json"
    args = ["check", f"{path}:torch_he", "--layout", "torch", "--train", "--checks", "training"]
    assert main([*args, "--batches", "100", "--json", str(out)]) == 0
    (result,) = json.loads(out.read_text())["payload"]["results"]
    assert result["check"] == "training" and result["passed"], result
    assert main([*args[:2], *args[4:], "--batches", "100", "--json", str(out)]) == 1
    (result,) = json.loads(out.read_text())["payload"]["results"]
    assert "did not learn" in result["message"], result


def _run(name: str, mean_loss: float, batches: int = BATCHES) -> TrainingRun:
    """A training run whose last 50 losses average ``mean_loss`` (first losses at chance)."""
    losses = np.full(batches, mean_loss)
    losses[:10] = math.log(10)
    return TrainingRun(name, losses, 0.9, mean_loss, batches, batches / 31, 0)


@pytest.mark.parametrize(
    ("loss", "reference", "passed"),
    [
        (0.50, 0.02, False),  # learned (0.50 <= ln(10)/2) but 25x the reference: only 20x decides
        (0.39, 0.02, True),  # 19.5x: within the limit
        (0.41, 0.02, False),  # 20.5x
        (1.10, 0.06, True),  # 18.3x, just under the absolute limit 1.151
    ],
)
def test_the_20x_rule_decides_where_the_absolute_limit_does_not(loss, reference, passed) -> None:
    result = loss_decrease_result("x", _run("x", loss), _run("ref", reference))
    assert loss <= MAX_LOSS  # the absolute rule alone would pass every case here
    assert result.passed is passed, result.message
    assert result.interval == (0.0, pytest.approx(min(MAX_LOSS, 20 * reference)))
    assert result.details["ratio"] == pytest.approx(loss / reference)
    if not passed:
        assert "trains far worse than glorot_uniform" in result.message
        assert f"{loss / reference:.1f}x, limit 20x" in result.message


def test_the_training_check_draws_a_stacked_initializer_as_a_stack() -> None:
    """Issue 29 item 3, ``stacked``: an initializer declared for ``(R, in, out)`` stacks is
    called with a stack of one member per layer, never with a bare ``(in, out)`` it
    rejects; undeclared, the same initializer cannot be drawn."""
    import initcheck
    from initcheck.fans import KernelLayout

    seen: list[tuple[int, ...]] = []

    def stacked_he(shape, dtype=None, seed=None):
        seen.append(tuple(shape))
        if len(shape) != 3:
            raise ValueError(f"expects (R, in, out). Received: shape={shape}")
        return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[-2]), shape)

    stacked = KernelLayout("keras", stacked=1)
    result = initcheck.assert_loss_decreases(stacked_he, layout=stacked, batches=100)
    assert result.passed and seen[:3] == [(1, 784, 256), (1, 256, 128), (1, 128, 10)]
    report = initcheck.check(stacked_he, train=True, checks=["training"], batches=100)
    assert not report.passed and "could not draw" in report["training"].message
