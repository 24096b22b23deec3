"""Engines: DuckDB (embedded, the default). Other engines subclass ``Engine``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import ibis
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from parcours.store import Store

#: The dialect every analysis query is written in.
DIALECT = "duckdb"


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
    ) -> pa.Table:
        """Apply ``fn`` to batches of ``query`` sorted by ``key``, never splitting a group.

        ``query`` must be ordered by ``key`` (then by whatever the kernel needs); rows
        with a NULL key form one group of their own. ``fn`` sees whole groups only and
        returns rows of ``schema``; the same function is what a distributed engine
        applies per partition. A group larger than ``batch_size`` is passed whole.
        """
        out: list[pa.Table] = []
        carry: pa.RecordBatch | None = None
        for batch in self.batches(query, batch_size):
            if carry is not None and carry.num_rows:
                batch = pa.Table.from_batches([carry, batch]).combine_chunks().to_batches()[0]
            if batch.num_rows == 0:
                continue
            keys = batch.column(key)
            last = keys[batch.num_rows - 1]
            # the trailing group may continue in the next batch: hold it back
            same = pc.is_null(keys) if not last.is_valid else pc.fill_null(pc.equal(keys, last), False)
            cut = batch.num_rows - pc.sum(same).as_py()
            carry = batch.slice(cut)
            if cut:
                out.append(fn(batch.slice(0, cut)))
        if carry is not None and carry.num_rows:
            out.append(fn(carry))
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
        yield from reader


def engine_for_store(store: Store) -> Engine:
    return DuckDBEngine(store)
