"""The documented thresholds, decided where they are stated, with scipy as the oracle.

docs/statistics.md promises, at default settings (alpha = 1e-4, power = 0.999):

- variance: a std within ×1.05 of the target passes, a std off by ×1.10 (or ÷1.10) fails
  with probability ≥ power; ≈ 11,000 values for a normal;
- centering: |mean| ≤ 0.05 target std passes, |mean| ≥ 0.10 fails with ≥ power;
  ≈ 20,000 values;
- scaling: a std off by ×1.20 on any one shape fails with ≥ power.

Each repeated-seed test states its own flake rate. "Must fail" cases run ``SEEDS`` seeds
and allow ``MISSES`` = 2 passes: at the stated power the chance of 3 or more misses is
``binom.sf(2, 40, 1e-3)`` ≈ 1e-5 (≈ 1e-8 at the planned sample size, which draws 1.2× the
planned values). "Must pass" cases run ``PASS_SEEDS`` seeds and allow no failure;
:func:`wrong_verdict_probability` (normal approximation, scipy) bounds each run's false
failure at the sample size drawn, and the test asserts the bound over all its seeds is
below 1e-6 before trusting the count. The planned sample
sizes are recomputed here from the definition of power with ``scipy.optimize.brentq``,
never from initcheck's own planner.
"""

from __future__ import annotations

import ast
import math

import broken_inits as b
import numpy as np
import pytest
from scipy import optimize
from scipy import stats as sps

import initcheck
from initcheck import InitCheckFailure
from initcheck.checks.centering import check_centering
from initcheck.checks.variance import check_variance
from initcheck.initializers import resolve
from initcheck.sampling import REACH, collect
from initcheck.settings import Settings
from initcheck.targets import resolve_target

ALPHA, POWER = 1e-4, 0.999  # the documented defaults, restated (not read from initcheck)
SEEDS, MISSES = 40, 2  # "must fail" cases
PASS_SEEDS = 20  # "must pass" cases
FLAKE = 1e-6  # the most a test here may fail by chance

DENSE, CONV, LARGE = (3, 5), (3, 3, 4, 6), (3, 3, 128, 256)


def scaled(factor: float, shift: float = 0.0):
    """He normal with its std multiplied by ``factor`` and ``shift`` target stds added."""

    def init(shape, dtype=None, seed=None):
        std = math.sqrt(2 / b.fans(shape)[0])
        return np.random.default_rng(seed).normal(shift * std, factor * std, shape)

    init.__name__ = f"he_x{factor:.4g}_shift{shift:g}"
    return init


# ---------------------------------------------------------------- oracles (scipy only)


def planned_n_variance(kurtosis, *, alpha=ALPHA, power=POWER, tol=0.05, detect=0.10):
    """The smallest n at which a std off by ×(1+detect) fails with ``power``: the interval
    of log Var(W)/target, ± z(alpha/2)·√((κ-1)/n), must clear the band ±2·log(1+tol)."""
    z = sps.norm.isf(alpha / 2)
    gap = 2 * math.log1p(detect) - 2 * math.log1p(tol)

    def shortfall(n):
        se = math.sqrt((kurtosis - 1) / n)
        return sps.norm.sf(z - gap / se) - power

    return math.ceil(optimize.brentq(shortfall, 2, 1e9, xtol=1e-9))


def planned_n_mean(sd, *, alpha=ALPHA, power=POWER, tol=0.05, detect=0.10):
    """The smallest n at which |mean| = detect fails with ``power`` (normal approximation)."""
    z = sps.norm.isf(alpha / 2)

    def shortfall(n):
        return sps.norm.sf(z - (detect - tol) / (sd / math.sqrt(n))) - power

    return math.ceil(optimize.brentq(shortfall, 2, 1e9, xtol=1e-9))


def wrong_verdict_probability(log_ratio, n, *, alpha=ALPHA, tol=0.05, kurtosis=3.0):
    """P(the variance interval lies wholly outside the band) for a true log Var ratio."""
    se = math.sqrt((kurtosis - 1) / n)
    z, band = sps.norm.isf(alpha / 2), 2 * math.log1p(tol)
    return sps.norm.sf((band + z * se - log_ratio) / se) + sps.norm.cdf(
        (-band - z * se - log_ratio) / se
    )


