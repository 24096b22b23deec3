"""Render the journey-map report as HTML, and print it with headless Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from parcours.analytics.filters import Filter
from parcours.errors import ParcoursError
from parcours.store.store import Store
from parcours.web import pages
from parcours.web.filters import PageFilter
from parcours.web.i18n import LANGUAGES, localize, speaking, t
from parcours.web.routes import PLOTLY_JS, STATIC
from parcours.web.state import templates

FORMATS = ("html", "pdf", "png")
#: the PNG's size in CSS pixels; the page is laid out for this width
PNG_WIDTH = 1600
CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_CSS = """
@page { size: A4 landscape; margin: 8mm; }
@media print { body { background: #fff; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .journey { grid-template-columns: repeat(var(--stages), 1fr); } .card { break-inside: avoid; } }
"""


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


def print_report(html_path: Path, output: Path, fmt: str, height: int = 1400, timeout: float = 120) -> None:
    """Have headless Chromium print ``html_path`` to ``output`` as PDF or PNG."""
    if fmt not in ("pdf", "png"):
        raise ParcoursError(f"--format {fmt!r}: Chromium prints pdf or png")
    with tempfile.TemporaryDirectory(prefix="parcours-chromium-") as profile:
        args = [chromium_path(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                f"--user-data-dir={profile}", "--virtual-time-budget=15000", "--run-all-compositor-stages-before-draw"]
        if fmt == "pdf":
            args += ["--no-pdf-header-footer", f"--print-to-pdf={output}"]
        else:
            args += [f"--window-size={PNG_WIDTH},{height}", f"--screenshot={output}"]
        output.unlink(missing_ok=True)
        try:
            done = subprocess.run([*args, html_path.resolve().as_uri()], capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise ParcoursError(f"Chromium did not finish printing {output} within {timeout:.0f} s") from None
    if not output.is_file() or output.stat().st_size == 0:
        tail = " ".join((done.stderr or "").strip().splitlines()[-2:])
        raise ParcoursError(f"Chromium wrote no {fmt.upper()} to {output} (exit {done.returncode}): {tail}")


def png_height(store: Store) -> int:
    """A window tall enough for the whole page: the stage with the most touchpoints sets it."""
    per_stage = [sum(t.stage == s.name for t in store.config.touchpoints) for s in store.config.stages]
    return 1000 + 105 * max(per_stage, default=1)


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
        print_report(page, output, fmt, height=png_height(store))
    return output
