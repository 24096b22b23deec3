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

from parcours.errors import ImportError_
from parcours.ingest.mapping import Mapping
from parcours.ingest.readers import guess_format
from parcours.matcher import quote
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


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _reader(path: Path) -> str:
    fmt = guess_format(path)
    if fmt == "csv":
        return f"read_csv({quote(str(path))}, header = true, all_varchar = true)"
    if fmt == "jsonl":
        return f"read_json_auto({quote(str(path))}, format = 'newline_delimited')"
    if fmt == "parquet":
        return f"read_parquet({quote(str(path))})"
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
    store.execute(f"CREATE OR REPLACE TEMP TABLE _entity_in AS SELECT * FROM {_reader(path)}")
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
    ts = (f"coalesce(timezone('UTC', TRY_CAST(CAST({_ident(ts_col)} AS VARCHAR) AS TIMESTAMPTZ)), "
          f"TRY_CAST(CAST({_ident(ts_col)} AS VARCHAR) AS TIMESTAMP))") if ts_col else f"TIMESTAMP {quote(str(utcnow()))}"
    user, anon = _column("user_id", columns, mapping), None
    if kind == "persons":
        anon = _column("anonymous_id", columns, mapping)
        ids = [c for c in (user, anon) if c]
        if not ids:
            raise ImportError_(f"{path}: a person table needs an id column (user_id, userId, distinct_id or id; "
                               "or --map user_id=COLUMN)")
        key = "coalesce(" + ", ".join(f"CAST({_ident(c)} AS VARCHAR)" for c in ids) + ")"
        used = set(ids)
    else:
        gkey = _column("group_key", columns, mapping)
        if gkey is None:
            raise ImportError_(f"{path}: a group table needs a group id column (group_id, groupId or id; "
                               "or --map group_key=COLUMN)")
        user = user if user != gkey else None
        gtype_col = _column("group_type", columns, mapping)
        gtype = (f"CAST({_ident(gtype_col)} AS VARCHAR)" if gtype_col
                 else quote(mapping.constants.get("group_type", "company")))
        key = f"CAST({_ident(gkey)} AS VARCHAR)"
        used = {gkey, *(c for c in (gtype_col, user) if c)}
    used |= {ts_col} if ts_col else set()
    bad = store.execute(f"SELECT row_number() OVER () FROM _entity_in QUALIFY {key} IS NULL OR {ts} IS NULL LIMIT 1").fetchone()
    if bad:
        raise ImportError_(f"{path}: data row {bad[0]} has no id or an unreadable timestamp; fix it or drop the row")
    traits = [c for c in columns if c not in used]
    source = quote(str(path))
    for c in traits:
        value = f"CAST({_ident(c)} AS VARCHAR)"
        if kind == "persons":
            sql = (f"INSERT INTO person_properties SELECT {key}, {quote(c)}, {value}, {ts}, {source} "
                   f"FROM _entity_in WHERE {_ident(c)} IS NOT NULL")
        else:
            sql = (f"INSERT INTO group_properties SELECT {gtype}, {key}, {quote(c)}, {value}, {ts}, {source} "
                   f"FROM _entity_in WHERE {_ident(c)} IS NOT NULL")
        summary.values += store.execute(sql).fetchone()[0]
    if kind == "groups" and user:
        summary.memberships = store.execute(
            f"INSERT INTO group_memberships SELECT CAST({_ident(user)} AS VARCHAR), {gtype}, {key}, {ts}, {source} "
            f"FROM _entity_in WHERE {_ident(user)} IS NOT NULL").fetchone()[0]
    return summary
