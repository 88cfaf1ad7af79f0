"""The HTML report: self-contained, valid figures, escaped names, atomic, opens in Chromium."""

from __future__ import annotations

import base64
import os
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET
import zlib
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
        assert word in text
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
    write_html_report(target, reports["pass"].results)
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
