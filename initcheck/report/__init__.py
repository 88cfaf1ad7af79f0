"""Reports: a self-contained HTML report and figures for pytest-html extras.

- :func:`write_html_report` writes one HTML file (inline SVG figures, no scripts, no
  external resources) for any number of initializers' results and training comparisons.
- :func:`render_html` returns it as a string.
- :func:`result_figures` gives ``(name, inline SVG)`` figures for pytest-html extras.

These three are :mod:`initcheck.output.htmlfile`'s, which reads the registered checks and hands
them to this package: the modules here only draw, and import neither the registry nor a
check (loaded on first use, so a check module importing a drawing module here loads
nothing else). Jinja2 is imported only when a report is rendered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from initcheck.output.htmlfile import render_html, result_figures, write_html_report

__all__ = ["render_html", "result_figures", "write_html_report"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from initcheck.output import htmlfile

        return getattr(htmlfile, name)
    raise AttributeError(f"module 'initcheck.report' has no attribute {name!r}")
