"""The numpy training engine: the classic MLP's gradients and Adam, stacked and split."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from initcheck._fpenv import flush_denormals
from initcheck.stacked_mlp import BETA_1, BETA_2, EPSILON, LEARNING_RATE, StackedMLP
from initcheck.training_runs import KERNEL_SHAPES


def _kernels(seed: int, scale: float = 1.0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        (scale * rng.normal(0, np.sqrt(2 / i), (i, o))).astype(np.float32) for i, o in KERNEL_SHAPES
    ]


def _data(n: int = 512) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (n, 784)).astype(np.float32)
    x[:, :40] = 0  # dead inputs, as MNIST's border pixels (the engine skips them)
    x[rng.uniform(size=x.shape) < 0.7] = 0
    return x, rng.integers(0, 10, n)


def _reference(kernels, x, y, idx) -> tuple[np.ndarray, list[np.ndarray]]:
    """One network, float64, written out plainly: losses before each Adam step."""
    w = [k.astype(np.float64) for k in kernels]
    b = [np.zeros(k.shape[1]) for k in kernels]
    params = [*w, *b]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    losses = []
    for t, rows in enumerate(idx, start=1):
        xb, yb = x[rows].astype(np.float64), y[rows]
        h1 = xb @ w[0] + b[0]
        a1 = np.maximum(h1, 0)
        h2 = a1 @ w[1] + b[1]
        a2 = np.maximum(h2, 0)
        z = a2 @ w[2] + b[2]
        z = z - z.max(axis=1, keepdims=True)
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        losses.append(-np.log(p[np.arange(len(yb)), yb]).mean())
        dz = p.copy()
        dz[np.arange(len(yb)), yb] -= 1
        dz /= len(yb)
        da2 = dz @ w[2].T * (h2 > 0)
        da1 = da2 @ w[1].T * (h1 > 0)
        grads = [xb.T @ da1, a1.T @ da2, a2.T @ dz, da1.sum(0), da2.sum(0), dz.sum(0)]
        lr_t = LEARNING_RATE * np.sqrt(1 - BETA_2**t) / (1 - BETA_1**t)
        for i, g in enumerate(grads):
            m[i] = BETA_1 * m[i] + (1 - BETA_1) * g
            v[i] = BETA_2 * v[i] + (1 - BETA_2) * g * g
            params[i] -= lr_t * m[i] / (np.sqrt(v[i]) + EPSILON)
    return np.array(losses), params


def test_the_engine_computes_the_plain_networks_losses_and_adam_updates():
    """Against a float64 network written out plainly: same losses at every step, same
    weights after, for each of several stacked networks (inputs that are always zero,
    skipped by the engine, included)."""
    x, y = _data()
    idx = np.arange(512).reshape(8, 64)
    kernels = [_kernels(s) for s in range(3)]
    net = StackedMLP(kernels)
    losses = net.fit(x, y, idx)
    assert losses.shape == (8, 3)
    for j, k in enumerate(kernels):
        ref_losses, (w1, w2, w3, b1, b2, b3) = _reference(k, x, y, idx)
        np.testing.assert_allclose(losses[:, j], ref_losses, rtol=2e-4)
        ref_logits = np.maximum(np.maximum(x @ w1 + b1, 0) @ w2 + b2, 0) @ w3 + b3
        np.testing.assert_allclose(net.logits(x)[j], ref_logits, rtol=1e-3, atol=1e-3)


def test_inputs_that_are_always_zero_keep_their_kernel_rows():
    """Adam moves a weight only where its gradient ever was non-zero: the skipped rows
    of the first kernel come back exactly as drawn."""
    x, y = _data()
    kernels = [_kernels(0)]
    before = kernels[0][0][:40].copy()
    net = StackedMLP(kernels)
    net.fit(x, y, np.arange(512).reshape(4, 128))
    w1 = net._stacks[0].w1[0]
    np.testing.assert_array_equal(w1[:40], before)
    assert not np.array_equal(w1[40:], kernels[0][0][40:])


@pytest.mark.parametrize("m", [1, 2, 5])
def test_a_network_trains_the_same_alone_or_stacked_with_others(m):
    x, y = _data()
    idx = np.arange(512).reshape(4, 128)
    kernels = [_kernels(s) for s in range(m)]
    together = StackedMLP(kernels).fit(x, y, idx)
    for j, k in enumerate(kernels):
        alone = StackedMLP([k]).fit(x, y, idx)[:, 0]
        np.testing.assert_allclose(together[:, j], alone, rtol=1e-5)


def test_a_diverging_network_gives_non_finite_losses_without_warnings():
    x, y = _data()
    kernels = [_kernels(0, scale=1e12), _kernels(1)]
    with np.errstate(all="raise"):
        losses = StackedMLP(kernels).fit(x, y, np.arange(512).reshape(4, 128))
    assert np.isfinite(losses[:, 1]).all()
    assert losses[0, 0] > 1e6 or not np.isfinite(losses[:, 0]).all()


def test_flush_denormals_belongs_to_the_thread_that_sets_it():
    tiny = np.float32(1e-39)  # a denormal float32
    seen: list[object] = []

    def worker() -> None:
        seen.append(flush_denormals())
        seen.append(float(tiny * np.float32(0.5)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    if not seen[0]:
        pytest.skip("this platform's floating-point environment is not known to initcheck")
    assert seen[1] == 0.0
    assert float(tiny * np.float32(0.5)) > 0  # the caller's thread is untouched
