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
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, NamedTuple

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
        stacked: number of leading *stack* axes (relations of an RGCN, experts of a
            mixture, attention heads): a ``(R, in, out)`` kernel is R dense kernels, not a
            conv kernel with receptive field R. Fans are those of one member; each
            member's units are units of their own.

    Example:
        >>> KernelLayout("keras", "conv_transpose").fans((3, 3, 32, 16))
        Fans(fan_in=144, fan_out=288)
    """

    framework: Layout = "keras"
    layer: Layer = "standard"
    groups: int = 1
    stacked: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.stacked, int) or isinstance(self.stacked, bool) or self.stacked < 0:
            raise ValueError(
                f"stacked must be a non-negative int. Received: stacked={self.stacked!r}"
            )
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
        text: str = self.framework
        if self.layer != "standard":
            text += f" {self.layer}"
        text += f" groups={self.groups}" if self.groups != 1 else ""
        return text + (f" stacked={self.stacked}" if self.stacked else "")

    def for_shape(self, shape: tuple[int, ...]) -> KernelLayout:
        """The layout of ``shape`` (this one; see :class:`LayoutByRank`)."""
        return self

    def from_keras(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """A kernel shape given in Keras's ``(*kernel, in, out)``, in this convention.

        Example:
            >>> KernelLayout("torch").from_keras((3, 5, 16, 32))
            (32, 16, 3, 5)
        """
        shape = tuple(shape)
        if self.framework == "keras" or len(shape) < 2:
            return shape
        return (shape[-1], shape[-2], *shape[:-2])

    def _member(self, shape: tuple[int, ...]) -> tuple[KernelLayout, tuple[int, ...]]:
        """(the layout of one stack member, its shape) for a stacked layout."""
        shape = tuple(int(s) for s in shape)
        if len(shape) < self.stacked + 2:
            raise ValueError(
                f"A kernel with {self.stacked} stack axes needs at least {self.stacked + 2} "
                f"dimensions. Received: shape={shape}"
            )
        return replace(self, stacked=0), shape[self.stacked :]

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
        if self.stacked:
            member, inner = self._member(shape)
            return member.fans(inner)
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
        if self.stacked:
            member, inner = self._member(shape)
            return self.stacked + member.units_axis(inner) % len(inner)
        if self.layer == "depthwise":
            return -1
        if self.framework == "keras":
            return len(shape) - (2 if self.layer == "conv_transpose" else 1)
        return 1 if self.layer == "conv_transpose" else 0

    def n_units(self, shape: tuple[int, ...]) -> int:
        """Number of output units of a kernel ``shape`` (of all stack members)."""
        if self.stacked:
            member, inner = self._member(shape)
            return math.prod(shape[: self.stacked]) * member.n_units(inner)
        if self.layer == "depthwise":
            return shape[-2] * shape[-1]
        return shape[self.units_axis(shape)]

    def unit_groups(self, shape: tuple[int, ...]) -> int:
        """Number of groups the output units of ``shape`` split into, each reading its own
        inputs (contiguous blocks of units along the units axis): ``groups`` for a standard
        grouped conv kernel, else 1 (dense kernels, depthwise and transposed layouts)."""
        if self.stacked:  # members read the same inputs: grouped as one member is
            member, inner = self._member(shape)
            return member.unit_groups(inner)
        if self.groups == 1 or self.layer != "standard" or len(shape) <= 2:
            return 1
        return self.groups if self.n_units(shape) % self.groups == 0 else 1

    def unit_group_of(self, shape: tuple[int, ...], units: Any) -> Any:
        """The group of each output unit index in ``units`` (see :meth:`unit_groups`)."""
        import numpy as np

        if self.stacked:
            member, inner = self._member(shape)
            return member.unit_group_of(inner, np.asarray(units) % member.n_units(inner))
        per = self.n_units(shape) // self.unit_groups(shape)
        return np.asarray(units) // per

    def units_matrix(self, values: Any) -> Any:
        """Reshape a kernel to ``(weights per unit, units)``: one column per output unit."""
        import numpy as np

        values = np.asarray(values)
        if self.stacked:  # each member's units side by side
            member, inner = self._member(values.shape)
            parts = values.reshape(-1, *inner)
            return np.concatenate([member.units_matrix(v) for v in parts], axis=1)
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

    def dense_shape(self, n_in: int, n_out: int) -> tuple[int, ...]:
        """A dense kernel shape in this framework's convention (a stack of one member,
        ``(1, in, out)``, when ``stacked``: the shapes the initializer is declared for)."""
        member = (n_in, n_out) if self.framework == "keras" else (n_out, n_in)
        return (1,) * self.stacked + member

    def dense_matrix(self, values: Any) -> Any:
        """A dense kernel (as :meth:`dense_shape` draws it) as an ``(in, out)`` matrix."""
        member = values.reshape(values.shape[self.stacked :]) if self.stacked else values
        return member if self.framework == "keras" else member.T


@dataclass(frozen=True)
class LayoutByRank:
    """One layout per kernel rank, for libraries that store dense and conv weights in
    different conventions (Lasagne, Paddle: dense ``(in, out)``, conv ``(out, in, *k)``).

    Args:
        layouts: ``(rank, layout)`` pairs; build it from a mapping with :func:`as_layout`,
            e.g. ``as_layout({2: "keras", 4: "torch"})``.

    Every method dispatches on the shape's rank; a shape of a rank not given raises
    ``ValueError`` naming the ranks that are.
    """

    layouts: tuple[tuple[int, KernelLayout], ...]

    def for_shape(self, shape: tuple[int, ...]) -> KernelLayout:
        """The layout of ``shape``'s rank."""
        for rank, layout in self.layouts:
            if rank == len(shape):
                return layout
        raise ValueError(
            f"No layout for a rank-{len(shape)} kernel in {self}; give one for ranks "
            f"{[r for r, _ in self.layouts]}. Received: shape={tuple(shape)}"
        )

    def __str__(self) -> str:
        return "{" + ", ".join(f"{r}: {lay}" for r, lay in self.layouts) + "}"

    @property
    def dense(self) -> KernelLayout:
        """The rank-2 layout (Keras if none is given): dense heads and propagation nets."""
        return dict(self.layouts).get(2, KernelLayout())

    framework = property(lambda self: self.dense.framework)
    layer = property(lambda self: self.dense.layer)
    groups = property(lambda self: self.dense.groups)

    def fans(self, shape: tuple[int, ...]) -> Fans:
        return self.for_shape(shape).fans(shape)

    def units_axis(self, shape: tuple[int, ...]) -> int:
        return self.for_shape(shape).units_axis(shape)

    def n_units(self, shape: tuple[int, ...]) -> int:
        return self.for_shape(shape).n_units(shape)

    def unit_groups(self, shape: tuple[int, ...]) -> int:
        return self.for_shape(shape).unit_groups(shape)

    def unit_group_of(self, shape: tuple[int, ...], units: Any) -> Any:
        return self.for_shape(shape).unit_group_of(shape, units)

    def units_matrix(self, values: Any) -> Any:
        return self.for_shape(values.shape).units_matrix(values)

    def groups_fit(self, shape: tuple[int, ...]) -> bool:
        try:
            return self.for_shape(shape).groups_fit(shape)
        except ValueError:
            return False

    def dense_shape(self, n_in: int, n_out: int) -> tuple[int, ...]:
        return self.dense.dense_shape(n_in, n_out)

    def dense_matrix(self, values: Any) -> Any:
        return self.dense.dense_matrix(values)


