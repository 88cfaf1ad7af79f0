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


TOKENS = np.random.default_rng(1).integers(0, 64, (4, 16))


def keras_gpt(std: float, dropout: float) -> object:
    """A pre-norm transformer with Keras's MultiHeadAttention, N(0, σ²) everywhere."""
    import keras

    init = keras.initializers.RandomNormal(stddev=std)

    class Block(keras.layers.Layer):
        def __init__(self) -> None:
            super().__init__()
            self.norm = keras.layers.LayerNormalization()
            self.mha = keras.layers.MultiHeadAttention(
                4, 8, kernel_initializer=init, dropout=dropout
            )

        def call(self, x: object) -> object:
            h = self.norm(x)
            return x + self.mha(h, h, use_causal_mask=True)

    class GPT(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.embed = keras.layers.Embedding(64, 32, embeddings_initializer=init)
            self.blocks = [Block() for _ in range(3)]
            self.head = keras.layers.Dense(64, kernel_initializer=init)

        def call(self, idx: object) -> object:
            x = self.embed(idx)
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    model = GPT()
    model(TOKENS[:1])
    return model


def flax_gpt(std: float, fused: bool, rngs: object) -> object:
    """The same transformer in NNX: nnx.MultiHeadAttention, or q, k, v projections with
    their heads split by ``reshape`` and ``jax.nn.dot_product_attention``."""
    import jax
    from flax import nnx

    init = nnx.initializers.normal(std)

    class Block(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.norm = nnx.LayerNorm(32, rngs=rngs)
            if fused:
                self.mha = nnx.MultiHeadAttention(4, 32, kernel_init=init, decode=False, rngs=rngs)
            else:
                self.qkv = nnx.List(
                    [nnx.Linear(32, 32, kernel_init=init, rngs=rngs) for _ in range(3)]
                )
                self.out = nnx.Linear(32, 32, kernel_init=init, rngs=rngs)

        def __call__(self, x: jax.Array) -> jax.Array:
            h = self.norm(x)
            if fused:
                return x + self.mha(h)
            b, t, d = h.shape
            q, k, v = (f(h).reshape(b, t, 4, d // 4) for f in self.qkv)
            a = jax.nn.dot_product_attention(q, k, v, is_causal=True)
            return x + self.out(a.reshape(b, t, d))

    class GPT(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.embed = nnx.Embed(64, 32, embedding_init=init, rngs=rngs)
            self.blocks = nnx.List([Block(rngs) for _ in range(3)])
            self.head = nnx.Linear(32, 64, kernel_init=init, rngs=rngs)

        def __call__(self, idx: jax.Array) -> jax.Array:
            x = self.embed(idx)
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    return GPT(rngs)


def _check_attention(sound: object, saturated: object) -> None:
    entropies = [e["normalized_entropy"] for e in sound.signal.details["attention"]["entropy"]]
    assert len(entropies) == 3 and min(entropies) > 0.9, entropies  # near uniform
    assert sound.verdict == "passed", str(sound)
    message = saturated.signal.message
    assert not saturated.signal.passed and "attention at init" in message, message
    assert "below the bound 0.3" in message, message


@needs_keras
@pytest.mark.parametrize("dropout", [0.0, 0.1], ids=["fused", "with-dropout"])
def test_keras_attention_at_init_is_measured(dropout: float) -> None:
    """Keras's MultiHeadAttention (its fused op without dropout, its own einsum with it)
    returns its probabilities when asked: σ = 0.02 is near uniform, σ = 1 saturated."""
    sound = initcheck.audit(lambda: keras_gpt(0.02, dropout), variance="auto", inputs=TOKENS)
    saturated = initcheck.audit(lambda: keras_gpt(1.0, dropout), variance="auto", inputs=TOKENS)
    _check_attention(sound, saturated)
    assert "multi_head_attention" in saturated.signal.message


@needs_flax
@pytest.mark.parametrize(
    "fused", [True, False], ids=["MultiHeadAttention", "dot_product_attention"]
)
def test_nnx_attention_at_init_is_measured(fused: bool) -> None:
    """NNX attention, as a module or as ``jax.nn.dot_product_attention`` on heads split
    by ``reshape`` in ``__call__``: q, k, v sit on the block's residual branch (σ = 0.02
    passes under "auto"), and σ = 1 fails naming the saturated attention."""
    sound = initcheck.audit(
        lambda rngs: flax_gpt(0.02, fused, rngs), variance="auto", inputs=TOKENS
    )
    saturated = initcheck.audit(
        lambda rngs: flax_gpt(1.0, fused, rngs), variance="auto", inputs=TOKENS
    )
    _check_attention(sound, saturated)
    assert "dot_product_attention" in saturated.signal.message
