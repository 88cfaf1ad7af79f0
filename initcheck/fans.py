"""Fan computation: which axes of a kernel are inputs, outputs and receptive field.

Keras/TensorFlow/JAX kernels are laid out ``(*kernel, in, out)``; PyTorch weights are
``(out, in, *kernel)``. ``fan_in`` counts the inputs one output unit sums over
(``in × receptive field``), ``fan_out`` the outputs one input feeds
(``out × receptive field``).

Transposed and depthwise/grouped convolutions break both conventions (and both
frameworks' own fan code: Keras computes a Conv2DTranspose's fans swapped, and a
DepthwiseConv2D's fan_in as ``in × k`` where each output sums over ``k`` inputs), so they
are described explicitly with a :class:`KernelLayout`:

========================  ==========================  ===============  ==================
layout                    kernel shape                fan_in           fan_out
========================  ==========================  ===============  ==================
keras                     ``(*k, in/groups, out)``    ``in/g·k``       ``out/groups·k``
keras conv_transpose      ``(*k, out, in)``           ``in·k``         ``out·k``
keras depthwise           ``(*k, in, multiplier)``    ``k``            ``multiplier·k``
torch                     ``(out, in/groups, *k)``    ``in/g·k``       ``out/groups·k``
torch conv_transpose      ``(in, out/groups, *k)``    ``in/groups·k``  ``out/g·k``
========================  ==========================  ===============  ==================

(PyTorch depthwise convolutions are grouped ones: ``KernelLayout("torch", groups=in)``.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

__all__ = ["LAYERS", "LAYOUTS", "Fans", "KernelLayout", "Layout", "as_layout", "compute_fans"]

Layout = Literal["keras", "torch"]
Layer = Literal["standard", "conv_transpose", "depthwise"]
LAYOUTS: tuple[str, ...] = ("keras", "torch")
LAYERS: tuple[str, ...] = ("standard", "conv_transpose", "depthwise")


class Fans(NamedTuple):
    """Fans of a kernel shape."""

    fan_in: int
    fan_out: int

    @property
    def fan_avg(self) -> float:
        return (self.fan_in + self.fan_out) / 2


def check_layout(layout: object) -> None:
    """Raise ``ValueError`` unless ``layout`` is a layout name or a :class:`KernelLayout`."""
    as_layout(layout)


@dataclass(frozen=True)
class KernelLayout:
    """How to read a kernel shape: framework convention, layer kind and groups.

    Args:
        framework: ``"keras"`` (``(*kernel, in, out)``) or ``"torch"`` (``(out, in, *kernel)``).
        layer: ``"standard"`` (dense and convolution), ``"conv_transpose"`` or
            ``"depthwise"`` (Keras only).
        groups: number of groups of a grouped convolution; applies to conv kernels only
            (a 2-D dense kernel in the same model has no groups).

    Example:
        >>> KernelLayout("keras", "conv_transpose").fans((3, 3, 32, 16))
        Fans(fan_in=144, fan_out=288)
    """

    framework: Layout = "keras"
    layer: Layer = "standard"
    groups: int = 1

    def __post_init__(self) -> None:
        if self.framework not in LAYOUTS:
            raise ValueError(
                f"Unknown layout: expected one of {LAYOUTS} ('keras' is (*kernel, in, out), "
                f"'torch' is (out, in, *kernel)). Received: layout={self.framework!r}"
            )
        if self.layer not in LAYERS:
            raise ValueError(
                f"Unknown layer: expected one of {LAYERS}. Received: layer={self.layer!r}"
            )
        if not isinstance(self.groups, int) or isinstance(self.groups, bool) or self.groups < 1:
            raise ValueError(f"groups must be a positive int. Received: groups={self.groups!r}")
        if self.framework == "torch" and self.layer == "depthwise":
            raise ValueError(
                "PyTorch depthwise convolutions are grouped convolutions: use "
                "KernelLayout('torch', groups=in_channels). Received: layer='depthwise'"
            )
        if self.layer == "depthwise" and self.groups != 1:
            raise ValueError(f"A depthwise kernel takes no groups. Received: groups={self.groups}")

    def __str__(self) -> str:
        text = self.framework
        if self.layer != "standard":
            text += f" {self.layer}"
        return text + (f" groups={self.groups}" if self.groups != 1 else "")

    def _split(self, shape: tuple[int, ...]) -> tuple[int, int, int]:
        """(input axis size, output axis size, receptive field) as stored in the kernel."""
        if len(shape) < 2:
            raise ValueError(
                "A kernel shape needs at least 2 dimensions (in and out) to have fans. "
                f"Received: shape={shape}"
            )
        if self.framework == "keras":
            rf = math.prod(shape[:-2])
            a, b = shape[-2], shape[-1]
            return (b, a, rf) if self.layer == "conv_transpose" else (a, b, rf)
        rf = math.prod(shape[2:])
        return (
            (shape[0], shape[1], rf) if self.layer == "conv_transpose" else (shape[1], shape[0], rf)
        )

    def fans(self, shape: tuple[int, ...]) -> Fans:
        """``(fan_in, fan_out)`` of ``shape`` under this layout."""
        shape = tuple(int(s) for s in shape)
        n_in, n_out, rf = self._split(shape)
        if self.layer == "depthwise":
            return Fans(rf, n_out * rf)
        g = self.groups if len(shape) > 2 else 1  # groups apply to conv kernels only
        if self.framework == "torch" and self.layer == "conv_transpose":
            n_in, n_out = _divide(n_in, g, shape, "in"), n_out
        else:
            n_out = _divide(n_out, g, shape, "out")
        return Fans(n_in * rf, n_out * rf)

    def units_axis(self, shape: tuple[int, ...]) -> int:
        """Axis of the output units (``-1`` for depthwise: every (channel, multiplier))."""
        if self.layer == "depthwise":
            return -1
        if self.framework == "keras":
            return len(shape) - (2 if self.layer == "conv_transpose" else 1)
        return 1 if self.layer == "conv_transpose" else 0

    def n_units(self, shape: tuple[int, ...]) -> int:
        """Number of output units of a kernel ``shape``."""
        if self.layer == "depthwise":
            return shape[-2] * shape[-1]
        return shape[self.units_axis(shape)]

    def unit_groups(self, shape: tuple[int, ...]) -> int:
        """Number of groups the output units of ``shape`` split into, each reading its own
        inputs (contiguous blocks of units along the units axis): ``groups`` for a standard
        grouped conv kernel, else 1 (dense kernels, depthwise and transposed layouts)."""
        if self.groups == 1 or self.layer != "standard" or len(shape) <= 2:
            return 1
        return self.groups if self.n_units(shape) % self.groups == 0 else 1

    def unit_group_of(self, shape: tuple[int, ...], units: Any) -> Any:
        """The group of each output unit index in ``units`` (see :meth:`unit_groups`)."""
        import numpy as np

        per = self.n_units(shape) // self.unit_groups(shape)
        return np.asarray(units) // per

    def units_matrix(self, values: Any) -> Any:
        """Reshape a kernel to ``(weights per unit, units)``: one column per output unit."""
        import numpy as np

        values = np.asarray(values)
        if self.layer == "depthwise":
            rf = math.prod(values.shape[:-2])
            return values.reshape(rf, -1)
        moved = np.moveaxis(values, self.units_axis(values.shape), -1)
        return moved.reshape(-1, moved.shape[-1])

    def groups_fit(self, shape: tuple[int, ...]) -> bool:
        """Whether ``shape``'s grouped axis is divisible by ``groups``."""
        try:
            self.fans(shape)
        except ValueError:
            return False
        return True

    def dense_shape(self, n_in: int, n_out: int) -> tuple[int, int]:
        """A dense kernel shape in this framework's convention."""
        return (n_in, n_out) if self.framework == "keras" else (n_out, n_in)

    def dense_matrix(self, values: Any) -> Any:
        """A dense kernel as an ``(in, out)`` matrix."""
        return values if self.framework == "keras" else values.T


