import math

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from initcheck.fans import compute_fans
from initcheck.strategies import conv_shapes, dense_shapes, kernel_shapes

# The README's promise: shapes have in ≠ out "so fan bugs cannot hide on square shapes",
# and conv kernels have every side ≥ 2 (a receptive field left out of the fan shows).
# Deterministic properties (no statistics): 500 derandomized examples per strategy, so
# a strategy that can return in == out (≈ 1/64 of conv draws, more near the bounds that
# Hypothesis favours) is caught every run.
MANY = settings(
    max_examples=500,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
)


def _keras_view(shape, layout):
    """``(kernel, in, out)`` of a shape in ``layout``."""
    if layout == "torch":
        return shape[2:], shape[1], shape[0]
    return shape[:-2], shape[-2], shape[-1]


@pytest.mark.parametrize("layout", ["keras", "torch"])
@MANY
@given(data=st.data())
def test_kernel_shapes_never_have_in_equal_out_or_a_kernel_side_below_two(layout, data):
    shape = data.draw(kernel_shapes(layout=layout, large=True))
    kernel, fan_in_channels, units = _keras_view(shape, layout)
    assert fan_in_channels != units, shape
    assert all(k >= 2 for k in kernel), shape
    fans = compute_fans(shape, layout)
    assert fans.fan_in != fans.fan_out, shape  # so a fan swap changes the variance


@MANY
@given(shape=dense_shapes(max_in=3, max_out=3))
def test_narrow_dense_bounds_still_give_in_ne_out(shape):
    # two of the three pairs per input are square here: a missing filter shows at once
    assert shape[0] != shape[1]


@pytest.mark.parametrize("rank", [1, 2, 3])
@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(data=st.data())
def test_conv_shapes_have_kernel_sides_at_least_two_and_in_ne_out(rank, data):
    shape = data.draw(conv_shapes(rank, max_in=3, max_out=3))
    assert len(shape) == rank + 2
    assert all(k >= 2 for k in shape[:rank]), shape
    assert shape[-1] != shape[-2], shape


def test_bounds_that_force_a_square_shape_are_rejected():
    with pytest.raises(InvalidArgument, match="allows only in == out"):
        dense_shapes(min_in=4, max_in=4, min_out=4, max_out=4)
    with pytest.raises(InvalidArgument, match="allows only in == out"):
        conv_shapes(2, min_in=1, max_in=1, min_out=1, max_out=1)
    assert find(dense_shapes(min_in=4, max_in=4, min_out=4, max_out=5), lambda s: True) == (4, 5)


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
