"""Fan computation: one small pure function per layout.

Keras/TensorFlow/JAX kernels are laid out ``(*kernel, in, out)``; PyTorch weights are
``(out, in, *kernel)``. ``fan_in`` counts the inputs one output unit sums over
(``in × receptive field``), ``fan_out`` the outputs one input feeds
(``out × receptive field``).
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

__all__ = ["LAYOUTS", "Fans", "Layout", "compute_fans", "units_matrix"]

Layout = Literal["keras", "torch"]
LAYOUTS: tuple[str, ...] = ("keras", "torch")


class Fans(NamedTuple):
    """Fans of a kernel shape."""

    fan_in: int
    fan_out: int

    @property
    def fan_avg(self) -> float:
        return (self.fan_in + self.fan_out) / 2


def check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(
            f"Unknown layout: expected one of {LAYOUTS} ('keras' is (*kernel, in, out), "
            f"'torch' is (out, in, *kernel)). Received: layout={layout!r}"
        )


def compute_fans(shape: tuple[int, ...], layout: Layout = "keras") -> Fans:
    """Return ``(fan_in, fan_out)`` of a kernel ``shape``.

    Args:
        shape: the kernel shape, rank 2 (dense) or more (convolution).
        layout: ``"keras"`` for ``(*kernel, in, out)``, ``"torch"`` for ``(out, in, *kernel)``.

    Returns:
        A :class:`Fans` record.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        Fans(fan_in=144, fan_out=288)
        >>> compute_fans((32, 16, 3, 3), layout="torch")
        Fans(fan_in=144, fan_out=288)
    """
    check_layout(layout)
    shape = tuple(int(s) for s in shape)
    if len(shape) < 2:
        raise ValueError(
            "A kernel shape needs at least 2 dimensions (in and out) to have fans. "
            f"Received: shape={shape}"
        )
    if layout == "keras":
        receptive = math.prod(shape[:-2])
        return Fans(shape[-2] * receptive, shape[-1] * receptive)
    receptive = math.prod(shape[2:])
    return Fans(shape[1] * receptive, shape[0] * receptive)


def units_axis(shape: tuple[int, ...], layout: Layout = "keras") -> int:
    """Axis of the output units: last for Keras, first for PyTorch."""
    return len(shape) - 1 if layout == "keras" else 0


def units_matrix(values, layout: Layout = "keras"):
    """Reshape a kernel to ``(fan_in, units)``: one column per output unit."""
    import numpy as np

    values = np.asarray(values)
    if layout == "torch":
        return values.reshape(values.shape[0], -1).T
    return values.reshape(-1, values.shape[-1])
