"""No TensorFlow/absl start-up line reaches the user unless they set TF_CPP_MIN_LOG_LEVEL,
also when their own module imports Keras first (issue 19, item 8).

Each test runs a user's project (``mypkg/inits.py`` subclasses a Keras initializer and
imports Keras at top level; no conftest) in a child process with neither
``TF_CPP_MIN_LOG_LEVEL`` nor initcheck's marker in its environment, as a user's shell
has it, and reads every line the child wrote.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: Words of TensorFlow's start-up lines ("oneDNN custom operations are on", "Could not
#: find cuda drivers", "All log messages before absl::InitializeLog()", cpu_feature_guard).
NOISE = ("onednn", "cuda", "absl", "cpu_feature_guard", "i0000")

USER_INITS = """
import keras
import numpy as np


class MyHe(keras.initializers.Initializer):
    def __call__(self, shape, dtype=None):
        fan_in = int(np.prod(shape[:-1]))
        return keras.random.normal(shape, stddev=float(np.sqrt(2 / fan_in)), dtype=dtype)


my_he = MyHe()
"""

USER_MODELS = """
import keras


def build():
    return keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)]
    )
"""


def noise(text: str) -> list[str]:
    return [line for line in text.splitlines() if any(w in line.lower() for w in NOISE)]


@pytest.fixture
def project(pytester, monkeypatch):
    """A user's project, and a user's environment: no TF_CPP_MIN_LOG_LEVEL (this suite's
    own initcheck plugin set it in this process), no CI profile."""
    for name in ("TF_CPP_MIN_LOG_LEVEL", "_INITCHECK_TF_QUIET", "CI", "HYPOTHESIS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(
        **{"mypkg/__init__": "", "mypkg/inits": USER_INITS, "mypkg/models": USER_MODELS}
    )
    assert not list(pytester.path.rglob("conftest.py"))
    return pytester


def console_script() -> list[str]:
    script = shutil.which("initcheck", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "initcheck"]


def run_cli(project, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*console_script(), *argv],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "mypkg.inits:my_he", "--variance", "he", "--checks", "variance"],
        ["audit", "mypkg.models:build", "--variance", "he"],
    ],
    ids=["check", "audit"],
)
def test_the_cli_prints_no_tensorflow_line_when_the_users_module_imports_keras(project, argv):
    proc = run_cli(project, *argv)
    assert proc.returncode in (0, 1), proc.stderr
    assert noise(proc.stderr) == [], proc.stderr
    assert noise(proc.stdout) == [], proc.stdout


GATE = """
[tool.initcheck.initializers.mine]
target = "mypkg.inits:my_he"
variance = "he"
"""

TEST_IMPORTING_KERAS = """
import keras  # noqa: F401

from mypkg.inits import my_he


def test_my_he(initcheck):
    initcheck.assert_variance(my_he, "he", shape=(30, 40))
"""


@pytest.mark.parametrize("first", ["gate", "test-module"])
def test_pytest_prints_no_tensorflow_line_when_the_users_module_imports_keras(project, first):
    """``gate``: the gate's collection imports the user's module (formerly the lines came
    out around pytest's header); ``test-module``: a test file imports Keras first."""
    project.makepyprojecttoml(GATE)
    if first == "test-module":
        project.makepyfile(test_user=TEST_IMPORTING_KERAS)
    result = project.runpytest_subprocess("-p", "no:cacheprovider", timeout=600)
    assert result.ret == pytest.ExitCode.OK, "\n".join(result.outlines + result.errlines)
    assert noise("\n".join(result.outlines + result.errlines)) == []
    result.stdout.fnmatch_lines(["mine*variance*passed*initcheck::mine::variance"])


def test_loading_the_plugin_sets_the_level_without_importing_tensorflow(project):
    code = (
        "import os, sys; import initcheck.plugin; "
        "print(os.environ.get('TF_CPP_MIN_LOG_LEVEL'), "
        "[m for m in ('tensorflow', 'keras', 'absl', 'numpy') if m in sys.modules])"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.stdout.strip() == "3 []", proc.stderr
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip() == "1 []", proc.stderr


LOUD = """
import os

os.write(2, b"I0000 00:00:1.5 42 port.cc:153] a C++ start-up line\\n")
os.write(2, b"the user's own line\\n")

from mypkg.inits import my_he  # noqa: E402,F401
"""


@pytest.mark.parametrize("level", [None, "0"])
def test_lines_are_filtered_unless_the_user_set_a_level(project, level):
    """A module writing an absl-format line on file descriptor 2 while it is imported (as
    TensorFlow's static initializers do): dropped, the user's other lines kept; with
    TF_CPP_MIN_LOG_LEVEL set, nothing is filtered and the level is not changed."""
    project.makepyfile(**{"mypkg/loud": LOUD})
    project.makepyfile(
        script="""
        import os

        from initcheck.cli import main

        main(["check", "mypkg.loud:my_he", "--checks", "symmetry"])
        print("level:", os.environ["TF_CPP_MIN_LOG_LEVEL"])
        """
    )
    env = dict(os.environ)
    if level is not None:
        env["TF_CPP_MIN_LOG_LEVEL"] = level
    proc = subprocess.run(
        [sys.executable, "script.py"],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert f"level: {level or 3}" in proc.stdout, proc.stderr
    assert "the user's own line" in proc.stderr
    assert ("a C++ start-up line" in proc.stderr) == (level is not None), proc.stderr
