"""``initcheck compare`` takes the declarations and shows the checks' verdicts; an
initializer that raises or returns bad weights gets a failed row while the others still
train, and the table, JSON and report are written, exit 1; the loss figure's caption
names the panels it draws (issue 19, item 7).

The command runs as a user runs it: the console script, in a project with its own
``inits.py`` (no conftest), in a child process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from initcheck.report.curves import curves_caption

INITS = '''
import math

import numpy as np


def my_he(shape, dtype=None, seed=None):
    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0.0, std, shape)


def no_gain(shape, dtype=None, seed=None):
    """He without the ReLU gain: half the variance."""
    std = math.sqrt(1.0 / math.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0.0, std, shape)


def boom(shape, dtype=None, seed=None):
    raise RuntimeError("kaboom")


def nan_init(shape, dtype=None, seed=None):
    return np.full(shape, np.nan)


def torch_layout_he(shape, dtype=None, seed=None):
    """He normal for PyTorch-layout (out, in) weights."""
    std = math.sqrt(2.0 / math.prod(shape[1:]))
    return np.random.default_rng(seed).normal(0.0, std, shape)
'''


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    pytester.makepyfile(inits=INITS)
    assert not list(pytester.path.rglob("conftest.py"))
    return pytester


def row(text: str, name: str) -> str:
    return next(ln for ln in text.splitlines() if ln.startswith(name + " "))


@pytest.mark.slow
def test_bad_initializers_get_failed_rows_and_the_rest_is_written(project):
    result = project.run(
        "initcheck", "compare", "he_normal", "inits.py:no_gain", "inits.py:boom",
        "inits.py:nan_init", "--variance", "he", "--batches", "62",
        "--json", "c.json", "--report", "reports/c.html",
        timeout=600,
    )  # fmt: skip
    out, err = result.stdout.str(), result.stderr.str()
    assert result.ret == 1, out + err
    # the training table: the good ones trained, each bad one a failed row saying why
    assert re.search(r"^he_normal\s+\d+\.\d\d%", out, re.M), out
    assert re.search(r"^inits\.py:no_gain\s+\d+\.\d\d%", out, re.M), out
    assert "not trained: inits.py:boom raised RuntimeError: kaboom" in row(out, "inits.py:boom")
    assert "non-finite" in row(out, "inits.py:nan_init")
    assert "not trained (raised or returned bad weights): inits.py:boom raised" in err
    assert "inits.py:nan_init for shape=(784, 256) returned" in err
    # the checks' verdicts, with the declared target: the missing gain fails variance
    matrix = out.split("Checks on the network's kernel shapes", 1)[1]
    header = matrix.splitlines()[1].split()
    assert header[:1] == ["initializer"] and "variance" in header and "scaling" in header
    cells = dict(zip(header, row(matrix, "inits.py:no_gain").split(), strict=True))
    assert cells["variance"] == "FAIL" and cells["verdict"] == "FAILED", cells
    he = dict(zip(header, row(matrix, "he_normal").split(), strict=True))
    assert set(he.values()) - {"he_normal"} == {"ok", "PASSED"}, he
    # JSON and report are written anyway
    data = json.loads((project.path / "c.json").read_text())["payload"]
    assert list(data["runs"]) == ["he_normal", "inits.py:no_gain"]
    assert set(data["failed"]) == {"inits.py:boom", "inits.py:nan_init"}
    assert data["checks"][0]["settings"]["variance"] == "2/fan_in"
    html = unescape((project.path / "reports" / "c.html").read_text())
    assert "not trained" in html and "kaboom" in html
    assert "passed every check" not in html  # the missing gain is caught
    # the caption names what the figure draws: 62 batches, one panel
    assert "Training loss per batch: all 62 batches;" in html
    assert "first 100" not in html


@pytest.mark.slow
def test_compare_takes_the_layout_declaration(project):
    result = project.run(
        "initcheck", "compare", "inits.py:torch_layout_he", "--layout", "torch",
        "--variance", "he", "--batches", "30", timeout=600,
    )  # fmt: skip
    out = result.stdout.str()
    assert result.ret == 0, out + result.stderr.str()
    assert "(256, 784), (128, 256), (10, 128)" in out  # checked as PyTorch weights
    assert re.search(r"^inits\.py:torch_layout_he\s.*\bPASSED$", out, re.M), out


def test_a_framework_that_applies_to_no_spec_is_a_usage_error(project):
    """A Keras name needs no declaration: ``--framework`` beside only Keras names is a
    mistake, said as one."""
    result = project.run("initcheck", "compare", "he_normal", "--framework", "torch")
    assert result.ret == 2
    assert "--framework torch applies to no SPEC: 'he_normal'" in result.stderr.str()


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        (62, "all 62 batches;"),
        (100, "all 100 batches;"),
        (858, "the first 100 batches (as in the classic notebook) and all 858;"),
    ],
)
def test_the_curves_caption_names_the_panels_drawn(batches, expected):
    from initcheck.report.curves import curves_svg

    runs = {"a": np.linspace(2.3, 0.2, batches), "b": np.linspace(2.3, 0.4, batches)}
    assert expected in curves_caption(runs)
    titles = re.findall(r'font-weight="bold">([^<]+)</text>', curves_svg(runs) or "")
    assert titles == (["first 100 batches", f"all {batches} batches"] if batches > 100
                      else [f"all {batches} batches"])  # fmt: skip


def test_draw_kernels_in_torch_layout_draws_out_in_and_transposes():
    from initcheck.training import draw_kernels

    seen = []

    def init(shape, dtype=None, seed=None):
        seen.append(tuple(shape))
        return np.arange(np.prod(shape), dtype="float64").reshape(shape) + 1

    kernels = draw_kernels(init, 0, layout="torch")
    assert seen == [(256, 784), (128, 256), (10, 128)]
    assert [k.shape for k in kernels] == [(784, 256), (256, 128), (128, 10)]
    assert kernels[0][1, 0] == 2  # element (out=0, in=1) of the PyTorch weight


JAX_INITS = '''
import math

import jax


def jax_he(key, shape, dtype=None):
    """A user's JAX initializer fn(key, shape, dtype): He normal."""
    return jax.random.normal(key, shape) * math.sqrt(2.0 / shape[0])
'''


@pytest.mark.slow
@pytest.mark.parametrize("how", ["prefix", "flag"])
def test_compare_puts_a_jax_function_beside_a_keras_name(project, how):
    """Issue 29 item 6: ``jax:module:attr`` declares one SPEC (or ``--framework jax`` the
    non-Keras ones), and the Keras name beside it needs no declaration."""
    for module in ("jax", "keras"):  # found, not imported: the command runs in a subprocess
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"needs {module}")
    project.makepyfile(myjax=JAX_INITS)
    specs = ["jax:myjax:jax_he"] if how == "prefix" else ["--framework", "jax", "myjax:jax_he"]
    result = project.run(
        "initcheck", "compare", *specs, "he_normal", "--variance", "he", "--batches", "62",
        timeout=600,
    )  # fmt: skip
    out = result.stdout.str()
    assert result.ret == 0, out + result.stderr.str()
    name = specs[0] if how == "prefix" else "myjax:jax_he"
    for spec in (name, "he_normal"):
        assert re.search(rf"^{re.escape(spec)}\s+\d+\.\d\d%", out, re.M), out
    matrix = out.split("Checks on the network's kernel shapes", 1)[1]
    assert row(matrix, name).split()[-1] == "PASSED", matrix
