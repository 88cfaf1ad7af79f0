"""Calibrate initcheck's statistical checks: false failures and detection power.

1. Runs ``initcheck.check`` with a declared variance target over many seeds on correct
   initializers and prints the observed false-failure count beside the stated rate.
2. For a range of std errors, runs ``assert_variance`` on deliberately mis-scaled
   initializers at a 3×5 and a 256×128 kernel and prints the detection rate, and the
   smallest error detected with probability ≥ 0.99 at default settings.

Usage:
    python scripts/calibrate.py            # 200 seeds (a few minutes on 2 cores)
    python scripts/calibrate.py --seeds 20 --power-seeds 20   # quick look
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import initcheck
from initcheck.settings import Settings


def he_numpy(shape, dtype=None, seed=None):
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / fan_in), shape)


def scaled(factor: float):
    def init(shape, dtype=None, seed=None):
        return he_numpy(shape, seed=seed) * factor

    return init


def false_failures(seeds: int) -> None:
    s = Settings()
    decisions = 3  # centering, variance, scaling (symmetry is not statistical)
    print(f"## False failures: check(init, variance=target) over {seeds} seeds, default shapes")
    print(f"stated: alpha = {s.alpha:g} per decision at the tolerance edge, so at most "
          f"{decisions} x alpha/2 = {decisions * s.alpha / 2:g} per check() run for an "
          "initializer whose error equals the tolerance; expected failures for exact ones: 0\n")
    print("| initializer | runs | failures | expected at the edge (≤) | worst variance ratio |")
    print("|---|---|---|---|---|")
    cases = [("he_normal", "he"), ("glorot_uniform", "glorot"), ("lecun_normal", "lecun"),
             (he_numpy, "he")]
    for init, target in cases:
        fails, ratios = 0, []
        for seed in range(seeds):
            report = initcheck.check(init, variance=target, seed=seed)
            fails += not report.passed
            ratios.append(report["variance"].statistic)
        worst = max(ratios, key=lambda r: abs(math.log(r)))
        name = init if isinstance(init, str) else "numpy he_normal"
        print(f"| {name} | {seeds} | {fails} | {seeds * decisions * s.alpha / 2:.3g} "
              f"| {worst:.4f} |")


def power(seeds: int) -> None:
    print(f"\n## Detection: assert_variance(init * (1 ± e), 'he') over {seeds} seeds")
    errors = [0.02, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10, 0.12, 0.15, 0.20]
    for shape in [(3, 5), (256, 128)]:
        print(f"\nshape {shape}:\n")
        print("| std error e | detected (std x (1-e)) | detected (std x (1+e)) | values used |")
        print("|---|---|---|---|")
        smallest = None
        for e in errors:
            rates, n_used = [], 0
            for factor in (1 - e, 1 + e):
                hits = 0
                for seed in range(seeds):
                    try:
                        r = initcheck.assert_variance(scaled(factor), "he", shape=shape, seed=seed)
                        n_used = r.n
                    except initcheck.InitCheckFailure as exc:
                        hits += 1
                        n_used = exc.results[0].n
                rates.append(hits / seeds)
            print(f"| {e:.2f} | {rates[0]:.2f} | {rates[1]:.2f} | {n_used} |")
            if smallest is None and min(rates) >= 0.99:
                smallest = e
        print(f"\nsmallest std error detected with rate >= 0.99 on {shape}: {smallest}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200)
    parser.add_argument("--power-seeds", type=int, default=100)
    args = parser.parse_args()
    t = time.perf_counter()
    false_failures(args.seeds)
    power(args.power_seeds)
    print(f"\n(total {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
