"""Each customer's events as an ordered sequence of steps: the base of paths, stages and friction.

A *step* is what an analysis counts as one position in a journey: the touchpoint (default),
the raw event name, or the stage. Events that have no step at that level (an event matching
no touchpoint, an ignored event such as ``identify``) are left out of the sequence, so that
"directly follows" means "the next step the customer took", not "the next row".

Order within a customer is ``timestamp``, then the step name, then ``message_id``. The store
keeps no file position, so ties on the timestamp are broken by content: deterministic on
every engine, and the same order a process-mining tool gives a log sorted that way.
"""

from __future__ import annotations

from typing import Literal

from parcours.analytics.filters import Filter, events_sql
from parcours.errors import ParcoursError
from parcours.matcher import EventMatcher, matcher_sql, quote
from parcours.store.store import Store

By = Literal["touchpoint", "event", "stage"]
BY_LEVELS = ("touchpoint", "event", "stage")

#: Order of a customer's steps (see the module docstring for why ties go by name).
ORDER = "timestamp, step, message_id"


def step_column(by: str) -> str:
    if by not in BY_LEVELS:
        raise ParcoursError(f"--by {by!r}: unknown step level; use one of {', '.join(BY_LEVELS)}")
    return by


def steps_sql(store: Store, by: str = "touchpoint", flt: Filter | None = None) -> str:
    """SQL of the step sequence: one row per step with its neighbours.

    Columns: the journey relation's columns, plus ``step``, ``seq`` (1-based position in the
    customer's sequence), ``prev_step``, ``next_step``, ``next2_step``, ``next_timestamp``.
    """
    col = step_column(by)
    ignored = ", ".join(quote(e) for e in store.config.ignored_events) or "NULL"
    return f"""
        SELECT s.*,
               row_number() OVER w AS seq,
               lag(step) OVER w AS prev_step,
               lead(step) OVER w AS next_step,
               lead(step, 2) OVER w AS next2_step,
               lead(timestamp) OVER w AS next_timestamp
        FROM (
            SELECT *, CAST({col} AS VARCHAR) AS step FROM ({events_sql(store, flt)})
            WHERE {col} IS NOT NULL AND event NOT IN ({ignored})
        ) s
        WINDOW w AS (PARTITION BY customer_id ORDER BY {ORDER})
    """


def anchor_sql(spec: str | dict | EventMatcher | None, name: str) -> str:
    """A SQL boolean for a path anchor (``--from-step``/``--to-step``), with a clear error for a bad one."""
    if spec is None:
        return "FALSE"
    try:
        return matcher_sql(EventMatcher.parse(spec))
    except ValueError as e:
        raise ParcoursError(f"{name} {spec!r}: not a valid step: {e}") from None
