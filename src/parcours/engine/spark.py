"""Apache Spark: the same DuckDB-dialect analysis SQL, run by Spark over a Parquet snapshot.

The store stays the DuckDB file. Spark reads a snapshot of its tables, written as
Parquet (which DuckDB reads too) into ``<store>.spark/<data version>/<table>.parquet``
and registered as temporary views under the tables' own names, so an analysis query
runs unchanged. The data version is a fingerprint of the tables' contents: a new
import, a stitch, a saved segment gives a new snapshot; an unchanged store reuses the
one on disk. Queries are transpiled with sqlglot (``parcours.engine.dialect``) and the
results come back to the driver as Arrow. ``map_groups`` repartitions by the key, sorts
within partitions and runs the very kernel of the DuckDB engine in ``mapInArrow``.

The journey relation (the identity-map join and the touchpoint matching over JSON
properties) is what most analysis queries are built on, and Spark does not reuse a
subquery that a plan reads several times. So, as DuckDB keeps ``derived.journey``, Spark
computes the relation once per snapshot and journey map when a query asks for it
(``Engine.relation``), writes it as Parquet into the snapshot
(``derived/journey-<hash of its SQL>.parquet``) and the query reads the view ``_journey``:
the same rows, computed by Spark, once.

One Spark session per process: local mode ``local[2]`` unless ``$PARCOURS_SPARK`` names
a master URL (``spark://...``, ``yarn``) or a Spark Connect address (``sc://...``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
from sqlglot import exp

from parcours.engine.base import Engine
from parcours.engine.dialect import duckdb_sql, parse, to_spark
from parcours.engine.groups import whole_groups
from parcours.errors import ParcoursError
from parcours.query import column, sql

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from parcours.engine.base import Query
    from parcours.store import Store

#: bump when the snapshot layout changes, so old snapshots are not reused
SNAPSHOT_FORMAT = 1
#: the master when $PARCOURS_SPARK is unset: two local cores
DEFAULT_MASTER = "local[2]"

_session: SparkSession | None = None
_registered: str | None = None  # the snapshot folder whose tables are the views now
_journey_registered: str | None = None  # the journey Parquet that the view _journey shows now
_views: dict[str, pa.Table] = {}  # the Arrow table each registered view shows now
#: the view name the live journey relation is replaced by
JOURNEY_VIEW = "_journey"


def spark_address() -> str:
    return os.environ.get("PARCOURS_SPARK") or DEFAULT_MASTER


def spark_session() -> SparkSession:
    """The process's one Spark session, started on first use."""
    global _session
    if _session is not None:
        return _session
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ParcoursError("engine spark: pyspark is not installed (pip install 'parcours[spark]')") from None
    # executors run the kernels: the same interpreter, with parcours and numba
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    address = spark_address()
    builder = SparkSession.builder.appName("parcours")
    if address.startswith("sc://"):
        builder = builder.remote(address)
    else:
        builder = (
            builder.master(address)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", os.environ.get("PARCOURS_SPARK_MEMORY", "2g"))
        )
        if address.startswith("local"):
            # small data per query on few cores: many shuffle partitions only cost start-up
            builder = builder.config("spark.sql.shuffle.partitions", "4").config(
                "spark.sql.adaptive.coalescePartitions.enabled", "true"
            )
    try:
        session = builder.getOrCreate()
    except Exception as e:  # a missing Java or an unreachable master: say which
        raise ParcoursError(f"engine spark: cannot start a session at {address}: {str(e).splitlines()[0]}") from None
    if not address.startswith("sc://"):
        session.sparkContext.setLogLevel("FATAL")
    conf = {
        "spark.sql.session.timeZone": "UTC",
        # TIMESTAMP means what it means in the store: UTC wall time without a zone
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.ansi.enabled": "false",
        "spark.sql.execution.arrow.maxRecordsPerBatch": "200000",
    }
    for key, value in conf.items():
        session.conf.set(key, value)
    _session = session
    return session


# -- the snapshot ------------------------------------------------------------

def _tables(store: Store) -> list[str]:
    return [r[0] for r in store.con.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()]


