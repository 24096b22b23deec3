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
faster than on text) and flags that make "distinct customers" a plain count. A filter that
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
from parcours.journey.materialized import JOURNEY, Changes, Derived, journey_source, source
from parcours.matcher import EventMatcher
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.journey import journey as journey_relation
from parcours.query.match import step
from parcours.query.template import column, ident, sql, table
from parcours.store.store import DERIVED_SCHEMA, Store

By = Literal["touchpoint", "event", "stage"]
BY_LEVELS = ("touchpoint", "event", "stage")

#: The step columns; stored as ENUM codes, given out as text by ``steps_query``.
STEP_COLUMNS = ("step", "prev_step", "next_step", "next2_step")

#: Flags only the stored sequence has, each true on one row per customer and key, so that
#: ``count(*) FILTER (WHERE flag AND ...)`` counts distinct customers without hashing their ids:
#: ``first_edge`` per (step, next_step), ``first_step`` per step, ``first_back`` per step among
#: the rows where the customer goes A -> B -> A (``next2_step = step AND next_step <> step``).
FLAGS = ("first_edge", "first_step", "first_back")


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
    customer's sequence), ``prev_step``, ``next_step``, ``next2_step``, ``next_timestamp``.
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
        SELECT s.*, row_number() OVER w AS seq, lag(step) OVER w AS prev_step, lead(step) OVER w AS next_step,
               lead(step, 2) OVER w AS next2_step, lead(timestamp) OVER w AS next_timestamp
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
                   row_number() OVER w AS seq, lag(step) OVER w AS prev_step, lead(step) OVER w AS next_step,
                   lead(step, 2) OVER w AS next2_step, lead(timestamp) OVER w AS next_timestamp
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
                   row_number() OVER (PARTITION BY customer_id, step, next_step ORDER BY seq) = 1 AS first_edge,
                   row_number() OVER (PARTITION BY customer_id, step ORDER BY seq) = 1 AS first_step,
                   row_number() OVER (PARTITION BY customer_id, step, next2_step = step AND next_step <> step
                                      ORDER BY seq) = 1 AS first_back
            FROM coded
        )
        SELECT j.*, f.step, f.seq, f.prev_step, f.next_step, f.next2_step, f.next_timestamp, {flags}
        FROM f JOIN {rows} j ON j.rowid = f.jrow
        """,
        order=event_order(), by=column(by), rows=rows, has_step=has_step, coded=coded,
        flags=[column(flag, "f") for flag in FLAGS],
    )


def _catch_up_stored(store: Store, changes: Changes, by: str) -> tuple[exp.Expression, exp.Query] | None:
    """Recompute each changed customer's steps from the first one that changed; None when one of
    them has no code in the table as built (a new name: the level is rebuilt whole).

    A step row depends on the steps before it (its position, its previous step, the flags' "first
    of its kind") and on the two after it (``next_step``, ``next2_step``, ``next_timestamp``). When a
    customer only gained appended events, its rows before the first new step keep their
    position, previous step and flags, and only the two rows just before it see new neighbours:
    the rows from there on (``_CUT``) are deleted and computed again, numbered on from the kept
    ones, each flag true only where no kept row has its key. Live appends land at the end of a
    journey, so that is usually two or three rows a customer, not all of them (the windows over
    whole customers cost, per row, what a full build's do). A customer some of whose earlier
    events moved (a merge, an unmerge) is recomputed whole.
    """
    steps = table(STEPS[by].table)
    code = store.execute(
        "SELECT data_type FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ? AND column_name = 'step'",
        [DERIVED_SCHEMA, STEPS[by].name],
    ).fetchone()[0]
    code = exp.DataType.build(code, dialect="duckdb")
    has_step = _step_condition(store, by)
    appended = journey_relation(store.config, sql("SELECT * FROM {events}", events=changes.events))
    store.execute(sql(
        """
        CREATE OR REPLACE TEMP TABLE {cut} AS
        WITH whole AS (SELECT DISTINCT customer_id FROM {whole}),
        first_new AS (
            SELECT customer_id, min(({order})) AS at FROM {appended}
            WHERE {has_step} AND customer_id NOT IN (SELECT customer_id FROM whole) GROUP BY customer_id
        ),
        -- the rows before each customer's first new step (one scan): how many, and the keys of the
        -- last two and the steps of the last three, latest first
        before AS (
            SELECT f.customer_id, count(s.seq) AS n, max(({order_s}), 2) AS keys,
                   arg_max(CAST(s.step AS VARCHAR), ({order_s}), 3) AS steps
            FROM first_new f LEFT JOIN {steps} s ON s.customer_id = f.customer_id AND ({order_s}) < f.at
            GROUP BY f.customer_id
        )
        -- the first changed row: two before the first new step (its neighbours change), so
        -- ``n - 1``; its key, and its previous step (the third last before the new step)
        SELECT customer_id, CASE WHEN n >= 3 THEN n - 1 ELSE 1 END AS from_seq,
               CASE WHEN n >= 3 THEN keys[2] END AS from_key, CASE WHEN n >= 3 THEN steps[3] END AS prev_step
        FROM before
        UNION ALL
        SELECT customer_id, 1, NULL, NULL FROM whole
        """,
        cut=table(_CUT), whole=changes.whole if changes.whole is not None else sql("SELECT NULL AS customer_id LIMIT 0"),
        order=event_order(), order_s=event_order("s"), appended=appended, has_step=has_step, steps=steps,
    ))
    # those customers' journey rows from their first changed step on, staged once: the checks and
    # the windows read them, not the table (same-time events: ``event_order`` is a total order, and
    # a row comparison orders NULLs last, as the windows' ORDER BY does)
    store.execute(sql(
        """
        CREATE OR REPLACE TEMP TABLE {staged} AS
        SELECT j.* FROM {journey} j JOIN {cut} c USING (customer_id)
        WHERE c.from_key IS NULL OR ({order_j}) >= c.from_key
        """,
        staged=table(STAGED), journey=table(JOURNEY.table), cut=table(_CUT), order_j=event_order("j"),
    ))
    known = [e.name for e in code.expressions] if code.this == exp.DataType.Type.ENUM else []
    new = store.execute(sql("SELECT count(*) FROM {staged} WHERE {has_step} AND CAST({by} AS VARCHAR) NOT IN ({known})",
                            staged=table(STAGED), has_step=has_step, by=column(by), known=known)).fetchone()[0]
    if new:
        return None
    cut_rows = sql("SELECT s.rowid FROM {steps} s JOIN {cut} c USING (customer_id) WHERE s.seq >= c.from_seq",
                   steps=steps, cut=table(_CUT))
    return sql("rowid IN ({rows})", rows=cut_rows), _tail(store, by, code)


def _tail(store: Store, by: str, code: exp.DataType) -> exp.Query:
    """The step rows of the staged journey rows (``STAGED``), numbered on from the rows kept (``_CUT``).

    The same columns as ``_stored``; a flag is true on the first row of its key among the new
    rows when no kept row (``seq`` before ``from_seq``) of the customer has that key."""
    coded = [sql("{value} AS {name}", value=exp.cast(column(c), code), name=ident(c)) for c in STEP_COLUMNS]
    return sql(
        """
        WITH n AS (
            SELECT jrow, customer_id, step, timestamp,
                   c.from_seq - 1 + row_number() OVER w AS seq,
                   CASE WHEN row_number() OVER w = 1 THEN c.prev_step ELSE lag(step) OVER w END AS prev_step,
                   lead(step) OVER w AS next_step, lead(step, 2) OVER w AS next2_step,
                   lead(timestamp) OVER w AS next_timestamp
            FROM (
                SELECT rowid AS jrow, customer_id, {order}, CAST({by} AS VARCHAR) AS step
                FROM {rows} WHERE {has_step}
            ) r JOIN {cut} c USING (customer_id)
            WINDOW w AS (PARTITION BY customer_id ORDER BY {order})
        ),
        coded AS (SELECT * REPLACE ({coded}) FROM n),
        kept AS (
            SELECT s.customer_id, s.step, s.next_step, s.next2_step = s.step AND s.next_step <> s.step AS back
            FROM {steps} s JOIN {cut} c USING (customer_id) WHERE s.seq < c.from_seq
        ),
        f AS (
            SELECT *,
                   row_number() OVER (PARTITION BY customer_id, step, next_step ORDER BY seq) = 1 AS first_edge,
                   row_number() OVER (PARTITION BY customer_id, step ORDER BY seq) = 1 AS first_step,
                   row_number() OVER (PARTITION BY customer_id, step, next2_step = step AND next_step <> step
                                      ORDER BY seq) = 1 AS first_back
            FROM coded
        )
        SELECT j.*, f.step, f.seq, f.prev_step, f.next_step, f.next2_step, f.next_timestamp,
               f.first_edge AND NOT EXISTS (
                   SELECT 1 FROM kept k WHERE k.customer_id = f.customer_id AND k.step = f.step
                   AND k.next_step IS NOT DISTINCT FROM f.next_step) AS first_edge,
               f.first_step AND NOT EXISTS (
                   SELECT 1 FROM kept k WHERE k.customer_id = f.customer_id AND k.step = f.step) AS first_step,
               f.first_back AND NOT EXISTS (
                   SELECT 1 FROM kept k WHERE k.customer_id = f.customer_id AND k.step = f.step
                   AND k.back IS NOT DISTINCT FROM (f.next2_step = f.step AND f.next_step <> f.step)) AS first_back
        FROM f JOIN {rows} j ON j.rowid = f.jrow
        """,
        order=event_order(), by=column(by), rows=table(STAGED), has_step=_step_condition(store, by),
        cut=table(_CUT), coded=coded, steps=table(STEPS[by].table),
    )


#: the temporary tables a catch-up stages in (dropped after it): the changed customers' journey
#: rows from their first changed step on, and where each customer's rows are cut
STAGED = "_refresh_rows"
_CUT = "_refresh_cut"


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
