"""Engines: DuckDB (embedded, the default). Other engines subclass ``Engine``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING

import ibis
import pandas as pd
import pyarrow as pa

from parcours.engine.groups import OutOfOrder, prefetched, whole_groups
from parcours.errors import ParcoursError

if TYPE_CHECKING:
    from parcours.store import Store

#: The dialect every analysis query is written in.
DIALECT = "duckdb"


def order_columns(query: str) -> list[str] | None:
    """The columns of ``query``'s final ORDER BY when each is a plain ascending column, else None."""
    import sqlglot
    from sqlglot import exp

    order = sqlglot.parse_one(query, read=DIALECT).args.get("order")
    if order is None:
        return None
    names = []
    for item in order.expressions:
        if item.args.get("desc") or item.args.get("nulls_first") or not isinstance(item.this, exp.Column):
            return None
        names.append(item.this.name)
    return names


class Engine:
    """Runs analysis queries. Subclasses set ``name`` and ``backend`` (an Ibis backend)."""

    name: str = "abstract"
    backend: ibis.BaseBackend

    def sql(self, query: str) -> ibis.Table:
        """The result of a DuckDB-dialect query, as an Ibis table on this engine."""
        return self.backend.sql(query, dialect=DIALECT)

    def df(self, query: str) -> pd.DataFrame:
        return self.sql(query).to_pandas()

    def arrow(self, query: str) -> pa.Table:
        return self.sql(query).to_pyarrow()

    def scalar(self, query: str):
        table = self.arrow(query)
        return table.column(0)[0].as_py() if table.num_rows else None

    def batches(self, query: str, batch_size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        yield from self.sql(query).to_pyarrow_batches(chunk_size=batch_size)

    def map_groups(
        self,
        query: str,
        key: str,
        fn: Callable[[pa.RecordBatch], pa.Table],
        schema: pa.Schema,
        batch_size: int = 1_000_000,
        stored_order: str | None = None,
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

    def _map_batches(self, query: str, key: str, fn: Callable[[pa.RecordBatch], pa.Table], schema: pa.Schema,
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

    def __init__(self, store: Store):
        self.store = store
        self.backend = ibis.duckdb.from_connection(store.con)

    def df(self, query: str) -> pd.DataFrame:
        # the same DuckDB SQL without Ibis's schema probe: one query instead of two
        return self.store.con.sql(query).df()

    def arrow(self, query: str) -> pa.Table:
        return self.store.con.sql(query).to_arrow_table()

    def batches(self, query: str, batch_size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        reader = self.store.con.sql(query).to_arrow_reader(batch_size)
        try:
            yield from reader
        finally:
            reader.close()  # the streaming result is released now, not when collected


#: the engines a store can run its analyses on
ENGINES = ("duckdb", "spark")


def engine_for_store(store: Store) -> Engine:
    """The engine named by ``store.engine_name`` (duckdb unless told otherwise)."""
    name = getattr(store, "engine_name", "duckdb")
    if name == "duckdb":
        return DuckDBEngine(store)
    if name == "spark":
        from parcours.engine.spark import SparkEngine  # pyspark is an optional extra

        return SparkEngine(store)
    raise ParcoursError(f"engine {name!r}: unknown; choose one of {', '.join(ENGINES)} (--engine / $PARCOURS_ENGINE)")
