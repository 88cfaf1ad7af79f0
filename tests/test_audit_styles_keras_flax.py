"""The audit on Keras and Flax models written the way users write them: subclassed Keras
models with layers in a list and ``keras.ops.relu`` in ``call()``, ``activation=``
arguments, pooled heads; NNX modules calling ``nnx.relu`` / ``jax.nn.relu`` in
``__call__``. The same MLP in PyTorch, Keras and Flax gets the same verdict.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import initcheck

WIDTH, DEPTH = 128, 6
X = np.random.default_rng(0).standard_normal((32, 24)).astype("float32")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


needs_keras = pytest.mark.skipif(not _has("keras"), reason="Keras is not installed")
needs_flax = pytest.mark.skipif(not _has("flax"), reason="Flax is not installed")
needs_torch = pytest.mark.skipif(not _has("torch"), reason="PyTorch is not installed")


def keras_mlp(init: str, style: str = "ops") -> object:
    import keras

    class MLP(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            act = "relu" if style == "arg" else None
            self.hidden = [
                keras.layers.Dense(WIDTH, kernel_initializer=init, activation=act)
                for _ in range(DEPTH)
            ]
            self.head = keras.layers.Dense(10)

        def call(self, x: object) -> object:
            for layer in self.hidden:
                x = layer(x)
                if style == "ops":
                    x = keras.ops.relu(x)
            return self.head(x)

    model = MLP()
    model(X[:1])  # built: the audit reads its input shape
    return model


def flax_mlp(init: str, fn: str, rngs: object) -> object:
    import jax
    from flax import nnx

    kernel_init = {"he_normal": nnx.initializers.he_normal(), "lecun_normal": None}[init]
    kernel_init = kernel_init or nnx.initializers.lecun_normal()

    class MLP(nnx.Module):
        def __init__(self, *, rngs: nnx.Rngs) -> None:
            layers = [
                nnx.Linear(24 if i == 0 else WIDTH, WIDTH, kernel_init=kernel_init, rngs=rngs)
                for i in range(DEPTH)
            ]
            self.layers = nnx.List(layers) if hasattr(nnx, "List") else layers
            self.head = nnx.Linear(WIDTH, 10, rngs=rngs)

        def __call__(self, x: object) -> object:
            act = nnx.relu if fn == "nnx" else jax.nn.relu
            for layer in self.layers:
                x = act(layer(x))
            return self.head(x)

    return MLP(rngs=rngs)


def torch_mlp(init: str) -> object:
    import torch
    import torch.nn.functional as F
    from torch import nn

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.layers = nn.ModuleList(
                [nn.Linear(24 if i == 0 else WIDTH, WIDTH) for i in range(DEPTH)]
            )
            self.head = nn.Linear(WIDTH, 10)
            for layer in self.layers:
                rule = "relu" if init == "he_normal" else "linear"
                nn.init.kaiming_normal_(layer.weight, nonlinearity=rule)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for layer in self.layers:
                x = F.relu(layer(x))
            return self.head(x)

    return MLP()


def _hidden_failing(report: object) -> list[str]:
    return [
        r.name
        for r in report.rows  # type: ignore[attr-defined]
        if r.role == "kernel" and not r.passed and not r.layer.endswith("head")
    ]


@needs_keras
@pytest.mark.parametrize("style", ["ops", "arg"])
def test_keras_subclassed_mlp_he_passes_lecun_fails(style: str) -> None:
    sound = initcheck.audit(lambda: keras_mlp("he_normal", style), variance="auto", inputs=X)
    assert sound.verdict == "passed", str(sound)
    assert len([r for r in sound.rows if r.role == "kernel"]) == DEPTH + 1  # every weight
    assert "measured gain 0.5" in next(r for r in sound.rows if r.role == "kernel").note
    broken = initcheck.audit(lambda: keras_mlp("lecun_normal", style), variance="auto", inputs=X)
    assert broken.verdict == "failed"
    assert len(_hidden_failing(broken)) == DEPTH - 1  # the first layer's fan_out admits it
    assert "lecun" in broken.text().lower()  # the diagnosis names the rule it matches


@needs_keras
def test_keras_subclassed_model_built_from_its_build_shape() -> None:
    report = initcheck.audit(lambda: keras_mlp("he_normal"), variance="auto")
    assert report.signal is not None and report.signal.passed, str(report)
    assert "default batch of shape (32, 24)" in report.signal.message


@needs_keras
@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called:UserWarning")
def test_keras_unbuilt_subclassed_model_says_how_to_pass_inputs() -> None:
    import keras

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = keras.layers.Dense(4)

        def call(self, x: object) -> object:
            return self.dense(x)

    model = Net()
    model.build((None, 3))  # weights exist; no input spec a batch could be built from
    model._build_shapes_dict = None  # as a model built by assigning weights directly
    report = initcheck.audit(model, variance="auto")
    assert report.signal is not None and report.signal.verdict == "inconclusive"
    assert "could not build a batch" in report.signal.message
    assert "inputs=" in report.signal.message and "--inputs" in report.signal.message
    assert report.verdict != "passed"


@needs_keras
@pytest.mark.parametrize("init", ["he_normal", "lecun_normal"])
def test_keras_subclassed_convnet_activation_argument_is_measured(init: str) -> None:
    """A pooled Keras ConvNet with ``activation="relu"``: He passes, LeCun fails naming
    the measured gain (the torch and NNX CNNs' verdicts)."""
    import keras

    class ConvNet(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.convs = [
                keras.layers.Conv2D(
                    16, 3, padding="same", activation="relu", kernel_initializer=init
                )
                for _ in range(5)
            ]
            self.pool = keras.layers.GlobalAveragePooling2D()
            self.head = keras.layers.Dense(10)

        def call(self, x: object) -> object:
            for conv in self.convs:
                x = conv(x)
            return self.head(self.pool(x))

    def build() -> object:
        model = ConvNet()
        model(np.zeros((1, 16, 16, 3), "float32"))
        return model

    x = np.random.default_rng(1).standard_normal((8, 16, 16, 3)).astype("float32")
    report = initcheck.audit(build, variance="auto", inputs=x)
    assert "no activation follows" not in report.text(verbose=True)
    if init == "he_normal":
        assert report.verdict == "passed", str(report)
    else:
        failing = [f for f in report.findings if f.kind == "fail"]
        assert failing and "gain 0.5" in " ".join(f.messages[0] for f in failing), str(report)


def _check_stream(report: object, branch_scale: float) -> None:
    """Branches scaled by 1/depth² grow the stream linearly (passes), full ones
    geometrically (fails)."""
    signal = report.signal  # type: ignore[attr-defined]
    assert signal is not None
    if branch_scale < 1:
        assert signal.passed, str(report)
        assert f"residual stream over {DEPTH} blocks" in signal.message, signal.message
    else:
        assert not signal.passed and "grows geometrically" in signal.message, signal.message


@needs_keras
@pytest.mark.parametrize("branch_scale", [1.0 / DEPTH**2, 1.0], ids=["scaled", "full"])
def test_keras_residual_written_as_plus_in_call_is_the_stream(branch_scale: float) -> None:
    """``h = h + f(h)`` in a subclassed model's ``call()`` is a residual merge, as
    ``keras.ops.add`` is, so the signal is judged as a residual stream over the blocks,
    as the same model written in torch is (issue 26: Keras ``x + y`` in ``call()``).
    Branches scaled by 1/depth² keep the stream's growth linear (passes); full-variance
    branches double it per block in an unnormalized net (fails, geometric)."""
    import keras

    class Res(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            he = "he_normal"
            out = keras.initializers.VarianceScaling(scale=branch_scale)
            self.inp = keras.layers.Dense(64, kernel_initializer=he)
            self.branches = [
                (
                    keras.layers.Dense(64, kernel_initializer=he),
                    keras.layers.Dense(64, kernel_initializer=out),
                )
                for _ in range(DEPTH)
            ]
            self.head = keras.layers.Dense(10)

        def call(self, x: object) -> object:
            h = self.inp(x)
            for a, b in self.branches:
                h = h + b(keras.ops.relu(a(h)))
            return self.head(h)

    def build() -> object:
        model = Res()
        model(np.zeros((1, 24), "float32"))
        return model

    _check_stream(initcheck.audit(build, variance="auto", inputs=X), branch_scale)


@needs_flax
@pytest.mark.parametrize("branch_scale", [1.0 / DEPTH**2, 1.0], ids=["scaled", "full"])
def test_nnx_residual_written_as_plus_in_call_is_the_stream(branch_scale: float) -> None:
    """``h = h + f(h)`` in an NNX ``__call__`` is a residual merge (the JAX trace records
    ``+`` of two recorded arrays), so the same model as the Keras one above gets the same
    verdicts: linear growth passes, geometric fails."""
    import jax
    from flax import nnx

    class Res(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            he = nnx.initializers.he_normal()
            out = nnx.initializers.variance_scaling(branch_scale, "fan_in", "truncated_normal")
            self.inp = nnx.Linear(24, 64, kernel_init=he, rngs=rngs)
            self.a = nnx.List([nnx.Linear(64, 64, kernel_init=he, rngs=rngs) for _ in range(DEPTH)])
            self.b = nnx.List(
                [nnx.Linear(64, 64, kernel_init=out, rngs=rngs) for _ in range(DEPTH)]
            )
            self.head = nnx.Linear(64, 10, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            h = self.inp(x)
            for a, b in zip(self.a, self.b, strict=True):
                h = h + b(nnx.relu(a(h)))
            return self.head(h)

    _check_stream(initcheck.audit(Res, variance="auto", inputs=X), branch_scale)


@needs_flax
@pytest.mark.parametrize("fn", ["nnx", "jax"])
def test_nnx_functions_in_call_are_measured(fn: str) -> None:
    sound = initcheck.audit(lambda rngs: flax_mlp("he_normal", fn, rngs), variance="auto", inputs=X)
    assert sound.verdict == "passed", str(sound)
    broken = initcheck.audit(
        lambda rngs: flax_mlp("lecun_normal", fn, rngs), variance="auto", inputs=X
    )
    assert broken.verdict == "failed"
    assert len(_hidden_failing(broken)) == DEPTH - 1
    assert "he_normal" in broken.text()  # the fix agrees with the measured ReLU gain


@needs_torch
@needs_keras
@needs_flax
@pytest.mark.parametrize("init", ["he_normal", "lecun_normal"])
def test_the_same_mlp_gets_the_same_verdict_in_every_framework(init: str) -> None:
    reports = {
        "torch": initcheck.audit(lambda: torch_mlp(init), variance="auto", inputs=X),
        "keras": initcheck.audit(lambda: keras_mlp(init), variance="auto", inputs=X),
        "flax": initcheck.audit(
            lambda rngs: flax_mlp(init, "nnx", rngs), variance="auto", inputs=X
        ),
    }
    verdicts = {fw: r.verdict for fw, r in reports.items()}
    expected = "passed" if init == "he_normal" else "failed"
    assert set(verdicts.values()) == {expected}, verdicts
    counts = {fw: len(_hidden_failing(r)) for fw, r in reports.items()}
    assert len(set(counts.values())) == 1, counts


@needs_flax
@pytest.mark.parametrize("head", ["gap", "flatten"])
def test_nnx_relu_cnn_with_pooled_or_flattened_head_passes_with_he_fails_with_lecun(
    head: str,
) -> None:
    """A plain NNX CNN with ``nnx.relu`` and ``nnx.max_pool`` in ``__call__``, then a
    global-average or flattened head: He passes under "auto", LeCun (half He's variance
    under ReLU) fails naming the measured gain, as the torch CNN does."""
    import jax
    from flax import nnx

    def build(init: str) -> object:
        kernel_init = {"he": nnx.initializers.he_normal(), "lecun": nnx.initializers.lecun_normal()}
        ki = kernel_init[init]

        class CNN(nnx.Module):
            def __init__(self, rngs: nnx.Rngs) -> None:
                self.convs = nnx.List(
                    [
                        nnx.Conv(3 if i == 0 else 16, 16, (3, 3), kernel_init=ki, rngs=rngs)
                        for i in range(6)
                    ]
                )
                self.head = nnx.Linear(16 if head == "gap" else 16 * 4 * 4, 10, rngs=rngs)

            def __call__(self, x: jax.Array) -> jax.Array:
                for i, conv in enumerate(self.convs):
                    x = nnx.relu(conv(x))
                    if i == 2:
                        x = nnx.max_pool(x, (2, 2), (2, 2))
                x = x.mean((1, 2)) if head == "gap" else x.reshape(x.shape[0], -1)
                return self.head(x)

        return CNN

    x = np.random.default_rng(2).standard_normal((8, 8, 8, 3)).astype("float32")
    sound = initcheck.audit(build("he"), variance="auto", inputs=x)
    assert sound.verdict == "passed", str(sound)
    broken = initcheck.audit(build("lecun"), variance="auto", inputs=x)
    assert broken.verdict == "failed"
    failing = [f for f in broken.findings if f.kind == "fail"]
    assert failing and "gain 0.5" in " ".join(f.messages[0] for f in failing), str(broken)
