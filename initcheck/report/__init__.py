"""Reports: a self-contained HTML report and figures for pytest-html extras.

- :func:`write_html_report` writes one HTML file (inline SVG figures, no scripts, no
  external resources) for any number of initializers' results and training comparisons.
- :func:`result_figures` gives ``(name, inline SVG)`` figures for pytest-html extras.

Jinja2 is imported only when a report is rendered.
"""

from __future__ import annotations

from initcheck.report.figures import result_figures
from initcheck.report.html import render_html, write_html_report

__all__ = ["render_html", "result_figures", "write_html_report"]
