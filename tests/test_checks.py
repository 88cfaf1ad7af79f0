"""Verdicts: correct initializers pass, each defect class fails with a message naming it."""

import math

import broken_inits as b
import keras  # the [dev] extra installs it (the suite tests Keras): imported, never skipped
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import initcheck
from initcheck import InitCheckFailure
from initcheck.strategies import kernel_shapes

TRUNC = b.TRUNC

RECTANGULAR = [(256, 128), (64, 512), (5, 16, 32), (3, 3, 32, 16), (3, 3, 3, 8, 4)]
SLOW_OK = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
shape_lists = st.lists(kernel_shapes(max_size=2**14), min_size=2, max_size=4)


def vs(scale, mode, distribution):
    return keras.initializers.VarianceScaling(scale=scale, mode=mode, distribution=distribution)


KERAS_CORRECT = [
    ("glorot_uniform", "glorot"),
    ("glorot_normal", "glorot"),
    ("he_uniform", "he"),
    ("he_normal", "he"),
    ("lecun_uniform", "lecun"),
    ("lecun_normal", "lecun"),
    (keras.initializers.RandomNormal(stddev=0.05), 0.05**2),
    (keras.initializers.RandomUniform(-0.05, 0.05), 0.05**2 / 3),
    (keras.initializers.TruncatedNormal(stddev=0.05), (0.05 * TRUNC) ** 2),
] + [
    (
        vs(2.0, mode, dist),
        {
            "fan_in": lambda fi, fo: 2 / fi,
            "fan_out": lambda fi, fo: 2 / fo,
            "fan_avg": lambda fi, fo: 4 / (fi + fo),
        }[mode],
    )
    for mode in ("fan_in", "fan_out", "fan_avg")
    for dist in ("truncated_normal", "untruncated_normal", "uniform")
]


def _id(case):
    init = case[0]
    if isinstance(init, str):
        return init
    cfg = init.get_config()
    return f"{type(init).__name__}-{cfg.get('mode', '')}-{cfg.get('distribution', '')}"


@pytest.mark.parametrize(("init", "target"), KERAS_CORRECT, ids=[_id(c) for c in KERAS_CORRECT])
@SLOW_OK
@given(shapes=shape_lists)
def test_keras_initializers_pass_on_generated_shapes(init, target, shapes):
    report = initcheck.check(init, variance=target, shapes=shapes)
    assert report.passed, str(report)


@pytest.mark.parametrize("init", [b.he_normal, b.he_truncated, b.he_uniform])
def test_correct_numpy_initializers_pass_on_default_shapes(init):
    report = initcheck.check(init, variance="he")
    assert report.passed, str(report)
    assert {r.check for r in report.results} == {
        "symmetry",
        "centering",
        "variance",
        "scaling",
        "seeds",
        "tails",
        "degeneracy",
    }


# defect -> (initializer, check that must fail, words the message must contain)
DEFECTS = {
    "truncated normal without 0.8796": (b.trunc_uncorrected, "variance", "variance too small"),
    "correction multiplied": (b.trunc_correction_multiplied, "variance", "variance too small"),
    "uniform bound = std": (b.uniform_bound_is_std, "variance", "variance too small"),
    "missing ReLU gain": (b.missing_relu_gain, "variance", "variance too small"),
    "variance passed as std": (b.variance_as_std, "scaling", "scaling law broken"),
    "fan_in/fan_out swapped": (b.fans_swapped, "scaling", "follows 2/fan_out"),
    "receptive field left out": (b.no_receptive_field, "scaling", "scaling law broken"),
    "fixed std ignores fan": (b.fixed_std, "scaling", "no fan dependence"),
    "zeros": (b.zeros, "symmetry", "constant kernel"),
    "constant": (b.constant, "symmetry", "constant kernel"),
    "identical units": (b.identical_units, "symmetry", "identical units"),
    "not centered": (b.shifted, "centering", "not zero-centered"),
}


@pytest.mark.parametrize("defect", DEFECTS)
def test_each_defect_fails_with_a_message_naming_it(defect):
    init, check_name, words = DEFECTS[defect]
    report = initcheck.check(init, variance="he", shapes=[(3, 5), *RECTANGULAR])
    result = report[check_name]
    assert not result.passed, result.message
    assert words in result.message
    # the message names the shape(s) and, for statistical checks, measured and target
    assert "(" in result.message and ")" in result.message
    if check_name == "variance":
        assert "× target" in result.message and "2/fan_in" in result.message
        assert "CI [" in result.message