def data_version(store: Store) -> str:
    """A fingerprint of the store's contents: equal fingerprints, equal snapshots.

    Events are append-only (or deleted whole, for GDPR), so their largest batch and
    their count name them; every other table is small and hashed row by row.
    """
    parts = [str(SNAPSHOT_FORMAT), str(store.schema_version())]
    for table in _tables(store):
        if table == "events":
            row = store.con.execute("SELECT coalesce(max(batch_id), 0), count(*) FROM events").fetchone()
        else:
            row = store.con.execute(duckdb_sql(sql("SELECT count(*), coalesce(bit_xor(hash(t)), 0) FROM {table} t",
                                                   table=_table(table)))).fetchone()
        parts.append(f"{table}:{row[0]}:{row[1]}")
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def snapshot_root(store: Store) -> Path:
    if store.path == ":memory:":
        raise ParcoursError("engine spark: needs a store file (its Parquet snapshot lies beside it)")
    path = Path(store.path)
    return path.with_name(path.name + ".spark")


def _table(name: str) -> exp.Table:
    """A table of the store's ``main`` schema, its name quoted."""
    return exp.table_(name, quoted=True)


def _columns(store: Store, table: str) -> list[exp.Expression]:
    cols = store.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position", [table]
    ).fetchall()
    # JSON is text to Spark (its json functions read strings)
    return [exp.alias_(sql("CAST({c} AS VARCHAR)", c=column(c)), c, quoted=True) if t == "JSON" else column(c)
            for c, t in cols]


def export_snapshot(store: Store) -> Path:
    """Write (once per data version) the store's tables as Parquet; return the folder."""
    root = snapshot_root(store)
    folder = root / data_version(store)
    if (folder / "_SUCCESS").exists():
        return folder
    tmp = root / f".{folder.name}.{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for table in _tables(store):
        rows = sql("SELECT {columns} FROM {table}", columns=_columns(store, table), table=_table(table))
        store.con.sql(duckdb_sql(rows)).write_parquet(str(tmp / f"{table}.parquet"))
    (tmp / "_SUCCESS").touch()
    try:
        tmp.rename(folder)
    except OSError:  # another process wrote the same version first: use theirs
        shutil.rmtree(tmp, ignore_errors=True)
    for old in root.iterdir():
        if old != folder and not old.name.startswith("."):
            shutil.rmtree(old, ignore_errors=True)
    return folder


# -- the engine ----------------------------------------------------------------