def _verdicts(assertion, runs):
    """(failed runs, results) of ``assertion(seed)`` over ``runs`` seeds."""
    results, failed = [], 0
    for seed in range(runs):
        try:
            results.append(assertion(seed))
        except InitCheckFailure as exc:
            failed += 1
            results.append(exc.results[0])
    return failed, results


def test_the_flake_bound_of_must_fail_cases():
    # 3+ misses out of 40 at the stated miss rate 1 - power
    assert sps.binom.sf(MISSES, SEEDS, 1 - POWER) < 2e-5
    # the planned sample is 1.2 × the oracle's: the miss rate there
    z_a, z_p = sps.norm.isf(ALPHA / 2), sps.norm.ppf(POWER)
    miss = sps.norm.cdf(z_a - math.sqrt(1.2) * (z_a + z_p))
    assert sps.binom.sf(MISSES, SEEDS, miss) < FLAKE


# ---------------------------------------------------------------- planned sample sizes


def test_documented_sample_sizes():
    assert 10_000 < planned_n_variance(3.0) < 12_000  # "≈ 11,000 values for a normal"
    assert 19_000 < planned_n_mean(1.0) < 21_000  # "≈ 20,000 values"


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"power": 0.5},
        {"power": 0.9},
        {"alpha": 1e-2},
        {"alpha": 1e-6},
        {"std_detect": 0.2},
        {"std_tolerance": 0.02, "std_detect": 0.06},
    ],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults",
)
def test_variance_sample_size_is_planned_from_alpha_power_and_the_band(options):
    result = initcheck.assert_variance(scaled(1.0), "he", DENSE, **options)
    kurt = result.details["kurtosis"]
    # a normal's: the estimate's se is sqrt(24/n) ≤ 0.077 at n ≥ 4,096 (0.5 is > 6 se)
    assert abs(kurt - 3) < 0.5
    want = planned_n_variance(
        kurt,
        alpha=options.get("alpha", ALPHA),
        power=options.get("power", POWER),
        tol=options.get("std_tolerance", 0.05),
        detect=options.get("std_detect", 0.10),
    )
    assert result.details["required_n"] == pytest.approx(want, abs=1)
    assert result.n >= result.details["required_n"]
    # what is drawn follows the plan (1.2× it, or the 4,096-value pilot), not more; the
    # plan made from the pilot's kurtosis may exceed the final one's: (κ - 1) is known to
    # ±3.8% (1 se) from 4,096 values, so +25% is > 6 se
    assert result.n <= max(1.2 * want * 1.25, 4096) + 2 * math.prod(DENSE)


@pytest.mark.parametrize(
    "options",
    [{}, {"power": 0.5}, {"alpha": 1e-2}, {"mean_tolerance": 0.02, "mean_detect": 0.2}],
    ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "defaults",
)
def test_mean_sample_size_is_planned_from_alpha_power_and_the_band(options):
    result = initcheck.assert_zero_centered(scaled(1.0), DENSE, variance="he", **options)
    sd = result.details["sd"]
    want = planned_n_mean(
        sd,
        alpha=options.get("alpha", ALPHA),
        power=options.get("power", POWER),
        tol=options.get("mean_tolerance", 0.05),
        detect=options.get("mean_detect", 0.10),
    )
    assert result.details["required_n"] == pytest.approx(want, abs=1)
    assert result.n >= result.details["required_n"]
    # planned during sampling from the sd estimated so far: from the 4,096-value pilot the
    # planned n (∝ sd²) is known to ±2.2% (1 se), so +15% is > 6 se
    assert result.n <= max(1.2 * want * 1.15, 4096) + 2 * math.prod(DENSE)


def test_a_mean_need_beyond_reach_of_max_values_is_not_drawn_toward():
    # std 40x the target: the mean in target-std units needs ~(6.98*40/0.05)^2 = 31 M
    # values, > REACH x max_values; drawing to the cap could not detect a 0.10 offset
    options = dict(variance="he", max_values=2**20)
    with pytest.raises(InitCheckFailure, match="inconclusive") as info:
        initcheck.assert_zero_centered(scaled(40.0), (64, 64), **options)
    (r,) = info.value.results
    assert r.details["required_n"] > REACH * 2**20
    assert r.n <= 2 * 4096, r.n  # the pilot (two draws), not the 2^20 cap
    assert f"only {r.n} of the {r.details['required_n']} values needed" in r.message
    # within reach (std 8x: ~1.2 M values, < 4 x 2^20) it is drawn toward: at the cap its
    # interval (half-width 3.9 x 8 / 1024 = 0.03) lies inside the band, so it passes
    r = initcheck.assert_zero_centered(scaled(8.0), (64, 64), **options)
    assert r.n > 2**19 and r.details["required_n"] > 2**20


