"""The fix of a failing finding, in the model's own framework, as a suggestion (the code;
:mod:`initcheck.models.fixes` applies it and re-audits).

A failing variance on a kernel is fixed by drawing that kernel from the rule it was held
to. The fix is code the user can paste, written against a built ``model``:

- torch: ``nn.init.kaiming_normal_(…, nonlinearity="relu")`` (He), ``nonlinearity="linear"``
  (LeCun), ``xavier_normal_`` (Glorot) over the failing modules; ``mode="fan_out"`` where
  torch reads a kernel's fans swapped (transposed convolutions, Hugging Face's ``Conv1D``),
  and per slice for packed weights (``in_proj_weight.data.chunk(3)[i]``, gate matrices);
- Keras: the layer's initializer (``kernel_initializer="he_normal"``, or the
  ``VarianceScaling`` that reads the right fan for transposed and depthwise kernels), set
  on the layer and drawn into its kernel;
- Flax NNX: ``nnx.initializers.he_normal()`` (the ``kernel_init`` to build with), drawn
  into the kernel with the model's ``rngs``.

Nothing is applied silently: :func:`initcheck.models.fixes.fixed_model` applies exactly
this code (it is executed as printed) to a copy, and
:meth:`~initcheck.models.records.ModelReport.fixed` re-audits that copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from initcheck.models.weightrow import WeightRow

_REL = 1e-6  # a target equals a standard rule's variance to this relative precision
_SWAPPED_TORCH = ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Conv1D")


@dataclass(frozen=True)
class Fix:
    """The code that fixes one finding.

    Attributes:
        framework: ``"torch"``, ``"keras"`` or ``"flax"``.
        rows: the rows it fixes.
        code: Python that fixes them on a built ``model`` (torch: with ``nn`` imported;
            Keras: with ``keras``; Flax: with ``nnx`` and the model's ``rngs``).
        hint: the same fix where the model is built (``kernel_initializer="he_normal"``),
            or ``""``.
    """

    framework: str
    rows: tuple[str, ...]
    code: str
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "framework": self.framework,
            "rows": list(self.rows),
            "code": self.code,
            "hint": self.hint,
        }


def _target(row: WeightRow) -> float | None:
    """The target variance the row was held to (at its own fans)."""
    for r in row.results:
        if r.check == "variance":
            for shape in (r.details.get("per_shape") or {}).values():
                t = shape.get("target") if isinstance(shape, dict) else None
                if isinstance(t, int | float) and t > 0:
                    return float(t)
    return None


def _is(var: float, value: float) -> bool:
    return abs(var - value) <= _REL * value


def _standard(var: float, fi: int, fo: int) -> str | None:
    """Which standard rule ``var`` is at fans read as ``(fi, fo)``."""
    for name, value in (
        ("he", 2 / fi),
        ("lecun", 1 / fi),
        ("glorot", 2 / (fi + fo)),
        ("he_fan_out", 2 / fo),
        ("lecun_fan_out", 1 / fo),
    ):
        if _is(var, value):
            return name
    return None


def _torch_call(var: float, fi: int, fo: int) -> str:
    """An ``nn.init`` call with ``{w}`` for the tensor, drawing Var = ``var`` where torch
    reads the tensor's fans as ``(fi, fo)``."""
    return {
        "he": 'nn.init.kaiming_normal_({w}, nonlinearity="relu")',
        "lecun": 'nn.init.kaiming_normal_({w}, nonlinearity="linear")',
        "glorot": "nn.init.xavier_normal_({w})",
        "he_fan_out": 'nn.init.kaiming_normal_({w}, mode="fan_out", nonlinearity="relu")',
        "lecun_fan_out": 'nn.init.kaiming_normal_({w}, mode="fan_out", nonlinearity="linear")',
    }.get(_standard(var, fi, fo) or "", f"nn.init.normal_({{w}}, std={math.sqrt(var):.6g})")


def _scaling(var: float, fi: int, fo: int, named: dict[str, str], custom: str) -> str:
    """A named initializer, else a variance scaling at the fans read as ``(fi, fo)``."""
    rule = _standard(var, fi, fo)
    if rule in named:
        return named[rule]
    return custom.format(scale=f"{var * fi:.6g}")


def _pieces(row: WeightRow, rows: Sequence[WeightRow]) -> tuple[int, int]:
    """``(index, count)`` of a row's piece among its weight's pieces (``(0, 1)``)."""
    same = [r.piece for r in rows if r.layer == row.layer and r.param == row.param]
    return (same.index(row.piece), len(same)) if row.piece else (0, 1)


def _names(items: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{n}"' for n in items) + "]"


def _torch(members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    lines: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for row in members:
        var = _target(row)
        if var is None or row.fans is None:
            return None
        fi, fo = row.fans
        if row.layer_type in _SWAPPED_TORCH:  # torch reads these fans swapped
            fi, fo = fo, fi
        index, count = _pieces(row, rows)
        lines.setdefault((_torch_call(var, fi, fo), count), []).append((row.layer, index))
    param = members[0].param
    code = []
    for (call, count), where in lines.items():
        if count == 1:
            w = f"model.get_submodule(name).{param}"
            code.append(f"for name in {_names(n for n, _ in where)}: {call.format(w=w)}")
        else:
            pairs = ", ".join(f'("{n}", {i})' for n, i in where)
            w = f"model.get_submodule(name).{param}.data.chunk({count})[i]"
            code.append(f"for name, i in [{pairs}]: {call.format(w=w)}")
    return Fix("torch", tuple(r.name for r in members), "\n".join(code))


def _keras_attr(row: WeightRow) -> str:
    if "Depthwise" in row.layer_type and row.param == "kernel":
        return "depthwise_initializer"
    base = row.param[: -len("_kernel")] if row.param.endswith("_kernel") else row.param
    return f"{base}_initializer"


def _keras_fans(row: WeightRow, rows: Sequence[WeightRow]) -> tuple[int, int]:
    """The fans Keras reads from the whole kernel of ``row``."""
    assert row.fans is not None
    fi, fo = row.fans
    _, count = _pieces(row, rows)
    if "Transpose" in row.layer_type:
        return fo, fi
    if "Depthwise" in row.layer_type and fi and fo:  # Keras reads in·k, not k
        return row.size * fi // fo, row.size // fi
    return fi, fo * count


def _keras(members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    named = {
        "he": '"he_normal"',
        "lecun": '"lecun_normal"',
        "glorot": '"glorot_normal"',
        "he_fan_out": 'keras.initializers.VarianceScaling(scale=2.0, mode="fan_out")',
        "lecun_fan_out": 'keras.initializers.VarianceScaling(scale=1.0, mode="fan_out")',
    }
    custom = 'keras.initializers.VarianceScaling(scale={scale}, mode="fan_in")'
    groups: dict[tuple[str, str], list[str]] = {}
    for row in members:
        var = _target(row)
        if var is None or row.fans is None:
            return None
        expr = _scaling(var, *_keras_fans(row, rows), named, custom)
        key = (expr, _keras_attr(row))
        if row.layer not in groups.setdefault(key, []):
            groups[key].append(row.layer)
    param = members[0].param
    code, hints = [], []
    for (expr, attr), layers in groups.items():
        get = ", ".join(
            "model" + "".join(f'.get_layer("{p}")' for p in path.split("/")) for path in layers
        )
        init = expr if not expr.startswith('"') else f"keras.initializers.get({expr})"
        code.append(f"for layer in [{get}]:")
        code.append(
            f"    layer.{attr} = {init}; layer.{param}.assign(layer.{attr}(layer.{param}.shape))"
        )
        hints.append(f"{attr}={expr}")
    hint = f"build the {members[0].layer_type} layers with {' or '.join(hints)}"
    return Fix("keras", tuple(r.name for r in members), "\n".join(code), hint)


def _flax_path(path: str) -> str:
    out = "model"
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}" if part.isidentifier() else ""
    return out


def _flax(members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    named = {
        "he": "nnx.initializers.he_normal()",
        "lecun": "nnx.initializers.lecun_normal()",
        "glorot": "nnx.initializers.glorot_normal()",
        "he_fan_out": 'nnx.initializers.variance_scaling(2.0, "fan_out", "truncated_normal")',
        "lecun_fan_out": 'nnx.initializers.variance_scaling(1.0, "fan_out", "truncated_normal")',
    }
    custom = 'nnx.initializers.variance_scaling({scale}, "fan_in", "truncated_normal")'
    groups: dict[str, list[str]] = {}
    for row in members:
        var = _target(row)
        if var is None or row.fans is None or _pieces(row, rows)[1] != 1:
            return None
        groups.setdefault(_scaling(var, *row.fans, named, custom), []).append(row.layer)
    param = members[0].param
    code, hints = [], []
    for expr, layers in groups.items():
        w = f"layer.{param}"
        code.append(f"for layer in [{', '.join(map(_flax_path, layers))}]:")
        code.append(f"    {w}[...] = {expr}(rngs.params(), {w}[...].shape, {w}[...].dtype)")
        hints.append(f"{param}_init={expr}")
    hint = f"build the {members[0].layer_type} layers with {' or '.join(hints)}"
    return Fix("flax", tuple(r.name for r in members), "\n".join(code), hint)


_WRITERS: dict[str, Callable[[Sequence[Any], Sequence[Any]], Fix | None]] = {
    "torch": _torch,
    "keras": _keras,
    "flax": _flax,
}


def fix_for(framework: str, members: Sequence[WeightRow], rows: Sequence[WeightRow]) -> Fix | None:
    """The fix of a failing finding's rows, or ``None`` (not a variance failure of a
    kernel with a rule, or a framework without a writer).

    Args:
        framework: the model's framework.
        members: the finding's rows.
        rows: every row of the report (to locate a piece among its weight's pieces).

    Returns:
        A :class:`Fix` or ``None``.
    """
    writer = _WRITERS.get(framework)
    fixable = all(
        r.role in ("kernel", "recurrent") and {f.check for f in r.failures} == {"variance"}
        for r in members
    )
    return writer(members, rows) if writer and fixable and members else None
