"""initcheck's pytest plugin (``pytest11`` entry point ``initcheck``).

Loaded in *every* pytest run of every user who installed initcheck, so this module imports
only the standard library and pytest: numpy, scipy, Hypothesis, TensorFlow and Jinja2
load on first use. ``pytest -p no:initcheck`` disables the plugin.

What it adds:

- the ``--initcheck-*`` options and the matching ``initcheck_*`` ini settings;
- the ``initcheck`` fixture (a checker bound to the session's settings and the test's
  ``@pytest.mark.initcheck(...)``), the session-scoped ``mnist`` fixture and the marker;
- the zero-code CI gate (:mod:`initcheck.gate`): ``[tool.initcheck.initializers.NAME]``
  tables and ``--initcheck SPEC`` become test items ``initcheck::NAME::PROPERTY``;
- result transport: every :class:`~initcheck.results.CheckResult` produced during a test
  (gate items, ``initcheck.check``/``assert_*`` calls in the user's tests) is attached to
  the test report as plain JSON data (``report.initcheck``), which pytest-xdist carries to
  the controller; there it feeds the terminal summary, ``--initcheck-json``,
  ``--initcheck-report`` and pytest-html extras. Only the controller writes files.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from initcheck.results import CheckResult, Report
    from initcheck.settings import Settings

__all__ = ["REPORT_KEY", "Checker"]

#: Name of the report attribute carrying the records (a list of ``CheckResult.to_dict()``).
REPORT_KEY = "initcheck"
DEFAULT_REPORT = Path("reports") / "initcheck.html"
#: Keyword arguments of ``@pytest.mark.initcheck`` that are not :class:`Settings` fields.
MARKER_EXTRAS = ("variance", "layout", "shapes", "batches")
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


def non_negative_int(text: str) -> int:
    """An integer ≥ 0 (seeds)."""
    value = _integer(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a non-negative integer")
    return value


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


@dataclass(frozen=True)
class _Setting:
    """One statistical setting: a ``--initcheck-*`` option and an ``initcheck_*`` ini key."""

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
    _Setting("seed", non_negative_int, "N", "seed all draws derive from (default 0)"),
    _Setting("timeout", positive_float, "SECONDS", "max seconds per initializer call (60)"),
)


# ----------------------------------------------------------------- registration


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("initcheck", "initcheck: weight-initializer checks")
    for s in SETTINGS:
        group.addoption(
            s.option,
            dest=s.dest,
            type=s.parse,
            metavar=s.metavar,
            default=None,
            help=f"{s.help}; ini: {s.ini}",
        )
        parser.addini(s.ini, type="string", default="", help=f"initcheck: {s.help}")
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
        help="MNIST dataset (mnist.npz or IDX directory) for training checks; "
        "sets $INITCHECK_MNIST; ini: initcheck_mnist",
    )
    group.addoption(
        "--initcheck-batches",
        dest="initcheck_batches",
        type=positive_int,
        metavar="N",
        default=None,
        help="training batches of the MNIST check; ini: initcheck_batches",
    )
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
        choices=SUMMARY_MODES,
        default=None,
        help="terminal summary of initcheck results: 'all' rows, only 'failed' ones, or "
        f"'none'; default 'auto' (all up to {SUMMARY_AUTO_ROWS} results, else failed); "
        "ini: initcheck_summary",
    )
    parser.addini(
        "initcheck_summary",
        type="string",
        default="auto",
        help="initcheck: terminal summary: auto | all | failed | none",
    )
    parser.addini("initcheck_mnist", type="string", default="", help="initcheck: MNIST path")
    parser.addini(
        "initcheck_batches", type="string", default="", help="initcheck: MNIST training batches"
    )
    parser.addini(
        "initcheck_max_examples",
        type="string",
        default="",
        help="initcheck: shapes the gate draws with Hypothesis per initializer",
    )


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


@dataclass
class _State:
    """Session-wide state of the plugin (on ``config.stash``)."""

    settings: Settings
    overrides: dict[str, Any]
    mnist: str | None
    batches: int | None
    max_examples: int
    variance: str | None
    json_path: Path | None
    report_path: Path | None
    records: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    written: list[tuple[str, Path]] = field(default_factory=list)


STATE_KEY = pytest.StashKey[_State]()
PHASE_KEY = pytest.StashKey[dict[str, list["CheckResult"]]]()


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def _build_state(config: pytest.Config) -> _State:
    from initcheck.settings import Settings

    overrides = {}
    for s in SETTINGS:
        value = _value(config, s.dest, s.ini, s.parse)
        if value is not None:
            overrides[s.field] = value
    batches = _value(config, "initcheck_batches", "initcheck_batches", positive_int)
    try:
        settings = Settings.of(**overrides, batches=batches)
    except (TypeError, ValueError) as exc:
        raise pytest.UsageError(f"initcheck: invalid settings: {exc}") from None
    variance = config.getoption("initcheck_variance")
    if variance is not None:
        from initcheck.targets import resolve_target

        try:
            resolve_target(_variance_value(variance))
        except (TypeError, ValueError) as exc:
            raise pytest.UsageError(
                f"initcheck: --initcheck-variance {variance!r}: {exc}"
            ) from None
    mnist = config.getoption("initcheck_mnist") or str(config.getini("initcheck_mnist") or "")
    if mnist:
        mnist = str(Path(config.invocation_params.dir, mnist))
        os.environ["INITCHECK_MNIST"] = mnist
    max_examples = _value(config, "initcheck_max_examples", "initcheck_max_examples", positive_int)
    json_path = config.getoption("initcheck_json")
    report_path = config.getoption("initcheck_report")
    return _State(
        settings=settings,
        overrides=overrides,
        mnist=mnist or None,
        batches=batches,
        max_examples=max_examples or DEFAULT_MAX_EXAMPLES,
        variance=variance,
        json_path=Path(config.invocation_params.dir, json_path) if json_path else None,
        report_path=_report_path(config, report_path),
    )


def _report_path(config: pytest.Config, value: str | None) -> Path | None:
    if value is None:
        return None
    if value == str(DEFAULT_REPORT):
        return Path(config.rootpath, DEFAULT_REPORT)
    return Path(config.invocation_params.dir, value)


def _variance_value(text: str) -> Any:
    """``"he"`` stays a name; ``"0.01"`` becomes a number."""
    try:
        return float(text)
    except ValueError:
        return text


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "initcheck(**settings): settings of initcheck's checks in this test (alpha, "
        "std_tolerance, seed, ... and variance, layout, shapes, batches), used by the "
        "`initcheck` fixture. Example: @pytest.mark.initcheck(alpha=1e-3, variance='he')",
    )
    config.stash[STATE_KEY] = _build_state(config)
    config.pluginmanager.register(ResultsPlugin(config), "initcheck-results")


def _state(config: pytest.Config) -> _State:
    return config.stash[STATE_KEY]


# ----------------------------------------------------------------- the gate


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Prepend the gate's items (before -k/-m deselection, identical on every worker)."""
    from initcheck import gate

    sources = gate.gate_sources(config)
    if not sources:
        return
    items[:0] = gate.collect_gate(session, sources, _state(config))


