"""Training: the classic MLP trained on MNIST, many initializers at once.

The network is the classic experiment's (see the README): a 784-256-128-10 MLP, ReLU on
the hidden layers, biases zero, the initializer under test applied to all three kernels,
softmax cross-entropy, Adam (lr 1e-3), batch 128, pixels in [0, 1].

Speed: every initializer of a :func:`compare` is trained *together* as one vectorized
computation: the kernels of the M networks are stacked (the first layer as one
(784, M·256) matrix, the others as (M, 256, 128) and (M, 128, 10) batched matmuls), Adam is
TensorFlow's fused kernel (``ResourceApplyAdam``) applied to the stacked variables (it is
elementwise, so stacking is exact), and the whole run — every batch — is a single XLA
``tf.function`` call (a ``tf.while_loop`` over an index tensor), traced once per process
for each (M, batch size) and reused. The networks are independent: the loss summed over
the M networks has, for each network's weights, the gradient of that network's own loss.

Recorded losses are each batch's training loss *before* that batch's update (the
notebook re-evaluated after the update; the difference is one Adam step).

The records (:class:`~initcheck.training_runs.TrainingRun`,
:class:`~initcheck.training_runs.Comparison`) live in :mod:`initcheck.training_runs`, which
does not import TensorFlow; the verdict is the ``training`` check
(:mod:`initcheck.checks.training`). This module imports TensorFlow (quietly, see
:mod:`initcheck._tf`).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from initcheck._tf import import_quietly
from initcheck.mnist import MNIST, load_mnist
from initcheck.training_runs import KERNEL_SHAPES, Comparison, TrainingRun

__all__ = [
    "BATCH_SIZE",
    "DEFAULT_EPOCHS",
    "batch_order",
    "compare",
    "draw_kernels",
    "layer_seeds",
    "train",
    "train_kernels",
]

BATCH_SIZE = 128
LEARNING_RATE = 1e-3
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8  # TF1 AdamOptimizer defaults, as in the notebook
DEFAULT_EPOCHS = 2  # the notebook's training length

# --------------------------------------------------------------------------- stacked trainer


tf = import_quietly("tensorflow")


class _StackedTrainer:
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


_TRAINERS: dict[tuple[int, int], _StackedTrainer] = {}
_LOCK = threading.Lock()


def _trainer(m: int, batch_size: int) -> _StackedTrainer:
    key = (m, batch_size)
    if key not in _TRAINERS:
        _TRAINERS[key] = _StackedTrainer(m, batch_size)
    return _TRAINERS[key]


# --------------------------------------------------------------------------- helpers

_DATA_CACHE: dict[int, tuple[MNIST, Any, Any, Any]] = {}


def _tensors(data: MNIST) -> tuple[Any, Any, Any]:
    """The training images, labels and validation images as TF tensors (cached per data)."""
    hit = _DATA_CACHE.get(id(data))
    if hit is None or hit[0] is not data:
        if len(_DATA_CACHE) >= 2:
            _DATA_CACHE.clear()
        hit = (
            data,
            tf.constant(data.x_train, tf.float32),
            tf.constant(data.y_train, tf.int32),
            tf.constant(data.x_val, tf.float32),
        )
        _DATA_CACHE[id(data)] = hit
    return hit[1], hit[2], hit[3]


def batch_order(n_train: int, batch_size: int, batches: int, seed: int) -> np.ndarray:
    """Row indices of every training batch, shape ``(batches, batch_size)``.

    Each epoch is a fresh permutation of the training set from a generator seeded with
    ``seed``; the last incomplete batch of an epoch is dropped (as the notebook did). The
    order depends only on ``n_train``, ``batch_size`` and ``seed`` — never on the
    initializer — so all networks of a comparison see the same batches.
    """
    per_epoch = n_train // batch_size
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xDA7A]))
    epochs = -(-batches // per_epoch)
    order = [
        rng.permutation(n_train)[: per_epoch * batch_size].reshape(per_epoch, batch_size)
        for _ in range(epochs)
    ]
    return np.concatenate(order)[:batches].astype(np.int32)


def _budget(epochs: float | None, batches: int | None, per_epoch: int) -> int:
    if epochs is not None and batches is not None:
        raise ValueError(
            f"Give epochs or batches, not both (got epochs={epochs!r}, batches={batches!r})."
        )
    if batches is not None:
        if int(batches) != batches or batches < 1:
            raise ValueError(f"batches must be a positive integer. Received: {batches!r}")
        return int(batches)
    epochs = DEFAULT_EPOCHS if epochs is None else epochs
    if not epochs > 0:
        raise ValueError(f"epochs must be positive. Received: {epochs!r}")
    return max(1, round(epochs * per_epoch))


def layer_seeds(seed: int) -> tuple[int, int, int]:
    """Seeds of the three kernels' draws, derived from ``seed`` (distinct per layer)."""
    return tuple(  # type: ignore[return-value]
        int(np.random.SeedSequence([seed, layer]).generate_state(1)[0]) for layer in range(3)
    )


