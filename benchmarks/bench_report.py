"""Benchmark: the HTML report for 20 initializers — size (≤ 2 MB) and write time (≤ 3 s).

Runs initcheck.check() on 20 numpy initializers (sound and broken, He target), plus a
training comparison of 10 fake 858-batch loss curves, then times write_html_report()
alone (the budget is for writing the report *after* the checks).

    python benchmarks/bench_report.py [--out reports/bench.html] [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import broken_inits as b

import initcheck
from initcheck.report import write_html_report

SIZE_LIMIT = 2 * 1024 * 1024
TIME_LIMIT = 3.0


def initializers() -> dict[str, object]:
    """20 initializers: the test suite's sound and broken ones, plus scaled variants."""
    base = {
        name: getattr(b, name)
        for name in dir(b)
        if callable(getattr(b, name))
        and not name.startswith("_")
        and name not in ("fans",)
        and getattr(getattr(b, name), "__module__", "") == b.__name__
    }
    inits: dict[str, object] = dict(list(base.items())[:12])

    def scaled(k: float):
        def init(shape, dtype=None, seed=None):
            return k * b.he_normal(shape, seed=seed)

        return init

    def constant(shape, dtype=None, seed=None):
        return np.full(shape, 0.05)

    inits["constant_0.05"] = constant
    k = 0.5
    while len(inits) < 20:
        inits[f"he_normal×{k:g}"] = scaled(k)
        k += 0.25
    return inits


def fake_comparison(n: int = 858) -> dict:
    rng = np.random.default_rng(0)
    x = np.arange(n)
    runs = {}
    for i in range(10):
        curve = (2.3 * np.exp(-x / (40 + 20 * i)) + 0.05 * (i + 1)) * (1 + 0.2 * rng.random(n))
        runs[f"init {i}"] = {
            "losses": curve.tolist(),
            "val_accuracy": 0.9 + 0.005 * i,
            "val_loss": 0.3 - 0.01 * i,
        }
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="keep the report here")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    reports = [
        initcheck.check(init, variance="he", name=name) for name, init in initializers().items()
    ]
    checks_s = time.perf_counter() - t0
    results = [r for rep in reports for r in rep.results]
    comparison = fake_comparison()
    out = args.out or Path(tempfile.mkdtemp()) / "bench.html"
    times = []
    for _ in range(max(1, args.repeat)):
        t = time.perf_counter()
        write_html_report(
            out,
            results,
            comparisons=[comparison],
            settings=reports[0].settings,
            title="initcheck benchmark: 20 initializers",
        )
        times.append(time.perf_counter() - t)
    size = out.stat().st_size
    failed = sum(not r.passed for r in reports)
    print(
        f"initializers: {len(reports)} ({failed} failing), results: {len(results)}, "
        f"checks took {checks_s:.1f} s"
    )
    print(f"report: {out}")
    print(f"size: {size / 1024:.0f} KiB ({size:,} bytes; limit {SIZE_LIMIT / 2**20:.0f} MiB)")
    print(
        f"write time: first {times[0]:.2f} s (imports Jinja2), best {min(times):.2f} s "
        f"of {len(times)} (limit {TIME_LIMIT:.0f} s)"
    )
    ok = size <= SIZE_LIMIT and times[0] <= TIME_LIMIT
    print("OK" if ok else "OVER BUDGET")
    return 0 if ok and math.isfinite(times[0]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
