"""The validators of the declarations of :mod:`initcheck.inputs` (what a user says about
what is checked: ``variance``, ``layout``, ``shapes``, ``inputs``, ``accept``, ``kwargs``)
and of the plugin's session inputs. Each takes a value and returns it as the checks use it,
or raises :class:`~initcheck.validators.Rule`; a front that takes more than the Python
API's value (a model's per-layer ``variance``) has its own validator in the table.

Standard library only at import (targets, layouts and the registry load on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from initcheck import registry
from initcheck.declared import parse
from initcheck.fans import as_layout
from initcheck.shapes import normalize_shapes
from initcheck.specs import INPUTS_FORM, SpecError, check_inputs_spec
from initcheck.targets import NAMED_TARGETS, resolve_target
from initcheck.validators import (
    InputError,
    Rule,
    choice,
    comma_list,
    is_spec,
    number_or_name,
    unknown_keys,
)


def registry_choices(declaration: str) -> Callable[[], tuple[str, ...]]:
    def values() -> tuple[str, ...]:

        return registry.option_choices(declaration)

    return values


def frameworks() -> tuple[str, ...]:
    from initcheck.initializers.base import FRAMEWORKS

    return FRAMEWORKS


def variance_rule(v: Any) -> Any:
    """One variance rule: a target name, a positive number, a callable ``(fan_in,
    fan_out) -> variance`` or ``"module:attr"`` naming one (imported when the rule is
    resolved, :func:`initcheck.targets.resolve_target`), or ``None``."""
    if v is None or is_spec(v):
        return v.strip() if isinstance(v, str) else v
    if isinstance(v, Mapping) or (isinstance(v, str) and v.strip().lower() == "auto"):
        raise Rule(
            f"one rule for an initializer: {', '.join(NAMED_TARGETS)}, a positive number or "
            '"module:attr" naming a callable (fan_in, fan_out) -> variance ("auto" and '
            "per-layer mappings are for a model's audit)"
        )

    try:
        parse(v) or resolve_target(v)  # a declared rule's names (L, config's) at any number
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
    return v.strip() if isinstance(v, str) else v


def model_rule(v: Any) -> Any:
    """A model's rule: one variance rule or ``"auto"`` (any case), from each weight's
    measured use."""
    if isinstance(v, str) and v.strip().lower() == "auto":
        return "auto"
    return variance_rule(number_or_name(v) if isinstance(v, str) else v)


def model_variance(v: Any) -> Any:
    """A model's ``variance``: a rule for every kernel, or a mapping from a layer path
    glob or layer type to its rule (``{"attn.proj": 2.0, "*": "auto"}``; the first key
    that matches a weight decides it)."""
    if not isinstance(v, Mapping):
        return model_rule(v)
    if not v or not all(isinstance(k, str) and k.strip() for k in v):
        raise Rule(
            "a rule, or a mapping from layer path globs or layer type names (strings) to "
            'rules, e.g. {"attn.proj": 2.0, "*": "auto"}'
        )
    return {k.strip(): model_rule(rule) for k, rule in v.items()}


def layout(v: Any) -> Any:
    """``"keras"``, ``"torch"``, a KernelLayout, or a mapping from kernel rank (an int, or
    its digits as a TOML key) to either (returned with int keys)."""
    if isinstance(v, str):
        return choice(lambda: ("keras", "torch"), none=False)(v)

    rule = "'keras', 'torch', an initcheck.KernelLayout or a mapping from kernel rank to either"
    try:
        as_layout(v)
    except (TypeError, ValueError) as exc:
        raise Rule(rule + ' (e.g. { 2 = "keras", 4 = "torch" })') from exc
    if isinstance(v, Mapping):
        return {
            int(rank): each if not isinstance(each, str) else layout(each)
            for rank, each in v.items()
        }
    return v


def inputs_spec(v: Any) -> Any:
    if v is None:
        return v

    try:
        return check_inputs_spec(v)
    except SpecError:
        raise Rule(f"an inputs SPEC: {INPUTS_FORM}") from None


#: The terminal summary modes of the plugin (``--initcheck-summary``).
SUMMARY_MODES = ("auto", "all", "failed", "none")
#: ``auto`` lists every result up to this many, else only the failed ones.
SUMMARY_AUTO_ROWS = 40


def accepted(v: Any) -> Any:
    """``accept``: weights the user vouches for, each a layer path glob or layer type name,
    with an optional reason: ``"Normalization"``, ``"attn.proj=gated by gamma"`` (text), or
    ``{"path": "attn.proj", "reason": "gated by gamma"}`` → a tuple of ``(pattern,
    reason)`` pairs."""
    rule = (
        'layer path globs or layer type names, each alone or with a reason ("attn.proj=gated '
        'by gamma", or a table {path = "attn.proj", reason = "gated by gamma"})'
    )
    if v is None:
        return ()
    entries = [v] if isinstance(v, str | Mapping) else v
    if not isinstance(entries, list | tuple):
        raise Rule(rule)
    out: list[tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, str) and "=" not in entry:
            out += [(name, "") for name in comma_list(entry)]
            continue
        if isinstance(entry, str):
            entry = dict([("path", entry.partition("=")[0]), ("reason", entry.partition("=")[2])])
        if isinstance(entry, tuple) and len(entry) == 2:
            entry = {"path": entry[0], "reason": entry[1]}
        if not isinstance(entry, Mapping) or unknown_keys(entry, ("path", "type", "reason")):
            raise Rule(rule)
        pattern, reason = entry.get("path", entry.get("type")), entry.get("reason", "")
        if not (isinstance(pattern, str) and pattern.strip() and isinstance(reason, str)):
            raise Rule(rule)
        out.append((pattern.strip(), reason.strip()))
    return tuple(out)


def kwargs(v: Any) -> Any:
    """``kwargs``: the factory's arguments, a mapping from parameter names to values."""
    if v is None:
        return v
    if not (isinstance(v, Mapping) and all(isinstance(k, str) and k.isidentifier() for k in v)):
        raise Rule(
            "a mapping from the factory's parameter names to values (TOML: kwargs = "
            '{ num_classes = 10 }; command line: --kwargs "num_classes=10, width=64")'
        )
    return dict(v)


def summary(v: Any) -> Any:
    return choice(lambda: SUMMARY_MODES, none=False)(v)


def shapes(v: Any) -> Any:
    if v is None:
        return v

    try:
        normalize_shapes(v, "keras")
    except (TypeError, ValueError) as exc:
        raise Rule("kernel shapes (a shape or a list of shapes of ints ≥ 1)") from exc
    return v
