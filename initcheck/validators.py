"""The validators of :mod:`initcheck.inputs`: text → value converters, one validator per
kind of input, and the one error style of a bad value (``"`x` must be … Received: x=…"``)
or an unknown name (with a did-you-mean).

A validator takes a value and returns it, or raises :class:`Rule` (what the value must
be); :func:`initcheck.inputs.validate` turns that into an :class:`InputError` naming the
input and echoing the value.

Standard library only at import.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: The ``initcheck`` subcommands an input can be a flag of.
CLI_COMMANDS = ("check", "compare", "audit")
#: Where an input can be given: plugin option, ini key, marker keyword, the gate's two
#: pyproject tables, and each CLI subcommand.
FRONTS = ("option", "ini", "marker", "initializers", "models", *CLI_COMMANDS)


class InputError(ValueError):
    """A bad value of a user input: ``"`x` must be … Received: x=…"``."""


class UnknownInputError(TypeError):
    """A name or key no front end takes: ``"unknown key(s) [...]; did you mean …?"``."""


class Rule(Exception):
    """Raised by a validator: what the value must be (and an optional hint)."""

    def __init__(self, rule: str, hint: str = "") -> None:
        super().__init__(rule)
        self.rule, self.hint = rule, hint


def shown(raw: Any) -> str:
    """A value as echoed in an error: text that reads as a number as typed, else repr."""
    if isinstance(raw, str):
        try:
            float(raw)
        except ValueError:
            return repr(raw)
        return raw.strip()
    return repr(raw)


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for a close match of ``word`` in ``choices``, else ``""``."""
    close = difflib.get_close_matches(str(word), list(choices), n=2, cutoff=0.6)
    return f" Did you mean {' or '.join(map(repr, close))}?" if close else ""


def unknown_keys(keys: Iterable[str], valid: Iterable[str]) -> UnknownInputError | None:
    """The error for the keys not in ``valid`` (with a did-you-mean), or ``None``."""
    valid = sorted(valid)
    unknown = sorted(set(keys) - set(valid))
    if not unknown:
        return None
    hints = "".join(did_you_mean(k, valid) for k in unknown)
    return UnknownInputError(f"unknown key(s) {unknown}.{hints} Valid keys: {valid}.")


# ----------------------------------------------------------------- text → value


def to_float(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def to_int(text: str) -> Any:
    try:
        return int(text.strip())
    except ValueError:
        return text


def to_bool(text: str) -> Any:
    return {"true": True, "false": False}.get(text.strip().lower(), text)


def number_or_name(text: str) -> Any:
    """``"he"`` stays a name; ``"0.01"`` becomes a number."""
    value = to_float(text)
    return text.strip() if isinstance(value, str) else value


def comma_list(text: str) -> Any:
    return [part.strip() for part in text.split(",") if part.strip()]


def pairs(text: str) -> list[tuple[str, str]] | None:
    """``"a=1, b.*=he"`` → ``[("a", "1"), ("b.*", "he")]`` (split at commas outside
    brackets and quotes, each part at its first ``=``); ``None`` if a part has no ``=``."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    out = []
    for part in filter(str.strip, parts):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            return None
        out.append((key.strip(), value.strip()))
    return out


def literal(text: str) -> Any:
    """A Python literal as typed (``10``, ``0.1``, ``[1, 2]``, ``'x'``, ``True``), else
    the text itself (``relu``)."""
    import ast

    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def rule_or_mapping(text: str) -> Any:
    """``--variance``'s text: ``he``, ``0.01``, ``pkg.mod:fn``, a declared draw
    ``normal(std=0.02)``, or a mapping written ``"attn.proj=2.0, *=auto"`` (a layer path
    glob or type = its rule)."""
    declared = text.split("(")[0].strip() in ("normal", "trunc_normal")
    found = pairs(text) if "=" in text and not declared else None
    if found is None:
        return number_or_name(text)
    return {key: number_or_name(value) for key, value in found}


def keywords(text: str) -> Any:
    """``--kwargs``'s text: ``"num_classes=10, widths=[64, 32]"`` → a dict of literals."""
    found = pairs(text)
    return text if found is None else {key: literal(value) for key, value in found}


# ----------------------------------------------------------------- validators


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def probability(v: Any) -> Any:
    if not (_is_number(v) and 0 < v < 1):
        raise Rule("a number strictly between 0 and 1")
    return v


def positive(v: Any) -> Any:
    if not (_is_number(v) and v > 0):
        raise Rule("a positive number")
    return v


def seconds(v: Any) -> Any:
    if not (_is_number(v) and v > 0):
        raise Rule("a positive number of seconds")
    return v


def positive_int(v: Any) -> Any:
    if not (_is_int(v) and v >= 1):
        raise Rule("a positive integer")
    return v


def seed(v: Any) -> Any:
    if not (_is_int(v) and v >= 0):
        raise Rule("a non-negative integer")
    return v


def batches(v: Any) -> Any:
    if v is not None and not (_is_int(v) and v >= 1):
        raise Rule("a positive integer (training batches) or None")
    return v


def path_or_none(v: Any) -> Any:
    if v is not None and not isinstance(v, str):
        raise Rule("a path (str) to mnist.npz or IDX files, or None")
    return v


def flag(v: Any) -> Any:
    if not isinstance(v, bool):
        raise Rule("true or false")
    return v


def choice(values: Callable[[], Iterable[str]], *, none: bool = True) -> Callable[[Any], Any]:
    """A validator: one of ``values()`` (looked up when a value is checked), or None."""

    def check(v: Any) -> Any:
        valid = list(values())
        if (v is None and none) or (isinstance(v, str) and v in valid):
            return v
        tail = " or None" if none else ""
        raise Rule(f"one of {valid}{tail}", did_you_mean(v, valid))

    return check


def text_spec(v: Any) -> Any:
    if not isinstance(v, str) or not v.strip():
        raise Rule('a SPEC: "module:attr" or "path/file.py:attr" (or a Keras name)')
    return v.strip()


def is_spec(v: Any) -> bool:
    """Whether ``v`` reads as ``module:attr`` or ``path/file.py:attr`` (form only)."""
    if not isinstance(v, str) or v.count(":") < 1:
        return False
    target, _, attr = v.strip().rpartition(":")
    return bool(target.strip()) and attr.strip().isidentifier()


def names(v: Any) -> Any:
    if v is None:
        return v
    if isinstance(v, str):
        v = comma_list(v)
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) and x for x in v):
        raise Rule("a list of names")
    return list(v)


