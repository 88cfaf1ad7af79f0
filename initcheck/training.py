"""Early training on MNIST: train, compare and judge initializers.

The network is the classic experiment's (see the README): a 784-256-128-10 MLP, ReLU on
the hidden layers, biases zero, the initializer under test applied to all three kernels,
softmax cross-entropy, Adam (lr 1e-3), batch 128, pixels in [0, 1].

Speed: every initializer of a :func:`compare` is trained *together* as one vectorized
computation: the kernels of the M networks are stacked (the first layer as one
(784, M·256) matrix, the others as (M, 256, 128) and (M, 128, 10) batched matmuls), Adam is
written by hand on the stacked variables (it is elementwise, so stacking is exact), and the
whole run — every batch — is a single ``tf.function`` call (a ``tf.while_loop`` over an
index tensor), traced once per process for each (M, batch size) and reused. The networks
are independent: the loss summed over the M networks has, for each network's weights, the
gradient of that network's own loss.

Recorded losses are each batch's training loss *before* that batch's update (the
notebook re-evaluated after the update; the difference is one Adam step).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from initcheck.errors import InitializerError
from initcheck.mnist import MNIST, load_mnist

if TYPE_CHECKING:
    from initcheck.results import CheckResult

__all__ = [
    "DEFAULT_CHECK_BATCHES",
    "KERNEL_SHAPES",
    "Comparison",
    "TrainingRun",
    "check_training",
    "compare",
    "train",
]

KERNEL_SHAPES: tuple[tuple[int, int], ...] = ((784, 256), (256, 128), (128, 10))
LEARNING_RATE = 1e-3
BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-8  # TF1 AdamOptimizer defaults, as in the notebook
CHANCE_LOSS = math.log(10)  # cross-entropy of a uniform guess over 10 digits

DEFAULT_CHECK_BATCHES = 250
REFERENCE = "glorot_uniform"


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class TrainingRun:
    """One network trained from one initializer.

    Attributes:
        name: the initializer's display name.
        losses: per-batch training losses, in order (float64 array, length ``batches``);
            ``losses[:100]`` is the notebook's plotted curve.
        val_accuracy: fraction of validation images classified correctly (0..1) after
            training; non-finite logits count as wrong.
        val_loss: mean validation cross-entropy after training (``nan`` if non-finite).
        batches: number of training batches (updates).
        epochs: passes over the training set (``batches / batches_per_epoch``).
        seed: the seed of the weight draws and the data order.
    """

    name: str
    losses: np.ndarray = field(repr=False)
    val_accuracy: float
    val_loss: float
    batches: int
    epochs: float
    seed: int

    @property
    def last_loss(self) -> float:
        """The last batch's training loss (the notebook's printed "Loss")."""
        return float(self.losses[-1])

    def mean_loss(self, last: int = 50) -> float:
        """Mean training loss over the last ``last`` batches (less noisy than one batch)."""
        return float(np.mean(self.losses[-last:]))


@dataclass(frozen=True)
class Comparison:
    """Initializers trained side by side on the same data order and seed.

    ``runs`` maps each name to its :class:`TrainingRun`; ``str(comparison)`` is the
    notebook's table (validation accuracy, last batch loss) plus the mean of the last 50
    losses and the validation loss.
    """

    runs: Mapping[str, TrainingRun]
    batch_size: int
    seed: int
    data_source: str

    def __getitem__(self, name: str) -> TrainingRun:
        return self.runs[name]

    def __str__(self) -> str:
        first = next(iter(self.runs.values()))
        width = max(len("initializer"), *(len(n) for n in self.runs))
        head = (
            f"After {first.batches} batches ({first.epochs:.3g} epochs, batch "
            f"{self.batch_size}, seed {self.seed}) on {self.data_source}:"
        )
        cols = (
            f"{'initializer':<{width}}  {'val acc':>8}  {'last loss':>9}  "
            f"{'mean last 50':>12}  {'val loss':>8}"
        )
        lines = [head, cols, "-" * len(cols)]
        for name, run in self.runs.items():
            lines.append(
                f"{name:<{width}}  {100 * run.val_accuracy:7.2f}%  {run.last_loss:9.3f}  "
                f"{run.mean_loss(50):12.3f}  {run.val_loss:8.3f}"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- engine


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402 - after the log level is set


class _Engine:
    """M stacked MLPs with hand-written Adam; one traced ``tf.function`` per (M, batch)."""

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


_ENGINES: dict[tuple[int, int], _Engine] = {}
_LOCK = threading.Lock()


def _engine(m: int, batch_size: int) -> _Engine:
    key = (m, batch_size)
    if key not in _ENGINES:
        _ENGINES[key] = _Engine(m, batch_size)
    return _ENGINES[key]


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


def _budget(
    epochs: float | None, batches: int | None, per_epoch: int, default_epochs: float
) -> int:
    if epochs is not None and batches is not None:
        raise ValueError(
            f"Give epochs or batches, not both (got epochs={epochs!r}, batches={batches!r})."
        )
    if batches is not None:
        if int(batches) != batches or batches < 1:
            raise ValueError(f"batches must be a positive integer. Received: {batches!r}")
        return int(batches)
    epochs = default_epochs if epochs is None else epochs
    if not epochs > 0:
        raise ValueError(f"epochs must be positive. Received: {epochs!r}")
    return max(1, round(epochs * per_epoch))


def layer_seeds(seed: int) -> tuple[int, int, int]:
    """Seeds of the three kernels' draws, derived from ``seed`` (distinct per layer)."""
    return tuple(  # type: ignore[return-value]
        int(np.random.SeedSequence([seed, layer]).generate_state(1)[0]) for layer in range(3)
    )


