import math

import pytest

from initcheck.fans import Fans, compute_fans, units_matrix
from initcheck.targets import resolve_target


@pytest.mark.parametrize(
    ("shape", "layout", "expected"),
    [
        ((784, 256), "keras", (784, 256)),
        ((256, 784), "torch", (784, 256)),
        ((3, 3, 16, 32), "keras", (144, 288)),
        ((32, 16, 3, 3), "torch", (144, 288)),
        ((5, 8, 4), "keras", (40, 20)),
        ((3, 3, 3, 8, 4), "keras", (216, 108)),
    ],
)
def test_compute_fans(shape, layout, expected):
    assert compute_fans(shape, layout) == Fans(*expected)


def test_compute_fans_rejects_rank_1_and_unknown_layout():
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*shape=\(5,\)"):
        compute_fans((5,))
    with pytest.raises(ValueError, match="layout='jax'"):
        compute_fans((2, 3), "jax")  # type: ignore[arg-type]


def test_units_matrix_puts_one_unit_per_column():
    import numpy as np

    w = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # keras (k, in, out): 4 units
    assert units_matrix(w).shape == (6, 4)
    assert units_matrix(w.transpose(2, 1, 0), "torch").shape == (6, 4)
    np.testing.assert_array_equal(units_matrix(w)[:, 1], w[..., 1].ravel())


@pytest.mark.parametrize(
    ("spec", "fans", "variance"),
    [
        ("he", (100, 50), 2 / 100),
        ("kaiming", (100, 50), 2 / 100),
        ("lecun", (100, 50), 1 / 100),
        ("glorot", (100, 50), 2 / 150),
        ("Xavier", (100, 50), 2 / 150),
        (0.0025, (100, 50), 0.0025),
        (lambda fi, fo: 3 / fi, (100, 50), 0.03),
    ],
)
def test_resolve_target(spec, fans, variance):
    assert math.isclose(resolve_target(spec).variance(Fans(*fans)), variance)


def test_unknown_target_suggests_names():
    with pytest.raises(ValueError, match=r"Unknown variance target 'hee'.*Did you mean 'he'"):
        resolve_target("hee")


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf")])
def test_numeric_target_must_be_positive(bad):
    with pytest.raises(ValueError, match="positive and finite"):
        resolve_target(bad)


def test_target_type_errors():
    with pytest.raises(TypeError, match="Received: variance=True"):
        resolve_target(True)
    with pytest.raises(TypeError, match=r"type=list"):
        resolve_target([1])  # type: ignore[arg-type]
    bad = resolve_target(lambda fi, fo: -1)
    with pytest.raises(ValueError, match="positive finite number"):
        bad.variance(Fans(3, 4))


@pytest.mark.parametrize(
    ("layout", "shape", "expected"),
    [
        # Keras Conv2DTranspose kernel (k, k, out, in): each output sums over in·k inputs
        (("keras", "conv_transpose"), (3, 3, 32, 16), (144, 288)),
        # Keras DepthwiseConv2D kernel (k, k, in, multiplier): each output sums over k inputs
        (("keras", "depthwise"), (3, 3, 16, 2), (9, 18)),
        # PyTorch grouped conv (out, in/groups, k, k)
        (("torch", "standard", 4), (32, 4, 3, 3), (36, 72)),
        # PyTorch ConvTranspose (in, out/groups, k, k)
        (("torch", "conv_transpose", 2), (16, 8, 3, 3), (72, 72)),
        (("torch", "conv_transpose"), (16, 8, 3, 3), (144, 72)),
    ],
)
def test_kernel_layouts(layout, shape, expected):
    from initcheck.fans import KernelLayout

    assert compute_fans(shape, KernelLayout(*layout)) == Fans(*expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"framework": "torch", "layer": "depthwise"}, "groups=in_channels"),
        ({"layer": "transposed"}, "layer='transposed'"),
        ({"groups": 0}, "groups=0"),
    ],
)
def test_kernel_layout_validation(kwargs, match):
    from initcheck.fans import KernelLayout

    with pytest.raises(ValueError, match=match):
        KernelLayout(**kwargs)


def test_groups_must_divide_the_output_axis():
    from initcheck.fans import KernelLayout

    with pytest.raises(ValueError, match="not divisible by groups=3"):
        compute_fans((3, 3, 8, 16), KernelLayout(groups=3))
