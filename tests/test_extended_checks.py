"""Beyond mean and variance: seeds, dtypes, tails, distribution family, degenerate units."""

import math

import broken_inits as b
import keras  # the [dev] extra installs it (the suite tests Keras): imported, never skipped
import numpy as np
import pytest
from scipy import stats as sps

import initcheck


def run(init, check, **kwargs):
    return initcheck.check(init, checks=[check], **kwargs)[check]


# --- seeds -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "init",
    ["he_normal", keras.initializers.HeNormal(seed=7), b.he_normal],
    ids=["keras-name", "keras-seeded-instance", "numpy-callable"],
)
def test_honoured_seeds_pass(init):
    result = run(init, "seeds")
    assert result.passed, result.message
    assert result.details["reproducible"] and result.details["distinct"]


def test_ignored_seed_fails():
    def ignores_seed(shape, dtype=None, seed=None):
        return np.random.default_rng(0).normal(0, 0.1, shape)

    result = run(ignores_seed, "seeds")
    assert not result.passed
    assert "seed ignored" in result.message and "accepts a seed but ignores it" in result.message


def test_unreproducible_seed_fails():
    def fresh_entropy(shape, dtype=None, seed=None):
        return np.random.default_rng().normal(0, 0.1, shape)  # seed not used

    result = run(fresh_entropy, "seeds")
    assert not result.passed
    assert "not reproducible: the same seed" in result.message


def test_deterministic_initializer_passes_when_declared():
    def eye(shape, dtype=None):
        return np.eye(*shape)

    assert not run(eye, "seeds", shapes=[(8, 8)]).passed
    assert run(eye, "seeds", shapes=[(8, 8)], deterministic=True).passed


# --- dtypes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "target"),
    [("he_normal", "he"), ("glorot_normal", "glorot"), ("lecun_normal", "lecun")],
)
def test_keras_normal_initializers_honour_every_dtype(name, target):
    result = run(name, "dtypes", variance=target)
    assert result.passed, result.message
    assert set(result.details["per_dtype"]) == {"float16", "bfloat16", "float32", "float64"}


def test_fixed_point_uniform_collapses_to_few_values_in_low_precision():
    # U(-b, b) generated as b·(2·k/128 - 1) in bfloat16 (7-bit mantissa) has 128 values;
    # rounding a continuous uniform to bfloat16 gives ~1,400 among 10,000 draws.
    # (Keras 3.15's RandomUniform in bfloat16 behaves like this: 128 distinct values.)
    ml_dtypes = pytest.importorskip("ml_dtypes")

    def fixed_point(shape, dtype=None, seed=None):
        limit = math.sqrt(6 / math.prod(shape[:-1]))
        k = np.random.default_rng(seed).integers(0, 128, shape)
        w = limit * (2 * k / 128 - 1)
        return w.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else (dtype or "float32"))

    result = run(fixed_point, "dtypes", shapes=[(256, 128)], variance="he")
    assert not result.passed
    assert "only 128 distinct values among 10000 in bfloat16" in result.message


def test_dtype_not_honoured_fails():
    def always_float32(shape, dtype=None, seed=None):
        return b.he_normal(shape, seed=seed).astype(np.float32)

    result = run(always_float32, "dtypes", shapes=[(128, 64)])
    assert not result.passed
    assert "float16 requested, float32 returned" in result.message


def test_clamped_low_precision_piles_up_at_the_bound():
    # a bf16 truncated normal that clamps instead of re-drawing (PyTorch's bug until 2026)
    ml_dtypes = pytest.importorskip("ml_dtypes")

    def clamped(shape, dtype=None, seed=None):
        std = math.sqrt(2 / math.prod(shape[:-1]))
        w = np.random.default_rng(seed).normal(0, std, shape).clip(-2 * std, 2 * std)
        return w.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else (dtype or "float32"))

    result = run(clamped, "dtypes", shapes=[(256, 128)])
    assert not result.passed
    assert "bfloat16: pile-up at the" in result.message


def test_few_distinct_values_fail():
    def coarse(shape, dtype=None, seed=None):
        return np.round(b.he_normal(shape, seed=seed), 1).astype(dtype or "float32")

    result = run(coarse, "dtypes", shapes=[(128, 64)])
    assert not result.passed
    assert "distinct values" in result.message


def test_callable_without_dtype_is_not_checked():
    def no_dtype(shape, seed=None):
        return b.he_normal(shape, seed=seed)

    result = run(no_dtype, "dtypes")
    assert result.passed and "takes no `dtype`" in result.message


# --- tails and distribution ---------------------------------------------------------


