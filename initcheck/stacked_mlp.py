"""M copies of the classic MLP trained side by side with Adam, in numpy.

The engine of :mod:`initcheck.training`. It needs no deep-learning framework: the network
is small (784-256-128-10, 4,000 training images), so its forward and backward passes are a
handful of float32 matrix products that numpy's BLAS runs as fast as a framework would.

Stacking: the M networks' kernels are stacked into ``(M, 784, 256)``, ``(M, 256, 128)``
and ``(M, 128, 10)`` arrays, and each layer is one batched product. Every network's
products have the same shapes whatever M is, so a network's numbers do not depend on which
others train beside it. The networks are independent: the loss summed over the M networks
has, for each network's weights, the gradient of that network's own loss, and Adam is
elementwise, so stacking is exact.

Adam is the TF1 ``AdamOptimizer`` update the notebook used (Kingma & Ba, 2015, with the
bias correction folded into the step size)::

    m ← β₁ m + (1 − β₁) g;   v ← β₂ v + (1 − β₂) g²;
    p ← p − lr · √(1 − β₂ᵗ) / (1 − β₁ᵗ) · m / (√v + ε)

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> kernels = [[rng.normal(0, (2 / i) ** 0.5, (i, o)).astype("float32")
    ...             for i, o in ((784, 256), (256, 128), (128, 10))]]
    >>> net = StackedMLP(kernels)
    >>> x = rng.uniform(0, 1, (256, 784)).astype("float32")
    >>> y = rng.integers(0, 10, 256)
    >>> losses = net.fit(x, y, np.arange(256).reshape(2, 128))
    >>> losses.shape
    (2, 1)
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import threadpool_limits

from initcheck._fpenv import flush_denormals

LEARNING_RATE = 1e-3
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8  # TF1 AdamOptimizer defaults, as in the notebook


_CHUNK = 1 << 15  # values per piece of Adam's update: its five arrays stay in L2 cache


def _adam_piece(
    p: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray, tmp: np.ndarray, lr_t: float
) -> None:
    m *= BETA_1
    np.multiply(g, 1 - BETA_1, out=tmp)
    m += tmp
    v *= BETA_2
    np.multiply(g, g, out=tmp)
    tmp *= 1 - BETA_2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp += EPSILON
    np.divide(m, tmp, out=tmp)
    tmp *= lr_t
    p -= tmp


class _Adam:
    """Adam's moment estimates for one parameter array, updated in place.

    A large array is updated in pieces of :data:`_CHUNK` values: the update is a dozen
    passes of elementwise arithmetic, which then run in cache rather than in memory.
    """

    def __init__(self, size: int) -> None:
        self.m = np.zeros(size, np.float32)
        self.v = np.zeros(size, np.float32)
        self.tmp = np.empty(size, np.float32)

    def step(self, p: np.ndarray, g: np.ndarray, lr_t: float) -> None:
        """Update ``p`` (a flat view of the parameter) with its flat gradient ``g``."""
        for start in range(0, p.size, _CHUNK):
            c = slice(start, start + _CHUNK)
            _adam_piece(p[c], g[c], self.m[c], self.v[c], self.tmp[c], lr_t)


class _Stack:
    """M independent 784-256-128-10 ReLU MLPs, zero biases, softmax cross-entropy.

    Args:
        kernels: per network, its three kernels in Keras layout ``(in, out)``:
            ``(784, 256)``, ``(256, 128)``, ``(128, 10)``.
    """

    def __init__(self, kernels: Sequence[Sequence[np.ndarray]]) -> None:
        self.m = m = len(kernels)
        self.w1 = np.stack([np.asarray(k[0], np.float32) for k in kernels])  # (M, 784, 256)
        self.w2 = np.stack([np.asarray(k[1], np.float32) for k in kernels])  # (M, 256, 128)
        self.w3 = np.stack([np.asarray(k[2], np.float32) for k in kernels])  # (M, 128, 10)
        self.b1 = np.zeros((m, self.w1.shape[2]), np.float32)
        self.b2 = np.zeros((m, self.w2.shape[2]), np.float32)
        self.b3 = np.zeros((m, self.w3.shape[2]), np.float32)
        self._adam = [_Adam(p.size) for p in (self.w1, self.b1, self.w2, self.b2, self.w3, self.b3)]
        self._t = 0

    def _forward(self, x: np.ndarray, w1: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hidden activations ``(M, B, 256)``, ``(M, B, 128)`` and logits ``(M, B, 10)``."""
        a1 = np.maximum(x @ w1 + self.b1[:, None, :], 0)
        a2 = np.maximum(a1 @ self.w2 + self.b2[:, None, :], 0)
        return a1, a2, a2 @ self.w3 + self.b3[:, None, :]

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The M networks' logits on ``x`` (float32 ``(N, 784)``): shape ``(M, N, 10)``."""
        with np.errstate(all="ignore"):
            return self._forward(np.asarray(x, np.float32), self.w1)[2]

    def _step(self, x: np.ndarray, y: np.ndarray, w1: np.ndarray, adam1: _Adam) -> np.ndarray:
        """One Adam step on the batch; returns the M losses before the update."""
        n = x.shape[0]
        a1, a2, z = self._forward(x, w1)
        z -= z.max(axis=2, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=2, keepdims=True)
        rows = np.arange(n)
        losses = (np.log(s[:, :, 0]) - z[:, rows, y]).mean(axis=1)
        dz = np.divide(e, s, out=e)  # softmax
        dz[:, rows, y] -= 1
        dz /= n
        dw3 = a2.transpose(0, 2, 1) @ dz
        dh2 = dz @ self.w3.transpose(0, 2, 1)
        dh2 *= a2 > 0
        dw2 = a1.transpose(0, 2, 1) @ dh2
        dh1 = dh2 @ self.w2.transpose(0, 2, 1)
        dh1 *= a1 > 0
        dw1 = x.T @ dh1
        self._t += 1
        lr_t = float(LEARNING_RATE * np.sqrt(1 - BETA_2**self._t) / (1 - BETA_1**self._t))
        updates = [
            (w1, dw1, adam1),
            (self.b1, dh1.sum(axis=1), self._adam[1]),
            (self.w2, dw2, self._adam[2]),
            (self.b2, dh2.sum(axis=1), self._adam[3]),
            (self.w3, dw3, self._adam[4]),
            (self.b3, dz.sum(axis=1), self._adam[5]),
        ]
        for p, g, adam in updates:
            adam.step(p.reshape(-1), g.reshape(-1), lr_t)
        return losses

    def fit(self, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Train on the batches ``idx`` (K, batch) of ``x``/``y``; the (K, M) losses.

        Each batch's loss is recorded before that batch's update. Non-finite values (an
        initializer that overflows) propagate as NaN or Inf, silently.

        Inputs that are zero in every training image (MNIST's border pixels) are left out
        of the products: their kernel rows get zero gradients, so Adam leaves them exactly
        as they are (its moments stay zero), and skipping them changes no value.
        """
        x = np.asarray(x, np.float32)
        y = np.asarray(y, np.intp)
        live = np.flatnonzero(np.any(x[np.unique(idx)] != 0, axis=0))
        full = self._adam[0]
        w1 = np.ascontiguousarray(self.w1[:, live])
        adam1 = _Adam(w1.size)
        adam1.m[:] = full.m.reshape(self.w1.shape)[:, live].reshape(-1)
        adam1.v[:] = full.v.reshape(self.w1.shape)[:, live].reshape(-1)
        x = np.ascontiguousarray(x[:, live])
        out = np.empty((len(idx), self.m), np.float64)
        with np.errstate(all="ignore"):
            for i, rows in enumerate(idx):
                out[i] = self._step(x[rows], y[rows], w1, adam1)
        self.w1[:, live] = w1
        full.m.reshape(self.w1.shape)[:, live] = adam1.m.reshape(w1.shape)
        full.v.reshape(self.w1.shape)[:, live] = adam1.v.reshape(w1.shape)
        return out


_CORES = max(1, min(4, os.cpu_count() or 1))
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_TRAINING = threading.Lock()  # BLAS's thread count is process-wide: one training at a time


def _pool() -> ThreadPoolExecutor:
    """initcheck's training threads (one per core, at most 4), flushing denormals."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                _CORES, thread_name_prefix="initcheck-train", initializer=flush_denormals
            )
        return _POOL


class StackedMLP:
    """M independent classic MLPs trained side by side, split over the CPU's cores.

    The M networks are cut into one group per core (at most 4); each group is a stack
    trained on its own thread with single-threaded BLAS. The groups never exchange data,
    so the cores never wait on each other, and no value depends on the split.

    Args:
        kernels: per network, its three kernels in Keras layout ``(in, out)``:
            ``(784, 256)``, ``(256, 128)``, ``(128, 10)``.
    """

    def __init__(self, kernels: Sequence[Sequence[np.ndarray]]) -> None:
        groups = min(_CORES, len(kernels))
        cuts = np.linspace(0, len(kernels), groups + 1).round().astype(int)
        self.m = len(kernels)
        self._stacks = [_Stack(kernels[a:b]) for a, b in itertools.pairwise(cuts)]

    def _run(self, call: Callable[[_Stack], np.ndarray]) -> list[np.ndarray]:
        if len(self._stacks) == 1:
            with _TRAINING:
                return [_pool().submit(call, self._stacks[0]).result()]
        with _TRAINING, threadpool_limits(limits=1, user_api="blas"):
            jobs = [_pool().submit(call, stack) for stack in self._stacks]
            return [job.result() for job in jobs]

    def fit(self, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Train on the batches ``idx`` (K, batch) of ``x``/``y``; the (K, M) losses.

        Each batch's loss is recorded before that batch's update. Non-finite values (an
        initializer that overflows) propagate as NaN or Inf, silently.
        """
        x = np.asarray(x, np.float32)
        y = np.asarray(y, np.intp)
        return np.concatenate(self._run(lambda s: s.fit(x, y, idx)), axis=1)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """The M networks' logits on ``x`` (float32 ``(N, 784)``): shape ``(M, N, 10)``."""
        x = np.asarray(x, np.float32)
        return np.concatenate(self._run(lambda s: s.logits(x)), axis=0)
