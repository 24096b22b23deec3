"""Opening a store that a server may have left: acknowledged events first, then the store.

The collector acknowledges an event once it is in its write-ahead log; if the server is
killed before applying it, the event is in no table yet. Whoever opens the store next
while no server runs applies that tail first (the same code a restarted server runs), so
``parcours stats`` after a ``kill -9`` already counts every acknowledged event. While a
server runs, the store is borrowed from it instead (``parcours.store.sharing``), and the
server applies its log before lending.
"""

from __future__ import annotations

from pathlib import Path

from parcours.server.wal import remove_applied, segments, wal_dir
from parcours.store.sharing import live_claim
from parcours.store.store import Store, default_db_path
from parcours.store.store import open_store as open_plain


def unapplied_log(db_path: str | Path) -> bool:
    """Whether a collector log beside the store may hold events no table has yet."""
    return bool(segments(wal_dir(db_path))) and live_claim(db_path) is None


def recover(store: Store) -> int:
    """Apply what a stopped server acknowledged but did not apply; remove the applied log."""
    # here, not at import: every CLI command opens its store through this module, and the
    # applier loads the importer (Arrow) that only a log tail to apply needs
    from parcours.server.applier import applied_position, replay

    directory = wal_dir(store.path)
    loaded = replay(store, directory)
    remove_applied(directory, applied_position(store), writing=False)
    return loaded


def open_store(path: str | Path | None = None, read_only: bool = False, engine: str | None = None) -> Store:
    """Open a store (``parcours.store.open_store``), first applying a crashed server's log tail."""
    path = str(path or default_db_path())
    if unapplied_log(path):
        if read_only:
            with open_plain(path) as writer:
                recover(writer)
        else:
            store = open_plain(path, engine=engine)
            try:
                recover(store)
            except BaseException:
                store.close()
                raise
            return store
    return open_plain(path, read_only=read_only, engine=engine)
