"""Engines: DuckDB (embedded, the default). Other engines subclass ``Engine``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa

from parcours.engine.dialect import duckdb_sql
from parcours.engine.groups import OutOfOrder, prefetched, whole_groups
from parcours.query import sql

if TYPE_CHECKING:
    from sqlglot import exp

    from parcours.store import Store

    #: a query: a tree (``parcours.query``), or constant DuckDB-dialect text
    Query = exp.Expression | str

#: The dialect every analysis query is written in.
DIALECT = "duckdb"


def order_columns(query: Query) -> list[str] | None:
    """The columns of ``query``'s final ORDER BY when each is a plain ascending column, else None."""
    import sqlglot
    from sqlglot import exp

    tree = query if isinstance(query, exp.Expression) else sqlglot.parse_one(query, read=DIALECT)
    order = tree.args.get("order")
    if order is None:
        return None
    names = []
    for item in order.expressions:
        if item.args.get("desc") or item.args.get("nulls_first") or not isinstance(item.this, exp.Column):
            return None
        names.append(item.this.name)
    return names


class Engine:
    """Runs analysis queries (DuckDB dialect) on one engine. Subclasses set ``name`` and implement
    ``arrow`` and ``batches``; each engine uses its own API directly, with no portable layer between."""

    name: str = "abstract"
    #: whether analyses may read tables kept in the store (``derived.*``) and rely on their stored
    #: order; an engine that reads a snapshot computes those relations itself
    reads_store_tables: bool = False

    def relation(self, query: exp.Expression) -> exp.Expression:
        """Where a query reads the relation ``query`` from (the journey relation): the query
        itself, or what an engine made of it (a view)."""
        return query

    def label_components(self, hop: Query, changed: Query) -> None:
        """Identity stitching's label propagation: ``hop`` rounds over the store's temporary
        tables ``_edges`` and ``_labels`` until ``changed`` counts no change; ``_labels`` holds the answer."""
        raise NotImplementedError

    def arrow(self, query: Query) -> pa.Table:
        """The whole result of ``query`` as an Arrow table."""
        raise NotImplementedError

    def register(self, name: str, table: pa.Table) -> None:
        """Make ``table`` readable as ``name`` by the queries that follow (a temporary view):
        for answers computed outside SQL that a query filters on (customers' conformance)."""
        raise NotImplementedError

    def batches(self, query: Query, batch_size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        """The result of ``query`` streamed as Arrow record batches of at most ``batch_size`` rows."""
        raise NotImplementedError

    def df(self, query: Query) -> pd.DataFrame:
        return self.arrow(query).to_pandas()

    def scalar(self, query: Query):
        table = self.arrow(query)
        return table.column(0)[0].as_py() if table.num_rows else None

    def map_groups(
        self,
        query: Query,
        key: str,
        fn: Callable[[pa.RecordBatch], pa.Table],
        schema: pa.Schema,
        batch_size: int = 1_000_000,
        stored_order: Query | None = None,
    ) -> pa.Table:
        """Apply ``fn`` to batches of ``query`` sorted by ``key``, never splitting a group.

        ``query`` must be ordered by ``key`` (then by whatever the kernel needs); rows
        with a NULL key form one group of their own. ``fn`` sees whole groups only and
        returns rows of ``schema``; the same function is what a distributed engine
        applies per partition. A group larger than ``batch_size`` is passed whole.

        ``stored_order`` is the same query without its ORDER BY, for when its rows already
        come in that order (a filtered scan of a table stored sorted, which DuckDB streams in
        insertion order): sorting millions of rows is most of a funnel's cost. It is tried
        first and its order checked as it streams; at the first row out of order its
        partial results are dropped and ``query`` runs instead, so the result never depends on it.
        """
        check = order_columns(query) if stored_order is not None else None
        if check:
            try:
                return self._map_batches(stored_order, key, fn, schema, batch_size, check)
            except OutOfOrder:
                pass
        return self._map_batches(query, key, fn, schema, batch_size)

    def _map_batches(self, query: Query, key: str, fn: Callable[[pa.RecordBatch], pa.Table], schema: pa.Schema,
                     batch_size: int, check: list[str] | None = None) -> pa.Table:
        # closed on the way out, so that its reader has stopped before the next query runs
        with closing(prefetched(self.batches(query, batch_size))) as rows:
            out = list(whole_groups(rows, key, fn, check or ()))
        if not out:
            return schema.empty_table()
        return pa.concat_tables([t.cast(schema) for t in out])


class DuckDBEngine(Engine):
    """The embedded default: queries run in the store's own DuckDB connection."""

    name = "duckdb"
    reads_store_tables = True

    def __init__(self, store: Store):
        self.store = store

    def label_components(self, hop: Query, changed: Query) -> None:

        con = self.store.con
        con.execute("CREATE OR REPLACE TEMP TABLE _labels AS SELECT identifier AS node, identifier AS label FROM _affected")
        next_round = duckdb_sql(sql("CREATE OR REPLACE TEMP TABLE _next AS SELECT * FROM {hop}", hop=hop))
        count = duckdb_sql(changed)
        while True:
            con.execute(next_round)
            moved = con.execute(count).fetchone()[0]
            con.execute("CREATE OR REPLACE TEMP TABLE _labels AS SELECT * FROM _next")
            if not moved:
                return

    def register(self, name: str, table: pa.Table) -> None:
        con = self.store.con
        con.abort()  # as in ``_relation``: an unfinished DB-API result would refuse the registration
        con.register(name, table)  # a view over the Arrow table: nothing is copied

    def _relation(self, query: Query):
        # DuckDB 2 refuses a relation while a DB-API result (``con.execute(...).fetchone()``) is
        # unfinished; that result is dead anyway (the next execute would discard it): drop it
        con = self.store.con
        con.abort()
        return con.sql(duckdb_sql(query))

    def df(self, query: Query) -> pd.DataFrame:
        return self._relation(query).df()

    def arrow(self, query: Query) -> pa.Table:
        return self._relation(query).to_arrow_table()

    def batches(self, query: Query, batch_size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        reader = self._relation(query).to_arrow_reader(batch_size)
        try:
            yield from reader
        finally:
            reader.close()  # the streaming result is released now, not when collected


def query_arrow(query: Query, **tables: pa.Table) -> pa.Table:
    """``query`` (a tree, or constant DuckDB text) over the given Arrow tables, in a scratch in-memory database.

    For code that shapes data before there is a store (the demo generator): the query reads
    each table by its keyword name.
    """
    import duckdb

    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false")
        for name, table in tables.items():
            con.register(name, table)
        return con.sql(duckdb_sql(query)).to_arrow_table()
    finally:
        con.close()