class SparkEngine(Engine):
    """Analyses on Spark, over the store's Parquet snapshot."""

    name = "spark"

    def __init__(self, store: Store):
        self.store = store
        self.session = spark_session()

    def sync(self) -> Path:
        """Make the temporary views show the store's current data; return the snapshot folder."""
        global _registered
        folder = export_snapshot(self.store)
        if _registered != str(folder):
            for file in sorted(folder.glob("*.parquet")):
                self.session.read.parquet(str(file)).createOrReplaceTempView(file.stem)
            _registered = str(folder)
        return folder

    def journey(self, folder: Path, live: Query) -> None:
        """Make the view ``_journey`` hold the rows of ``live``, the journey relation's query.

        Computed by Spark from the snapshot's tables on first use and written into the
        snapshot's ``derived/`` folder (a temporary folder renamed into place, as the
        snapshot is), so that it goes when the snapshot goes.
        """
        global _journey_registered
        digest = hashlib.sha1(duckdb_sql(live).encode()).hexdigest()[:16]
        target = folder / "derived" / f"journey-{digest}.parquet"
        if _journey_registered == str(target):
            return
        if not target.exists():
            tmp = target.with_name(f".{target.name}.{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            self.session.sql(to_spark(live)).write.parquet(str(tmp))
            try:
                tmp.rename(target)
            except OSError:  # another process wrote it first: use theirs
                shutil.rmtree(tmp, ignore_errors=True)
        self.session.read.parquet(str(target)).createOrReplaceTempView(JOURNEY_VIEW)
        _journey_registered = str(target)

    def relation(self, query: exp.Expression) -> exp.Expression:
        """The view ``_journey`` holding the rows of the relation ``query``, made if needed."""
        self.journey(self.sync(), query)
        return exp.to_table(JOURNEY_VIEW)

    def label_components(self, hop: Query, changed: Query) -> None:
        """The same rounds run on Spark; only the labels come back into the store."""
        con = self.store.con
        con.abort()
        edges = con.sql("SELECT a, b FROM _edges").to_arrow_table()
        nodes = con.sql("SELECT identifier AS node, identifier AS label FROM _affected").to_arrow_table()
        con.register("_spark_labels", connected_components(edges, nodes, hop, changed))
        try:
            con.execute("CREATE OR REPLACE TEMP TABLE _labels AS SELECT node, label FROM _spark_labels")
        finally:
            con.unregister("_spark_labels")

    def register(self, name: str, table: pa.Table) -> None:
        """A temporary view of ``table``, made again only when the table is another one."""
        from pyspark.sql.pandas.types import from_arrow_schema

        if _views.get(name) is not table:
            frame = self.session.createDataFrame(table.to_pandas(), schema=from_arrow_schema(table.schema))
            frame.createOrReplaceTempView(name)
            _views[name] = table

    def frame(self, query: Query) -> DataFrame:
        """A DuckDB-dialect query as a Spark DataFrame over the current snapshot."""
        self.sync()
        return self.session.sql(to_spark(query))

    def arrow(self, query: Query) -> pa.Table:
        return _plain(self.frame(query).toArrow())

    def df(self, query: Query) -> pd.DataFrame:
        table = self.arrow(query)
        df = table.to_pandas()
        # as DuckDB's .df() does: a boolean column with NULLs is pandas' nullable boolean
        for field, values in zip(table.schema, table.columns, strict=True):
            if pa.types.is_boolean(field.type) and values.null_count:
                df[field.name] = df[field.name].astype("boolean")
        return df

    def batches(self, query: Query, batch_size: int = 1_000_000) -> Iterator[pa.RecordBatch]:
        yield from self.arrow(query).to_batches(max_chunksize=batch_size)

    def map_groups(
        self,
        query: Query,
        key: str,
        fn: Callable[[pa.RecordBatch], pa.Table],
        schema: pa.Schema,
        batch_size: int = 1_000_000,
        stored_order: Query | None = None,
    ) -> pa.Table:
        """Partition by ``key``, sort each partition as ``query``'s ORDER BY says, run ``fn`` per partition.

        ``stored_order`` is not used: a repartitioned frame has no stored order to rely on.
        """
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        tree = parse(query) if isinstance(query, str) else query.copy()
        order = tree.args.get("order")
        tree.set("order", None)
        sort = []
        for item in order.expressions if order else [exp.Ordered(this=column(key))]:
            sorted_by = F.expr(to_spark(item.this))
            # DuckDB puts NULLs last whichever the direction
            first = bool(item.args.get("nulls_first"))
            if item.args.get("desc"):
                sort.append(sorted_by.desc_nulls_first() if first else sorted_by.desc_nulls_last())
            else:
                sort.append(sorted_by.asc_nulls_first() if first else sorted_by.asc_nulls_last())
        frame = self.frame(tree).repartition(F.col(key)).sortWithinPartitions(*sort)

        def per_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            for table in whole_groups(batches, key, fn):
                yield from table.cast(schema).to_batches()

        result = frame.mapInArrow(per_partition, from_arrow_schema(schema)).toArrow()
        return _plain(result).cast(schema)


def _plain(table: pa.Table) -> pa.Table:
    """Zone-aware timestamps as UTC wall time, the way DuckDB returns the store's TIMESTAMPs."""
    fields = []
    for field in table.schema:
        if pa.types.is_timestamp(field.type) and field.type.tz is not None:
            field = field.with_type(pa.timestamp(field.type.unit))
        fields.append(field)
    schema = pa.schema(fields)
    return table if schema == table.schema else table.cast(schema)


def connected_components(edges: pa.Table, nodes: pa.Table, hop: Query, changed: Query) -> pa.Table:
    """Identity stitching's label propagation on Spark: the store's own round query, iterated.

    ``edges`` (a, b) and ``nodes`` (node, label) come from the store; each round is
    ``hop`` over the views ``_edges`` and ``_labels`` (checkpointed, so the plan does
    not grow with the rounds) until ``changed`` counts no change. Returns (node, label).
    """
    session = spark_session()
    session.createDataFrame(edges.to_pandas(), "a string, b string").createOrReplaceTempView("_edges")
    labels = session.createDataFrame(nodes.to_pandas(), "node string, label string").localCheckpoint()
    labels.createOrReplaceTempView("_labels")
    hop_text, changed_text = to_spark(hop), to_spark(changed)
    while True:
        following = session.sql(hop_text).localCheckpoint()
        following.createOrReplaceTempView("_next")
        moved = session.sql(changed_text).collect()[0][0]
        following.createOrReplaceTempView("_labels")
        if not moved:
            break
    result = session.table("_labels").toArrow()
    for view in ("_edges", "_labels", "_next"):
        session.catalog.dropTempView(view)
    return result
