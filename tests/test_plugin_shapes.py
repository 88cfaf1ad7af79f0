"""The gate's shapes (issue 10): one large kernel in every pooled run, so a defect that
shows only in large tensors fails the gate; ``only_shapes = true`` draws only kernels of
the kinds listed in ``shapes``, so a conv-only initializer can be gated."""

from __future__ import annotations

import json
import math

import pytest

import initcheck.api
import initcheck.gate
import initcheck.strategies  # noqa: F401  (imported once, before in-process pytester runs)
from initcheck.gate.config import GateSource
from initcheck.gate.engine import LARGE_BY_RANK, large_kernel

INITS = """
import math
import numpy as np


def large_only_bug(shape, dtype=None, seed=None):
    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    if math.prod(shape) > 10**5:
        std *= 0.5
    return np.random.default_rng(seed).normal(0.0, std, shape)


def conv_only(shape, dtype=None, seed=None):
    if len(shape) < 3:
        raise ValueError(f"conv kernels only. Received: shape={shape!r}")
    std = math.sqrt(2.0 / math.prod(shape[:-1]))
    return np.random.default_rng(seed).normal(0.0, std, shape)
"""


def project(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(myinits=INITS)
    pytester.makefile(
        ".toml",
        pyproject='[tool.pytest.ini_options]\npythonpath = ["."]\n'
        f'initcheck_max_examples = "4"\n\n{body}',
    )


def test_large_kernels_have_at_least_2_18_values() -> None:
    for rank, shape in LARGE_BY_RANK.items():
        assert len(shape) == rank and math.prod(shape) >= 2**18, shape
    assert large_kernel("keras", (2, 3, 4, 5)) == (1024, 256)
    assert large_kernel("torch", (4,)) == (256, 128, 3, 3)


def test_defect_only_above_1e5_values_fails_by_default(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        '[tool.initcheck.initializers.big]\ntarget = "myinits:large_only_bug"\nvariance = "he"\n',
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--initcheck-json", "r.json")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*[[]big[]] variance FAILED: variance too small*fails on the large kernel (1024, 256)*"]
    )
    records = json.loads((pytester.path / "r.json").read_text())["payload"]["records"]
    failed = {r["check"] for r in records if not r["passed"]}
    assert "variance" in failed
    pooled = next(r for r in records if r["passed"])
    assert max(math.prod(s) for s in pooled["shapes"]) >= 2**18


def test_conv_only_initializer_passes_with_only_shapes(pytester: pytest.Pytester) -> None:
    project(
        pytester,
        '[tool.initcheck.initializers.conv]\ntarget = "myinits:conv_only"\nvariance = "he"\n'
        "shapes = [[3, 3, 8, 16], [3, 16, 8]]\nonly_shapes = true\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-v", "--initcheck-json", "r.json")
    result.assert_outcomes(passed=7)
    records = json.loads((pytester.path / "r.json").read_text())["payload"]["records"]
    ranks = {len(s) for r in records for s in r["shapes"]}
    assert ranks <= {3, 4}, ranks
    assert any(math.prod(s) >= 2**18 for r in records for s in r["shapes"])


def test_conv_only_initializer_fails_without_only_shapes(pytester: pytest.Pytester) -> None:
    """Without ``only_shapes`` the gate also draws dense kernels (the documented default)."""
    project(
        pytester,
        '[tool.initcheck.initializers.conv]\ntarget = "myinits:conv_only"\nvariance = "he"\n'
        "shapes = [[3, 3, 8, 16]]\n",
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*conv kernels only*"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("only_shapes = true\n", "*only_shapes = true needs shapes = [[]...[]]*"),
        ('only_shapes = "yes"\nshapes = [[4, 4]]\n', "*`only_shapes` must be true or false*"),
        ("only_shapes = true\nshapes = [[1, 2, 3, 4, 5, 6]]\n", "*got shapes [[][[]1, 2*"),
    ],
)
def test_only_shapes_validated(pytester: pytest.Pytester, body: str, message: str) -> None:
    project(pytester, f'[tool.initcheck.initializers.x]\ntarget = "myinits:conv_only"\n{body}')
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines([message])


def test_ranks_follow_only_shapes() -> None:
    shapes = {"shapes": ((3, 3, 4, 8), (5, 5))}
    assert GateSource("x", "t", "o", shapes).ranks == (2, 3, 4, 5)
    assert GateSource("x", "t", "o", {**shapes, "only_shapes": True}).ranks == (2, 4)
