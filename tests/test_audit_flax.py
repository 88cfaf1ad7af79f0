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
