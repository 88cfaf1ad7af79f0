"""Self-tests of the plugin's options (``initcheck.plugin.options``): one ``Settings``
carries batches, timeout and the MNIST path to every check; bad values are usage errors
at configure time; ``--hypothesis-seed`` text gives the same shapes in every process.

Each feature runs without and with ``-n 2``; TensorFlow is never imported here (the
training check is replaced by a probe that reports the settings it received).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import initcheck.api
import initcheck.assertions
import initcheck.gate
import initcheck.strategies  # noqa: F401
from initcheck.gate import stable_seed
from initcheck.plugin import SessionOptions
from initcheck.settings import Settings

ROOT = Path(__file__).resolve().parents[1]

INITS = """
import math
import numpy as np


def sound_he(shape, dtype=None, seed=None):
    fan_in = math.prod(shape[:-1])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_in), shape)
"""

# Replaces the training check (TensorFlow) by a probe reporting what reached it.
PROBE = """
from dataclasses import replace

from initcheck import registry
from initcheck.results import CheckResult

REAL = registry.check_named("training")


def probe(ctx):
    return CheckResult(
        check=REAL.name,
        initializer=ctx.initializer.name,
        passed=True,
        message="probe",
        details={
            "batches": ctx.settings.batches,
            "timeout": ctx.settings.timeout,
            "mnist": ctx.settings.mnist,
            "initializer_timeout": ctx.initializer.timeout,
        },
    )


registry.register(replace(REAL, run=probe), replace=True)


def pytest_unconfigure(config):
    registry.register(REAL, replace=True)
"""

TRAIN_TESTS = """
import pytest
import myinits


def test_fixture_training(initcheck):
    assert initcheck.check(myinits.sound_he, train=True, checks=["training"]).passed


@pytest.mark.initcheck(batches=5, timeout=9)
def test_marked_training(initcheck):
    assert initcheck.check(myinits.sound_he, train=True, checks=["training"]).passed
"""

PYPROJECT = """
[tool.pytest.ini_options]
pythonpath = ["."]
initcheck_max_examples = "4"
{extra}
"""


def records(path: Path) -> list[dict]:
    return json.loads(path.read_text())["payload"]["records"]


def test_session_options_is_public_and_frozen() -> None:
    options = SessionOptions(settings=Settings())
    with pytest.raises(AttributeError):
        options.max_examples = 3  # type: ignore[misc]
    assert options.settings_dict()["max_examples"] == options.max_examples


def test_batches_timeout_mnist_reach_training(
    pytester: pytest.Pytester, plugin_args: list[str], run_plugin
) -> None:
    """--initcheck-batches/-timeout/-mnist reach check(train=True) from the fixture and
    the gate's training item, in one Settings (no environment variable)."""
    pytester.makepyfile(myinits=INITS, test_train=TRAIN_TESTS)
    pytester.makeconftest(PROBE)
    pytester.makefile(
        ".toml",
        pyproject=PYPROJECT.format(extra="")
        + '[tool.initcheck.initializers.he]\ntarget = "myinits:sound_he"\ntrain = true\n',
    )
    before = os.environ.get("INITCHECK_MNIST")
    result = run_plugin(
        plugin_args,
        "-k",
        "training",
        "--initcheck-batches=3",
        "--initcheck-timeout=7",
        "--initcheck-mnist=data/mnist.npz",
        "--initcheck-json=r.json",
    )
    result.assert_outcomes(passed=3)
    assert os.environ.get("INITCHECK_MNIST") == before
    by_test = {r["nodeid"]: r["details"] for r in records(pytester.path / "r.json")}
    mnist = str(pytester.path / "data" / "mnist.npz")
    session = {"batches": 3, "timeout": 7.0, "mnist": mnist, "initializer_timeout": 7.0}
    assert by_test["initcheck::he::training"] == session
    assert by_test["test_train.py::test_fixture_training"] == session
    marked = {"batches": 5, "timeout": 9, "mnist": mnist, "initializer_timeout": 9.0}
    assert by_test["test_train.py::test_marked_training"] == marked
    data = json.loads((pytester.path / "r.json").read_text())["payload"]
    assert data["settings"]["batches"] == 3
    assert data["settings"]["mnist"] == mnist