@dataclass(frozen=True)
class Input:
    """One user input. ``fronts`` name where it is taken (see :data:`FRONTS`).

    Attributes:
        name: the input's name (``alpha``); the plugin option ``--initcheck-alpha``, the ini
            key ``initcheck_alpha``, the CLI flag ``--alpha``.
        check: the validator (a value → the value, or raises).
        default: the value when not given (shown in help).
        help: what it means (without the default: :attr:`help_text` adds it).
        fronts: where it is taken.
        kind: ``"setting"`` (a Settings field), ``"declaration"`` or ``"session"``.
        convert: text (command line, ini, a TOML string) → the value, before ``check``.
        metavar: the value's placeholder in help.
        by_front: validators of the fronts that take more than ``check`` (a model's
            ``variance`` takes a per-layer mapping; an initializer's does not).
    """

    name: str
    check: Callable[[Any], Any]
    default: Any
    help: str
    fronts: frozenset[str]
    kind: str = "setting"
    convert: Callable[[str], Any] | None = None
    metavar: str = "X"
    by_front: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def validator(self, front: str | None = None) -> Callable[[Any], Any]:
        """The validator of ``front`` (``None``: the Python API's, i.e. :attr:`check`)."""
        return self.by_front.get(front or "", self.check)

    @property
    def option(self) -> str:
        return "--initcheck-" + self.name.replace("_", "-")

    @property
    def ini(self) -> str:
        return "initcheck_" + self.name

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_flag(self) -> bool:
        return self.check is flag

    @property
    def default_text(self) -> str:
        d = self.default
        if isinstance(d, float):
            return f"{d:g}"
        if d is None or d == ():
            return "none"
        return str(d).lower() if isinstance(d, bool) else str(d)

    @property
    def help_text(self) -> str:
        """The help with the default (left out when it is none: the help says why)."""
        return self.help if self.default is None else f"{self.help} (default: {self.default_text})"


def checked(inp: Input, value: Any, raw: Any, front: str | None = None) -> Any:
    try:
        return inp.validator(front)(value)
    except Rule as rule:
        raise InputError(
            f"`{inp.name}` must be {rule.rule}. Received: {inp.name}={shown(raw)}.{rule.hint}"
            if rule.hint
            else f"`{inp.name}` must be {rule.rule}. Received: {inp.name}={shown(raw)}"
        ) from None
