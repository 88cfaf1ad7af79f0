"""Initializer adapters (initcheck.initializers): any initializer in, validated independent
draws out; bad input is reported."""

import subprocess
import sys
import threading

import keras  # the [dev] extra installs it (the suite tests Keras): imported, never skipped
import numpy as np
import pytest

import initcheck
from initcheck.errors import InitializerError
from initcheck.initializers import resolve


def test_import_initcheck_does_not_import_tensorflow_or_scipy():
    code = (
        "import sys, initcheck, initcheck.strategies, initcheck.initializers; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'scipy', 'matplotlib', 'torch', 'jax') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "init",
    ["he_normal", keras.initializers.HeNormal, keras.initializers.HeNormal(seed=3)],
    ids=["name", "class", "instance"],
)
def test_keras_forms_give_independent_draws(init):
    r = resolve(init)
    a, b = r.draw((4, 5), seed=1), r.draw((4, 5), seed=2)
    assert a.shape == (4, 5) and a.dtype == np.float64
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, r.draw((4, 5), seed=1))  # reproducible


def test_callable_with_seed_gets_distinct_seeds():
    seen = []

    def init(shape, dtype=None, seed=None):
        seen.append(seed)
        return np.random.default_rng(seed).normal(size=shape)

    r = resolve(init)
    r.draw((2, 3), seed=5)
    r.draw((2, 3), seed=6)
    assert seen == [5, 6]
    assert r.seedable and r.name.endswith("init")


def test_seedless_callable_using_global_rng_is_reproducible_and_independent():
    def init(shape, dtype=None):
        return np.random.normal(size=shape)

    r = resolve(init)
    state = np.random.get_state()[1].copy()
    a, b = r.draw((3, 3), seed=1), r.draw((3, 3), seed=2)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, r.draw((3, 3), seed=1))
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # global state restored


def test_tf_tensor_output_is_accepted():
    import tensorflow as tf

    r = resolve(lambda shape, dtype=None: tf.random.normal(shape))
    assert r.draw((3, 2), seed=0).shape == (3, 2)


@pytest.mark.parametrize(
    ("fn", "match"),
    [
        (lambda shape, dtype=None: 1 / 0, r"raised ZeroDivisionError: division by zero"),
        (lambda shape, dtype=None: None, r"returned None"),
        (lambda shape, dtype=None: [[0.0] * shape[1]] * shape[0], r"returned a list"),
        (lambda shape, dtype=None: np.zeros(shape, dtype=int), r"dtype int64.*floating point"),
        (lambda shape, dtype=None: np.zeros((7, 7)), r"returned shape \(7, 7\); expected \(2, 3\)"),
        (lambda shape, dtype=None: np.full(shape, np.nan), r"6 non-finite value"),
        (lambda shape, dtype=None: "weights", r"returned str"),
    ],
    ids=["raises", "none", "list", "int", "shape", "nan", "str"],
)
def test_bad_outputs_raise_initializer_error(fn, match):
    with pytest.raises(InitializerError, match=match):
        resolve(fn, name="bad").draw((2, 3), seed=0)


@pytest.mark.parametrize(
    "fn",
    [lambda shape, dtype=None: 1 / 0, lambda shape, dtype=None: np.full(shape, np.inf)],
    ids=["raises", "inf"],
)
def test_check_turns_misbehaviour_into_failed_results(fn):
    report = initcheck.check(fn, variance="he", name="bad")
    assert not report.passed
    for result in report.results:
        assert not result.passed
        assert "misbehaved" in result.message and "bad" in result.message
    # said once (issue 29 item 7): the report's table and the failure's message
    text = str(report).splitlines()
    assert sum("misbehaved" in line for line in text) == 1, text
    assert sum(line.rstrip().endswith(f"as {report.results[0].check}") for line in text) == (
        len(report.results) - 1
    )
    with pytest.raises(initcheck.InitCheckFailure) as info:
        initcheck.assert_sound(fn, variance="he", name="bad")
    lines = str(info.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith("[bad] symmetry, "), lines
    assert all(r.check in lines[0] for r in report.results)


def test_hanging_initializer_times_out_without_killing_the_session():
    release = threading.Event()

    def hangs(shape, dtype=None):
        release.wait()
        return np.zeros(shape)

    try:
        report = initcheck.check(hangs, shapes=[(2, 3), (4, 5)], timeout=0.2, name="hangs")
    finally:
        release.set()
    assert not report.passed
    assert "did not return within 0.2 s" in report.results[0].message


def test_unknown_keras_name_suggests_close_names():
    with pytest.raises(ValueError, match=r"Unknown Keras initializer name 'he_normall'.*he_normal"):
        resolve("he_normall")


@pytest.mark.parametrize(
    ("obj", "match"),
    [(42, r"Received: 42 \(type=int\)"), (dict, "not a Keras initializer class")],
)
def test_non_initializers_raise_type_error(obj, match):
    with pytest.raises(TypeError, match=match):
        resolve(obj)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"alpha": 2}, r"alpha=2"),
        ({"std_tolerance": 0.2}, r"std_detect.*larger than `std_tolerance`"),
        ({"seed": -1}, r"seed=-1"),
        ({"bogus": 1}, r"unknown key\(s\) \['bogus'\]"),
    ],
)
def test_invalid_options_are_usage_errors(options, match):
    with pytest.raises((ValueError, TypeError), match=match):
        initcheck.check("he_normal", **options)


def test_invalid_shapes_and_layout():
    with pytest.raises(ValueError, match=r"Received: shape=\[\(3,\)\]"):
        initcheck.check("he_normal", shapes=[(3,)])
    with pytest.raises(ValueError, match="layout='tf'"):
        initcheck.check("he_normal", layout="tf")


def test_a_closure_is_named_by_its_factory_and_what_it_captured():
    """Issue 29 item 7: not ``scaled_uniform.<locals>.init``."""

    def scaled_uniform(scale):
        def init(shape, dtype=None, seed=None):
            return np.random.default_rng(seed).uniform(-scale, scale, shape)

        return init

    def plain():
        def init(shape, dtype=None, seed=None):
            return np.random.default_rng(seed).normal(0, 1, shape)

        return init

    def captures_an_object(dist):
        def init(shape, dtype=None, seed=None):
            return dist(np.random.default_rng(seed), shape)

        return init

    report = initcheck.check(scaled_uniform(1.3), checks=["centering"])
    assert report.initializer == "scaled_uniform(scale=1.3)"
    assert initcheck.check(plain(), checks=["centering"]).initializer == "init"
    made = captures_an_object(lambda rng, shape: rng.normal(0, 1, shape))
    assert initcheck.check(made, checks=["centering"]).initializer == "init"
