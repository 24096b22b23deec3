"""Which ways customers really take: top paths, Sankey flows, transitions and loops.

All figures come from the ordered step sequence of ``parcours.analytics.sequences``
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

from parcours.analytics.filters import Filter
from parcours.analytics.names import check_matcher
from parcours.analytics.sequences import Steps, anchor_sql, step_level, step_rows
from parcours.errors import ParcoursError
from parcours.matcher import EventMatcher
from parcours.store.store import Store

Step = str | dict | EventMatcher

#: Marks steps left out of a shown path (before, after or in the middle of it).
ELLIPSIS = "..."
OTHER = "(other)"
SEP = " > "


def dfg(store: Store, by: str = "touchpoint", filter: Filter | None = None) -> pd.DataFrame:
    """The directly-follows graph: one row per edge ``source -> target``.

    Columns: ``source``, ``target``, ``count`` (times ``target`` was the very next step after
    ``source``), ``customers`` (distinct customers with that transition), ``probability``
    (count / all transitions out of ``source``, 0..1), ``median_seconds`` (median time
    between the two steps). Sorted by count, descending.
    """
    level = step_level(store, by)
    steps = step_rows(store, level.by, filter)
    return level.label(store.engine.df(
        f"""
        SELECT CAST(step AS VARCHAR) AS source, CAST(next_step AS VARCHAR) AS target, count(*) AS count,
               {_customers(steps, "first_edge")} AS customers,
               count(*) / sum(count(*)) OVER (PARTITION BY step) AS probability,
               quantile_cont(epoch(next_timestamp) - epoch(timestamp), 0.5) AS median_seconds
        FROM ({steps.sql}) s
        WHERE next_step IS NOT NULL
        GROUP BY step, next_step
        ORDER BY count DESC, source, target
        """
    ))


def transition_matrix(store: Store, by: str = "touchpoint", filter: Filter | None = None) -> pd.DataFrame:
    """The transition probabilities as a square table: one row per ``source``, one column per target.

    Each row sums to 1 (a step that is always a journey's last has no row).
    """
    level = step_level(store, by)
    edges = dfg(store, level.by, filter)
    if edges.empty:
        return level.label(pd.DataFrame(columns=["source"]))
    wide = edges.pivot(index="source", columns="target", values="probability").fillna(0.0)
    names = sorted(set(wide.index) | set(wide.columns))
    wide = wide.reindex(columns=names, fill_value=0.0)
    wide.columns.name = None
    return level.label(wide.reset_index())


def loops(store: Store, by: str = "touchpoint", filter: Filter | None = None) -> pd.DataFrame:
    """Loops (a step repeated right away: A -> A) and back-and-forth (A -> B -> A) per step.

    Columns: ``step``, ``customers`` (customers with the step), ``loops``, ``loop_customers``,
    ``back_and_forth``, ``back_and_forth_customers``; sorted by loops + back-and-forth.
    """
    level = step_level(store, by)
    steps = step_rows(store, level.by, filter)
    back = "next2_step = step AND next_step <> step"
    return level.label(store.engine.df(
        f"""
        SELECT CAST(step AS VARCHAR) AS step, {_customers(steps, "first_step")} AS customers,
               count(*) FILTER (WHERE next_step = step) AS loops,
               {_customers(steps, "first_edge", "next_step = step")} AS loop_customers,
               count(*) FILTER (WHERE {back}) AS back_and_forth,
               {_customers(steps, "first_back", back)} AS back_and_forth_customers
        FROM ({steps.sql}) s
        GROUP BY s.step
        ORDER BY loops + back_and_forth DESC, step
        """
    ))


def flows(
    store: Store, start: Step | None = None, max_steps: int = 5, by: str = "touchpoint",
    filter: Filter | None = None,
) -> pd.DataFrame:
    """Step-by-step flows for a Sankey diagram, from each customer's first ``start`` (or first step).

    Columns: ``position`` (1 = the start), ``source``, ``target`` (the step at position + 1,
    or ``(end)`` when the journey stops there), ``customers``. At every position the
    customers add up to those still on their way, so nothing leaks out of the diagram.
    """
    _check_length(max_steps, "max_steps")
    level = step_level(store, by)
    steps = step_rows(store, level.by, filter)
    check_matcher(store, "`start`", start)
    if start is None:  # every customer starts at their first step: no join needed
        scope = f"(SELECT *, 1 AS lo FROM s) s WHERE s.seq < {int(max_steps) + 1}"
    else:
        scope = f"s JOIN ({_begin_sql(steps, start)}) b ON s.customer_id = b.customer_id " \
                f"WHERE s.seq >= b.lo AND s.seq < b.lo + {int(max_steps)}"
    return level.label(store.engine.df(
        f"""
        WITH s AS ({steps.sql})
        SELECT s.seq - lo + 1 AS position, CAST(s.step AS VARCHAR) AS source,
               coalesce(CAST(s.next_step AS VARCHAR), '(end)') AS target, count(*) AS customers
        FROM {scope}
        GROUP BY s.seq - lo, s.step, s.next_step
        ORDER BY position, customers DESC, source, target
        """
    ))


def top_paths(
    store: Store,
    start: Step | None = None,
    end: Step | None = None,
    max_length: int = 5,
    top: int = 10,
    by: str = "touchpoint",
    within: timedelta | None = None,
    open_other: bool = False,
    filter: Filter | None = None,
) -> pd.DataFrame:
    """The most common paths from ``start``, to ``end``, between both, or from the first step.

    Each customer counts once: from their first ``start`` (and to the first ``end`` after it,
    within ``within`` if given), or over the last steps up to their first ``end``. A path
    longer than ``max_length`` steps shows ``...`` where steps are left out. Between two
    steps, customers who never reach ``end`` form the row ``(did not reach END)``.

    Columns: ``rank``, ``path`` (steps joined by " > "), ``length`` (steps from the first
    to the last shown step, elided ones in the middle included), ``customers``, ``share`` (of all customers in scope, 0..1).
    The first ``top`` paths are followed by one ``(other)`` row with the rest;
    ``open_other=True`` lists the paths inside ``(other)`` instead.
    """
    _check_length(max_length, "max_length")
    if top < 1:
        raise ParcoursError(f"top={top}: must be at least 1")
    level = step_level(store, by)
    per_customer = _paths_sql(store, start, end, int(max_length), level.by, within, filter)
    df = store.engine.df(
        f"""
        SELECT path, min(length) AS length, count(*) AS customers
        FROM ({per_customer}) GROUP BY path ORDER BY customers DESC, path
        """
    )
    total = int(df["customers"].sum())
    df.insert(0, "rank", range(1, len(df) + 1))
    df["share"] = df["customers"] / total if total else 0.0
    if open_other:
        return level.label(df.iloc[top:].reset_index(drop=True))
    shown, rest = df.iloc[:top], df.iloc[top:]
    if rest.empty:
        return level.label(shown.reset_index(drop=True))
    other = pd.DataFrame([{
        "rank": None, "path": OTHER, "length": None,
        "customers": int(rest["customers"].sum()), "share": float(rest["share"].sum()),
    }])
    return level.label(pd.concat([shown, other], ignore_index=True))


def _check_length(n: int, name: str) -> None:
    if n < 1:
        raise ParcoursError(f"{name}={n}: a path needs at least one step")


def _customers(steps: Steps, flag: str, condition: str | None = None) -> str:
    """SQL counting the distinct customers of a group's rows (those meeting ``condition``, if given).

    On the stored sequence ``flag`` marks one row per customer and key (see
    ``sequences.FLAGS``); the key must be the group's key plus ``condition``.
    """
    if steps.stored:
        return f"count(*) FILTER (WHERE {flag}{f' AND {condition}' if condition else ''})"
    return "count(DISTINCT customer_id)" + (f" FILTER (WHERE {condition})" if condition else "")


def _begin_sql(steps: Steps, start: Step | None) -> str:
    """Per customer, ``lo``: the position of their first ``start`` step (1 without a start)."""
    if start is None:
        return f"SELECT customer_id, 1 AS lo FROM ({steps.sql}) GROUP BY customer_id"
    return (
        f"SELECT customer_id, min(seq) AS lo FROM ({steps.sql}) "
        f"WHERE {anchor_sql(start, '`start`')} GROUP BY customer_id"
    )


def _paths_sql(
    store: Store, start: Step | None, end: Step | None, L: int, by: str,
    within: timedelta | None, filter: Filter | None,
) -> str:
    """SQL with one row per customer in scope: ``customer_id``, ``path``, ``length``."""
    check_matcher(store, "`end`", end, check_matcher(store, "`start`", start))
    steps = step_rows(store, by, filter)
    end_sql = anchor_sql(end, "`end`")
    if start is not None and end is not None:
        limit = f"AND epoch(s.timestamp) - epoch(a.ts) <= {within.total_seconds()!r}" if within else ""
        bounds = f"""
            a AS (SELECT customer_id, min(seq) AS lo, arg_min(timestamp, seq) AS ts
                  FROM s WHERE {anchor_sql(start, '`start`')} GROUP BY customer_id),
            e AS (SELECT s.customer_id, min(s.seq) AS hi FROM s JOIN a ON s.customer_id = a.customer_id
                  WHERE {end_sql} AND s.seq > a.lo {limit} GROUP BY s.customer_id),
            bounds AS (SELECT a.customer_id, a.lo, e.hi, 0 AS pre, 0 AS post,
                              e.hi - a.lo + 1 > {L} AS cut
                       FROM a LEFT JOIN e ON a.customer_id = e.customer_id)"""
    elif end is not None:
        bounds = f"""
            e AS (SELECT customer_id, min(seq) AS hi FROM s WHERE {end_sql} GROUP BY customer_id),
            bounds AS (SELECT customer_id, greatest(1, hi - {L} + 1) AS lo, hi,
                              CASE WHEN hi > {L} THEN 1 ELSE 0 END AS pre, 0 AS post, FALSE AS cut FROM e)"""
    else:
        bounds = f"""
            b AS ({_begin_sql(steps, start)}),
            n AS (SELECT customer_id, max(seq) AS last FROM s GROUP BY customer_id),
            bounds AS (SELECT b.customer_id, b.lo, b.lo + {L} - 1 AS hi, 0 AS pre,
                              CASE WHEN n.last > b.lo + {L} - 1 THEN 1 ELSE 0 END AS post, FALSE AS cut
                       FROM b JOIN n ON b.customer_id = n.customer_id)"""
    missed = f"(did not reach {end if isinstance(end, str) else 'the end step'})"
    return f"""
        WITH s AS ({steps.sql}), {bounds},
        labelled AS (
            SELECT s.customer_id, s.seq,
                   CASE WHEN s.seq < bounds.lo OR s.seq > bounds.hi THEN '{ELLIPSIS}'
                        WHEN bounds.cut AND s.seq = bounds.lo + {L} - 1 THEN '{ELLIPSIS}'
                        ELSE CAST(s.step AS VARCHAR) END AS label
            FROM s JOIN bounds ON s.customer_id = bounds.customer_id
            WHERE bounds.hi IS NOT NULL
              AND s.seq >= bounds.lo - bounds.pre AND s.seq <= bounds.hi + bounds.post
              AND NOT (bounds.cut AND s.seq > bounds.lo + {L} - 1 AND s.seq < bounds.hi)
        ),
        walked AS (
            SELECT customer_id, string_agg(label, '{SEP}' ORDER BY seq) AS path,
                   count(*) FILTER (WHERE label <> '{ELLIPSIS}') AS shown
            FROM labelled GROUP BY customer_id
        )
        SELECT w.customer_id, w.path,
               CASE WHEN b.cut THEN b.hi - b.lo + 1 ELSE w.shown END AS length
        FROM walked w JOIN bounds b ON w.customer_id = b.customer_id
        UNION ALL
        SELECT customer_id, '{missed.replace("'", "''")}' AS path, 0 AS length
        FROM bounds WHERE hi IS NULL
    """
