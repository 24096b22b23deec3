"""``parcours report``: a self-contained HTML file, and a PDF and PNG printed by Chromium."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from clirun import run
from dashboard_demo import copy_of_demo

import parcours
from parcours.report import write_report
from parcours.report.render import PDF_MARGIN, PNG_WIDTH, PageSize

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    return copy_of_demo(tmp_path_factory.getbasetemp(), tmp_path_factory.mktemp("report") / "store.duckdb")


def test_html_is_self_contained_with_the_map_and_its_figures(db, tmp_path, capsys):
    out = tmp_path / "map.html"
    result = run(capsys, "--db", str(db), "report", "--format", "html", "--output", str(out))
    assert result.code == 0, result.err
    html = out.read_text("utf-8")
    assert not re.search(r'<(script|link)[^>]+(src|href)="(?!data:)', html)  # every asset inline
    assert "https://" not in html.split("<script>")[0]  # nothing fetched before the scripts
    assert "Plotly.newPlot" in html and "plotly.js" in html
    for stage in ("Awareness", "Consideration", "Decision", "Retention", "Advocacy"):
        assert f"{stage}</h2>" in html
    assert 'data-touchpoint="checkout"' in html and "flagged" in html
    assert 'data-chart="chart-emotion"' in html
    # designed vs observed: the conformance overlay, the happy path vs variants, ranked opportunities
    assert 'class="conformance' in html and 'id="variants"' in html and 'class="designed"' in html
    assert 'id="opportunities"' in html and "conversions lost" in html
    # the journey map's own additions: per-touchpoint outcomes, "no answers", the designer's lanes
    assert 'class="tp-flow"' in html and "stop here" in html and "emotion: no answers" in html
    assert 'id="design-lanes"' in html and "Payment errors at checkout" in html


def test_french_report_and_bad_options(db, tmp_path, capsys):
    out = tmp_path / "carte.html"
    assert run(capsys, "--db", str(db), "report", "--lang", "fr", "-o", str(out)).code == 0
    assert "Carte du parcours" in out.read_text("utf-8")
    bad = run(capsys, "--db", str(db), "report", "--format", "docx", "-o", str(tmp_path / "x"))
    assert bad.code == 2 and "--format 'docx': use one of html, pdf, png" in bad.err
    bad = run(capsys, "--db", str(db), "report", "--from", "2024-13-01")
    assert bad.code == 2 and "--from '2024-13-01'" in bad.err
    bad = run(capsys, "--db", str(db), "report", "-o", str(tmp_path / "missing" / "x.html"))
    assert bad.code == 2 and "does not exist" in bad.err


@pytest.fixture(scope="module")
def laid_out(db, tmp_path_factory) -> dict:
    """The report as Playwright's Chromium lays it out at the PNG's width: page height on screen, map bottom
    in print (CSS px).

    Measured apart from ``parcours.report`` (which measures with Chromium's command line), so the
    checks below compare the files with the page itself.
    """
    sync_api = pytest.importorskip("playwright.sync_api")
    html = tmp_path_factory.mktemp("laid-out") / "map.html"
    with parcours.open(db, read_only=True) as store:
        write_report(store, html, "html")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": PNG_WIDTH, "height": 1000})
            page.goto(html.as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2")
            height = page.evaluate("document.documentElement.scrollHeight")
            page.emulate_media(media="print")  # the PDF is laid out with the print styles
            bottom = page.evaluate("document.getElementById('journey-map').getBoundingClientRect().bottom + scrollY")
            return {"height": height, "mapBottom": bottom}
        finally:
            browser.close()


def pdf_pages(data: bytes) -> list[tuple[float, float]]:
    return [(float(m.group(1)), float(m.group(2)))
            for m in re.finditer(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)]


def test_pdf_pages_stay_landscape_and_grow_for_a_tall_map():
    usual = PageSize(height=3000, map_bottom=900)
    assert usual.pdf_page() == (PNG_WIDTH + 2 * PDF_MARGIN, round((PNG_WIDTH + 2 * PDF_MARGIN) / 2 ** 0.5))
    for bottom in (1500, 2600, 5000):  # more touchpoints than an A4-shaped page holds
        width, height = PageSize(height=bottom + 800, map_bottom=bottom).pdf_page()
        assert width > height >= bottom + 2 * PDF_MARGIN


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)")
def test_pdf_pages_are_landscape_and_the_first_holds_the_whole_map(db, tmp_path, capsys, laid_out):
    out = tmp_path / "map.pdf"
    result = run(capsys, "--db", str(db), "report", "--format", "pdf", "--output", str(out))
    assert result.code == 0, result.err
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    pages = pdf_pages(data)
    assert len(pages) >= 2 and len(set(pages)) == 1  # the map, then the charts and tables, on same-sized pages
    width, height = pages[0]
    assert width > height  # landscape
    # in CSS pixels (0.75 pt each): laid out at the PNG's width, so the charts span it, and tall
    # enough that the map, the stage columns with every touchpoint, ends on the first page
    assert round(width / 0.75) == PNG_WIDTH + 2 * PDF_MARGIN
    assert height / 0.75 - 2 * PDF_MARGIN >= laid_out["mapBottom"]


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)")
def test_png_holds_the_whole_page(db, tmp_path, capsys, laid_out):
    out = tmp_path / "map.png"
    result = run(capsys, "--db", str(db), "report", "--format", "png", "--output", str(out))
    assert result.code == 0, result.err
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    # as tall as the page, however tall: the old fixed 1,630 px cut this page off in its last table
    assert width == PNG_WIDTH and abs(height - laid_out["height"]) <= 4 and height > 2000
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes
