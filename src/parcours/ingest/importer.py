"""The import pipeline: read batches, map and validate them in DuckDB, load or quarantine.

Per batch, one SQL statement turns source columns into event fields and a
``reason`` (NULL when the row is valid). Valid rows are appended unless their
message id is already stored; invalid rows go to the quarantine table with their
row number and raw content. Each batch is one transaction: an import is
all-or-nothing per batch, and resumable because re-importing skips what is stored.

Rows without a message id get a deterministic one: a hash of the row's content and
of how many identical rows came before it in the file. Re-importing a file adds
nothing, yet two identical rows in one file stay two events.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from parcours.errors import ImportError_
from parcours.ingest.mapping import EVENT_TYPES, Mapping
from parcours.ingest.readers import FORMATS, check_file, guess_format, read_file
from parcours.ingest.validation import row_problems_sql
from parcours.matcher import quote
from parcours.store.store import Store, utcnow

TIMESTAMP_FORMATS = ("iso", "unix", "unix_ms")
_OFFSET_RE = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


@dataclass
class ImportSummary:
    source: str
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    rows: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(col: str) -> str:
    return f"NULLIF(CAST({ident(col)} AS VARCHAR), '')"


class _BatchSQL:
    """Builds the per-batch staging query for one file's mapping and options."""

    def __init__(self, mapping: Mapping, origin: str, timezone: str | None, ts_format: str | None,
                 received_at: str | None = None):
        self.m = mapping
        self.origin = origin
        self.tz = timezone
        self.ts_format = ts_format
        #: the column holding each row's receive time (the collector's), else the import time
        self.received_at = received_at
        #: message ids come from the source (and may repeat) rather than being derived
        self.source_ids = "message_id" in mapping.columns or "message_id" in mapping.constants

    def _field(self, name: str, schema: pa.Schema) -> str:
        if name in self.m.constants:
            return quote(self.m.constants[name])
        col = self.m.columns.get(name)
        if col is None or col not in schema.names:
            return "CAST(NULL AS VARCHAR)"
        return _text(col)

    def _naive_to_utc(self, expr: str) -> str:
        if self.tz is None:
            return "CAST(NULL AS TIMESTAMP)"
        return f"timezone('UTC', timezone({quote(self.tz)}, {expr}))"

    def timestamp(self, schema: pa.Schema) -> tuple[str, str]:
        """(raw text, parsed UTC timestamp) expressions for the timestamp field."""
        if "timestamp" in self.m.constants:
            raw = quote(self.m.constants["timestamp"])
            typ = pa.string()
        else:
            col = self.m.columns.get("timestamp")
            if col is None:
                return "CAST(NULL AS VARCHAR)", "CAST(NULL AS TIMESTAMP)"
            if col not in schema.names:
                return "CAST(NULL AS VARCHAR)", "CAST(NULL AS TIMESTAMP)"
            typ = schema.field(col).type
            raw = _text(col)
            src = ident(col)
            if pa.types.is_timestamp(typ):
                if typ.tz is not None:
                    return raw, f"timezone('UTC', {src})"
                if self.tz is None:
                    raise ImportError_(
                        f"{self.origin}: column {col!r} holds timestamps without a time zone: pass --timezone"
                    )
                return raw, self._naive_to_utc(f"CAST({src} AS TIMESTAMP)")
            if pa.types.is_date(typ):
                if self.tz is None:
                    raise ImportError_(f"{self.origin}: column {col!r} holds dates without a time zone: pass --timezone")
                return raw, self._naive_to_utc(f"CAST({src} AS TIMESTAMP)")
            if (pa.types.is_integer(typ) or pa.types.is_floating(typ)) and self.ts_format not in ("unix", "unix_ms"):
                raise ImportError_(
                    f"{self.origin}: column {col!r} holds numbers: pass --timestamp-format unix or unix_ms"
                )
        fmt = self.ts_format or "iso"
        if fmt == "unix":
            return raw, f"timezone('UTC', to_timestamp(TRY_CAST({raw} AS DOUBLE)))"
        if fmt == "unix_ms":
            return raw, f"timezone('UTC', to_timestamp(TRY_CAST({raw} AS DOUBLE) / 1000.0))"
        if fmt == "iso":
            return raw, (
                f"CASE WHEN regexp_matches({raw}, {quote(_OFFSET_RE)}) "
                f"THEN timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ)) "
                f"ELSE {self._naive_to_utc(f'TRY_CAST({raw} AS TIMESTAMP)')} END"
            )
        if "%z" in fmt or "%Z" in fmt:
            return raw, f"timezone('UTC', TRY_STRPTIME({raw}, {quote(fmt)}))"
        return raw, self._naive_to_utc(f"TRY_STRPTIME({raw}, {quote(fmt)})")

    def timestamp_problem(self, raw: str) -> str:
        col = self.m.columns.get("timestamp", "--set timestamp")
        fmt = self.ts_format or "iso"
        naive_hint = ""
        if self.tz is None:
            if fmt == "iso":
                naive_hint = (
                    f"WHEN NOT regexp_matches({raw}, {quote(_OFFSET_RE)}) AND TRY_CAST({raw} AS TIMESTAMP) IS NOT NULL "
                    f"THEN 'timestamp ' || {raw} || ' in column {col} has no UTC offset: pass --timezone' "
                )
            elif fmt not in ("unix", "unix_ms") and "%z" not in fmt and "%Z" not in fmt:
                naive_hint = (
                    f"WHEN TRY_STRPTIME({raw}, {quote(fmt)}) IS NOT NULL "
                    f"THEN 'timestamp ' || {raw} || ' in column {col} has no time zone: pass --timezone' "
                )
        expected = {"iso": "ISO 8601", "unix": "Unix seconds", "unix_ms": "Unix milliseconds"}.get(fmt, fmt)
        cannot = f"'cannot read timestamp ' || {raw} || ' in column {col} as {expected}'"
        return f"CASE {naive_hint}ELSE {cannot} END" if naive_hint else cannot

    def properties(self, schema: pa.Schema) -> tuple[str, str | None]:
        """(JSON properties expression, the source column given as a JSON object, if any)."""
        pairs: list[str] = []
        for col in self.m.leftover(schema.names):
            if col != self.received_at:
                pairs += [quote(col), ident(col)]
        for key, col in self.m.columns.items():
            if key.startswith("properties.") and col in schema.names:
                pairs += [quote(key.removeprefix("properties.")), ident(col)]
        for key, value in self.m.constants.items():
            if key.startswith("properties."):
                pairs += [quote(key.removeprefix("properties.")), quote(value)]
        built = f"json_object({', '.join(pairs)})"
        base = self.m.columns.get("properties")
        if base and base in schema.names:
            return f"json_merge_patch(CASE WHEN json_valid({_text(base)}) THEN {_text(base)} ELSE '{{}}' END, {built})", base
        return built, None

    def staging(self, schema: pa.Schema) -> str:
        content_cols = [c for c in schema.names if c not in ("__row", "__invalid")]
        if "__raw" in schema.names:
            content, bucket = "__raw", "hash(__raw)"
        else:
            content = "concat_ws(chr(31), " + ", ".join(
                f"coalesce(CAST({ident(c)} AS VARCHAR), chr(0))" for c in content_cols
            ) + ")"
            # a fast 64-bit hash only numbers identical rows (k); a collision just numbers two
            # different rows in one sequence, which still gives them different ids
            bucket = "hash(" + ", ".join(ident(c) for c in content_cols) + ")"
        ts_raw, ts = self.timestamp(schema)
        props, props_col = self.properties(schema)
        ctx = self._field("context", schema)
        invalid = "__invalid" if "__invalid" in schema.names else "CAST(NULL AS VARCHAR)"
        received = (
            f"timezone('UTC', TRY_CAST({_text(self.received_at)} AS TIMESTAMPTZ))"
            if self.received_at in schema.names else "CAST(NULL AS TIMESTAMP)"
        )
        fields = ", ".join(
            f"{self._field(f, schema)} AS {f}"
            for f in ("message_id", "user_id", "anonymous_id", "previous_id", "channel",
                      "utm_source", "utm_medium", "utm_campaign")
        )
        ev_col = self.m.columns.get("event", "event")
        problems = row_problems_sql(
            ts_raw="ts_raw", ts="timestamp", ts_problem=self.timestamp_problem("ts_raw"),
            event_column=ev_col, props_column=props_col, types=EVENT_TYPES,
        )
        return f"""
        WITH base AS (
            SELECT __row, {invalid} AS invalid, {bucket} AS h, {content} AS content,
                   {fields},
                   lower({self._field("type", schema)}) AS type_raw,
                   {self._field("event", schema)} AS event_raw,
                   {ts_raw} AS ts_raw, {ts} AS timestamp, {received} AS received_at,
                   {props} AS properties,
                   {f"json_valid({_text(props_col)}) AND json_type({_text(props_col)}) = 'OBJECT'" if props_col else "TRUE"} AS props_ok,
                   {f"{_text(props_col)}" if props_col else "CAST(NULL AS VARCHAR)"} AS props_text,
                   CASE WHEN {ctx} IS NULL OR json_valid({ctx}) THEN {ctx} END AS context,
                   {ctx} IS NULL OR json_valid({ctx}) AS context_ok
            FROM batch_in b
        ), typed AS (
            SELECT *, coalesce(type_raw, 'track') AS type,
                   coalesce(event_raw, CASE coalesce(type_raw, 'track')
                       WHEN 'identify' THEN 'identify' WHEN 'alias' THEN 'alias'
                       WHEN 'page' THEN 'page' WHEN 'screen' THEN 'screen' END) AS event
            FROM base
        ), checked AS (
            SELECT *, {problems} AS reason FROM typed
        ), seen AS (       -- contents of this batch already met in earlier batches of the file
            SELECT s.h, max(s.n) AS n FROM _seen s SEMI JOIN checked c USING (h) GROUP BY s.h
        ), repeated AS (   -- rows whose content occurs twice here or was seen in an earlier batch
            SELECT h FROM checked GROUP BY h HAVING count(*) > 1 UNION ALL SELECT h FROM seen
        ), numbered AS (   -- k: this row is the k-th identical row of the file; sorting only the repeats
            SELECT c.*, 1 AS k FROM checked c ANTI JOIN repeated r USING (h)
            UNION ALL
            SELECT c.*, row_number() OVER (PARTITION BY c.h ORDER BY c.__row) + coalesce(s.n, 0) AS k
            FROM checked c SEMI JOIN repeated r USING (h) LEFT JOIN seen s USING (h)
        )
        SELECT * EXCLUDE (content), coalesce(message_id, md5(content || ':' || CAST(k AS VARCHAR))) AS mid
        FROM numbered
        """

    @staticmethod
    def raw_row(schema: pa.Schema) -> str:
        """The quarantined row as it was in the file: the line itself, or its columns as JSON."""
        if "__raw" in schema.names:
            return "b.__raw"
        cols = [c for c in schema.names if c not in ("__row", "__invalid")]
        return "json_object(" + ", ".join(f"{quote(c)}, b.{ident(c)}" for c in cols) + ")"


@contextmanager
def _compressed_errors(path: Path, summary: ImportSummary | None = None):
    """A truncated or corrupt gzip file is the user's problem, said in one line.

    (Left alone, Click would turn the ``EOFError`` of a truncated file into "aborted".)
    """
    try:
        yield
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        after = f" after {summary.rows} rows (those are loaded; re-import a good copy to finish)" if summary else ""
        raise ImportError_(f"{path}: cannot read the file, the compressed data is corrupt or truncated{after}: {e}") from None


def _check_timestamp_format(store: Store, fmt: str | None) -> None:
    """Refuse a format that is neither a keyword nor a strftime pattern DuckDB understands."""
    if fmt is None or fmt in TIMESTAMP_FORMATS:
        return
    hint = "use iso, unix, unix_ms or a strftime pattern such as %Y%m%d"
    if "%" not in fmt:
        raise ImportError_(f"--timestamp-format {fmt!r}: not a known format; {hint}")
    try:
        store.con.execute("SELECT try_strptime('', ?)", [fmt])
    except duckdb.Error as e:
        problem = str(e).split("Unrecognized format for strftime/strptime:")[-1].strip()
        raise ImportError_(f"--timestamp-format {fmt!r}: {problem}; {hint}") from None


def import_file(
    store: Store,
    path: str | Path,
    fmt: str | None = None,
    mapping: Mapping | None = None,
    timezone: str | None = None,
    timestamp_format: str | None = None,
    delimiter: str = ",",
    header: bool = True,
    columns: list[str] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    stitch: bool = True,
    *,
    source: str | None = None,
    received_at: str | None = None,
) -> ImportSummary:
    """Import one file into ``store``; see the module docstring for the guarantees.

    ``on_progress(done_bytes, total_bytes)`` is called as the file is read. ``source``
    names where the rows come from (events.source, quarantine and imports), instead of
    the file; ``received_at`` is a column holding each row's receive time (ISO 8601 with
    an offset) for events.received_at, instead of the import time. The collector uses
    both, as its staging files are an implementation detail.
    """
    path = Path(path)
    check_file(path)
    fmt = fmt or guess_format(path)
    if fmt not in FORMATS:
        raise ImportError_(f"--as {fmt}: unknown format; use one of {', '.join(FORMATS)}")
    _check_timestamp_format(store, timestamp_format)
    if timezone:
        try:
            store.con.execute(f"SELECT timezone({quote(timezone)}, TIMESTAMP '2000-01-01')")
        except duckdb.Error:
            raise ImportError_(f"--timezone {timezone!r}: unknown time zone (use a name like Europe/Paris)") from None
    if len(delimiter) != 1:
        raise ImportError_(f"--delimiter {delimiter!r}: must be a single character")
    total = path.stat().st_size if path.exists() else 0
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if on_progress:
            on_progress(min(done[0], total), total)

    with _compressed_errors(path):
        names, batches = read_file(path, fmt, delimiter, header, columns, progress)
    resolved = (mapping or Mapping()).resolve(names, fmt, str(path))
    builder = _BatchSQL(resolved, str(path), timezone, None if timestamp_format == "iso" else timestamp_format,
                        received_at)
    summary = ImportSummary(source=source or str(path))
    con = store.con
    con.execute("CREATE OR REPLACE TEMP TABLE _seen (h UBIGINT, n BIGINT)")
    try:
        with _compressed_errors(path, summary):
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                _load_batch(store, builder, batch, path, summary, source)
    finally:
        con.execute("DROP TABLE IF EXISTS _seen")
        con.execute("DROP TABLE IF EXISTS staged")
        con.unregister("batch_in")
    if summary.rows == 0:
        raise ImportError_(f"{path}: the file holds no data rows")
    if stitch and summary.loaded:
        from parcours.identity import stitch as run_stitch

        run_stitch(store)
    return summary


