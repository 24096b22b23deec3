"""Stitching as connected components, computed set-based inside the engine.

Every identifier (a user id, an anonymous id, or a trait value such as
``email:ann@example.com``) is a node. An event links the identifiers it carries:
its user id, anonymous id, alias ``previous_id`` and configured traits. A customer
is a connected component; its canonical id is a user id when it has one, and stays
what it was when new identifiers join (see ``_recompute``), so that a customer known
by one user id is that id and keeps it as history arrives.

The work is incremental: only components touched by events loaded since the last
run are recomputed (label propagation in SQL, one set-based pass per iteration).
A run that joins a customer that existed before with another customer or a new
identifier records a merge, with the links that caused it; ``unmerge`` blocks those
links and recomputes, undoing the merge for good (the same evidence arriving again,
or a full rebuild, does not redo it; new evidence can).
"""

from __future__ import annotations

import pandas as pd
from sqlglot import exp

from parcours.errors import ParcoursError
from parcours.query import Query, sql, table
from parcours.query.match import json_path
from parcours.store.store import Store, utcnow

#: what every event says of its identifiers: itself, its user and anonymous ids together, its alias
_OWN_IDENTIFIERS = (
    """SELECT message_id, timestamp AS ts, coalesce(user_id, anonymous_id) AS primary_id,
              coalesce(user_id, anonymous_id) AS other,
              CASE WHEN user_id IS NOT NULL THEN 'user' ELSE 'anonymous' END AS kind, 'self' AS reason
       FROM new_events""",
    """SELECT message_id, timestamp, user_id, anonymous_id, 'anonymous',
              CASE type WHEN 'identify' THEN 'identify' ELSE 'same_event' END
       FROM new_events WHERE user_id IS NOT NULL AND anonymous_id IS NOT NULL""",
    """SELECT message_id, timestamp, coalesce(user_id, anonymous_id), previous_id, 'anonymous', 'alias'
       FROM new_events WHERE previous_id IS NOT NULL""",
)
#: every trait of an event in one pass: one JSON parse per event, then one row per trait
_TRAITS = """
    SELECT message_id, timestamp, primary_id,
           CASE WHEN NULLIF(v, '') IS NOT NULL THEN kind || ':' || v END, kind, 'trait:' || kind
    FROM (SELECT message_id, timestamp, primary_id, kind, lower(trim(coalesce(p, c))) AS v FROM (
        SELECT message_id, timestamp, coalesce(user_id, anonymous_id) AS primary_id,
               unnest([{names}]) AS kind,
               unnest(json_extract_string(properties, [{props}])) AS p,
               unnest(coalesce(json_extract_string(context, [{traits}]), CAST([{nulls}] AS VARCHAR[]))) AS c
        FROM new_events WHERE CAST(properties AS VARCHAR) <> '{}' OR context IS NOT NULL))
"""


def _identifiers(store: Store, since_batch: int) -> Query:
    """(message_id, ts, primary, other, kind, reason) for every identifier an event carries."""
    parts = [sql(part) for part in _OWN_IDENTIFIERS]
    traits = store.config.identity.traits
    if traits:
        parts.append(sql(_TRAITS, names=list(traits), props=[json_path(t) for t in traits],
                         traits=['$."traits"."' + t + '"' for t in traits], nulls=[None] * len(traits)))
    return sql(
        """
        WITH new_events AS (SELECT * FROM events WHERE batch_id > {since})
        SELECT * FROM {body} WHERE other IS NOT NULL AND primary_id IS NOT NULL
        """,
        since=since_batch, body=exp.union(*parts, distinct=False),
    )


