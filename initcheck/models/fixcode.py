"""The fix of a failing finding, as code the user can paste, and the pieces every
framework's fix writer shares.

A failing variance on a kernel is fixed by drawing that kernel from the rule it was held
to. Each adapter writes that code in its framework (``write_fix``: the
``*_fix`` modules) against a built ``model``, from the rows' fields alone: the target
variance, and the fans the framework's own init functions read from the weight
(:attr:`~initcheck.models.weightrow.WeightRow.init_fans`), so a standard rule is named as
that framework names it (He, LeCun, Glorot, at fan_in or fan_out) and anything else is a
variance scaling at those fans. Nothing is applied silently:
:func:`initcheck.models.fixes.fixed_model` runs exactly this code (as printed) on a copy,
and :func:`initcheck.models.fix` re-audits that copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from initcheck.models.weightrow import WeightRow

_REL = 1e-6  # a target equals a standard rule's variance to this relative precision


@dataclass(frozen=True)
class Fix:
    """The code that fixes one finding.

    Attributes:
        framework: the adapter that wrote it (the model's framework).
        rows: the rows it fixes.
        code: Python that fixes them on a built ``model``, with the names its adapter
            puts in scope (the framework's init module, the model's random keys).
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fix:
        return cls(
            framework=str(data["framework"]),
            rows=tuple(str(r) for r in data.get("rows", ())),
            code=str(data["code"]),
            hint=str(data.get("hint", "")),
        )


def standard(var: float, fans: tuple[int, int]) -> str | None:
    """Which standard rule ``var`` is at ``fans`` read as ``(fan_in, fan_out)``:
    ``"he"``, ``"lecun"``, ``"glorot"``, ``"he_fan_out"``, ``"lecun_fan_out"``, else
    ``None``."""
    fi, fo = fans
    for name, value in (
        ("he", 2 / fi),
        ("lecun", 1 / fi),
        ("glorot", 2 / (fi + fo)),
        ("he_fan_out", 2 / fo),
        ("lecun_fan_out", 1 / fo),
    ):
        if abs(var - value) <= _REL * value:
            return name
    return None


def scaling(var: float, fans: tuple[int, int], named: Mapping[str, str], custom: str) -> str:
    """A named initializer (``named[rule]``), else ``custom`` with ``{scale}`` the
    variance scaling at fan_in that draws ``var``."""
    rule = standard(var, fans)
    if rule is not None and rule in named:
        return named[rule]
    return custom.format(scale=f"{var * fans[0]:.6g}")


def pieces(row: WeightRow, rows: Sequence[WeightRow]) -> tuple[int, int]:
    """``(index, count)`` of a row's piece among its weight's pieces (``(0, 1)``)."""
    same = [r.piece for r in rows if r.layer == row.layer and r.param == row.param]
    return (same.index(row.piece), len(same)) if row.piece else (0, 1)


def quoted(items: Iterable[str]) -> str:
    """``["a", "b"]``: names as a Python list literal."""
    return "[" + ", ".join(f'"{n}"' for n in items) + "]"


def run_fixes(fixes: Iterable[Fix], scope: Mapping[str, Any]) -> None:
    """Execute each fix's code (exactly as printed) with ``scope``'s names."""
    for fix in fixes:
        exec(compile(fix.code, f"<initcheck fix of {fix.rows[0]}>", "exec"), dict(scope))
