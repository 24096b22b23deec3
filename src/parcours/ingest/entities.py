"""``import --as persons`` and ``import --as groups``: person and group tables.

A person table has one row per person (or per change): an id column and trait columns;
each trait becomes a row of ``person_properties`` (history; the latest value wins, see
``parcours.journey.entities``). A group table has a group key column, a type (a column or
``--set group_type=company``) and trait columns for ``group_properties``; a ``user_id``
column also records the membership in ``group_memberships``. A ``timestamp`` column says
when a value was set (ISO 8601, UTC when naive); without one, the import time.

Rows with no id are refused, each in one stderr-ready message naming the row; nothing
is silently dropped: every other column is kept as a trait (NULL cells set nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlglot import exp

from parcours.errors import ImportError_
from parcours.ingest.mapping import Mapping
from parcours.ingest.readers import guess_format
from parcours.query import Query, column, literal, sql
from parcours.store.store import Store, utcnow

ENTITY_KINDS = ("persons", "groups")
_ID_COLUMNS = {"user_id": ("user_id", "userId", "distinct_id", "id"), "anonymous_id": ("anonymous_id", "anonymousId"),
               "group_key": ("group_id", "groupId", "group_key", "id"), "group_type": ("group_type", "groupType"),
               "timestamp": ("timestamp", "updated_at", "set_at")}


@dataclass
class EntitySummary:
    kind: str
    source: str
    rows: int = 0
    values: int = 0  #: property values recorded
    memberships: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


#: how DuckDB reads each kind of table file
_READERS = {
    "csv": "SELECT * FROM read_csv({path}, header = true, all_varchar = true)",
    "jsonl": "SELECT * FROM read_json_auto({path}, format = 'newline_delimited')",
    "parquet": "SELECT * FROM read_parquet({path})",
}


def _text(name: str) -> Query:
    return sql("CAST({c} AS VARCHAR)", c=column(name))


def _reader(path: Path) -> Query:
    fmt = guess_format(path)
    if fmt in _READERS:
        return sql(_READERS[fmt], path=str(path))
    raise ImportError_(f"{path}: a {fmt} file cannot be a person or group table; use CSV, JSON lines or Parquet")


def _column(field: str, columns: list[str], mapping: Mapping) -> str | None:
    if field in mapping.columns:
        if mapping.columns[field] not in columns:
            raise ImportError_(f"--map {field}={mapping.columns[field]}: no such column (columns: {', '.join(columns)})")
        return mapping.columns[field]
    return next((c for c in _ID_COLUMNS[field] if c in columns), None)


def import_entities(store: Store, path: str | Path, kind: str, mapping: Mapping | None = None) -> EntitySummary:
    """Load a person (``kind="persons"``) or group (``kind="groups"``) table into the store."""
    if kind not in ENTITY_KINDS:
        raise ImportError_(f"--as {kind}: not a person or group table; use persons or groups")
    path, mapping = Path(path), mapping or Mapping()
    if not path.exists():
        raise ImportError_(f"{path}: no such file")
    store.execute(sql("CREATE OR REPLACE TEMP TABLE _entity_in AS SELECT * FROM {rows}", rows=_reader(path)))
    try:
        return _load(store, path, kind, mapping)
    finally:
        store.execute("DROP TABLE IF EXISTS _entity_in")


def _load(store: Store, path: Path, kind: str, mapping: Mapping) -> EntitySummary:
    columns = [r[0] for r in store.execute("DESCRIBE _entity_in").fetchall()]
    summary = EntitySummary(kind, str(path), rows=store.execute("SELECT count(*) FROM _entity_in").fetchone()[0])
    if summary.rows == 0:
        raise ImportError_(f"{path}: the file holds no data rows")
    ts_col = _column("timestamp", columns, mapping)
    ts = (sql("coalesce(timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)), TRY_CAST({text} AS TIMESTAMP))",
              text=_text(ts_col)) if ts_col else literal(utcnow()))
    user, anon = _column("user_id", columns, mapping), None
    if kind == "persons":
        anon = _column("anonymous_id", columns, mapping)
        ids = [c for c in (user, anon) if c]
        if not ids:
            raise ImportError_(f"{path}: a person table needs an id column (user_id, userId, distinct_id or id; "
                               "or --map user_id=COLUMN)")
        key = exp.func("coalesce", *(_text(c) for c in ids))
        used = set(ids)
    else:
        gkey = _column("group_key", columns, mapping)
        if gkey is None:
            raise ImportError_(f"{path}: a group table needs a group id column (group_id, groupId or id; "
                               "or --map group_key=COLUMN)")
        user = user if user != gkey else None
        gtype_col = _column("group_type", columns, mapping)
        gtype = _text(gtype_col) if gtype_col else literal(mapping.constants.get("group_type", "company"))
        key = _text(gkey)
        used = {gkey, *(c for c in (gtype_col, user) if c)}
    used |= {ts_col} if ts_col else set()
    bad = store.execute(sql("SELECT row_number() OVER () FROM _entity_in QUALIFY {key} IS NULL OR {ts} IS NULL LIMIT 1",
                            key=key, ts=ts)).fetchone()
    if bad:
        raise ImportError_(f"{path}: data row {bad[0]} has no id or an unreadable timestamp; fix it or drop the row")
    traits = [c for c in columns if c not in used]
    source = str(path)
    for c in traits:
        bindings = dict(key=key, name=c, value=_text(c), ts=ts, source=source, trait=column(c))
        if kind == "persons":
            insert = sql("INSERT INTO person_properties SELECT {key}, {name}, {value}, {ts}, {source} "
                         "FROM _entity_in WHERE {trait} IS NOT NULL", **bindings)
        else:
            insert = sql("INSERT INTO group_properties SELECT {gtype}, {key}, {name}, {value}, {ts}, {source} "
                         "FROM _entity_in WHERE {trait} IS NOT NULL", gtype=gtype, **bindings)
        summary.values += store.execute(insert).fetchone()[0]
    if kind == "groups" and user:
        summary.memberships = store.execute(sql(
            "INSERT INTO group_memberships SELECT {user}, {gtype}, {key}, {ts}, {source} "
            "FROM _entity_in WHERE {member} IS NOT NULL",
            user=_text(user), gtype=gtype, key=key, ts=ts, source=source, member=column(user))).fetchone()[0]
    return summary
