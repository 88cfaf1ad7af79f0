"""initcheck's pytest hooks; the rest of the plugin lives next to them:

- :mod:`initcheck.plugin.options`: the options, ini keys and :class:`SessionOptions`;
- :mod:`initcheck.plugin.fixtures`: the ``initcheck`` and ``mnist`` fixtures, the marker;
- :mod:`initcheck.plugin.item_results`: a test's results as plain data on its report;
- :mod:`initcheck.plugin.outputs`: terminal summary, JSON, HTML report, pytest-html extras;
- :mod:`initcheck.gate`: the zero-code CI gate's items.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from initcheck import gate
from initcheck.gate.models import MODEL_DATA
from initcheck.output import add_test_extras
from initcheck.plugin import fixtures, item_results, options, outputs


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", fixtures.MARKER_DOC)
    session = options.build_session_options(config)
    config.stash[options.STASH_KEY] = session
    config.pluginmanager.register(outputs.ResultsPlugin(config, session), "initcheck-results")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Prepend the gate's items (before -k/-m deselection, identical on every worker)."""

    opts = options.session_options(config)
    sources = gate.gate_sources(config, opts)
    if sources:
        items[:0] = gate.collect_gate(session, sources, opts)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    fixtures.validate_marker(item)
    with fixtures.settings_for_test(item):
        return (yield from item_results.recording_phase(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with fixtures.settings_for_test(item):
        return (yield from item_results.recording_phase(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    with fixtures.settings_for_test(item):
        return (yield from item_results.recording_phase(item, "teardown"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    found = item_results.take_records(item, call.when, failed=bool(report.failed))
    if found:
        setattr(report, item_results.REPORT_KEY, found)
        add_test_extras(item, report, found)
    if call.when == "call" and item.nodeid.startswith("initcheck::"):
        model = item.stash.get(MODEL_DATA, None)
        if model is not None:
            setattr(report, item_results.MODELS_KEY, [model])
    return report
