"""Declaring how a user's own initializer is called — a PyTorch in-place ``fn(tensor)``,
a JAX ``fn(key, shape, dtype)`` or a plain ``fn(shape, dtype=None) -> array`` — in the
gate (``framework = "torch"``) and on the command line (``--framework torch``) (issue 19,
item 6).

Each test builds a project as a user has it (``pyproject.toml``, ``inits.py``; no
conftest, the default Hypothesis profile) and runs pytest or the console script on it in
a child process.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import pytest

from initcheck.cli.parser import FRAMEWORK_CHOICES
from initcheck.initializers.base import FRAMEWORKS

# torch and jax, where installed, are imported before any test: the pytester fixture
# unloads modules a test imported, and a C extension cannot be imported twice
for _framework in ("torch", "jax"):
    with contextlib.suppress(ImportError):
        __import__(_framework)

INITS = '''
import math

import numpy as np


def my_torch_he_(tensor, generator=None):
    """He normal, PyTorch style: fills (out, in, *kernel) in place."""
    import torch

    fan_in = tensor.shape[1] * math.prod(tensor.shape[2:])
    with torch.no_grad():
        return tensor.normal_(0.0, math.sqrt(2.0 / fan_in), generator=generator)


def my_jax_he(key, shape, dtype=None):
    """He normal, JAX style, Keras layout (*kernel, in, out)."""
    import jax

    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    return std * jax.random.normal(key, shape, dtype or "float32")


def my_he(shape, dtype=None, seed=None):
    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0.0, std, shape)
'''

PROPERTIES = ("symmetry", "centering", "seeds", "tails", "degeneracy", "variance", "scaling")


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("HYPOTHESIS_PROFILE", raising=False)
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    pytester.makepyfile(inits=INITS)
    assert not list(pytester.path.rglob("conftest.py"))
    return pytester


def gate(project, table: str) -> pytest.RunResult:
    project.makepyprojecttoml(f"[tool.initcheck.initializers.mine]\n{table}")
    return project.runpytest_subprocess("-v", "-p", "no:cacheprovider", timeout=600)


def cli(project, *args: str) -> pytest.RunResult:
    return project.run("initcheck", *args, timeout=600)


def text(result: pytest.RunResult) -> str:
    return "\n".join(result.outlines + result.errlines)


def test_the_cli_offers_every_framework():
    assert FRAMEWORK_CHOICES == FRAMEWORKS


@pytest.mark.slow
def test_the_gate_checks_a_declared_torch_function(project):
    pytest.importorskip("torch", reason="framework = 'torch' needs the [torch] extra")
    result = gate(
        project,
        'target = "inits:my_torch_he_"\nframework = "torch"\nlayout = "torch"\nvariance = "he"\n',
    )
    assert result.ret == 0, text(result)
    for prop in PROPERTIES:
        result.stdout.fnmatch_lines([f"*initcheck::mine::{prop} PASSED*"])


@pytest.mark.slow
def test_the_gate_accepts_framework_array(project):
    result = gate(project, 'target = "inits:my_he"\nframework = "array"\nvariance = "he"\n')
    assert result.ret == 0, text(result)
    result.stdout.fnmatch_lines(["*initcheck::mine::variance PASSED*"])


def test_a_bad_framework_in_the_gate_is_one_collection_error(project):
    result = gate(project, 'target = "inits:my_he"\nframework = "pytorch"\n')
    assert result.ret == 2, text(result)
    assert "`framework` must be one of ['torch', 'jax', 'array']" in result.stdout.str()
    assert "PASSED" not in result.stdout.str() and "FAILED initcheck" not in text(result)


def test_a_framework_on_a_keras_name_is_one_collection_error(project):
    result = gate(project, 'target = "he_normal"\nframework = "torch"\n')
    assert result.ret == 2, text(result)
    result.stdout.fnmatch_lines(["*a Keras initializer needs no declaration*"])


@pytest.mark.slow
def test_the_cli_checks_a_declared_torch_function(project):
    pytest.importorskip("torch", reason="--framework torch needs the [torch] extra")
    spec = "inits.py:my_torch_he_"
    result = cli(project, "check", spec, "--framework", "torch", "--layout", "torch",
                 "--variance", "he")  # fmt: skip
    assert result.ret == 0, text(result)
    assert "PASSED" in result.stdout.str()
    # undeclared, it is called as fn(shape, dtype): every check fails, with the hint
    undeclared = cli(project, "check", spec, "--layout", "torch", "--variance", "he")
    assert undeclared.ret == 1, text(undeclared)
    assert "--framework torch on the command line" in undeclared.stdout.str()


@pytest.mark.slow
def test_the_cli_checks_a_declared_jax_function(project):
    pytest.importorskip("jax", reason="--framework jax needs the [jax] extra")
    result = cli(project, "check", "inits.py:my_jax_he", "--framework", "jax", "--variance", "he")
    assert result.ret == 0, text(result)


def test_the_cli_rejects_a_framework_on_a_keras_name(project):
    result = cli(project, "check", "he_normal", "--framework", "torch")
    assert result.ret == 2, text(result)
    assert "--framework torch with 'he_normal'" in result.stderr.str()


def test_a_missing_framework_is_a_usage_error_saying_what_to_install(tmp_path, monkeypatch, capsys):
    from initcheck.cli import main

    (tmp_path / "inits.py").write_text(INITS)
    monkeypatch.chdir(tmp_path)
    from types import SimpleNamespace

    import initcheck.initializers.base as adapter  # framework_module imports torch

    def not_installed(name: str) -> None:
        raise ModuleNotFoundError(f"No module named {name!r}")

    # as if PyTorch were not installed (sys.modules itself is left alone: scipy reads it)
    monkeypatch.setattr(adapter, "sys", SimpleNamespace(modules={}))
    monkeypatch.setattr(adapter, "importlib", SimpleNamespace(import_module=not_installed))
    code = main(["check", "inits.py:my_torch_he_", "--framework", "torch"])
    assert code == 2
    err = capsys.readouterr().err
    assert "PyTorch initializers need PyTorch" in err
    assert "pip install 'initcheck[torch]'" in err
