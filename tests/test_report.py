"""``parcours report``: a self-contained HTML file, and a PDF and PNG printed by Chromium."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from clirun import run
from dashboard_demo import copy_of_demo

from parcours.report.render import PNG_WIDTH

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


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)")
def test_pdf_is_a4_landscape(db, tmp_path, capsys):
    out = tmp_path / "map.pdf"
    result = run(capsys, "--db", str(db), "report", "--format", "pdf", "--output", str(out))
    assert result.code == 0, result.err
    data = out.read_bytes()
    assert data.startswith(b"%PDF-") and len(data) > 20_000
    boxes = {tuple(round(float(v)) for v in m.groups())
             for m in re.finditer(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)}
    assert boxes == {(842, 595)}  # A4 landscape, in points, on every page


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (make test installs it)")
def test_png_has_the_page_size_and_is_drawn(db, tmp_path, capsys):
    out = tmp_path / "map.png"
    result = run(capsys, "--db", str(db), "report", "--format", "png", "--output", str(out))
    assert result.code == 0, result.err
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == PNG_WIDTH and height >= 1000
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes
