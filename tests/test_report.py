"""The HTML report: self-contained, valid figures, escaped names, atomic, opens in Chromium."""

from __future__ import annotations

import base64
import itertools
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html import unescape
from html.parser import HTMLParser

import broken_inits as b
import numpy as np
import pytest

import initcheck
from initcheck.report import render_html, result_figures, write_html_report
from initcheck.report.svg import SvgPlot, downsample, nice_ticks

HOSTILE = "<script>alert(1)</script>"


def zeros(shape, dtype=None, seed=None):
    return np.zeros(shape)


@pytest.fixture(scope="module")
def reports():
    return {
        "pass": initcheck.check(b.he_normal, variance="he", name="he_normal"),
        "fail": initcheck.check(b.missing_relu_gain, variance="he", name=HOSTILE),
        "zeros": initcheck.check(zeros, name="zeros"),
    }


def fake_comparison(n: int = 300) -> dict:
    """A Comparison as plain dicts (no training)."""
    x = np.arange(n)
    return {
        "glorot_uniform": {
            "losses": list(2.3 * np.exp(-x / 60) + 0.1),
            "val_accuracy": 0.93,
            "val_loss": 0.25,
        },
        "zeros": {"losses": [2.3026] * n, "val_accuracy": 0.1, "val_loss": 2.3026},
        HOSTILE: {
            "losses": [float("nan")] * 3 + [1.0] * (n - 3),
            "val_accuracy": 0.5,
            "val_loss": None,
        },
    }


# --------------------------------------------------------------------------- parsing


class Page(HTMLParser):
    """Collects tags, attributes, inline SVG blocks and text of a report."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def check_png(data: bytes) -> tuple[int, int]:
    """Validate a PNG's signature, IHDR and chunk CRCs; return (width, height)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, kind
        kinds.append(kind)
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    return width, height


def assert_self_contained(html: str) -> None:
    page = parse(html)
    for tag, attrs in page.tags:
        assert tag != "script", "the report must not contain scripts"
        assert tag not in ("link", "iframe", "object", "embed"), tag
        for name, value in attrs.items():
            assert not name.startswith("on"), f"event handler {name} on <{tag}>"
            if name in ("src", "href", "xlink:href", "action", "srcset") and value:
                assert value.startswith(("#", "data:image/png;base64,")), (tag, name, value)
    lowered = html.lower()
    assert "@import" not in lowered
    assert not re.search(r"url\(\s*['\"]?(https?:|//)", lowered)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", lowered)
    assert "<!doctype svg" not in lowered


def inline_svgs(html: str) -> list[str]:
    out, depth, start = [], 0, 0
    for m in re.finditer(r"<svg\b|</svg>", html):
        if m.group() == "</svg>":
            depth -= 1
            if depth == 0:
                out.append(html[start : m.end()])
        else:
            if depth == 0:
                start = m.start()
            depth += 1
    return out


def assert_images_valid(html: str) -> int:
    svgs = inline_svgs(html)
    for svg in svgs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
    pngs = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)
    for data in pngs:
        check_png(base64.b64decode(data, validate=True))
    return len(svgs) + len(pngs)


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("which", ["pass", "fail"])
def test_report_is_self_contained_with_valid_figures(reports, which, tmp_path):
    report = reports[which]
    path = write_html_report(tmp_path / "r.html", report.results, settings=report.settings)
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert_self_contained(html)
    # histogram, scaling (two panels), similarity heat map
    assert assert_images_valid(html) >= 3
    text = " ".join(parse(html).text)
    assert ("FAILED" in text) == (which == "fail")
    assert "N(0, 1)" in text and "family is unknown" in text
    for key in ("seed", "initcheck", "numpy"):
        assert re.search(rf"<th scope=\"row\">{key}</th>", html), key