def draw_kernels(
    init: Any, seed: int, *, timeout: float | None = None, layout: str = "keras"
) -> list[np.ndarray]:
    """The three kernels of the MLP drawn from ``init`` (validated float64 arrays).

    Args:
        init: any initializer :func:`~initcheck.initializers.resolve` accepts.
        seed: the run's seed (each layer draws with its own :func:`layer_seeds` seed).
        timeout: seconds one call of the initializer may take (default: the resolver's).
        layout: ``"torch"`` draws each kernel as ``(out, in)`` (a PyTorch weight) and
            transposes it; ``"keras"`` draws ``(in, out)``.

    Returns:
        The kernels of shapes :data:`~initcheck.training_runs.KERNEL_SHAPES`.

    Raises:
        InitializerError: the initializer raised or returned something invalid.
    """
    from initcheck.initializers import resolve

    if layout not in ("keras", "torch"):
        raise ValueError(f"layout must be 'keras' or 'torch'. Received: layout={layout!r}")
    resolved = resolve(init, timeout=timeout)
    if layout == "keras":
        return [
            resolved.draw(shape, seed=s, dtype="float32")
            for shape, s in zip(KERNEL_SHAPES, layer_seeds(seed), strict=True)
        ]
    return [
        np.ascontiguousarray(resolved.draw(shape[::-1], seed=s, dtype="float32").T)
        for shape, s in zip(KERNEL_SHAPES, layer_seeds(seed), strict=True)
    ]


