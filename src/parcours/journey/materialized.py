"""Derived relations, materialized: tables analyses read instead of recomputing them.

Recomputing the journey relation on every query (the identity-map join, the touchpoint CASE
over JSON properties, the stage lookups) is most of what a path or directly-follows query
costs, and the per-customer window functions over it most of the rest. A ``Derived`` names
one such relation: its table in the schema ``derived``, the query its rows come from (a tree,
``parcours.query``) and the order they are stored in. ``derived.journey`` is the first (the
journey relation, sorted by (customer_id, then ``EVENT_ORDER_COLUMNS``) so that window functions and ``map_groups`` scans read it in order);
``parcours.analytics.paths.sequences`` adds the step sequences.

Freshness is one stamp for all of them: the store's data version (bumped by every
data-changing write, see ``Store.transaction``), the journey map's hash and the schema
version. A table carries the stamp it was built from as its comment; ``source`` returns the
table when the stamps agree, brings it up to date (``refresh``) when they differ and the store
is writable, and otherwise returns None so that the caller computes the relation live (a
read-only connection, an open transaction, or another engine, which reads its own snapshot of
the base tables). Every data-changing write other than appends and stitching also drops the
whole ``derived`` schema's tables (see ``Store.bump_data_version``), so a stale copy never
keeps erased personal data around.

They live in ``derived``, not ``main``: the tables of ``main`` are the data (GDPR export,
Spark snapshots walk them), ``derived`` only what can be rebuilt from them.

Catching up incrementally (``refresh``). A write that only appends events (an import batch, a
collector batch) or moves identifiers to other customers (a stitching run, an unmerge) keeps
the tables and names what it touched in the change log (``parcours.store.changes``). When
every write since a table was built did so, ``refresh`` deletes the rows that changed and
inserts them again from the relation's SQL narrowed to them, in one transaction (each
``Derived.catch_up`` says which rows, and may update some in place: a ``CatchUp``): the
journey, whose rows depend on the event and its identifier's customer only, the appended events
and the moved identifiers' events; the live state, whose rows depend on all of a customer's
events, every changed customer (the current customer of each appended event, both customers of
each moved identifier); the step sequences, each changed customer's rows from its first
changed step on (``parcours.analytics.paths.sequences``). Anything else (GDPR, a new journey map, a full re-stitch, a store older than the
log) rebuilds whole. What changed is worked out once per ``refresh_all`` for all the tables
built at the same version. The caught-up rows are appended, so the table is no longer stored in
full (customer, time) order; readers that stream in stored order check it and sort when it
does not hold (``Engine.map_groups``); for the journey, which funnels stream, the rows appended
are counted (``in_stored_order``: a funnel then sorts at once rather than finding out at the
table's end) and ``journey refresh`` sorts the table again once they pass ``COMPACT_SHARE``.
A catch-up of a quarter of a row group or more also inserts again the rows of its table's
trailing partial row groups, so that the table keeps full row groups (``_tail_taken``).
See docs/live.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from sqlglot import exp

from parcours.engine import engine_class
from parcours.query import Query, column, sql, table
from parcours.query.journey import EVENT_ORDER_COLUMNS, identity_key, journey
from parcours.store import changes
from parcours.store.store import DERIVED_SCHEMA, ROW_GROUP_ROWS, Store


@dataclass(frozen=True)
class Derived:
    """A relation rebuilt from the data: its table name, the query of its rows, their stored order.

    The queries are trees (``parcours.query``)."""

    name: str  #: the table's name in the ``derived`` schema
    #: the query of its rows; called outside any transaction, after the ``needs`` are fresh, so
    #: it may read their tables
    sql: Callable[[Store], Query]
    #: the columns the rows are stored in order of
    order: tuple[str, ...]
    needs: tuple[Derived, ...] = ()  #: derived relations its query reads, built first
    #: how to catch its table up with the writes named in the change log (``Changes``), given the
    #: table as built: a ``CatchUp``, or None when it cannot (then it is rebuilt whole). Called
    #: inside the refresh's transaction, after the ``needs`` are fresh.
    catch_up: Callable[[Store, Changes], CatchUp | None] | None = None
    #: whether readers stream the table in stored order (``Engine.map_groups``): its catch-ups,
    #: which append rows out of that order, are then counted (``in_stored_order``) and
    #: ``refresh_all(sort=True)`` sorts it again once they pass ``COMPACT_SHARE`` of its rows
    streamed: bool = False

    @property
    def table(self) -> str:
        return f"{DERIVED_SCHEMA}.{self.name}"

    def ordered(self, query: Query) -> Query:
        """``query`` with the stored order's ORDER BY."""
        return query.order_by(*(column(n) for n in self.order))


