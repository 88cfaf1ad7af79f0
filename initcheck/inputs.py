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

from collections.abc import Callable, Mapping
from typing import Any

from initcheck.declarations import (
    SUMMARY_AUTO_ROWS,
    accepted,
    frameworks,
    inputs_spec,
    kwargs,
    layout,
    model_variance,
    registry_choices,
    shapes,
    summary,
    variance_rule,
)
from initcheck.settings import SETTING_INPUTS, Settings
from initcheck.targets import NAMED_TARGETS
from initcheck.validators import (
    CLI_COMMANDS,
    FRONTS,
    Input,
    InputError,
    UnknownInputError,
    checked,
    choice,
    comma_list,
    flag,
    keywords,
    names,
    positive_int,
    rule_or_mapping,
    text_spec,
    to_bool,
    to_int,
    unknown_keys,
)

# ----------------------------------------------------------------- the table


_ALL = frozenset(FRONTS)
_GATE = frozenset({"initializers", "models"})
_ONE = frozenset({"initializers", "check", "compare"})


def _d(name: str, check: Callable[[Any], Any], default: Any, help: str, fronts: Any, **kw: Any):
    return Input(name, check, default, help, frozenset(fronts), kind="declaration", **kw)


def _variance_help() -> str:

    return (
        f"declared variance target: {', '.join(NAMED_TARGETS)}, a positive number (a fixed "
        "variance), module:attr naming a callable (fan_in, fan_out) -> variance, or a "
        "declared draw (normal(std=0.02), trunc_normal(std=0.02, at=2)); for a model also "
        "auto (from each weight's measured gain), std in L (its residual blocks) and in "
        "its config's numbers by name (normal(std=initializer_range/sqrt(2*L))), or per "
        "layer, PATH=RULE comma-separated "
        "(attn.proj=2.0,*=auto)"
    )


_DECLARATIONS = (
    _d("target", text_spec, None, "the initializer or model SPEC to gate", _GATE, metavar="SPEC"),
    _d(
        "variance",
        variance_rule,
        None,
        _variance_help(),
        {"option", "marker", *_GATE, *CLI_COMMANDS},
        convert=rule_or_mapping,
        metavar="TARGET",
        by_front={"models": model_variance, "audit": model_variance},
    ),
    _d(
        "layout",
        layout,
        "keras",
        "kernel layout: keras (*kernel, in, out) or torch (out, in, *kernel)",
        {"marker", *_ONE},
        metavar="L",
    ),
    _d("shapes", shapes, None, "kernel shapes to draw", {"marker", "initializers"}, metavar="S"),
    _d(
        "family",
        choice(registry_choices("family")),
        None,
        "declared distribution family: adds a Kolmogorov-Smirnov test",
        _ONE,
        metavar="FAMILY",
    ),
    _d(
        "nonlinearity",
        choice(registry_choices("nonlinearity")),
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
        choice(frameworks),
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
        inputs_spec,
        None,
        "the signal's batch: module:attr or path/file.py:attr "
        "naming an array, a tensor, a tuple or dict of them (the forward's positional or keyword "
        "inputs) or a zero-arg function returning one (none: built from the "
        "first layer)",
        {"models", "audit"},
        metavar="SPEC2",
    ),
    _d(
        "kwargs",
        kwargs,
        None,
        "the factory's arguments (build_model(num_classes=10)): KEY=VALUE, comma-separated",
        {"models", "audit"},
        convert=keywords,
        metavar="K=V",
    ),
    _d(
        "accept",
        accepted,
        (),
        "weights you vouch for, by layer path glob or layer type, each with an optional "
        "reason (PATH=REASON): not audited ones no longer make the verdict INCOMPLETE, and "
        "failing ones are shown as accepted, with the reason",
        {"models", "audit"},
        convert=lambda text: text,
        metavar="PATH[=REASON]",
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
        summary,
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
    if name not in TABLE:
        raise UnknownInputError(str(unknown_keys([name], TABLE)))
    return TABLE[name]


def inputs_for(front: str, kind: str | None = None) -> tuple[Input, ...]:
    """The inputs ``front`` takes (of ``kind``, if given), in table order."""
    return tuple(
        i for i in TABLE.values() if front in i.fronts and (kind is None or i.kind == kind)
    )


def names_for(front: str, kind: str | None = None) -> tuple[str, ...]:
    """The names of :func:`inputs_for`."""
    return tuple(i.name for i in inputs_for(front, kind))


def validate(name: str, raw: Any, front: str | None = None) -> Any:
    """``raw`` (a Python value) checked by the input's validator for ``front`` (``None``:
    the Python API's); returns the value as the checks use it.

    Raises:
        InputError: ``"`name` must be … Received: name=raw"``.
    """
    return checked(lookup(name), raw, raw, front)


def parse_text(name: str, text: str, front: str | None = None) -> Any:
    """Text from a command line, an ini file or a TOML string → the input's value,
    validated as :func:`validate` does (the error echoes the text as typed)."""
    inp = lookup(name)
    value = inp.convert(text) if inp.convert is not None else text
    return checked(inp, value, text, front)


def read(name: str, value: Any, front: str) -> Any:
    """A value read from a file (a pyproject table): a string is parsed as text, so
    ``alpha = "1e-3"`` is ``alpha = 1e-3``; anything else is validated as it is."""
    return (
        parse_text(name, value, front) if isinstance(value, str) else validate(name, value, front)
    )


def text_parser(name: str, front: str | None = None) -> Callable[[str], Any]:
    """An argparse ``type=`` (the plugin's options, the CLI's flags): the input's text →
    its value, validated by the table for ``front``; a bad value is a one-line usage
    error."""
    import argparse

    def parse(text: str) -> Any:
        try:
            return parse_text(name, text, front)
        except InputError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = name
    return parse


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
