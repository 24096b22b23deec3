"""Render the journey-map report as HTML, and print it with headless Chromium."""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from parcours.errors import ParcoursError
from parcours.query.filter import Filter
from parcours.store.store import Store
from parcours.views import pages
from parcours.views.assets import PLOTLY_JS, STATIC, templates
from parcours.views.filters import PageFilter
from parcours.views.i18n import LANGUAGES, localize, speaking, t

FORMATS = ("html", "pdf", "png")
#: the width the page is laid out at, in CSS pixels: the PNG's width, the PDF's width inside its margins
PNG_WIDTH = 1600
#: the PDF's margin, in CSS pixels (8 mm)
PDF_MARGIN = 30
#: room kept under the map on the PDF's first page: print styles differ a little from the screen's
PDF_SLACK = 40
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_CSS = """
@page { size: A4 landscape; margin: 8mm; }
@media print { body { background: #fff; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .journey { grid-template-columns: repeat(var(--stages), 1fr); break-inside: avoid; } .stage { break-inside: avoid; }
  .card { break-inside: avoid; } }
"""
#: added to the page Chromium measures: once the charts are drawn, the page's height and where the map ends
MEASURE_JS = """<script>window.addEventListener("load", () => setTimeout(() => {
  const root = document.documentElement, map = document.getElementById("journey-map");
  root.dataset.pageHeight = Math.ceil(root.scrollHeight);
  root.dataset.mapBottom = map ? Math.ceil(map.getBoundingClientRect().bottom + window.scrollY) : 0;
}, 300));</script>"""


def report_html(store: Store, filter: PageFilter | None = None, lang: str = "en") -> str:
    """The journey map with its key figures as one HTML document with every asset inline."""
    if lang not in LANGUAGES:
        raise ParcoursError(f"--lang {lang!r}: use one of {', '.join(LANGUAGES)}")
    filter = filter or PageFilter()
    data = pages.journey_page(store, filter.to_filter() if filter else Filter())
    assets = {"css": (STATIC / "app.css").read_text("utf-8") + PRINT_CSS,
              "js": (STATIC / "app.js").read_text("utf-8"),
              # inline, a "</script" in the library's strings would end the tag
              "plotly": PLOTLY_JS.read_text("utf-8").replace("</script", "<\\/script")}
    scope = " · ".join(x for x in (
        f"{filter.start or '…'} – {filter.end or '…'}" if (filter.start or filter.end) else "",
        filter.segment or "") if x)
    with speaking(lang):
        data["charts"] = localize(data["charts"])
        return templates().get_template("report.html").render(
            t=t, lang=lang, filter=filter, page="journey_map", inline_assets=assets, segments=[],
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), scope=scope,
            store_name=Path(store.path).stem, **data,
        )


def chromium_path() -> str:
    """Chromium to print with: ``$PARCOURS_CHROMIUM``, else the first one on the PATH."""
    chosen = os.environ.get("PARCOURS_CHROMIUM")
    if chosen:
        if not Path(chosen).is_file():
            raise ParcoursError(f"PARCOURS_CHROMIUM={chosen}: no such file")
        return chosen
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise ParcoursError("PDF and PNG reports need Chromium: install it (apt-get install chromium) "
                        "or set PARCOURS_CHROMIUM to its path; --format html needs nothing")


@dataclass(frozen=True)
class PageSize:
    """The laid-out page at ``PNG_WIDTH``, in CSS pixels: its whole height, and the bottom of the journey map."""

    height: int
    map_bottom: int

    def pdf_page(self) -> tuple[int, int]:
        """(width, height) of a landscape PDF page that holds the whole map on the first page.

        A4's proportions while the map fits in them; a taller map makes the page taller, and a page
        that would then stand upright widens to stay landscape (a wider layout only makes the map shorter).
        """
        width = PNG_WIDTH + 2 * PDF_MARGIN
        height = max(round(width / math.sqrt(2)), self.map_bottom + 2 * PDF_MARGIN + PDF_SLACK)
        return max(width, math.ceil(height * 1.05)), height