@pytest.mark.parametrize(
    ("init", "shapes"),
    [
        (b.trunc_uncorrected, [(3, 5)]),
        (b.trunc_uncorrected, [(256, 128)]),
        (b.missing_relu_gain, [(5, 16, 32)]),
        (b.uniform_bound_is_std, [(3, 3, 32, 16)]),
    ],
)
def test_variance_defects_fail_at_single_realistic_shapes(init, shapes):
    with pytest.raises(InitCheckFailure, match="variance too small") as info:
        initcheck.assert_variance(init, "he", shape=shapes)
    (result,) = info.value.results
    assert str(shapes[0]) in result.message


def test_fan_swap_is_caught_on_rectangular_but_not_square_shapes():
    with pytest.raises(
        InitCheckFailure, match="variance follows 2/fan_out; the target is 2/fan_in"
    ):
        initcheck.assert_variance_scaling(b.fans_swapped, "he", shapes=[(300, 100), (50, 200)])
    initcheck.assert_variance_scaling(b.fans_swapped, "he", shapes=[(100, 100), (20, 20)])


def test_receptive_field_bug_caught_only_with_kernel_size_above_one():
    with pytest.raises(InitCheckFailure, match="scaling law broken"):
        initcheck.assert_variance_scaling(
            b.no_receptive_field, "he", shapes=[(3, 3, 16, 32), (64, 64)]
        )
    initcheck.assert_variance_scaling(b.no_receptive_field, "he", shapes=[(1, 1, 16, 32), (64, 64)])


def test_scaling_without_target_reports_best_rule():
    result = initcheck.assert_variance_scaling("glorot_normal")
    assert result.details["best_rule"] == "fan_avg"
    with pytest.raises(InitCheckFailure, match="does not scale with 1/fan"):
        initcheck.assert_variance_scaling(b.fixed_std)


def test_scaling_needs_two_distinct_fans():
    with pytest.raises(ValueError, match="at least 2 shapes with different fans"):
        initcheck.assert_variance_scaling("he_normal", "he", shapes=[(4, 8)])


def test_assertions_return_results_and_raise_assertion_errors():
    result = initcheck.assert_breaks_symmetry("orthogonal", (64, 32))
    assert result.passed and result.check == "symmetry"
    initcheck.assert_zero_centered("he_uniform", (3, 5), variance="he")
    with pytest.raises(AssertionError, match="identical units"):
        initcheck.assert_breaks_symmetry(b.identical_units, (10, 6))
    with pytest.raises(InitCheckFailure, match="not zero-centered"):
        initcheck.assert_zero_centered(b.shifted, (20, 30))


def test_small_shape_is_decidable():
    result = initcheck.assert_variance("he_normal", "he", shape=(3, 5))
    assert result.n >= result.details["required_n"]
    with pytest.raises(InitCheckFailure):
        initcheck.assert_variance(b.trunc_uncorrected, "he", shape=(3, 5))


def test_seed_ignoring_initializer_is_reported_not_pooled():
    def fixed(shape, dtype=None):
        return np.random.default_rng(0).normal(0, math.sqrt(2 / shape[0]), shape)

    with pytest.raises(InitCheckFailure, match="same tensor for different seeds") as info:
        initcheck.assert_variance(fixed, "he", shape=(3, 5))
    assert info.value.results[0].n == 15
    assert "inconclusive" in info.value.results[0].message


def test_deterministic_symmetry_breaking_init_passes_symmetry():
    # ZerO-style: identity-like deterministic kernels break symmetry without randomness
    report = initcheck.check(lambda shape, dtype=None: np.eye(*shape), shapes=[(8, 8), (10, 6)])
    assert report["symmetry"].passed, report["symmetry"].message
    # eye(6, 10) leaves 4 units with all-zero weights: identical, dead units
    with pytest.raises(InitCheckFailure, match="identical units"):
        initcheck.assert_breaks_symmetry(lambda shape, dtype=None: np.eye(*shape), (6, 10))


