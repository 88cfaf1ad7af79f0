"""Inits declared as distributions: ``"normal(std=0.02)"``, ``"normal(std=0.02/sqrt(2*L))"``,
``"trunc_normal(std=0.02, at=2)"``: the init a user intends for a weight, held against
what its init code draws (``variance=`` of an audit, per layer path glob).

- ``std`` is arithmetic (numbers, ``+ - * / **``, ``sqrt``) in ``L``, the model's depth:
  the number of residual blocks the traced pass measured. GPT-2 scales its residual
  writers (``c_proj``) by 1/√(2·n_layer) (Radford et al. 2019); llama2.c scales the last
  projection of each branch (``w2``, ``wo``) by 1/√(2L).
- ``at`` (truncated normals): the truncation, in units of ``std``. The weight's variance
  is then ``std²`` times the truncated normal's own variance factor (0.7737 at 2σ: the
  std is ×0.8796), and no value may lie beyond ``at·std``: ``trunc_normal_(std=0.02)``
  with its default bounds ``a=-2, b=2`` (absolute, ±100σ) truncates nothing, and fails a
  declared truncation at 2σ. That check has no false failures (a bound is a bound) and
  fails an untruncated normal with certainty at the sizes checked (P(|z| > 2) = 4.6% per
  value, over thousands of values).
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FORM = re.compile(r"^\s*(normal|trunc_normal)\s*\((.*)\)\s*(?:with L=(\d+))?\s*$", re.S)
_OPS: dict[type, Any] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}
EXAMPLE = '"normal(std=0.02)", "normal(std=0.02/sqrt(2*L))" or "trunc_normal(std=0.02, at=2)"'


@dataclass(frozen=True)
class Declared:
    """An init declared as a distribution (see the module docstring)."""

    text: str
    std: str
    at: float | None = None
    depth: int | None = None  # L, once :func:`bound` wrote it into the text

    @property
    def std_value(self) -> float:
        """``std`` evaluated at the bound ``L`` (raises if it uses an unbound ``L``)."""
        return _evaluate(self.std, self.depth, self.text)

    @property
    def variance(self) -> float:
        """The variance the declared draw has (a truncated normal's included)."""
        var = self.std_value**2
        return var * truncated_variance(self.at) if self.at is not None else var


def truncated_variance(at: float) -> float:
    """The variance of a standard normal truncated to ±``at``."""
    from scipy import stats

    return float(stats.truncnorm(-at, at).var())


def parse(spec: Any) -> Declared | None:
    """``spec`` as a :class:`Declared`, ``None`` if it is not of that form; raises
    ``ValueError`` naming what is wrong with one that is."""
    if not isinstance(spec, str):
        return None
    found = _FORM.match(spec)
    if found is None:
        return None
    kind, body, depth = found.groups()
    args: dict[str, str] = {}
    for part in (p for p in body.split(",") if p.strip()):
        name, eq, value = part.partition("=")
        if not eq or name.strip() not in ("std", "at"):
            raise ValueError(
                f"{spec!r}: arguments are std= and (for trunc_normal) at=, e.g. {EXAMPLE}. "
                f"Received: {part.strip()!r}"
            )
        args[name.strip()] = value.strip()
    if "std" not in args:
        raise ValueError(f"{spec!r} gives no std=: e.g. {EXAMPLE}.")
    if (kind == "trunc_normal") != ("at" in args):
        raise ValueError(
            f"{spec!r}: at= (the truncation in units of std) goes with trunc_normal, and "
            f"trunc_normal needs it; e.g. {EXAMPLE}."
        )
    at = float(_evaluate(args["at"], 1, spec)) if "at" in args else None
    _evaluate(args["std"], 1, spec)  # the arithmetic is checked now, whatever L will be
    return Declared(spec.strip(), args["std"], at, int(depth) if depth else None)


def bound(variance: Any, depth: int | None) -> Any:
    """``variance`` with every declared rule that uses ``L`` evaluated at ``depth``
    (written into its text: ``"normal(std=0.02/sqrt(2*L)) with L=12"``)."""
    if isinstance(variance, Mapping):
        return {k: bound(v, depth) for k, v in variance.items()}
    declared = parse(variance)
    if declared is None or declared.depth is not None or not _uses_depth(declared.std):
        return variance
    if depth is None:
        return variance  # resolving it then says L was not measured
    return f"{declared.text} with L={depth}"


def _uses_depth(expr: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "L" for n in ast.walk(ast.parse(expr)))


def _evaluate(expr: str, depth: int | None, spec: str) -> float:
    """``expr``'s value: numbers, + - * / **, sqrt(...), and L."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.Name) and node.id == "L":
            if depth is None:
                raise ValueError(
                    f"{spec!r} uses L, the model's number of residual blocks, which was not "
                    "measured (no traced pass, or no residual stream): write the number"
                )
            return float(depth)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "sqrt"
            and len(node.args) == 1
        ):
            return math.sqrt(value(node.args[0]))
        raise ValueError(
            f"{spec!r}: std= is arithmetic in numbers, L and sqrt(...), e.g. {EXAMPLE}. "
            f"Received: {expr!r}"
        )

    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"{spec!r}: {expr!r} is not arithmetic; e.g. {EXAMPLE}.") from None
    result = value(tree)
    if not (math.isfinite(result) and result > 0):
        raise ValueError(f"{spec!r}: std must be positive and finite. Received: {result!r}")
    return result
