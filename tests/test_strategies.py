import math

import pytest
from hypothesis import find, given, settings
from hypothesis.errors import InvalidArgument

from initcheck.fans import compute_fans
from initcheck.strategies import conv_shapes, dense_shapes, kernel_shapes


def test_dense_shapes_can_be_rectangular():
    shape = find(dense_shapes(), lambda s: s[0] != s[1])
    assert shape[0] != shape[1]


@pytest.mark.parametrize("rank", [1, 2, 3])
def test_conv_shapes_have_kernel_size_above_one_and_in_ne_out(rank):
    shape = find(conv_shapes(rank), lambda s: s[-1] != s[-2])
    assert len(shape) == rank + 2
    assert all(k >= 2 for k in shape[:rank])


@settings(max_examples=50, derandomize=True, database=None)
@given(kernel_shapes(max_size=1000))
def test_kernel_shapes_respect_the_size_cap(shape):
    assert math.prod(shape) <= 1000
    assert len(shape) >= 2


@settings(max_examples=20, derandomize=True, database=None)
@given(conv_shapes(2, layout="torch"))
def test_torch_layout_puts_out_first(shape):
    fans = compute_fans(shape, "torch")
    assert fans.fan_in == shape[1] * shape[2] * shape[3]


@pytest.mark.parametrize(
    ("factory", "kwargs", "match"),
    [
        (dense_shapes, {"min_in": 0}, "min_in=0 must be at least 1"),
        (dense_shapes, {"min_in": 10, "max_in": 5}, "min_in=10 must not exceed max_in=5"),
        (dense_shapes, {"max_out": 2.5}, r"Expected an int but got max_out=2.5 \(type=float\)"),
        (dense_shapes, {"min_in": 100, "min_out": 100, "max_size": 10}, "max_size=10"),
        (conv_shapes, {"rank": 4}, "rank must be 1, 2 or 3"),
        (conv_shapes, {"min_kernel": 3, "max_kernel": 2}, "min_kernel=3"),
        (kernel_shapes, {"layout": "jax"}, "layout='jax'"),
    ],
)
def test_invalid_arguments_are_reported_early(factory, kwargs, match):
    with pytest.raises(InvalidArgument, match=match):
        factory(**kwargs)


def test_large_kernel_shapes_are_real_size_layers():
    from initcheck.strategies import LARGE_KERNELS, large_kernel_shapes

    assert all(math.prod(s) >= 2**18 for s in LARGE_KERNELS)
    shape = find(large_kernel_shapes("torch"), lambda s: len(s) == 4)
    assert shape == (256, 128, 3, 3)
    big = find(kernel_shapes(max_size=2**16, large=True), lambda s: math.prod(s) >= 2**18)
    assert math.prod(big) >= 2**18
