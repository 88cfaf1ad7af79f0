"""Signal propagation: sound inits keep activations and gradients, broken ones are named."""

import json
import math

import numpy as np
import pytest

from initcheck.checks.propagation import check_propagation, critical_reference
from initcheck.initializers import resolve
from initcheck.settings import Settings

SMALL = {"depth": 4, "width": 32, "batch": 16, "networks": 2}


def gaussian(std_factor, scale=2.0):
    """N(0, std_factor² · scale/fan_in) for a square (in, out) kernel, seedable."""

    def init(shape, dtype=None, seed=None):
        std = std_factor * math.sqrt(scale / shape[0])
        return np.random.default_rng(seed).normal(0.0, std, shape)

    return init


def run(init, nonlinearity, name=None, seed=0, **kwargs):
    return check_propagation(
        resolve(init, name=name), nonlinearity=nonlinearity, settings=Settings(seed=seed), **kwargs
    )


@pytest.mark.parametrize(
    ("init", "nonlinearity"),
    [
        ("he_normal", "relu"),
        ("lecun_normal", "tanh"),
        ("glorot_uniform", "linear"),
        ("orthogonal", "tanh"),
        ("orthogonal", "linear"),
    ],
)
def test_sound_initializers_pass(init, nonlinearity):
    r = run(init, nonlinearity)
    assert r.passed, r.message
    assert r.check == "propagation"
    assert len(r.details["forward"]) == len(r.details["backward"]) == 20
    # the report's per-layer curves end where the decision's gains say: the end-to-end
    # ratio to the critical reference is the per-layer gain compounded over 19 steps
    fwd = r.details["forward"][-1] / r.details["forward_reference"][-1]
    bwd = r.details["backward"][0] / r.details["backward_reference"][0]
    assert fwd ** (1 / 19) == pytest.approx(r.details["forward_gain"], rel=1e-9)
    assert bwd ** (1 / 19) == pytest.approx(r.details["backward_gain"], rel=1e-9)
    band = r.details["band"]
    assert band[0] <= r.details["forward_gain"] <= band[1]
    assert band[0] <= r.details["backward_gain"] <= band[1]
    json.dumps(r.to_dict())  # details are JSON-safe for the report


@pytest.mark.parametrize(
    ("init", "nonlinearity", "direction"),
    [
        ("lecun_normal", "relu", "vanish"),  # missing ReLU gain: ×0.5 per layer
        ("he_normal", "linear", "explode"),  # ×2 per layer
        ("he_normal", "tanh", "explode"),
    ],
)
def test_wrong_nonlinearity_fails_with_direction(init, nonlinearity, direction):
    r = run(init, nonlinearity)
    assert not r.passed
    assert f"activations {direction}" in r.message
    assert f"gradients {direction} toward the input" in r.message
    assert f"20-layer {nonlinearity} net of width 256" in r.message
    assert "E[x²] at layer 20 is" in r.message and "× layer 1" in r.message
    if nonlinearity == "relu":  # the missing √2 gain halves the signal on every layer
        assert r.details["forward_gain"] == pytest.approx(0.5, abs=0.03)
        assert r.details["backward_gain"] == pytest.approx(0.5, abs=0.03)
        assert "ReLU needs Var(W) = 2/fan_in" in r.message


@pytest.mark.parametrize(("factor", "direction"), [(1.2, "explode"), (0.8, "vanish")])
def test_twenty_percent_std_error_fails(factor, direction):
    r = run(gaussian(factor), "relu", name=f"he×{factor}")
    assert not r.passed
    assert f"activations {direction}" in r.message
    assert r.details["forward_gain"] == pytest.approx(factor**2, rel=0.05)


def test_torch_tanh_gain_fails_the_linear_regime_criterion():
    r = run(gaussian(5 / 3, scale=1.0), "tanh", name="torch tanh gain 5/3")
    assert not r.passed
    assert "gradients explode" in r.message


def test_orthogonal_linear_net_is_isometric():
    r = run("orthogonal", "linear", **SMALL)
    jac = r.details["jacobian_singular_values"]
    assert jac["min"] == pytest.approx(1.0, abs=1e-6)
    assert jac["max"] == pytest.approx(1.0, abs=1e-6)


def test_gaussian_jacobian_spreads_where_orthogonal_does_not():
    gauss = run(gaussian(1.0, scale=1.0), "linear", **SMALL).details["jacobian_singular_values"]
    ortho = run("orthogonal", "linear", **SMALL).details["jacobian_singular_values"]
    assert gauss["max"] / gauss["min"] > 10 * ortho["max"] / ortho["min"]