# ----------------------------------------------------------------- marker and fixtures


def marker_options(node: pytest.Item) -> dict[str, Any]:
    """The merged kwargs of the ``initcheck`` markers on ``node`` (closest wins), validated.

    Raises:
        pytest.fail.Exception: positional args or an unknown keyword (names the valid ones).
    """
    from dataclasses import fields

    from initcheck.settings import Settings

    valid = {f.name for f in fields(Settings)} | set(MARKER_EXTRAS)
    merged: dict[str, Any] = {}
    for marker in reversed(list(node.iter_markers("initcheck"))):
        if marker.args:
            pytest.fail(
                f"@pytest.mark.initcheck takes keyword arguments only. Received: args="
                f"{marker.args!r}",
                pytrace=False,
            )
        unknown = sorted(set(marker.kwargs) - valid)
        if unknown:
            pytest.fail(
                f"@pytest.mark.initcheck can't have keyword argument(s) {unknown}. "
                f"Valid: {sorted(valid)}",
                pytrace=False,
            )
        merged.update(marker.kwargs)
    return merged


def _validate_marker(item: pytest.Item) -> None:
    if item.get_closest_marker("initcheck") is None:
        return
    state = _state(item.config)
    options = marker_options(item)
    settings_kwargs = {k: v for k, v in options.items() if k not in MARKER_EXTRAS}
    try:
        state.settings.of(state.settings, **settings_kwargs)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"@pytest.mark.initcheck: {exc}", pytrace=False)


