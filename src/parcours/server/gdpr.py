"""Data-subject rights and data hygiene: erase, export, retention, scrubbing.

Erase and export find a person's rows by *column*, not by a list of tables: every
table with a column named like an identifier (``customer_id``, ``user_id``,
``anonymous_id``, ``previous_id``, ``identifier``, or the ``a``/``b`` pair of the
identity-link tables; list columns ending in ``_ids``) is searched, so a table that
a later module adds is covered by the same mechanism. Quarantined rows are matched
on their raw text. All identifiers stitched to the person are used, so one call
removes every alias, anonymous id and trait value at once, in one transaction; then the
store file is rewritten (``Store.rewrite``) so that no byte of the erased rows remains in it.
"""

from __future__ import annotations

import contextlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlglot import exp

from parcours.errors import ParcoursError
from parcours.query import column, ident, sql
from parcours.query.match import all_of
from parcours.store.store import Store, utcnow

ID_COLUMNS = ("customer_id", "user_id", "anonymous_id", "previous_id", "identifier", "a", "b")


def _table(name: str) -> exp.Table:
    """A table of the store by its name as the catalog spells it (quoted: any name is safe)."""
    return exp.Table(this=ident(name))


def identifiers(store: Store, identifier: str) -> list[str]:
    """Every identifier stitched to the same customer as ``identifier`` (itself included)."""
    from parcours.journey.profiles import resolve_customer

    try:
        customer = resolve_customer(store, identifier)
    except ParcoursError:
        return [identifier]
    rows = store.execute(
        "SELECT identifier FROM identity_map WHERE customer_id = ?", [customer]
    ).fetchall()
    return sorted({identifier, customer, *(r[0] for r in rows)})


def _tables(store: Store) -> dict[str, tuple[list[str], list[str]]]:
    """table -> (identifier text columns, identifier list columns) for every table that has any."""
    rows = store.execute(
        """
        SELECT c.table_name, c.column_name, c.data_type FROM duckdb_columns() c
        JOIN duckdb_tables() t USING (database_name, schema_name, table_name)
        WHERE NOT t.temporary AND c.database_name = current_database() AND c.schema_name = 'main'
        ORDER BY c.table_name, c.column_index
        """
    ).fetchall()
    found: dict[str, tuple[list[str], list[str]]] = {}
    for table, name, dtype in rows:
        if dtype == "VARCHAR" and name in ID_COLUMNS:
            found.setdefault(table, ([], []))[0].append(name)
        elif dtype == "VARCHAR[]" and (name in ID_COLUMNS or name.endswith("_ids")):
            found.setdefault(table, ([], []))[1].append(name)
    # a lone "a" or "b" column is not an identifier; the pair is (identity links)
    for table, (cols, lists) in list(found.items()):
        if ("a" in cols) != ("b" in cols):
            cols[:] = [c for c in cols if c not in ("a", "b")]
        if not cols and not lists:
            del found[table]
    return found


def _where(cols: list[str], lists: list[str]) -> exp.Expression:
    """A row names one of the person's identifiers in one of its identifier columns."""
    parts = [sql("{c} IN (SELECT id FROM _gdpr_ids)", c=column(c)) for c in cols]
    parts += [sql("list_has_any({c}, (SELECT list(id) FROM _gdpr_ids))", c=column(c)) for c in lists]
    return exp.or_(*parts, copy=False)


_QUARANTINE_WHERE = sql("EXISTS (SELECT 1 FROM _gdpr_ids WHERE strpos(q.raw, to_json(id)::VARCHAR) > 0)")


def _with_ids(store: Store, ids: list[str]) -> None:
    store.execute("CREATE OR REPLACE TEMP TABLE _gdpr_ids (id VARCHAR)")
    store.executemany("INSERT INTO _gdpr_ids VALUES (?)", [[i] for i in ids])


def export_person(store: Store, identifier: str) -> dict[str, Any]:
    """Everything held about a person, table by table, as JSON-ready rows."""
    ids = identifiers(store, identifier)
    _with_ids(store, ids)
    out: dict[str, Any] = {"identifier": identifier, "identifiers": ids, "exported_at": utcnow().isoformat(),
                           "tables": {}}
    try:
        for table, (cols, lists) in _tables(store).items():
            df = store.execute(sql("SELECT * FROM {table} WHERE {where}", table=_table(table),
                                   where=_where(cols, lists))).df()
            if len(df):
                out["tables"][table] = json.loads(df.to_json(orient="records", date_format="iso"))
        q = store.execute(sql("SELECT * FROM quarantine q WHERE {where}", where=_QUARANTINE_WHERE)).df()
        if len(q):
            out["tables"]["quarantine"] = json.loads(q.to_json(orient="records", date_format="iso"))
    finally:
        store.execute("DROP TABLE IF EXISTS _gdpr_ids")
    for rows in out["tables"].values():
        for row in rows:
            for k, v in row.items():
                if isinstance(v, str) and v[:1] in "{[":
                    with contextlib.suppress(ValueError):
                        row[k] = json.loads(v)
    return out


def erase_person(store: Store, identifier: str) -> dict[str, int]:
    """Delete every row about a person in every table, all at once. Returns rows deleted per table."""
    ids = identifiers(store, identifier)
    _with_ids(store, ids)
    deleted: dict[str, int] = {}
    try:
        with store.transaction():
            for table, (cols, lists) in _tables(store).items():
                n = store.execute(sql("DELETE FROM {table} WHERE {where}", table=_table(table),
                                      where=_where(cols, lists))).fetchone()[0]
                if n:
                    deleted[table] = deleted.get(table, 0) + n
            n = store.execute(sql("DELETE FROM quarantine q WHERE {where}", where=_QUARANTINE_WHERE)).fetchone()[0]
            if n:
                deleted["quarantine"] = deleted.get("quarantine", 0) + n
    finally:
        store.execute("DROP TABLE IF EXISTS _gdpr_ids")
    store.rewrite()  # the deleted rows' bytes stay in freed blocks until the file is rewritten
    return deleted


def apply_retention(store: Store, days: int) -> int:
    """Delete raw events whose timestamp is older than ``days`` days; returns how many."""
    if days < 1:
        raise ParcoursError(f"retention {days} days: must be at least 1")
    cutoff = utcnow() - timedelta(days=days)
    with store.transaction():  # bumps the data version: derived copies are dropped
        return store.execute("DELETE FROM events WHERE timestamp < ?", [cutoff]).fetchone()[0]


def scrub_property(store: Store, name: str, start: datetime | None = None, end: datetime | None = None) -> int:
    """Remove one property (``NAME``, or ``context.NAME``) from every event in [start, end).

    For PII sent by mistake. Returns how many events changed.
    """
    doc = column("properties")
    if name.startswith("context."):
        doc, name = column("context"), name.removeprefix("context.")
    if not name or '"' in name:
        raise ParcoursError(f"scrub: {name!r} is not a property name")
    conds = [sql("json_exists({doc}, {path})", doc=doc, path='$."' + name + '"')]
    if start is not None:
        conds.append(sql("timestamp >= {start}", start=start))
    if end is not None:
        conds.append(sql("timestamp < {end}", end=end))
    with store.transaction():  # bumps the data version: derived copies are dropped
        changed = store.execute(sql(
            "UPDATE events SET {doc} = json_merge_patch({doc}, json_object({name}, NULL)) WHERE {where}",
            doc=doc, name=name, where=all_of(conds),
        )).fetchone()[0]
    if changed:
        store.rewrite()  # the old values stay in freed blocks until the file is rewritten, as for erase
    return changed
