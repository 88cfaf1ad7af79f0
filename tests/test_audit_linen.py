"""initcheck.audit on Flax Linen modules: a definition audited with ``inputs=``, each draw
``module.init`` under a fresh key."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

nn = pytest.importorskip("flax.linen")

import jax.numpy as jnp  # noqa: E402

import initcheck  # noqa: E402

X = jnp.asarray(np.random.default_rng(0).standard_normal((64, 300)), jnp.float32)


class MLP(nn.Module):
    """A ReLU MLP; Flax's default kernel init (LeCun normal) unless ``kinit`` is given."""

    kinit: Any = None
    blocks: int = 4

    @nn.compact
    def __call__(self, x: Any) -> Any:
        kw = {} if self.kinit is None else {"kernel_init": self.kinit}
        for _ in range(self.blocks):
            x = nn.relu(nn.Dense(256, **kw)(x))
        return nn.Dense(10, **kw)(x)


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x: Any) -> Any:
        x = nn.relu(nn.Conv(16, (3, 3), kernel_init=nn.initializers.he_normal())(x))
        x = nn.relu(nn.Conv(32, (3, 3), kernel_init=nn.initializers.he_normal())(x))
        return nn.Dense(10)(x.reshape(x.shape[0], -1))


def test_linen_default_lecun_under_he_fails_at_half_on_every_hidden_kernel() -> None:
    report = initcheck.audit(MLP(), inputs=X, variance="he")
    kernels = [r for r in report.rows if r.role == "kernel"]
    assert [r.layer for r in kernels] == [f"Dense_{i}" for i in range(5)]  # every kernel
    for row in kernels[:-1]:
        assert not row["variance"].passed
        assert row["variance"].statistic == pytest.approx(0.5, rel=0.05)
        assert "LeCun" in row.diagnosis
    assert all(r.drawn == "rebuilt model" for r in kernels)  # module.init per draw
    assert not report.signal.passed and "shrink" in report.signal.message
    assert report.verdict == "failed" and report.framework == "linen"


@pytest.mark.parametrize("variance", ["he", "auto"])
def test_linen_he_normal_passes(variance: str) -> None:
    report = initcheck.audit(MLP(nn.initializers.he_normal()), inputs=X, variance=variance)
    assert report.passed, str(report)
    assert report.coverage["weights_audited"] == report.coverage["weights"] == 10


def test_linen_relu_functions_are_traced_so_auto_reads_he() -> None:
    report = initcheck.audit(MLP(blocks=2), inputs=X, variance="auto")
    for key in ("Dense_0.kernel", "Dense_1.kernel"):  # nn.relu follows: He's 2/fan_in
        row = report.row(key)
        assert row.target.startswith("2/fan_in") and not row.passed, str(report)
    assert report.row("Dense_2.kernel").status == "output head"


def test_linen_conv_kernels_read_flax_layout() -> None:
    x = jnp.asarray(np.random.default_rng(1).standard_normal((8, 16, 16, 3)), jnp.float32)
    report = initcheck.audit(CNN(), inputs=x, variance="he")
    conv = report.row("Conv_1.kernel")
    assert conv.fans == (16 * 9, 32 * 9) and conv.passed, str(report)


def test_linen_without_inputs_says_to_pass_them() -> None:
    with pytest.raises(ValueError, match=r"Linen module \(MLP\).*pass inputs="):
        initcheck.audit(MLP())


LINEN_MODELS = """
import flax.linen as nn
import jax.numpy as jnp
import numpy as np


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(10)(nn.relu(nn.Dense(128)(x)))


model = MLP()


def batch():
    return jnp.asarray(np.random.default_rng(0).standard_normal((32, 100)), jnp.float32)
"""


def test_linen_module_audits_from_the_cli_with_inputs(tmp_path: Any) -> None:
    import subprocess
    import sys

    (tmp_path / "linenmodels.py").write_text(LINEN_MODELS)
    cli = [sys.executable, "-m", "initcheck", "audit", "linenmodels:model", "--variance", "he"]

    def run(*extra: str) -> Any:
        return subprocess.run(
            [*cli, *extra], cwd=tmp_path, capture_output=True, text=True, timeout=600
        )

    bad = run("--inputs", "linenmodels:batch")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Dense_0.kernel" in bad.stdout and "variance too small" in bad.stdout
    missing = run()
    assert missing.returncode == 2 and "pass --inputs" in missing.stderr, missing.stderr