@dataclass(frozen=True)
class Changes:
    """What the writes since a table was built changed, as queries selecting ids (see ``refresh``)."""

    #: event batches appended
    batches: tuple[int, ...]
    #: the appended events (a table: a copy whose size DuckDB knows, so that it joins the
    #: identity map to them rather than hashing the whole map)
    events: exp.Table
    #: the appended events' journey rows (a table: computed once for every table that catches up)
    journey: exp.Table
    #: how many appended events there are (rows in ``journey``)
    size: int
    #: identifiers whose customer changed (stitching: a merge, a new link, an unmerge)
    moved: Query
    #: every customer whose events changed: the current customer of each appended event, and the
    #: customers before and after of each moved identifier
    customers: Query
    #: the rowids in ``events`` of the moved identifiers' events loaded before (not appended);
    #: None when there are none (often: an identify that joins a new anonymous id moves an
    #: identifier with no earlier events), so that nothing is deleted or re-read for them
    moved_rows: Query | None = None
    #: the customers some of whose earlier events changed customer (the customers before and after
    #: of the moved identifiers, when ``moved_rows`` has any): their rows that depend on all their
    #: events are recomputed whole; None when there are none. The other changed customers only
    #: gained appended events, so a relation ordered in time may keep their rows before the first one
    whole: Query | None = None

    @property
    def appended(self) -> Query:
        """A condition on ``events``: the event is in an appended batch (a list DuckDB pushes into its scan)."""
        return _in_batches(self.batches)


def _in_batches(batches: tuple[int, ...]) -> Query:
    """A condition on ``events``: the event is in one of ``batches``."""
    # FALSE written here: an empty list bound in a template that is the IN itself stays unbound
    return sql("batch_id IN ({batches})", batches=list(batches)) if batches else exp.false()


@dataclass(frozen=True)
class CatchUp:
    """How a table catches up: the rows to delete, then the rows to insert, then the rows they replace.

    A catch-up may also have updated rows in place already (cheaper than deleting and inserting
    whole rows when a few columns change): it says how many, so that ``Refresh.rows`` counts
    every row computed again."""

    rows: Query  #: the query of the rows to insert
    deleted: Query | None = None  #: a condition on the rows to delete first (None: none)
    updated: int = 0  #: the rows the catch-up updated in place
    #: a condition on the rows to delete after the insert (None: none): rows the insert copies
    #: with new values, read in place rather than staged (their rowids hold until the commit)
    replaced: Query | None = None


def _catch_up_journey(store: Store, changes: Changes) -> CatchUp:
    """A journey row depends on its event and its identifier's customer only: insert the appended
    events, and delete and insert again the events of the moved identifiers (when they have any)."""
    appended = sql("SELECT * FROM {journey}", journey=changes.journey)
    if changes.moved_rows is None:
        return CatchUp(appended)
    moved = sql("SELECT * FROM events WHERE rowid IN ({rows})", rows=changes.moved_rows)
    return CatchUp(sql("SELECT * FROM {appended} UNION ALL SELECT * FROM {moved}",
                       appended=appended, moved=journey(store.config, moved)),
                   deleted=sql("{key} IN ({moved})", key=identity_key(None), moved=changes.moved))


#: the prefix of the temporary tables a catch-up may stage rows in (every one is dropped after it)
STAGING = "_catch_up_"

#: the journey relation, as ``parcours.query.journey.journey`` computes it
JOURNEY = Derived("journey", lambda store: journey(store.config), ("customer_id", *EVENT_ORDER_COLUMNS),
                  catch_up=_catch_up_journey, streamed=True)
#: the materialized journey relation's table
TABLE = JOURNEY.table


#: rows appended out of stored order by catch-ups, per streamed table (name, rows), since it was sorted
APPENDED = f"{DERIVED_SCHEMA}.appended"
#: the share of a streamed table's rows appended out of order beyond which ``journey refresh`` sorts it again:
#: until then streaming readers sort what they read (a funnel then costs about 0.8-1.35x), and a
#: sort of the table costs about as much as building it
COMPACT_SHARE = 0.1


def stamp(store: Store) -> str:
    """What every derived relation is built from: data version, journey map, schema version."""
    return f"v{store.data_version()}:{_map_stamp(store)}"


#: the layout of the derived tables, in their stamp: raised when a table's columns change (2: the
#: step rows look back, ``prev2_step`` and ``prev_timestamp``), so that a table an older parcours
#: built is rebuilt rather than read
LAYOUT = 2