def test_shape_detect_plans_each_shape_of_the_scaling_law():
    shapes = [DENSE, (20, 30), (64, 32)]
    z = sps.norm.isf(ALPHA / len(shapes) / 2) + sps.norm.ppf(POWER)
    for detect in (0.2, 0.4):
        # each shape is compared with the others' pooled ratio: se ≤ √2 × its own
        gap = 2 * math.log1p(detect) - 2 * math.log1p(0.05)
        per_shape = math.ceil(2 * (z * math.sqrt(2) / gap) ** 2)  # normal: κ - 1 = 2
        result = initcheck.assert_variance_scaling(
            scaled(1.0), "he", shapes=shapes, shape_detect=detect
        )
        for shape, row in result.details["per_shape"].items():
            size = math.prod(ast.literal_eval(shape))
            # planned (×1.2 drawn) from the shape's kurtosis estimate: from ≥ 1,024 values
            # (κ - 1) is known to ±7.6% (1 se), so -30%/+40% are ≥ 4 se of the earliest
            # plan and ≥ 6 se of the final one (≥ 3,000 values)
            assert 1.2 * per_shape * 0.7 - size <= row["n"], (detect, shape)
            # at least two draws (the second tells whether seeds are honoured)
            assert row["n"] <= max(1.2 * per_shape * 1.4, 2 * size, 1024) + size, shape


# ---------------------------------------------------------------- variance at the band


@pytest.mark.parametrize("shape", [DENSE, CONV, LARGE], ids=["dense", "conv", "large"])
@pytest.mark.parametrize("factor", [1.04, 1 / 1.04])
def test_std_within_the_tolerance_passes(shape, factor):
    runs = PASS_SEEDS if math.prod(shape) < 2**17 else 10
    failed, results = _verdicts(
        lambda seed: initcheck.assert_variance(scaled(factor), "he", shape, seed=seed), runs
    )
    n = min(r.n for r in results)
    bound = runs * wrong_verdict_probability(2 * math.log(factor), n)
    assert bound < FLAKE, (n, bound)
    assert failed == 0, [r.message for r in results if not r.passed]


@pytest.mark.parametrize("shape", [DENSE, CONV, LARGE], ids=["dense", "conv", "large"])
@pytest.mark.parametrize("factor", [1.10, 1 / 1.10, 0.90], ids=["x1.10", "/1.10", "x0.90"])
def test_std_off_by_the_detect_size_fails(shape, factor):
    runs = SEEDS if math.prod(shape) < 2**17 else 10
    failed, results = _verdicts(
        lambda seed: initcheck.assert_variance(scaled(factor), "he", shape, seed=seed), runs
    )
    # large: one draw of 294,912 values; a miss there has probability < 1e-100
    assert failed >= runs - (MISSES if runs == SEEDS else 0), [r.message for r in results]
    kind = "too large" if factor > 1 else "too small"
    assert all(kind in r.message for r in results if not r.passed)


# ---------------------------------------------------------------- centering at the band


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("shift", [0.04, -0.04])
def test_mean_within_the_tolerance_passes(shape, shift):
    failed, results = _verdicts(
        lambda seed: initcheck.assert_zero_centered(
            scaled(1.0, shift), shape, variance="he", seed=seed
        ),
        PASS_SEEDS,
    )
    n = min(r.n for r in results)
    z = sps.norm.isf(ALPHA / 2)
    per_run = sps.norm.sf(z + (0.05 - abs(shift)) * math.sqrt(n))  # sd = 1
    assert PASS_SEEDS * per_run < FLAKE, (n, per_run)
    assert failed == 0, [r.message for r in results if not r.passed]


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("shift", [0.10, -0.10])
def test_mean_of_the_detect_size_fails(shape, shift):
    failed, results = _verdicts(
        lambda seed: initcheck.assert_zero_centered(
            scaled(1.0, shift), shape, variance="he", seed=seed
        ),
        SEEDS,
    )
    assert failed >= SEEDS - MISSES, [r.message for r in results]
    assert all("not zero-centered" in r.message for r in results if not r.passed)


# ---------------------------------------------------------------- the scaling law


