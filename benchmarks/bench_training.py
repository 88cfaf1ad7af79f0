"""Benchmark the training engine: matmul peak, compare() GFLOP/s, compare() vs model.fit.

Run from the repository root (takes about a minute on 2 cores)::

    python benchmarks/bench_training.py [--models 10] [--epochs 10]

Measures, in one run:

1. the float32 matmul peak of this machine (``tf.linalg.matmul`` of 2048x2048 matrices
   chained in a ``tf.function``, best of several repeats);
2. the achieved training GFLOP/s of :func:`initcheck.compare` on M initializers; FLOPs per
   step per network are counted exactly (forward ``2·B·P``, weight gradients ``2·B·P``,
   input gradients ``2·B·(P - 784·256)`` since the input needs none), and also with the
   usual ``3 x 2·B·P`` rule of thumb;
3. the wall time of :func:`initcheck.compare` against a plain Keras loop (one
   ``Sequential`` model per initializer, ``model.fit`` with the same architecture,
   optimizer, batch size and number of batches);
4. the time to load the bundled MNIST subset (target <= 50 ms).

Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np


def matmul_peak(n: int = 2048, chain: int = 8, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of ``chain`` dependent n x n matmuls in one tf.function."""
    import tensorflow as tf

    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n]) / np.sqrt(n)  # keeps the chained values bounded

    @tf.function
    def run(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
        c = a
        for _ in range(chain):  # dependent, so nothing can be deduplicated
            c = tf.linalg.matmul(c, b)
        return c

    run(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        run(a, b).numpy()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 * chain / best / 1e9


def step_flops(batch: int) -> tuple[float, float]:
    """FLOPs of one training step of one network: (exact, 3 x forward rule of thumb)."""
    from initcheck.training_runs import KERNEL_SHAPES

    params = sum(i * o for i, o in KERNEL_SHAPES)
    first = KERNEL_SHAPES[0][0] * KERNEL_SHAPES[0][1]
    exact = 2 * batch * params * 2 + 2 * batch * (params - first)
    return float(exact), float(3 * 2 * batch * params)


def keras_fit_loop(inits: list, x: np.ndarray, y: np.ndarray, epochs: int, batch: int) -> float:
    """Seconds for a plain Keras loop: one Sequential + model.fit per initializer."""
    import keras

    t = time.perf_counter()
    for init in inits:
        model = keras.Sequential(
            [
                keras.Input((784,)),
                keras.layers.Dense(256, "relu", kernel_initializer=init),
                keras.layers.Dense(128, "relu", kernel_initializer=init),
                keras.layers.Dense(10, kernel_initializer=init),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        model.fit(x, y, batch_size=batch, epochs=epochs, shuffle=True, verbose=0)
    return time.perf_counter() - t


def load_times(repeats: int = 20) -> list[float]:
    """Seconds to load the bundled subset, cache cleared before each load."""
    from initcheck import mnist

    out = []
    for _ in range(repeats):
        mnist._load_bundled.cache_clear()
        t = time.perf_counter()
        mnist.load_mnist()
        out.append(time.perf_counter() - t)
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=10, help="initializers compared")
    parser.add_argument("--epochs", type=int, default=6, help="epochs over 3,968 images")
    args = parser.parse_args(argv)

    # import and time the data load first, before TensorFlow is in the process
    loads = load_times()

    from initcheck import compare
    from initcheck.classic import CLASSIC
    from initcheck.mnist import MNIST, load_mnist

    batch = 128
    full = load_mnist()
    n = (len(full.y_train) // batch) * batch  # whole batches only, so both loops agree
    data = MNIST(full.x_train[:n], full.y_train[:n], full.x_val, full.y_val, full.source)
    batches = args.epochs * (n // batch)
    names = list(CLASSIC)
    inits = {
        names[i % len(names)] + (f" #{i}" if i >= len(names) else ""): CLASSIC[
            names[i % len(names)]
        ]
        for i in range(args.models)
    }

    peak = matmul_peak()  # measured again at the end; the best counts (shared machines)

    t = time.perf_counter()
    compare(inits, batches=batches, data=data)  # first call: traces the step
    cold = time.perf_counter() - t
    warm = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        compare(inits, batches=batches, data=data)
        warm = min(warm, time.perf_counter() - t)

    exact, rule = step_flops(batch)
    total_steps = batches * args.models
    keras_inits = ["glorot_uniform"] * args.models
    fit = keras_fit_loop(keras_inits, data.x_train, data.y_train, args.epochs, batch)
    peak = max(peak, matmul_peak())

    gflops_exact = exact * total_steps / warm / 1e9
    gflops_rule = rule * total_steps / warm / 1e9
    rows = [
        ("float32 matmul peak (2048^2, tf.function)", f"{peak:8.1f} GFLOP/s", ""),
        (
            f"compare(): {args.models} MLPs x {batches} batches, warm",
            f"{warm:8.2f} s",
            f"{1e3 * warm / batches:.2f} ms per step for all {args.models}",
        ),
        ("compare(): first call (incl. tracing)", f"{cold:8.2f} s", ""),
        (
            "compare() achieved, exact FLOP count",
            f"{gflops_exact:8.1f} GFLOP/s",
            f"{100 * gflops_exact / peak:.0f}% of peak (target >= 50%)",
        ),
        (
            "compare() achieved, 3x forward rule",
            f"{gflops_rule:8.1f} GFLOP/s",
            f"{100 * gflops_rule / peak:.0f}% of peak",
        ),
        (
            f"Keras model.fit loop, {args.models} models x {batches} batches",
            f"{fit:8.2f} s",
            f"{1e3 * fit / total_steps:.2f} ms per model-step",
        ),
        (
            "speed-up of compare() (warm / first call)",
            f"{fit / warm:8.1f} x",
            f"{fit / cold:.1f}x counting tracing (target >= 4x)",
        ),
        (
            "bundled MNIST load (median / max of 20)",
            f"{1e3 * statistics.median(loads):8.1f} ms",
            f"max {1e3 * max(loads):.1f} ms (target <= 50 ms)",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"initcheck training benchmark ({os.cpu_count()} CPUs)")
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>16}  {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
