"""pytest-html's per-test extras: when pytest-html writes its report, each test with
initcheck records gets their table and the figures (no option of its own).

Standard library and pytest only at import; the figures load when drawn.
"""

from __future__ import annotations

from typing import Any

import pytest

from initcheck.output.htmlfile import result_figures
from initcheck.plugin.outputs import measured_text, shape_text, verdict_text
from initcheck.results import short_number


def add_extras(item: pytest.Item, report: Any, records: list[dict[str, Any]]) -> None:
    """pytest-html extras (a table and the figures) when pytest-html is active.

    Args:
        item: the test item.
        report: its test report (``report.extras`` is extended).
        records: the item's records of this phase.
    """
    html_plugin = item.config.pluginmanager.getplugin("html")
    if html_plugin is None or item.config.getoption("htmlpath", None) is None:
        return
    from html import escape

    extras_mod = html_plugin.extras  # pytest-html >= 4 (the extra's pin)
    rows = "".join(
        f"<tr><td>{escape(r['initializer'])}</td><td>{escape(r['check'])}</td>"
        f"<td>{verdict_text(r)}</td><td>{escape(shape_text(r))}</td>"
        f"<td>{escape(measured_text(r))}</td><td>{short_number(r.get('target'))}</td>"
        f"<td>{escape(r['message'])}</td></tr>"
        for r in records
    )
    extras = list(getattr(report, "extras", []))
    extras.append(
        extras_mod.html(
            "<table><tr><th>initializer</th><th>property</th><th>verdict</th><th>shape</th>"
            f"<th>measured</th><th>target</th><th>message</th></tr>{rows}</table>"
        )
    )

    for name, svg in result_figures(records):
        extras.append(
            extras_mod.html(f"<figure>{svg}<figcaption>{escape(name)}</figcaption></figure>")
        )
    report.extras = extras