def test_hostile_name_only_escaped(reports, tmp_path):
    html = write_html_report(
        tmp_path / "r.html",
        [r.to_dict() for r in reports["fail"].results],
        comparisons=[fake_comparison()],
        settings={"seed": 0, "note": HOSTILE},
        title=HOSTILE,
    ).read_text(encoding="utf-8")
    assert HOSTILE not in html
    assert "alert(1)" in html  # the name is shown …
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # … escaped
    assert not any(tag == "script" for tag, _ in parse(html).tags)
    assert_self_contained(html)
    assert_images_valid(html)


def test_failing_checks_come_first_with_their_message(reports):
    html = render_html(reports["fail"].results)
    section = html[html.index('<section class="init fail"') :]
    checks = re.findall(r'<div class="check (pass|fail)">\s*<h3>(\w+)', section)
    assert checks[0] == ("fail", "variance")
    assert all(v == "pass" for v, _ in checks[1:])
    assert "variance too small" in section


def test_summary_table_has_every_initializer_and_property(reports):
    html = render_html([*reports["pass"].results, *reports["zeros"].results])
    page = parse(html)
    headers = [a for t, a in page.tags if t == "th"]
    assert headers
    text = " ".join(page.text)
    for word in (
        "symmetry",
        "centering",
        "variance",
        "scaling",
        "he_normal",
        "zeros",
        "measured",
        "target",
        "interval",
        "alpha",
    ):
        assert word in "".join(page.text)  # names are split at separators for wrapping
    assert "1 of 2 initializers failed" in text


def test_comparison_table_and_curves(tmp_path):
    html = render_html([], comparisons=[fake_comparison(300)])
    text = " ".join(parse(html).text)
    assert "93.00%" in text and "10.00%" in text
    assert "first 100 batches" in text and "all 300 batches" in text
    assert "diverged" in text
    assert_images_valid(html)
    assert_self_contained(html)


def test_training_result_details_are_plotted():
    result = {
        "check": "training",
        "initializer": "he_normal",
        "passed": True,
        "message": "learned",
        "n": 250,
        "details": {
            "loss_curve": [2.3 - 0.01 * i for i in range(100)],
            "reference": "glorot_uniform",
            "reference_loss_curve": [2.3 - 0.012 * i for i in range(100)],
            "val_accuracy": 0.9,
            "reference_val_accuracy": 0.91,
        },
    }
    html = render_html([result])
    assert "glorot_uniform (reference)" in html and "91.00%" in html
    assert len(inline_svgs(html)) == 1


def test_write_is_atomic_and_creates_parents(reports, tmp_path, monkeypatch):
    target = tmp_path / "deep" / "er" / "report.html"
    old_umask = os.umask(0o022)  # the file gets 0o666 & ~umask, like open() would give it
    try:
        write_html_report(target, reports["pass"].results)
    finally:
        os.umask(old_umask)
    before = target.read_bytes()
    assert target.stat().st_mode & 0o777 == 0o644

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_html_report(target, reports["fail"].results)
    assert target.read_bytes() == before  # the old report is intact
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]  # no temp left


def test_bad_input_is_reported(tmp_path):
    with pytest.raises(TypeError, match="CheckResult"):
        render_html([42])
    with pytest.raises(IsADirectoryError):
        write_html_report(tmp_path, [])


def test_result_figures_for_pytest_html_are_valid_svg(reports):
    figs = result_figures([r.to_dict() for r in reports["zeros"].results])
    figs += result_figures(reports["pass"].results)
    names = [n for n, _ in figs]
    assert any("Standardized" in n for n in names)
    assert any("similarity" in n for n in names)
    assert any("Var(W)" in n for n in names)
    for _, svg in figs:
        root = ET.fromstring(svg)
        assert root.tag.endswith("svg")
        assert "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_svg_helpers():
    assert nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(3, 300, log=True) == [10, 100]
    xs, ys = downsample(list(range(10_000)), 100)
    assert len(xs) <= 100 and ys[0] == 0 and ys[-1] == 9999
    plot = SvgPlot(title=HOSTILE, xlabel="a & b")
    plot.line([1, 2, 3], [1, float("nan"), 2], color="#000", label=HOSTILE)
    svg = plot.render()
    assert HOSTILE not in svg
    ET.fromstring(svg)


