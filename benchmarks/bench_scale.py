"""Cost of ``initcheck.check`` on real layer sizes, against one draw of the initializer.

For each kernel shape: the time of ``check(he, variance="he", shapes=[shape])`` (the
default battery: symmetry, degeneracy, centering, variance, tails, seeds), the time of
one draw, their ratio, and the peak memory allocated during the check (tracemalloc,
numpy's allocations included) as a multiple of the kernel's float32 bytes. Then the time
of ``check()`` on the default shapes (numpy and, if installed, Keras He).

Usage:
    PYTHONPATH=$PWD python benchmarks/bench_scale.py
"""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np

import initcheck

SHAPES = [
    (512, 512),
    (1024, 1024),
    (2048, 2048),
    (4096, 4096),
    (8192, 8192),
    (3, 3, 512, 512),
    (3, 3, 1024, 1024),
    (50_000, 1024),
]


def he(shape, dtype=None, seed=None):
    """He normal in numpy, float32 (fan_in = all axes but the last, Keras layout)."""
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / fan_in), shape).astype(np.float32)


def one_draw(shape: tuple[int, ...], repeats: int = 3) -> float:
    best = math.inf
    for seed in range(repeats):
        t = time.perf_counter()
        he(shape, seed=seed)
        best = min(best, time.perf_counter() - t)
    return best


def timed_check(shape: tuple[int, ...]) -> tuple[float, float, bool]:
    tracemalloc.start()
    t = time.perf_counter()
    report = initcheck.check(he, variance="he", shapes=[shape])
    elapsed = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return elapsed, peak, report.passed


def main() -> None:
    initcheck.check(he, variance="he", shapes=[(64, 64)])  # warm up imports and caches
    print(
        "| shape | values | check() s | one draw s | ratio | peak MiB | peak / f32 kernel | pass |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for shape in SHAPES:
        draw = one_draw(shape)
        elapsed, peak, passed = timed_check(shape)
        kernel = 4 * math.prod(shape)
        print(
            f"| {shape} | {math.prod(shape):,} | {elapsed:.2f} | {draw:.3f} | "
            f"{elapsed / draw:.1f} | {peak / 2**20:.0f} | {peak / kernel:.2f} | {passed} |"
        )
    t = time.perf_counter()
    report = initcheck.check(he)
    elapsed = time.perf_counter() - t
    print(f"\ncheck(numpy he), default shapes: {elapsed:.2f} s, passed={report.passed}")
    try:
        import keras  # noqa: F401
    except ImportError:
        return
    initcheck.check("he_normal", shapes=[(8, 8)])  # warm up Keras
    t = time.perf_counter()
    report = initcheck.check("he_normal")
    elapsed = time.perf_counter() - t
    print(f"check('he_normal') (Keras), default shapes: {elapsed:.2f} s, passed={report.passed}")


if __name__ == "__main__":
    main()
