"""The ``assert_*`` helpers are fast enough for ``@given`` on small kernels (issue 11).

Calls run inline once a shape has proved fast (a hanging call still fails cleanly), draws
are cached per (initializer, shape, dtype, seed), and a slow initializer that exceeds a
Hypothesis deadline gets a note saying what initcheck drew and how to allow it.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

import initcheck
from initcheck.errors import InitCheckFailure, InitializerError
from initcheck.initializers import base, cache, resolve

HE_PROJECT = """
import numpy as np
from hypothesis import given, settings
import initcheck
from initcheck.strategies import kernel_shapes


def he_seeded(shape, dtype=None, seed=None):
    fan_in = int(np.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0, np.sqrt(2 / fan_in), shape)


def he_global(shape, dtype=None):
    fan_in = int(np.prod(shape[:-1]))
    return np.random.normal(0, np.sqrt(2 / fan_in), shape)


def he_no_gain(shape, dtype=None, seed=None):
    fan_in = int(np.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0, np.sqrt(1 / fan_in), shape)


def slow_he(shape, dtype=None, seed=None):
    spend(0.05)  # a 50 ms call, on the virtual clock (no test sleeps)
    return he_seeded(shape, seed=seed)


@given(kernel_shapes())
@settings(deadline=None)  # as the README shows
def test_he_seeded(shape):
    initcheck.assert_variance(he_seeded, "he", shape)


@given(kernel_shapes())
@settings(deadline=None)  # as the README shows
def test_he_global(shape):
    initcheck.assert_variance(he_global, "he", shape)


@given(kernel_shapes())
@settings(deadline=None)  # as the README shows
def test_he_without_relu_gain(shape):
    initcheck.assert_variance(he_no_gain, "he", shape)


@given(kernel_shapes())
@settings(deadline=200)  # Hypothesis's default, stated: a few 50 ms calls exceed it
def test_slow_he(shape):
    initcheck.assert_variance(slow_he, "he", shape)
"""


VIRTUAL_CLOCK = """
import time

_real = time.perf_counter
_spent = [0.0]


def spend(seconds):
    \"\"\"Advance ``time.perf_counter`` (read by Hypothesis's deadline and by initcheck) as if
    the caller had worked ``seconds``: the test cannot depend on the machine's speed.\"\"\"
    _spent[0] += seconds


def perf_counter():
    return _real() + _spent[0]


time.perf_counter = perf_counter
"""


@pytest.fixture
def default_profile_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hypothesis profile chosen by the environment: the default 200 ms deadline."""
    for var in ("HYPOTHESIS_PROFILE", "CI"):
        monkeypatch.delenv(var, raising=False)


def test_readme_example_passes_and_a_slow_initializer_is_told_the_setting(
    pytester: pytest.Pytester, default_profile_env: None
) -> None:
    pytester.makeconftest(VIRTUAL_CLOCK)
    project = HE_PROJECT.replace("import numpy", "from conftest import spend\nimport numpy")
    pytester.makepyfile(test_he=project)
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "test_he.py"
    )
    out = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2, out
    assert outcomes.get("failed") == 2, out
    assert "test_he_seeded PASSED" in out or "::test_he_seeded" not in out.split("FAILED")[-1]
    # the defect fails with its message, not with a deadline error
    no_gain = out[out.index("test_he_without_relu_gain") :]
    assert "variance too small" in out, out
    assert "FAILED test_he.py::test_he_without_relu_gain - initcheck" in out or (
        "InitCheckFailure" in no_gain
    ), out
    # the slow initializer exceeds the deadline and is told what initcheck drew
    assert "DeadlineExceeded" in out, out
    assert "initcheck draws ~" in out and "calls of your initializer" in out, out
    assert "@settings(deadline=None)" in out, out
    assert "FAILED test_he.py::test_slow_he" in out, out
    assert "FAILED test_he.py::test_he_seeded" not in out, out
    assert "FAILED test_he.py::test_he_global" not in out, out


def _he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / shape[0]), shape)


