"""initcheck.audit on Flax NNX models: the third framework behind the same adapter contract."""

from __future__ import annotations

from typing import Any

import pytest

nnx = pytest.importorskip("flax.nnx")

import initcheck  # noqa: E402


def mlp(kernel_init: Any = None, blocks: int = 5, width: int = 256) -> Any:
    """A factory ``f(rngs)``: a ReLU MLP on MNIST, Flax's default init unless given."""

    def build(rngs: Any) -> Any:
        kw = {} if kernel_init is None else {"kernel_init": kernel_init}
        layers: list[Any] = []
        d = 784
        for _ in range(blocks):
            layers += [nnx.Linear(d, width, rngs=rngs, **kw), nnx.relu]
            d = width
        layers.append(nnx.Linear(d, 10, rngs=rngs, **kw))
        return nnx.Sequential(*layers)

    return build


def test_flax_default_lecun_under_he_fails_at_half_on_every_hidden_kernel() -> None:
    report = initcheck.audit(mlp(), variance="he")
    kernels = [r for r in report.rows if r.role == "kernel"]
    assert len(kernels) == 6  # every kernel gets a row
    assert [r.layer for r in kernels] == [f"layers.{i}" for i in range(0, 12, 2)]
    for row in kernels[:-1]:
        var = row["variance"]
        assert not var.passed
        assert var.statistic == pytest.approx(0.5, rel=0.05)
        assert "LeCun" in row.diagnosis
    assert not report.signal.passed and "shrink" in report.signal.message
    assert report.verdict == "failed" and report.framework == "flax"


@pytest.mark.parametrize("variance", ["he", "auto"])
def test_flax_he_normal_passes(variance: str) -> None:
    report = initcheck.audit(mlp(nnx.initializers.he_normal()), variance=variance)
    if variance == "he":
        assert report.passed, str(report)
    else:  # the output head is reported, not decided, under "auto"
        assert report.passed, str(report)
        assert report.row("layers.10.kernel").status == "output head"
    assert report.coverage["weights_audited"] == report.coverage["weights"] == 12


def test_flax_instance_is_audited_from_its_own_values() -> None:
    model = mlp(nnx.initializers.he_normal(), blocks=2, width=512)(nnx.Rngs(3))
    report = initcheck.audit(model, variance="auto")
    hidden = [r for r in report.rows if r.role == "kernel" and not r.status]
    assert len(hidden) == 2 and all(r.passed for r in hidden), str(report)
    assert all("instance's own values" in r.note for r in hidden)
    # one draw only: the seeds check cannot run, and small weights may be undecidable
    assert "seeds" not in {c.check for r in report.rows for c in r.results}
    assert report.signal.passed


FLAX_MODELS = """
from flax import nnx


class Net(nnx.Module):
    def __init__(self, *, rngs: nnx.Rngs, he: bool = False):  # as Flax's examples write it
        kw = {"kernel_init": nnx.initializers.he_normal()} if he else {}
        self.a = nnx.Linear(784, 256, rngs=rngs, **kw)
        self.b = nnx.Linear(256, 256, rngs=rngs, **kw)
        self.c = nnx.Linear(256, 10, rngs=rngs, **kw)

    def __call__(self, x):
        return self.c(nnx.relu(self.b(nnx.relu(self.a(x)))))


def he_net(rngs: nnx.Rngs):
    return Net(rngs=rngs, he=True)
"""