def _divide(n: int, groups: int, shape: tuple[int, ...], what: str) -> int:
    if n % groups:
        raise ValueError(
            f"The {what} axis ({n}) of shape={shape} is not divisible by groups={groups}."
        )
    return n // groups


def as_layout(layout: Any) -> KernelLayout:
    """``"keras"``/``"torch"`` or a :class:`KernelLayout` → a :class:`KernelLayout`."""
    if isinstance(layout, KernelLayout):
        return layout
    if isinstance(layout, str):
        return KernelLayout(layout)  # type: ignore[arg-type]
    raise ValueError(
        f"layout must be 'keras', 'torch' or an initcheck.KernelLayout. Received: layout={layout!r}"
    )


def compute_fans(shape: tuple[int, ...], layout: Layout | KernelLayout = "keras") -> Fans:
    """Return ``(fan_in, fan_out)`` of a kernel ``shape``.

    Args:
        shape: the kernel shape, rank 2 (dense) or more (convolution).
        layout: ``"keras"`` for ``(*kernel, in, out)``, ``"torch"`` for ``(out, in, *kernel)``,
            or a :class:`KernelLayout` for transposed, depthwise and grouped convolutions.

    Returns:
        A :class:`Fans` record.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        Fans(fan_in=144, fan_out=288)
        >>> compute_fans((32, 16, 3, 3), layout="torch")
        Fans(fan_in=144, fan_out=288)
    """
    return as_layout(layout).fans(shape)


def units_matrix(values: Any, layout: Layout | KernelLayout = "keras") -> Any:
    """Reshape a kernel to ``(fan_in, units)``: one column per output unit."""
    return as_layout(layout).units_matrix(values)
