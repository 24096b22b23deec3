"""The import pipeline: read batches, map and validate them in DuckDB, load or quarantine.

Per batch: the batch is copied once into a DuckDB temp table (``batch_in``; Parquet is
read by DuckDB itself, a range of row groups at a time); one SQL query (never
materialised) turns its columns into event fields, a ``reason`` (NULL when the row is
valid) and a message id, and one insert appends the valid rows whose message id is not
stored yet. Only when it loaded fewer rows than the batch holds does a narrower pass
count the bad rows and send them to the quarantine table with their row number and raw
content. Each batch is one transaction: an import is all-or-nothing per batch, and
resumable because re-importing skips what is stored.

Rows without a message id get a deterministic one: the md5 of the row's content and
of how many identical rows came before it in the file (md5, not DuckDB's ``hash()``,
because ids must stay the same across DuckDB versions). Re-importing a file adds
nothing, yet two identical rows in one file stay two events. Only each row's 64-bit
hash is kept across batches, to number the repeats; and as derived ids are unique
within a file, they are checked only against the events stored before the import
began (``_DedupScope``).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from parcours.engine.base import DuckDBEngine
from parcours.errors import ImportError_
from parcours.ingest.mapping import EVENT_TYPES, Mapping
from parcours.ingest.readers import FORMATS, Batch, ParquetRows, check_file, guess_format, read_file
from parcours.ingest.validation import row_problems
from parcours.query import Query, column, ident, literal, sql, table
from parcours.query.match import all_of
from parcours.store.schema import ARRIVAL_STRIDE
from parcours.store.store import DatabaseError, Store, utcnow

TIMESTAMP_FORMATS = ("iso", "unix", "unix_ms")
#: event fields that may stay NULL (no source column, no constant)
_OPTIONAL_FIELDS = ("anonymous_id", "user_id", "previous_id", "channel", "utm_source", "utm_medium",
                    "utm_campaign", "context")
#: rows per Arrow slice DuckDB scans: one slice is one task for one of its threads
SCAN_CHUNK_ROWS = 1 << 16
_OFFSET_RE = r"(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$"


#: the share of a file's rows that may be quarantined before the import counts as failed
MAX_QUARANTINED = 0.5
#: how many reasons a failed import names
TOP_REASONS = 3
#: a reason's kind: the reason with its row's own value left out, so that rows with one problem count together
_REASON_KIND_SQL = (
    "regexp_replace(regexp_replace(reason, "
    "'^(cannot read timestamp |timestamp |survey_response: properties.score |type ).*?( in column | is )', "
    "'\\1...\\2'), '^(column .* is not a JSON object|malformed JSON|survey_response: [a-z]+ score ).*$', '\\1...')"
)


@dataclass
class ImportSummary:
    """What an import did: rows read, loaded, quarantined (with the reasons), skipped as duplicates."""

    source: str
    loaded: int = 0
    quarantined: int = 0
    duplicates: int = 0
    rows: int = 0
    #: quarantined rows per kind of reason (the row's own value left out), most frequent first
    reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)

    def top_reasons(self, n: int = TOP_REASONS) -> list[tuple[str, int]]:
        return sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))[:n]

    def describe_reasons(self, n: int = TOP_REASONS) -> str:
        return "; ".join(f"{reason} ({count:,} rows)" for reason, count in self.top_reasons(n))


#: the name the Python API documents; the CLI prints the same fields
ImportResult = ImportSummary


class ImportFailed(ImportError_):
    """More rows were quarantined than the import allows: the file, or its mapping, is wrong.

    The rows that were valid stay loaded (re-importing a fixed file adds only the rest);
    ``result`` holds the counts and reasons.
    """

    def __init__(self, result: ImportSummary, limit: float):
        self.result = result
        share = result.quarantined / result.rows if result.rows else 0
        super().__init__(
            f"{result.source}: {result.quarantined:,} of {result.rows:,} rows quarantined ({share:.0%}, more than "
            f"the {limit:.0%} allowed); top reasons: {result.describe_reasons()}; fix the mapping "
            f"(--map FIELD=COLUMN) or the file, see `parcours quarantine --source {result.source}`"
        )


def _text(col: str) -> Query:
    return sql("NULLIF(CAST({c} AS VARCHAR), '')", c=column(col))


def _null(type_name: str) -> Query:
    return exp.cast(exp.null(), exp.DataType.build(type_name))


def _json_object(pairs: list) -> Query:
    """``json_object(key, value, ...)`` of the pairs flattened in ``pairs`` (keys are bound as constants)."""
    return exp.func("json_object", *(value if isinstance(value, exp.Expression) else literal(value) for value in pairs))


#: ``_k``: (__row, k) for the rows of ``_h`` whose content repeats, in this batch or earlier in the file.
#: ``k`` says this row is the k-th identical row of the file. Only the repeats are numbered (and
#: sorted); every other row is the first of its kind (k = 1). The 64-bit hash only groups rows to
#: number: a collision numbers two different rows in one sequence, which still gives them different
#: ids (the id hashes the content).
_NUMBER_REPEATS = """
    CREATE OR REPLACE TEMP TABLE _k AS
    WITH seen AS (   -- how many rows of each content of this batch earlier batches of the file held
        SELECT s.h, sum(s.n) AS n FROM _seen s SEMI JOIN _h USING (h) GROUP BY s.h
    ), repeated AS (
        SELECT h FROM _h GROUP BY h HAVING count(*) > 1 UNION SELECT h FROM seen
    )
    SELECT h.__row, row_number() OVER (PARTITION BY h.h ORDER BY h.__row) + coalesce(s.n, 0) AS k
    FROM _h h SEMI JOIN repeated r USING (h) LEFT JOIN seen s USING (h)
