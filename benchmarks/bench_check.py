"""Benchmark: ``initcheck.check`` of one Keras initializer with default shapes.

Target: well under 1 s after TensorFlow is imported (2-core machine). Not a test.

Usage:
    python benchmarks/bench_check.py
"""

from __future__ import annotations

import statistics
import time


def main() -> None:
    t0 = time.perf_counter()
    import initcheck

    t1 = time.perf_counter()
    import keras  # noqa: F401  (TensorFlow backend)

    t2 = time.perf_counter()
    initcheck.check("he_normal", variance="he")  # warm-up: first op dispatch, tracing
    print(f"import initcheck: {1e3 * (t1 - t0):.0f} ms; import keras/TF: {t2 - t1:.1f} s")
    print("| initializer | target | median of 5 (s) | max (s) | values drawn |")
    print("|---|---|---|---|---|")
    for name, target in [
        ("he_normal", "he"),
        ("glorot_uniform", "glorot"),
        ("lecun_normal", "lecun"),
        ("orthogonal", None),
    ]:
        times = []
        for seed in range(5):
            t = time.perf_counter()
            report = initcheck.check(name, variance=target, seed=seed)
            times.append(time.perf_counter() - t)
        n = max(r.n for r in report.results)
        print(f"| {name} | {target} | {statistics.median(times):.3f} | {max(times):.3f} | {n} |")


if __name__ == "__main__":
    main()
