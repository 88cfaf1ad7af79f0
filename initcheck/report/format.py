"""Number formatting for the report's tables (also used by checks' ``table`` functions),
and the report's HTML ids."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from initcheck.report.inputs import as_float


def fmt(value: Any) -> str:
    """A number with 4 significant digits ('—' when absent)."""
    if isinstance(value, bool):
        return str(value)
    f = as_float(value)
    if f is None:
        return "—" if value is None else str(value)
    if math.isinf(f):
        return "∞" if f > 0 else "−∞"
    if f != 0 and (abs(f) >= 1e5 or abs(f) < 1e-3):
        return f"{f:.3e}"
    return f"{f:.4g}"


def fmt_interval(value: Any) -> str:
    """``[low, high]`` with :func:`fmt` numbers ('—' unless a pair)."""
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return "—"
    return f"[{fmt(value[0])}, {fmt(value[1])}]"


def fmt_int(value: Any) -> str:
    """An integer with thousands separators ('—' when not a number)."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return "—"


def fmt_pct(value: Any) -> str:
    """A fraction as a percentage with 2 decimals ('—' when absent)."""
    f = as_float(value)
    return "—" if f is None else f"{100 * f:.2f}%"


def anchor(name: str, taken: set[str], prefix: str) -> str:
    """A unique HTML id for ``name``: ``prefix-name`` made id-safe (numbered when taken),
    added to ``taken``."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or prefix
    out, i = f"{prefix}-{base}", 2
    while out in taken:
        out, i = f"{prefix}-{base}-{i}", i + 1
    taken.add(out)
    return out
