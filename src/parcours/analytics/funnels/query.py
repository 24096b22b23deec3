"""From a funnel definition to per-subject results: SQL filters, a kernel finishes.

The engine selects the step and exclusion events of the journey relation (matchers
compiled to SQL, ``first_time_for_user`` as a window function), tags each with a step
bitmask, and sorts them by subject and time. A compiled kernel
(``parcours.engine.kernels``) then runs the peer's state machine over each batch of
whole subjects through ``Engine.map_groups``; the function handed to it only sees
Arrow columns, so a distributed engine can apply it per partition.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from parcours.analytics.filters import events, needs_entities
from parcours.analytics.funnels.spec import FunnelSpec
from parcours.analytics.names import check_matcher, check_property
from parcours.analytics.paths.sequences import require_mapped
from parcours.engine import engine_class
from parcours.engine.kernels import funnel as kernels
from parcours.journey.materialized import in_stored_order, is_fresh
from parcours.matcher import COLUMN_FIELDS
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.match import all_of, field, matcher
from parcours.query.template import column, sql

#: separates the breakdown value from the subject in the group key (all_events attribution)
KEY_SEP = "\x1f"


def _us(seconds: float) -> int:
    return min(int(round(seconds * 1_000_000)), kernels.MAX_WINDOW_US)


def _bits(conds: list[exp.Expression]) -> exp.Expression:
    """The bitmask of the conditions an event meets (bit i: ``conds[i]``)."""
    if not conds:
        return sql("CAST(0 AS BIGINT)")
    bits = [sql("CASE WHEN {c} THEN {bit} ELSE 0 END", c=c, bit=1 << i) for i, c in enumerate(conds)]
    total = bits[0]
    for bit in bits[1:]:
        total = sql("{total} + {bit}", total=total, bit=bit)
    return total


def breakdown(spec: FunnelSpec, alias: str | None = None) -> exp.Expression:
    """The breakdown value of an event: one property, or several joined with ``|``."""
    assert spec.breakdown is not None
    cols = [field(f, alias) for f in spec.breakdown.fields()]
    if len(cols) == 1:
        return sql("CAST({c} AS VARCHAR)", c=cols[0])
    return sql("CASE WHEN {nulls} THEN NULL ELSE concat_ws('|', {parts}) END",
               nulls=all_of([sql("{c} IS NULL", c=c) for c in cols]),
               parts=[sql("coalesce(CAST({c} AS VARCHAR), '')", c=c) for c in cols])


def feeds_all_events(spec: FunnelSpec) -> bool:
    """Strict chains break on any other event, so those kernels see every event of a subject."""
    if spec.semantics == "posthog":
        return spec.mode_name() == "strict"
    return "strict_order" in spec.clickhouse_modes()


def check_journey_names(store, spec: FunnelSpec) -> None:
    """A step or breakdown naming an event, touchpoint, stage or property the store has never seen
    is a mistake, not zero customers (``parcours.analytics.names`` says the closest known names)."""
    matchers = [(f"step {i + 1}", m) for i, m in enumerate(spec.steps)]
    matchers += [(f"exclusions[{i}]", x) for i, x in enumerate(spec.exclusions)]
    # an empty set: the event names are not checked (touchpoints and stages still are)
    events = set() if spec.unknown_events == "zero" else None
    for where, m in matchers:
        events = check_matcher(store, where, m, events)
    # a step by touchpoint or stage on a store whose map maps no event would count nobody
    for i, m in enumerate(spec.steps):
        for level in sorted({c.field for c in m.where if c.field in ("touchpoint", "stage")}):
            require_mapped(store, level, f"step {i + 1}")
    if spec.breakdown is not None:
        for f in spec.breakdown.fields():
            check_property(store, "breakdown", f, COLUMN_FIELDS)


def events_query(store, spec: FunnelSpec, filter: Filter | None = None, ordered: bool = True) -> exp.Select:
    """The kernel input: ``gkey, ts, tie, mask`` (``xmask`` with exclusions, ``bval`` with a breakdown), sorted by ``gkey, ts, tie``.

    ``tie`` is the event's ``arrival_seq``: same-time events reach the kernel in the order they
    were recorded (the journey relation's ``EVENT_ORDER_COLUMNS``; the PostHog and ClickHouse semantics
    then apply their own tie rules). Rows stay narrow (integers but the key) because sorting
    them is most of the work.
    ``ordered=False`` leaves the ORDER BY out (see ``stored_order_query``).
    """
    check_journey_names(store, spec)
    filter = spec.global_filter(filter)
    conds = []
    for m in spec.steps:
        c = matcher(m)
        if m.math == "first_time_for_user":
            # the subject's first-ever event of that name, whatever the other filters say
            c = sql("{c} AND _nth_of_name = 1", c=c)
        conds.append(c)
    xconds = [matcher(x.model_dump(include={"event", "props", "props_not", "where", "person_props", "group_props"}))
              for x in spec.exclusions]
    ev = sql("SELECT *, {key} AS _subject FROM {events}", key=field(spec.aggregate_key()),
             events=events(store, filter, spec.fields()))
    if any(m.math == "first_time_for_user" for m in spec.steps):
        ev = ev.select(sql("row_number() OVER (PARTITION BY customer_id, event ORDER BY {order}) AS _nth_of_name",
                           order=event_order()), copy=False)
    bval = breakdown(spec) if spec.breakdown else sql("CAST(NULL AS VARCHAR)")
    gkey = sql("CAST(_subject AS VARCHAR)")
    # the conditions themselves, not ``mask <> 0``: DuckDB pushes them below the identity join into the scan
    keep = exp.or_(*conds, *xconds) if not feeds_all_events(spec) else exp.true()
    if spec.breakdown and spec.breakdown.attribution == "all_events":
        gkey = sql("bval || {sep} || CAST(_subject AS VARCHAR)", sep=KEY_SEP)
        keep = sql("{keep} AND {bval} IS NOT NULL", keep=keep, bval=bval)
    query = sql("""
        WITH ev AS ({ev}),
        m AS (
            SELECT _subject, epoch_us(timestamp) AS ts, arrival_seq AS tie, {mask} AS mask, {xmask} AS xmask,
                   {bval} AS bval
            FROM ev WHERE _subject IS NOT NULL AND {keep}
        )
        SELECT {gkey} AS gkey, ts, tie, mask FROM m
    """, ev=ev, mask=_bits(conds), xmask=_bits(xconds), bval=bval, keep=keep, gkey=gkey)
    optional = [name for name, wanted in (("xmask", spec.exclusions), ("bval", spec.breakdown)) if wanted]
    if optional:
        query = query.select(*(column(c) for c in optional), copy=False)
    return query.order_by(column("gkey"), column("ts"), column("tie"), copy=False) if ordered else query


def stored_order_query(store, spec: FunnelSpec, filter: Filter | None = None) -> exp.Select | None:
    """``events_query`` without its sort, when its rows should already come sorted; else None.

    They should when the journey is read from its materialized table (stored by customer and
    time, and not appended to since it was sorted: ``in_stored_order``) and nothing between the scan and the result reorders rows or changes the key: the
    subject is the customer, no segment join, no ``first_time_for_user`` window, no
    breakdown value prefixed to the key. ``Engine.map_groups`` checks the order anyway.
    """
    reorders = (
        spec.aggregate_key() != "customer_id"
        or (filter is not None and (filter.segment is not None or filter.subject is not None))
        or needs_entities(spec.global_filter(filter), spec.fields())
        or any(m.math == "first_time_for_user" for m in spec.steps)
        or (spec.breakdown is not None and spec.breakdown.attribution == "all_events")
    )
    if reorders or not engine_class(store.engine_name).reads_store_tables:
        return None
    query = events_query(store, spec, filter, ordered=False)  # may (re)build the table first
    # a table a catch-up appended to is out of order: sorting at once beats finding out at its end
    return query if is_fresh(store) and in_stored_order(store) and not store.in_transaction else None


def map_subjects(store, spec: FunnelSpec, filter: Filter | None, fn, schema: pa.Schema) -> pa.Table:
    """``fn`` over the kernel input of ``spec``, one batch of whole subjects at a time (``Engine.map_groups``)."""
    return store.engine.map_groups(events_query(store, spec, filter), "gkey", fn, schema,
                                   stored_order=stored_order_query(store, spec, filter))


def run_kernel(spec: FunnelSpec, starts: np.ndarray, ts: np.ndarray, mask: np.ndarray,
               xmask: np.ndarray) -> kernels.FunnelKernelResult:
    """Run the kernel of ``spec``'s semantics and mode over one batch of whole groups."""
    n, window = spec.n, _us(spec.window_seconds)
    mode = spec.mode_name()
    if spec.semantics == "clickhouse":
        modes = spec.clickhouse_modes()
        out = kernels.clickhouse_window_funnel(
            starts, ts, mask, n, window, "strict_deduplication" in modes, "strict_order" in modes,
            "strict_increase" in modes, "strict_once" in modes, "allow_reentry" in modes)
    elif mode == "unordered":
        out = kernels.posthog_unordered(starts, ts, mask, xmask, n, window)
    else:
        x_from = np.array([x.funnel_from_step for x in spec.exclusions], dtype=np.int64)
        x_to = np.array([x.funnel_to_step for x in spec.exclusions], dtype=np.int64)
        min_gap = np.full(n, -1, dtype=np.int64)
        max_gap = np.full(n, -1, dtype=np.int64)
        for s, v in spec.min_gap_seconds.items():
            min_gap[s - 1] = _us(v)
        for s, v in spec.max_gap_seconds.items():
            max_gap[s - 1] = _us(v)
        optional = np.zeros(n, dtype=np.bool_)
        for s in spec.optional:
            optional[s - 1] = True
        out = kernels.posthog_ordered(starts, ts, mask, xmask, n, window, mode == "strict", x_from, x_to,
                                      min_gap, max_gap, optional, spec.repeat)
    return kernels.FunnelKernelResult(*out)


