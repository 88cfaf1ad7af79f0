"""Real layer sizes and real layer kinds: linear-cost checks, large default shapes, the
user's shapes only, and verdicts that follow the layer's own fans and dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest

import initcheck
from initcheck import stats
from initcheck.fans import Fans, KernelLayout
from initcheck.shapes import DEFAULT_SHAPES, default_shapes


def he_numpy(shape, dtype=None, seed=None):
    fan_in = math.prod(shape[:-1])
    rng = np.random.default_rng(seed)
    return rng.normal(0, math.sqrt(2 / fan_in), shape).astype(np.float32)


def test_moments_match_numpy_and_scipy():
    from scipy import stats as sp

    rng = np.random.default_rng(0)
    x = (rng.standard_normal(300_001) * 2 + 1).astype(np.float32)
    x[::7] = x[::7] ** 3
    m = stats.Moments.of(x, chunk=10_000)
    x64 = x.astype(np.float64)
    assert m.var == pytest.approx(np.var(x64, ddof=1), rel=1e-10)
    assert m.kurtosis == pytest.approx(sp.kurtosis(x64, fisher=False), rel=1e-9)
    assert (m.lo, m.hi) == (x.min(), x.max())
    z = rng.standard_normal(40)
    est = stats.estimate_mean(z, 1e-3)
    ci = sp.ttest_1samp(z, 0.0).confidence_interval(confidence_level=1 - 1e-3)
    assert (est.low, est.high) == pytest.approx((ci.low, ci.high), rel=1e-9)


def test_default_shapes_include_a_real_size_layer():
    assert max(math.prod(s) for s in DEFAULT_SHAPES) >= 2**18
    for layout in ("keras", "torch", KernelLayout("keras", "depthwise")):
        assert max(math.prod(s) for s in default_shapes(layout)) >= 2**18


def large_only(defect):
    """A correct He init that turns defective on tensors of more than 10⁵ values."""

    def init(shape, dtype=None, seed=None):
        w = he_numpy(shape, seed=seed)
        return defect(w) if w.size > 10**5 else w

    return init


def _twin_units(w):
    w = w.copy()
    w[..., 1] = w[..., 0]
    return w


@pytest.mark.parametrize(
    ("defect", "check"),
    [
        (lambda w: w + np.float32(0.3 * w.std()), "centering"),
        (_twin_units, "symmetry"),
        (lambda w: np.where(np.arange(w.size).reshape(w.shape) == 7, 50 * w.std(), w), "tails"),
    ],
)
def test_a_defect_only_in_large_tensors_fails_by_default(defect, check):
    report = initcheck.check(large_only(defect))
    assert not report[check].passed, str(report)


def test_a_scale_defect_only_in_large_tensors_fails_by_default():
    report = initcheck.check(large_only(lambda w: w * np.float32(1.5)), variance="he")
    assert not report["scaling"].passed
    assert "(3, 3, 128, 256)" in report["scaling"].message


def test_float32_rank_one_kernel_fails_symmetry():
    def rank_one(shape, dtype=None, seed=None):
        rng = np.random.default_rng(seed)
        a = rng.standard_normal(math.prod(shape[:-1])).astype(np.float32)
        b = rng.standard_normal(shape[-1]).astype(np.float32)
        return np.outer(a, b).astype(np.float32).reshape(shape)

    result = initcheck.check(rank_one, checks=["symmetry"])["symmetry"]
    assert not result.passed
    assert "rank-1" in result.message


def test_torch_dirac_passes_every_default_check_on_conv_shapes():
    torch = pytest.importorskip("torch")
    shapes = [(64, 64, 3, 3), (32, 64, 5, 5), (128, 128, 3, 3)]
    report = initcheck.check(
        torch.nn.init.dirac_, shapes=shapes, layout="torch", deterministic=True
    )
    assert report.passed, str(report)
    assert {r.check for r in report.results} >= {"symmetry", "degeneracy", "tails"}


def test_jax_delta_orthogonal_passes_every_default_check_on_conv_shapes():
    jax = pytest.importorskip("jax")
    shapes = [(3, 3, 64, 64), (5, 5, 32, 32), (3, 3, 128, 128)]
    report = initcheck.check(jax.nn.initializers.delta_orthogonal(), shapes=shapes)
    assert report.passed, str(report)


def test_conv_only_initializer_is_never_asked_for_a_dense_kernel():
    asked = []

    def conv_only(shape, dtype=None, seed=None):
        asked.append(tuple(shape))
        if len(shape) == 2:
            raise ValueError(f"conv kernels only. Received: shape={shape}")
        return he_numpy(shape, seed=seed)

    report = initcheck.check(conv_only, variance="he", shapes=[(3, 3, 16, 32), (5, 5, 8, 8)])
    assert report.passed, str(report)
    assert all(len(s) == 4 for s in asked)


def test_groups_apply_to_conv_kernels_only():
    grouped = KernelLayout("torch", groups=4)
    assert grouped.fans((256, 128)) == Fans(128, 256)
    assert grouped.fans((64, 8, 3, 3)) == Fans(72, 144)


def test_grouped_fan_out_he_declared_as_fan_in_he_fails_naming_fan_out():
    grouped = KernelLayout("torch", groups=4)

    def he_fan_out(shape, dtype=None, seed=None):
        fans = grouped.fans(shape)
        rng = np.random.default_rng(seed)
        return rng.normal(0, math.sqrt(2 / fans.fan_out), shape).astype(np.float32)

    shapes = [(64, 8, 3, 3), (16, 32, 3, 3), (32, 4, 5, 5)]
    result = initcheck.check(he_fan_out, variance="he", layout=grouped, shapes=shapes)["scaling"]
    assert not result.passed
    assert "follows 2/fan_out; the target is 2/fan_in" in result.message


@pytest.mark.parametrize("factor", [0.19, 3.0])
def test_scaling_message_never_names_the_target_as_best_fit_of_a_failing_law(factor):
    def one_shape_off(shape, dtype=None, seed=None):
        w = he_numpy(shape, seed=seed)
        return w * np.float32(math.sqrt(factor)) if shape == (3, 5) else w

    result = initcheck.check(one_shape_off, variance="he", checks=["scaling"])["scaling"]
    assert not result.passed
    assert "follows 2/fan_in" not in result.message
    assert "one shape deviates" in result.message and "(3, 5) at ×" in result.message
