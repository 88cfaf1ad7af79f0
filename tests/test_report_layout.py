"""Report and text rough edges (issue 19, item 11): every failing card in the HTML report
has its figure; nothing overlaps in a real browser (legend boxes and data points, node
ids break only at ``::`` and ``/``); the text table keeps its columns aligned for any
value; each check's measured value names its unit.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import unescape

import broken_inits as b
import pytest
from hypothesis import given
from hypothesis import strategies as st

import initcheck
from initcheck import registry
from initcheck.output.htmlfile import svg_figures_for
from initcheck.report import render_html, write_html_report
from initcheck.results import CheckResult, Report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LONG_NODEID = (
    "tests/integration/initializers/test_the_users_own_initializers.py::"
    "TestHeNormalAcrossManyShapes::test_variance_matches_two_over_fan_in[dense-784-256]"
)


@pytest.fixture(scope="module")
def broken() -> list[Report]:
    """Initializers whose failing checks each have figures: the missing ReLU gain (variance
    fails, scaling passes: they share one figure), zeros, a shifted uniform, He on tanh,
    identical units declared uniform (degeneracy, distribution)."""
    return [
        initcheck.check(b.missing_relu_gain, variance="he", name="missing_relu_gain"),
        initcheck.check(b.zeros, name="zeros"),
        initcheck.check(b.shifted, name="shifted"),
        initcheck.check(b.he_normal, variance="he", nonlinearity="tanh", name="he_on_tanh"),
        initcheck.check(b.identical_units, family="uniform", name="identical_units"),
    ]


def cards(html: str) -> dict[tuple[str, str], str]:
    """{(initializer, check): the card's HTML} of every initializer section."""
    out = {}
    for section in re.findall(
        r'<section class="init [^"]*" id="[^"]*">(.*?)</section>', html, re.S
    ):
        name = unescape(
            re.sub("<[^>]+>", "", re.search(r"<h2><code>(.*?)</code>", section).group(1))
        )
        for card in re.split(r'(?=<div class="check )', section)[1:]:
            check = re.search(r"<h3>(\w+) ", card).group(1)
            out[(name, check)] = card
    return out


def test_every_failing_card_has_its_figures(broken):
    html = render_html([r for rep in broken for r in rep.results])
    found = cards(html)
    failing = [(rep.initializer, r) for rep in broken for r in rep.results if not r.passed]
    assert {r.check for _, r in failing} >= {
        "variance", "symmetry", "centering", "propagation", "degeneracy", "distribution",
    }  # fmt: skip
    for name, r in failing:
        figures = svg_figures_for(r.to_dict())
        card = found[(name, r.check)]
        assert card.count("<svg") >= len(figures), (name, r.check)
        if r.check not in ("seeds", "dtypes"):  # booleans / a per-dtype table: no figure
            assert figures, (name, r.check)
    # the variance card of the missing gain has the figure it shares with scaling
    assert "<svg" in found[("missing_relu_gain", "variance")]


def test_each_measured_value_names_its_unit(broken):
    for rep in broken:
        for r in rep.results:
            if r.statistic is not None:
                assert registry.unit_of(r.to_dict()), r.check
    html = render_html(broken[0].results)
    assert '<td class="unit">Var(W) / target</td>' in html
    assert "(Var(W) / target)" in html  # on the card's stats line
    symmetry = broken[0]["symmetry"]
    assert symmetry.statistic == 1.0 and registry.unit_of(symmetry.to_dict()) == (
        "min rank / full rank"
    )  # a fraction of full rank, whatever the shape


@given(
    values=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=6,
        max_size=6,
    ),
    n=st.integers(0, 10**12),
)
def test_the_text_table_stays_aligned_for_any_value(values, n):
    names = ["variance", "centering", "symmetry"]
    results = tuple(
        CheckResult(name, "x", i % 2 == 0, "why", statistic=v, target=t, n=n)
        for i, (name, v, t) in enumerate(zip(names, values[:3], values[3:], strict=True))
    )
    header, *rows = str(Report(initializer="x", results=results)).splitlines()[1:]
    starts = [m.start() for m in re.finditer(r"\S+", header)]  # check measured target unit n
    assert len(starts) == 5, header
    unit = starts[3]  # the only column that may be empty (a result without a statistic)
    for row in rows:
        for start in starts:  # every cell begins where its column does, after a gap
            assert row[start - 2 : start] == "  ", (header, row)
            assert row[start] != " " or start == unit, (header, row)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed; .ci/run installs it")
