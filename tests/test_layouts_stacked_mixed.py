"""Stacked kernels and one layout per kernel rank (issue 18, item 4 of its scope).

A ``(R, in, out)`` stack (RGCN relations, experts, heads) read as a conv kernel has a
receptive field R, so a correct Glorot stack fails "too large"; declared
``KernelLayout("keras", stacked=1)`` it passes. Lasagne and Paddle store dense weights
``(in, out)`` and conv weights ``(out, in, *k)``: one call with ``layout={2: "keras",
4: "torch"}`` checks both. The defects are ×3 or more in variance (tens of standard
errors), so one seed decides them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import initcheck
import initcheck.shapes
from initcheck import KernelLayout
from initcheck.errors import InitCheckFailure
from initcheck.fans import LayoutByRank, as_layout

STACKED = KernelLayout("keras", stacked=1)
STACKS = [(8, 16, 32), (3, 64, 20)]


def glorot_stack(shape, dtype=None, seed=None):
    """PyG-RGCN-style: Glorot of each (in, out) member of a (R, in, out) stack."""
    fan_in, fan_out = shape[-2:]
    std = math.sqrt(2 / (fan_in + fan_out))
    return np.random.default_rng(seed).normal(0, std, shape).astype(np.float32)


def lasagne_he(shape, dtype=None, seed=None):
    """Lasagne's HeNormal('relu'): dense (in, out), conv (out, in, *k)."""
    fan_in = shape[0] if len(shape) == 2 else math.prod(shape[1:])
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / fan_in), shape).astype(np.float32)


def test_stacked_layout_reads_fans_and_units_of_one_member():
    assert STACKED.fans((8, 16, 32)) == initcheck.compute_fans((16, 32))
    assert KernelLayout("torch", stacked=1).fans((4, 32, 16, 3, 3)) == (144, 288)
    assert STACKED.n_units((8, 16, 32)) == 8 * 32
    w = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert STACKED.units_matrix(w).shape == (3, 8)
    assert str(STACKED) == "keras stacked=1"
    with pytest.raises(ValueError, match="Received: stacked=-1"):
        KernelLayout("keras", stacked=-1)
    with pytest.raises(ValueError, match=r"Received: shape=\(16,\)"):
        STACKED.fans((16,))


def test_glorot_stack_read_as_a_conv_kernel_fails_too_large():
    with pytest.raises(InitCheckFailure, match="variance too large"):
        initcheck.assert_variance(glorot_stack, "glorot", shape=STACKS)


def test_glorot_stack_passes_with_the_stacked_layout():
    report = initcheck.check(glorot_stack, variance="glorot", shapes=STACKS, layout=STACKED)
    assert report.passed, str(report)
    initcheck.assert_variance(glorot_stack, "glorot", shape=STACKS, layout=STACKED)


def test_default_shapes_of_a_stacked_layout_are_stacks_of_four():
    shapes = initcheck.shapes.default_shapes(STACKED)
    assert shapes[0] == (4, 3, 5) and all(s[0] == 4 for s in shapes)


def test_layout_by_rank_from_a_mapping():
    mixed = as_layout({2: "keras", "4": "torch"})
    assert isinstance(mixed, LayoutByRank)
    assert mixed.fans((256, 128)) == (256, 128)
    assert mixed.fans((16, 8, 3, 3)) == (72, 144)
    with pytest.raises(ValueError, match=r"No layout for a rank-3 kernel.*Received: shape"):
        mixed.fans((5, 16, 32))
    with pytest.raises(ValueError, match=r"Received: layout=\{1: 'keras'\}"):
        as_layout({1: "keras"})


def test_lasagne_he_in_one_layout_fails_scaling():
    shapes = [(3, 5), (256, 128), (16, 8, 3, 3), (32, 16, 5, 5)]
    result = initcheck.check(lasagne_he, variance="he", shapes=shapes)
    assert not result["scaling"].passed


def test_lasagne_he_passes_in_one_call_with_a_layout_per_rank():
    shapes = [(3, 5), (256, 128), (16, 8, 3, 3), (32, 16, 5, 5)]
    mixed = {2: "keras", 4: "torch"}
    report = initcheck.check(lasagne_he, variance="he", shapes=shapes, layout=mixed)
    assert report.passed, str(report)
    initcheck.assert_variance_scaling(lasagne_he, "he", shapes=shapes, layout=mixed)
    # the default shapes: dense ones in Keras layout, conv2d ones in PyTorch's
    assert initcheck.check(lasagne_he, variance="he", layout=mixed).passed


GATE_INITS = """
import math
import numpy as np


def lasagne_he(shape, dtype=None, seed=None):
    fan_in = shape[0] if len(shape) == 2 else math.prod(shape[1:])
    return np.random.default_rng(seed).normal(0.0, math.sqrt(2.0 / fan_in), shape)
"""


def _gate(pytester: pytest.Pytester, layout: str) -> pytest.RunResult:
    pytester.makepyfile(lasagne_inits=GATE_INITS)
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\npythonpath = ["."]\ninitcheck_max_examples = "4"\n\n'
        '[tool.initcheck.initializers.lasagne]\ntarget = "lasagne_inits:lasagne_he"\n'
        f'variance = "he"\nlayout = {layout}\n',
    )
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=600)


@pytest.mark.slow
def test_the_gate_takes_a_layout_per_rank(pytester: pytest.Pytester) -> None:
    from initcheck.gate.config import read_pyproject
    from initcheck.inputs import read

    assert read("layout", {"2": "keras", "4": "torch"}, "initializers") == {2: "keras", 4: "torch"}
    pyproject = pytester.path / "bad.toml"
    pyproject.write_text(
        '[tool.initcheck.initializers.x]\ntarget = "he_normal"\nlayout = { 7 = "keras" }\n'
    )
    (source,) = read_pyproject(pyproject)
    assert source.error is not None and "got layout={7: 'keras'}" in source.error
    result = _gate(pytester, '{ 2 = "keras", 4 = "torch" }')
    assert result.ret == 0, "\n".join(result.outlines + result.errlines)
    result.stdout.fnmatch_lines(["*initcheck::lasagne::scaling PASSED*"])