def _val_metrics(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Accuracy (non-finite rows count as wrong) and mean cross-entropy (nan if non-finite)."""
    z = logits.astype(np.float64)
    finite = np.isfinite(z).all(axis=1)
    correct = (np.argmax(np.where(np.isfinite(z), z, -np.inf), axis=1) == labels) & finite
    if not finite.all():
        return float(correct.mean()), math.nan
    zmax = z.max(axis=1, keepdims=True)
    lse = zmax[:, 0] + np.log(np.exp(z - zmax).sum(axis=1))
    return float(correct.mean()), float(np.mean(lse - z[np.arange(len(labels)), labels]))


def _names(inits: Mapping[str, Any] | Sequence[Any]) -> list[tuple[str, Any]]:
    from initcheck.initializers import resolve

    if isinstance(inits, Mapping):
        pairs = [(str(k), v) for k, v in inits.items()]
    elif isinstance(inits, str) or callable(inits):
        pairs = [(resolve(inits).name, inits)]
    else:
        pairs = [(resolve(v).name, v) for v in inits]
    if not pairs:
        raise ValueError("compare() needs at least one initializer.")
    seen: dict[str, int] = {}
    out = []
    for name, init in pairs:
        seen[name] = seen.get(name, 0) + 1
        out.append((name if seen[name] == 1 else f"{name} #{seen[name]}", init))
    return out


def train_kernels(
    names: Sequence[str],
    kernels: Sequence[Sequence[np.ndarray]],
    *,
    epochs: float | None,
    batches: int | None,
    batch_size: int,
    seed: int,
    data: MNIST | None,
) -> tuple[dict[str, TrainingRun], MNIST]:
    """Train one MLP per kernel triple, side by side on the same batches.

    Args:
        names: the networks' display names (one per entry of ``kernels``).
        kernels: per network, its three kernels (see :func:`draw_kernels`).
        epochs: passes over the training set (``None``: :data:`DEFAULT_EPOCHS`).
        batches: exact number of batches (give this or ``epochs``, not both).
        batch_size: images per batch.
        seed: seeds the data order.
        data: the MNIST data (``None``: :func:`~initcheck.mnist.load_mnist`).

    Returns:
        ``({name: TrainingRun}, the data used)``.

    Raises:
        ValueError: a batch size, epoch or batch count out of range (echoed).
    """
    data = load_mnist() if data is None else data
    if int(batch_size) != batch_size or not 1 <= batch_size <= len(data.y_train):
        raise ValueError(
            f"batch_size must be an integer in 1..{len(data.y_train)} (the training set "
            f"size). Received: {batch_size!r}"
        )
    per_epoch = len(data.y_train) // batch_size
    total = _budget(epochs, batches, per_epoch)
    idx = batch_order(len(data.y_train), batch_size, total, seed)
    x, y, x_val = _tensors(data)
    with _LOCK:
        trainer = _trainer(len(kernels), int(batch_size))
        trainer.load(kernels)
        losses = trainer.fit(x, y, idx)  # (K, M)
        logits = trainer.logits(x_val)  # (M, N_val, 10)
    runs = {}
    for j, name in enumerate(names):
        acc, vloss = _val_metrics(logits[j], data.y_val)
        runs[name] = TrainingRun(
            name=name,
            losses=losses[:, j].copy(),
            val_accuracy=acc,
            val_loss=vloss,
            batches=total,
            epochs=total / per_epoch,
            seed=int(seed),
        )
    return runs, data


# --------------------------------------------------------------------------- public API


def compare(
    inits: Mapping[str, Any] | Sequence[Any],
    *,
    epochs: float | None = 2,
    batches: int | None = None,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    data: MNIST | None = None,
    layout: str = "keras",
    keep_going: bool = False,
) -> Comparison:
    """Train one network per initializer, side by side, and return the comparison.

    All networks see the same batches in the same order and are trained together in one
    vectorized computation.

    Args:
        inits: a mapping name → initializer, or a sequence of initializers (Keras names,
            Keras objects, or callables ``(shape, dtype=None) -> array``).
        epochs: passes over the training set (default 2, as in the notebook); ignored
            when ``batches`` is given.
        batches: exact number of training batches (overrides ``epochs``).
        batch_size: images per batch (default 128).
        seed: seeds the kernel draws and the data order.
        data: an :class:`~initcheck.mnist.MNIST` (default: :func:`load_mnist`).
        layout: ``"torch"`` draws PyTorch-layout ``(out, in)`` kernels (see
            :func:`draw_kernels`).
        keep_going: an initializer that raises or returns invalid weights is recorded in
            :attr:`Comparison.failed` (name → what went wrong) and the others still train;
            by default it raises.

    Returns:
        A :class:`Comparison`; ``print()`` it for the notebook's table.

    Raises:
        InitializerError: an initializer raised or returned invalid weights (unless
            ``keep_going``).

    Example:
        >>> cmp = compare({"zeros": "zeros", "glorot": "glorot_uniform"}, batches=50)
        >>> cmp.runs["zeros"].val_accuracy < cmp.runs["glorot"].val_accuracy
        True
    """
    if batches is not None:
        epochs = None
    from initcheck.errors import InitializerError

    pairs = _names(inits)
    drawn: list[tuple[str, list[np.ndarray]]] = []
    failed: dict[str, str] = {}
    for name, init in pairs:
        try:
            drawn.append((name, draw_kernels(init, seed, layout=layout)))
        except InitializerError as exc:
            if not keep_going:
                raise
            failed[name] = str(exc)
    runs: dict[str, TrainingRun] = {}
    if drawn:
        runs, data = train_kernels(
            [n for n, _ in drawn],
            [k for _, k in drawn],
            epochs=epochs,
            batches=batches,
            batch_size=batch_size,
            seed=seed,
            data=data,
        )
    data = load_mnist() if data is None else data
    return Comparison(runs, int(batch_size), int(seed), data.source, failed=failed)


def train(
    init: Any,
    *,
    epochs: float | None = None,
    batches: int | None = None,
    batch_size: int = BATCH_SIZE,
    seed: int = 0,
    data: MNIST | None = None,
) -> TrainingRun:
    """Train the classic MLP from ``init`` and return its :class:`TrainingRun`.

    Same arguments as :func:`compare` (one initializer; default 2 epochs). Same seed →
    identical losses.

    Example:
        >>> run = train("he_normal", batches=100)
        >>> run.losses[-10:].mean() < run.losses[:10].mean()
        True
    """
    ((name, obj),) = _names([init])
    kw = dict(epochs=epochs, batches=batches, batch_size=batch_size, seed=seed, data=data)
    runs, _ = train_kernels([name], [draw_kernels(obj, seed)], **kw)  # type: ignore[arg-type]
    return runs[name]
