"""The TensorFlow training engine initcheck used until 0.1 (XLA, fused Adam), kept as the
benchmark's reference: :mod:`bench_training` times it beside the numpy engine
(:class:`initcheck.stacked_mlp.StackedMLP`) on the same kernels and batches.

Same protocol as the package's engine: ``TFStackedMLP(kernels)`` with ``fit(x, y, idx)``
and ``logits(x)``. One ``tf.function`` is traced per process for each (M, batch size) and
reused, as the old engine did.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from initcheck.stacked_mlp import BETA_1, BETA_2, EPSILON, LEARNING_RATE
from initcheck.training_runs import KERNEL_SHAPES


class _Trainer:
    """M stacked MLPs trained with fused Adam; one traced XLA ``tf.function`` per (M, batch)."""

    def __init__(self, m: int, batch_size: int) -> None:
        self.m, self.batch_size = m, batch_size
        (i1, o1), (i2, o2), (i3, o3) = KERNEL_SHAPES
        zeros = tf.zeros_initializer()
        shapes = [(i1, m * o1), (m, o1), (m, i2, o2), (m, o2), (m, i3, o3), (m, o3)]
        self.params = [tf.Variable(zeros(s), trainable=False) for s in shapes]
        self.slots_m = [tf.Variable(zeros(s), trainable=False) for s in shapes]
        self.slots_v = [tf.Variable(zeros(s), trainable=False) for s in shapes]
        self.step = tf.Variable(0.0, trainable=False)
        spec = [
            tf.TensorSpec([None, 784], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, batch_size], tf.int32),
        ]
        self._fit = tf.function(self._fit_impl, input_signature=spec, jit_compile=True)
        self._logits = tf.function(
            self._logits_impl, input_signature=[tf.TensorSpec([None, 784], tf.float32)]
        )

    # -- graph code
    def _forward(self, x: Any) -> Any:
        w1, b1, w2, b2, w3, b3 = self.params
        m, n = self.m, tf.shape(x)[0]
        h1 = tf.matmul(x, w1)  # (B, M*256): one big matmul for the first layer
        h1 = tf.transpose(tf.reshape(h1, [n, m, KERNEL_SHAPES[0][1]]), [1, 0, 2])
        h1 = tf.nn.relu(h1 + b1[:, None, :])  # (M, B, 256)
        h2 = tf.nn.relu(tf.matmul(h1, w2) + b2[:, None, :])  # (M, B, 128)
        return tf.matmul(h2, w3) + b3[:, None, :]  # (M, B, 10)

    def _losses(self, x: Any, y: Any) -> Any:
        logits = self._forward(x)
        labels = tf.broadcast_to(y[None, :], tf.shape(logits)[:2])
        ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return tf.reduce_mean(ce, axis=1)  # (M,)

    def _fit_impl(self, x_all: Any, y_all: Any, idx: Any) -> Any:
        k = tf.shape(idx)[0]
        out = tf.TensorArray(tf.float32, size=k)
        for i in tf.range(k):
            rows = idx[i]
            x, y = tf.gather(x_all, rows), tf.gather(y_all, rows)
            with tf.GradientTape() as tape:
                tape.watch(self.params)
                losses = self._losses(x, y)
                total = tf.reduce_sum(losses)
            grads = tape.gradient(total, self.params)
            self.step.assign_add(1.0)
            t = self.step
            # Fused Adam (TF's own kernel, the TF1 AdamOptimizer update the notebook used):
            # m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g²;
            # p -= lr √(1-b2ᵗ)/(1-b1ᵗ) · m / (√v + eps). Elementwise, so stacking is exact.
            for p, g, sm, sv in zip(self.params, grads, self.slots_m, self.slots_v, strict=True):
                tf.raw_ops.ResourceApplyAdam(
                    var=p.handle,
                    m=sm.handle,
                    v=sv.handle,
                    beta1_power=BETA_1**t,
                    beta2_power=BETA_2**t,
                    lr=LEARNING_RATE,
                    beta1=BETA_1,
                    beta2=BETA_2,
                    epsilon=EPSILON,
                    grad=g,
                )
            out = out.write(i, losses)
        return out.stack()  # (K, M)

    def _logits_impl(self, x: Any) -> Any:
        return self._forward(x)

    # -- python side
    def load(self, kernels: Sequence[Sequence[np.ndarray]]) -> None:
        """Assign the M networks' kernels (each a list of 3 arrays), zero biases and Adam."""
        (i1, o1), _, _ = KERNEL_SHAPES
        w1 = np.stack([k[0] for k in kernels]).astype(np.float32)  # (M, 784, 256)
        w1 = np.ascontiguousarray(w1.transpose(1, 0, 2).reshape(i1, self.m * o1))
        w2 = np.stack([k[1] for k in kernels]).astype(np.float32)
        w3 = np.stack([k[2] for k in kernels]).astype(np.float32)
        values = [w1, None, w2, None, w3, None]
        for var, val in zip(self.params, values, strict=True):
            var.assign(np.zeros(var.shape, np.float32) if val is None else val)
        for var in (*self.slots_m, *self.slots_v):
            var.assign(np.zeros(var.shape, np.float32))
        self.step.assign(0.0)

    def fit(self, x: Any, y: Any, idx: np.ndarray) -> np.ndarray:
        """Train on the batches ``idx`` (K, batch) and return the (K, M) losses."""
        return self._fit(x, y, idx).numpy().astype(np.float64)

    def logits(self, x: Any) -> np.ndarray:
        return self._logits(x).numpy()


_TRAINERS: dict[tuple[int, int], _Trainer] = {}
_TENSORS: dict[int, tuple[Any, Any, Any]] = {}


class TFStackedMLP:
    """The old engine behind the package engine's protocol."""

    def __init__(self, kernels: Sequence[Sequence[np.ndarray]]) -> None:
        self.kernels = kernels

    def fit(self, x: np.ndarray, y: np.ndarray, idx: np.ndarray) -> np.ndarray:
        key = (len(self.kernels), idx.shape[1])
        if key not in _TRAINERS:
            _TRAINERS[key] = _Trainer(*key)
        self.trainer = _TRAINERS[key]
        self.trainer.load(self.kernels)
        if id(x) not in _TENSORS:
            _TENSORS[id(x)] = (x, tf.constant(x, tf.float32), tf.constant(y, tf.int32))
        _, tx, ty = _TENSORS[id(x)]
        return self.trainer.fit(tx, ty, idx)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.trainer.logits(tf.constant(x, tf.float32))
