"""Variance targets: what Var(W) should be for a kernel of given fans.

A target is a name (``"lecun"``, ``"glorot"``/``"xavier"``, ``"he"``/``"kaiming"``),
a number (a fixed variance, e.g. ``0.05**2`` for ``RandomNormal(stddev=0.05)``),
a callable ``(fan_in, fan_out) -> variance``, or ``"module:attr"`` /
``"path/file.py:attr"`` naming such a callable (how TOML and a command line name one).

References:
    - LeCun et al., 1998, "Efficient BackProp": Var = 1/fan_in.
    - Glorot & Bengio, 2010, "Understanding the difficulty of training deep
      feedforward neural networks": Var = 2/(fan_in + fan_out).
    - He et al., 2015, "Delving Deep into Rectifiers" (arXiv:1502.01852): Var = 2/fan_in.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from initcheck.declared import EXAMPLE, parse
from initcheck.fans import Fans
from initcheck.specs import SpecError, load_spec

# rule name -> function of fans giving the "n" in scale/n
FAN_RULES: dict[str, Callable[[Fans], float]] = {
    "fan_in": lambda f: float(f.fan_in),
    "fan_out": lambda f: float(f.fan_out),
    "fan_avg": lambda f: f.fan_avg,
}

# name -> (scale, fan rule)
NAMED_TARGETS: dict[str, tuple[float, str]] = {
    "lecun": (1.0, "fan_in"),
    "glorot": (1.0, "fan_avg"),
    "xavier": (1.0, "fan_avg"),
    "he": (2.0, "fan_in"),
    "kaiming": (2.0, "fan_in"),
    "he_fan_out": (2.0, "fan_out"),
    "lecun_fan_out": (1.0, "fan_out"),
}

TargetSpec = Union[str, float, int, Callable[[int, int], float], "VarianceTarget"]


@dataclass(frozen=True)
class VarianceTarget:
    """A resolved variance target.

    Exactly one of ``rule`` (with ``scale``), ``value`` or ``function`` describes it.
    """

    label: str
    scale: float | None = None
    rule: str | None = None
    value: float | None = None
    function: Callable[[int, int], float] | None = None

    def variance(self, fans: Fans) -> float:
        if self.rule is not None and self.scale is not None:
            return self.scale / max(1.0, FAN_RULES[self.rule](fans))
        if self.value is not None:
            return self.value
        assert self.function is not None
        v = self.function(fans.fan_in, fans.fan_out)
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise TypeError(
                f"The variance target {self.label} must return a number; "
                f"returned {v!r} for fan_in={fans.fan_in}, fan_out={fans.fan_out}"
            ) from None
        if not (math.isfinite(v) and v > 0):
            raise ValueError(
                f"The variance target {self.label} must return a positive finite number; "
                f"returned {v!r} for fan_in={fans.fan_in}, fan_out={fans.fan_out}"
            )
        return v

    def std(self, fans: Fans) -> float:
        return math.sqrt(self.variance(fans))


def resolve_target(spec: TargetSpec) -> VarianceTarget:
    """Turn a user-given variance target into a :class:`VarianceTarget`.

    Example:
        >>> resolve_target("he").label
        '2/fan_in'
    """
    if isinstance(spec, VarianceTarget):
        return spec
    declared = parse(spec)  # "normal(std=0.02)", "trunc_normal(std=0.02, at=2)"
    if declared is not None:
        return VarianceTarget(label=declared.text, value=declared.variance)
    if isinstance(spec, str) and ":" in spec:
        return _loaded(spec.strip())
    if isinstance(spec, str):
        key = spec.strip().lower().replace("-", "_")
        if key not in NAMED_TARGETS:
            close = difflib.get_close_matches(key, NAMED_TARGETS, n=3)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ValueError(
                f"Unknown variance target {spec!r}: `variance` must be one of "
                f"{sorted(NAMED_TARGETS)}, a positive number (a fixed variance), a callable "
                '(fan_in, fan_out) -> variance, "module:attr" naming one, or a declared '
                f"draw ({EXAMPLE}). Received: variance={spec!r}.{hint}"
            )
        scale, rule = NAMED_TARGETS[key]
        return VarianceTarget(label=f"{scale:g}/{rule}", scale=scale, rule=rule)
    if isinstance(spec, bool):
        raise TypeError(f"A variance target cannot be a bool. Received: variance={spec!r}")
    if isinstance(spec, int | float):
        if not (math.isfinite(spec) and spec > 0):
            raise ValueError(
                "A numeric variance target must be positive and finite. "
                f"Received: variance={spec!r}"
            )
        return VarianceTarget(label=f"{float(spec):.6g}", value=float(spec))
    if callable(spec):
        name = getattr(spec, "__name__", type(spec).__name__)
        return VarianceTarget(label=f"{name}(fan_in, fan_out)", function=spec)
    raise TypeError(
        "A variance target must be a name, a positive number or a callable "
        f"(fan_in, fan_out) -> variance. Received: variance={spec!r} "
        f"(type={type(spec).__name__})"
    )


def _loaded(spec: str) -> VarianceTarget:
    """The callable ``spec`` names (``"mypkg.targets:scaled"``), labelled by the spec."""

    try:
        fn = load_spec(spec)
    except SpecError as exc:
        raise ValueError(f"variance target {exc}") from None
    if not callable(fn):
        raise TypeError(
            f"variance target {spec!r} names a {type(fn).__name__}, not a callable "
            f"(fan_in, fan_out) -> variance. Received: variance={spec!r}"
        )
    return VarianceTarget(label=spec, function=fn)