# --------------------------------------------------------------------------- browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium); .ci/run installs it",
)
def test_report_renders_in_headless_chromium(reports, tmp_path):
    html_path = write_html_report(
        tmp_path / "report.html",
        [*reports["pass"].results, *reports["fail"].results],
        comparisons=[fake_comparison()],
    )
    shot = tmp_path / "shot.png"
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={shot}",
        "--window-size=1200,2000",
        html_path.resolve().as_uri(),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line
        or "Uncaught" in line
        or "Content Security Policy" in line
        or "Refused to" in line
    ]
    assert not console, "\n".join(console)
    data = shot.read_bytes()
    width, height = check_png(data)
    assert (width, height) == (1200, 2000)
    import matplotlib.image

    pixels = (matplotlib.image.imread(shot)[..., :3] * 255).astype(np.uint32)
    packed = (pixels[..., 0] << 16) | (pixels[..., 1] << 8) | pixels[..., 2]
    assert len(np.unique(packed)) > 10, "the screenshot is blank"


def test_report_sections_beyond_mean_and_variance(tmp_path):
    sound = initcheck.check(
        "he_normal",
        variance="he",
        nonlinearity="relu",
        checks=["propagation", "seeds", "dtypes", "tails"],
    )
    broken = initcheck.check(
        b.missing_relu_gain,
        variance="he",
        nonlinearity="relu",
        checks=["propagation", "tails"],
        name="no_gain",
    )
    path = write_html_report(tmp_path / "beyond.html", [*sound.results, *broken.results])
    text = path.read_text()
    for words in (
        "Signal through 20 relu layers",  # propagation figure
        "Largest |w| per shape",  # tails figure
        "distinct seeds → distinct tensors",  # seeds table
        "distinct of 10,000",  # dtypes table
        "bfloat16",
        "activations vanish",  # the broken initializer's message
    ):
        assert words in text, words
    assert_self_contained(text)
    assert assert_images_valid(text) >= 3


# --------------------------------------------------------------------------- issue 11


def _curve_items(svg: str) -> list[tuple[str, str]]:
    """(stroke colour, dash array) of every polyline in a figure."""
    return re.findall(
        r'<polyline [^>]*stroke="([^"]+)"[^>]*?(?:stroke-dasharray="([^"]+)")?/>', svg
    )


def classic_like_comparison(n: int = 300) -> dict:
    """Two at chance and six good runs whose curves nearly coincide (the classic case)."""
    x = np.arange(n)
    runs = {
        "All Zeros": {"losses": [2.3026] * n, "val_accuracy": 0.1135, "val_loss": 2.3026},
        "All Ones": {"losses": [2.3026] * n, "val_accuracy": 0.1135, "val_loss": 2.3026},
    }
    for i in range(6):
        runs[f"good {i}"] = {
            "losses": list(2.3 * np.exp(-x / (40 + i)) + 0.2 + 0.001 * i),
            "val_accuracy": 0.90 + 0.001 * i,
            "val_loss": 0.30 - 0.001 * i,
        }
    return runs


def test_overlapping_loss_curves_are_distinguishable():
    from initcheck.report.curves import curves_svg

    runs = classic_like_comparison()
    svg = curves_svg({k: v["losses"] for k, v in runs.items()})
    ET.fromstring(svg)
    # the last panel: every run has its own (colour, dash) pair
    last = inline_svgs(svg[svg.index("<svg", 1) :])[-1]
    styles = _curve_items(last)
    assert len(styles) == len(runs)
    assert len(set(styles)) == len(runs), styles
    assert len({dash for _, dash in styles}) >= 3  # dashes, not colour alone
    # each name is written once, at its line's end, and no two labels overlap
    labels = {
        m.group(2): float(m.group(1))
        for m in re.finditer(r'<text x="[\d.]+" y="([\d.]+)">([^<]+)</text>', last)
        if m.group(2) in runs
    }
    assert set(labels) == set(runs)
    ys = sorted(labels.values())
    assert all(b - a >= 12 for a, b in itertools.pairwise(ys)), ys
    assert "named at its line's end" in unescape(render_html([], comparisons=[runs]))


