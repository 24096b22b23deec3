"""What a page is drawn with, on the dashboard and in the report alike: the Jinja2 templates
environment (with the catalogue's words and the reader's number format), the static files and Plotly.js."""

from __future__ import annotations

import importlib.util
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from parcours.views.i18n import (
    current_language,
    duration,
    gettext,
    ngettext,
    number,
    percent,
    persona_name,
    plotly_locale,
)
from parcours.views.sentences import from_analysis

HERE = Path(__file__).parent
#: the dashboard's stylesheet and script, served by the dashboard and inlined by the report
STATIC = HERE / "static"
#: Plotly.js as bundled in the plotly package (found without importing the Python library)
PLOTLY_JS = Path(importlib.util.find_spec("plotly").origin).parent / "package_data" / "plotly.min.js"


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def to_json(value: Any) -> str:
    """JSON for a ``<script type="application/json">`` block (``</`` cannot close the tag)."""
    return json.dumps(value, default=_json_default).replace("</", "<\\/")


def templates() -> Environment:
    """The templates, with Jinja2's i18n extension reading the catalogue of the language being spoken."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
    # old-style callables: newstyle ones %-format every string, and French writes "95 %"
    env.install_gettext_callables(gettext, ngettext, newstyle=False)
    env.filters["tojson_safe"] = to_json
    # numbers in the page's language (the ``lang`` the page is rendered with, else the one being spoken:
    # a macro imported without context has no ``lang``)
    env.filters["pct"] = pass_context(lambda ctx, v, d=0: percent(v, _page_language(ctx), d))
    env.filters["num"] = pass_context(lambda ctx, v, d=0: number(v, _page_language(ctx), d))
    env.filters["persona_name"] = persona_name
    env.filters["duration"] = duration
    env.globals["plotly_locale"] = plotly_locale
    env.globals["from_analysis"] = from_analysis
    return env


def _page_language(ctx) -> str:
    return ctx.get("lang") or current_language()
