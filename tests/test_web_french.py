"""Every dashboard page in French, in a real browser: no visible interface word left in English.

The pages are opened with ``?lang=fr&i18n=mark``: every string that went through the
catalogue comes wrapped in ``MARKS``. What is visible outside the marks must be data: numbers,
identifiers (``persona_1``, ``stage:awareness``), names from the journey file or the store,
or the few words that read the same in both languages (NPS, UTC...). A table cell that is
exactly a customer's comment, a file imported, an event name or an identity trait is data; so are
the field names of the filter language (``fitness < 0.8``, a split's groups); elements marked ``lang="en"``
(messages the analyses write in English) are skipped.
"""

from __future__ import annotations

import re

import pytest
from dashboard_demo import SEGMENT, copy_of_demo
from test_web import browser, page, server  # noqa: F401 - the shared fixtures

import parcours
from parcours.analytics.filters import events_sql
from parcours.analytics.voc import survey_answers
from parcours.query.customer_fields import CUSTOMER_FIELDS
from parcours.views.i18n import MARKS, plotly_locale, speaking

#: words that are the same in French, or not words: acronyms, units, the product's name
SAME = {"parcours", "EN", "FR", "NPS", "CSAT", "CES", "UTC", "AUC", "Attribution", "Segment", "Segments", "Mode",
        "Conversions", "Score", "Signal", "Personas", "Imports", "conversion", "satisfaction", "min", "h", "s",
        "j", "z", "p", "n", "type", "source", "verdict", "Δ", "A", "B"}  # A, B: the map's two periods

PAGES = ["/", "/funnels", "/funnels?step=stage:awareness&step=stage:purchase&breakdown=channel",
         "/paths?touchpoint=product_page", "/retention", "/attribution", "/voc?metric=csat", "/segments",
         "/leads", "/data", "/customers", "/live", "/evidence?touchpoint=checkout_page", "/?from=yesterday",
         # who is behind a count, the flow explorer, and the map's lanes and comparisons
         f"/people?set=segment&name={SEGMENT}", "/people?set=funnel&step=stage:awareness&step=stage:consideration&reached=2",
         "/flow?at=touchpoint:cart", "/flow?at=touchpoint:cart&direction=before&split_by=channel",
         "/flow?direction=dropoff&fstep=stage:awareness&fstep=stage:consideration&dropped=2",
         f"/?lane={SEGMENT}&order=measured", "/?period=2024-01-01..2024-03-31&period=2024-04-01..2024-06-30",
         "/funnels?step=stage:awareness&step=stage:decision&split=conformance",
         "/retention?start=touchpoint:cart&back=touchpoint:cart", "/customers?q=c0001031"]

#: every visible text node outside lang="en" elements, with its element's tag (its cell's text, in a table)
VISIBLE_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest("script, style, pre, code, [lang=en], datalist")) continue;
    if (!el.checkVisibility({opacityProperty: true, visibilityProperty: true})) continue;
    const cell = el.closest("td");
    out.push([el.tagName.toLowerCase(), node.textContent, cell ? cell.textContent.trim() : null]);
  }
  for (const el of document.querySelectorAll("input[placeholder]"))
    out.push(["placeholder", el.getAttribute("placeholder"), null]);
  return out;
}"""


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[set[str], set[str]]:
    """The words the store itself shows (names, labels and lane texts from the journey file, segments, sources),
    and the table cells that are data whole (customers' comments, files imported, event names, identity traits)."""
    base = tmp_path_factory.getbasetemp()
    with parcours.open(copy_of_demo(base, tmp_path_factory.mktemp("words") / "store.duckdb")) as store:
        config = store.config
        names = [s.name for s in config.stages] + [s.label or "" for s in config.stages]
        names += [text for s in config.stages for texts in s.lanes().values() for text in texts]  # the map's lanes
        for tp in config.touchpoints:
            names += [tp.name, tp.label or "", tp.channel or "", tp.team or ""]
        seen = store.engine.df(f"SELECT DISTINCT source, channel FROM ({events_sql(store)})")
        names += [v for v in seen["source"].tolist() + seen["channel"].tolist() if v]
        names += [SEGMENT] + list(CUSTOMER_FIELDS)  # the filter language's fields: a split's groups read fitness < 1
        cells = {c for c in survey_answers(store)["comment"] if c}
        cells |= set(store.con.execute("SELECT source FROM imports UNION SELECT source FROM quarantine").df()["source"])
        cells |= set(store.engine.df(f"SELECT DISTINCT event FROM ({events_sql(store)})")["event"])  # event names
        cells |= set(config.identity.traits)  # identity kinds named after the journey file's traits
    with speaking("fr"):  # month and day names on chart axes: Babel's CLDR data, not the catalogue
        dates = plotly_locale()["format"]
    names += [n for key in ("months", "shortMonths", "days", "shortDays") for n in dates[key]]
    return {w for n in names for w in _words(str(n))}, cells


def _words(text: str) -> list[str]:
    """The words in ``text``: not quoted literals, nor identifiers (tokens with a digit, ``_``, ``:`` or ``.``)."""
    tokens = re.findall(r"[\w:.@-]+", re.sub(r"'[^']*'", " ", text))
    tokens = [w.strip(".-") for w in tokens]
    return [w for w in tokens if not re.search(r"[\d_:@.]", w) and re.search(r"[^\W\d_]", w)]


def _unmarked(text: str) -> str:
    """``text`` without its marked parts (innermost first: a translated sentence holds translated words)."""
    inner = re.compile(f"{MARKS[0]}[^{MARKS[0]}{MARKS[1]}]*{MARKS[1]}")
    while inner.search(text):
        text = inner.sub(" ", text)
    return text


@pytest.mark.parametrize("path", PAGES)
def test_every_page_reads_french(page, server, data, path):  # noqa: F811
    sep = "&" if "?" in path else "?"
    page.goto(f"{server['url']}{path}{sep}lang=fr&i18n=mark")
    page.wait_for_load_state("networkidle")
    words, cells = data
    texts = page.evaluate(VISIBLE_TEXT)
    assert any(MARKS[0] in text for _, text, _ in texts), "nothing was marked: is ?i18n=mark ignored?"
    english = sorted({(tag, text.strip()) for tag, text, cell in texts if cell not in cells
                      and [w for w in _words(_unmarked(text)) if w not in SAME and w not in words]})
    assert english == [], f"{path}: text not from the catalogue (add _() and a French msgstr): {english}"
