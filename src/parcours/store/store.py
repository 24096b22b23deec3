"""Opening a store, migrating it, and the small key/value settings it keeps.

A store is one DuckDB file. Everything that reads data goes through ``store.engine``
so that the same analysis SQL can run on another engine; writes stay here and in
``parcours.ingest`` / ``parcours.identity``, which are DuckDB's own business.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
from sqlglot import exp

from parcours.engine.dialect import duckdb_sql
from parcours.errors import ParcoursError
from parcours.query import sql
from parcours.store import changes
from parcours.store.schema import MIGRATIONS
from parcours.store.sharing import Lease, Notice, live_claim, lock_holder, wait_limit

if TYPE_CHECKING:
    from parcours.config import JourneyConfig
    from parcours.engine.base import Query

#: the store's connection and database error types, named here so that code above the
#: store (the importer) never imports duckdb itself
Connection = duckdb.DuckDBPyConnection
DatabaseError = duckdb.Error

#: the meta key of the data version (see ``Store.transaction``)
DATA_VERSION_META = "data_version"
#: the schema of tables rebuilt from the data (``parcours.journey.materialized``); a write drops them
DERIVED_SCHEMA = "derived"
#: DuckDB's row group size: the rows it stores and compresses together, and the fewest rows one
#: transaction must insert into a table for DuckDB to write them straight to blocks (fewer go
#: through its write-ahead log, and the checkpoint compresses them on one thread)
ROW_GROUP_ROWS = 122_880


def default_db_path() -> str:
    return os.environ.get("PARCOURS_DB", "parcours.duckdb")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Store:
    """An open parcours store."""

    def __init__(self, path: str | Path, read_only: bool = False, engine: str | None = None):
        self.path = str(path)
        self.read_only = read_only
        self.in_transaction = False
        #: which engine runs analyses: duckdb (embedded) or spark; default $PARCOURS_ENGINE
        self.engine_name = engine or os.environ.get("PARCOURS_ENGINE") or "duckdb"
        if read_only and not Path(self.path).exists():
            raise ParcoursError(f"{self.path}: no such store (import data or run `parcours demo` first)")
        #: the turn borrowed from a running server (``parcours.store.sharing``), given back on close
        self.lease: Lease | None = None
        #: counts the connections opened (``rewrite`` and a lent store reopen the file): a cursor
        #: taken from an older one is closed
        self.epoch = 0
        self._cursors: list[duckdb.DuckDBPyConnection] = []
        self._engine = None
        self._config: JourneyConfig | None = None
        self._schema_version: int | None = None
        self.con = self._connect()
        try:
            if not read_only:
                self._migrate()
            elif self._pending_migrations():
                raise ParcoursError(f"{self.path}: store schema is out of date; open it once for writing")
        except BaseException:
            self.close()
            raise

    # -- the file, shared with other processes -------------------------------------
    def _connect(self) -> duckdb.DuckDBPyConnection:
        """Open the file; if another process holds it, borrow it from a server or wait, saying so."""
        notice = Notice(self.path)
        while True:
            try:
                con = duckdb.connect(self.path, read_only=self.read_only)
                break
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise ParcoursError(f"{self.path}: cannot open store: {e}") from None
                holder = lock_holder(str(e))
            claim = live_claim(self.path)
            if claim is not None and claim.pid != os.getpid() and self.lease is None:
                self.lease = Lease(claim, self.read_only)
                self.lease.acquire(notice)
                continue
            if notice.elapsed() > wait_limit():
                self._give_back()
                raise ParcoursError(f"{self.path}: the store is in use by {holder}; try again when it has "
                                    f"finished (waited {notice.elapsed():.0f} s, $PARCOURS_STORE_WAIT)")
            notice(f"the store is in use by {holder}")
            time.sleep(0.2)
        con.execute("SET TimeZone = 'UTC'")
        # DuckDB draws a progress bar on stdout for queries over 2 s (a loaded machine): it would
        # corrupt the CLI's output (JSON, a key on the last line)
        con.execute("SET enable_progress_bar = false")
        self.epoch += 1
        self._schema_version = None  # a reopened file may have been migrated by another process
        return con

    def suspend(self) -> None:
        """Close the file so that another process may open it (a server lending its store)."""
        self._close_cursors()  # an open cursor keeps the database instance, and so the file, open
        self.con.close()
        self._engine = None

    def resume(self) -> None:
        """Open the file again after ``suspend``; what the borrower changed is read afresh."""
        self.con = self._connect()
        self._config = None

    def _give_back(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None

    # -- the one door to the file ----------------------------------------------
    def execute(self, sql: Query, params: list | dict | None = None) -> duckdb.DuckDBPyConnection:
        """Run one statement; the result reads as DuckDB's (``fetchone``, ``fetchall``, ``df``, ``arrow``).

        The one door through which code outside ``store/`` and ``engine/`` reaches the file, as
        datasette's ``Database.execute``: nothing else holds the connection, so sharing the file
        with a server (``suspend``/``resume``) and rewriting it (``rewrite``) stay in one place.
        ``sql`` is a query tree (``parcours.query``) or constant text; values go in the tree as
        constants or in ``params`` (``?`` or ``$name`` placeholders), never spliced into text.
        """
        return self.con.execute(duckdb_sql(sql), params)

    def executemany(self, sql: str, rows: list) -> None:
        """Run one statement once per row of parameters."""
        self.con.executemany(sql, rows)

    def register(self, name: str, data) -> None:
        """Make a pandas or Arrow table readable in SQL as ``name`` until ``unregister(name)``."""
        self.con.register(name, data)

    def unregister(self, name: str) -> None:
        self.con.unregister(name)

    # -- schema -------------------------------------------------------------
    def cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for another thread; ``rewrite``, ``suspend`` and ``close`` close it (it would keep the file open)."""
        cur = self.con.cursor()
        self._cursors.append(cur)
        return cur

    def _close_cursors(self) -> None:
        for cur in self._cursors:
            cur.close()
        self._cursors.clear()

    def rewrite(self) -> None:
        """Copy the store into a fresh file and swap it in, so deleted rows leave no bytes behind.

        DuckDB frees the blocks of deleted rows but does not zero them: after a GDPR erase the
        person's email could still be read in the file, even after CHECKPOINT and VACUUM. The
        copy (``COPY FROM DATABASE``) holds only live rows; it replaces the file atomically
        (``os.replace``) and the store reopens it, so ``self.con`` and every cursor taken from
        it before are new (``epoch`` counts the connections). The DuckDB WAL is checkpointed away.
        """
        path = Path(self.path)
        fresh = path.with_name(path.name + ".rewrite")
        for stale in (fresh, Path(str(fresh) + ".wal")):
            stale.unlink(missing_ok=True)
        self.con.execute("CHECKPOINT")
        name = self.con.execute("SELECT current_database()").fetchone()[0]
        self.con.execute("ATTACH ? AS parcours_rewrite", [str(fresh)])
        try:
            # the database's own name (an identifier), which sqlglot cannot place in this statement
            self.con.execute('COPY FROM DATABASE "' + name.replace('"', '""') + '" TO parcours_rewrite')
            self.con.execute("CHECKPOINT parcours_rewrite")
        finally:
            self.con.execute("DETACH parcours_rewrite")
        self._close_cursors()  # an open cursor keeps the database instance, and so the old file, alive
        self.con.close()
        os.replace(fresh, path)
        Path(str(fresh) + ".wal").unlink(missing_ok=True)
        Path(str(path) + ".wal").unlink(missing_ok=True)  # checkpointed on close: nothing in it is live
        self.con = self._connect()
        self._engine = None

    def partial_tail(self, name: str) -> range:
        """The row ids of the table's trailing row groups that are not full (empty when its last one is;
        why they matter: ``parcours.journey.materialized._tail_taken``).

        Row ids are positions, but a row group the checkpoint dropped (all its rows deleted)
        leaves its ids unused, so the tail's ids are counted back from the last row's. When the
        table's last rows are deleted, the range starts that many ids early, in the group before."""
        groups = self.execute(
            "SELECT row_group_id, max(start + count) FROM pragma_storage_info(?) WHERE column_id = 0 "
            "GROUP BY row_group_id ORDER BY row_group_id", [name]).fetchall()
        tail = 0
        for _, rows in reversed(groups):
            if rows >= ROW_GROUP_ROWS:
                break
            tail += rows
        last = self.execute(sql("SELECT max(rowid) FROM {t}", t=exp.to_table(name))).fetchone()[0]
        return range(0) if last is None else range(max(last + 1 - tail, 0), last + 1)

    def schema_version(self) -> int:
        """The newest migration applied (cached: every derived table's freshness check asks for it)."""
        if self._schema_version is None:
            self._schema_version = self._read_schema_version()
        return self._schema_version

    def _read_schema_version(self) -> int:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchone()[0]
        if not exists:
            return 0
        return self.con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0]

    def _pending_migrations(self) -> list[tuple[int, str, str]]:
        """Migrations not yet recorded, in order; every one is applied, even below the newest applied."""
        if not self.schema_version():
            return list(MIGRATIONS)
        applied = {r[0] for r in self.con.execute("SELECT version FROM schema_migrations").fetchall()}
        return [m for m in MIGRATIONS if m[0] not in applied]

    def _migrate(self) -> None:
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER, description VARCHAR, applied_at TIMESTAMP)"
        )
        for version, description, ddl in self._pending_migrations():
            # no data version yet: the first migration creates the table that holds it
            with self.transaction(changes_data=False):
                self.con.execute(ddl)
                self.con.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, description, utcnow()]
                )
            self._schema_version = None

    @contextmanager
    def transaction(self, changes_data: bool = True, incremental: bool = False):
        """All or nothing: commit on success, roll back on any error.

        A committed transaction bumps the store's data version (``changes_data=False`` only for
        writes that no analysis reads), so that whatever is derived from the data (the
        materialized journey relation) knows it is stale. ``incremental=True`` promises that the
        transaction named every event batch it appended and identifier it moved (``note_batch``,
        ``note_moved``): derived tables then catch up on those customers only
        (``parcours.store.changes``); any other write makes them rebuild whole.
        """
        self.con.execute("BEGIN TRANSACTION")
        self.in_transaction = True
        try:
            yield self
            if changes_data:
                self.bump_data_version(incremental)
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")
        finally:
            self.in_transaction = False

    def data_version(self) -> int:
        """How many data-changing writes the store has seen (0 for a store that predates the count)."""
        return int(self.get_meta(DATA_VERSION_META, "0") or 0)

    def bump_data_version(self, incremental: bool = False) -> None:
        """Mark the data as changed; every write outside ``transaction()`` calls this itself.

        Unless the write was ``incremental`` (it only added events or moved named customers),
        what was derived from the data is dropped too: it is stale, and a stale copy would keep
        rows that an erasure or a retention run has just deleted.
        """
        version = self.data_version() + 1
        self.set_meta(DATA_VERSION_META, str(version))
        changes.record(self, version, incremental)
        if incremental:
            return
        derived = self.con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?",
            [DERIVED_SCHEMA],
        ).fetchall()
        for (table,) in derived:
            self.con.execute(duckdb_sql(sql("DROP TABLE {t}", t=exp.table_(table, db=DERIVED_SCHEMA, quoted=True))))

    def note_batch(self, batch_id: int) -> None:
        """Inside ``transaction(incremental=True)``: it appended the event batch ``batch_id``."""
        changes.note_batch(self, batch_id)

    def note_moved(self, moved: Query) -> None:
        """Inside ``transaction(incremental=True)``: these (identifier, before, after) changed customer."""
        changes.note_moved(self, moved)

    # -- settings -------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    # -- journey map ----------------------------------------------------------
    @property
    def config(self) -> JourneyConfig:
        """The store's journey map: the one last set, or the five-stage default."""
        if self._config is None:
            # here: opening a store (every CLI command does) needs no pydantic
            from parcours.config import default_config, parse_config

            text = self.get_meta("journey_toml")
            self._config = parse_config(text, "stored journey") if text else default_config()
        return self._config

    def set_journey(self, text: str, origin: str) -> JourneyConfig:
        """Validate a journey file's text and make it the store's journey map."""
        from parcours.config import parse_config

        config = parse_config(text, origin)
        with self.transaction(changes_data=config.analysed() != self.config.analysed()):
            self.set_meta("journey_toml", text)
        self._config = config
        return config

    # -- reading --------------------------------------------------------------
    @property
    def engine(self):
        if self._engine is None:
            from parcours.engine import engine_for_store

            self._engine = engine_for_store(self)
        return self._engine

    def close(self) -> None:
        try:
            self._close_cursors()
            self.con.close()
        finally:
            self._give_back()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_store(path: str | Path | None = None, read_only: bool = False, engine: str | None = None) -> Store:
    """Open (creating and migrating) a store; ``engine`` picks duckdb or spark for analyses."""
    return Store(path or default_db_path(), read_only=read_only, engine=engine)
