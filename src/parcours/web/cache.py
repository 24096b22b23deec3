"""Results of heavy queries, kept per (page, filter) until new data arrives.

The key includes the store's *data version*: the newest load batch, the number of events
and the latest change to segments and the journey file. A new import, a collector batch, an
erasure or a re-saved segment changes it, so a stale figure is never served; entries of
older versions are dropped when a newer one is seen.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from parcours.store.store import Store

#: most entries kept (each filter of each page is one); the least recently used goes first
MAX_ENTRIES = 256


MISSING = object()


def data_version(con) -> tuple:
    """A value that changes whenever what the analyses read changes (``con``: a DuckDB connection)."""
    batch, events = con.execute("SELECT max(batch_id), count(*) FROM events").fetchone()
    segments = con.execute("SELECT max(updated_at), count(*) FROM segments").fetchone()
    row = con.execute("SELECT value FROM meta WHERE key = 'journey_toml'").fetchone()
    journey = hashlib.sha256((row[0] if row else "").encode()).hexdigest()[:16]
    return batch, events, str(segments[0]), segments[1], journey


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
        value = self.peek(store.con, key)
        if value is not MISSING:
            return value
        self.misses += 1
        value = compute()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.max_entries:
                self._items.popitem(last=False)
        return value