class Checker:
    """``initcheck``'s checks bound to the session's settings and the test's marker.

    Every method forwards to the library function of the same name with the bound
    settings (``alpha``, tolerances, ``seed`` …) and defaults (``variance``, ``layout``,
    ``shapes``); keyword arguments of the call win.
    """

    def __init__(self, settings: Settings, defaults: dict[str, Any], batches: int | None):
        self.settings = settings
        self.defaults = dict(defaults)
        self.batches = batches

    def __repr__(self) -> str:
        return f"Checker(settings={self.settings!r}, defaults={self.defaults!r})"

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**self.settings.to_dict(), **kwargs}

    def check(self, init: Any, **kwargs: Any) -> Report:
        """:func:`initcheck.check` with the bound settings."""
        from initcheck.api import check

        for key in ("variance", "layout", "shapes"):
            if key in self.defaults:
                kwargs.setdefault(key, self.defaults[key])
        names = _fields()
        settings = self.settings.of(
            self.settings, **{k: kwargs.pop(k) for k in list(kwargs) if k in names}
        )
        kwargs.setdefault("seed", settings.seed)
        return check(init, settings=settings, **kwargs)

    def assert_breaks_symmetry(self, init: Any, shape: Any = None, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_breaks_symmetry` with the bound settings."""
        from initcheck.assertions import assert_breaks_symmetry

        return assert_breaks_symmetry(init, self._shape(shape), **self._call(kwargs))

    def assert_zero_centered(self, init: Any, shape: Any = None, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_zero_centered` with the bound settings."""
        from initcheck.assertions import assert_zero_centered

        if "variance" in self.defaults:
            kwargs.setdefault("variance", self.defaults["variance"])
        return assert_zero_centered(init, self._shape(shape), **self._call(kwargs))

    def assert_variance(
        self, init: Any, target: Any = None, shape: Any = None, **kwargs: Any
    ) -> CheckResult:
        """:func:`initcheck.assert_variance` (``target`` defaults to the marker's
        ``variance``)."""
        from initcheck.assertions import assert_variance

        target = self.defaults.get("variance") if target is None else target
        if target is None:
            raise TypeError(
                "assert_variance needs a target: pass one (e.g. 'he') or set "
                "@pytest.mark.initcheck(variance=...)."
            )
        return assert_variance(init, target, self._shape(shape), **self._call(kwargs))

    def assert_variance_scaling(self, init: Any, target: Any = None, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_variance_scaling` with the bound settings."""
        from initcheck.assertions import assert_variance_scaling

        target = self.defaults.get("variance") if target is None else target
        if "shapes" in self.defaults:
            kwargs.setdefault("shapes", self.defaults["shapes"])
        return assert_variance_scaling(init, target, **self._call(kwargs))

    def assert_loss_decreases(self, init: Any, **kwargs: Any) -> CheckResult:
        """:func:`initcheck.assert_loss_decreases` with the session's batches and seed."""
        from initcheck.assertions import assert_loss_decreases

        batches = self.defaults.get("batches", self.batches)
        if batches is not None:
            kwargs.setdefault("batches", batches)
        kwargs.setdefault("seed", self.settings.seed)
        return assert_loss_decreases(init, **kwargs)

    def _shape(self, shape: Any) -> Any:
        return self.defaults.get("shapes") if shape is None else shape

    def _call(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if "layout" in self.defaults:
            kwargs.setdefault("layout", self.defaults["layout"])
        return self._options(kwargs)


def _fields() -> set[str]:
    from dataclasses import fields

    from initcheck.settings import Settings

    return {f.name for f in fields(Settings)}


@pytest.fixture
def initcheck(request: pytest.FixtureRequest) -> Checker:
    """A checker bound to the session's initcheck settings (``--initcheck-*`` options,
    ``initcheck_*`` ini keys) and this test's ``@pytest.mark.initcheck(...)`` kwargs.
    Example: ``initcheck.assert_variance(my_he, "he", shape=(784, 256))`` (more: -v).

    Methods: ``check``, ``assert_breaks_symmetry``, ``assert_zero_centered``,
    ``assert_variance``, ``assert_variance_scaling``, ``assert_loss_decreases``; each
    result appears in the terminal summary, ``--initcheck-json`` and the HTML report.

    .. code-block:: python

        @pytest.mark.initcheck(variance="he", alpha=1e-3)
        def test_my_he(initcheck):
            initcheck.assert_variance(my_he, shape=(784, 256))
            initcheck.assert_variance_scaling(my_he, shapes=[(3, 5), (256, 128)])
            assert initcheck.check(my_he).passed
    """
    state = _state(request.config)
    options = marker_options(request.node) if isinstance(request.node, pytest.Item) else {}
    extras = {k: options.pop(k) for k in list(options) if k in MARKER_EXTRAS}
    try:
        settings = state.settings.of(state.settings, **options)
    except (TypeError, ValueError) as exc:
        pytest.fail(f"@pytest.mark.initcheck: {exc}", pytrace=False)
    return Checker(settings, extras, state.batches)


@pytest.fixture(scope="session")
def mnist(pytestconfig: pytest.Config) -> Any:
    """The MNIST dataset (``initcheck.mnist.load_mnist``), loaded once per session (per
    xdist worker) from ``--initcheck-mnist PATH`` / ``initcheck_mnist`` /
    ``$INITCHECK_MNIST``, else the bundled subset. Example:
    ``def test_data(mnist): assert mnist.x_train.shape[1:] == (784,)``.
    """
    from initcheck.mnist import load_mnist

    return load_mnist(_state(pytestconfig).mnist)


# ----------------------------------------------------------------- recording results


def _recording(item: pytest.Item, when: str) -> Iterator[None]:
    from initcheck.recording import recording

    with recording(innermost=True) as records:
        try:
            return (yield)
        finally:  # also when the test fails: a failed assertion's result is the point
            if records:
                item.stash.setdefault(PHASE_KEY, {})[when] = list(records)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _validate_marker(item)
    return (yield from _recording(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    return (yield from _recording(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    return (yield from _recording(item, "teardown"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    phases = item.stash.get(PHASE_KEY, None)
    results = phases.pop(call.when, None) if phases else None
    if results:
        records = [r.to_dict() for r in results]
        setattr(report, REPORT_KEY, records)
        _add_html_extras(item, report, records)
    return report


def _add_html_extras(item: pytest.Item, report: Any, records: list[dict[str, Any]]) -> None:
    """pytest-html extras (a table and the figures) when pytest-html is active."""
    html_plugin = item.config.pluginmanager.getplugin("html")
    if html_plugin is None or item.config.getoption("htmlpath", None) is None:
        return
    from html import escape

    extras_mod = html_plugin.extras if hasattr(html_plugin, "extras") else None
    if extras_mod is None:  # pragma: no cover - pytest-html < 4
        import pytest_html.extras as extras_mod
    rows = "".join(
        f"<tr><td>{escape(r['initializer'])}</td><td>{escape(r['check'])}</td>"
        f"<td>{'passed' if r['passed'] else 'FAILED'}</td><td>{_fmt(r.get('statistic'))}</td>"
        f"<td>{_fmt(r.get('target'))}</td><td>{escape(r['message'])}</td></tr>"
        for r in records
    )
    extras = list(getattr(report, "extras", []))
    extras.append(
        extras_mod.html(
            "<table><tr><th>initializer</th><th>property</th><th>verdict</th>"
            f"<th>measured</th><th>target</th><th>message</th></tr>{rows}</table>"
        )
    )
    from initcheck.report import result_figures

    for name, svg in result_figures(records):
        extras.append(
            extras_mod.html(f"<figure>{svg}<figcaption>{escape(name)}</figcaption></figure>")
        )
    report.extras = extras


# ----------------------------------------------------------------- outputs (controller)


def _fmt(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.4g}"
    return "—" if value is None else str(value)


def _sorted_records(state: _State) -> list[dict[str, Any]]:
    """Records in a deterministic order (xdist delivers them in any order)."""
    ordered = sorted(state.records, key=lambda t: (t[0], t[1]))
    return [{"nodeid": nodeid, **record} for nodeid, _, record in ordered]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _settings_dict(state: _State) -> dict[str, Any]:
    return {
        **state.settings.to_dict(),
        "mnist": state.mnist,
        "batches": state.batches,
        "max_examples": state.max_examples,
    }


class ResultsPlugin:
    """Gathers the records of every report (the controller's, under xdist) and writes
    the outputs; registered in ``pytest_configure`` as ``initcheck-results``."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        records = getattr(report, REPORT_KEY, None)
        if not records:
            return
        state = _state(self.config)
        for record in records:
            state.records.append((report.nodeid, len(state.records), record))

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if _is_worker(self.config):
            return
        state = _state(self.config)
        records = _sorted_records(state)
        if state.json_path is not None:
            payload = {
                "initcheck": 1,
                "settings": _settings_dict(state),
                "summary": {
                    "records": len(records),
                    "passed": sum(bool(r["passed"]) for r in records),
                    "failed": sum(not r["passed"] for r in records),
                },
                "records": records,
            }
            _write_atomic(state.json_path, json.dumps(payload, indent=2) + "\n")
            state.written.append(("json", state.json_path))
        if state.report_path is not None:
            try:
                from initcheck.report import write_html_report
            except ImportError as exc:
                raise pytest.UsageError(
                    f"--initcheck-report needs initcheck.report.write_html_report ({exc})"
                ) from None
            path = write_html_report(
                state.report_path,
                records,
                settings=_settings_dict(state),
                title="initcheck: pytest session",
            )
            state.written.append(("html", Path(path)))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        if _is_worker(self.config):
            return
        state = _state(self.config)
        records = _sorted_records(state)
        mode = self.config.getoption("initcheck_summary") or str(
            self.config.getini("initcheck_summary") or "auto"
        )
        if mode not in SUMMARY_MODES:
            raise pytest.UsageError(
                f"initcheck_summary must be one of {SUMMARY_MODES}. Received: {mode!r}"
            )
        if mode == "auto":
            mode = "all" if len(records) <= SUMMARY_AUTO_ROWS else "failed"
        if records and mode != "none":
            terminalreporter.write_sep("=", "initcheck summary")
            for line in summary_table(records, failed_only=mode == "failed"):
                terminalreporter.write_line(line)
        for kind, path in state.written:
            terminalreporter.write_sep("-", f"initcheck {kind} written to {path}")


def summary_table(records: list[dict[str, Any]], *, failed_only: bool = False) -> list[str]:
    """The terminal summary: initializer, property, verdict, measured vs target, test."""
    header = ("initializer", "property", "verdict", "measured", "target", "test")
    shown = [r for r in records if not r["passed"]] if failed_only else records
    rows = [
        (
            str(r["initializer"]),
            str(r["check"]),
            "passed" if r["passed"] else "FAILED",
            _fmt(r.get("statistic")),
            _fmt(r.get("target")),
            str(r["nodeid"]),
        )
        for r in shown
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]

    def line(row: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1]

    out = [line(header)] if rows else []
    out.extend(line(row) for row in rows)
    failed = sum(not r["passed"] for r in records)
    tail = " (failed ones listed; --initcheck-summary=all lists all)" if failed_only else ""
    out.append(f"{len(records)} initcheck results, {failed} failed{tail}")
    return out
