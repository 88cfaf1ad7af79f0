"""Inits declared as distributions: ``"normal(std=0.02)"``, ``"normal(std=0.02/sqrt(2*L))"``,
``"trunc_normal(std=0.02, at=2)"``: the init a user intends for a weight, held against
what its init code draws (``variance=`` of an audit, per layer path glob).

- ``std`` is arithmetic (numbers, ``+ - * / **``, ``sqrt``) in ``L``, the model's depth:
  the number of residual blocks the traced pass measured, and in the numbers the model's
  ``config`` gives by name (a Hugging Face config's ``initializer_range``): the config's
  promise, ``"normal(std=initializer_range)"``, read from the model the audit built.
  GPT-2 scales its residual writers (``c_proj``) by 1/√(2·n_layer) (Radford et al. 2019);
  llama2.c scales the last projection of each branch (``w2``, ``wo``) by 1/√(2L).
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
import difflib
import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FORM = re.compile(r"^\s*(normal|trunc_normal)\s*\((.*)\)\s*(?:with\s+(.*?))?\s*$", re.S)
_BOUND = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(\S+?)\s*$")
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
    #: the values of ``std``'s names (``L``, config numbers), once :func:`bound` wrote
    #: them into the text (``"… with L=12, initializer_range=0.02"``)
    names: tuple[tuple[str, float], ...] = ()

    @property
    def std_value(self) -> float:
        """``std`` evaluated at its bound names (raises naming one that is not bound)."""
        return _evaluate(self.std, dict(self.names), self.text)

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
    kind, body, given = found.groups()
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
    at = float(_evaluate(args["at"], {}, spec)) if "at" in args else None
    names = _given(given, spec) if given else ()
    anything = dict.fromkeys(_names(args["std"]), 1.0)  # checked now, whatever they will be
    _evaluate(args["std"], anything, spec)
    return Declared(spec.strip(), args["std"], at, names)


def _given(text: str, spec: str) -> tuple[tuple[str, float], ...]:
    """The ``name=number`` pairs of a declared rule's ``with`` clause."""
    out = []
    for part in text.split(","):
        pair = _BOUND.match(part)
        number = _number(pair.group(2)) if pair else None
        if pair is None or number is None:
            raise ValueError(
                f"{spec!r}: after `with` come name=number pairs (`with L=12`). "
                f"Received: {part.strip()!r}"
            )
        out.append((pair.group(1), number))
    return tuple(out)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def config_numbers(model: Any) -> dict[str, float]:
    """The numbers a model's ``config`` gives by name (a Hugging Face config, or any object
    or mapping under ``model.config``): what a declared ``std`` may name."""
    config = getattr(model, "config", None)
    if config is None:
        return {}
    fields = config if isinstance(config, Mapping) else getattr(config, "__dict__", {})
    return {
        str(k): float(v)
        for k, v in fields.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    }


def bound(variance: Any, depth: int | None, config: Mapping[str, float] | None = None) -> Any:
    """``variance`` with the names of every declared rule written into its text at their
    values: ``L`` at ``depth``, the others from ``config`` (:func:`config_numbers`):
    ``"normal(std=initializer_range/sqrt(2*L)) with L=12, initializer_range=0.02"``.

    Raises:
        ValueError: a name is neither ``L`` nor a number of ``config`` (when given).
    """
    if isinstance(variance, Mapping):
        return {k: bound(v, depth, config) for k, v in variance.items()}
    declared = parse(variance)
    if declared is None or declared.names:
        return variance
    values: dict[str, float] = {}
    for name in _names(declared.std):
        if name == "L":
            if depth is not None:  # else resolving it says L was not measured
                values[name] = depth
        elif config is not None and name in config:
            values[name] = config[name]
        elif config is not None:
            raise ValueError(_not_in_config(declared.text, name, config))
    if not values:
        return variance
    pairs = ", ".join(f"{k}={v:.10g}" for k, v in values.items())
    return f"{declared.text} with {pairs}"


def _not_in_config(text: str, name: str, config: Mapping[str, float]) -> str:
    close = difflib.get_close_matches(name, config, n=3)
    if close:
        hint = f"did you mean {' or '.join(map(repr, close))}?"
    else:
        hint = f"it gives {', '.join(sorted(config)[:12])}" if config else "it has none"
    return (
        f"{text!r} names {name!r}, which is not a number of the model's config "
        f"(`model.config`; {hint}): name one it gives, or write the number"
    )


def _names(expr: str) -> list[str]:
    """The names ``expr`` uses (``sqrt`` aside), in order, once each."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return []  # evaluating it says what is wrong
    found = (n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    return list(dict.fromkeys(n for n in found if n != "sqrt"))


def _evaluate(expr: str, names: Mapping[str, float], spec: str) -> float:
    """``expr``'s value: numbers, + - * / **, sqrt(...), and the ``names``."""

    def value(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return float(_OPS[type(node.op)](value(node.left), value(node.right)))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -value(node.operand)
        if isinstance(node, ast.Name) and node.id != "sqrt":
            if node.id in names:
                return float(names[node.id])
            if node.id == "L":
                raise ValueError(
                    f"{spec!r} uses L, the model's number of residual blocks, which was not "
                    "measured (no traced pass, or no residual stream): write the number"
                )
            raise ValueError(
                f"{spec!r} uses {node.id!r}, a number of the model's config, which is only "
                "known in a model's audit: write the number"
            )
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "sqrt"
            and len(node.args) == 1
        ):
            return math.sqrt(value(node.args[0]))
        raise ValueError(
            f"{spec!r}: std= is arithmetic in numbers, L, the model's config numbers by "
            f"name and sqrt(...), e.g. {EXAMPLE}. Received: {expr!r}"
        )

    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        raise ValueError(f"{spec!r}: {expr!r} is not arithmetic; e.g. {EXAMPLE}.") from None
    result = value(tree)
    if not (math.isfinite(result) and result > 0):
        raise ValueError(f"{spec!r}: std must be positive and finite. Received: {result!r}")
    return result
