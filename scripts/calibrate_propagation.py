"""Calibrate the propagation check: false-failure rate of sound inits, detection of broken ones.

Runs :func:`initcheck.checks.propagation.check_propagation` with its defaults (depth 20,
width 256, batch 256, 4 nets, tolerance 0.05) over many seeds for initializers that are
sound for the nonlinearity (must pass) and for broken ones (must fail), and prints a
table: failure rate, mean and spread of the per-layer log gains, the worst gain seen, the
margin to the band edge in standard deviations and the Gaussian-tail estimate of the
false-failure rate that margin implies.

The initializers are plain numpy callables with the exact Keras/PyTorch formulas (fast to
draw); the tests run the same check on the real Keras initializers.

Usage:
    OPENBLAS_NUM_THREADS=1 python scripts/calibrate_propagation.py [--seeds 200] [--broken-seeds 50]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
from scipy import stats

from initcheck.checks.propagation import check_propagation
from initcheck.initializers import resolve
from initcheck.settings import Settings


def gaussian(scale: float, fan: str = "in") -> Callable[..., np.ndarray]:
    """N(0, scale/fan) for a Keras (in, out) kernel."""

    def init(shape: tuple[int, ...], seed: int, dtype: str | None = None) -> np.ndarray:
        n = shape[0] if fan == "in" else (shape[0] + shape[1]) / 2
        return np.random.default_rng(seed).normal(0.0, math.sqrt(scale / n), shape)

    return init


def uniform(scale: float) -> Callable[..., np.ndarray]:
    """U(±sqrt(3 scale/fan_avg)) (Glorot uniform for scale 1)."""

    def init(shape: tuple[int, ...], seed: int, dtype: str | None = None) -> np.ndarray:
        limit = math.sqrt(3 * scale / ((shape[0] + shape[1]) / 2))
        return np.random.default_rng(seed).uniform(-limit, limit, shape)

    return init


def orthogonal(gain: float = 1.0) -> Callable[..., np.ndarray]:
    """Haar orthogonal (QR with sign correction, Mezzadri 2006) times ``gain``."""

    def init(shape: tuple[int, ...], seed: int, dtype: str | None = None) -> np.ndarray:
        q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal(shape))
        return gain * q * np.sign(np.diag(r))

    return init


SOUND = [
    ("he_normal", gaussian(2.0), "relu"),
    ("lecun_normal", gaussian(1.0), "tanh"),
    ("glorot_uniform", uniform(1.0), "tanh"),
    ("glorot_normal", gaussian(1.0, "avg"), "linear"),
    ("orthogonal", orthogonal(), "tanh"),
    ("orthogonal", orthogonal(), "linear"),
    ("orthogonal(gain=√2)", orthogonal(math.sqrt(2)), "relu"),
]

BROKEN = [
    ("lecun_normal (no ReLU gain)", gaussian(1.0), "relu"),
    ("orthogonal (no ReLU gain)", orthogonal(), "relu"),
    ("he_normal on tanh", gaussian(2.0), "tanh"),
    ("he_normal on linear", gaussian(2.0), "linear"),
    ("he_normal std ×1.2", gaussian(2.0 * 1.2**2), "relu"),
    ("he_normal std ×0.8", gaussian(2.0 * 0.8**2), "relu"),
    ("lecun_normal std ×1.2", gaussian(1.2**2), "tanh"),
    ("lecun_normal std ×0.8", gaussian(0.8**2), "linear"),
    ("he_normal std ×1.1", gaussian(2.0 * 1.1**2), "relu"),
    ("torch tanh gain 5/3", gaussian((5 / 3) ** 2), "tanh"),
]


def run(
    name: str,
    init: Callable[..., np.ndarray],
    nonlinearity: str,
    seeds: int,
    sound: bool,
    width: int = 256,
) -> dict:
    resolved = resolve(init, name=name)
    fails, logs_f, logs_b, worst = 0, [], [], 1.0
    for seed in range(seeds):
        r = check_propagation(
            resolved, nonlinearity=nonlinearity, width=width, settings=Settings(seed=seed)
        )
        fails += not r.passed
        gf, gb = r.details["forward_gain"], r.details["backward_gain"]
        for g, logs in ((gf, logs_f), (gb, logs_b)):
            logs.append(math.log(g) if 0 < g < math.inf else math.copysign(50.0, g - 1))
            if abs(logs[-1]) > abs(math.log(worst)):
                worst = math.exp(logs[-1])
        band = r.details["band"]
    half = math.log(band[1])
    row = {"name": name, "nl": nonlinearity, "seeds": seeds, "fails": fails, "worst": worst}
    tails = []
    for key, logs in (("f", np.array(logs_f)), ("b", np.array(logs_b))):
        mean, sd = float(logs.mean()), float(logs.std(ddof=1))
        row[f"mean_{key}"], row[f"sd_{key}"] = mean, sd
        margin = (half - abs(mean)) / sd if sd > 0 else math.inf
        row[f"margin_{key}"] = margin
        # both sides of the band, union bound over forward and backward
        if sd > 0:
            tails.append(stats.norm.sf((half - mean) / sd) + stats.norm.cdf((-half - mean) / sd))
        else:
            tails.append(float(abs(mean) > half))
    # sound: union bound over forward and backward (an upper bound of the false-failure
    # rate); broken: the larger of the two (a lower bound of the detection rate)
    row["tail"] = min(1.0, sum(tails)) if sound else max(tails)
    return row


def tail_text(p: float) -> str:
    """A Gaussian-tail probability; below 1e-15 only the bound is meaningful."""
    return "<1e-15" if p < 1e-15 else f"{p:.1e}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=200, help="seeds per sound initializer")
    parser.add_argument("--broken-seeds", type=int, default=50, help="seeds per broken one")
    parser.add_argument("--width", type=int, default=256, help="net width (default 256)")
    parser.add_argument("--only", default=None, help="run only rows whose name contains this")
    args = parser.parse_args(argv)
    start = time.time()
    print(
        f"propagation check: depth 20, width {args.width}, batch 256, 4 nets, tolerance 0.05 "
        f"-> per-layer band [{1.05**-2:.4f}, {1.05**2:.4f}] (|log g| <= {math.log(1.05**2):.4f})"
    )
    header = (
        f"{'initializer':<28} {'nonlin':<7} {'seeds':>5} {'fail rate':>9} "
        f"{'mean log g_f':>12} {'sd':>7} {'mean log g_b':>12} {'sd':>7} "
        f"{'worst g':>8} {'margin σ':>8} {'P(fail)est':>10}"
    )
    for title, rows, seeds in (
        ("SOUND (must pass)", SOUND, args.seeds),
        ("BROKEN (must fail)", BROKEN, args.broken_seeds),
    ):
        if seeds < 2:
            continue
        print(f"\n{title}\n{header}")
        for name, init, nl in rows:
            if args.only and args.only not in name:
                continue
            r = run(name, init, nl, seeds, sound=title.startswith("SOUND"), width=args.width)
            margin = min(r["margin_f"], r["margin_b"])
            print(
                f"{r['name']:<28} {r['nl']:<7} {r['seeds']:>5} {r['fails'] / seeds:>9.3f} "
                f"{r['mean_f']:>12.4f} {r['sd_f']:>7.4f} {r['mean_b']:>12.4f} {r['sd_b']:>7.4f} "
                f"{r['worst']:>8.4f} {margin:>8.1f} {tail_text(r['tail']):>10}",
                flush=True,
            )
    print(f"\n{time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