def _load_batch(store: Store, builder: _BatchSQL, batch: pa.RecordBatch, path: Path, summary: ImportSummary,
                label: str | None = None) -> None:
    con = store.con
    con.register("batch_in", pa.Table.from_batches([batch]))
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE staged AS {builder.staging(batch.schema)}")
    except duckdb.Error as e:
        raise ImportError_(f"{path}: cannot map rows {batch.column('__row')[0]}..: {e}") from None
    con.execute("INSERT INTO _seen SELECT h, max(k) FROM staged GROUP BY h")
    now = utcnow()
    source = label or str(path)
    with store.transaction():
        batch_id = con.execute("SELECT nextval('batch_seq')").fetchone()[0]
        bad = con.execute("SELECT count(*) FROM staged WHERE reason IS NOT NULL").fetchone()[0]
        if bad:
            # the raw row is rebuilt only for rejected rows, by joining back to the batch
            con.execute(
                f"""
                INSERT INTO quarantine
                SELECT ?, r.__row, r.reason, r.raw, ? FROM (
                    SELECT s.__row, s.reason, {builder.raw_row(batch.schema)} AS raw
                    FROM (SELECT __row, reason FROM staged WHERE reason IS NOT NULL) s
                    JOIN batch_in b USING (__row)) r
                WHERE NOT EXISTS (
                    SELECT 1 FROM quarantine q WHERE q.source = ? AND q.row_number = r.__row AND q.raw = r.raw)
                """,
                [source, now, source],
            )
        loaded = _insert_events(con, batch_id, now, label or path.name, source_ids=builder.source_ids)
        valid = batch.num_rows - bad
        first, last = batch.column("__row")[0].as_py(), batch.column("__row")[-1].as_py()
        con.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [batch_id, source, first, last, loaded, bad, valid - loaded, now],
        )
    summary.rows += batch.num_rows
    summary.loaded += loaded
    summary.quarantined += bad
    summary.duplicates += valid - loaded


def _insert_events(con: duckdb.DuckDBPyConnection, batch_id: int, now, source: str, source_ids: bool) -> int:
    """Append the valid staged rows whose message id is not stored yet; returns how many.

    Derived ids are unique within a file by construction; ids a source gives may repeat,
    and then only the first row with an id is kept.
    """
    valid = (
        "(SELECT *, row_number() OVER (PARTITION BY mid ORDER BY __row) AS first_of_id "
        "FROM staged WHERE reason IS NULL) s WHERE first_of_id = 1 AND"
        if source_ids else "staged s WHERE reason IS NULL AND"
    )
    return con.execute(
        f"""
        INSERT INTO events
        SELECT mid, type, event, timestamp, coalesce(received_at, ?), anonymous_id, user_id, previous_id, channel,
               utm_source, utm_medium, utm_campaign, properties, context, ?, {int(batch_id)}
        FROM {valid} NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = s.mid)
        """,
        [now, source],
    ).fetchone()[0]