def test_all_zero_units_explain_the_missing_heat_map(reports):
    html = render_html(reports["zeros"].results)
    text = " ".join(parse(html).text)
    assert "cosine similarity is undefined" in text
    assert "The units are identical" in text
    section = html[html.index("Cosine similarity between units") - 3000 :]
    assert "data:image/png" not in section[: section.index("</figure>")]


def test_identical_units_say_every_cosine_is_one():
    from initcheck.checks.symmetry import similarity_svg

    svg = similarity_svg({"similarity": {"shape": [8, 4], "matrix": [[1.0] * 4] * 4}})
    assert "every pairwise cosine is +1" in svg
    assert "data:image/png" in svg
    half = [[1.0, 0.0, 0.5], [0.0, 0.0, 0.0], [0.5, 0.0, 1.0]]
    svg = similarity_svg({"similarity": {"shape": [8, 3], "matrix": half}})
    assert "1 of 3 units are zero vectors" in svg
    ET.fromstring(svg)


def test_each_column_bolds_only_its_own_best_value():
    runs = {
        "acc_best": {"losses": [2.0, 1.0, 0.9], "val_accuracy": 0.95, "val_loss": 0.40},
        "loss_best": {"losses": [2.0, 1.0, 0.5], "val_accuracy": 0.90, "val_loss": 0.20},
        "chance": {"losses": [2.3, 2.3, 2.3], "val_accuracy": 0.10, "val_loss": 2.30},
    }
    html = render_html([], comparisons=[runs])
    rows = {
        re.sub("<[^>]+>", "", m.group(1)): re.findall(
            r'<td class="num( best)?">([^<]*)</td>', m.group(2)
        )
        for m in re.finditer(r"<tr>\s*<th scope=\"row\"><code>(.*?)</code>(.*?)</tr>", html, re.S)
    }
    bold = {name: [text for best, text in cells if best] for name, cells in rows.items()}
    # 3 batches: no "mean loss, last 50" column (it would average 3 and say 50)
    assert bold == {"acc_best": ["95.00%"], "loss_best": ["0.2", "0.5"], "chance": []}
    assert 'class="best"' not in html  # no row is bolded as a whole


def test_measurement_notes_describe_each_check_from_the_registry(reports):
    from initcheck import registry

    html = render_html(reports["pass"].results)
    assert "distinguishable shapes" not in html
    for r in reports["pass"].results:
        assert registry.check_named(r.check).summary.replace("≈", "") in html.replace("≈", "")


def test_training_column_in_the_matrix_when_training_runs_exist(reports):
    from initcheck import registry

    (training,) = [c.name for c in registry.checks() if c.when == "train"]
    comparison = {"he_normal": {"losses": [2.3, 1.0, 0.4], "val_accuracy": 0.93}}
    html = render_html(reports["pass"].results, comparisons=[comparison])
    head = html[html.index('<table class="matrix">') : html.index("</thead>")]
    columns = re.findall(r"<th scope=\"col\">(\w+)</th>", head)[1:]  # after "initializer"
    assert training in columns
    assert columns == sorted(columns, key=lambda c: registry.check_named(c).order)
    assert '<a href="#comparison-1">93.00% val. acc.</a>' in html
    assert training not in re.findall(
        r'<th scope="col">(\w+)</th>', render_html(reports["pass"].results)
    )


def test_figure_note_comes_from_the_results_own_details():
    from initcheck import registry
    from initcheck.checks.centering import histogram_svg

    def figure(result):
        return [("Histogram", histogram_svg(result["details"]))]

    registry.register(registry.Check(name="toy_hist", run=None, summary="", figure=figure))
    try:
        sample = [float(v) for v in np.random.default_rng(0).standard_normal(200)]
        base = {"check": "toy_hist", "initializer": "x", "passed": True, "message": "ok"}
        html = render_html([{**base, "details": {"sample": sample}}])
        assert "N(0, 1) curve is a reference for scale only" in html
        assert "family is unknown" in html
        html = render_html([{**base, "details": {"sample": sample, "family": "uniform"}}])
        assert "the declared family is uniform" in html and "family is unknown" not in html
    finally:
        registry.unregister("toy_hist")