def one_shape_off(bad_shape, factor):
    """Correct He normal except on ``bad_shape``, whose std is multiplied by ``factor``."""

    def init(shape, dtype=None, seed=None):
        w = b.he_normal(shape, seed=seed)
        return w * factor if tuple(shape) == bad_shape else w

    return init


# the off shape is the one with the most values: a reference over all shapes follows it
SCALING_SHAPES = [DENSE, (20, 30), (64, 32)]


@pytest.mark.parametrize("factor", [1.20, 1 / 1.20], ids=["x1.20", "/1.20"])
@pytest.mark.parametrize("bad", [(64, 32), DENSE], ids=["largest", "smallest"])
def test_one_shape_off_by_shape_detect_breaks_the_law(factor, bad):
    failed, results = _verdicts(
        lambda seed: initcheck.assert_variance_scaling(
            one_shape_off(bad, factor), "he", shapes=SCALING_SHAPES, seed=seed
        ),
        SEEDS,
    )
    assert failed >= SEEDS - MISSES, [r.message for r in results]


@pytest.mark.parametrize("factor", [1.025, 1 / 1.025])
def test_one_shape_within_the_tolerance_keeps_the_law(factor):
    failed, results = _verdicts(
        lambda seed: initcheck.assert_variance_scaling(
            one_shape_off((64, 32), factor), "he", shapes=SCALING_SHAPES, seed=seed
        ),
        PASS_SEEDS,
    )
    # Each shape's log ratio to the other shapes' pooled ratio is at most |2·log(factor)|,
    # with the se of 1/(1/n_s + 1/Σ_others n) values; union bound over the shapes.
    # (×1.04 on a shape of ~3,000 values sits within 1 se of the band: its own flake
    # bound, ~1e-5 over 20 seeds, would not be negligible.)
    per_run = 0.0
    for r in results:
        ns = [row["n"] for row in r.details["per_shape"].values()]
        p = sum(
            wrong_verdict_probability(
                2 * math.log(factor),
                1 / (1 / n + 1 / (sum(ns) - n)),
                alpha=ALPHA / len(ns),
            )
            for n in ns
        )
        per_run = max(per_run, p)
    assert PASS_SEEDS * per_run < FLAKE, per_run
    assert failed == 0, [r.message for r in results if not r.passed]


# ---------------------------------------------------------------- every setting acts


@pytest.fixture(scope="module")
def large_samples():
    """One draw of a 294,912-value kernel with std ×1.06: n far above any plan below."""
    init = resolve(scaled(1.06))
    return collect(init, [LARGE], target=resolve_target("he"), needs=("variance", "mean"))


def test_variance_interval_is_the_documented_one(large_samples):
    for alpha in (1e-2, 1e-4, 1e-6):
        r = check_variance(large_samples, Settings(alpha=alpha))
        se = math.sqrt((r.details["kurtosis"] - 1) / r.n)
        z = sps.norm.isf(alpha / 2)
        assert r.interval == pytest.approx(
            (r.statistic * math.exp(-z * se), r.statistic * math.exp(z * se)), rel=1e-12
        )
        assert r.alpha == alpha


def test_alpha_moves_the_variance_decision_where_scipy_says(large_samples):
    r = check_variance(large_samples, Settings())
    se = math.sqrt((r.details["kurtosis"] - 1) / r.n)
    band = 1.05**2
    # the alpha at which the interval's low end touches the band
    alpha_star = 2 * sps.norm.sf(math.log(r.statistic / band) / se)
    assert 1e-30 < alpha_star < 1e-4  # ×1.06 on 294,912 values: ≈ 7 se outside the band
    assert not check_variance(large_samples, Settings(alpha=alpha_star * 2)).passed
    assert check_variance(large_samples, Settings(alpha=alpha_star / 2)).passed


def test_std_tolerance_moves_the_band_and_the_decision(large_samples):
    r = check_variance(large_samples, Settings())
    tol_star = math.sqrt(r.interval[0]) - 1  # the band edge at the interval's low end
    for tol in (tol_star * 0.98, tol_star * 1.02):
        res = check_variance(large_samples, Settings(std_tolerance=tol, std_detect=2 * tol))
        assert res.details["band"] == pytest.approx([(1 + tol) ** -2, (1 + tol) ** 2])
        assert res.passed is (tol > tol_star), (tol, tol_star, res.message)


