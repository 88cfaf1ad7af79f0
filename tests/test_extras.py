"""A framework's user needs only their framework (issue 28).

Each test is one user's whole flow, in a project shaped like theirs: an initializer check
with MNIST training, a model audit, the gate from ``pyproject.toml``, the HTML report. At
the end of the session the project's ``conftest.py`` records which deep-learning
frameworks the process imported: the PyTorch flow imports neither TensorFlow nor Keras nor
JAX, and the JAX flow neither TensorFlow nor Keras nor PyTorch. In the main suite every
framework is installed, so this shows that nothing loads one the user did not ask for;
``.ci/run`` also runs these tests in venvs with only ``.[torch]`` or ``.[jax,flax]``
installed, where ``import tensorflow`` fails.
"""

from __future__ import annotations

import importlib.util
import json

import pytest

FRAMEWORKS = ("tensorflow", "keras", "torch", "jax", "flax")

CONFTEST = """\
import json
import sys


def pytest_sessionfinish(session):
    loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({frameworks!r}))
    with open("frameworks_loaded.json", "w") as f:
        json.dump(loaded, f)
"""

TORCH_CODE = """\
import torch
import torch.nn as nn
import torch.nn.functional as F


def kaiming(tensor):
    return nn.init.kaiming_normal_(tensor, nonlinearity="relu")


def too_small(tensor):
    return nn.init.normal_(tensor, std=0.01)


class MLP(nn.Module):
    def __init__(self, init=kaiming):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(64, 64) for _ in range(4)])
        for layer in self.layers:
            init(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        for layer in self.layers:
            x = F.relu(layer(x))
        return x
"""

TORCH_TESTS = """\
import initcheck
import pytest
from initcheck.initializers import torch_initializer

from mypkg.code import MLP, kaiming, too_small

kaiming = torch_initializer(kaiming)
too_small = torch_initializer(too_small)


def test_kaiming_trains(initcheck):
    report = initcheck.check(kaiming, layout="torch", variance="he", train=True)
    assert report.passed, report
    assert report["training"].passed


def test_helpers_catch_a_small_init():
    initcheck.assert_variance(kaiming, "he", (64, 32), layout="torch")
    with pytest.raises(initcheck.InitCheckFailure, match="variance"):
        initcheck.assert_variance(too_small, "he", (64, 32), layout="torch")


def test_audit():  # a factory: initcheck draws each weight anew
    assert initcheck.audit(MLP).passed
    assert not initcheck.audit(lambda: MLP(too_small.fn), variance="he").passed
"""

TORCH_GATE = """\
[tool.initcheck.initializers.kaiming]
target = "mypkg.code:kaiming"
framework = "torch"
layout = "torch"
variance = "he"
train = true

[tool.initcheck.models.mlp]
target = "mypkg.code:MLP"
variance = "auto"
"""

JAX_CODE = """\
import jax
from flax import nnx

he = jax.nn.initializers.he_normal()
too_small = jax.nn.initializers.normal(0.01)


class MLP(nnx.Module):
    def __init__(self, rngs, init=he):
        layers = [nnx.Linear(64, 64, kernel_init=init, rngs=rngs) for _ in range(4)]
        self.layers = nnx.List(layers)

    def __call__(self, x):
        for layer in self.layers:
            x = nnx.relu(layer(x))
        return x


class SmallMLP(MLP):
    def __init__(self, rngs):
        super().__init__(rngs, init=too_small)
"""

JAX_TESTS = """\
import initcheck
import pytest

from mypkg.code import MLP, SmallMLP, he, too_small


def test_he_trains(initcheck):
    report = initcheck.check(he, variance="he", train=True)
    assert report.passed, report
    assert report["training"].passed


def test_helpers_catch_a_small_init():
    initcheck.assert_variance(he, "he", (64, 32))
    with pytest.raises(initcheck.InitCheckFailure, match="variance"):
        initcheck.assert_variance(too_small, "he", (64, 32))


def test_audit():  # the class: initcheck builds it with fresh rngs per draw
    assert initcheck.audit(MLP).passed
    assert not initcheck.audit(SmallMLP, variance="he").passed
"""

JAX_GATE = """\
[tool.initcheck.initializers.he]
target = "mypkg.code:he"
variance = "he"
train = true

[tool.initcheck.models.mlp]
target = "mypkg.code:MLP"
variance = "auto"
"""

FLOWS = {
    "torch": (("torch",), TORCH_CODE, TORCH_TESTS, TORCH_GATE, "kaiming"),
    "jax": (("jax", "flax"), JAX_CODE, JAX_TESTS, JAX_GATE, "he"),
}


@pytest.mark.slow
@pytest.mark.parametrize("flow", sorted(FLOWS))
def test_a_framework_users_flow_loads_only_their_framework(pytester, flow):
    needs, code, tests, gate, name = FLOWS[flow]
    for module in needs:
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"the {flow} flow needs {module} (the [{flow}] extra)")
    pytester.makepyfile(**{"mypkg/__init__": "", "mypkg/code": code})
    pytester.makepyfile(test_user=tests)
    pytester.makeconftest(CONFTEST.format(frameworks=FRAMEWORKS))
    pytester.makefile(".toml", pyproject=gate)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--initcheck-report", "reports/r.html", "-v", timeout=900
    )
    assert result.ret == 0, "\n".join(result.outlines[-40:] + result.errlines[-20:])
    result.assert_outcomes(passed=result.parseoutcomes()["passed"])
    result.stdout.fnmatch_lines(
        [f"*initcheck::{name}::training PASSED*", "*initcheck::mlp::*::variance PASSED*"]
    )
    html = (pytester.path / "reports" / "r.html").read_text()
    assert name in html
    assert "mlp" in html
    loaded = json.loads((pytester.path / "frameworks_loaded.json").read_text())
    assert set(loaded) <= set(needs), f"the {flow} flow imported {loaded}"
