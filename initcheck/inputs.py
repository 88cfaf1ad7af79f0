"""Every user input, declared once: its name, how text becomes its value, its validator,
its default, its help, and the front ends that take it.

Each :class:`Input` of :data:`TABLE` is one setting (a :class:`~initcheck.settings.Settings`
field), one declaration about what is checked (``variance``, ``layout``, ``family`` …) or
one option of the plugin's session (``max_examples``, ``summary``). The front ends are
derived from the table, so they cannot disagree:

- the plugin's ``--initcheck-NAME`` options and ``initcheck_NAME`` ini keys
  (:mod:`initcheck.plugin.options`),
- the keywords of ``@pytest.mark.initcheck(...)`` (:mod:`initcheck.plugin.fixtures`),
- the keys of the gate's ``[tool.initcheck.initializers.NAME]`` and
  ``[tool.initcheck.models.NAME]`` tables (:mod:`initcheck.gate.config`),
- the ``initcheck check|compare|audit`` flags (:mod:`initcheck.cli.parser`),
- and :class:`~initcheck.settings.Settings` itself, whose fields are validated here.

One validator per input and one wording for a bad value in every front end:
``"`alpha` must be a number strictly between 0 and 1. Received: alpha=2"`` (each front
end only says where the value came from); an unknown name or key gets a did-you-mean.

Standard library only at import (the registry, targets and layouts load on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from initcheck.settings import SETTING_INPUTS, Settings
from initcheck.validators import (
    CLI_COMMANDS,
    FRONTS,
    Input,
    InputError,
    Rule,
    UnknownInputError,
    checked,
    choice,
    comma_list,
    did_you_mean,
    flag,
    names,
    number_or_name,
    positive_int,
    text_spec,
    to_bool,
    to_int,
    unknown_keys,
)

__all__ = [
    "CLI_COMMANDS",
    "FRONTS",
    "TABLE",
    "Input",
    "InputError",
    "UnknownInputError",
    "did_you_mean",
    "inputs_for",
    "lookup",
    "names_for",
    "parse_text",
    "settings_of",
    "unknown_keys",
    "validate",
]


# ----------------------------------------------------------------- the table


# ----------------------------------------------------------------- declarations


def _registry_choices(declaration: str) -> Callable[[], tuple[str, ...]]:
    def values() -> tuple[str, ...]:
        from initcheck import registry

        return registry.option_choices(declaration)

    return values


def _frameworks() -> tuple[str, ...]:
    from initcheck.initializers.base import FRAMEWORKS

    return FRAMEWORKS


def _variance(v: Any) -> Any:
    """A target name, number or callable, or ``"auto"`` in any case (model audits)."""
    if v is None:
        return v
    if isinstance(v, str) and v.strip().lower() == "auto":
        return "auto"
    from initcheck.targets import resolve_target

    try:
        resolve_target(v)
    except (TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None
    return v


def _layout(v: Any) -> Any:
    """``"keras"``, ``"torch"``, a KernelLayout, or a mapping from kernel rank to either."""
    if isinstance(v, str):
        return choice(lambda: ("keras", "torch"), none=False)(v)
    from initcheck.fans import as_layout

    try:
        as_layout(v)
    except (TypeError, ValueError) as exc:
        raise Rule(
            "'keras', 'torch', an initcheck.KernelLayout or a mapping from kernel rank to either"
        ) from exc
    return v


def _inputs_spec(v: Any) -> Any:
    if v is None:
        return v
    from initcheck.specs import INPUTS_FORM, SpecError, check_inputs_spec

    try:
        return check_inputs_spec(v)
    except SpecError:
        raise Rule(f'"SPEC" ({INPUTS_FORM})') from None


#: The terminal summary modes of the plugin (``--initcheck-summary``).
SUMMARY_MODES = ("auto", "all", "failed", "none")
#: ``auto`` lists every result up to this many, else only the failed ones.
SUMMARY_AUTO_ROWS = 40


def _summary(v: Any) -> Any:
    return choice(lambda: SUMMARY_MODES, none=False)(v)


def _shapes(v: Any) -> Any:
    if v is None:
        return v
    from initcheck.api import normalize_shapes

    try:
        normalize_shapes(v, "keras")
    except (TypeError, ValueError) as exc:
        raise Rule("kernel shapes (a shape or a list of shapes of ints ≥ 1)") from exc
    return v


_ALL = frozenset(FRONTS)
_GATE = frozenset({"initializers", "models"})
_ONE = frozenset({"initializers", "check", "compare"})


def _d(name: str, check: Callable[[Any], Any], default: Any, help: str, fronts: Any, **kw: Any):
    return Input(name, check, default, help, frozenset(fronts), kind="declaration", **kw)


def _variance_help() -> str:
    from initcheck.targets import NAMED_TARGETS  # standard library only

    return (
        f"declared variance target: {', '.join(NAMED_TARGETS)}, a positive number (a fixed "
        "variance) or a callable (fan_in, fan_out) -> variance; for a model also auto (He "
        "before a ReLU-family activation, else LeCun)"
    )


_DECLARATIONS = (
    _d("target", text_spec, None, "the initializer or model SPEC to gate", _GATE, metavar="SPEC"),
    _d(
        "variance",
        _variance,
        None,
        _variance_help(),
        {"option", "marker", *_GATE, *CLI_COMMANDS},
        convert=number_or_name,
        metavar="TARGET",
    ),
    _d(
        "layout",
        _layout,
        "keras",
        "kernel layout: keras (*kernel, in, out) or torch (out, in, *kernel)",
        {"marker", *_ONE},
        metavar="L",
    ),
    _d("shapes", _shapes, None, "kernel shapes to draw", {"marker", "initializers"}, metavar="S"),
    _d(
        "family",
        choice(_registry_choices("family")),
        None,
        "declared distribution family: adds a Kolmogorov-Smirnov test",
        _ONE,
        metavar="FAMILY",
    ),
    _d(
        "nonlinearity",
        choice(_registry_choices("nonlinearity")),
        None,
        "adds the signal-propagation check through a deep net",
        _ONE,
        metavar="NAME",
    ),
    _d(
        "train",
        flag,
        False,
        "also run the early-training check on MNIST (in numpy; no framework needed)",
        {"initializers", "check"},
        convert=to_bool,
    ),
    _d(
        "deterministic",
        flag,
        False,
        "the initializer is deterministic by design (identity, ZerO)",
        _ONE,
        convert=to_bool,
    ),
    _d(
        "only_shapes",
        flag,
        False,
        "draw only kernels of the ranks of shapes",
        {"initializers"},
        convert=to_bool,
    ),
    _d(
        "framework",
        choice(_frameworks),
        None,
        "how the initializer is called when initcheck "
        "cannot tell from the object: torch (in-place fn(tensor)), jax (fn(key, shape, dtype)), "
        "array (fn(shape, dtype=None))",
        _ONE,
        metavar="F",
    ),
    _d(
        "checks",
        names,
        None,
        "comma-separated checks to run instead of the defaults, e.g. symmetry,variance,dtypes",
        {"check", "compare"},
        convert=comma_list,
        metavar="NAMES",
    ),
    _d(
        "signal",
        flag,
        True,
        "measure the model's own signal (forward and backward one batch)",
        {"models", "audit"},
        convert=to_bool,
    ),
    _d(
        "inputs",
        _inputs_spec,
        None,
        "the signal's batch: module:attr or path/file.py:attr "
        "naming an array, a tensor, a tuple or dict of them (the forward's positional or keyword "
        "inputs) or a zero-arg function returning one (none: built from the "
        "first layer)",
        {"models", "audit"},
        metavar="SPEC2",
    ),
    _d(
        "accept",
        names,
        (),
        "layer types accepted unaudited: their weights no longer make the verdict INCOMPLETE",
        {"models", "audit"},
        metavar="TYPE",
    ),
)
_SESSION = (
    Input(
        "max_examples",
        positive_int,
        8,
        "shapes the gate draws with Hypothesis per initializer",
        frozenset({"option", "ini"}),
        kind="session",
        convert=to_int,
        metavar="N",
    ),
    Input(
        "summary",
        _summary,
        "auto",
        f"terminal summary of initcheck results: all rows, only failed ones, none, or auto "
        f"(all up to {SUMMARY_AUTO_ROWS} results, else failed)",
        frozenset({"option", "ini"}),
        kind="session",
        metavar="MODE",
    ),
)
#: Every input, by name, in the order help lists them.
TABLE: dict[str, Input] = {
    i.name: i
    for i in (
        *SETTING_INPUTS[:-2],
        *_DECLARATIONS[:2],
        *SETTING_INPUTS[-2:],
        *_DECLARATIONS[2:],
        *_SESSION,
    )
}


def lookup(name: str) -> Input:
    """The input called ``name`` (:class:`UnknownInputError` with a did-you-mean)."""
    try:
        return TABLE[name]
    except KeyError:
        raise unknown_keys([name], TABLE) from None


def inputs_for(front: str, kind: str | None = None) -> tuple[Input, ...]:
    """The inputs ``front`` takes (of ``kind``, if given), in table order."""
    return tuple(
        i for i in TABLE.values() if front in i.fronts and (kind is None or i.kind == kind)
    )


def names_for(front: str, kind: str | None = None) -> tuple[str, ...]:
    """The names of :func:`inputs_for`."""
    return tuple(i.name for i in inputs_for(front, kind))


def validate(name: str, raw: Any) -> Any:
    """``raw`` (a Python value) checked by the input's validator.

    Raises:
        InputError: ``"`name` must be … Received: name=raw"``.
    """
    return checked(lookup(name), raw, raw)


def parse_text(name: str, text: str) -> Any:
    """Text from a command line or an ini file → the input's value, validated as
    :func:`validate` does (the error echoes the text as typed)."""
    inp = lookup(name)
    value = inp.convert(text) if inp.convert is not None else text
    return checked(inp, value, text)


def text_parser(name: str) -> Callable[[str], Any]:
    """An argparse ``type=`` (the plugin's options, the CLI's flags): the input's text →
    its value, validated by the table; a bad value is a one-line usage error."""
    import argparse

    def parse(text: str) -> Any:
        try:
            return parse_text(name, text)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


def updates(values: Mapping[str, Any], valid: Iterable[str]) -> dict[str, Any]:
    """``values`` validated, each a key of ``valid`` (UnknownInputError otherwise)."""
    error = unknown_keys(values, valid)
    if error is not None:
        raise error
    return {k: validate(k, v) for k, v in values.items()}


def settings_of(values: Mapping[str, Any], base: Settings | None = None) -> Settings:
    """The :class:`Settings` fields among ``values`` (e.g. ``vars(args)`` of a command
    line; ``None`` values left out) over ``base`` (default: the defaults)."""
    names = {i.name for i in SETTING_INPUTS}
    fields = {k: v for k, v in values.items() if k in names and v is not None}
    return (base or Settings()).updated(**fields)


def markdown() -> str:
    """The table as Markdown (docs/settings.md holds it; ``python -m initcheck.inputs``
    prints it): each input's default, and where it is taken."""

    def code(text: str) -> str:
        return f"`{text}`"

    rows = [
        "| input | default | pytest option / ini key | marker | pyproject table | CLI | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for inp in TABLE.values():
        value = "" if inp.is_flag else f" {inp.metavar}"
        pytest_keys = [code(inp.option + value)] if "option" in inp.fronts else []
        pytest_keys += [code(inp.ini)] if "ini" in inp.fronts else []
        commands = [c for c in CLI_COMMANDS if c in inp.fronts]
        flag = inp.flag if not (inp.is_flag and inp.default) else f"--no-{inp.flag[2:]}"
        cli = f"{code(flag + value)} ({', '.join(commands)})" if commands else "—"
        tables = [t for t in ("initializers", "models") if t in inp.fronts]
        cells = (
            code(inp.name),
            inp.default_text,
            " / ".join(pytest_keys) or "—",
            "yes" if "marker" in inp.fronts else "—",
            ", ".join(tables) or "—",
            cli,
            inp.help.replace("|", "\\|"),
        )
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates docs/settings.md's table
    print(markdown(), end="")