def draw_kernels(init: Any, seed: int) -> list[np.ndarray]:
    """The three kernels of the MLP drawn from ``init`` (validated float64 arrays).

    Raises:
        InitializerError: the initializer raised or returned something invalid.
    """
    from initcheck.initializers import resolve

    resolved = resolve(init)
    return [
        resolved.draw(shape, seed=s, dtype="float32")
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


def _train_kernels(
    names: Sequence[str],
    kernels: Sequence[Sequence[np.ndarray]],
    *,
    epochs: float | None,
    batches: int | None,
    batch_size: int,
    seed: int,
    data: MNIST | None,
    default_epochs: float,
) -> tuple[dict[str, TrainingRun], MNIST]:
    data = load_mnist() if data is None else data
    if int(batch_size) != batch_size or not 1 <= batch_size <= len(data.y_train):
        raise ValueError(
            f"batch_size must be an integer in 1..{len(data.y_train)} (the training set "
            f"size). Received: {batch_size!r}"
        )
    per_epoch = len(data.y_train) // batch_size
    total = _budget(epochs, batches, per_epoch, default_epochs)
    idx = batch_order(len(data.y_train), batch_size, total, seed)
    x, y, x_val = _tensors(data)
    with _LOCK:
        engine = _engine(len(kernels), int(batch_size))
        engine.load(kernels)
        losses = engine.fit(x, y, idx)  # (K, M)
        logits = engine.logits(x_val)  # (M, N_val, 10)
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
    batch_size: int = 128,
    seed: int = 0,
    data: MNIST | None = None,
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

    Returns:
        A :class:`Comparison`; ``print()`` it for the notebook's table.

    Raises:
        InitializerError: an initializer raised or returned invalid weights.

    Example:
        >>> cmp = compare({"zeros": "zeros", "glorot": "glorot_uniform"}, batches=50)
        >>> cmp.runs["zeros"].val_accuracy < cmp.runs["glorot"].val_accuracy
        True
    """
    if batches is not None:
        epochs = None
    pairs = _names(inits)
    kernels = [draw_kernels(init, seed) for _, init in pairs]
    runs, data = _train_kernels(
        [n for n, _ in pairs],
        kernels,
        epochs=epochs,
        batches=batches,
        batch_size=batch_size,
        seed=seed,
        data=data,
        default_epochs=2,
    )
    return Comparison(
        runs=runs, batch_size=int(batch_size), seed=int(seed), data_source=data.source
    )


def train(
    init: Any,
    *,
    epochs: float | None = None,
    batches: int | None = None,
    batch_size: int = 128,
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
    pairs = _names([init])
    kernels = [draw_kernels(pairs[0][1], seed)]
    runs, _ = _train_kernels(
        [pairs[0][0]],
        kernels,
        epochs=epochs,
        batches=batches,
        batch_size=batch_size,
        seed=seed,
        data=data,
        default_epochs=2,
    )
    return runs[pairs[0][0]]


# --------------------------------------------------------------------------- verdict

LAST_K = 50  # the loss statistic: mean training loss over the last LAST_K batches
MAX_LOSS = CHANCE_LOSS / 2  # ≈ 1.151: must have learned well below chance (ln 10 ≈ 2.303)
MAX_RATIO = 20.0  # and be within this factor of the reference's statistic


def _shapes() -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(s) for s in KERNEL_SHAPES)


def _curve(losses: Any) -> list[float | None]:
    """A loss curve as JSON-safe floats (``None`` where not finite), rounded to 4 digits."""
    return [round(float(v), 4) if math.isfinite(v) else None for v in losses]


def loss_decrease_result(
    name: str,
    run: TrainingRun,
    reference: TrainingRun,
    *,
    data_source: str = "",
    alpha: float | None = None,
) -> CheckResult:
    """Judge ``run`` against ``reference`` (same data order and seed) — the training verdict.

    Criterion (see the README for the evidence): with ``L`` the mean training loss over
    the last :data:`LAST_K` batches,

    1. every loss and the validation logits are finite (no NaN/Inf);
    2. ``L <= ln(10) / 2`` — the network learned: chance level is ln 10 ≈ 2.303;
    3. ``L <= MAX_RATIO * L_ref`` — it trains within a factor 20 of Glorot uniform.

    Args:
        name: the initializer's display name.
        run: its training run.
        reference: the reference (Glorot uniform) run on the same batches and seed.
        data_source: where the data came from (recorded in ``details``).
        alpha: accepted for a uniform interface; the check is not a statistical test.

    Returns:
        A :class:`~initcheck.results.CheckResult` with check ``"training"``; ``statistic``
        is ``L``, ``target`` the reference's ``L_ref``, ``interval`` the accepted range
        ``(0, min(ln(10)/2, 20 L_ref))``.
    """
    from initcheck.results import CheckResult

    stat, ref = run.mean_loss(LAST_K), reference.mean_loss(LAST_K)
    limit = min(MAX_LOSS, MAX_RATIO * ref)
    finite = bool(np.isfinite(run.losses).all() and math.isfinite(run.val_loss))
    details = {
        "batches": run.batches,
        "epochs": run.epochs,
        "seed": run.seed,
        "last_k": LAST_K,
        "reference": REFERENCE,
        "reference_mean_loss": ref,
        "reference_val_accuracy": reference.val_accuracy,
        "val_accuracy": run.val_accuracy,
        "val_loss": run.val_loss if math.isfinite(run.val_loss) else None,
        "first_loss": float(run.losses[0]),
        "ratio": stat / ref if finite and ref > 0 else None,
        "max_ratio": MAX_RATIO,
        "max_loss": MAX_LOSS,
        "data": data_source,
        "loss_curve": _curve(run.losses),
        "reference_loss_curve": _curve(reference.losses),
    }
    where = f"after {run.batches} batches of MNIST"
    if not finite:
        bad = np.flatnonzero(~np.isfinite(run.losses))
        when = (
            f"first non-finite loss at batch {int(bad[0]) + 1}"
            if bad.size
            else ("non-finite validation logits")
        )
        passed = False
        message = (
            f"training produced NaN/Inf ({when}); the weights are far too large or not finite."
        )
    elif not (math.isfinite(ref) and ref <= MAX_LOSS):
        passed = False
        message = (
            f"the reference {REFERENCE} did not train on this data (mean loss {ref:.3g} over "
            f"the last {LAST_K} batches {where}); train longer (the default is "
            f"{DEFAULT_CHECK_BATCHES} batches) or check the MNIST data ({data_source})."
        )
    elif stat > MAX_LOSS:
        passed = False
        message = (
            f"the network did not learn: mean loss over the last {LAST_K} batches is "
            f"{stat:.3g} {where}, {'above' if stat > CHANCE_LOSS else 'near'} chance level "
            f"(ln 10 = {CHANCE_LOSS:.3f}; must be <= {MAX_LOSS:.3f}); validation accuracy "
            f"{100 * run.val_accuracy:.1f}%."
        )
    elif stat > MAX_RATIO * ref:
        passed = False
        message = (
            f"trains far worse than {REFERENCE}: mean loss over the last {LAST_K} batches "
            f"{stat:.3g} vs {ref:.3g} ({stat / ref:.1f}x, limit {MAX_RATIO:g}x) {where}; "
            f"validation accuracy {100 * run.val_accuracy:.1f}% vs "
            f"{100 * reference.val_accuracy:.1f}%."
        )
    else:
        passed = True
        message = (
            f"trains: mean loss over the last {LAST_K} batches {stat:.3g} ({stat / ref:.2f}x "
            f"{REFERENCE}'s {ref:.3g}) {where}; validation accuracy "
            f"{100 * run.val_accuracy:.1f}%."
        )
    return CheckResult(
        check="training",
        initializer=name,
        passed=passed,
        message=message,
        statistic=stat if math.isfinite(stat) else None,
        target=ref if math.isfinite(ref) else None,
        interval=(0.0, limit) if math.isfinite(limit) else None,
        pvalue=None,
        alpha=None,
        n=run.batches,
        shapes=_shapes(),
        details=details,
    )


def check_training(
    init: Any,
    *,
    batches: int | None = None,
    seed: int = 0,
    data: MNIST | None = None,
    alpha: float | None = None,
    name: str | None = None,
) -> CheckResult:
    """Does a network train from ``init``? Judged against Glorot uniform, side by side.

    Trains the classic MLP from ``init`` and from the reference (Glorot uniform) together,
    on the same batches with the same seed, for ``batches`` batches (default
    :data:`DEFAULT_CHECK_BATCHES` = 250, about 8 epochs of the bundled 4,000 images, a few
    seconds on 2 CPU cores), then applies :func:`loss_decrease_result`.

    Args:
        init: the initializer (Keras name/object or callable).
        batches: training batches (default 250).
        seed: seeds the weight draws and the data order.
        data: an :class:`~initcheck.mnist.MNIST` (default: :func:`load_mnist`, which honours
            ``$INITCHECK_MNIST``).
        alpha: accepted for a uniform interface; not used (the check is not a test).
        name: display name (default: the resolved initializer's name).

    Returns:
        A ``CheckResult`` named ``"training"``. An initializer that raises or returns
        invalid weights gives a failed record naming the error; nothing is raised for it.

    Example:
        >>> check_training("he_normal").passed
        True
        >>> check_training("zeros").passed
        False
    """
    from initcheck.initializers import resolve
    from initcheck.results import CheckResult

    batches = DEFAULT_CHECK_BATCHES if batches is None else batches
    try:
        resolved = resolve(init, name=name)
        label = resolved.name
        kernels = draw_kernels(resolved, seed)
    except InitializerError as exc:
        return CheckResult(
            check="training",
            initializer=name or _label(init),
            passed=False,
            message=f"could not draw the MLP's kernels: {exc}",
            n=0,
            shapes=_shapes(),
            details={"error": str(exc), "error_type": type(exc).__name__},
        )
    reference = draw_kernels(REFERENCE, seed)
    runs, data = _train_kernels(
        [label, "__reference__"],
        [kernels, reference],
        epochs=None,
        batches=batches,
        batch_size=128,
        seed=seed,
        data=data,
        default_epochs=2,
    )
    return loss_decrease_result(
        label, runs[label], runs["__reference__"], data_source=data.source, alpha=alpha
    )


def _label(init: Any) -> str:
    if isinstance(init, str):
        return init
    return str(
        getattr(init, "__qualname__", None)
        or getattr(init, "__name__", None)
        or type(init).__name__
    )