def test_rare_outliers_fail_tails_but_not_variance():
    def outliers(shape, dtype=None, seed=None):
        rng = np.random.default_rng(seed)
        w = b.he_truncated(shape, seed=seed)
        hit = rng.random(shape) < 1e-4
        return np.where(hit, 20 * np.sqrt(2 / math.prod(shape[:-1])), w)

    report = initcheck.check(outliers, variance="he", checks=["variance", "tails"])
    assert report["variance"].passed, report["variance"].message
    assert not report["tails"].passed
    assert "extreme outliers" in report["tails"].message


def test_small_shapes_with_estimated_scale_do_not_fail_by_chance():
    # a 3x5 kernel drawn twice: 30 values, whose mean and std are rough estimates
    for seed in range(20):
        assert run("glorot_uniform", "tails", family="uniform", seed=seed).passed


def test_truncated_family_bound():
    ok = run("he_normal", "tails", family="truncated_normal", variance="he")
    # bound 2/0.8796 (scipy's truncated normal at ±2, in units of its own std) with 5%
    # slack, widened a little for the estimated centre and scale
    unit_bound = 2 / sps.truncnorm(-2, 2).std()
    assert unit_bound == pytest.approx(2.2737, abs=1e-4)
    assert ok.passed and unit_bound * 1.05 < ok.target < 2.6
    assert run("he_normal", "tails", family="truncated_normal").passed  # estimated scale
    bad = run(b.he_normal, "tails", family="truncated_normal", variance="he")
    assert not bad.passed and "truncated_normal family allows" in bad.message


@pytest.mark.parametrize(
    ("init", "family"),
    [("he_normal", "truncated_normal"), ("he_uniform", "uniform"), (b.he_normal, "normal")],
)
def test_declared_family_passes_ks(init, family):
    result = run(init, "distribution", family=family)
    assert result.passed, result.message


@pytest.mark.parametrize(
    ("init", "family", "closest"),
    [
        (b.he_uniform, "normal", "uniform"),
        (b.he_normal, "truncated_normal", "normal"),
        ("he_normal", "normal", "truncated_normal"),
    ],
)
def test_wrong_family_fails_ks_and_names_the_closest(init, family, closest):
    result = run(init, "distribution", family=family)
    assert not result.passed
    assert f"not {family}" in result.message and f"closest family: {closest}" in result.message


def test_unknown_family_and_missing_family():
    with pytest.raises(ValueError, match="family='gaussian'"):
        initcheck.check("he_normal", family="gaussian")
    with pytest.raises(ValueError, match="needs a declared family"):
        initcheck.check("he_normal", checks=["distribution"])


# --- degenerate units ----------------------------------------------------------------


SHAPES = [(64, 32), (3, 3, 16, 32)]


@pytest.mark.parametrize(
    "init",
    ["he_normal", "orthogonal", "glorot_uniform", b.he_uniform],
    ids=["he_normal", "orthogonal", "glorot_uniform", "numpy-he-uniform"],
)
def test_random_kernels_are_not_degenerate(init):
    result = run(init, "degeneracy", shapes=SHAPES)
    assert result.passed, result.message


def test_near_duplicate_pairs_fail():
    def pairs(shape, dtype=None, seed=None):
        w = b.he_normal(shape, seed=seed)
        w[..., 1::2] = w[..., 0::2] + 1e-3 * w[..., 1::2]  # odd units ≈ even units
        return w

    result = run(pairs, "degeneracy", shapes=SHAPES)
    assert not result.passed
    assert "near-duplicate units" in result.message
    assert initcheck.check(pairs, checks=["symmetry"], shapes=SHAPES).passed  # not exact copies


def test_one_signed_unit_fails():
    def one_signed(shape, dtype=None, seed=None):
        w = b.he_normal(shape, seed=seed)
        w[..., 3] = np.abs(w[..., 3])
        return w

    result = run(one_signed, "degeneracy", shapes=SHAPES)
    assert not result.passed
    assert "one-signed unit 3" in result.message


def test_low_rank_kernel_fails():
    def rank2(shape, dtype=None, seed=None):
        rng = np.random.default_rng(seed)
        d, units = math.prod(shape[:-1]), shape[-1]
        w = rng.normal(size=(d, 2)) @ rng.normal(size=(2, units)) / math.sqrt(d)
        return w.reshape(shape)

    result = run(rank2, "degeneracy", shapes=SHAPES)
    assert not result.passed
    assert "low effective rank" in result.message


def test_check_names_are_validated():
    with pytest.raises(ValueError, match=r"Unknown check\(s\) \['speed'\]"):
        initcheck.check("he_normal", checks=["speed"])
    with pytest.raises(ValueError, match="needs a target"):
        initcheck.check("he_normal", checks=["variance"])
