"""Which ways customers really take: top paths, Sankey flows, transitions and loops.

All figures come from the ordered step sequence of ``parcours.analytics.paths.sequences``
(window functions over the journey relation), so they run on any engine. Where that sequence
is read from its stored table, the steps are ENUM codes (so every step shown is cast back to
text) and distinct customers are counted with its first-occurrence flags instead of
``count(DISTINCT customer_id)``: the same figures, without hashing a million customer ids. Where a view
shows only the top N, the rest is one ``(other)`` row that ``open_other=True`` lists
path by path: the totals always add up to the customers in scope.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
from sqlglot import exp

from parcours.analytics.names import check_matcher, check_property
from parcours.analytics.paths.sequences import (
    Ctes,
    Steps,
    anchor,
    goes_back,
    step_level,
    step_rows,
    with_ctes,
)
from parcours.errors import ParcoursError
from parcours.matcher import COLUMN_FIELDS, EventMatcher, is_entity_field, known_field
from parcours.query.filter import Filter
from parcours.query.match import field
from parcours.query.template import column, sql
from parcours.store.store import Store

Step = str | dict | EventMatcher

#: Marks steps left out of a shown path (before, after or in the middle of it).
ELLIPSIS = "..."
OTHER = "(other)"
SEP = " > "
#: Between a collapsed step and its count of repeats: ``a ×3`` for ``a > a > a``.
TIMES = " ×"


def dfg(store: Store, by: str = "touchpoint", *, filter: Filter | None = None) -> pd.DataFrame:
    """The directly-follows graph: one row per edge ``source -> target``.

    Columns: ``source``, ``target``, ``count`` (times ``target`` was the very next step after
    ``source``), ``customers`` (distinct customers with that transition), ``probability``
    (count / all transitions out of ``source``, 0..1), ``median_seconds`` (median time
    between the two steps). Sorted by count, descending.
    """
    level = step_level(store, by)
    steps = step_rows(store, level.by, filter)
    return level.label(store.engine.df(sql(
        """
        SELECT CAST(prev_step AS VARCHAR) AS source, CAST(step AS VARCHAR) AS target, count(*) AS count,
               {customers} AS customers,
               count(*) / sum(count(*)) OVER (PARTITION BY prev_step) AS probability,
               quantile_cont(epoch(timestamp) - epoch(prev_timestamp), 0.5) AS median_seconds
        FROM {steps} s
        WHERE prev_step IS NOT NULL
        GROUP BY prev_step, step
        ORDER BY count DESC, source, target
        """,
        customers=_customers(steps, "first_edge"), steps=steps.query,
    )))


def transition_matrix(store: Store, by: str = "touchpoint", *, filter: Filter | None = None) -> pd.DataFrame:
    """The transition probabilities as a square table: one row per ``source``, one column per target.

    Each row sums to 1 (a step that is always a journey's last has no row).
    """
    level = step_level(store, by)
    edges = dfg(store, level.by, filter=filter)
    if edges.empty:
        return level.label(pd.DataFrame(columns=["source"]))
    wide = edges.pivot(index="source", columns="target", values="probability").fillna(0.0)
    names = sorted(set(wide.index) | set(wide.columns))
    wide = wide.reindex(columns=names, fill_value=0.0)
    wide.columns.name = None
    return level.label(wide.reset_index())


def loops(store: Store, by: str = "touchpoint", *, filter: Filter | None = None) -> pd.DataFrame:
    """Loops (a step repeated right away: A -> A) and back-and-forth (A -> B -> A) per step.

    Columns: ``step``, ``customers`` (customers with the step), ``loops``, ``loop_customers``,
    ``back_and_forth``, ``back_and_forth_customers``; sorted by loops + back-and-forth.
    """
    level = step_level(store, by)
    steps = step_rows(store, level.by, filter)
    loop, back = sql("prev_step = step"), goes_back()
    return level.label(store.engine.df(sql(
        """
        SELECT CAST(step AS VARCHAR) AS step, {customers} AS customers,
               count(*) FILTER (WHERE {loop}) AS loops,
               {loop_customers} AS loop_customers,
               count(*) FILTER (WHERE {back}) AS back_and_forth,
               {back_customers} AS back_and_forth_customers
        FROM {steps} s
        GROUP BY s.step
        ORDER BY loops + back_and_forth DESC, step
        """,
        customers=_customers(steps, "first_step"), loop=loop, loop_customers=_customers(steps, "first_edge", loop),
        back=back, back_customers=_customers(steps, "first_back", back), steps=steps.query,
    )))


def flows(
    store: Store, start: Step | None = None, max_steps: int = 5, by: str = "touchpoint",
    *, filter: Filter | None = None, collapse_repeats: bool = False, split_by: str | None = None,
    split_step: Step | None = None,
) -> pd.DataFrame:
    """Step-by-step flows for a Sankey diagram, from each customer's first ``start`` (or first step).

    Columns: ``position`` (1 = the start), ``source``, ``target`` (the step at position + 1,
    or ``(end)`` when the journey stops there), ``customers``. At every position the
    customers add up to those still on their way, so nothing leaks out of the diagram.
    ``collapse_repeats`` and ``split_by``/``split_step`` relabel the steps as in ``top_paths``.
    """
    level = step_level(store, by)
    frame = _flow_frame(store, start, max_steps, level.by, filter, collapse_repeats, split_by, split_step)
    # counted, not followed customer by customer (one grouping of the frame): a link is counted at
    # the row it leads to; the journeys that end at a step are those there less those that go on
    counted = [
        ("cells", sql("SELECT position, prev, step, count(*) AS customers FROM frame GROUP BY position, prev, step")),
        ("here", sql("SELECT position, step, sum(customers) AS customers FROM cells WHERE position <= {n} "
                     "GROUP BY position, step", n=int(max_steps))),
        ("links", sql("SELECT position - 1 AS position, prev AS source, step AS target, customers FROM cells "
                      "WHERE position > 1")),
        ("onward", sql("SELECT position, source, sum(customers) AS customers FROM links GROUP BY position, source")),
        ("ends", sql("""
            SELECT h.position, h.step AS source, NULL AS target, h.customers - coalesce(o.customers, 0) AS customers
            FROM here h LEFT JOIN onward o ON o.position = h.position AND o.source = h.step
        """)),
    ]
    return level.label(store.engine.df(with_ctes([*frame, *counted], sql(
        """
        SELECT position, CAST(source AS VARCHAR) AS source, coalesce(CAST(target AS VARCHAR), '(end)') AS target,
               customers
        FROM (SELECT * FROM links UNION ALL SELECT * FROM ends WHERE customers > 0) f
        ORDER BY position, customers DESC, source, target
        """
    ))))


def flow_customers(
    store: Store, position: int, source: str, target: str, start: Step | None = None, max_steps: int = 5,
    by: str = "touchpoint", *, filter: Filter | None = None, collapse_repeats: bool = False,
    split_by: str | None = None, split_step: Step | None = None,
) -> pd.DataFrame:
    """The customers through one Sankey link of ``flows`` (same options): one ``customer_id`` column, sorted.

    Each customer is at one step per position, so there are as many as the link's ``customers``.
    """
    level = step_level(store, by)
    frame = _flow_frame(store, start, max_steps, level.by, filter, collapse_repeats, split_by, split_step)
    return store.engine.df(with_ctes(frame, sql(
        """
        SELECT f.customer_id FROM frame f LEFT JOIN frame g ON g.customer_id = f.customer_id AND g.position = f.position + 1
        WHERE f.position = {position} AND f.position <= {n} AND CAST(f.step AS VARCHAR) = {source}
          AND coalesce(CAST(g.step AS VARCHAR), '(end)') = {target}
        ORDER BY f.customer_id
        """,
        position=int(position), n=int(max_steps), source=str(source), target=str(target),
    )))


def _flow_frame(
    store: Store, start: Step | None, max_steps: int, by: str, filter: Filter | None,
    collapse: bool, split_by: str | None, split_step: Step | None,
) -> Ctes:
    """Named queries ending with ``frame``: each customer's rows of the flows, from its first step (or its
    first ``start``) to one past the last position shown: ``customer_id``, ``position`` (1 = the start),
    ``step`` and ``prev`` (the step before, as shown; the stored ENUM codes without options).

    A step row looks back (``sequences``), so a link is the row it leads to, and a journey ends at a
    position when it has no row at the next one."""
    _check_length(max_steps, "max_steps")
    steps = step_rows(store, by, filter)
    check_matcher(store, "`start`", start)
    ctes, P, shown, prev_shown = _sequence_ctes(store, steps, collapse, split_by, split_step, prev_label=True)
    if start is None:
        framed = sql("SELECT *, 1 AS lo FROM s")
    else:
        framed = sql("""
            SELECT s.*, b.lo
            FROM s JOIN (SELECT customer_id, min({p}) AS lo FROM s WHERE {start} GROUP BY customer_id) b
                 ON s.customer_id = b.customer_id
        """, p=column(P), start=anchor(start, "`start`"))
    frame = sql("""
        SELECT customer_id, {pos} - lo + 1 AS position, {shown} AS step, {prev} AS prev
        FROM {framed} f WHERE {pos} >= lo AND {pos} <= lo + {n}
    """, pos=column(P), shown=column(shown), prev=column(prev_shown), framed=framed, n=int(max_steps))
    return [*ctes, ("frame", frame)]


def _sequence_ctes(
    store: Store, steps: Steps, collapse: bool, split_by: str | None, split_step: Step | None,
    prev_label: bool = False,
) -> tuple[Ctes, str, str, str]:
    """Named queries ending with ``s`` (the step rows), and the names of its columns for the position, the
    step as shown and (with ``prev_label``) the previous row's step as shown: ``pos``, ``shown``,
    ``prev_shown`` with an option, else ``seq``, ``step``, ``prev_step`` as they are.

    With ``collapse``, a run of the same step is one row, at the run's first event, shown as
    ``step ×N`` when N > 1; with ``split_by``, a step (every step, or those matching
    ``split_step``) is shown with the value of that event field: ``step (value)``. With
    ``prev_label``, ``prev_shown`` is the previous row's ``shown`` (NULL at the start). Without
    either option the step rows are read as they are, so the query is the one it was before the
    options (``step`` is an ENUM code on the stored sequence: cast it for output).
    """
    if not collapse and split_by is None:
        return [("s", steps.query)], "seq", "step", "prev_step"
    shown = sql("CAST(step AS VARCHAR)")
    if split_by is not None:
        value = _split_value(store, split_by)
        applies = exp.true() if split_step is None else anchor(split_step, "`split_step`")
        check_matcher(store, "`split_step`", split_step)
        shown = sql("CASE WHEN {applies} THEN {shown} || ' (' || coalesce({value}, {none}) || ')' ELSE {shown} END",
                    applies=applies, shown=shown, value=value, none=NO_VALUE)
    if collapse:
        shown = sql("{shown} || CASE WHEN reps > 1 THEN {times} || CAST(reps AS VARCHAR) ELSE '' END",
                    shown=shown, times=TIMES)
        ctes = [
            ("s0", sql("SELECT *, max(seq) OVER (PARTITION BY customer_id) AS last_seq FROM {steps} x",
                       steps=steps.query)),
            ("s1", sql("""
                SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY seq) AS pos,
                       coalesce(lead(seq) OVER (PARTITION BY customer_id ORDER BY seq), last_seq + 1) - seq AS reps
                FROM s0 WHERE prev_step IS NULL OR prev_step <> step""")),
        ]
    else:
        ctes = [("s1", sql("SELECT *, seq AS pos FROM {steps} x", steps=steps.query))]
    if not prev_label:
        return [*ctes, ("s", sql("SELECT *, {shown} AS shown FROM s1", shown=shown))], "pos", "shown", "prev_shown"
    return [*ctes, ("s2", sql("SELECT *, {shown} AS shown FROM s1", shown=shown)),
            ("s", sql("SELECT *, lag(shown) OVER (PARTITION BY customer_id ORDER BY pos) AS prev_shown FROM s2"))], \
        "pos", "shown", "prev_shown"


#: How a step split by a field shows an event without a value.
NO_VALUE = "none"


def _split_value(store: Store, name: str) -> exp.Expression:
    """The value, as text, of the event field a step is split by (an event column or ``props.NAME``)."""
    try:
        known_field(name)
    except ValueError as e:
        raise ParcoursError(f"`split_by` {name!r}: {e}") from None
    if is_entity_field(name):
        raise ParcoursError(f"`split_by` {name!r}: split a step by an event field (a column or props.NAME); "
                            "person and group fields are not on the steps")
    check_property(store, "`split_by`", name, COLUMN_FIELDS)
    return sql("CAST({value} AS VARCHAR)", value=field(name))


def top_paths(
    store: Store,
    start: Step | None = None,
    end: Step | None = None,
    max_length: int = 5,
    top: int = 10,
    by: str = "touchpoint",
    within: timedelta | None = None,
    open_other: bool = False,
    *,
    filter: Filter | None = None,
    collapse_repeats: bool = False,
    split_by: str | None = None,
    split_step: Step | None = None,
) -> pd.DataFrame:
    """The most common paths from ``start``, to ``end``, between both, or from the first step.

    Each customer counts once: from their first ``start`` (and to the first ``end`` after it,
    within ``within`` if given), or over the last steps up to their first ``end`` (the paths
    before a step). A path longer than ``max_length`` steps shows ``...`` where steps are left
    out. Between two steps, customers who never reach ``end`` form the row ``(did not reach END)``.

    ``collapse_repeats=True`` shows a run of the same step once, as ``a ×3`` for ``a > a > a``
    (and counts it as one step of ``max_length``); ``split_by`` (an event column or
    ``props.NAME``) shows a step with that field's value, ``checkout (mobile)``: every step, or
    only those matching ``split_step`` (Mixpanel's "expand by property").

    Columns: ``rank``, ``path`` (steps joined by " > "), ``length`` (steps from the first
    to the last shown step, elided ones in the middle included), ``customers``, ``share`` (of all customers in scope, 0..1).
    The first ``top`` paths are followed by one ``(other)`` row with the rest;
    ``open_other=True`` lists the paths inside ``(other)`` instead.
    """
    if top < 1:
        raise ParcoursError(f"top={top}: must be at least 1")
    level = step_level(store, by)
    per_customer = _paths(store, start, end, max_length, level.by, within, filter,
                          collapse_repeats, split_by, split_step)
    df = store.engine.df(sql(
        """
        SELECT path, min(length) AS length, count(*) AS customers
        FROM {per_customer} GROUP BY path ORDER BY customers DESC, path
        """,
        per_customer=per_customer,
    ))
    return level.label(rank_paths(df, top, open_other))


def rank_paths(counts: pd.DataFrame, top: int = 10, open_other: bool = False) -> pd.DataFrame:
    """``top_paths``' table from customers per path (``path``, ``length``, ``customers``, most first).

    For paths counted elsewhere (e.g. ``customer_paths`` of a chosen set of customers), so
    that every paths table ranks, shares and keeps its ``(other)`` row the same way.
    """
    df = counts.reset_index(drop=True)
    total = int(df["customers"].sum())
    df.insert(0, "rank", range(1, len(df) + 1))
    df["share"] = df["customers"] / total if total else 0.0
    if open_other:
        return df.iloc[top:].reset_index(drop=True)
    shown, rest = df.iloc[:top], df.iloc[top:]
    if rest.empty:
        return shown.reset_index(drop=True)
    other = pd.DataFrame([{
        "rank": None, "path": OTHER, "length": None,
        "customers": int(rest["customers"].sum()), "share": float(rest["share"].sum()),
    }])
    return pd.concat([shown, other], ignore_index=True)


def customer_paths(
    store: Store,
    start: Step | None = None,
    end: Step | None = None,
    max_length: int = 5,
    by: str = "touchpoint",
    within: timedelta | None = None,
    *,
    filter: Filter | None = None,
    collapse_repeats: bool = False,
    split_by: str | None = None,
    split_step: Step | None = None,
    path: str | None = None,
) -> pd.DataFrame:
    """Each customer's path as ``top_paths`` counts it (same options): ``customer_id``, ``path``, ``length``.

    With ``path``, only the customers on that path (a row of ``top_paths``; ``(other)`` is
    every customer on a path outside the first ``top``, which only the caller knows: list
    those with ``open_other``). Sorted by customer id.
    """
    level = step_level(store, by)
    paths = _paths(store, start, end, max_length, level.by, within, filter, collapse_repeats, split_by, split_step)
    on_path = exp.true() if path is None else sql("path = {path}", path=path)
    return store.engine.df(sql("SELECT customer_id, path, length FROM {paths} p WHERE {on_path} ORDER BY customer_id",
                               paths=paths, on_path=on_path))


def _check_length(n: int, name: str) -> None:
    if n < 1:
        raise ParcoursError(f"{name}={n}: a path needs at least one step")


def _customers(steps: Steps, flag: str, condition: exp.Expression | None = None) -> exp.Expression:
    """Counts the distinct customers of a group's rows (those meeting ``condition``, if given).

    On the stored sequence ``flag`` marks one row per customer and key (see
    ``sequences.FLAGS``); the key must be the group's key plus ``condition``.
    """
    if steps.stored:
        flagged = column(flag) if condition is None else sql("{flag} AND {condition}", flag=column(flag),
                                                              condition=condition)
        return sql("count(*) FILTER (WHERE {flagged})", flagged=flagged)
    if condition is None:
        return sql("count(DISTINCT customer_id)")
    return sql("count(DISTINCT customer_id) FILTER (WHERE {condition})", condition=condition)


def _paths(
    store: Store, start: Step | None, end: Step | None, L: int, by: str,
    within: timedelta | None, filter: Filter | None, collapse: bool = False,
    split_by: str | None = None, split_step: Step | None = None,
) -> exp.Query:
    """The query of one row per customer in scope: ``customer_id``, ``path``, ``length``."""
    _check_length(L, "max_length")
    L = int(L)
    check_matcher(store, "`end`", end, check_matcher(store, "`start`", start))
    steps = step_rows(store, by, filter)
    ctes, P, shown, _ = _sequence_ctes(store, steps, collapse, split_by, split_step)
    p, sp, end_at = column(P), column(P, "s"), anchor(end, "`end`")
    if start is not None and end is not None:
        limit = (sql("epoch(s.timestamp) - epoch(a.ts) <= {seconds}", seconds=within.total_seconds())
                 if within else exp.true())
        bounds = [
            ("a", sql("""SELECT customer_id, min({p}) AS lo, arg_min(timestamp, {p}) AS ts
                         FROM s WHERE {start} GROUP BY customer_id""", p=p, start=anchor(start, "`start`"))),
            ("e", sql("""SELECT s.customer_id, min({sp}) AS hi FROM s JOIN a ON s.customer_id = a.customer_id
                         WHERE {end} AND {sp} > a.lo AND {limit} GROUP BY s.customer_id""",
                      sp=sp, end=end_at, limit=limit)),
            ("bounds", sql("""SELECT a.customer_id, a.lo, e.hi, 0 AS pre, 0 AS post, e.hi - a.lo + 1 > {L} AS cut
                              FROM a LEFT JOIN e ON a.customer_id = e.customer_id""", L=L)),
        ]
    elif end is not None:
        bounds = [
            ("e", sql("SELECT customer_id, min({p}) AS hi FROM s WHERE {end} GROUP BY customer_id", p=p, end=end_at)),
            ("bounds", sql("""SELECT customer_id, greatest(1, hi - {L} + 1) AS lo, hi,
                                     CASE WHEN hi > {L} THEN 1 ELSE 0 END AS pre, 0 AS post, FALSE AS cut FROM e""",
                           L=L)),
        ]
    else:
        begin = 1 if start is None else sql("min({p}) FILTER (WHERE {start})", p=p, start=anchor(start, "`start`"))
        bounds = [
            ("b", sql("SELECT customer_id, {begin} AS lo, max({p}) AS last FROM s GROUP BY customer_id",
                      begin=begin, p=p)),
            ("bounds", sql("""SELECT customer_id, lo, lo + {L} - 1 AS hi, 0 AS pre,
                                     CASE WHEN last > lo + {L} - 1 THEN 1 ELSE 0 END AS post, FALSE AS cut
                              FROM b WHERE lo IS NOT NULL""", L=L)),
        ]
    labelled = sql("""
        SELECT s.customer_id, {sp} AS pos,
               CASE WHEN {sp} < bounds.lo OR {sp} > bounds.hi THEN {ellipsis}
                    WHEN bounds.cut AND {sp} = bounds.lo + {L} - 1 THEN {ellipsis}
                    ELSE CAST({shown} AS VARCHAR) END AS label
        FROM s JOIN bounds ON s.customer_id = bounds.customer_id
        WHERE bounds.hi IS NOT NULL
          AND {sp} >= bounds.lo - bounds.pre AND {sp} <= bounds.hi + bounds.post
          AND NOT (bounds.cut AND {sp} > bounds.lo + {L} - 1 AND {sp} < bounds.hi)
    """, sp=sp, ellipsis=ELLIPSIS, L=L, shown=column(shown, "s"))
    walked = sql("""
        SELECT customer_id, string_agg(label, {sep} ORDER BY pos) AS path,
               count(*) FILTER (WHERE label <> {ellipsis}) AS shown
        FROM labelled GROUP BY customer_id
    """, sep=SEP, ellipsis=ELLIPSIS)
    missed = f"(did not reach {end if isinstance(end, str) else 'the end step'})"
    return with_ctes([*ctes, *bounds, ("labelled", labelled), ("walked", walked)], sql("""
        SELECT w.customer_id, w.path,
               CASE WHEN b.cut THEN b.hi - b.lo + 1 ELSE w.shown END AS length
        FROM walked w JOIN bounds b ON w.customer_id = b.customer_id
        UNION ALL
        SELECT customer_id, {missed} AS path, 0 AS length
        FROM bounds WHERE hi IS NULL
    """, missed=missed))
