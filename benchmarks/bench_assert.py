"""Per-example cost of ``assert_variance`` on the smallest shapes the strategies produce.

Inside ``@given(kernel_shapes())`` every example is one assertion, and Hypothesis' default
deadline is 200 ms. Small kernels are drawn thousands of times, so the per-call overhead of
initcheck (thread hand-off, validation, RNG state, seeds) decides whether an example fits.

For each shape this prints the time of one assertion with an empty draw cache (the first
example at that shape), with a warm cache (an example at a shape seen before), the number
of calls of the initializer, and the initializer's own cost for those calls.

Run: ``PYTHONPATH=$PWD python benchmarks/bench_assert.py``
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import initcheck
from initcheck.initializers import cache, resolve

__all__ = ["he_global", "he_seeded", "main"]

SHAPES = [(2, 2), (3, 2), (2, 2, 1, 1), (2, 2, 2, 1, 1), (2, 1, 2), (8, 8)]
REPEATS = 5


def he_seeded(shape: tuple[int, ...], dtype: Any = None, seed: int | None = None) -> np.ndarray:
    """He normal with its own generator, seeded."""
    fan_in = int(np.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0, np.sqrt(2 / fan_in), shape)


def he_global(shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
    """He normal from numpy's legacy global RNG (no seed parameter)."""
    fan_in = int(np.prod(shape[:-1]))
    return np.random.normal(0, np.sqrt(2 / fan_in), shape)


def _time(init: Callable[..., Any], shape: tuple[int, ...]) -> float:
    start = time.perf_counter()
    initcheck.assert_variance(init, "he", shape)
    return time.perf_counter() - start


def _own_cost(init: Callable[..., Any], shape: tuple[int, ...], calls: int) -> float:
    """Seconds ``calls`` direct calls of ``init`` take (what the user's code costs)."""
    start = time.perf_counter()
    for i in range(calls):
        if init is he_seeded:
            init(shape, seed=i)
        else:
            init(shape)
    return time.perf_counter() - start


def main() -> None:
    """Print the per-example table."""
    initcheck.assert_variance(he_seeded, "he", (4, 4))  # warm imports
    print(
        f"{'initializer':<10} {'shape':<16} {'cold ms':>8} {'warm ms':>8} {'calls':>6} "
        f"{'own ms':>7}"
    )
    for init in (he_seeded, he_global):
        for shape in SHAPES:
            cold, warm = [], []
            for _ in range(REPEATS):
                cache.clear()
                cold.append(_time(init, shape))  # the first example at this shape
                warm.append(_time(init, shape))  # the same shape again
            counted = resolve(init)
            cache.clear()
            initcheck.assert_variance(counted, "he", shape)
            own = _own_cost(init, shape, counted.calls)
            print(
                f"{init.__name__:<10} {shape!s:<16} {statistics.median(cold) * 1e3:8.1f} "
                f"{statistics.median(warm) * 1e3:8.1f} {counted.calls:6d} {own * 1e3:7.1f}"
            )


if __name__ == "__main__":
    main()