def stitch(store: Store, full: bool = False) -> dict:
    """Bring the identity map up to date with the events loaded since the last run.

    ``full=True`` recomputes every component from scratch. Returns counts of what changed.
    """
    since = 0 if full else int(store.get_meta("stitched_batch", "0"))
    upto = store.execute("SELECT coalesce(max(batch_id), 0) FROM events").fetchone()[0]
    if upto <= since and not full:
        return {"affected_identifiers": 0, "merges": 0}
    with store.transaction(incremental=not full):  # ``_recompute`` names the customers it moves
        store.execute(sql("CREATE OR REPLACE TEMP TABLE _ids AS SELECT * FROM {ids}", ids=_identifiers(store, since)))
        # nodes: new identifiers, and earlier first-seen times for known ones
        store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _nodes AS
            SELECT other AS identifier, arg_min(kind, ts) AS kind, min(ts) AS first_seen FROM _ids GROUP BY other
            """
        )
        store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _merged_nodes AS
            SELECT identifier, arg_min(kind, first_seen) AS kind, min(first_seen) AS first_seen FROM (
                SELECT * FROM identity_nodes UNION ALL SELECT * FROM _nodes) GROUP BY identifier
            """
        )
        store.execute("DELETE FROM identity_nodes WHERE identifier IN (SELECT identifier FROM _nodes)")
        store.execute(
            "INSERT INTO identity_nodes SELECT * FROM _merged_nodes WHERE identifier IN (SELECT identifier FROM _nodes)"
        )
        if full:
            store.execute("DELETE FROM identity_edges")
        store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _new_edges AS
            SELECT least(primary_id, other) AS a, greatest(primary_id, other) AS b,
                   arg_min(reason, ts) AS reason, arg_min(message_id, ts) AS message_id, min(ts) AS ts
            FROM _ids WHERE primary_id <> other GROUP BY 1, 2
            """
        )
        store.execute(
            """
            INSERT INTO identity_edges
            SELECT n.* FROM _new_edges n
            WHERE NOT EXISTS (SELECT 1 FROM identity_edges e WHERE e.a = n.a AND e.b = n.b)
            """
        )
        # the affected part of the graph: new nodes and every customer they touch
        if full:
            store.execute("CREATE OR REPLACE TEMP TABLE _affected AS SELECT identifier FROM identity_nodes")
        else:
            store.execute(
                """
                CREATE OR REPLACE TEMP TABLE _affected AS
                WITH touched AS (SELECT identifier FROM _nodes),
                     customers AS (SELECT DISTINCT m.customer_id FROM identity_map m JOIN touched USING (identifier))
                SELECT identifier FROM touched
                UNION SELECT m.identifier FROM identity_map m JOIN customers USING (customer_id)
                """
            )
        merges = _recompute(store, reason_edges="_new_edges")
        store.set_meta("stitched_batch", str(upto))
        affected = store.execute("SELECT count(*) FROM _affected").fetchone()[0]
    return {"affected_identifiers": affected, "merges": merges}


#: one round of label propagation over ``_edges`` from ``_labels``: every engine runs this query
HOP = sql("""
    WITH hop AS (
        SELECT node, label FROM _labels
        UNION ALL SELECT e.b, l.label FROM _edges e JOIN _labels l ON l.node = e.a
        UNION ALL SELECT e.a, l.label FROM _edges e JOIN _labels l ON l.node = e.b
    ), nearest AS (SELECT node, min(label) AS label FROM hop GROUP BY node)
    -- pointer jumping: adopt the label of your label, which halves long chains
    SELECT n.node, least(n.label, coalesce(j.label, n.label)) AS label
    FROM nearest n LEFT JOIN nearest j ON j.node = n.label
""")
#: how many labels a round changed (0: the components are found)
CHANGED = sql("SELECT count(*) FROM _next n JOIN _labels l USING (node) WHERE n.label <> l.label")


def _components(store: Store) -> None:
    """Label propagation over the unblocked edges among ``_affected`` into ``_labels``.

    The engine runs the rounds (``Engine.label_components``): DuckDB in the store itself,
    Spark on its side with only the labels coming back.
    """
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _edges AS
        SELECT e.a, e.b FROM identity_edges e
        JOIN _affected x ON x.identifier = e.a
        WHERE NOT EXISTS (SELECT 1 FROM identity_blocks k WHERE k.a = e.a AND k.b = e.b)
        """
    )
    store.engine.label_components(HOP, CHANGED)


