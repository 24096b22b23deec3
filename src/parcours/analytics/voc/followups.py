"""Closing the loop: a follow-up item for every unhappy answer, with status, owner and notes.

An item opens for every detractor (NPS 0-6) and every very low CSAT (1-2) or CES (1-2)
answer. It records who the customer is (every identifier stitched to them), the
touchpoint, the comment and the touchpoints just before the answer, so whoever calls the
customer back has the context. Its owner is the touchpoint's team (``team`` in the
journey file) unless reassigned. ``create_followups`` is idempotent: one item per
answer, however often it runs. Every change and note is kept in ``followup_history``.

These are the store's own operational tables, written here with DuckDB like ingestion.
"""

from __future__ import annotations

import json

import pandas as pd
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.analytics.voc.answers import answers_query
from parcours.errors import ParcoursError
from parcours.query import column, literal, sql
from parcours.query.journey import event_order
from parcours.query.match import all_of
from parcours.store.store import utcnow

#: Statuses of a follow-up item, in lifecycle order.
STATUSES = ("open", "contacted", "resolved")

#: Which answers open an item.
LOW_ANSWER = sql("(metric = 'nps' AND score <= 6) OR (metric IN ('csat', 'ces') AND score <= 2)")

#: How many touchpoints before the answer an item keeps as the recent journey.
RECENT_TOUCHPOINTS = 10

_LIST_COLUMNS = [column(c) for c in (
    "followup_id", "status", "owner", "customer_id", "identities", "metric", "score", "touchpoint", "stage", "comment",
    "language", "answered_at", "created_at", "updated_at",
)]


def _owner(teams: dict[str, str]) -> exp.Expression:
    """The team of the candidate ``c``'s touchpoint, ``unassigned`` when it has none."""
    if not teams:
        return sql("'unassigned'")
    case = exp.Case(this=column("touchpoint", "c"),
                    ifs=[exp.If(this=literal(k), true=literal(v)) for k, v in teams.items()])
    return sql("coalesce({case}, 'unassigned')", case=case)


def create_followups(store) -> int:
    """Open an item for every low answer that has none yet; returns how many were opened."""
    config = store.config
    now = utcnow()
    query = sql("""
        WITH cand AS (
            SELECT * FROM {answers} a
            WHERE {low} AND message_id NOT IN (SELECT message_id FROM followups)
        ),
        ids AS (
            SELECT c.message_id, list(DISTINCT m.identifier ORDER BY m.identifier) AS identities
            FROM cand c JOIN identity_map m ON m.customer_id = c.customer_id
            GROUP BY c.message_id
        ),
        before AS (
            SELECT c.message_id, j.timestamp, j.arrival_seq, j.message_id AS event_id, j.touchpoint, j.event, j.channel,
                   row_number() OVER (PARTITION BY c.message_id ORDER BY {order} DESC) AS back
            FROM cand c JOIN {events} j
              ON j.customer_id = c.customer_id AND j.timestamp <= c.timestamp AND j.touchpoint IS NOT NULL
        ),
        recent AS (
            SELECT message_id,
                   to_json(list({'at': strftime(timestamp, '%Y-%m-%dT%H:%M:%SZ'), 'touchpoint': touchpoint,
                                 'event': event, 'channel': channel} ORDER BY timestamp, arrival_seq, event_id))
                   AS journey
            FROM before WHERE back <= {recent} GROUP BY message_id
        )
        SELECT c.message_id, c.customer_id, coalesce(ids.identities, [c.customer_id]) AS identities,
               c.metric, c.score, c.touchpoint, c.stage, c.comment, c.language, c.timestamp,
               coalesce(recent.journey, '[]') AS journey, {owner} AS owner
        FROM cand c LEFT JOIN ids USING (message_id) LEFT JOIN recent USING (message_id)
        ORDER BY c.timestamp, c.message_id
    """, answers=answers_query(store), low=LOW_ANSWER, order=event_order("j"), events=events(store),
                recent=RECENT_TOUCHPOINTS, owner=_owner({t.name: t.team for t in config.touchpoints}))
    with store.transaction(changes_data=False):  # no journey data: the journey table stays
        store.execute(sql("CREATE TEMP TABLE new_followups AS {query}", query=query))
        store.execute(
            """INSERT INTO followups
               SELECT nextval('followup_seq'), message_id, customer_id, identities, metric, score, touchpoint,
                      stage, comment, language, timestamp, journey, 'open', owner, ?, ?
               FROM new_followups""",
            [now, now],
        )
        created = store.execute(
            """INSERT INTO followup_history
               SELECT f.followup_id, ?, 'created',
                      n.metric || ' ' || CAST(CAST(n.score AS INTEGER) AS VARCHAR)
                      || coalesce(' at ' || n.touchpoint, '') || ', owner ' || n.owner, NULL
               FROM new_followups n JOIN followups f USING (message_id)""",
            [now],
        ).fetchone()[0]
        store.execute("DROP TABLE new_followups")
    return int(created)


