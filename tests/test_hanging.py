"""An initializer call that never returns cannot keep the process alive (issue 19, item 1).

Each test runs a user's project in a child process (no conftest, default Hypothesis
profile) whose initializer sleeps forever or spins in an endless loop. The child must
report the timeout and then *exit*: before the fix, the abandoned call sat on a
``concurrent.futures`` thread, which the interpreter joins at exit, so a script or a
pytest run printed its verdict and then never ended. The subprocess timeout below is only
a safety net (it raises instead of hanging this suite); nothing here asserts speed.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import pytest

#: Generous: the children import numpy/scipy (and pytest) on a shared, loaded machine.
SAFETY_TIMEOUT = 240

USER_INITS = """
import time

import numpy as np


def sleeps(shape, dtype=None):
    time.sleep(10**6)
    return np.zeros(shape)


def spins(shape, dtype=None):
    while True:
        pass


def fine(shape, dtype=None, seed=None):
    fan_in = int(np.prod(shape[:-1]))
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape).astype("float32")
"""


@pytest.fixture
def project(pytester, monkeypatch):
    """A user's project: ``mypkg/inits.py`` with two hanging initializers, no conftest."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    pytester.makepyfile(**{"mypkg/__init__": "", "mypkg/inits": USER_INITS})
    assert not list(pytester.path.rglob("conftest.py"))
    return pytester


@pytest.mark.parametrize("name", ["sleeps", "spins"])
def test_a_script_checking_a_hanging_initializer_exits(project, name):
    project.makepyfile(
        script=f"""
        import initcheck
        from mypkg.inits import {name}

        report = initcheck.check({name}, timeout=1)
        print("passed:", report.passed)
        print(report.results[0].message)
        """
    )
    result = project.run(sys.executable, "script.py", timeout=SAFETY_TIMEOUT)
    assert result.ret == 0, "\n".join(result.outlines + result.errlines)
    result.stdout.fnmatch_lines(["passed: False", f"*{name} did not return within 1 s*"])


def test_a_hung_initializer_is_timed_out_once_not_per_check(project):
    """After one timeout the resolved initializer is not called again: its later draws
    fail at once, saying why (so a check of every property waits one timeout, not one per
    check, and no second call queues behind locks the hung one may hold)."""
    project.makepyfile(
        script="""
        import initcheck
        from initcheck.initializers import resolve
        from mypkg.inits import sleeps

        init = resolve(sleeps, timeout=1)
        report = initcheck.check(init, timeout=1)
        print("calls:", init.calls)
        for result in report.results:
            print(result.check, result.message)
        """
    )
    result = project.run(sys.executable, "script.py", timeout=SAFETY_TIMEOUT)
    assert result.ret == 0, "\n".join(result.outlines + result.errlines)
    result.stdout.fnmatch_lines(["calls: 1"])
    result.stdout.fnmatch_lines(["*sleeps is not called again: an earlier call did not return*"])


PYPROJECT = """
[tool.initcheck.initializers.stuck]
target = "mypkg.inits:sleeps"
"""

TESTS = """
from mypkg.inits import fine, sleeps


def test_sleeps(initcheck):
    initcheck.assert_variance(sleeps, "he", shape=(3, 4))


def test_fine(initcheck):
    initcheck.assert_variance(fine, "he", shape=(30, 40))
"""


@pytest.mark.parametrize(
    "workers",
    [
        pytest.param([], id="in-process"),
        pytest.param(
            ["-n", "2"],
            id="xdist",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("xdist") is None, reason="needs pytest-xdist"
            ),
        ),
    ],
)
def test_a_pytest_run_with_a_hanging_initializer_ends_with_its_summary(project, workers):
    """The gate's items and a fixture test time out; the run prints its summary and exits
    1 (tests failed), with every other test still run."""
    project.makepyprojecttoml(textwrap.dedent(PYPROJECT))
    project.makepyfile(test_user=TESTS)
    result = project.runpytest_subprocess(
        "-p", "no:cacheprovider", "--initcheck-timeout", "1", *workers, timeout=SAFETY_TIMEOUT
    )
    output = "\n".join(result.outlines + result.errlines)
    assert result.ret == pytest.ExitCode.TESTS_FAILED, output
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 1 and outcomes.get("failed", 0) >= 2, output
    result.stdout.fnmatch_lines(["*FAILED*test_user.py::test_sleeps*"])
    result.stdout.fnmatch_lines(["*FAILED*initcheck::stuck::*"])
    assert "did not return within 1 s" in output
