"""Benchmark the training engine: numpy (the package's) beside the TensorFlow reference.

Run from the repository root (about two minutes on 2 cores; TensorFlow must be installed for
the reference column)::

    python benchmarks/bench_training.py [--repeats 3]

Measures, in one run, on the same kernels and batches:

1. ``initcheck compare --classic`` end to end, each engine in a fresh process (imports,
   tracing and the notebook's 10 initializers x 858 batches included): what a user waits
   for;
2. the engines alone, first call and warm (best of ``--repeats``): the notebook's 10
   networks x 858 batches, and the training check's 2 networks (the initializer and its
   Glorot reference) x 250 batches;
3. the float32 matmul peak of numpy's BLAS, and the numpy engine's achieved GFLOP/s;
4. the time to load the bundled MNIST subset (target <= 50 ms).

The TensorFlow engine is initcheck's engine before 0.1 (``benchmarks/tf_engine.py``). The
target: the numpy engine within 1.5x of it (issue 28).

Not a test: numbers depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

_CLI = (
    "import sys; sys.path[:0] = {paths!r}\n"
    "import initcheck.training as t\n"
    "if {tf}:\n"
    "    import tf_engine; t.ENGINE = tf_engine.TFStackedMLP\n"
    "from initcheck.cli import main\n"
    "sys.exit(main(['compare', '--classic']))\n"
)


def cli_seconds(tf: bool) -> float:
    """Wall seconds of ``initcheck compare --classic`` in a fresh process."""
    code = _CLI.format(paths=[str(ROOT), str(HERE)], tf=tf)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - t


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """Best float32 GFLOP/s of an n x n matmul with numpy."""
    a = np.random.default_rng(0).normal(size=(n, n)).astype(np.float32)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def step_flops(batch: int, live_inputs: int) -> float:
    """FLOPs of one training step of one network (forward, weight and input gradients)."""
    from initcheck.training_runs import KERNEL_SHAPES

    params = sum(i * o for i, o in KERNEL_SHAPES)
    first = KERNEL_SHAPES[0][0] * KERNEL_SHAPES[0][1]
    live = params - first + live_inputs * KERNEL_SHAPES[0][1]
    return float(2 * batch * live * 2 + 2 * batch * (params - first))


def engine_seconds(engine: type, kernels: list, data: object, idx: np.ndarray, repeats: int):
    """(first call, best warm call) seconds of ``engine`` on ``kernels``."""
    times = []
    for _ in range(repeats + 1):
        t = time.perf_counter()
        net = engine(kernels)
        net.fit(data.x_train, data.y_train, idx)  # type: ignore[attr-defined]
        net.logits(data.x_val)  # type: ignore[attr-defined]
        times.append(time.perf_counter() - t)
    return times[0], min(times[1:])


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
    parser.add_argument("--repeats", type=int, default=2, help="warm calls (best counts)")
    args = parser.parse_args(argv)
    loads = load_times()

    from initcheck.classic import CLASSIC
    from initcheck.cli._common import CLASSIC_BATCHES
    from initcheck.mnist import load_mnist
    from initcheck.stacked_mlp import StackedMLP
    from initcheck.training import batch_order, draw_kernels

    try:
        from tf_engine import TFStackedMLP
    except ImportError:
        TFStackedMLP = None

    data = load_mnist()
    kernels = [draw_kernels(init, 0) for init in CLASSIC.values()]
    live = int(np.any(data.x_train != 0, axis=0).sum())
    rows: list[tuple[str, str, str, str]] = []

    def add(label: str, numpy_s: float, tf_s: float | None) -> None:
        ratio = "" if tf_s is None else f"{numpy_s / tf_s:.2f}x"
        tf_text = "(no TensorFlow)" if tf_s is None else f"{tf_s:.2f} s"
        rows.append((label, f"{numpy_s:.2f} s", tf_text, ratio))

    cli_tf = None if TFStackedMLP is None else cli_seconds(True)
    add("initcheck compare --classic (fresh process)", cli_seconds(False), cli_tf)
    achieved = ""
    for label, m, batches in (
        (f"notebook: 10 networks x {CLASSIC_BATCHES} batches", 10, CLASSIC_BATCHES),
        ("training check: 2 networks x 250 batches", 2, 250),
    ):
        idx = batch_order(len(data.y_train), 128, batches, 0)
        first, warm = engine_seconds(StackedMLP, kernels[:m], data, idx, args.repeats)
        tf_first = tf_warm = None
        if TFStackedMLP is not None:
            tf_first, tf_warm = engine_seconds(TFStackedMLP, kernels[:m], data, idx, args.repeats)
        add(f"{label}, first call", first, tf_first)
        add(f"{label}, warm", warm, tf_warm)
        if m == 10:
            flops = step_flops(128, live) * m * batches
            achieved = f"{flops / warm / 1e9:.1f} GFLOP/s"

    width = max(len(r[0]) for r in rows)
    print(f"initcheck training benchmark ({os.cpu_count()} CPUs)")
    print(f"{'':<{width}}  {'numpy':>9}  {'TensorFlow':>15}  numpy/TF (target <= 1.5x)")
    for label, n_s, tf_s, ratio in rows:
        print(f"{label:<{width}}  {n_s:>9}  {tf_s:>15}  {ratio}")
    print(
        f"float32 matmul peak (numpy, 2048^2): {matmul_peak():.1f} GFLOP/s; "
        f"numpy engine, notebook warm: {achieved}"
    )
    print(
        f"bundled MNIST load: median {1e3 * statistics.median(loads):.1f} ms, "
        f"max {1e3 * max(loads):.1f} ms (target <= 50 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
