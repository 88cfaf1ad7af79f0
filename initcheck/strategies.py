"""Hypothesis strategies for kernel shapes.

Shapes are generated so that fan bugs cannot hide: every shape has ``in ≠ out`` (a
fan_in/fan_out swap changes the variance) and conv kernels have every kernel side ≥ 2 by
default (a receptive field left out of the fan changes it), with a cap on the total
number of weights. ``tests/test_strategies.py`` pins both over many examples.
The strategies generate shapes only — never weights or distributions — and the checks
draw the weights with explicit seeds, so draws stay independent inside ``@given`` (where
Hypothesis reseeds the global random generators for every example).

Example:
    >>> from hypothesis import given
    >>> from initcheck.strategies import kernel_shapes
    >>> @given(kernel_shapes())
    ... def test_he(shape):
    ...     initcheck.assert_variance("he_normal", "he", shape)
"""

from __future__ import annotations

import math

from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from initcheck import registry
from initcheck.fans import KernelLayout, Layout

__all__ = [
    "LARGE_KERNELS",
    "conv_shapes",
    "dense_shapes",
    "kernel_shapes",
    "large_kernel_shapes",
]

Shape = tuple[int, ...]

#: Real-size layers (Keras layout), each of at least 2**18 values and with in ≠ out: a
#: dense layer, a 3×3 conv and an embedding-like tall kernel. A defect that shows only
#: in large tensors needs one of these among the shapes (see :func:`large_kernel_shapes`;
#: the gate adds its own, :data:`initcheck.gate.engine.LARGE_BY_RANK`).
LARGE_KERNELS: tuple[Shape, ...] = ((1024, 256), (3, 3, 128, 256), (4096, 64))


