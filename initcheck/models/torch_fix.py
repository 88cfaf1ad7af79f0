"""PyTorch fixes: ``nn.init`` calls over the failing modules (a packed weight per slice,
``weight.data.chunk(n)[i]``), written from the rows' target variance and the fans
PyTorch's init functions read from the tensor drawn into
(:attr:`~initcheck.models.weightrow.WeightRow.init_fans`: swapped on a transposed
convolution or a Hugging Face ``Conv1D`` with no special case), and applied to a copy."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

from initcheck.models.fixcode import Fix, pieces, quoted, run_fixes, standard
from initcheck.models.weightrow import WeightRow

_CALLS = {
    "he": 'nn.init.kaiming_normal_({w}, nonlinearity="relu")',
    "lecun": 'nn.init.kaiming_normal_({w}, nonlinearity="linear")',
    "glorot": "nn.init.xavier_normal_({w})",
    "he_fan_out": 'nn.init.kaiming_normal_({w}, mode="fan_out", nonlinearity="relu")',
    "lecun_fan_out": 'nn.init.kaiming_normal_({w}, mode="fan_out", nonlinearity="linear")',
}


def write_fix(members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    """The ``nn.init`` code drawing each row's weight (or slice) at its target variance,
    or ``None`` when a row lacks its target or the fans PyTorch reads."""
    lines: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for row in members:
        var, fans = row.target_variance, row.init_fans
        if var is None or fans is None:
            return None
        call = _CALLS.get(
            standard(var, fans) or "", f"nn.init.normal_({{w}}, std={math.sqrt(var):.6g})"
        )
        index, count = pieces(row, rows)
        lines.setdefault((call, count), []).append((row.layer, index))
    param = members[0].param
    code = []
    for (call, count), where in lines.items():
        if count == 1:
            w = f"model.get_submodule(name).{param}"
            code.append(f"for name in {quoted(n for n, _ in where)}: {call.format(w=w)}")
        else:
            pairs = ", ".join(f'("{n}", {i})' for n, i in where)
            w = f"model.get_submodule(name).{param}.data.chunk({count})[i]"
            code.append(f"for name, i in [{pairs}]: {call.format(w=w)}")
    return Fix("torch", tuple(r.name for r in members), "\n".join(code))


def fixed(model: Any, fixes: Sequence[Fix], paths: Sequence[str], instance: bool) -> Any:
    """A fixed deep copy of a module (``instance``), else a factory of fixed modules."""
    from torch import nn

    def apply(built: Any) -> Any:
        run_fixes(fixes, {"model": built, "nn": nn})
        return built

    if instance:
        return apply(copy.deepcopy(model))
    factory: Callable[[], Any] = model
    return functools.wraps(factory)(lambda: apply(factory()))
