"""What the dashboard keeps while the server runs: its query cache, cookie secret and templates."""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape

from parcours.store.store import Store
from parcours.web.cache import MISSING, QueryCache, data_version
from parcours.web.i18n import (
    current_language,
    duration,
    gettext,
    ngettext,
    number,
    percent,
    persona_name,
    plotly_locale,
)
from parcours.web.sentences import from_analysis
from parcours.web.session import session_secret

HERE = Path(__file__).parent


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


class Dashboard:
    def __init__(self):
        self.cache = QueryCache()
        self.env = templates()
        self.secret: bytes | None = None
        self.warming = None  #: the background task that fills the cache for the unfiltered pages
        self.warmed_generation = -1  #: the cache generation the last warm-up started at
        self.reader = None  #: a DuckDB cursor of the store for version checks off the store's thread
        self.reader_epoch = 0  #: the store connection the reader belongs to (``Store.epoch``)

    async def run(self, collector, key: Hashable | None, fn: Callable[[Store], Any]) -> Any:
        """Run ``fn(store)`` on the store's thread, through the cache when ``key`` is given.

        A cache hit is answered at once on the dashboard's own reader cursor, without waiting
        for the store's thread (which may be busy computing another page or applying events).
        """
        if key is None:
            return await collector.run_db(fn)
        try:
            value = self.cache.peek(await self._reader(collector), key)
        except Exception:  # noqa: BLE001 - the store was lent to another process meanwhile: ask its thread
            value = MISSING
        if value is not MISSING:
            return value
        return await collector.run_db(lambda store: self.cache.get(store, key, lambda: fn(store)))

    async def _reader(self, collector):
        """A cursor of the store's current connection (a rewritten or lent store reopens it: a new cursor then)."""
        if self.reader is None or self.reader_epoch != collector.store.epoch:
            self.reader_epoch, self.reader = await collector.run_db(lambda store: (store.epoch, store.cursor()))
        return self.reader

    async def data_version(self, collector) -> tuple:
        """The version the cache keys pages by (``parcours.web.cache.data_version``), read off the store's thread."""
        try:
            return data_version(await self._reader(collector))
        except Exception:  # noqa: BLE001 - the store was lent to another process meanwhile: ask its thread
            return await collector.run_db(lambda store: data_version(store))

    async def followups_version(self, collector) -> tuple:
        """Changes whenever a follow-up is opened or changed (read off the store's thread)."""
        reader = await self._reader(collector)
        return reader.execute("SELECT count(*), max(updated_at) FROM followups").fetchone()

    async def get_secret(self, collector) -> bytes:
        if self.secret is None:
            self.secret = await collector.run_db(session_secret)
        return self.secret