def _map_stamp(store: Store) -> str:
    config = hashlib.sha256(store.config.analysed().encode()).hexdigest()[:16]
    return f"c{config}:s{store.schema_version()}:l{LAYOUT}"


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


def _built_version(store: Store, relation: Derived) -> int | None:
    """The data version a stale table was built at, when it can catch up incrementally; else None."""
    built = built_stamp(store, relation)
    if not built or relation.catch_up is None:
        return None
    version, _, rest = built.partition(":")
    if rest != _map_stamp(store) or not version[1:].isdigit():
        return None
    version = int(version[1:])
    return version if changes.incremental_since(store, version) else None


#: the temporary tables a scope stages the changes in (``_changes``)
_CHANGES = ("events", "journey", "customers", "moved")


class _Scope(dict):
    """The changes worked out during one ``refresh_all``, by (built version, current version).

    A table caught up from a version and the tables after it from the same version (the step
    sequences after the journey) share one set of changed customers and moved events, filled
    once into temporary tables; ``drop`` removes them at the end."""

    def changes(self, store: Store, version: int) -> Changes:
        key = (version, store.data_version())
        if key not in self:
            self[key] = _changes(store, version, f"_refresh_{len(self)}")
        return self[key]

    def drop(self, store: Store) -> None:
        for n in range(len(self)):
            for name in (f"_refresh_{n}_{part}" for part in _CHANGES):
                store.execute(sql("DROP TABLE IF EXISTS {name}", name=table(name)))


def _changes(store: Store, version: int, prefix: str) -> Changes:
    """The changes after ``version``, the events, customers and moved events staged in temporary tables ``prefix_*``.

    Inside the catch-up's transaction. The moved identifiers' events are found with two scans
    that DuckDB filters as it reads (``user_id``, then ``anonymous_id`` where there is no
    ``user_id``), and only when some identifier moved: a scan of the identity key expression
    over every event would cost more than the rest of a small catch-up."""
    batches = tuple(int(r[0]) for r in store.execute(changes.batches(version)).fetchall())
    moved = changes.identifiers(version)
    events, rows, customers, moved_rows = (table(f"{prefix}_{part}") for part in _CHANGES)
    store.execute(sql("CREATE OR REPLACE TEMP TABLE {events} AS SELECT * FROM events WHERE {appended}",
                      events=events, appended=_in_batches(batches)))
    size = store.execute(sql("CREATE OR REPLACE TEMP TABLE {rows} AS {journey}", rows=rows,
                             journey=journey(store.config, sql("SELECT * FROM {events}", events=events)))).fetchone()[0]
    change = Changes(batches=batches, events=events, journey=rows, size=size, moved=moved,
                     customers=sql("SELECT customer_id FROM {customers}", customers=customers))
    store.execute(sql("CREATE OR REPLACE TEMP TABLE {customers} AS SELECT customer_id FROM {rows} UNION "
                      "SELECT customer_id FROM {logged}", customers=customers, rows=rows,
                      logged=changes.customers(version)))
    if store.execute(sql("SELECT count(*) FROM {moved}", moved=moved)).fetchone()[0] == 0:
        return change
    store.execute(sql(
        """
        CREATE OR REPLACE TEMP TABLE {moved_rows} AS
        SELECT rowid AS event_row FROM events WHERE user_id IN ({moved}) AND NOT ({appended})
        UNION ALL
        SELECT rowid FROM events WHERE user_id IS NULL AND anonymous_id IN ({moved}) AND NOT ({appended})
        """,
        moved_rows=moved_rows, moved=moved, appended=change.appended,
    ))
    if store.execute(sql("SELECT count(*) FROM {moved_rows}", moved_rows=moved_rows)).fetchone()[0] == 0:
        return change
    return replace(change, moved_rows=sql("SELECT event_row FROM {moved_rows}", moved_rows=moved_rows),
                   whole=changes.customers(version))


@dataclass(frozen=True)
class Refresh:
    """What ``refresh`` did: ``fresh`` (nothing), ``incremental`` (for ``customers``) or ``full``."""

    how: str
    customers: int = 0
    seconds: float = 0.0
    #: the rows an incremental catch-up computed again (inserted or updated)
    rows: int = 0


def refresh(store: Store, relation: Derived = JOURNEY) -> Refresh:
    """Bring the relation's table (and what it needs) up to date, incrementally when the log allows."""
    return refresh_all(store, (relation,))[0]