def test_flax_models_audit_from_the_cli_and_the_gate(tmp_path: Any) -> None:
    """The console script and the gate take a Flax factory (and a Module class whose
    ``rngs`` is keyword-only, issue 29 item 5) like a torch or Keras one: the default LeCun
    kernels fail "he", He-normal ones pass."""
    import subprocess
    import sys

    (tmp_path / "flaxmodels.py").write_text(FLAX_MODELS)
    cli = [sys.executable, "-m", "initcheck", "audit"]
    bad = subprocess.run(
        [*cli, "flaxmodels:Net", "--variance", "he", "--no-signal"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "b.kernel" in bad.stdout and "variance too small" in bad.stdout
    good = subprocess.run(
        [*cli, "flaxmodels:he_net", "--variance", "he"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\npythonpath = ["."]\n\n'
        '[tool.initcheck.models.he]\ntarget = "flaxmodels:he_net"\nvariance = "he"\n\n'
        '[tool.initcheck.models.default]\ntarget = "flaxmodels:Net"\nvariance = "he"\n'
    )
    gate = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert gate.returncode == 1, gate.stdout + gate.stderr
    failed = [line for line in gate.stdout.splitlines() if line.startswith("FAILED")]
    assert failed and all("initcheck::default::" in line for line in failed), gate.stdout
    assert any("initcheck::default::b.kernel::variance" in line for line in failed)


class KeywordRngs(nnx.Module):
    """Written as Flax's own examples write modules: ``rngs`` keyword-only."""

    def __init__(self, *, rngs: nnx.Rngs):
        he = nnx.initializers.he_normal()
        self.a = nnx.Linear(64, 64, kernel_init=he, rngs=rngs)
        self.b = nnx.Linear(64, 64, kernel_init=he, rngs=rngs)

    def __call__(self, x):
        return self.b(nnx.relu(self.a(x)))


def test_a_module_class_with_keyword_only_rngs_is_a_factory() -> None:
    """Issue 29 item 5: the class is built with a fresh ``rngs=`` per draw, so every
    check (seeds included) runs and a sound He net passes."""
    report = initcheck.audit(KeywordRngs, variance="he")
    assert report.passed, str(report)
    checks = {c.check for r in report.rows if r.role == "kernel" for c in r.results}
    assert "seeds" in checks


def test_a_factory_that_builds_the_same_weights_is_told_to_take_rngs() -> None:
    """A zero-arg factory seeding its own ``nnx.Rngs(0)`` gives the same weights on every
    build: the remedy is to take ``rngs``, not ``deterministic=True``."""
    report = initcheck.audit(lambda: KeywordRngs(rngs=nnx.Rngs(0)), variance="he")
    assert not report.passed
    seeds = [c for r in report.rows for c in r.results if c.check == "seeds"]
    assert seeds and all(not c.passed for c in seeds)
    for c in seeds:
        assert "take `rngs` as a parameter (`def build(rngs): …`)" in c.message, c.message
        assert "deterministic=True" not in c.message


def test_batch_statistics_are_not_weights_to_audit() -> None:
    """nnx.BatchNorm's running mean and var (nnx.BatchStat) are statistics, not an init:
    only nnx.Param variables get rows (issue 26 item 4)."""

    class Net(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            init = nnx.initializers.he_normal()
            self.a = nnx.Linear(16, 32, kernel_init=init, rngs=rngs)
            self.bn = nnx.BatchNorm(32, rngs=rngs)
            self.b = nnx.Linear(32, 4, rngs=rngs)

        def __call__(self, x):
            return self.b(nnx.relu(self.bn(self.a(x))))

    report = initcheck.audit(Net, variance="auto", signal=False)
    assert {r.name for r in report.rows if r.layer == "bn"} == {"bn.scale", "bn.bias"}
    assert report.verdict != "incomplete", str(report)


def test_a_model_built_by_eval_shape_is_refused_with_the_remedy() -> None:
    """nnx.eval_shape builds shapes without values: not audited (PyTorch's meta device
    only, for now), and the error says what to pass instead."""

    class Net(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.fc = nnx.Linear(8, 8, rngs=rngs)

        def __call__(self, x: Any) -> Any:
            return self.fc(x)

    abstract = nnx.eval_shape(lambda: Net(nnx.Rngs(0)))
    with pytest.raises(TypeError, match=r"fc\.(kernel|bias) .* is a jax\.ShapeDtypeStruct") as info:
        initcheck.audit(abstract)
    assert "PyTorch only for now" in str(info.value) and "lambda rngs" in str(info.value)