"""


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

    def _source(self, name: str, schema: pa.Schema) -> Query | None:
        """What fills the event field ``name``: a constant, a column of the batch, or nothing (None)."""
        if name in self.m.constants:
            return literal(self.m.constants[name])
        col = self.m.columns.get(name)
        if col is None or col not in schema.names:
            return None
        return _text(col)

    def _field(self, name: str, schema: pa.Schema) -> Query:
        source = self._source(name, schema)
        return _null("VARCHAR") if source is None else source

    def unfilled(self, schema: pa.Schema) -> frozenset[str]:
        """The optional event fields that no column or constant fills: they stay NULL."""
        return frozenset(f for f in _OPTIONAL_FIELDS
                         if (self._context_source(schema) if f == "context" else self._source(f, schema)) is None)

    def _naive_to_utc(self, expr: Query) -> Query:
        if self.tz is None:
            return _null("TIMESTAMP")
        return sql("timezone('UTC', timezone({tz}, {expr}))", tz=self.tz, expr=expr)

    def timestamp(self, schema: pa.Schema) -> tuple[Query, Query]:
        """(raw text, parsed UTC timestamp) expressions for the timestamp field."""
        if "timestamp" in self.m.constants:
            raw = literal(self.m.constants["timestamp"])
            typ = pa.string()
        else:
            col = self.m.columns.get("timestamp")
            if col is None or col not in schema.names:
                return _null("VARCHAR"), _null("TIMESTAMP")
            typ = schema.field(col).type
            raw = _text(col)
            src = column(col)
            if pa.types.is_timestamp(typ):
                if typ.tz is not None:
                    return raw, sql("timezone('UTC', {src})", src=src)
                if self.tz is None:
                    raise ImportError_(
                        f"{self.origin}: column {col!r} holds timestamps without a time zone: pass --timezone"
                    )
                return raw, self._naive_to_utc(sql("CAST({src} AS TIMESTAMP)", src=src))
            if pa.types.is_date(typ):
                if self.tz is None:
                    raise ImportError_(f"{self.origin}: column {col!r} holds dates without a time zone: pass --timezone")
                return raw, self._naive_to_utc(sql("CAST({src} AS TIMESTAMP)", src=src))
            if (pa.types.is_integer(typ) or pa.types.is_floating(typ)) and self.ts_format not in ("unix", "unix_ms"):
                raise ImportError_(
                    f"{self.origin}: column {col!r} holds numbers: pass --timestamp-format unix or unix_ms"
                )
        fmt = self.ts_format or "iso"
        if fmt == "unix":
            return raw, sql("timezone('UTC', to_timestamp(TRY_CAST({raw} AS DOUBLE)))", raw=raw)
        if fmt == "unix_ms":
            return raw, sql("timezone('UTC', to_timestamp(TRY_CAST({raw} AS DOUBLE) / 1000.0))", raw=raw)
        if fmt == "iso":
            # fast path for the common UTC form (…Z, no other offset after the date): a plain
            # TIMESTAMP cast, several times cheaper than the TIMESTAMPTZ one, which stays the fallback
            return raw, sql(
                """
                CASE WHEN suffix({raw}, 'Z') AND strpos(substr({raw}, 11), '+') = 0
                          AND strpos(substr({raw}, 11), '-') = 0
                     THEN coalesce(TRY_CAST({raw} AS TIMESTAMP), timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ)))
                     WHEN regexp_matches({raw}, {offset}) THEN timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ))
                     ELSE {naive} END
                """,
                raw=raw, offset=_OFFSET_RE, naive=self._naive_to_utc(sql("TRY_CAST({raw} AS TIMESTAMP)", raw=raw)),
            )
        if "%z" in fmt or "%Z" in fmt:
            return raw, sql("timezone('UTC', TRY_STRPTIME({raw}, {fmt}))", raw=raw, fmt=fmt)
        return raw, self._naive_to_utc(sql("TRY_STRPTIME({raw}, {fmt})", raw=raw, fmt=fmt))

    def timestamp_problem(self, raw: Query) -> Query:
        col = self.m.columns.get("timestamp", "--set timestamp")
        fmt = self.ts_format or "iso"
        hint = None
        if self.tz is None:
            if fmt == "iso":
                hint = (sql("NOT regexp_matches({raw}, {offset}) AND TRY_CAST({raw} AS TIMESTAMP) IS NOT NULL",
                            raw=raw, offset=_OFFSET_RE),
                        " in column " + col + " has no UTC offset: pass --timezone")
            elif fmt not in ("unix", "unix_ms") and "%z" not in fmt and "%Z" not in fmt:
                hint = (sql("TRY_STRPTIME({raw}, {fmt}) IS NOT NULL", raw=raw, fmt=fmt),
                        " in column " + col + " has no time zone: pass --timezone")
        expected = {"iso": "ISO 8601", "unix": "Unix seconds", "unix_ms": "Unix milliseconds"}.get(fmt, fmt)
        cannot = sql("'cannot read timestamp ' || {raw} || {tail}", raw=raw,
                     tail=" in column " + col + " as " + expected)
        if hint is None:
            return cannot
        naive = sql("'timestamp ' || {raw} || {tail}", raw=raw, tail=hint[1])
        return exp.Case(ifs=[exp.If(this=hint[0], true=naive)], default=cannot)

    def properties(self, schema: pa.Schema) -> tuple[Query, str | None]:
        """(JSON properties expression, the source column given as a JSON object, if any)."""
        pairs: list = []
        for col in self.m.leftover(schema.names):
            if col != self.received_at:
                pairs += [col, column(col)]
        for key, col in self.m.columns.items():
            if key.startswith("properties.") and col in schema.names:
                pairs += [key.removeprefix("properties."), column(col)]
        for key, value in self.m.constants.items():
            if key.startswith("properties."):
                pairs += [key.removeprefix("properties."), value]
        built = _json_object(pairs)
        base = self.m.columns.get("properties")
        if base and base in schema.names:
            return sql("json_merge_patch(CASE WHEN json_valid({text}) THEN {text} ELSE '{}' END, {built})",
                       text=_text(base), built=built), base
        return built, None

    def _context_source(self, schema: pa.Schema) -> Query | None:
        """The context column, with ``--map traits.NAME=COLUMN`` values under ``context.traits`` (None: none)."""
        ctx = self._source("context", schema)
        pairs: list = []
        for key, col in self.m.columns.items():
            if key.startswith("traits.") and col in schema.names:
                pairs += [key.removeprefix("traits."), column(col)]
        for key, value in self.m.constants.items():
            if key.startswith("traits."):
                pairs += [key.removeprefix("traits."), value]
        if not pairs:
            return ctx
        traits = _json_object(["traits", _json_object(pairs)])
        # an invalid context stays as it was, to be quarantined with its reason
        return sql("CASE WHEN {ctx} IS NULL THEN CAST({traits} AS VARCHAR) WHEN json_valid({ctx}) "
                   "THEN CAST(json_merge_patch({ctx}, {traits}) AS VARCHAR) ELSE {ctx} END",
                   ctx=_null("VARCHAR") if ctx is None else ctx, traits=traits)

    @staticmethod
    def _content_columns(schema: pa.Schema) -> list[str]:
        return [c for c in schema.names if c not in ("__row", "__invalid")]

    def derived_id(self, schema: pa.Schema, numbered: bool) -> Query:
        """The md5 of the row's content and its repeat number k: ``content || ':' || k``.

        The content is the line itself, or the columns as text joined by ``\x1f`` with NULL
        as ``\x00``; it is built by one ``concat`` (no intermediate strings). ``numbered``:
        k comes from ``_k`` (1 when the row is not there), else it is 1.
        """
        k = sql("coalesce(_k.k, 1)") if numbered else literal(1)
        if "__raw" in schema.names:
            return sql("md5(__raw || ':' || CAST({k} AS VARCHAR))", k=k)
        parts: list[Query] = []
        for c in self._content_columns(schema):
            if parts:
                parts.append(sql("chr(31)"))
            parts.append(sql("coalesce(CAST({c} AS VARCHAR), chr(0))", c=column(c)))
        suffix = [literal(":"), sql("CAST({k} AS VARCHAR)", k=k)] if numbered else [literal(":1")]
        return sql("md5(concat({parts}))", parts=[*parts, *suffix])

    def hashes(self, schema: pa.Schema) -> Query:
        """Rows ``(__row, h)``: each row's 64-bit content hash, which groups identical rows."""
        content = [column("__raw")] if "__raw" in schema.names else [column(c) for c in self._content_columns(schema)]
        return sql("SELECT __row, hash({content}) AS h FROM batch_in", content=content)

    def staging(self, schema: pa.Schema, numbered: bool) -> Query:
        """One pass over the batch: event fields, ``reason`` (NULL when valid), message id ``mid``.

        ``numbered``: whether ``_k`` holds repeated rows to join (else every row has k = 1).
        """
        ts_raw, ts = self.timestamp(schema)
        props, props_col = self.properties(schema)
        ctx = self._context_source(schema)
        ctx = _null("VARCHAR") if ctx is None else ctx
        invalid = column("__invalid") if "__invalid" in schema.names else _null("VARCHAR")
        received = (sql("timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ))", text=_text(self.received_at))
                    if self.received_at in schema.names else _null("TIMESTAMP"))
        fields = [sql("{value} AS {name}", value=self._field(f, schema), name=ident(f))
                  for f in ("message_id", "user_id", "anonymous_id", "previous_id", "channel",
                            "utm_source", "utm_medium", "utm_campaign")]
        problems = row_problems(
            ts_raw=column("ts_raw"), ts=column("timestamp"), ts_problem=self.timestamp_problem(column("ts_raw")),
            event_column=self.m.columns.get("event", "event"), props_column=props_col, types=EVENT_TYPES,
        )
        base = sql(
            """
            SELECT __row, {invalid} AS invalid, coalesce({message_id}, {derived}) AS mid, {fields},
                   lower({type}) AS type_raw, {event} AS event_raw,
                   {ts_raw} AS ts_raw, {ts} AS timestamp, {received} AS received_at,
                   {props} AS properties, {props_ok} AS props_ok, {props_text} AS props_text,
                   CASE WHEN {ctx} IS NULL OR json_valid({ctx}) THEN {ctx} END AS context,
                   {ctx} IS NULL OR json_valid({ctx}) AS context_ok
            FROM batch_in b
            """,
            invalid=invalid, message_id=self._field("message_id", schema), derived=self.derived_id(schema, numbered),
            fields=fields, type=self._field("type", schema), event=self._field("event", schema),
            ts_raw=ts_raw, ts=ts, received=received, props=props,
            props_ok=(sql("json_valid({t}) AND json_type({t}) = 'OBJECT'", t=_text(props_col)) if props_col
                      else exp.true()),
            props_text=_text(props_col) if props_col else _null("VARCHAR"), ctx=ctx,
        )
        if numbered:
            base = base.join(table("_k"), join_type="left", using=["__row"])
        return sql(
            """
            WITH base AS ({base}), typed AS (
                SELECT *, coalesce(type_raw, 'track') AS type,
                       coalesce(event_raw, CASE coalesce(type_raw, 'track')
                           WHEN 'identify' THEN 'identify' WHEN 'alias' THEN 'alias'
                           WHEN 'page' THEN 'page' WHEN 'screen' THEN 'screen' WHEN 'group' THEN 'group' END) AS event
                FROM base
            )
            SELECT *, {problems} AS reason FROM typed
            """,
            base=base, problems=problems,
        )

    @staticmethod
    def raw_row(schema: pa.Schema) -> Query:
        """The quarantined row as it was in the file: the line itself, or its columns as JSON."""
        if "__raw" in schema.names:
            return column("__raw", "b")
        pairs: list = []
        for c in schema.names:
            if c not in ("__row", "__invalid"):
                pairs += [c, column(c, "b")]
        return _json_object(pairs)


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
        store.execute("SELECT try_strptime('', ?)", [fmt])
    except DatabaseError as e:
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
    encoding: str = "utf-8",
    max_quarantined: float | None = MAX_QUARANTINED,
) -> ImportSummary:
    """Import one file into ``store``; see the module docstring for the guarantees.

    Returns the counts and the quarantine reasons. Raises ``ImportFailed`` (after loading
    the valid rows) when more than ``max_quarantined`` of the rows (a share, 0.5 by default;
    None: no limit) were quarantined, and ``ImportError_`` when the file cannot be read or
    no column fills a required field. ``delimiter`` may be ``"whitespace"``; ``encoding``
    is any Python codec (utf-8, latin-1, cp1252, utf-16...).

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
            store.execute("SELECT timezone(?, TIMESTAMP '2000-01-01')", [timezone])
        except DatabaseError:
            raise ImportError_(f"--timezone {timezone!r}: unknown time zone (use a name like Europe/Paris)") from None
    if max_quarantined is not None and not 0 <= max_quarantined <= 1:
        raise ImportError_(f"--max-quarantined {max_quarantined}: must be a share between 0 and 1")
    total = path.stat().st_size if path.exists() else 0
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        if on_progress:
            on_progress(min(done[0], total), total)

    with _compressed_errors(path):
        names, batches = read_file(path, fmt, delimiter, header, columns, progress, encoding)
    resolved = (mapping or Mapping()).resolve(names, fmt, str(path))
    resolved.check_required(names, str(path))
    builder = _BatchSQL(resolved, str(path), timezone, None if timestamp_format == "iso" else timestamp_format,
                        received_at)
    summary = ImportSummary(source=source or str(path))
    # the highest batch id written before this import (imports: also batches whose events were since erased)
    before = store.execute(
        "SELECT max(b) FROM (SELECT max(batch_id) AS b FROM events UNION ALL SELECT max(batch_id) FROM imports)"
    ).fetchone()[0]
    scope = _DedupScope(before, builder.source_ids)
    store.execute("CREATE OR REPLACE TEMP TABLE _seen (h UBIGINT, n BIGINT)")
    try:
        with _compressed_errors(path, summary):
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                _load_batch(store, builder, batch, path, summary, source, scope)
    finally:
        for name in ("_seen", "_h", "_k", "batch_in"):
            store.execute(sql("DROP TABLE IF EXISTS {name}", name=table(name)))
    if summary.rows == 0:
        raise ImportError_(f"{path}: the file holds no data rows")
    if stitch and summary.loaded:
        from parcours.identity import stitch as run_stitch

        run_stitch(store)
    if max_quarantined is not None and summary.quarantined > max_quarantined * summary.rows:
        raise ImportFailed(summary, max_quarantined)
    return summary


@dataclass
class _DedupScope:
    """Which stored events a batch's message ids must be checked against.

    Derived ids are unique within a file by construction (content and repeat number),
    so the rows of a file cannot collide with the batches this import wrote itself: only
    with the events stored before it began (``before``: their highest batch id, None for
    none) or written by someone else meanwhile. Checking only those keeps the cost of the
    duplicate check proportional to what was stored before, not to what this import
    added; and a first import into an empty store needs none. Ids from the source may
    repeat anywhere in the file: they are checked against every stored event.
    """

    before: int | None
    source_ids: bool
    mine: list[int] = field(default_factory=list)

    def condition(self, store: Store) -> Query | None:
        """The condition on ``events e`` for the rows to check against (None: no check needed)."""
        if self.source_ids:
            return exp.true()
        others = store.execute(
            "SELECT count(*) FROM imports WHERE batch_id > ? AND NOT list_contains(?, batch_id)",
            [self.before or 0, self.mine],
        ).fetchone()[0]
        if others:
            return exp.true()
        return None if self.before is None else sql("e.batch_id <= {before}", before=self.before)


def _stage_batch(store: Store, batch: Batch) -> pa.Schema:
    """Make ``batch_in``, the batch as a DuckDB temp table (with ``__row``); returns its schema.

    The batch is copied once into DuckDB and scanned from there by every step: scanning an
    Arrow batch inside the larger queries costs more than this copy. An Arrow batch is handed
    over in slices (DuckDB scans one Arrow batch on one thread).
    """
    if isinstance(batch, ParquetRows):
        store.execute(sql(
            "CREATE OR REPLACE TEMP TABLE batch_in AS "
            "SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS __row "
            "FROM read_parquet({path}, file_row_number = true) "
            "WHERE file_row_number >= {first} AND file_row_number < {stop}",
            path=str(batch.path), first=int(batch.first), stop=int(batch.stop),
        ))
        # read by the store's own DuckDB (the batch is a temporary table of its connection, whatever
        # engine runs the analyses), as a relation: Arrow from a DB-API result warns of a copy
        return DuckDBEngine(store).arrow("SELECT * FROM batch_in LIMIT 0").schema
    store.register("_arrow_in", pa.Table.from_batches(
        [batch.slice(i, SCAN_CHUNK_ROWS) for i in range(0, batch.num_rows, SCAN_CHUNK_ROWS)]))
    try:
        store.execute("CREATE OR REPLACE TEMP TABLE batch_in AS FROM _arrow_in")
    finally:
        store.unregister("_arrow_in")
    return batch.schema


def _load_batch(store: Store, builder: _BatchSQL, batch: Batch, path: Path, summary: ImportSummary,
                label: str | None, scope: _DedupScope) -> None:
    """Load one batch in one transaction: valid new rows to ``events``, bad rows to quarantine.

    The staging query is never materialised. The insert computes each row's ``reason``
    and keeps the valid rows whose id is not stored yet; only when it loaded fewer rows
    than the batch holds does a second, narrower pass (DuckDB prunes what the reasons do
    not need: ids, properties) count the bad rows, to tell them from duplicates and
    quarantine them. Only the row hashes are kept aside, to number repeats.
    """
    try:
        schema = _stage_batch(store, batch)
        first, last = store.execute("SELECT min(__row), max(__row) FROM batch_in").fetchone()
        store.execute(sql("CREATE OR REPLACE TEMP TABLE _h AS SELECT * FROM {hashes}", hashes=builder.hashes(schema)))
        store.execute(_NUMBER_REPEATS)
        numbered = store.execute("SELECT count(*) FROM _k").fetchone()[0] > 0
        staging = builder.staging(schema, numbered)
    except DatabaseError as e:
        raise ImportError_(f"{path}: cannot map rows {_first_row(batch)}..: {e}") from None
    now = utcnow()
    source = label or str(path)
    with store.transaction(incremental=True):  # it only appends the batch's events
        batch_id = store.execute("SELECT nextval('batch_seq')").fetchone()[0]
        store.note_batch(batch_id)
        try:
            loaded = _insert_events(store, staging, batch_id, now, label or path.name,
                                    source_ids=builder.source_ids, stored=scope.condition(store),
                                    unfilled=builder.unfilled(schema))
            bad = 0 if loaded == batch.num_rows else store.execute(
                sql("SELECT count(*) FROM {staging} WHERE reason IS NOT NULL", staging=staging)).fetchone()[0]
        except DatabaseError as e:
            raise ImportError_(f"{path}: cannot map rows {first}..: {e}") from None
        if bad:
            for kind, n in store.execute(sql(
                "SELECT {kind}, count(*) FROM {staging} WHERE reason IS NOT NULL GROUP BY ALL",
                kind=sql(_REASON_KIND_SQL), staging=staging,
            )).fetchall():
                summary.reasons[kind] = summary.reasons.get(kind, 0) + n
            # the raw row is rebuilt only for rejected rows, by joining back to the batch
            store.execute(sql(
                """
                INSERT INTO quarantine
                SELECT {source}, r.__row, r.reason, r.raw, {now} FROM (
                    SELECT s.__row, s.reason, {raw} AS raw
                    FROM (SELECT __row, reason FROM {staging} WHERE reason IS NOT NULL) s
                    JOIN batch_in b USING (__row)) r
                WHERE NOT EXISTS (
                    SELECT 1 FROM quarantine q WHERE q.source = {source} AND q.row_number = r.__row AND q.raw = r.raw)
                """,
                source=source, now=now, raw=builder.raw_row(schema), staging=staging,
            ))
        valid = batch.num_rows - bad
        store.execute(
            "INSERT INTO imports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [batch_id, source, first, last, loaded, bad, valid - loaded, now],
        )
    scope.mine.append(batch_id)
    store.execute("INSERT INTO _seen SELECT h, 1 FROM _h")
    summary.rows += batch.num_rows
    summary.loaded += loaded
    summary.quarantined += bad
    summary.duplicates += valid - loaded


def _first_row(batch: Batch) -> int:
    return batch.first + 1 if isinstance(batch, ParquetRows) else batch.column("__row")[0].as_py()


def _event_columns(batch_id: int, now, source: str) -> dict[str, Query]:
    """The events columns, in order, and what fills each from the staging query."""
    staged = {"message_id": "mid", **{c: c for c in (
        "type", "event", "timestamp", "received_at", "anonymous_id", "user_id", "previous_id", "channel",
        "utm_source", "utm_medium", "utm_campaign", "properties", "context")}}
    columns: dict[str, Query] = {c: column(s) for c, s in staged.items()}
    columns["received_at"] = sql("coalesce(received_at, {now})", now=now)
    columns["source"] = literal(source)
    columns["batch_id"] = literal(int(batch_id))
    # the order the rows were recorded in: global across batches and imports (see ARRIVAL_STRIDE)
    columns["arrival_seq"] = sql("{first} + __row", first=int(batch_id) * ARRIVAL_STRIDE)
    return columns


def _insert_events(store: Store, staging: Query, batch_id: int, now, source: str,
                   source_ids: bool, stored: Query | None = exp.true(), unfilled: frozenset[str] = frozenset()) -> int:
    """Append the valid staged rows whose message id is not stored yet; returns how many.

    Derived ids are unique within a file by construction; ids a source gives may repeat,
    and then only the first row with an id is kept. ``stored``: which stored events to
    check the ids against (a condition on ``events e``; None: none, see ``_DedupScope``).
    ``unfilled``: columns no source column fills, left out so that DuckDB fills them with
    NULL itself (cheaper than writing a column of NULLs it is given).
    """
    rows = sql("SELECT * FROM {staging} WHERE reason IS NULL", staging=staging)
    if source_ids:
        rows = sql("SELECT *, row_number() OVER (PARTITION BY mid ORDER BY __row) AS first_of_id FROM {rows} v",
                   rows=rows)
    conditions = [sql("first_of_id = 1")] if source_ids else []
    if stored is not None:
        conditions.append(sql("NOT EXISTS (SELECT 1 FROM events e WHERE e.message_id = s.mid AND {stored})",
                              stored=stored))
    columns = {c: v for c, v in _event_columns(batch_id, now, source).items() if c not in unfilled}
    return store.execute(sql(
        "INSERT INTO events ({columns}) SELECT {values} FROM {rows} s WHERE {conditions}",
        columns=[ident(c) for c in columns], values=list(columns.values()), rows=rows, conditions=all_of(conditions),
    )).fetchone()[0]
