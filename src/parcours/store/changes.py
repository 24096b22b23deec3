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

if TYPE_CHECKING:  # the store imports this module
    from parcours.store.store import Store

TABLE = "data_changes"
INCREMENTAL, FULL, BATCH, CUSTOMER, IDENTIFIER = "incremental", "full", "batch", "customer", "identifier"


def note_batch(store: Store, batch_id: int) -> None:
    """Inside an incremental transaction: it appended the events of ``batch_id``."""
    store.con.execute(f"INSERT INTO {TABLE} VALUES (?, '{BATCH}', ?, NULL)", [store.data_version() + 1, batch_id])


def note_moved(store: Store, moved_sql: str) -> None:
    """Inside an incremental transaction: the identifiers whose customer changed.

    ``moved_sql`` selects (identifier, before, after): the customer the identifier's events had
    and the one they have now. The identifiers say which journey rows move; both customers,
    whose step sequences change.
    """
    version = store.data_version() + 1
    store.con.execute(f"CREATE OR REPLACE TEMP TABLE _moved AS {moved_sql}")
    store.con.execute(f"INSERT INTO {TABLE} SELECT DISTINCT ?, '{IDENTIFIER}', NULL, identifier FROM _moved",
                      [version])
    store.con.execute(
        f"INSERT INTO {TABLE} SELECT DISTINCT ?, '{CUSTOMER}', NULL, c FROM "
        "(SELECT before AS c FROM _moved UNION ALL SELECT after FROM _moved) WHERE c IS NOT NULL",
        [version],
    )
    store.con.execute("DROP TABLE _moved")


def record(store: Store, version: int, incremental: bool) -> None:
    """The marker of a committed write (called by ``Store.bump_data_version``)."""
    if not incremental:
        store.con.execute(f"DELETE FROM {TABLE}")
    store.con.execute(f"INSERT INTO {TABLE} VALUES (?, ?, NULL, NULL)",
                      [version, INCREMENTAL if incremental else FULL])


def incremental_since(store: Store, version: int) -> bool:
    """Whether every write after ``version`` (up to now) was incremental and is still in the log."""
    now = store.data_version()
    if version >= now:
        return version == now
    n, inc = store.con.execute(
        f"SELECT count(DISTINCT version), count(DISTINCT version) FILTER (WHERE kind = '{INCREMENTAL}') "
        f"FROM {TABLE} WHERE version > ? AND version <= ? AND kind IN ('{INCREMENTAL}', '{FULL}')",
        [version, now],
    ).fetchone()
    return n == inc == now - version


def batches_sql(version: int) -> str:
    """The event batches appended after ``version``."""
    return f"SELECT batch_id FROM {TABLE} WHERE kind = '{BATCH}' AND version > {int(version)}"


def customers_sql(version: int) -> str:
    """The customers whose events moved after ``version`` (both the one before and the one after)."""
    return f"SELECT customer_id FROM {TABLE} WHERE kind = '{CUSTOMER}' AND version > {int(version)}"


def identifiers_sql(version: int) -> str:
    """The identifiers whose customer changed after ``version``."""
    return f"SELECT customer_id FROM {TABLE} WHERE kind = '{IDENTIFIER}' AND version > {int(version)}"


def prune(store: Store, version: int) -> None:
    """Forget what no derived table needs any more: the writes up to ``version``."""
    store.con.execute(f"DELETE FROM {TABLE} WHERE version <= ?", [version])