def refresh_all(store: Store, relations: Iterable[Derived], sort: bool = False) -> list[Refresh]:
    """``refresh`` each relation in turn, working out what changed once for all of them.

    ``sort`` (``journey refresh``) also sorts a streamed table again once the rows catch-ups
    appended out of order pass ``COMPACT_SHARE`` of it: that costs about a build, so it is
    left to the maintenance command rather than to whichever query or live cycle comes next."""
    scope = _Scope()
    try:
        return [_refresh(store, relation, scope, sort) for relation in relations]
    finally:
        scope.drop(store)


def _refresh(store: Store, relation: Derived, scope: _Scope, sort: bool = False) -> Refresh:
    t0 = time.perf_counter()
    for need in relation.needs:
        _refresh(store, need, scope, sort)
    if is_fresh(store, relation):
        if sort:
            _sort_if_due(store, relation)
        return Refresh("fresh")
    version = _built_version(store, relation)
    done = None if version is None else _catch_up(store, relation, version, scope)
    if done is None:
        materialize(store, relation)
        return Refresh("full", seconds=time.perf_counter() - t0)
    if sort:
        _sort_if_due(store, relation)
    return Refresh("incremental", done[0], time.perf_counter() - t0, done[1])


def _catch_up(store: Store, relation: Derived, version: int, scope: _Scope) -> tuple[int, int] | None:
    """Recompute the rows the writes after ``version`` changed; how many customers and rows, None if it cannot.

    The customers counted are those whose rows were recomputed: a merge counts the customer
    before and the one after."""
    current = stamp(store)
    with store.transaction(changes_data=False):
        change = scope.changes(store, version)
        plan = relation.catch_up(store, change)
        if plan is not None:
            stored = table(relation.table)
            if plan.deleted is not None:
                store.execute(sql("DELETE FROM {t} WHERE {deleted}", t=stored, deleted=plan.deleted))
            tail = _tail_taken(store, relation, change)
            in_tail = sql("rowid BETWEEN {first} AND {last}", first=tail.start, last=tail.stop - 1)
            rows = plan.rows
            if tail:  # the rows of the trailing partial row groups, inserted again with the new ones
                rows = exp.union(sql("SELECT * FROM {rows}", rows=rows), sql(
                    "SELECT * FROM {t} WHERE {in_tail} AND NOT ({replaced})", t=stored, in_tail=in_tail,
                    replaced=exp.false() if plan.replaced is None else plan.replaced), distinct=False)
            added = store.execute(exp.insert(relation.ordered(rows), stored)).fetchone()[0]
            if plan.replaced is not None:
                store.execute(sql("DELETE FROM {t} WHERE {replaced}", t=stored, replaced=plan.replaced))
            if tail:  # their old copies (the inserted rows' row ids lie beyond the table's until the commit)
                added -= store.execute(sql("DELETE FROM {t} WHERE {in_tail}", t=stored, in_tail=in_tail)).fetchone()[0]
            store.execute(_comment(relation, current))
            if relation.streamed and added:
                store.execute(sql("CREATE TABLE IF NOT EXISTS {t} (name VARCHAR, rows BIGINT)", t=table(APPENDED)))
                store.execute(sql("INSERT INTO {t} VALUES (?, ?)", t=table(APPENDED)), [relation.name, added])
            _prune(store)
        n = store.execute(sql("SELECT count(*) FROM {customers}", customers=change.customers)).fetchone()[0]
        staged = store.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND starts_with(table_name, ?)",
                               [STAGING]).fetchall()
        for (name,) in staged:
            store.execute(sql("DROP TABLE {t}", t=table(name)))
    return None if plan is None else (n, added + plan.updated)


#: the fewest appended events for which a catch-up may take its table's trailing partial row groups
#: along (``_tail_taken``): below, finding them costs more than it saves, and DuckDB merges them itself
TAKE_TAIL_FROM = ROW_GROUP_ROWS // 4


def _tail_taken(store: Store, relation: Derived, change: Changes) -> range:
    """The row ids of the table's trailing partial row groups when the catch-up inserts them again with
    its rows (empty when it does not).

    Each catch-up's insert starts a row group of its own, so the table ends in partial row groups,
    one per catch-up, which DuckDB's checkpoint merges (a vacuum). It merges up to four groups into
    three, a full one before them included: at 10M events, the +1% live catch-ups' checkpoints
    rewrote 290k journey and 290k step rows on one thread to merge the tails of the two catch-ups
    before (about half a second each). When its own rows with those of the tail fill a row group,
    the catch-up inserts the tail's rows again with its own instead: the insert then writes full
    row groups straight to blocks (in parallel, and not through the write-ahead log), the old copies
    are deleted, and their emptied row groups cost the checkpoint nothing."""
    if change.size < TAKE_TAIL_FROM:
        return range(0)
    tail = store.partial_tail(relation.table)
    return tail if change.size + len(tail) >= ROW_GROUP_ROWS else range(0)


