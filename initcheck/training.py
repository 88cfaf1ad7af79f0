"""Training: the classic MLP trained on MNIST, many initializers at once.

The network is the classic experiment's (see the README): a 784-256-128-10 MLP, ReLU on
the hidden layers, biases zero, the initializer under test applied to all three kernels,
softmax cross-entropy, Adam (lr 1e-3), batch 128, pixels in [0, 1].

Speed: every initializer of a :func:`compare` is trained *together* as one vectorized
computation in numpy (:class:`~initcheck.stacked_mlp.StackedMLP`): the kernels of the M
networks are stacked (the first layer as one (784, M·256) matrix, the others as batched
products) and Adam is elementwise, so stacking is exact. No deep-learning framework is
needed.

Recorded losses are each batch's training loss *before* that batch's update (the
notebook re-evaluated after the update; the difference is one Adam step).

The records (:class:`~initcheck.training_runs.TrainingRun`,
:class:`~initcheck.training_runs.Comparison`) live in :mod:`initcheck.training_runs`, which
does not import TensorFlow; the verdict is the ``training`` check
(:mod:`initcheck.checks.training`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from initcheck.errors import InitializerError
from initcheck.fans import as_layout
from initcheck.initializers.base import InitializerLike
from initcheck.mnist import MNIST, load_mnist
from initcheck.stacked_mlp import StackedMLP
from initcheck.training_runs import KERNEL_SHAPES, Comparison, TrainingRun

BATCH_SIZE = 128
DEFAULT_EPOCHS = 2  # the notebook's training length

#: The training engine: ``ENGINE(kernels)`` returns an object with ``fit(x, y, idx)`` (the
#: (K, M) losses, each batch's before its update) and ``logits(x)`` ((M, N, 10)). The
#: benchmark swaps in its TensorFlow reference here to time both side by side.
ENGINE: Callable[[Sequence[Sequence[np.ndarray]]], Any] = StackedMLP


# --------------------------------------------------------------------------- helpers


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
    init: Any, seed: int, *, timeout: float | None = None, layout: Any = "keras"
) -> list[np.ndarray]:
    """The three kernels of the MLP drawn from ``init`` (validated float32 arrays).

    Args:
        init: any initializer :func:`~initcheck.initializers.resolve` accepts.
        seed: the run's seed (each layer draws with its own :func:`layer_seeds` seed).
        timeout: seconds one call of the initializer may take (default: the resolver's).
        layout: the initializer's kernel layout, as for :func:`initcheck.check`
            (``"torch"``: each kernel is drawn as ``(out, in)``, a PyTorch weight, and
            transposed; ``"keras"``: drawn ``(in, out)``).

    Returns:
        The kernels, each ``(in, out)`` as :data:`~initcheck.training_runs.KERNEL_SHAPES`.

    Raises:
        InitializerError: the initializer raised or returned something invalid.
        ValueError: an unknown layout (echoed).
    """
    from initcheck.initializers import resolve

    kind = as_layout(layout)
    resolved = resolve(init, timeout=timeout)
    return [
        np.ascontiguousarray(
            kind.dense_matrix(resolved.draw(kind.dense_shape(*shape), seed=s, dtype="float32"))
        )
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
    net = ENGINE(kernels)
    losses = net.fit(data.x_train, data.y_train, idx)  # (K, M)
    logits = net.logits(data.x_val)  # (M, N_val, 10)
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
    layout: Any = "keras",
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
        layout: the initializers' kernel layout (``"torch"``: PyTorch's ``(out, in)``;
            see :func:`draw_kernels`).
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
    init: InitializerLike,
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
