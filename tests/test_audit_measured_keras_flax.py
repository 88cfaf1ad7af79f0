"""Measured, not named, in Keras and Flax NNX (issue 26 item 9): a user-written norm
layer or module, named like no norm, is read as a normalization because its traced call
does not change when its input is scaled; each per-channel weight's meaning comes from
what adding 1 to it does to the output (a gain: meant 1; a shift: meant 0). A gain off 1
fails naming the value and the target, as in PyTorch (``test_audit_measured.py``)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

import initcheck

X = np.random.default_rng(0).standard_normal((32, 48)).astype("float32")
WIDTH = 48


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


needs_keras = pytest.mark.skipif(
    not _has("keras") or os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
    reason="the Keras signal trace needs Keras on TensorFlow",
)
needs_flax = pytest.mark.skipif(not _has("flax"), reason="Flax is not installed")


def keras_net(gain: float) -> object:
    import keras
    from keras import ops

    class Standardize(keras.layers.Layer):  # LayerNorm written by hand, named like no norm
        def build(self, shape: tuple) -> None:
            self.g = self.add_weight(shape=(shape[-1],), initializer="ones", name="g")
            self.b = self.add_weight(shape=(shape[-1],), initializer="zeros", name="b")

        def call(self, x: object) -> object:
            mean = ops.mean(x, axis=-1, keepdims=True)
            var = ops.mean(ops.square(x - mean), axis=-1, keepdims=True)
            return (x - mean) * ops.rsqrt(var + 1e-6) * self.g + self.b

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.dense = [
                keras.layers.Dense(WIDTH, kernel_initializer="he_normal") for _ in range(3)
            ]
            self.norms = [Standardize() for _ in range(3)]
            self.head = keras.layers.Dense(10, kernel_initializer="lecun_normal")

        def call(self, x: object) -> object:
            for d, n in zip(self.dense, self.norms, strict=True):
                x = ops.relu(d(n(x)))
            return self.head(x)

    model = Net()
    model(X[:1])
    for n in model.norms:
        n.g.assign(np.full((WIDTH,), gain, "float32"))
    return model


def flax_net(gain: float, rngs: object) -> object:
    import jax
    import jax.numpy as jnp
    from flax import nnx

    class Standardize(nnx.Module):
        def __init__(self, d: int) -> None:
            self.g = nnx.Param(jnp.full((d,), gain))
            self.b = nnx.Param(jnp.zeros((d,)))

        def __call__(self, x: jax.Array) -> jax.Array:
            mean = x.mean(-1, keepdims=True)
            var = ((x - mean) ** 2).mean(-1, keepdims=True)
            return (x - mean) * jax.lax.rsqrt(var + 1e-6) * self.g[...] + self.b[...]

    class Net(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            he = nnx.initializers.he_normal()
            self.dense = nnx.List(
                [nnx.Linear(WIDTH, WIDTH, kernel_init=he, rngs=rngs) for _ in range(3)]
            )
            self.norms = nnx.List([Standardize(WIDTH) for _ in range(3)])
            self.head = nnx.Linear(WIDTH, 10, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            for d, n in zip(self.dense, self.norms, strict=True):
                x = nnx.relu(d(n(x)))
            return self.head(x)

    return Net(rngs)


def _audit(framework: str, gain: float) -> object:
    if framework == "keras":
        return initcheck.audit(lambda: keras_net(gain), variance="auto", inputs=X)
    return initcheck.audit(lambda rngs: flax_net(gain, rngs), variance="auto", inputs=X)


@pytest.mark.parametrize(
    "framework", [pytest.param("keras", marks=needs_keras), pytest.param("flax", marks=needs_flax)]
)
def test_a_norm_named_like_no_norm_is_measured_gain_1_and_shift_0(framework: str) -> None:
    report = _audit(framework, 1.0)
    norms = [r for r in report.rows if r.layer_type == "Standardize"]
    assert len(norms) == 6 and all(r.role == "constant" for r in norms), str(report)
    gains = [r for r in norms if r.param in ("g",) or r.name.endswith(".g")]
    shifts = [r for r in norms if r not in gains]
    assert all("a gain, meant 1" in r.note for r in gains), [r.note for r in gains]
    assert all("a shift, meant 0" in r.note for r in shifts), [r.note for r in shifts]
    assert report.verdict == "passed", str(report)


@pytest.mark.parametrize(
    "framework", [pytest.param("keras", marks=needs_keras), pytest.param("flax", marks=needs_flax)]
)
def test_a_norm_gain_off_one_fails_naming_the_value_and_the_target(framework: str) -> None:
    report = _audit(framework, 0.5)
    assert report.verdict == "failed"
    failing = [r for r in report.failed_rows if r.layer_type == "Standardize"]
    assert len(failing) == 3, str(report)
    message = failing[0].failures[0].message
    assert "expected every value = 1" in message and "0.5" in message, message