def _check_int(name: str, value: object, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidArgument(
            f"Expected an int but got {name}={value!r} (type={type(value).__name__})"
        )
    if value < minimum:
        raise InvalidArgument(f"{name}={value} must be at least {minimum}")
    return value


def _check_bounds(lo_name: str, lo: int, hi_name: str, hi: int) -> None:
    if lo > hi:
        raise InvalidArgument(f"{lo_name}={lo} must not exceed {hi_name}={hi}")


def _cap(shape: Shape, max_size: int) -> bool:
    return math.prod(shape) <= max_size


def _in_ne_out(shape: Shape) -> bool:
    """In Keras layout ``(*kernel, in, out)``: the two channel counts differ."""
    return shape[-2] != shape[-1]


def _check_distinct(min_in: int, max_in: int, min_out: int, max_out: int) -> None:
    if min_in == max_in == min_out == max_out:
        raise InvalidArgument(
            f"min_in=max_in=min_out=max_out={min_in} allows only in == out; the strategies "
            "generate in ≠ out (so a fan_in/fan_out swap cannot hide on a square shape)"
        )


def dense_shapes(
    *,
    min_in: int = 2,
    max_in: int = 512,
    min_out: int = 2,
    max_out: int = 512,
    max_size: int = 2**18,
    layout: Layout = "keras",
) -> st.SearchStrategy[Shape]:
    """Dense kernel shapes ``(in, out)`` with ``in ≠ out`` (``(out, in)`` for
    ``layout="torch"``).

    Args:
        min_in, max_in: bounds on the number of inputs.
        min_out, max_out: bounds on the number of outputs (units).
        max_size: cap on ``in * out``.
        layout: ``"keras"`` or ``"torch"``.
    """
    for name, v in (("min_in", min_in), ("min_out", min_out)):
        _check_int(name, v, 1)
    _check_int("max_in", max_in, 1)
    _check_int("max_out", max_out, 1)
    _check_int("max_size", max_size, 1)
    _check_bounds("min_in", min_in, "max_in", max_in)
    _check_bounds("min_out", min_out, "max_out", max_out)
    if min_in * min_out > max_size:
        raise InvalidArgument(
            f"max_size={max_size} is below the smallest shape min_in*min_out={min_in * min_out}"
        )
    _check_distinct(min_in, max_in, min_out, max_out)
    _check_layout(layout)
    _prepare_checks()
    shapes = st.tuples(st.integers(min_in, max_in), st.integers(min_out, max_out)).filter(
        lambda s: _in_ne_out(s) and _cap(s, max_size)
    )
    return shapes if layout == "keras" else shapes.map(lambda s: (s[1], s[0]))


def conv_shapes(
    rank: int = 2,
    *,
    min_kernel: int = 2,
    max_kernel: int = 5,
    min_in: int = 1,
    max_in: int = 64,
    min_out: int = 1,
    max_out: int = 64,
    max_size: int = 2**18,
    layout: Layout = "keras",
) -> st.SearchStrategy[Shape]:
    """Convolution kernel shapes ``(*kernel, in, out)`` of spatial ``rank`` 1, 2 or 3
    with ``in ≠ out`` (``(out, in, *kernel)`` for ``layout="torch"``). Kernel sizes
    default to ≥ 2 so a receptive field left out of the fan is visible."""
    if rank not in (1, 2, 3):
        raise InvalidArgument(f"rank must be 1, 2 or 3. Received: rank={rank!r}")
    for name, v in (("min_kernel", min_kernel), ("min_in", min_in), ("min_out", min_out)):
        _check_int(name, v, 1)
    for name, v in (("max_kernel", max_kernel), ("max_in", max_in), ("max_out", max_out)):
        _check_int(name, v, 1)
    _check_int("max_size", max_size, 1)
    _check_bounds("min_kernel", min_kernel, "max_kernel", max_kernel)
    _check_bounds("min_in", min_in, "max_in", max_in)
    _check_bounds("min_out", min_out, "max_out", max_out)
    if min_kernel**rank * min_in * min_out > max_size:
        raise InvalidArgument(f"max_size={max_size} is below the smallest possible kernel size")
    _check_distinct(min_in, max_in, min_out, max_out)
    _check_layout(layout)
    _prepare_checks()
    kernel = st.tuples(*[st.integers(min_kernel, max_kernel)] * rank)
    shapes = st.builds(
        lambda k, i, o: (*k, i, o),
        kernel,
        st.integers(min_in, max_in),
        st.integers(min_out, max_out),
    ).filter(lambda s: _in_ne_out(s) and _cap(s, max_size))
    return shapes.map(KernelLayout(layout).from_keras)


def large_kernel_shapes(layout: Layout = "keras") -> st.SearchStrategy[Shape]:
    """One of :data:`LARGE_KERNELS` (≥ 2**18 values each), in ``layout``."""
    _check_layout(layout)
    shapes = [KernelLayout(layout).from_keras(s) for s in LARGE_KERNELS]
    return st.sampled_from(shapes)


def kernel_shapes(
    *, max_size: int = 2**18, layout: Layout = "keras", large: bool = False
) -> st.SearchStrategy[Shape]:
    """Dense or conv1d/2d/3d kernel shapes (see :func:`dense_shapes`, :func:`conv_shapes`):
    ``in ≠ out`` always, every kernel side ≥ 2.

    Args:
        max_size: cap on the number of values of the generated shapes.
        layout: ``"keras"`` or ``"torch"``.
        large: also generate the real-size layers of :func:`large_kernel_shapes`
            (≥ 2**18 values, above ``max_size``).
    """
    _check_int("max_size", max_size, 1)
    _check_layout(layout)
    _prepare_checks()
    branches = [
        dense_shapes(max_size=max_size, layout=layout),
        *[conv_shapes(r, max_size=max_size, layout=layout) for r in (1, 2, 3)],
    ]
    if large:
        branches.append(large_kernel_shapes(layout))
    return st.one_of(*branches)


def _prepare_checks() -> None:
    """Load the checks (numpy, scipy) when a shape strategy is built, at collection:
    the first example of a ``@given`` test then does not pay for those imports inside
    Hypothesis's per-example deadline (200 ms by default)."""

    registry.checks()


def _check_layout(layout: object) -> None:
    if layout not in ("keras", "torch"):
        raise InvalidArgument(f"layout must be 'keras' or 'torch'. Received: layout={layout!r}")