def _recompute(store: Store, reason_edges: str | None) -> int:
    """Recompute the components of ``_affected``, rewrite their identity map, log merges.

    The canonical id prefers a user id, then an id that already names a customer (so
    ids stay stable as history arrives), then the earliest seen. A merge is logged when
    a customer that existed before gains another unit: another former customer or an
    identifier new to the store. ``merged_ids`` lists those units; ``merge_edges`` the
    links of this run that crossed between them, which is what ``unmerge`` blocks.
    """
    _components(store)
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _canon AS
        SELECT l.label, arg_min(l.node, (CASE n.kind WHEN 'user' THEN 0 WHEN 'anonymous' THEN 1 ELSE 2 END,
                   CASE WHEN l.node IN (SELECT customer_id FROM identity_map) THEN 0 ELSE 1 END,
                   n.first_seen, l.node)) AS customer_id
        FROM _labels l JOIN identity_nodes n ON n.identifier = l.node GROUP BY l.label
        """
    )
    store.execute(
        """
        CREATE OR REPLACE TEMP TABLE _newmap AS
        SELECT l.node AS identifier, c.customer_id, m.customer_id AS old_customer,
               coalesce(m.customer_id, l.node) AS unit
        FROM _labels l JOIN _canon c USING (label) LEFT JOIN identity_map m ON m.identifier = l.node
        """
    )
    merges = 0
    if reason_edges:
        now = utcnow()
        store.execute(sql(
            """
            CREATE OR REPLACE TEMP TABLE _merges AS
            SELECT {next_id} + row_number() OVER (ORDER BY customer_id) - 1 AS merge_id,
                   customer_id, units FROM (
                SELECT customer_id, list(DISTINCT unit ORDER BY unit) AS units FROM _newmap
                GROUP BY customer_id HAVING count(old_customer) > 0 AND count(DISTINCT unit) > 1)
            """,
            next_id=sql(_NEXT_MERGE_ID),
        ))
        store.execute(sql(
            """
            INSERT INTO merge_edges
            SELECT g.merge_id, e.a, e.b, e.reason, e.message_id FROM {reason_edges} e
            JOIN _newmap na ON na.identifier = e.a JOIN _newmap nb ON nb.identifier = e.b
            JOIN _merges g ON g.customer_id = na.customer_id
            WHERE nb.customer_id = na.customer_id AND na.unit <> nb.unit
              AND NOT EXISTS (SELECT 1 FROM identity_blocks k WHERE k.a = e.a AND k.b = e.b)
            """,
            reason_edges=table(reason_edges),
        ))
        store.execute(
            """
            INSERT INTO merge_log
            SELECT g.merge_id, 'merge', g.customer_id, g.units,
                   coalesce((SELECT string_agg(DISTINCT x.reason, ', ' ORDER BY x.reason)
                             FROM merge_edges x WHERE x.merge_id = g.merge_id), 'identity links'), ?
            FROM _merges g
            """,
            [now],
        )
        merges = store.execute("SELECT count(*) FROM _merges").fetchone()[0]
    # the identifiers whose events change customer (an identifier not mapped named its own), for
    # the incremental derived tables
    store.note_moved(sql(
        """
        SELECT a.identifier, coalesce(m.customer_id, a.identifier) AS before,
               coalesce(n.customer_id, a.identifier) AS after
        FROM _affected a LEFT JOIN identity_map m USING (identifier) LEFT JOIN _newmap n USING (identifier)
        WHERE before <> after
        """
    ))
    store.execute("DELETE FROM identity_map WHERE identifier IN (SELECT identifier FROM _affected)")
    store.execute("INSERT INTO identity_map SELECT identifier, customer_id FROM _newmap")
    return merges


#: Merge ids follow the log and, within one stitching run, the customer id: the same data
#: gives the same ids on every engine and in every row order.
_NEXT_MERGE_ID = "SELECT coalesce(max(merge_id), 0) + 1 FROM merge_log"


def merges(store: Store) -> pd.DataFrame:
    """The merge log: which customer ids became one (or were split), when and why."""
    return store.execute(
        "SELECT merge_id, action, customer_id, merged_ids, reason, logged_at FROM merge_log ORDER BY merge_id"
    ).df()


def unmerge(store: Store, merge_id: int) -> list[str]:
    """Undo a merge: block the links that caused it and recompute that customer.

    Returns the customer ids that result. Blocked links stay blocked, so the same
    evidence does not merge the customers again.
    """
    row = store.execute("SELECT customer_id, action FROM merge_log WHERE merge_id = ?", [merge_id]).fetchone()
    if row is None:
        raise ParcoursError(f"merge {merge_id}: no such merge (see `parcours identity merges`)")
    if row[1] != "merge":
        raise ParcoursError(f"merge {merge_id} is an unmerge record; pick the merge it undid")
    if store.execute("SELECT count(*) FROM identity_blocks WHERE merge_id = ?", [merge_id]).fetchone()[0]:
        raise ParcoursError(f"merge {merge_id} is already undone")
    with store.transaction(incremental=True):  # ``_recompute`` names the customers it moves
        now = utcnow()
        store.execute(
            "INSERT INTO identity_blocks SELECT a, b, merge_id, ? FROM merge_edges WHERE merge_id = ?", [now, merge_id]
        )
        # everything currently stitched with the merge's identifiers
        store.execute(
            """
            CREATE OR REPLACE TEMP TABLE _affected AS
            WITH ids AS (SELECT a AS identifier FROM merge_edges WHERE merge_id = ?
                         UNION SELECT b FROM merge_edges WHERE merge_id = ?),
                 customers AS (SELECT DISTINCT customer_id FROM identity_map JOIN ids USING (identifier))
            SELECT identifier FROM identity_map JOIN customers USING (customer_id)
            """,
            [merge_id, merge_id],
        )
        _recompute(store, reason_edges=None)
        result = [
            r[0]
            for r in store.execute(
                "SELECT DISTINCT customer_id FROM identity_map WHERE identifier IN (SELECT identifier FROM _affected) ORDER BY 1"
            ).fetchall()
        ]
        undo_id = store.execute(_NEXT_MERGE_ID).fetchone()[0]
        store.execute(
            "INSERT INTO merge_log VALUES (?, 'unmerge', ?, ?, ?, ?)",
            [undo_id, row[0], result, f"undoes merge {merge_id}", now],
        )
    return result
