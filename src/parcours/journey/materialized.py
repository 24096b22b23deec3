"""The journey relation, materialized: a table analyses read instead of recomputing it.

Recomputing the relation on every query (the identity-map join, the touchpoint CASE over
JSON properties, the stage lookups) is most of what a path or directly-follows query costs.
``derived.journey`` holds the same rows and columns, sorted by (customer_id, timestamp) so
that per-customer window functions and ``map_groups`` scans read it in order.

Freshness is one stamp: the store's data version (bumped by every data-changing write, see
``Store.transaction``), the journey map's hash and the schema version. The table carries
the stamp it was built from as its comment; ``journey_source`` returns the table when the
stamps agree, rebuilds it when they differ and the store is writable, and otherwise gives
the live SQL (a read-only connection, an open transaction, or another engine, which reads
its own snapshot of the base tables). Every data-changing write also drops the table (see
``Store.bump_data_version``), so a stale copy never keeps erased personal data around.

It lives in the schema ``derived``, not ``main``: the tables of ``main`` are the data
(GDPR export, Spark snapshots walk them), ``derived`` only what can be rebuilt from them.
"""

from __future__ import annotations

import hashlib
import time

from parcours.journey.relation import journey_sql
from parcours.store.store import DERIVED_SCHEMA, Store

#: the materialized relation
TABLE = f"{DERIVED_SCHEMA}.journey"


def stamp(store: Store) -> str:
    """What the relation is built from: data version, journey map, schema version."""
    config = hashlib.sha256(store.config.model_dump_json().encode()).hexdigest()[:16]
    return f"v{store.data_version()}:c{config}:s{store.schema_version()}"


def built_stamp(store: Store) -> str | None:
    """The stamp the table was built from, None when there is no table."""
    row = store.con.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = 'journey'",
        [DERIVED_SCHEMA],
    ).fetchone()
    return row[0] if row else None


def is_fresh(store: Store) -> bool:
    return built_stamp(store) == stamp(store)


def materialize(store: Store) -> float:
    """(Re)build the table from the live relation; returns the seconds it took."""
    t0 = time.perf_counter()
    current = stamp(store)
    with store.transaction(changes_data=False) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {DERIVED_SCHEMA}")
        con.execute(
            f"CREATE OR REPLACE TABLE {TABLE} AS {journey_sql(store.config)} ORDER BY customer_id, timestamp"
        )
        con.execute(f"COMMENT ON TABLE {TABLE} IS '{current}'")
    return time.perf_counter() - t0


def journey_source(store: Store) -> str:
    """Where to read the journey relation from: the fresh table's name or the live SQL in brackets."""
    if store.engine_name == "duckdb":
        if is_fresh(store):
            return TABLE
        # inside a caller's transaction a rebuild would be part of it (and dropped by its commit)
        if not store.read_only and not store.in_transaction:
            materialize(store)
            return TABLE
    return f"({journey_sql(store.config)})"
