"""What the dashboard keeps while the server runs: its query cache, cookie secret and templates
(the templates environment itself is ``parcours.views.assets``, shared with the report)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from parcours.store.store import Store
from parcours.views.assets import templates
from parcours.web.cache import MISSING, QueryCache, data_version
from parcours.web.session import session_secret


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