def test_ini_batches_and_mnist_reach_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\ninitcheck_batches = 4\ninitcheck_mnist = m.npz\n")
    pytester.makepyfile(
        """
        import os

        def test_settings(initcheck):
            assert initcheck.settings.batches == 4
            assert initcheck.batches == 4
            assert initcheck.settings.mnist == os.path.join(os.getcwd(), "m.npz")
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("ini", "args", "message"),
    [
        ("initcheck_summary = loud", [], "*initcheck_summary = 'loud'*`summary` must be one of*"),
        ("", ["--initcheck-summary=loud"], "*--initcheck-summary: `summary` must be one of*'loud'"),
    ],
)
def test_bad_summary_mode_is_usage_error_at_configure(
    pytester: pytest.Pytester, ini: str, args: list[str], message: str
) -> None:
    """A bad summary mode stops pytest before any test runs (not after the session)."""
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_ran="def test_ran():\n    open('ran', 'w').close()\n")
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert not (pytester.path / "ran").exists()


def test_stable_seed_is_the_same_in_every_process() -> None:
    """Non-integer --hypothesis-seed text hashes the same under any PYTHONHASHSEED."""
    code = "from initcheck.gate import stable_seed; print(stable_seed('abc'))"
    seen = set()
    for hash_seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        seen.add(int(out.stdout))
    assert seen == {stable_seed("abc")}
    assert stable_seed("17") == 17
    assert stable_seed("abc") != stable_seed("abd")


def test_gate_shapes_agree_across_processes_under_text_seed(pytester: pytest.Pytester) -> None:
    """The gate's drawn shapes under --hypothesis-seed=abc: the same with -n 2 (two
    workers, each with its own hash salt) and without."""
    pytester.makepyfile(myinits=INITS)
    pytester.makefile(
        ".toml",
        pyproject=PYPROJECT.format(extra="")
        + '[tool.initcheck.initializers.he]\ntarget = "myinits:sound_he"\nvariance = "he"\n',
    )
    shapes = []
    for args in ([], ["-n", "2"]):
        result = pytester.runpytest_subprocess(
            *args, "-p", "no:cacheprovider", "--hypothesis-seed=abc", "--initcheck-json=r.json"
        )
        result.assert_outcomes(passed=7)
        by_item = {r["nodeid"]: r["shapes"] for r in records(pytester.path / "r.json")}
        shapes.append(by_item)
    assert shapes[0] == shapes[1]
    pooled = shapes[0]["initcheck::he::variance"]
    assert shapes[0]["initcheck::he::centering"] == pooled
    default = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--initcheck-json=d.json")
    default.assert_outcomes(passed=7)
    by_default = {r["nodeid"]: r["shapes"] for r in records(pytester.path / "d.json")}
    assert by_default["initcheck::he::variance"] != pooled  # the seed did pick other shapes


HELPER_TESTS = """
import threading

import initcheck
import myinits


def hanging(shape, dtype=None, seed=None):
    threading.Event().wait()


def test_hangs():
    initcheck.assert_breaks_symmetry(hanging, (8, 4))


@initcheck_marker
def test_level():
    result = initcheck.assert_variance(myinits.sound_he, "he", (64, 32))
    assert "EXPECTED_LEVEL CI" in result.message, result.message
    report = initcheck.check(myinits.sound_he, checks=["centering"])
    assert "EXPECTED_LEVEL CI" in report["centering"].message
    explicit = initcheck.assert_variance(myinits.sound_he, "he", (64, 32), alpha=0.05)
    assert "95% CI" in explicit.message, explicit.message  # an argument still wins
"""


@pytest.mark.parametrize("marker", [False, True])
def test_session_settings_reach_module_level_helpers(
    pytester: pytest.Pytester, plugin_args: list[str], marker: bool
) -> None:
    """Issue 29 item 1: ``--initcheck-timeout`` stops a hanging initializer called through
    a module-level helper (not only through the fixture), ``--initcheck-alpha`` reaches
    ``initcheck.assert_variance`` and ``initcheck.check``, and the test's marker wins over
    the session."""
    pytester.makepyfile(myinits=INITS)
    alpha = 0.002 if marker else 0.001
    level = f"{100 * (1 - alpha):g}%"  # the confidence level the messages state
    code = HELPER_TESTS.replace("EXPECTED_LEVEL", level).replace(
        "@initcheck_marker",
        "@__import__('pytest').mark.initcheck(alpha=0.002)" if marker else "",
    )
    pytester.makepyfile(test_helpers=code)
    args = [*plugin_args, "--initcheck-timeout", "2", "--initcheck-alpha", "0.001"]
    result = pytester.runpytest_subprocess(*args, "-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*did not return within 2 s*"])


def test_outside_pytest_the_defaults_apply() -> None:
    from initcheck.settings import in_force, settings_in_force

    assert in_force() == Settings()
    with settings_in_force(Settings(alpha=0.01)):
        assert in_force().alpha == 0.01
        assert Settings.of(seed=3) == Settings(alpha=0.01, seed=3)
    assert in_force() == Settings()