def test_nothing_overlaps_in_a_browser(broken, tmp_path):
    """Chromium lays the report out; a script (the report itself has none, and a CSP that
    forbids them, both dropped in this copy) measures legend boxes against the data points
    of every figure, and checks that node-id parts never wrap inside themselves."""
    results = [r.to_dict() for rep in broken for r in rep.results]
    for r in results:
        r["test"] = LONG_NODEID
    page = write_html_report(tmp_path / "report.html", results)
    html = page.read_text()
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", f"<script>{MEASURE}</script></body>"))
    proc = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--window-size=700,1200",
            "--virtual-time-budget=5000", "--dump-dom", probe.resolve().as_uri(),
        ],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="initcheck-measure">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    data = json.loads(unescape(found.group(1)))
    assert data["figures"] >= 4 and data["legends"] >= 2, data
    assert data["overlaps"] == [], data["overlaps"]
    assert data["nodeid_parts"] > 0 and data["wrapped_parts"] == [], data["wrapped_parts"]
    assert data["wrapped_ids"] > 0, "the narrow window makes the long node ids wrap"


MEASURE = """
(() => {
  const overlaps = [];
  let figures = 0, legends = 0;
  for (const svg of document.querySelectorAll("figure svg")) {
    figures++;
    for (const plot of [svg, ...svg.querySelectorAll("svg")]) {
      const legend = plot.querySelector(":scope > g.legend");
      if (!legend) continue;
      legends++;
      const box = legend.getBoundingClientRect();
      for (const dot of plot.querySelectorAll(":scope > g.data circle")) {
        const r = dot.getBoundingClientRect();
        if (r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top)
          overlaps.push(plot.textContent.slice(0, 60));
      }
    }
  }
  const parts = document.querySelectorAll("code.nodeid span.nb");
  const wrapped = [];
  for (const p of parts) if (p.getClientRects().length > 1) wrapped.push(p.textContent);
  let wrappedIds = 0;
  for (const c of document.querySelectorAll("code.nodeid")) {
    const spans = [...c.querySelectorAll("span.nb")];
    const tops = new Set(spans.map(s => s.getBoundingClientRect().top));
    if (tops.size > 1) wrappedIds++;
  }
  const pre = document.createElement("pre");
  pre.id = "initcheck-measure";
  pre.textContent = JSON.stringify({figures, legends, overlaps, nodeid_parts: parts.length,
                                    wrapped_parts: wrapped, wrapped_ids: wrappedIds});
  document.body.appendChild(pre);
})();
"""


def test_a_model_of_200_weights_reads_findings_first(tmp_path):
    """Keras ResNet50 (214 weights; its 106 BatchNorm moving statistics are statistics, not
    weights, and get no row) under LeCun: its 53 convolutions before BatchNorm are
    one informational finding, its Glorot head one failing finding with the Keras fix. The
    default text stays under 40 lines; the JSON carries both findings; in a 1400×900
    browser window the findings and the signal-by-depth figure are on the first screen
    (measured in the laid-out page, and seen in a screenshot of the report as written)."""
    pytest.importorskip("keras")
    import zoo

    report = initcheck.audit(
        zoo.keras_resnet50, variance="lecun", inputs=zoo.keras_resnet50_inputs()
    )
    assert len(report.rows) == 214
    text = str(report)
    assert len(text.splitlines()) < 40, text
    kinds = {(f.kind, f.layer_type, f.count) for f in report.findings}
    assert ("info", "Conv2D", 53) in kinds, kinds
    (head,) = [f for f in report.findings if f.kind == "fail"]
    assert head.rows == ("predictions.kernel",) and "lecun_normal" in head.fix.code
    data = json.loads(json.dumps(report.to_dict()))
    assert [f["kind"] for f in data["findings"]] == ["fail", "info"]
    assert data["findings"][0]["fix"]["framework"] == "keras"
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed; .ci/run installs it")
    page = tmp_path / "audit.html"
    page.write_text(render_html(None, models=[report], settings=report.settings))
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page.read_text())
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", f"<script>{FIRST_SCREEN}</script></body>"))
    browse = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1400,900", "--virtual-time-budget=5000",
    ]  # fmt: skip
    proc = subprocess.run(
        [*browse, "--dump-dom", probe.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="initcheck-measure">(.*?)</pre>', proc.stdout, re.S)
    assert found, proc.stdout[-2000:]
    boxes = json.loads(unescape(found.group(1)))
    for what in ("findings", "signal", "figure"):
        box = boxes[what]
        assert box is not None and box["bottom"] <= 900 and box["right"] <= 1400, boxes
    assert "Signal by depth" in boxes["figure"]["title"], boxes
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [*browse, f"--screenshot={shot}", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    from PIL import Image

    image = Image.open(shot).convert("RGB")
    assert image.size == (1400, 900)
    colors = {c for _, c in image.getcolors(1400 * 900)}
    # the figure's activation and gradient series, drawn on the first screen
    assert (0x09, 0x69, 0xDA) in colors and (0xBC, 0x4C, 0x00) in colors


FIRST_SCREEN = """
(() => {
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, right: r.right, title: el.textContent.slice(0, 80)};
  };
  const model = document.querySelector("section.model");
  const pre = document.createElement("pre");
  pre.id = "initcheck-measure";
  pre.textContent = JSON.stringify({
    findings: box(model.querySelector("ul.findings")),
    signal: box(model.querySelector("div.check.signal")),
    figure: box(model.querySelector("figure svg")),
  });
  document.body.appendChild(pre);
})();
"""
