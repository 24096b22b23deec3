"""Derived relations, materialized: tables analyses read instead of recomputing them.

Recomputing the journey relation on every query (the identity-map join, the touchpoint CASE
over JSON properties, the stage lookups) is most of what a path or directly-follows query
costs, and the per-customer window functions over it most of the rest. A ``Derived`` names
one such relation: its table in the schema ``derived``, the SQL its rows come from and the
order they are stored in. ``derived.journey`` is the first (the journey relation, sorted by
(customer_id, then ``EVENT_ORDER``) so that window functions and ``map_groups`` scans read it in order);
``parcours.analytics.sequences`` adds the step sequences.

Freshness is one stamp for all of them: the store's data version (bumped by every
data-changing write, see ``Store.transaction``), the journey map's hash and the schema
version. A table carries the stamp it was built from as its comment; ``source`` returns the
table when the stamps agree, rebuilds it when they differ and the store is writable, and
otherwise returns None so that the caller computes the relation live (a read-only
connection, an open transaction, or another engine, which reads its own snapshot of the base
tables). Every data-changing write also drops the whole ``derived`` schema's tables (see
``Store.bump_data_version``), so a stale copy never keeps erased personal data around.

They live in ``derived``, not ``main``: the tables of ``main`` are the data (GDPR export,
Spark snapshots walk them), ``derived`` only what can be rebuilt from them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from parcours.engine import engine_class
from parcours.journey.relation import EVENT_ORDER, journey_sql
from parcours.store.store import DERIVED_SCHEMA, Store


@dataclass(frozen=True)
class Derived:
    """A relation rebuilt from the data: its table name, the SQL of its rows, their stored order."""

    name: str  #: the table's name in the ``derived`` schema
    #: the SQL of its rows; called outside any transaction, after the ``needs`` are fresh, so
    #: it may read their tables
    sql: Callable[[Store], str]
    order: str  #: ORDER BY of the stored rows
    needs: tuple[Derived, ...] = ()  #: derived relations its SQL reads, built first

    @property
    def table(self) -> str:
        return f"{DERIVED_SCHEMA}.{self.name}"


#: the journey relation, as ``parcours.journey.relation.journey_sql`` computes it
JOURNEY = Derived("journey", lambda store: journey_sql(store.config), f"customer_id, {EVENT_ORDER}")
#: the materialized journey relation's table
TABLE = JOURNEY.table


def stamp(store: Store) -> str:
    """What every derived relation is built from: data version, journey map, schema version."""
    config = hashlib.sha256(store.config.model_dump_json().encode()).hexdigest()[:16]
    return f"v{store.data_version()}:c{config}:s{store.schema_version()}"


def built_stamp(store: Store, relation: Derived = JOURNEY) -> str | None:
    """The stamp the relation's table was built from, None when there is no table."""
    row = store.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [DERIVED_SCHEMA, relation.name],
    ).fetchone()
    return row[0] if row else None


def is_fresh(store: Store, relation: Derived = JOURNEY) -> bool:
    return built_stamp(store, relation) == stamp(store)


def materialize(store: Store, relation: Derived = JOURNEY) -> float:
    """(Re)build the relation's table (and any stale table it needs); returns the seconds it took."""
    t0 = time.perf_counter()
    for need in relation.needs:
        if not is_fresh(store, need):
            materialize(store, need)
    current = stamp(store)
    sql = relation.sql(store)  # before the transaction: it may read (fresh) derived tables
    with store.transaction(changes_data=False):
        store.execute(f"CREATE SCHEMA IF NOT EXISTS {DERIVED_SCHEMA}")
        store.execute(f"CREATE OR REPLACE TABLE {relation.table} AS {sql} ORDER BY {relation.order}")
        store.execute(f"COMMENT ON TABLE {relation.table} IS '{current}'")
    return time.perf_counter() - t0


def source(store: Store, relation: Derived) -> str | None:
    """The relation's fresh table (rebuilt first when stale and the store can write it), else None."""
    if not engine_class(store.engine_name).reads_store_tables:
        return None
    if is_fresh(store, relation):
        return relation.table
    # inside a caller's transaction a rebuild would be part of it (and dropped by its commit)
    if not store.read_only and not store.in_transaction:
        materialize(store, relation)
        return relation.table
    return None


def journey_source(store: Store) -> str:
    """Where to read the journey relation from: the fresh table's name or the live SQL in brackets."""
    return source(store, JOURNEY) or store.engine.relation(journey_sql(store.config))
