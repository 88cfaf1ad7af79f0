"""A parameter's role from the ops that consume it, not from its module's type or its name.

The traced pass records, for every parameter no layer rule claims (an attention class's
own projections, a mixture-of-experts' stacked 3-D expert tensors, class tokens, position
and relative-position tables, LayerScale γ, a CLIP ``logit_scale``, Mamba's ``A_log``…),
each op that consumed it or a view of it (an index, a transpose, an ``exp``: any op whose
only tensor input is the parameter derives a view, not a use). The first use decides:

- a contraction (``linear``, ``matmul``, ``@``, ``bmm``, ``conv``…) makes a 2-D or larger
  parameter a **kernel**, its fans read from the contraction's orientation (``linear``'s
  weight and a left operand are ``(out, in)``, a right operand ``(in, out)``, a transpose
  swaps them) on its last two axes; leading axes are a stack of kernels (experts), their
  units checked together;
- a lookup (``embedding``) makes it an **embedding**; an add or a concatenation with the
  signal a **table** (tokens, positions, biases added to attention logits) or, with one
  unit (a class token, a bias), an **offset**: checked as a table or for finite values,
  and a table that is exactly zero adds nothing at init (identity-at-init), never a
  symmetry failure;
- a product (or any other elementwise use) makes it a **scale** (a gate, a temperature).

The table of op names below only sorts ops into these kinds; what a parameter is comes
from how the model's forward actually used it on the batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

CONTRACTIONS = frozenset(
    {
        "linear", "matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "baddbmm", "addmm",
        "addbmm", "einsum", "bilinear", "tensordot", "_grouped_mm", "grouped_mm", "mv",
    }
)  # fmt: skip
CONVS = frozenset({"conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d"})
LOOKUPS = frozenset({"embedding", "embedding_bag"})
ADDITIVE = frozenset(
    {"add", "__add__", "__radd__", "__iadd__", "add_", "sub", "__sub__", "__rsub__", "cat",
     "concat", "concatenate", "stack", "where", "masked_fill", "index_put", "scatter"}
)  # fmt: skip
#: ops that take a part of the parameter by an index tensor: a view, not a use
INDEXING = frozenset({"__getitem__", "index_select", "gather", "take", "narrow", "chunk"})


@dataclass(frozen=True)
class Use:
    """One op that consumed a parameter (or a view of it).

    Attributes:
        op: the op's name as the framework calls it (``"linear"``, ``"__mul__"``).
        position: the argument the parameter was (0 the first).
        transposed: whether the views between the parameter and the op swapped its last
            two axes an odd number of times (read from their shapes).
    """

    op: str
    position: int
    transposed: bool = False


@dataclass(frozen=True)
class UseRole:
    """What a parameter's uses make it.

    Attributes:
        role: ``"kernel"``; ``"embedding"`` (a table looked up); ``"table"`` (several
            units added to or concatenated with the signal: position tables, tokens);
            ``"offset"`` (one vector or a bias added); or ``"scale"`` (a product).
        fans: ``(fan_in, fan_out)`` of one matrix of a kernel (``None`` when its
            orientation cannot be read: an ``einsum``), or of a table ``(width, units)``.
        units_last: whether a kernel's units (its outputs) are its last axis.
        conv: whether a kernel is consumed by a convolution (its fans then follow the
            framework's conv layout on the whole shape).
        why: the use that decided, for the row's note.
    """

    role: str
    fans: tuple[int, int] | None
    units_last: bool = False
    conv: bool = False
    why: str = ""

    def extract(self) -> Callable[[np.ndarray], np.ndarray]:
        """The parameter's values as one matrix of units × inputs (a stack of kernels
        folded into its units; a table's rows as units)."""
        if self.role not in ("kernel", "embedding", "table") or self.conv:
            return lambda a: a
        if self.units_last:
            return lambda a: np.swapaxes(a, -1, -2).reshape(-1, a.shape[-2])
        return lambda a: a.reshape(-1, a.shape[-1]) if a.ndim > 2 else a


def _kernel(use: Use, shape: tuple[int, ...]) -> UseRole:
    why = f"consumed by {use.op}"
    if use.op in CONVS:
        return UseRole("kernel", None, conv=True, why=why)
    if use.op == "einsum":
        return UseRole("kernel", None, why=f"{why} (its fans cannot be read from an einsum)")
    rows, cols = shape[-2], shape[-1]
    # linear(x, W): W is (out, in); A @ x with A the parameter: (out, in); x @ W: (in, out)
    out_in = use.op in ("linear", "bilinear") or use.position == 0
    if use.transposed:
        out_in = not out_in
    if out_in:
        return UseRole("kernel", (cols, rows), why=why)
    return UseRole("kernel", (rows, cols), units_last=True, why=why)


def role_from_uses(uses: Sequence[Use], shape: tuple[int, ...]) -> UseRole | None:
    """The role a parameter's recorded uses give it (``None`` if it was never used).

    Args:
        uses: its uses in forward order.
        shape: its shape.

    Returns:
        A :class:`UseRole`, or ``None``.
    """
    if not uses:
        return None
    matrix = len(shape) >= 2 and math.prod(shape[-2:]) > 1
    for use in uses:  # a contraction decides over what else the parameter meets
        if matrix and (use.op in CONTRACTIONS or use.op in CONVS):
            return _kernel(use, shape)
    first = uses[0]
    why = f"consumed by {first.op}"
    width = shape[-1] if shape else 1
    units = math.prod(shape[:-1]) if len(shape) >= 2 else 1
    if first.op in LOOKUPS:
        return UseRole("embedding", (width, units), why=why)
    if first.op in ADDITIVE:  # a table of several units, or one offset (a token, a bias)
        return UseRole("table" if units > 1 else "offset", (width, units), why=why)
    return UseRole("scale", None, why=why)


def unused_role(shape: tuple[int, ...]) -> UseRole:
    """A parameter the traced pass never used (a training-only mask embedding): read from
    its shape as a table of units, or one offset, so its values are still checked (finite;
    distinct units unless exactly zero), never a kernel (no fan is known)."""
    width = shape[-1] if shape else 1
    units = math.prod(shape[:-1]) if len(shape) >= 2 else 1
    why = "not used by the traced pass (read from its shape)"
    return UseRole("table" if units > 1 else "offset", (width, units), why=why)