def result_schema(n: int, keys: bool = True) -> pa.Schema:
    fields = [("gkey", pa.string())] if keys else []
    fields += [("level", pa.int32()), ("excluded", pa.bool_()), ("conversions", pa.int32()), ("step_bval", pa.string())]
    fields += [(f"ts_{i + 1}", pa.int64()) for i in range(n)]
    return pa.schema(fields)


def int_column(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """An int64 column as numpy (zero-copy), or zeros when the query left it out.

    Both are read-only, so the kernels see one Numba signature and its on-disk cache serves
    every funnel (a writable array would be another type, compiled anew).
    """
    if name not in batch.schema.names:
        zeros = np.zeros(batch.num_rows, dtype=np.int64)
        zeros.flags.writeable = False
        return zeros
    return batch.column(name).to_numpy()


def subject_results(store, spec: FunnelSpec, filter: Filter | None = None, keys: bool = True) -> pd.DataFrame:
    """One row per subject: ``gkey, level, excluded, conversions, step_bval, ts_1..ts_N`` (µs, NaN if not reached).

    ``keys=False`` leaves ``gkey`` out: counting needs no subject ids, and a million
    strings turned into Python objects cost more than the kernel.
    """
    schema = result_schema(spec.n, keys)
    step_attr = spec.breakdown.step if spec.breakdown and spec.breakdown.attribution == "step" else None

    def per_batch(batch: pa.RecordBatch) -> pa.Table:
        starts = kernels.group_starts(batch.column("gkey"))
        res = run_kernel(spec, starts, int_column(batch, "ts"), int_column(batch, "mask"), int_column(batch, "xmask"))
        if step_attr is not None:
            rows = res.step_row[:, step_attr]
            taken = batch.column("bval").take(pa.array(np.where(rows < 0, 0, rows)))
            step_bval = pc.if_else(pa.array(rows >= 0), taken, pa.scalar(None, pa.string()))
        else:
            step_bval = pa.nulls(len(res.level), pa.string())
        cols = [batch.column("gkey").take(pa.array(starts[:-1]))] if keys else []
        cols += [pa.array(res.level), pa.array(res.excluded), pa.array(res.conversions), step_bval]
        cols += [pa.array(res.step_ts[:, i]) for i in range(spec.n)]  # -1: not on the path
        return pa.Table.from_arrays(cols, schema=schema)

    table = map_subjects(store, spec, filter, per_batch, schema)
    ts_cols = [f"ts_{i}" for i in range(1, spec.n + 1)]
    df = table.drop_columns(ts_cols + ([] if step_attr is not None else ["step_bval"])).to_pandas()
    if step_attr is None:
        df["step_bval"] = None
    for c in ts_cols:
        t = table.column(c).to_numpy()
        df[c] = np.where(t >= 0, t, np.nan)
    return df


def touch_values(store, spec: FunnelSpec, filter: Filter | None = None) -> pd.DataFrame:
    """First- or last-touch breakdown value per subject: ``gkey, bval``."""
    return store.engine.df(sql(_TOUCH[spec.breakdown.attribution == "first_touch"],
                               events=events_query(store, spec, filter, ordered=False)))


#: the breakdown value of each subject's first (True) or last (False) step event
_TOUCH = {
    True: "SELECT gkey, arg_min(bval, (ts, tie)) AS bval FROM {events} WHERE bval IS NOT NULL AND mask <> 0 GROUP BY gkey",
    False: "SELECT gkey, arg_max(bval, (ts, tie)) AS bval FROM {events} WHERE bval IS NOT NULL AND mask <> 0 GROUP BY gkey",
}