class FakeClock:
    """``time.perf_counter`` for :mod:`initcheck.initializers.base`: an initializer call
    "takes" whatever the test says (``delay``), so no test depends on the machine's speed."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delay = 0.0

    def __call__(self) -> float:
        return self.now

    def init(self, shape, dtype=None, seed=None):
        self.now += self.delay
        return _he(shape, seed=seed)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(base, "time", SimpleNamespace(perf_counter=fake))
    return fake


def test_fast_shapes_run_inline_and_slow_ones_go_back_to_the_pool(clock: FakeClock) -> None:
    r = resolve(clock.init)
    r.draw((3, 4), seed=0)
    assert ((3, 4), "float32") in r._fast
    clock.delay = 2 * base.FAST_CALL
    r.draw((3, 4), seed=1)  # inline, but slow: the next call goes to the pool again
    assert ((3, 4), "float32") not in r._fast


def test_inline_call_slower_than_the_timeout_fails_clearly(clock: FakeClock) -> None:
    # the first (pooled) call has 5 real seconds; the inline one "takes" 10
    r = resolve(clock.init, timeout=5)
    r.draw((3, 4), seed=0)
    clock.delay = 10.0
    with pytest.raises(InitializerError, match=r"did not return within 5 s .*took 10 s"):
        r.draw((3, 4), seed=1)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        (lambda shape: np.full(shape, np.nan), "non-finite"),
        (lambda shape: [[0.0] * shape[1]] * shape[0], "returned a list"),
        (lambda shape: np.zeros(shape, dtype=np.int32), "dtype int32"),
        (lambda shape: np.zeros((1, 1)), "returned shape"),
    ],
)
def test_later_calls_are_still_validated(bad, match) -> None:
    calls = {"n": 0}

    def init(shape, dtype=None, seed=None):
        calls["n"] += 1
        return _he(shape, seed=seed) if calls["n"] < 3 else bad(shape)

    r = resolve(init)
    r.draw((3, 4), seed=0)
    r.draw((3, 4), seed=1)
    with pytest.raises(InitializerError, match=match):
        r.draw((3, 4), seed=2)


def test_repeated_assertions_reuse_exact_draws() -> None:
    calls = {"n": 0}

    def init(shape, dtype=None, seed=None):
        calls["n"] += 1
        return _he(shape, seed=seed)

    first = initcheck.assert_variance(init, "he", (3, 4))
    drawn = calls["n"]
    assert drawn > 100
    second = initcheck.assert_variance(init, "he", (3, 4))
    assert calls["n"] == drawn  # every draw came from the cache
    assert second.to_dict() == first.to_dict()


def test_initializers_with_their_own_random_state_are_not_cached() -> None:
    rng = np.random.default_rng(1)
    calls = {"n": 0}

    def init(shape, dtype=None, seed=None):  # accepts seed, ignores it
        calls["n"] += 1
        return rng.normal(0, math.sqrt(2 / shape[0]), shape)

    initcheck.assert_variance(init, "he", (3, 4))
    drawn = calls["n"]
    initcheck.assert_variance(init, "he", (3, 4))
    assert calls["n"] > drawn  # redrawn, not served from the cache


def test_cache_is_bounded_in_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache._STORE, "max_bytes", 200_000)
    cache.clear()
    initcheck.assert_variance(_he, "he", (64, 32))
    initcheck.assert_variance(_he, "he", (2, 3))
    assert 0 < cache._STORE.nbytes <= 200_000
    cache.clear()


def test_global_rng_state_is_kept_for_seedless_callables() -> None:
    def init(shape, dtype=None):
        return np.random.normal(0, math.sqrt(2 / shape[0]), shape)

    np.random.seed(123)
    expected = np.random.random()
    np.random.seed(123)
    cache.clear()
    initcheck.assert_variance(init, "he", (3, 4))
    assert np.random.random() == expected


def test_variance_scaling_pass_says_the_level_is_not_checked() -> None:
    def low(shape, dtype=None, seed=None):  # 23% below He at every shape
        return np.random.default_rng(seed).normal(0, math.sqrt(0.77 * 2 / shape[0]), shape)

    result = initcheck.assert_variance_scaling(low, "he", shapes=[(16, 8), (256, 8)])
    assert "not the level" in result.message and "assert_variance" in result.message
    with pytest.raises(InitCheckFailure, match="variance too small"):
        initcheck.assert_variance(low, "he", (256, 8))
    untargeted = initcheck.assert_variance_scaling(low, shapes=[(16, 8), (256, 8)])
    assert "not the level" not in untargeted.message
