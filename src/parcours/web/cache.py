"""Results of heavy queries, kept per (page, filter) until the data they read changes.

The key includes a *data version*: the store's own count of data-changing writes (see
``Store.transaction``: imports, collector batches, identity stitching and unmerges, GDPR
erasure, retention and scrubbing, setting the journey file all bump it), plus what changes
without bumping it but still changes a page: the saved segments (a filter, and the personas
page) and the latest lead scoring (segment rules can use ``lead_score``). A stale figure is
never served; entries of older versions are dropped when a newer one is seen.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from parcours.store.store import DATA_VERSION_META, Store

#: most entries kept (each filter of each page is one); the least recently used goes first
MAX_ENTRIES = 256


MISSING = object()


def data_version(con) -> tuple:
    """A value that changes whenever what the pages read changes (``con``: the store, or a cursor of it for another thread).

    Three small reads, so that a cache hit stays cheap: the meta row of the store's data
    version, and the newest change to segments and to lead scores.
    """
    row = con.execute("SELECT value FROM meta WHERE key = ?", [DATA_VERSION_META]).fetchone()
    segments = con.execute("SELECT max(updated_at), count(*) FROM segments").fetchone()
    leads = con.execute("SELECT max(trained_at), count(*) FROM lead_models").fetchone()
    return int(row[0]) if row else 0, str(segments[0]), segments[1], str(leads[0]), leads[1]


class QueryCache:
    """An LRU map from (data version, page, filter...) to a computed result."""

    def __init__(self, max_entries: int = MAX_ENTRIES):
        self.max_entries = max_entries
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._version: tuple | None = None
        self.hits = 0
        self.misses = 0
        #: how many times the data changed under the cache (the background warm-up re-runs then)
        self.generation = 0
        # hits are answered on the event loop while the store's thread fills the cache
        self._lock = threading.Lock()

    def _at(self, version: tuple) -> None:
        if version != self._version:
            self._items.clear()
            self._version = version
            self.generation += 1

    def peek(self, con, key: Hashable) -> Any:
        """The cached value for ``key`` at the data version ``con`` sees, or ``MISSING``.

        Needs only a cheap version query, so the server answers cache hits on a reader cursor
        while the store's thread is busy computing something else.
        """
        version = data_version(con)
        with self._lock:
            self._at(version)
            if key in self._items:
                self.hits += 1
                self._items.move_to_end(key)
                return self._items[key]
        return MISSING

    def get(self, store: Store, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The cached value for ``key`` at the store's current data version, computing it if needed."""
        value = self.peek(store, key)
        if value is not MISSING:
            return value
        self.misses += 1
        value = compute()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value
