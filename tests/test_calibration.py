"""Calibration in CI: the stated error rates, measured over a few hundred runs.

``scripts/calibrate.py`` measures the default battery at alpha = 1e-4 (where no false
failure is expected in 1,000 runs, so the rate itself cannot be seen) and stays the
documented, slower measurement. Here the settings are looser, so the rates are large
enough to count, and each count is held to a binomial bound computed with scipy:

1. **The battery on sound initializers** (numpy He normal and He uniform, their family
   declared), ``BATTERY_RUNS`` = 100 runs each at alpha = 0.01: per check, failures ≤ the
   binomial upper ``1 - 1e-6`` quantile at its stated rate (docs/statistics.md: tails,
   degeneracy, distribution ≤ alpha; variance, centering, scaling ≤ alpha/2 at the
   tolerance edge and ≈ 0 when exact; symmetry and seeds 0).
2. **The false-failure rate at the tolerance edge**: a std exactly ×1.05 (variance) and a
   mean exactly 0.05 target std (centering) fail at the stated rate alpha/2 — here both
   ways, within the two-sided ``1e-6`` binomial interval, at alpha = 0.2 (rate 0.1, 600
   runs each): an interval too wide (rate → 0) fails the test as surely as one too narrow;
   intervals at a fixed alpha of 0.05 (rate 0.025) pass it with probability 0.003.
3. **Power at the detect size**: a std ×1.10 at power = 0.9 (alpha = 1e-3) is missed at
   most at rate 1 - power (binomial upper quantile).

Chance that a correct implementation fails this module: ≤ 1e-6 per count, < 2e-5 for the
module. It runs in about 45 s on 2 loaded cores (``--durations``; docs/development.md).
"""

from __future__ import annotations

import math
from collections import Counter

import broken_inits as b
import numpy as np
import pytest
from scipy import stats as sps

import initcheck
from initcheck import InitCheckFailure

pytestmark = pytest.mark.slow

CONFIDENCE = 1e-6  # per count: the chance a correct implementation falls outside
BATTERY_RUNS = 100  # per initializer
EDGE_RUNS = 600  # at 300 an interval at a fixed alpha 0.05 (rate 0.025) passed half the time
POWER_RUNS = 200
SHAPES = [(3, 5), (20, 30), (3, 3, 4, 6)]  # dense and conv, in ≠ out, kernel sides ≥ 2
EDGE_SHAPE = (20, 30)  # 600 values a draw: few calls per decision


def upper(runs: int, rate: float) -> int:
    """The largest failure count a rate of ``rate`` reaches with probability ≥ 1e-6."""
    return int(sps.binom.isf(CONFIDENCE, runs, rate))


def two_sided(runs: int, rate: float) -> tuple[int, int]:
    return (
        int(sps.binom.ppf(CONFIDENCE / 2, runs, rate)),
        int(sps.binom.isf(CONFIDENCE / 2, runs, rate)),
    )


def he(factor: float = 1.0, shift: float = 0.0):
    """He normal with its std × ``factor`` and ``shift`` target stds added."""

    def init(shape, dtype=None, seed=None):
        std = math.sqrt(2 / b.fans(shape)[0])
        return np.random.default_rng(seed).normal(shift * std, factor * std, shape)

    return init


# the stated false-failure rate of each check of the battery, at alpha (docs/statistics.md)
STATED = {
    "symmetry": lambda a: 0.0,
    "seeds": lambda a: 0.0,
    "centering": lambda a: a / 2,
    "variance": lambda a: a / 2,
    "scaling": lambda a: a / 2,
    "tails": lambda a: a,
    "degeneracy": lambda a: a,
    "distribution": lambda a: a,
}


@pytest.mark.parametrize(
    ("init", "family"),
    [(b.he_normal, "normal"), (b.he_uniform, "uniform")],
    ids=["normal", "uniform"],
)
def test_false_failures_of_the_battery_at_alpha_0_01(init, family):
    alpha = 0.01
    failures: Counter[str] = Counter()
    checks: set[str] = set()
    for seed in range(BATTERY_RUNS):
        report = initcheck.check(
            init, variance="he", family=family, shapes=SHAPES, seed=seed, alpha=alpha
        )
        checks |= {r.check for r in report.results}
        failures.update(r.check for r in report.results if not r.passed)
    assert checks == set(STATED)
    for check, rate in STATED.items():
        assert failures[check] <= upper(BATTERY_RUNS, rate(alpha)), (check, failures)
    # and the battery as a whole: at most the sum of the stated rates
    total = sum(rate(alpha) for rate in STATED.values())
    assert sum(failures.values()) <= upper(BATTERY_RUNS, total), failures


def _failures(assertion, runs: int) -> int:
    failed = 0
    for seed in range(runs):
        try:
            assertion(seed)
        except InitCheckFailure:
            failed += 1
    return failed


def test_variance_at_the_tolerance_edge_fails_at_rate_alpha_over_2():
    alpha = 0.2
    failed = _failures(
        lambda seed: initcheck.assert_variance(he(1.05), "he", EDGE_SHAPE, seed=seed, alpha=alpha),
        EDGE_RUNS,
    )
    low, high = two_sided(EDGE_RUNS, alpha / 2)
    assert low <= failed <= high, (failed, low, high)


def test_centering_at_the_tolerance_edge_fails_at_rate_alpha_over_2():
    alpha = 0.2
    failed = _failures(
        lambda seed: initcheck.assert_zero_centered(
            he(1.0, 0.05), EDGE_SHAPE, variance="he", seed=seed, alpha=alpha
        ),
        EDGE_RUNS,
    )
    low, high = two_sided(EDGE_RUNS, alpha / 2)
    assert low <= failed <= high, (failed, low, high)


def test_power_at_the_detect_size():
    power, alpha = 0.9, 1e-3
    for factor in (1.10, 1 / 1.10):
        detected = _failures(
            lambda seed, f=factor: initcheck.assert_variance(
                he(f), "he", EDGE_SHAPE, seed=seed, alpha=alpha, power=power
            ),
            POWER_RUNS,
        )
        assert POWER_RUNS - detected <= upper(POWER_RUNS, 1 - power), (factor, detected)
