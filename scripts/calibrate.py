"""Calibrate initcheck's statistical checks: false failures and detection power.

1. Runs ``initcheck.check`` (the default battery) over many seeds on correct
   initializers and prints the observed false-failure count per check beside the stated
   rate.
2. For a range of std errors, runs ``assert_variance`` on deliberately mis-scaled
   initializers at a 3×5 and a 256×128 kernel and prints the detection rate, and the
   smallest error detected with probability ≥ 0.99 at default settings.

Usage:
    python scripts/calibrate.py            # 200 seeds (~10 minutes on 2 idle cores)
    python scripts/calibrate.py --seeds 20 --power-seeds 20   # quick look
"""

from __future__ import annotations

import argparse
import collections
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


# check -> false-failure rate bound for an exact initializer at default settings
STATED = {
    "centering": "≤ alpha/2 at the tolerance edge; ≈ 0 when exact",
    "variance": "≤ alpha at the tolerance edge (pooled at alpha, each of G groups of shapes "
    "at alpha/G); ≈ 0 when exact",
    "scaling": "≤ alpha/2 at the tolerance edge; ≈ 0 when exact",
    "tails": "alpha (normal family)",
    "degeneracy": "≤ alpha",
    "distribution": "≤ alpha",
    "symmetry": "0 (structural, continuous families)",
    "seeds": "0 (exact equality)",
}


def false_failures(seeds: int) -> None:
    s = Settings()
    print(f"## False failures: the default battery over {seeds} seeds, default shapes\n")
    print(
        f"alpha = {s.alpha:g}. Per check, the stated false-failure rate for a correct "
        "initializer:\n"
    )
    for name, text in STATED.items():
        print(f"- {name}: {text}")
    cases = [
        ("he_normal", dict(variance="he", family="truncated_normal")),
        ("glorot_uniform", dict(variance="glorot", family="uniform")),
        ("lecun_normal", dict(variance="lecun")),
        ("orthogonal", {}),
        (he_numpy, dict(variance="he", family="normal")),
    ]
    print("\n| initializer | runs | failed runs | failures by check | expected (≤) |")
    print("|---|---|---|---|---|")
    for init, kwargs in cases:
        fails: collections.Counter[str] = collections.Counter()
        failed_runs = 0
        bound = 0.0
        for seed in range(seeds):
            report = initcheck.check(init, seed=seed, **kwargs)
            failed = [r.check for r in report.results if not r.passed]
            fails.update(failed)
            failed_runs += bool(failed)
            bound = sum(
                s.alpha
                for r in report.results
                if r.check in ("tails", "degeneracy", "distribution", "variance")
            )
            bound += sum(s.alpha / 2 for r in report.results if r.check in ("centering", "scaling"))
        name = init if isinstance(init, str) else "numpy he_normal"
        detail = ", ".join(f"{k}: {v}" for k, v in fails.items()) or "—"
        print(
            f"| {name} {kwargs or ''} | {seeds} | {failed_runs} | {detail} | {seeds * bound:.2g} |"
        )


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
