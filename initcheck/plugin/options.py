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
from initcheck.session import (
    DEFAULT_MAX_EXAMPLES,
    SUMMARY_AUTO_ROWS,
    SUMMARY_MODES,
    SessionOptions,
)

__all__ = [
    "BATCHES",
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_REPORT",
    "SETTINGS",
    "STASH_KEY",
    "SUMMARY_AUTO_ROWS",
    "SUMMARY_MODES",
    "SessionOptions",
    "add_options",
    "build_session_options",
    "session_options",
    "text_parser",
]

DEFAULT_REPORT = Path("reports") / "initcheck.html"


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
    group.addoption(
        "--initcheck-json",
        dest="initcheck_json",
        metavar="PATH",
        default=None,
        help="write every check result (and the settings) to PATH as JSON",
    )
    group.addoption(
        "--initcheck-report",
        dest="initcheck_report",
        metavar="PATH",
        nargs="?",
        const=str(DEFAULT_REPORT),
        default=None,
        help=f"write the HTML report to PATH (default {DEFAULT_REPORT} under the rootdir; "
        "write --initcheck-report=PATH when test paths follow)",
    )


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


def _report_path(config: pytest.Config, value: str | None) -> Path | None:
    if value is None:
        return None
    if value == str(DEFAULT_REPORT):
        return Path(config.rootpath, DEFAULT_REPORT)
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
    from initcheck.settings import Settings

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
    json_path = config.getoption("initcheck_json")
    json_file = Path(config.invocation_params.dir, json_path) if json_path else None
    report_file = _report_path(config, config.getoption("initcheck_report"))
    _writable("--initcheck-json", json_file)
    _writable("--initcheck-report", report_file)
    return SessionOptions(
        settings=settings,
        max_examples=values.pop("max_examples", DEFAULT_MAX_EXAMPLES),
        variance=values.pop("variance", None),
        specs=tuple(config.getoption("initcheck_specs") or ()),
        json_path=json_file,
        report_path=report_file,
        summary=values.pop("summary", "auto"),
        extras=values,
    )