def pending_followups(store) -> int:
    """How many items ``create_followups`` would open now: low answers that have none yet."""
    return int(store.engine.df(sql("""
        SELECT count(*) AS n FROM {answers} a
        WHERE {low} AND message_id NOT IN (SELECT message_id FROM followups)""",
        answers=answers_query(store), low=LOW_ANSWER))["n"].iloc[0])


def list_followups(store, status: str | None = None, owner: str | None = None) -> pd.DataFrame:
    """Follow-up items, newest answer first, optionally only one status or owner.

    Columns: followup_id, status, owner, customer_id, identities, metric, score, touchpoint,
    stage, comment, language, answered_at, created_at, updated_at.
    """
    conditions = []
    if status is not None:
        _check_status(status)
        conditions.append(sql("status = {status}", status=status))
    if owner is not None:
        conditions.append(sql("owner = {owner}", owner=owner))
    return store.execute(sql(
        "SELECT {columns} FROM followups WHERE {where} ORDER BY answered_at DESC, followup_id DESC",
        columns=_LIST_COLUMNS, where=all_of(conditions),
    )).df()


def followup(store, followup_id: int) -> dict:
    """One item with its recent journey (a list) and its history (a list of changes and notes)."""
    row = store.execute(
        sql("SELECT {columns}, recent_journey FROM followups WHERE followup_id = {id}", columns=_LIST_COLUMNS,
            id=followup_id)
    ).df()
    if row.empty:
        raise ParcoursError(f"follow-up {followup_id} does not exist (see `parcours followups list`)")
    item = row.iloc[0].to_dict()
    item["recent_journey"] = json.loads(item["recent_journey"])
    item["history"] = followup_history(store, followup_id).to_dict(orient="records")
    return item


def followup_history(store, followup_id: int) -> pd.DataFrame:
    """Every change and note of an item, oldest first: logged_at, action, detail, author."""
    return store.execute(
        "SELECT logged_at, action, detail, author FROM followup_history WHERE followup_id = ? "
        "ORDER BY logged_at, rowid",
        [followup_id],
    ).df()


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ParcoursError(f"follow-up status {status!r} is not one of {', '.join(STATUSES)}")


def update_followup(
    store,
    followup_id: int,
    status: str | None = None,
    owner: str | None = None,
    note: str | None = None,
    author: str | None = None,
) -> dict:
    """Change an item's status and/or owner and/or add a note; every change is logged.

    Returns the updated item (as ``followup``). Asking for no change is an error, so a
    script that forgot its options hears about it.
    """
    if status is None and owner is None and not (note and note.strip()):
        raise ParcoursError(f"follow-up {followup_id}: nothing to update (give `status`, `owner` or `note`)")
    if status is not None:
        _check_status(status)
    if owner is not None and not owner.strip():
        raise ParcoursError(f"follow-up {followup_id}: `owner` must not be empty")
    current = followup(store, followup_id)
    now = utcnow()
    changes = []
    if status is not None and status != current["status"]:
        changes.append(("status", f"{current['status']} -> {status}"))
    if owner is not None and owner != current["owner"]:
        changes.append(("owner", f"{current['owner']} -> {owner}"))
    if note and note.strip():
        changes.append(("note", note.strip()))
    with store.transaction(changes_data=False):  # no journey data: the journey table stays
        store.execute(
            "UPDATE followups SET status = coalesce(?, status), owner = coalesce(?, owner), updated_at = ? "
            "WHERE followup_id = ?",
            [status, owner, now, followup_id],
        )
        for action, detail in changes:
            store.execute("INSERT INTO followup_history VALUES (?, ?, ?, ?, ?)", [followup_id, now, action, detail, author])
    return followup(store, followup_id)
