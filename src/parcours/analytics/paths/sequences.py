"""Each customer's events as an ordered sequence of steps: the base of paths, stages and friction.

A *step* is what an analysis counts as one position in a journey: the touchpoint (default),
the raw event name, or the stage. Events that have no step at that level (an event matching
no touchpoint, an ignored event such as ``identify``) are left out of the sequence, so that
"directly follows" means "the next step the customer took", not "the next row".

Order within a customer is the journey relation's ``EVENT_ORDER_COLUMNS``: ``timestamp``, then the
order the events were recorded in (``arrival_seq``: file row, XES trace order, collector
arrival), so that same-time events keep the order of the log, as pm4py's ``discover_dfg``
and pandas keep it.

The window functions that number the steps and find their neighbours cost more than the
analyses that read them, so each level's sequence over the *whole* journey is a derived table
(``derived.steps_touchpoint``, ``_event``, ``_stage``; see ``parcours.journey.materialized``),
stored by (customer_id, seq) with the steps as ENUM codes (grouping on them is several times
faster than on text) and flags that make "distinct customers" a plain count. A step row looks
back only (its previous two steps and the time of the previous one): an edge A -> B is the row
of B, whose ``prev_step`` is A. So a step the customer takes after the stored ones changes no
stored row, and live appends only add rows. A filter that
keeps or drops whole customers (a segment) reads the table; a date range, an event
condition or a subject (accounts) changes the sequence itself, so it is computed live, as
on other engines.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Literal

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import customers_condition, events
from parcours.errors import ParcoursError
from parcours.journey.materialized import JOURNEY, STAGING, CatchUp, Changes, Derived, journey_source, source
from parcours.matcher import EventMatcher
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.match import step
from parcours.query.template import column, ident, sql, table
from parcours.store.store import DERIVED_SCHEMA, Store

By = Literal["touchpoint", "event", "stage"]
BY_LEVELS = ("touchpoint", "event", "stage")

#: The step columns; stored as ENUM codes, given out as text by ``steps_query``.
STEP_COLUMNS = ("step", "prev_step", "prev2_step")

#: Flags only the stored sequence has, each true on one row per customer and key, so that
#: ``count(*) FILTER (WHERE flag AND ...)`` counts distinct customers without hashing their ids:
#: ``first_edge`` per (prev_step, step), ``first_step`` per step, ``first_back`` per step among
#: the rows where the customer comes back A -> B -> A (``goes_back``, on the row of the second A).
FLAGS = ("first_edge", "first_step", "first_back")


def goes_back(alias: str | None = None) -> exp.Expression:
    """Whether the customer comes back to this step right after another (A -> B -> A, on the row of
    the second A): the key of ``first_back``, the same in the build, the catch-up and the analyses
    that read it."""
    return sql("{prev2} = {step} AND {prev} <> {step}", prev2=column("prev2_step", alias),
               step=column("step", alias), prev=column("prev_step", alias))


def step_column(by: str) -> str:
    if by not in BY_LEVELS:
        raise ParcoursError(f"`by` {by!r}: unknown step level; use one of {', '.join(BY_LEVELS)}")
    return by


#: Where a result's note is kept (``DataFrame.attrs``): the CLI prints it on stderr.
NOTE = "note"


@dataclass(frozen=True)
class Level:
    """The step level an analysis reads, and the note that says why when it is not the one asked for."""

    by: str
    note: str | None = None

    def label(self, df: pd.DataFrame) -> pd.DataFrame:
        """``df`` with the note attached (``df.attrs["note"]``), so that no face shows it unexplained."""
        if self.note:
            df.attrs[NOTE] = self.note
        return df


def maps_none(store: Store, by: str) -> bool:
    """Whether the store holds events and the journey map gives none of them a ``by`` (touchpoint or stage).

    An empty store is not the map's fault: there is nothing to show at any level.
    """
    if by == "event":
        return False
    journey = journey_source(store)

    def any_row(where: exp.Expression) -> bool:
        return store.engine.scalar(sql("SELECT count(*) FROM (SELECT 1 FROM {journey} WHERE {where} LIMIT 1)",
                                       journey=journey, where=where)) > 0

    return not (store.config.touchpoints and any_row(sql("{by} IS NOT NULL", by=column(by)))) and any_row(exp.true())


def _unmapped_hint(by: str) -> str:
    return (f"the journey map maps none of the events to a {by}; read events with `--by event`, "
            "or map them with `parcours journey set FILE`")


def step_level(store: Store, by: str = "touchpoint") -> Level:
    """The level a path-style analysis reads: ``by``, or ``event`` when the journey map maps no event.

    An analysis of journeys at the touchpoint or stage level on a store whose map matches none
    of the events would show nothing; it shows the raw events instead, with a note saying so.
    """
    step_column(by)
    if maps_none(store, by):
        return Level("event", f"note: {_unmapped_hint(by)}; showing event level")
    return Level(by)


def require_mapped(store: Store, by: str, what: str) -> None:
    """For analyses that only exist at ``by`` (stages, friction, touchpoint funnels): an error naming the way out."""
    if maps_none(store, by):
        raise ParcoursError(f"{what}: {_unmapped_hint(by)}")


@dataclass(frozen=True)
class Steps:
    """The step rows of a query: their query, and whether they come from the stored sequence."""

    query: exp.Expression
    #: True: read from the derived table, so the step columns are ENUM codes (cast them to
    #: VARCHAR in output) and the ``FLAGS`` columns exist; False: computed live, text steps
    stored: bool


def step_rows(store: Store, by: str = "touchpoint", filter: Filter | None = None) -> Steps:
    """The step sequence, from the stored table when the filter keeps whole customers."""
    step_column(by)
    filter = filter or Filter()
    if filter.whole_customers:
        stored = source(store, STEPS[by])
        if stored is not None:
            customers = customers_condition(store, filter)
            query = sql("SELECT * FROM {steps} WHERE {customers}", steps=table(stored),
                        customers=exp.true() if customers is None else customers)
            return Steps(query, stored=True)
    return Steps(_live(store, by, filter), stored=False)


def steps_query(store: Store, by: str = "touchpoint", filter: Filter | None = None) -> exp.Expression:
    """The query of the step sequence: one row per step with its neighbours.

    Columns: the journey relation's columns, plus ``step``, ``seq`` (1-based position in the
    customer's sequence), ``prev_step``, ``prev2_step`` (the steps one and two before) and
    ``prev_timestamp`` (the time of the step before).
    The same columns and types whether it reads the stored sequence or computes it live.
    """
    rows = step_rows(store, by, filter)
    if not rows.stored:
        return rows.query
    as_text = [sql("CAST({c} AS VARCHAR) AS {name}", c=column(c), name=ident(c)) for c in STEP_COLUMNS]
    return sql("SELECT * EXCLUDE ({flags}) REPLACE ({as_text}) FROM {rows}",
               flags=[column(f) for f in FLAGS], as_text=as_text, rows=rows.query)


def _live(store: Store, by: str, filter: Filter | None) -> exp.Expression:
    return sql(
        """
        SELECT s.*, row_number() OVER w AS seq, lag(step) OVER w AS prev_step, lag(step, 2) OVER w AS prev2_step,
               lag(timestamp) OVER w AS prev_timestamp
        FROM (SELECT *, CAST({by} AS VARCHAR) AS step FROM {events} WHERE {has_step}) s
        WINDOW w AS (PARTITION BY customer_id ORDER BY {order})
        """,
        by=column(by), events=events(store, filter), has_step=_step_condition(store, by), order=event_order(),
    )


def _step_condition(store: Store, by: str) -> exp.Expression:
    """Whether an event is a step at level ``by``: it has one, and its event is not ignored."""
    return sql("{by} IS NOT NULL AND event NOT IN ({ignored})", by=column(by),
               ignored=list(store.config.ignored_events))


def _enum(names: list[str]) -> exp.DataType:
    """The ENUM type of the step names (VARCHAR when there are none)."""
    if not names:
        return exp.DataType.build("VARCHAR")
    return exp.DataType(this=exp.DataType.Type.ENUM, expressions=[exp.Literal.string(n) for n in names])


def _stored(store: Store, by: str, code: exp.DataType | None = None, journey: str = JOURNEY.table) -> exp.Query:
    """The rows of ``derived.steps_<by>``: the live sequence's columns in the same order, plus ``FLAGS``.

    DuckDB only (the table is never built on another engine). It reads the fresh journey table:
    the windows run over the few columns they need and the journey's other columns are joined
    back by row id, which costs far less than sorting whole rows once per window. ``code`` is
    the step type (ENUM) of the table as built, for a catch-up; ``journey`` the table of journey
    rows it reads (a catch-up stages the changed customers' rows).
    """
    rows, has_step = table(journey), _step_condition(store, by)
    if code is None:
        names = store.engine.df(sql("SELECT DISTINCT CAST({by} AS VARCHAR) AS step FROM {rows} WHERE {has_step}",
                                    by=column(by), rows=rows, has_step=has_step))["step"]
        code = _enum(sorted(names))
    coded = [sql("{value} AS {name}", value=exp.cast(column(c), code), name=ident(c)) for c in STEP_COLUMNS]
    return sql(
        """
        WITH n AS (
            SELECT jrow, customer_id, step, timestamp,
                   row_number() OVER w AS seq, lag(step) OVER w AS prev_step, lag(step, 2) OVER w AS prev2_step,
                   lag(timestamp) OVER w AS prev_timestamp
            FROM (
                SELECT rowid AS jrow, customer_id, {order}, CAST({by} AS VARCHAR) AS step
                FROM {rows} WHERE {has_step}
            )
            WINDOW w AS (PARTITION BY customer_id ORDER BY {order})
        ),
        -- the flags' windows sort on the codes: faster than on the names
        coded AS (SELECT * REPLACE ({coded}) FROM n),
        f AS (
            SELECT *,
                   row_number() OVER (PARTITION BY customer_id, step, prev_step ORDER BY seq) = 1 AS first_edge,
                   row_number() OVER (PARTITION BY customer_id, step ORDER BY seq) = 1 AS first_step,
                   row_number() OVER (PARTITION BY customer_id, step, {back} ORDER BY seq) = 1 AS first_back
            FROM coded
        )
        SELECT j.*, f.step, f.seq, f.prev_step, f.prev2_step, f.prev_timestamp, {flags}
        FROM f JOIN {rows} j ON j.rowid = f.jrow
        """,
        order=event_order(), by=column(by), rows=rows, has_step=has_step, coded=coded, back=goes_back(),
        flags=[column(flag, "f") for flag in FLAGS],
    )


def _catch_up_stored(store: Store, changes: Changes, by: str) -> CatchUp | None:
    """Recompute each changed customer's steps from the first one that changed; None when a new
    step has no code in the table as built (a new name: the level is rebuilt whole).

    A step row depends only on the steps before it: its position, the two steps before it and the
    time of the one before, the flags' "first of its kind". When a customer only gained appended
    events, its rows before the first new step keep all that. From there on (``CUT``), the
    customer's kept rows and its new ones are numbered again, over the few columns the windows
    read (``_number_tails``); the new rows are inserted, and the kept rows numbered again are
    inserted again and their old rows deleted (``_rewritten``) or, past ``REWRITE_SHARE`` of the
    table, updated in place (``_update_in_place``). Live appends land at the end of a journey,
    after every kept row: they only insert the new rows. A customer some of whose earlier events
    moved (a merge, an unmerge) is deleted and computed again whole, from its journey rows.
    """
    code = _step_code(store, by)
    has_step, whole = _step_condition(store, by), changes.whole
    # the appended events' step rows, the columns the numbering reads (``jrow``: the row of their
    # whole journey row in ``changes.journey``, the one to insert)
    store.execute(sql(
        "CREATE OR REPLACE TEMP TABLE {new} AS SELECT rowid AS jrow, customer_id, event, {order}, {by} "
        "FROM {appended} WHERE {has_step} AND {kept}",
        new=table(NEW), order=event_order(), by=column(by), appended=changes.journey, has_step=has_step,
        kept=exp.true() if whole is None else sql("customer_id NOT IN ({whole})", whole=whole)))
    if whole is not None:  # those customers' journey rows, staged once: the checks and the windows read them
        store.execute(sql("CREATE OR REPLACE TEMP TABLE {staged} AS SELECT * FROM {journey} WHERE customer_id IN ({whole})",
                          staged=table(STAGED), journey=table(JOURNEY.table), whole=whole))
    known = [e.name for e in code.expressions] if code.this == exp.DataType.Type.ENUM else []
    for staged in (NEW, STAGED) if whole is not None else (NEW,):
        unknown = sql("SELECT count(*) FROM {rows} WHERE {has_step} AND CAST({by} AS VARCHAR) NOT IN ({known})",
                      rows=table(staged), has_step=has_step, by=column(by), known=known)
        if store.execute(unknown).fetchone()[0]:
            return None
    _number_tails(store, by, code)
    rows, deleted, updated, replaced = [_new_rows(changes.journey)], [], 0, None
    kept = store.execute(sql("SELECT count(srow) FROM {tail}", tail=table(TAIL))).fetchone()[0]
    stored = table(STEPS[by].table)
    # only a back-fill numbers stored rows again: a live append inserts its new rows alone
    if kept and kept >= REWRITE_SHARE * store.execute(sql("SELECT count(*) FROM {t}", t=stored)).fetchone()[0]:
        updated = _update_in_place(store, by)
    elif kept:
        rows.append(_rewritten(by))
        replaced = sql("rowid IN (SELECT srow FROM {tail} WHERE srow IS NOT NULL)", tail=table(TAIL))
    if whole is not None:
        rows.append(_stored(store, by, code=code, journey=STAGED))
        deleted.append(sql("customer_id IN ({whole})", whole=whole))
    # each part a sub-query: a part with its own WITH cannot stand in a UNION
    parts = [sql("SELECT * FROM {rows}", rows=part) for part in rows]
    return CatchUp(exp.union(*parts, distinct=False) if len(parts) > 1 else rows[0],
                   deleted=exp.or_(*deleted) if deleted else None, updated=updated, replaced=replaced)


#: the share of a step table's rows below which the kept rows a catch-up numbers again are deleted
#: and inserted again rather than updated in place. DuckDB's checkpoint writes every updated column
#: again in each row group an update touched (about all of them: the customers are spread over the
#: table), a cost that follows the table's size; deleting and inserting costs what the rows do.
#: Measured with the checkpoint when step rows still looked ahead (bench/incremental_bench.py,
#: docs/live.md): at 10M events, renumbering 1.7% of the rows costs 2.9-3.4 s that way against 4.0 s
#: updated, 4.4% 4.6 s against 4.8 s; at 1M events the update is as fast or up to 16% faster
REWRITE_SHARE = 0.05


def _step_code(store: Store, by: str) -> exp.DataType:
    """The type of the step columns as the table was built (an ENUM of the step names)."""
    code = store.execute(
        "SELECT data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? AND column_name = 'step'",
        [DERIVED_SCHEMA, STEPS[by].name],
    ).fetchone()[0]
    return exp.DataType.build(code, dialect="duckdb")


def _number_tails(store: Store, by: str, code: exp.DataType) -> None:
    """Number the kept rows and the new rows (``NEW``) of each customer again from its first new
    step on, into ``TAIL``."""
    _read_old(store, by, message_ids=False)
    if _ties(store):
        _read_old(store, by, message_ids=True)
    # where each customer's rows are cut: at its first new step (the stored rows before it stay as
    # they are), and a number for the customer, which the windows and lookups below partition and
    # join on faster than on its id
    store.execute(sql(
        """
        CREATE OR REPLACE TEMP TABLE {cut} AS
        WITH first_new AS (SELECT customer_id, min(({order})) AS at FROM {new} GROUP BY customer_id)
        SELECT row_number() OVER () AS k, f.customer_id, count(o.seq) + 1 AS from_seq
        FROM first_new f LEFT JOIN {old} o ON o.customer_id = f.customer_id AND ({order_o}) < f.at
        GROUP BY f.customer_id
        """,
        cut=table(CUT), order=event_order(), order_o=event_order("o"), new=table(NEW), old=table(OLD),
    ))
    # the windows read the two stored rows before the cut too (``ctx``: what the first rows numbered
    # again look back at), then leave them out. What a flag looks back at (``prior``): the rows
    # numbered again, and the rows before the cut, whose flags stay. A flag is true on a row numbered
    # again when no row before it has its key; each key of the rows before the cut is on a flagged
    # one (the first of that key), so only those are read. Looked up, not sorted as the build does
    # (a customer has a few rows here): every key starts with the step, so one join finds the
    # earlier rows of the same step and counts them per key
    store.execute(sql(
        """
        CREATE OR REPLACE TEMP TABLE {tail} AS
        WITH rows AS (
            SELECT o.srow, CAST(NULL AS BIGINT) AS nrow, o.seq AS old_seq, c.k, c.from_seq, o.seq < c.from_seq AS ctx,
                   o.timestamp, o.arrival_seq, o.message_id, o.step
            FROM {old} o JOIN {cut} c USING (customer_id) WHERE o.seq >= c.from_seq - 2
            UNION ALL
            SELECT NULL, n.jrow, NULL, c.k, c.from_seq, FALSE, n.timestamp, n.arrival_seq, n.message_id, {new_step}
            FROM {new} n JOIN {cut} c USING (customer_id)
        ),
        n AS (
            SELECT srow, nrow, old_seq, k, ctx, step,
                   from_seq - 1 - least(from_seq - 1, 2) + row_number() OVER w AS seq,
                   lag(step) OVER w AS prev_step, lag(step, 2) OVER w AS prev2_step,
                   lag(timestamp) OVER w AS prev_timestamp
            FROM rows
            -- a kept row's message id is NULL unless one ties a new row (``_read_old``): then its old
            -- position orders it among the kept rows, as the event order did when it was stored
            WINDOW w AS (PARTITION BY k ORDER BY {order}, old_seq)
        ),
        coded AS (SELECT *, {back} AS back FROM n WHERE NOT ctx),
        prior AS (
            SELECT k, seq, step, prev_step, back FROM coded
            UNION ALL
            SELECT c.k, o.seq, o.step, o.prev_step, {old_back}
            FROM {old} o JOIN {cut} c USING (customer_id)
            WHERE o.seq < c.from_seq AND (o.first_edge OR o.first_step OR o.first_back)
        ),
        looked AS (
            SELECT f.k, f.seq, count(p.seq) = 0 AS first_step,
                   count(p.seq) FILTER (WHERE p.prev_step IS NOT DISTINCT FROM f.prev_step) = 0 AS first_edge,
                   count(p.seq) FILTER (WHERE p.back IS NOT DISTINCT FROM f.back) = 0 AS first_back
            FROM coded f LEFT JOIN prior p ON p.k = f.k AND p.step = f.step AND p.seq < f.seq
            GROUP BY f.k, f.seq
        )
        SELECT srow, nrow, old_seq, step, seq, prev_step, prev2_step, prev_timestamp, first_edge, first_step, first_back
        FROM coded JOIN looked USING (k, seq)
        """,
        tail=table(TAIL), old=table(OLD), cut=table(CUT), new=table(NEW), order=event_order(),
        new_step=exp.cast(column(by, "n"), code), back=goes_back(), old_back=goes_back("o"),
    ))


def _read_old(store: Store, by: str, message_ids: bool) -> None:
    """The stored rows of the customers with new steps, the few columns the cut and the windows read,
    into ``OLD`` (one scan of the table; steps stay codes throughout: the windows move one byte).

    The event order ends with the message id, read here only when ``message_ids``: it orders only
    events with the same time and arrival sequence, which the importer gives no two events (a
    batch's number and the row's), and it is the widest column read (about 40% of the scan)."""
    message_id = column("message_id") if message_ids else sql("CAST(NULL AS VARCHAR) AS message_id")
    store.execute(sql(
        """
        CREATE OR REPLACE TEMP TABLE {old} AS
        SELECT rowid AS srow, customer_id, seq, timestamp, arrival_seq, {message_id}, step, prev_step, prev2_step,
               {flags}
        FROM {steps} WHERE customer_id IN (SELECT customer_id FROM {new})
        """,
        old=table(OLD), message_id=message_id, steps=table(STEPS[by].table), new=table(NEW),
        flags=[column(f) for f in FLAGS],
    ))


def _ties(store: Store) -> bool:
    """Whether a new step has the time and arrival sequence of a stored one of its customer: then
    only the message ids order them, and ``OLD`` must hold them."""
    return store.execute(sql(
        "SELECT count(*) FROM {new} n JOIN {old} o ON o.customer_id = n.customer_id AND o.timestamp = n.timestamp "
        "AND o.arrival_seq IS NOT DISTINCT FROM n.arrival_seq", new=table(NEW), old=table(OLD))).fetchone()[0] > 0


#: the columns a catch-up numbers again (the rest of a row is its journey row and its step)
NUMBERED = ("seq", "prev_step", "prev2_step", "prev_timestamp", *FLAGS)


def _update_in_place(store: Store, by: str) -> int:
    """Update the kept rows of ``TAIL`` in place; how many."""
    assignments = [exp.EQ(this=column(c), expression=column(c, "t")) for c in NUMBERED]
    steps = table(STEPS[by].table)
    return store.execute(sql(
        "UPDATE {steps} SET {assignments} FROM {tail} t WHERE {steps}.rowid = t.srow",
        steps=steps, assignments=assignments, tail=table(TAIL),
    )).fetchone()[0]


def _rewritten(by: str) -> exp.Query:
    """The kept rows of ``TAIL`` with their new numbering, read from the table itself (the catch-up
    deletes the old rows after inserting these: ``CatchUp.replaced``)."""
    numbered = [sql("{c} AS {name}", c=column(c, "t"), name=ident(c)) for c in NUMBERED]
    return sql("SELECT s.* REPLACE ({numbered}) FROM {steps} s JOIN {tail} t ON s.rowid = t.srow",
               numbered=numbered, steps=table(STEPS[by].table), tail=table(TAIL))


def _new_rows(appended: exp.Table) -> exp.Query:
    """The step rows of the new events: their journey rows (in ``appended``) with their numbering (``TAIL``)."""
    return sql(
        """
        SELECT j.*, t.step, {numbered}
        FROM {tail} t JOIN {appended} j ON j.rowid = t.nrow
        """,
        tail=table(TAIL), appended=appended, numbered=[column(c, "t") for c in NUMBERED],
    )


#: the temporary tables a catch-up stages in (named with ``STAGING``: the refresh drops them after
#: it): the journey rows of the customers recomputed whole, those of the appended step events, the
#: stored rows of their customers (a few columns), where each customer's rows are cut, and the rows
#: numbered again from there
STAGED, NEW, OLD, CUT, TAIL = (STAGING + part for part in ("whole", "new", "old", "cut", "tail"))


#: The stored step sequence of each level (built on first use after each data change, caught up
#: incrementally after appends: see ``parcours.journey.materialized``).
STEPS: dict[str, Derived] = {
    by: Derived(f"steps_{by}", partial(_stored, by=by), ("customer_id", "seq"), needs=(JOURNEY,),
                catch_up=partial(_catch_up_stored, by=by))
    for by in BY_LEVELS
}


#: Named queries (CTEs), in the order each may read the ones before it.
Ctes = list[tuple[str, exp.Expression]]


def with_ctes(ctes: Ctes, query: exp.Query) -> exp.Query:
    """``query`` reading the named queries ``ctes`` (``WITH name AS (...), ...``)."""
    for name, cte in ctes:
        query = query.with_(name, as_=cte, copy=False)
    return query


def anchor(spec: str | dict | EventMatcher | None, name: str) -> exp.Expression:
    """A boolean tree for a path anchor (``--from-step``/``--to-step``): none given matches no event."""
    return step(spec, name, exp.false())