def _divide(n: int, groups: int, shape: tuple[int, ...], what: str) -> int:
    if n % groups:
        raise ValueError(
            f"The {what} axis ({n}) of shape={shape} is not divisible by groups={groups}."
        )
    return n // groups


def as_layout(layout: Any) -> Any:
    """``"keras"``/``"torch"``, a :class:`KernelLayout`, or a mapping from kernel rank to
    either (a :class:`LayoutByRank`: ``{2: "keras", 4: "torch"}``) → a layout object."""
    if isinstance(layout, KernelLayout | LayoutByRank):
        return layout
    if isinstance(layout, str):
        return KernelLayout(layout)  # type: ignore[arg-type]
    if isinstance(layout, Mapping) and layout:
        pairs = []
        for rank, each in layout.items():
            try:
                r = int(rank)
            except (TypeError, ValueError):
                r = 0
            if r < 2 or isinstance(as_layout(each), LayoutByRank):
                raise ValueError(
                    "A layout by rank maps kernel ranks (ints ≥ 2) to layouts. "
                    f"Received: layout={dict(layout)!r}"
                )
            pairs.append((r, as_layout(each)))
        return LayoutByRank(tuple(sorted(pairs)))
    raise ValueError(
        "layout must be 'keras', 'torch', an initcheck.KernelLayout or a mapping from kernel "
        f"rank to layout. Received: layout={layout!r}"
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
