"""In-place numpy fillers and TF1-style dtypes (issue 18, item 5 of its scope).

Chainer's ``init(array)`` and MXNet's ``_init_weight(name, arr)`` fill a numpy array in
place; called as ``fn(shape, dtype)`` they fail on the shape tuple. Undeclared, the
failure now names ``array_initializer``; declared (in Python, or ``framework = "array"``
in the gate and ``--framework array`` on the command line, the same declaration issue 19
added) they pass. TF1-style code reads ``dtype.as_numpy_dtype`` and gets a ``tf.DType``.
"""

from __future__ import annotations

import ast
import math
import os
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import initcheck
from initcheck.errors import InitCheckFailure
from initcheck.initializers import array_initializer, resolve
from initcheck.initializers.resolve import declare

#: Chainer's (and MXNet's) layout: dense (out, in), conv (out, in, *k)
CHAINER = {2: "torch", 3: "torch", 4: "torch", 5: "torch"}


class ChainerHeNormal:
    """Chainer's ``initializers.HeNormal()``: fills ``array`` in place, fan_in = in × k."""

    def __call__(self, array):
        fan_in = math.prod(array.shape[1:])
        array[...] = np.random.normal(0.0, math.sqrt(2.0 / fan_in), array.shape)


def mxnet_xavier_weight(name, arr):
    """MXNet's ``Xavier()._init_weight`` (after the fan fix): uniform, magnitude 3, avg."""
    hw = math.prod(arr.shape[2:])
    fan_in, fan_out = arr.shape[1] * hw, arr.shape[0] * hw
    scale = math.sqrt(3.0 / ((fan_in + fan_out) / 2))
    arr[:] = np.random.uniform(-scale, scale, arr.shape)


def test_an_undeclared_filler_fails_with_a_hint_naming_array_initializer():
    with pytest.raises(InitCheckFailure) as info:
        initcheck.assert_variance(ChainerHeNormal(), "he", shape=[(5, 3)], layout="torch")
    msg = info.value.results[0].message
    assert "'tuple' object has no attribute 'shape'" in msg, msg
    assert "initcheck.initializers.array_initializer(ChainerHeNormal)" in msg, msg
    assert 'framework = "array" in the gate, --framework array on the command line' in msg


def test_the_hint_is_valid_python_whatever_the_name():
    from initcheck.initializers.callables import array_hint

    for name in ("ChainerHeNormal", "mypkg.inits.fill", "<lambda>", "partial(fill, 2)"):
        code = re.search(r"initcheck\.initializers\.array_initializer\([^)]*\)", array_hint(name))
        ast.parse(code.group(0))


def test_a_declared_chainer_filler_passes():
    report = initcheck.check(array_initializer(ChainerHeNormal()), variance="he", layout=CHAINER)
    assert report.passed, str(report)


def test_an_mxnet_init_weight_passes_declared_through_a_lambda():
    init = array_initializer(lambda arr: mxnet_xavier_weight("weight", arr), name="xavier")
    report = initcheck.check(init, variance="glorot", family="uniform", layout=CHAINER)
    assert report.passed, str(report)


def test_framework_array_tells_a_filler_from_a_plain_callable():
    filler = resolve(declare(ChainerHeNormal(), "array"))
    assert filler.draw((64, 32), seed=1).std() == pytest.approx(math.sqrt(2 / 32), rel=0.05)

    def plain(shape, dtype=None, seed=None):
        return np.random.default_rng(seed).normal(0.0, 0.1, shape)

    assert resolve(declare(plain, "array")).draw((64, 32), seed=1).std() == pytest.approx(
        0.1, rel=0.05
    )


def test_a_filler_taking_a_seed_gets_distinct_seeds():
    def seeded(array, seed=None):
        array[...] = np.random.default_rng(seed).normal(0.0, 1.0, array.shape)

    init = resolve(array_initializer(seeded))
    assert init.seedable
    assert not np.array_equal(init.draw((8, 8), seed=1), init.draw((8, 8), seed=2))
    assert np.array_equal(init.draw((8, 8), seed=1), init.draw((8, 8), seed=1))


def tf1_he(shape, dtype=None, partition_info=None):
    """TF1 style: ``dtype`` is a ``tf.DType`` (``dtype.as_numpy_dtype``)."""
    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    return np.random.normal(0.0, std, shape).astype(dtype.as_numpy_dtype)


def tf_slim_he(shape, dtype=None):
    """The same without ``partition_info``: recognized from its first call."""
    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    return np.random.normal(0.0, std, shape).astype(dtype.as_numpy_dtype)


@pytest.mark.parametrize("init", [tf1_he, tf_slim_he], ids=["partition_info", "retry"])
def test_tf1_style_initializers_get_a_real_dtype(init):
    report = initcheck.check(init, variance="he", shapes=[(3, 5), (256, 128)])
    assert report.passed, str(report)


def test_a_plain_callable_still_gets_a_dtype_string():
    seen = []

    def plain(shape, dtype=None, seed=None):
        seen.append(dtype)
        return np.random.default_rng(seed).normal(0.0, 0.1, shape)

    resolve(plain).draw((4, 4), seed=0)
    assert seen == ["float32"]


FILLER = """
import math

import numpy as np


class ChainerHeNormal:
    def __call__(self, array):
        fan_in = math.prod(array.shape[1:])
        array[...] = np.random.normal(0.0, math.sqrt(2.0 / fan_in), array.shape)


he = ChainerHeNormal()
"""


@pytest.mark.slow
def test_the_cli_checks_a_filler_declared_framework_array(pytester, monkeypatch):
    monkeypatch.setenv(
        "PATH", os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    pytester.makepyfile(chainer_inits=FILLER)
    args = ("check", "chainer_inits.py:he", "--layout", "torch", "--variance", "he")
    declared = pytester.run("initcheck", *args, "--framework", "array", timeout=600)
    assert declared.ret == 0, "\n".join(declared.outlines + declared.errlines)
    undeclared = pytester.run("initcheck", *args, timeout=600)
    assert undeclared.ret == 1
    assert "array_initializer(" in undeclared.stdout.str()
    assert "--framework array on the command line" in undeclared.stdout.str()


def test_every_declaration_hint_is_valid_python():
    from initcheck.initializers.callables import framework_hint

    def torch_style(tensor):
        return tensor

    def jax_style(key, shape, dtype=None):
        return None

    for fn in (torch_style, jax_style):
        for name in ("mine", "pkg.inits.mine", "<lambda>", "inits.py:mine"):
            hint = framework_hint(fn, name)
            code = re.search(r"initcheck\.initializers\.\w+_initializer\([^)]*\)", hint)
            ast.parse(code.group(0))
