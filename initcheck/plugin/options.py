"""The plugin's options: ``--initcheck-*`` command-line options and ``initcheck_*`` ini
keys, derived from :data:`initcheck.inputs.TABLE` (one validator, one default and one help
per input), their parsing, and the one :class:`~initcheck.session.SessionOptions` they
become.

Everything is validated in ``pytest_configure`` (a bad value is a ``pytest.UsageError``
echoing it, before any test runs). The statistical settings and the run settings
(``seed``, ``timeout``, ``batches``, ``mnist``) travel in one
:class:`~initcheck.settings.Settings` inside :class:`SessionOptions`, which the fixtures
and the CI gate (:mod:`initcheck.gate`) read from ``config.stash``.

Standard library and pytest only.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from initcheck.inputs import TABLE, Input, InputError, inputs_for, parse_text, text_parser
from initcheck.output import FORMATS, add_output_options
from initcheck.session import (
    DEFAULT_MAX_EXAMPLES,
    SessionOptions,
)
from initcheck.settings import Settings


@dataclass(frozen=True)
class _Setting:
    """One input of the table as a ``--initcheck-*`` option and an ``initcheck_*`` ini key."""

    input: Input

    @property
    def field(self) -> str:
        return self.input.name

    @property
    def option(self) -> str:
        return self.input.option

    @property
    def dest(self) -> str:
        return "initcheck_" + self.input.name

    @property
    def ini(self) -> str:
        return self.input.ini

    @property
    def parse(self) -> Callable[[str], Any]:
        return text_parser(self.input.name, "option")


def _settings() -> tuple[_Setting, ...]:
    """The table's settings the plugin takes, as options and ini keys."""
    return tuple(_Setting(i) for i in inputs_for("option", "setting"))


#: The :class:`~initcheck.settings.Settings` fields taken as options and ini keys (at import).
SETTINGS: tuple[_Setting, ...] = _settings()
BATCHES = _Setting(TABLE["batches"])


# ----------------------------------------------------------------- registration


def _add(parser: pytest.Parser, group: Any, inp: Input) -> None:
    ini = "ini" in inp.fronts
    if "option" in inp.fronts:
        group.addoption(
            inp.option,
            dest="initcheck_" + inp.name,
            type=text_parser(inp.name, "option"),
            metavar=inp.metavar,
            default=None,
            help=inp.help_text + (f"; ini: {inp.ini}" if ini else ""),
        )
    if ini:
        parser.addini(inp.ini, type="string", default="", help=f"initcheck: {inp.help_text}")


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--initcheck-*`` options and ``initcheck_*`` ini keys of the table.

    Args:
        parser: pytest's parser (from ``pytest_addoption``).
    """
    group = parser.getgroup("initcheck", "initcheck: weight-initializer checks")
    for inp in TABLE.values():
        if inp.name == "target":  # the gate's target, given on the command line
            group.addoption(
                "--initcheck",
                dest="initcheck_specs",
                action="append",
                type=text_parser("target", "option"),
                default=[],
                metavar="SPEC",
                help="gate this initializer (Keras name, module:attr or path/file.py:attr); "
                "repeatable; adds items initcheck::SPEC::PROPERTY",
            )
        elif {"option", "ini"} & inp.fronts:
            _add(parser, group, inp)
    add_output_options(group.addoption, "initcheck-", dest="initcheck_")


# ----------------------------------------------------------------- the session's options


STASH_KEY = pytest.StashKey[SessionOptions]()


def session_options(config: pytest.Config) -> SessionOptions:
    """The session's options (stored by ``pytest_configure``).

    Args:
        config: the pytest config.

    Returns:
        The :class:`SessionOptions` of this session.
    """
    return config.stash[STASH_KEY]


def _value(config: pytest.Config, inp: Input) -> Any:
    """The option's value if given, else the ini value parsed (UsageError echoing it)."""
    value = config.getoption("initcheck_" + inp.name) if "option" in inp.fronts else None
    if value is not None or "ini" not in inp.fronts:
        return value
    raw = str(config.getini(inp.ini) or "").strip()
    if not raw:
        return None
    try:
        return parse_text(inp.name, raw, "ini")
    except InputError as exc:
        raise pytest.UsageError(f"initcheck: ini setting {inp.ini} = {raw!r}: {exc}") from None


def _output_path(config: pytest.Config, name: str) -> Path | None:
    """Where the plugin writes format ``name`` (``--initcheck-NAME``): a bare flag's
    default under the rootdir, else the path from the invocation directory."""
    value = config.getoption("initcheck_" + name, None)
    if value is None:
        return None
    if value == FORMATS[name].default:
        return Path(config.rootpath, value)
    return Path(config.invocation_params.dir, value)


def _writable(option: str, path: Path | None) -> None:
    """A report path is checked when the session starts, so a run never ends with its
    results lost to a path that cannot be written (a usage error: exit 4)."""
    if path is None:
        return
    problem = ""
    if path.is_dir():
        problem = "it is a directory"
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            problem = f"its folder cannot be made ({exc.strerror or exc})"
        else:
            if not os.access(path.parent, os.W_OK):
                problem = "its folder is not writable"
    if problem:
        raise pytest.UsageError(
            f"initcheck: {option} {str(path)!r} cannot be written: {problem}. "
            "Give a path in a writable folder."
        )


def build_session_options(config: pytest.Config) -> SessionOptions:
    """Read and validate every initcheck option and ini key.

    Args:
        config: the pytest config.

    Returns:
        The session's :class:`SessionOptions`.

    Raises:
        pytest.UsageError: a bad value (the message echoes it).
    """

    values: dict[str, Any] = {}
    for inp in TABLE.values():
        if inp.name != "target" and {"option", "ini"} & inp.fronts:
            value = _value(config, inp)
            if value is not None:
                values[inp.name] = value
    if "mnist" in values:
        values["mnist"] = str(Path(config.invocation_params.dir, values["mnist"]))
    names = {f.name for f in dataclasses.fields(Settings)}
    fields = {k: values.pop(k) for k in list(values) if k in names}
    try:
        settings = Settings().updated(**fields)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"initcheck: invalid settings: {exc}") from None
    outputs = {
        name: path
        for name, f in FORMATS.items()
        if not f.per_test and (path := _output_path(config, name)) is not None
    }
    for name, path in outputs.items():
        _writable(f"--initcheck-{name}", path)
    return SessionOptions(
        settings=settings,
        max_examples=values.pop("max_examples", DEFAULT_MAX_EXAMPLES),
        variance=values.pop("variance", None),
        specs=tuple(config.getoption("initcheck_specs") or ()),
        outputs=outputs,
        summary=values.pop("summary", "auto"),
        extras=values,
    )
