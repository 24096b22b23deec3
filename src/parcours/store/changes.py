"""The change log: what each data-changing write did, so that derived tables can catch up incrementally.

Every committed data-changing write bumps the store's data version (``Store.transaction``) and
leaves one marker row in ``data_changes`` for that version: ``incremental`` when the write
named everything it changed (the event batches it appended, the customers whose events it
moved, e.g. a stitching run that merged two customers: the identifiers whose customer changed,
with the customer before and after), ``full`` otherwise (a GDPR erase, a
new journey map, a full re-stitch). A derived table built at version ``b`` can be brought to
the current version ``v`` by recomputing the named customers only when every version in
``(b, v]`` has an ``incremental`` marker; a gap (a store older than the log) or a ``full``
marker means a rebuild. A ``full`` write clears the log, so the customer ids an erased person
had do not stay behind in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parcours.engine.dialect import duckdb_sql
from parcours.query import Query, column, sql

if TYPE_CHECKING:  # the store imports this module
    from parcours.store.store import Store

INCREMENTAL, FULL, BATCH, CUSTOMER, IDENTIFIER = "incremental", "full", "batch", "customer", "identifier"


def note_batch(store: Store, batch_id: int) -> None:
    """Inside an incremental transaction: it appended the events of ``batch_id``."""
    store.con.execute("INSERT INTO data_changes VALUES (?, ?, ?, NULL)", [store.data_version() + 1, BATCH, batch_id])


def note_moved(store: Store, moved: Query) -> None:
    """Inside an incremental transaction: the identifiers whose customer changed.

    ``moved`` selects (identifier, before, after): the customer the identifier's events had
    and the one they have now (a query tree). The identifiers say which
    journey rows move; both customers, whose step sequences change.
    """
    version = store.data_version() + 1
    store.con.execute(duckdb_sql(sql("CREATE OR REPLACE TEMP TABLE _moved AS {moved}", moved=moved)))
    store.con.execute("INSERT INTO data_changes SELECT DISTINCT ?, ?, NULL, identifier FROM _moved",
                      [version, IDENTIFIER])
    store.con.execute(
        "INSERT INTO data_changes SELECT DISTINCT ?, ?, NULL, c FROM "
        "(SELECT before AS c FROM _moved UNION ALL SELECT after FROM _moved) WHERE c IS NOT NULL",
        [version, CUSTOMER],
    )
    store.con.execute("DROP TABLE _moved")


def record(store: Store, version: int, incremental: bool) -> None:
    """The marker of a committed write (called by ``Store.bump_data_version``)."""
    if not incremental:
        store.con.execute("DELETE FROM data_changes")
    store.con.execute("INSERT INTO data_changes VALUES (?, ?, NULL, NULL)",
                      [version, INCREMENTAL if incremental else FULL])


def incremental_since(store: Store, version: int) -> bool:
    """Whether every write after ``version`` (up to now) was incremental and is still in the log."""
    now = store.data_version()
    if version >= now:
        return version == now
    n, inc = store.con.execute(
        "SELECT count(DISTINCT version), count(DISTINCT version) FILTER (WHERE kind = ?) "
        "FROM data_changes WHERE version > ? AND version <= ? AND kind IN (?, ?)",
        [INCREMENTAL, version, now, INCREMENTAL, FULL],
    ).fetchone()
    return n == inc == now - version


def _logged(kind: str, name: str, version: int) -> Query:
    return sql("SELECT {name} FROM data_changes WHERE kind = {kind} AND version > {version}",
               name=column(name), kind=kind, version=int(version))


def batches(version: int) -> Query:
    """The event batches appended after ``version``."""
    return _logged(BATCH, "batch_id", version)


def customers(version: int) -> Query:
    """The customers whose events moved after ``version`` (both the one before and the one after)."""
    return _logged(CUSTOMER, "customer_id", version)


def identifiers(version: int) -> Query:
    """The identifiers whose customer changed after ``version``."""
    return _logged(IDENTIFIER, "customer_id", version)


def prune(store: Store, version: int) -> None:
    """Forget what no derived table needs any more: the writes up to ``version``."""
    store.con.execute("DELETE FROM data_changes WHERE version <= ?", [version])