@settings(max_examples=5, deadline=None, derandomize=True, database=None)
@given(shape=kernel_shapes(max_size=2**12))
def test_draws_stay_independent_inside_given(shape):
    # a seedless callable on numpy's global RNG, which Hypothesis reseeds per example
    def init(shape, dtype=None):
        return np.random.normal(0, math.sqrt(2 / np.prod(shape[:-1])), shape)

    result = initcheck.assert_variance(init, "he", shape=shape)
    assert "same tensor" not in result.message


def test_same_seed_same_report_and_json_safe():
    import json

    a = initcheck.check("he_normal", variance="he", seed=3).to_dict()
    b_ = initcheck.check("he_normal", variance="he", seed=3).to_dict()
    assert json.dumps(a, sort_keys=True) == json.dumps(b_, sort_keys=True)
    assert initcheck.CheckResult.from_dict(a["results"][2]).to_dict() == a["results"][2]


def test_keras_he_on_a_transposed_conv_kernel_follows_the_wrong_fan():
    # Keras computes a Conv2DTranspose kernel's fans swapped: (k, k, out, in) is read as
    # fan_in = out·k. Described correctly, the scaling law exposes it.
    transposed = initcheck.KernelLayout("keras", "conv_transpose")
    shapes = [(3, 3, 64, 16), (3, 3, 8, 32), (5, 5, 16, 16)]
    with pytest.raises(InitCheckFailure, match="follows 2/fan_out; the target is 2/fan_in"):
        initcheck.assert_variance_scaling("he_normal", "he", shapes=shapes, layout=transposed)
    initcheck.assert_variance_scaling("he_normal", "he_fan_out", shapes=shapes, layout=transposed)


def test_depthwise_kernel_units_and_fans():
    depthwise = initcheck.KernelLayout("keras", "depthwise")

    def he_depthwise(shape, dtype=None, seed=None):
        return np.random.default_rng(seed).normal(0, math.sqrt(2 / math.prod(shape[:-2])), shape)

    report = initcheck.check(he_depthwise, variance="he", layout=depthwise)
    assert report.passed, str(report)
    assert not initcheck.check("he_normal", variance="he", layout=depthwise)["scaling"].passed


def test_assert_sound_lists_every_failed_check():
    report = initcheck.assert_sound("he_normal", variance="he")
    assert report.passed
    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_sound(b.zeros, variance="he")
    failed = {r.check for r in info.value.results}
    assert {"symmetry", "variance"} <= failed
    assert "constant kernel" in str(info.value)


def test_uniform_from_zero_fails_centering_and_degeneracy():
    # the README row "U[0, b) instead of U(-b, b): mean ≠ 0 → centering, degeneracy".
    # The mean is b/2 = 0.866 target std and every weight is positive: both decisions are
    # tens of standard errors past their limits, so neither verdict depends on the seed.
    report = initcheck.check(b.shifted, variance="he", shapes=[(3, 5), *RECTANGULAR])
    assert not report["centering"].passed
    assert "not zero-centered" in report["centering"].message
    assert report["centering"].statistic == pytest.approx(math.sqrt(3) / 2, rel=0.05)
    assert not report["degeneracy"].passed
    assert "one-signed unit" in report["degeneracy"].message


def _torch_layout_he(shape, dtype=None, seed=None):
    """He for PyTorch-layout weights: fan_in = in·kernel = prod(shape[1:])."""
    fan_in = int(np.prod(shape[1:]))
    return np.random.default_rng(seed).normal(0.0, np.sqrt(2.0 / fan_in), shape)


def _wrong_everywhere(shape, dtype=None, seed=None):
    """A std of 1/(first axis): no fan rule in either layout."""
    return np.random.default_rng(seed).normal(0.0, 1.0 / shape[0], shape)


def test_the_law_says_when_the_other_layout_fits():
    """Issue 29 item 7: re-reading the fans in PyTorch's layout fits every shape, so
    the failure says so; an initializer that fits no layout gets no such note."""
    report = initcheck.check(_torch_layout_he, variance="he", checks=["scaling"])
    message = report["scaling"].message
    assert not report.passed and "this looks like layout='torch'" in message, message
    assert initcheck.check(_torch_layout_he, variance="he", layout="torch").passed
    other = initcheck.check(_wrong_everywhere, variance="he", checks=["scaling"])
    assert not other.passed and "looks like layout" not in other["scaling"].message