def test_report_code_names_no_check():
    import ast
    from pathlib import Path

    from initcheck import registry

    names = set(registry.names())
    here = Path(initcheck.__file__).parent / "report"
    for path in here.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in names:
                # "variance" is also a declaration / details key (Var(W) of a shape)
                assert node.value in registry.DECLARATIONS, f"{path.name}:{node.lineno}"
    template = (here / "templates" / "report.html.j2").read_text(encoding="utf-8")
    for name in names:
        assert f"'{name}'" not in template and f'"{name}"' not in template, name


def test_a_registered_toy_check_gets_its_column_row_figure_and_table(reports):
    from initcheck import registry
    from initcheck.results import CheckResult

    def run(ctx):
        return CheckResult(
            check="toy",
            initializer="he_normal",
            passed=False,
            message="toy says no",
            statistic=0.5,
            details={"answer": 42},
        )

    def figure(result):
        return [
            (
                "Toy figure",
                f'<svg xmlns="http://www.w3.org/2000/svg"><text>{result["details"]["answer"]}</text></svg>',
            )
        ]

    def table(result):
        return {"header": ["toy answer"], "rows": [[str(result["details"]["answer"])]]}

    registry.register(
        registry.Check(
            name="toy", run=run, summary="a toy property", order=35, figure=figure, table=table
        )
    )
    try:
        toy = run(None)
        html = render_html([*reports["pass"].results, toy])
        head = html[html.index('<table class="matrix">') : html.index("</thead>")]
        columns = re.findall(r"<th scope=\"col\">(\w+)</th>", head)[1:]  # after "initializer"
        assert "toy" in columns
        assert columns == sorted(columns, key=lambda c: registry.check_named(c).order)
        assert re.search(r'<td title="a toy property">toy</td>\s*<td class="verdict">FAIL', html)
        assert "Toy figure" in html and "<text>42</text>" in html
        assert '<th scope="col">toy answer</th>' in html
        assert "toy says no" in html and "a toy property" in html
        assert "<strong>Failing:</strong> toy" in html
    finally:
        registry.unregister("toy")
    assert "toy" not in registry.names()


def test_tolerance_bands_have_one_colour_in_every_figure():
    """Issue 29 item 7: the scaling figure's band and the audit figure's band are the
    same green (the scaling band was red)."""
    import initcheck
    from initcheck.output.htmlfile import svg_figures_for
    from initcheck.report.legend import PASS_BAND
    from initcheck.report.models import ratio_svg

    result = initcheck.check("he_normal", variance="he", checks=["scaling"])["scaling"]
    scaling = "".join(svg for _, svg in svg_figures_for(result.to_dict()))
    torch = pytest.importorskip("torch")
    model = torch.nn.Sequential(torch.nn.Linear(32, 16))
    report = initcheck.audit(lambda: model, variance="lecun", signal=False)
    audit = ratio_svg([r.to_dict() for r in report.rows], "variance") or ""
    for svg in (scaling, audit):
        bands = re.findall(r'<polygon [^>]*fill="(#[0-9a-f]{6})"', svg)
        assert bands and set(bands) == {PASS_BAND}, bands


def test_names_wrap_at_separators_only():
    """Issue 29 item 7: ``he_uniform_mine`` may wrap after ``_``, never inside a word."""
    from initcheck.output.htmlfile import render_html

    def he_uniform_mine(shape, dtype=None, seed=None):
        limit = (6 / shape[0]) ** 0.5
        return np.random.default_rng(seed).uniform(-limit, limit, shape)

    html = render_html([initcheck.check(he_uniform_mine, checks=["centering"])])
    pieces = '<span class="nb">he_</span><wbr><span class="nb">uniform_</span><wbr>'
    assert pieces + '<span class="nb">mine</span>' in html
    assert "code .nb { white-space: nowrap; }" in html