def _chromium(args: list[str], page: Path, timeout: float, doing: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="parcours-chromium-", ignore_cleanup_errors=True) as profile:
        command = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                   "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                   f"--user-data-dir={profile}", "--virtual-time-budget=15000",
                   "--run-all-compositor-stages-before-draw", *args, page.resolve().as_uri()]
        try:
            return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ParcoursError(f"Chromium did not finish {doing} within {timeout:.0f} s") from None


def measure(html_path: Path, timeout: float = 120) -> PageSize:
    """Lay the page out in Chromium at ``PNG_WIDTH`` and read its height and the map's bottom edge."""
    html = html_path.read_text("utf-8")
    probe = html_path.with_name(f"{html_path.stem}.measure.html")
    probe.write_text(html.replace("</body>", MEASURE_JS + "</body>", 1), "utf-8")
    try:
        done = _chromium([f"--window-size={PNG_WIDTH},1000", "--dump-dom"], probe, timeout, f"laying out {html_path}")
    finally:
        probe.unlink(missing_ok=True)
    found = {m.group(1): int(m.group(2)) for m in re.finditer(r'data-(page-height|map-bottom)="(\d+)"', done.stdout)}
    if "page-height" not in found:
        tail = " ".join((done.stderr or "").strip().splitlines()[-2:])
        raise ParcoursError(f"Chromium could not lay out {html_path} (exit {done.returncode}): {tail}")
    return PageSize(found["page-height"], found.get("map-bottom", 0))


def print_report(html_path: Path, output: Path, fmt: str, timeout: float = 120) -> None:
    """Have headless Chromium print ``html_path`` to ``output`` as PDF or PNG, the whole page either way.

    The page is laid out first (``measure``): the PNG is as tall as the page, and the PDF's pages are
    landscape and tall enough for the whole journey map on the first one, laid out at the PNG's width
    so the charts, drawn at that width, fill it.
    """
    if fmt not in ("pdf", "png"):
        raise ParcoursError(f"--format {fmt!r}: Chromium prints pdf or png")
    size = measure(html_path, timeout)
    page = html_path
    if fmt == "pdf":
        width, height = size.pdf_page()
        page = html_path.with_name(f"{html_path.stem}.print.html")
        css = f"<style>@page {{ size: {width}px {height}px; margin: {PDF_MARGIN}px; }}</style>"
        page.write_text(html_path.read_text("utf-8").replace("</head>", css + "</head>", 1), "utf-8")
        args = [f"--window-size={width - 2 * PDF_MARGIN},{height}", "--no-pdf-header-footer", f"--print-to-pdf={output}"]
    else:
        args = [f"--window-size={PNG_WIDTH},{size.height}", f"--screenshot={output}"]
    output.unlink(missing_ok=True)
    try:
        done = _chromium(args, page, timeout, f"printing {output}")
    finally:
        if page != html_path:
            page.unlink(missing_ok=True)
    if not output.is_file() or output.stat().st_size == 0:
        tail = " ".join((done.stderr or "").strip().splitlines()[-2:])
        raise ParcoursError(f"Chromium wrote no {fmt.upper()} to {output} (exit {done.returncode}): {tail}")


def write_report(store: Store, output: Path, fmt: str = "html", filter: PageFilter | None = None,
                 lang: str = "en") -> Path:
    """Write the report in ``fmt`` (html, pdf or png) to ``output``; returns the path written."""
    if fmt not in FORMATS:
        raise ParcoursError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if output.parent and not output.parent.exists():
        raise ParcoursError(f"--output {output}: folder {output.parent} does not exist")
    html = report_html(store, filter, lang)
    if fmt == "html":
        output.write_text(html, "utf-8")
        return output
    with tempfile.TemporaryDirectory(prefix="parcours-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, "utf-8")
        print_report(page, output, fmt)
    return output
