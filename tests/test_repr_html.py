"""Notebook display (issue 19, item 10): ``Report``, ``ModelReport`` and ``Comparison``
have a ``_repr_html_`` — a compact verdict table (a comparison's with its loss curves),
self-contained like the report: one element, inline styles, inline SVG, no script, no
external resource, every user string escaped.
"""

from __future__ import annotations

import math
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import pytest

import initcheck
from initcheck.models.records import ModelReport, WeightRow
from initcheck.models.weightrow import Explanation
from initcheck.results import CheckResult
from initcheck.training_runs import Comparison, TrainingRun

HOSTILE = "<script>alert(1)</script>"


class Page(HTMLParser):
    """Tags, attributes, depth and text of an HTML fragment."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.top: list[str] = []
        self.depth = 0
        self.text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if self.depth == 0:
            self.top.append(tag)
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in ("wbr", "br", "line", "circle", "rect", "path", "polyline", "polygon"):
            self.depth += 1

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag):
        if tag not in ("wbr", "br", "line", "circle", "rect", "path", "polyline", "polygon"):
            self.depth -= 1

    def handle_data(self, data):
        self.text.append(data)


def assert_self_contained(html: str) -> Page:
    page = Page(html)
    assert page.top == ["div"], page.top  # one element: it sits in a notebook cell
    assert page.depth == 0, "unbalanced tags"
    assert not {"script", "style", "link", "img", "iframe", "object"} & set(page.tags)
    for name, value in page.attrs:
        assert not name.startswith("on"), name
        assert name not in ("src", "href") or not value or value.startswith("#"), (name, value)
    assert "http:" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https:" not in html
    assert HOSTILE not in html
    return page


def _he(shape, dtype=None, seed=None):
    return np.random.default_rng(seed).normal(0, math.sqrt(2 / math.prod(shape[:-1])), shape)


def test_a_report_shows_each_verdict_with_its_unit():
    report = initcheck.check(_he, variance="glorot", name=HOSTILE)
    page = assert_self_contained(report._repr_html_())
    text = " ".join(page.text)
    assert HOSTILE in text  # escaped, shown as text
    assert "FAILED" in text
    for r in report.results:
        assert r.check in text
    assert "Var(W) / target" in text and "variance too large" in text
    assert page.tags.count("tr") == len(report.results) + 1


def test_a_model_report_shows_its_weights_and_signal():
    failing = CheckResult("variance", "dense.kernel", False, "variance too small", 0.38, 1.0)
    rows = (
        WeightRow(
            layer=HOSTILE,
            param="kernel",
            piece="",
            layer_type="Dense",
            role="kernel",
            shape=(20, 32),
            layout="keras",
            fans=(20, 32),
            target="2/fan_in",
            results=(failing,),
            explanation=Explanation("Glorot's fans", "Glorot's fans", "glorot", 0.4),
            size=640,
        ),
        WeightRow("dense", "bias", "", "Dense", "bias", (32,), "keras", None, None, size=32),
    )
    signal = CheckResult("signal", "model", True, "activation RMS last/first ×1.19")
    model = ModelReport(model="mlp", framework="keras", rows=rows, signal=signal)
    page = assert_self_contained(model._repr_html_())
    text = " ".join(page.text)
    assert "FAILED" in text and "consistent with Glorot's fans" in text
    assert HOSTILE in text and "20×32" in text and "0.38" in text
    assert "model signal" in text and "×1.19" in text
    assert "audited" in text  # the coverage line


def test_a_comparison_shows_its_table_failed_rows_and_curves():
    runs = {
        name: TrainingRun(name, np.linspace(2.3, 0.2 + i, 150), 0.9 - i / 10, 0.3, 150, 4.8, 0)
        for i, name in enumerate(["he", HOSTILE])
    }
    comparison = Comparison(runs, 128, 0, "fake", failed={"boom": "boom raised RuntimeError"})
    page = assert_self_contained(comparison._repr_html_())
    text = " ".join(page.text)
    assert "svg" in page.tags and "polyline" in page.tags
    assert "90.00%" in text and "not trained" in text and "boom raised RuntimeError" in text
    assert "the first 100 batches (as in the classic notebook) and all 150" in text


@pytest.mark.slow
def test_a_users_script_gets_the_html(tmp_path):
    """As in a notebook cell: IPython's display formatter finds ``_repr_html_``."""
    pytest.importorskip("IPython", reason="the notebook test needs IPython")
    (tmp_path / "nb.py").write_text(
        "import math\n"
        "import numpy as np\n"
        "import initcheck\n"
        "from IPython.core.formatters import DisplayFormatter\n"
        "def he(shape, dtype=None, seed=None):\n"
        "    std = math.sqrt(2 / math.prod(shape[:-1]))\n"
        "    return np.random.default_rng(seed).normal(0, std, shape)\n"
        "data, _ = DisplayFormatter().format(initcheck.check(he, variance='he'))\n"
        "print(data['text/html'])\n"
    )
    proc = subprocess.run(
        [sys.executable, "nb.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    page = assert_self_contained(proc.stdout.strip())
    assert "PASSED" in " ".join(page.text)