def test_zero_initializer_vanishes():
    r = run(lambda shape, dtype=None: np.zeros(shape), "relu", name="zeros", **SMALL)
    assert not r.passed
    assert "activations vanish" in r.message


def test_overflow_is_reported_as_explosion():
    r = run(gaussian(1000.0, scale=1.0), "linear", name="huge", depth=60, width=32)
    assert not r.passed
    assert "overflow" in r.message and "explode" in r.message
    assert r.details["overflow_layer"] is not None
    json.dumps(r.to_dict())


def test_torch_layout_is_accepted():
    def torch_he(shape, dtype=None, seed=None):  # (out, in): fan_in is shape[1]
        return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[1]), shape)

    r = run(torch_he, "relu", layout="torch", **SMALL)
    assert r.details["layout"] == "torch"


def test_same_seed_same_result_and_seed_matters():
    a = run("he_normal", "relu", seed=3, **SMALL)
    b = run("he_normal", "relu", seed=3, **SMALL)
    c = run("he_normal", "relu", seed=4, **SMALL)
    assert a.details["forward"] == b.details["forward"]
    assert a.details["forward"] != c.details["forward"]


def test_misbehaving_initializer_gives_failed_record():
    def raises(shape, dtype=None):
        raise RuntimeError("boom")

    r = run(raises, "relu", name="raises", **SMALL)
    assert not r.passed
    assert "misbehaved" in r.message and "boom" in r.message

    r = run(lambda shape, dtype=None: np.ones((2, 2)), "tanh", name="badshape", **SMALL)
    assert not r.passed
    assert "shape" in r.message


@pytest.mark.parametrize(
    ("kwargs", "echo"),
    [
        ({"nonlinearity": "gelu"}, "'gelu'"),
        ({"depth": 1}, "depth=1"),
        ({"width": 0}, "width=0"),
        ({"tolerance": 2}, "tolerance=2"),
        ({"input_std": -1.0}, "input_std=-1.0"),
    ],
)
def test_bad_arguments_are_echoed(kwargs, echo):
    kwargs = {"nonlinearity": "relu", **kwargs}
    with pytest.raises(ValueError, match=echo.replace("(", r"\(")):
        check_propagation(resolve("he_normal"), settings=Settings(), **kwargs)


def test_critical_reference_is_flat_for_relu_and_linear():
    for nonlinearity in ("relu", "linear"):
        fwd, bwd = critical_reference(nonlinearity, 10, 1.0)
        assert np.allclose(fwd / fwd[0], 1.0) and np.allclose(bwd / bwd[-1], 1.0)
    fwd, _ = critical_reference("tanh", 10, 0.01)
    assert np.all(np.diff(fwd) < 0)  # tanh decays slowly towards q* = 0


def test_the_per_layer_band_is_the_documented_one():
    # [(1.05)^-2, 1.05^2] = [0.907, 1.103] (docs/statistics.md)
    r = run(gaussian(1.0), "relu")
    assert r.passed, r.message
    assert r.details["band"] == pytest.approx([1 / 1.05**2, 1.05**2])
    assert r.details["band"] == pytest.approx([0.907, 1.103], abs=5e-4)


@pytest.mark.parametrize(("factor", "direction"), [(1.10, "explode"), (1 / 1.10, "vanish")])
def test_a_ten_percent_std_error_leaves_the_band(factor, direction):
    # g = factor² = 1.21 or 0.826: log g = ±0.19 against the band's ±0.098, with sd 0.014
    # (docs/propagation.md, He + ReLU): ≥ 6.5 sd outside, P(pass) < 1e-10 per run
    r = run(gaussian(factor), "relu", name=f"he×{factor:.3f}")
    assert not r.passed, r.message
    assert f"activations {direction}" in r.message
    assert r.details["forward_gain"] == pytest.approx(factor**2, abs=6 * 0.014 * factor**2)
    # std_tolerance sets the band: 12% per layer takes the same nets back inside it
    wide = check_propagation(
        resolve(gaussian(factor), name="wide"),
        nonlinearity="relu",
        settings=Settings(seed=0, std_tolerance=0.12, std_detect=0.24),
    )
    assert wide.passed, wide.message
    assert wide.details["band"] == pytest.approx([1 / 1.12**2, 1.12**2])