def _comment(relation: Derived, stamp: str) -> Query:
    """The statement that writes the stamp a table was built from as its comment."""
    # built, not templated: sqlglot parses no placeholder after COMMENT ... IS
    return exp.Comment(this=table(relation.table), kind="TABLE", expression=exp.Literal.string(stamp))


def in_stored_order(store: Store, relation: Derived = JOURNEY) -> bool:
    """Whether the table's rows are all in its stored order (no catch-up appended rows since it was sorted)."""
    return _appended_rows(store, relation) == 0


def _appended_rows(store: Store, relation: Derived) -> int:
    if not _has_appended(store):
        return 0
    return store.execute(sql("SELECT coalesce(sum(rows), 0) FROM {t} WHERE name = ?", t=table(APPENDED)),
                         [relation.name]).fetchone()[0]


def _has_appended(store: Store) -> bool:
    return store.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [DERIVED_SCHEMA, APPENDED.split(".")[1]],
    ).fetchone()[0] > 0


def _rows(store: Store, relation: Derived) -> int:
    return store.execute(sql("SELECT count(*) FROM {t}", t=table(relation.table))).fetchone()[0]


def _sort_if_due(store: Store, relation: Derived) -> None:
    """Put a streamed table's rows back in stored order (same rows, same stamp) once the rows
    appended out of order pass ``COMPACT_SHARE`` of it: streaming readers take their fast path again."""
    if not relation.streamed or _appended_rows(store, relation) <= COMPACT_SHARE * _rows(store, relation):
        return
    built = built_stamp(store, relation)
    with store.transaction(changes_data=False):
        stored, sorted_ = table(relation.table), table(f"{relation.table}_sorted")
        rows = relation.ordered(sql("SELECT * FROM {t}", t=stored))
        store.execute(exp.Create(this=sorted_, kind="TABLE", replace=True, expression=rows))
        store.execute(sql("DROP TABLE {t}", t=stored))
        store.execute(sql("ALTER TABLE {sorted} RENAME TO {name}", sorted=sorted_, name=table(relation.name)))
        store.execute(_comment(relation, built))
        store.execute(sql("DELETE FROM {t} WHERE name = ?", t=table(APPENDED)), [relation.name])


def _prune(store: Store) -> None:
    """Drop the log's writes that every derived table has caught up with."""
    stamps = store.execute(
        "SELECT comment FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = ?",
        [DERIVED_SCHEMA],
    ).fetchall()
    versions = [int(c.split(":")[0][1:]) for (c,) in stamps if c and c.startswith("v") and ":" in c]
    if versions:
        changes.prune(store, min(versions))


def materialize(store: Store, relation: Derived = JOURNEY) -> float:
    """(Re)build the relation's table (and any stale table it needs); returns the seconds it took."""
    t0 = time.perf_counter()
    for need in relation.needs:
        if not is_fresh(store, need):
            materialize(store, need)
    current = stamp(store)
    rows = relation.ordered(relation.sql(store))  # before the transaction: it may read (fresh) derived tables
    with store.transaction(changes_data=False):
        store.execute(sql("CREATE SCHEMA IF NOT EXISTS {schema}", schema=table(DERIVED_SCHEMA)))
        store.execute(exp.Create(this=table(relation.table), kind="TABLE", replace=True, expression=rows))
        store.execute(_comment(relation, current))
        if _has_appended(store):
            store.execute(sql("DELETE FROM {t} WHERE name = ?", t=table(APPENDED)), [relation.name])
        _prune(store)
    return time.perf_counter() - t0


def source(store: Store, relation: Derived) -> str | None:
    """The relation's fresh table (rebuilt first when stale and the store can write it), else None."""
    if not engine_class(store.engine_name).reads_store_tables:
        return None
    if is_fresh(store, relation):
        return relation.table
    # inside a caller's transaction a rebuild would be part of it (and dropped by its commit)
    if not store.read_only and not store.in_transaction:
        refresh(store, relation)
        return relation.table
    return None


def journey_source(store: Store) -> exp.Expression:
    """Where to read the journey relation from: its fresh table, or the live query (as the engine reads it)."""
    stored = source(store, JOURNEY)
    if stored is not None:
        return table(stored)
    relation = store.engine.relation(journey(store.config))
    return exp.Subquery(this=relation) if isinstance(relation, exp.Query) else relation