def test_centering_interval_and_mean_tolerance(large_samples):
    shifted = collect(
        resolve(scaled(1.0, 0.03)),
        [LARGE],
        target=resolve_target("he"),
        needs=("mean",),
    )
    for alpha in (1e-2, 1e-4):
        r = check_centering(shifted, Settings(alpha=alpha))
        half = sps.t.isf(alpha / 2, r.n - 1) * r.details["sd"] / math.sqrt(r.n)
        assert r.interval == pytest.approx((r.statistic - half, r.statistic + half), rel=1e-12)
    low = check_centering(shifted, Settings()).interval[0]
    assert 0.02 < low < 0.03
    for tol in (low * 0.98, low * 1.02):
        res = check_centering(shifted, Settings(mean_tolerance=tol, mean_detect=4 * tol))
        assert res.passed is (tol > low), (tol, low, res.message)


def test_max_values_caps_the_sample_and_leaves_the_verdict_inconclusive():
    with pytest.raises(InitCheckFailure, match="inconclusive") as info:
        initcheck.assert_variance(scaled(1.0), "he", DENSE, max_values=3000)
    (r,) = info.value.results
    assert r.n <= 3000
    assert f"only {r.n} of {r.details['required_n']} values" in r.message


def test_max_draws_caps_the_draws_per_shape():
    with pytest.raises(InitCheckFailure, match="inconclusive") as info:
        initcheck.assert_variance(scaled(1.0), "he", DENSE, max_draws=100)
    (r,) = info.value.results
    assert r.n == 100 * math.prod(DENSE)
    r = initcheck.assert_variance(scaled(1.0), "he", DENSE, max_draws=5000)
    assert r.n > 100 * math.prod(DENSE)


# ---------------------------------------------------------------- distribution at its size


def _truncated(shape, dtype=None, seed=None):
    std = math.sqrt(2 / b.fans(shape)[0]) / sps.truncnorm(-2, 2).std()
    return sps.truncnorm.rvs(-2, 2, scale=std, size=shape, random_state=seed)


DIST_SHAPE = (256, 128)  # 32,768 values a draw: the test uses 20,000 of them


def _distribution(init, family, seed=0):
    return initcheck.check(
        init, checks=["distribution"], family=family, shapes=[DIST_SHAPE], seed=seed
    )["distribution"]


@pytest.mark.parametrize(
    ("init", "family", "passed"),
    [
        (b.he_normal, "normal", True),
        (b.he_uniform, "uniform", True),
        (b.he_uniform, "normal", False),
        (b.he_normal, "uniform", False),
    ],
    ids=["normal", "uniform", "uniform-as-normal", "normal-as-uniform"],
)
def test_distribution_decides_on_20000_values_at_the_ks_critical_distance(init, family, passed):
    # docs: "Kolmogorov–Smirnov on ≤ 20,000 values", critical distance 0.0157 at alpha
    # 1e-4. Uniform vs normal are 0.057 apart: with the KS distance's sd ≤ 0.5/√n = 0.0035
    # that is > 11 sd past the critical value. A correct family fails at most at alpha,
    # far less here (the std is estimated: Lilliefors).
    r = _distribution(init, family)
    assert r.n == 20_000
    assert r.target == pytest.approx(sps.kstwo.isf(ALPHA, 20_000), rel=1e-9)
    assert r.passed is passed, r.message
    assert (r.statistic > r.target) is not passed


def test_a_truncated_normal_declared_normal_fails_with_power_about_0_99():
    # the population distance is 0.0167 against the critical 0.0157 (scipy, below); the
    # measured KS distance is 0.0196 ± 0.0016, a miss rate ≈ 0.008. Allowing 8 misses of
    # 40: binom.sf(8, 40, 0.02) < 1e-7 even at a 2% miss rate.
    t = sps.truncnorm(-2, 2, scale=1 / sps.truncnorm(-2, 2).std())
    x = np.linspace(-3, 3, 60_001)
    distance = float(np.abs(t.cdf(x) - sps.norm.cdf(x)).max())
    assert distance == pytest.approx(0.0167, abs=1e-4) and distance > sps.kstwo.isf(ALPHA, 20_000)
    assert sps.binom.sf(8, 40, 0.02) < 1e-7
    failed, results = _verdicts(lambda seed: _assert_fails_family(_truncated, seed), 40)
    assert failed >= 32, [r.message for r in results]
    assert all("not normal" in r.message for r in results if not r.passed)


def _assert_fails_family(init, seed):
    r = _distribution(init, "normal", seed)
    if not r.passed:
        raise InitCheckFailure([r])
    return r
