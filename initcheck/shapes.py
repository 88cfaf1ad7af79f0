"""Kernel shapes: the default set every check draws, and what a user's ``shapes`` become
(one shape or a sequence of them, validated: at least two positive ints each).

Depends only on :mod:`initcheck.fans` (no numpy, no framework).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from initcheck.fans import KernelLayout, Layout, LayoutByRank, as_layout

#: What ``shapes=`` takes: one kernel shape, a sequence of them, or ``None`` (the defaults).
ShapesLike = Sequence[int] | Sequence[Sequence[int]] | None

#: Default kernel shapes: dense with in < out and in > out, small and large fans, and
#: conv1d/2d/3d kernels with kernel size > 1 (Keras layout ``(*kernel, in, out)``),
#: one of them a real-size layer of 294,912 ≥ 2**18 values (a defect that shows only in
#: large tensors fails by default; the checks' cost is linear in the values drawn).
DEFAULT_SHAPES: tuple[tuple[int, ...], ...] = (
    (3, 5),
    (256, 128),
    (64, 512),
    (5, 16, 32),
    (3, 3, 32, 16),
    (3, 3, 3, 8, 4),
    (3, 3, 128, 256),
)


def default_shapes(layout: Layout | KernelLayout) -> tuple[tuple[int, ...], ...]:
    """The default shapes in ``layout`` (PyTorch: ``(out, in, *kernel)``); only the conv
    kernels for transposed and depthwise layouts."""
    kind = as_layout(layout)
    if isinstance(kind, LayoutByRank):  # each default shape in the layout of its rank
        ranks = {r for r, _ in kind.layouts}
        out: list[tuple[int, ...]] = []
        for r, each in kind.layouts:
            out += [s for s in default_shapes(each) if len(s) == r and s not in out]
        return tuple(s for s in out if len(s) in ranks)
    if kind.stacked:  # four members of each default dense and conv kernel
        member = default_shapes(replace(kind, stacked=0))
        return tuple((4,) * kind.stacked + s for s in member if math.prod(s) < 2**17)
    shapes = DEFAULT_SHAPES if kind.layer == "standard" else DEFAULT_SHAPES[3:]
    shapes = tuple(kind.from_keras(s) for s in shapes)
    if kind.groups > 1:
        shapes = tuple(s for s in shapes if kind.groups_fit(s))
    return shapes


def normalize_shapes(
    shape: Any, layout: Layout | KernelLayout = "keras"
) -> tuple[tuple[int, ...], ...]:
    """Accept ``None`` (defaults), one shape ``(in, out)`` or a sequence of shapes."""
    if shape is None:
        return default_shapes(layout)
    if isinstance(shape, Sequence) and shape and all(isinstance(s, int) for s in shape):
        shapes: Iterable[Any] = [shape]
    elif isinstance(shape, Iterable) and not isinstance(shape, str | bytes):
        shapes = list(shape)
    else:
        shapes = []
    out = []
    for s in shapes:
        if not (
            isinstance(s, Sequence)
            and len(s) >= 2
            and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in s)
        ):
            raise ValueError(
                "A kernel shape is a tuple of at least 2 positive ints, e.g. (784, 256) or "
                f"(3, 3, 16, 32). Received: shape={shape!r}"
            )
        out.append(tuple(int(d) for d in s))
    if not out:
        raise ValueError(f"No kernel shapes given. Received: shape={shape!r}")
    return tuple(out)
