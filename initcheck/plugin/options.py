"""The plugin's options: ``--initcheck-*`` command-line options, ``initcheck_*`` ini keys,
their parsing and validation, and the one :class:`SessionOptions` object they become.

Everything is validated in ``pytest_configure`` (a bad value is a ``pytest.UsageError``
echoing it, before any test runs). The statistical settings and the run settings
(``seed``, ``timeout``, ``batches``, ``mnist``) travel in one
:class:`~initcheck.settings.Settings` inside :class:`SessionOptions`, which the fixtures
and the CI gate (:mod:`initcheck.gate`) read from ``config.stash``.

Standard library and pytest only.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from initcheck.settings import Settings

__all__ = [
    "BATCHES",
    "DEFAULT_MAX_EXAMPLES",
    "DEFAULT_REPORT",
    "SETTINGS",
    "SUMMARY_AUTO_ROWS",
    "SUMMARY_MODES",
    "SessionOptions",
    "add_options",
    "build_session_options",
    "positive_float",
    "positive_int",
    "probability",
    "seed_value",
    "session_options",
    "spec_text",
]

DEFAULT_REPORT = Path("reports") / "initcheck.html"
DEFAULT_MAX_EXAMPLES = 8
SUMMARY_MODES = ("auto", "all", "failed", "none")
SUMMARY_AUTO_ROWS = 40


# ----------------------------------------------------------------- option value types


def _number(text: str) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def probability(text: str) -> float:
    """An option value strictly between 0 and 1 (``alpha``, ``power``)."""
    value = _number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number strictly between 0 and 1")
    return value


def positive_float(text: str) -> float:
    """A positive number (tolerances, seconds)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def _integer(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def seed_value(text: str) -> int:
    """A seed, validated by :func:`~initcheck.settings.parse_seed` (the CLI's wording)."""
    from initcheck.settings import parse_seed

    try:
        return parse_seed(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(text: str) -> int:
    """An integer ≥ 1 (batches, examples)."""
    value = _integer(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def spec_text(text: str) -> str:
    """A non-empty initializer SPEC (checked for importability at collection)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an initializer SPEC (a Keras name like he_normal, "
            "module:attr or path/file.py:attr)"
        )
    return text.strip()


def _summary_mode(text: str) -> str:
    if text not in SUMMARY_MODES:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(SUMMARY_MODES)}")
    return text


@dataclass(frozen=True)
class _Setting:
    """One :class:`Settings` field: a ``--initcheck-*`` option and an ``initcheck_*`` ini key."""

    field: str
    parse: Callable[[str], Any]
    metavar: str
    help: str

    @property
    def option(self) -> str:
        return "--initcheck-" + self.field.replace("_", "-")

    @property
    def dest(self) -> str:
        return "initcheck_" + self.field

    @property
    def ini(self) -> str:
        return "initcheck_" + self.field


SETTINGS: tuple[_Setting, ...] = (
    _Setting("alpha", probability, "P", "false-failure rate per decision (default 1e-4)"),
    _Setting("power", probability, "P", "power against a *_detect-sized error (default 0.999)"),
    _Setting("std_tolerance", positive_float, "X", "std within a factor 1+X passes (0.05)"),
    _Setting("std_detect", positive_float, "X", "std off by a factor 1+X must fail (0.10)"),
    _Setting("shape_detect", positive_float, "X", "scaling law: per-shape error to detect (0.2)"),
    _Setting("mean_tolerance", positive_float, "X", "|mean| <= X target std passes (0.05)"),
    _Setting("mean_detect", positive_float, "X", "|mean| >= X target std must fail (0.10)"),
    _Setting("max_values", positive_int, "N", "cap on weights drawn per check (2**22)"),
    _Setting("max_draws", positive_int, "N", "cap on initializer calls per check (5000)"),
    _Setting("seed", seed_value, "N", "seed all draws derive from (default 0)"),
    _Setting("timeout", positive_float, "SECONDS", "max seconds per initializer call (60)"),
)
#: Registered after ``--initcheck-mnist`` (where ``--help`` lists it).
BATCHES = _Setting("batches", positive_int, "N", "training batches of the MNIST check")


# ----------------------------------------------------------------- registration


def _add_setting(parser: pytest.Parser, group: Any, s: _Setting) -> None:
    group.addoption(
        s.option,
        dest=s.dest,
        type=s.parse,
        metavar=s.metavar,
        default=None,
        help=f"{s.help}; ini: {s.ini}",
    )
    parser.addini(s.ini, type="string", default="", help=f"initcheck: {s.help}")


def add_options(parser: pytest.Parser) -> None:
    """Register the ``--initcheck-*`` options and ``initcheck_*`` ini keys.

    Args:
        parser: pytest's parser (from ``pytest_addoption``).
    """
    group = parser.getgroup("initcheck", "initcheck: weight-initializer checks")
    for s in SETTINGS:
        _add_setting(parser, group, s)
    group.addoption(
        "--initcheck",
        dest="initcheck_specs",
        action="append",
        type=spec_text,
        default=[],
        metavar="SPEC",
        help="gate this initializer (Keras name, module:attr or path/file.py:attr); "
        "repeatable; adds items initcheck::SPEC::PROPERTY",
    )
    group.addoption(
        "--initcheck-variance",
        dest="initcheck_variance",
        metavar="TARGET",
        default=None,
        help="variance target of the --initcheck initializers: lecun, glorot, he or a number",
    )
    group.addoption(
        "--initcheck-mnist",
        dest="initcheck_mnist",
        metavar="PATH",
        default=None,
        help="MNIST dataset (mnist.npz or IDX directory) for the training checks and the "
        "mnist fixture; ini: initcheck_mnist",
    )
    _add_setting(parser, group, BATCHES)
    group.addoption(
        "--initcheck-max-examples",
        dest="initcheck_max_examples",
        type=positive_int,
        metavar="N",
        default=None,
        help=f"shapes the gate draws with Hypothesis per initializer ({DEFAULT_MAX_EXAMPLES}); "
        "ini: initcheck_max_examples",
    )
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
    group.addoption(
        "--initcheck-summary",
        dest="initcheck_summary",
        type=_summary_mode,
        default=None,
        help="terminal summary of initcheck results: 'all' rows, only 'failed' ones, or "
        f"'none'; default 'auto' (all up to {SUMMARY_AUTO_ROWS} results, else failed); "
        "ini: initcheck_summary",
    )
    parser.addini(
        "initcheck_summary",
        type="string",
        default="",
        help="initcheck: terminal summary: auto | all | failed | none",
    )
    parser.addini("initcheck_mnist", type="string", default="", help="initcheck: MNIST path")
    parser.addini(
        "initcheck_max_examples",
        type="string",
        default="",
        help="initcheck: shapes the gate draws with Hypothesis per initializer",
    )


# ----------------------------------------------------------------- the session's options


@dataclass(frozen=True)
class SessionOptions:
    """Everything the plugin was told for this session, validated.

    Attributes:
        settings: the checks' settings (statistics, ``seed``, ``timeout``, ``batches``,
            ``mnist`` as an absolute path or ``None``).
        max_examples: shapes the gate draws with Hypothesis per initializer.
        variance: ``--initcheck-variance`` (a target name, or a number), or ``None``.
        specs: the ``--initcheck SPEC`` initializers to gate.
        json_path: where ``--initcheck-json`` writes, or ``None``.
        report_path: where ``--initcheck-report`` writes, or ``None``.
        summary: the terminal summary mode (one of :data:`SUMMARY_MODES`).
    """

    settings: Settings
    max_examples: int = DEFAULT_MAX_EXAMPLES
    variance: str | float | None = None
    specs: tuple[str, ...] = ()
    json_path: Path | None = None
    report_path: Path | None = None
    summary: str = "auto"

    def settings_dict(self) -> dict[str, Any]:
        """The settings as written to ``--initcheck-json`` and the HTML report."""
        return {**self.settings.to_dict(), "max_examples": self.max_examples}


STASH_KEY = pytest.StashKey[SessionOptions]()


def session_options(config: pytest.Config) -> SessionOptions:
    """The session's options (stored by ``pytest_configure``).

    Args:
        config: the pytest config.

    Returns:
        The :class:`SessionOptions` of this session.
    """
    return config.stash[STASH_KEY]


def _value(config: pytest.Config, dest: str, ini: str, parse: Callable[[str], Any]) -> Any:
    """The option's value if given, else the ini value parsed (UsageError echoing it)."""
    value = config.getoption(dest)
    if value is not None:
        return value
    raw = str(config.getini(ini) or "").strip()
    if not raw:
        return None
    try:
        return parse(raw)
    except argparse.ArgumentTypeError as exc:
        raise pytest.UsageError(f"initcheck: ini setting {ini} = {raw!r}: {exc}") from None


def _variance_value(text: str) -> str | float:
    """``"he"`` stays a name; ``"0.01"`` becomes a number."""
    try:
        return float(text)
    except ValueError:
        return text


def _report_path(config: pytest.Config, value: str | None) -> Path | None:
    if value is None:
        return None
    if value == str(DEFAULT_REPORT):
        return Path(config.rootpath, DEFAULT_REPORT)
    return Path(config.invocation_params.dir, value)


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

    fields = {}
    for s in (*SETTINGS, BATCHES):
        value = _value(config, s.dest, s.ini, s.parse)
        if value is not None:
            fields[s.field] = value
    mnist = config.getoption("initcheck_mnist") or str(config.getini("initcheck_mnist") or "")
    if mnist:
        fields["mnist"] = str(Path(config.invocation_params.dir, mnist))
    try:
        settings = Settings.of(**fields)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"initcheck: invalid settings: {exc}") from None
    variance: str | float | None = None
    raw_variance = config.getoption("initcheck_variance")
    if raw_variance is not None:
        from initcheck.targets import resolve_target

        variance = _variance_value(raw_variance)
        try:
            resolve_target(variance)
        except (TypeError, ValueError) as exc:
            raise pytest.UsageError(
                f"initcheck: --initcheck-variance {raw_variance!r}: {exc}"
            ) from None
    max_examples = _value(config, "initcheck_max_examples", "initcheck_max_examples", positive_int)
    json_path = config.getoption("initcheck_json")
    summary = _value(config, "initcheck_summary", "initcheck_summary", _summary_mode)
    return SessionOptions(
        settings=settings,
        max_examples=max_examples or DEFAULT_MAX_EXAMPLES,
        variance=variance,
        specs=tuple(config.getoption("initcheck_specs") or ()),
        json_path=Path(config.invocation_params.dir, json_path) if json_path else None,
        report_path=_report_path(config, config.getoption("initcheck_report")),
        summary=summary or "auto",
    )
