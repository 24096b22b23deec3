"""Readers: each turns a file into a stream of Arrow record batches.

Every batch carries ``__row``, the 1-based row number in the file (data rows, header
excluded), so quarantined rows can be found again. Readers stream: a file larger
than memory imports batch by batch. ``on_progress`` is called with bytes consumed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from parcours.errors import ImportError_

FORMATS = ("csv", "jsonl", "parquet", "xes")
BATCH_ROWS = 500_000
#: bytes of CSV text per batch (about 250k short rows)
CSV_BLOCK_BYTES = 32 << 20
#: ``--delimiter whitespace``: fields separated by runs of spaces and tabs (CDNOW, fixed-width exports)
WHITESPACE = "whitespace"
#: the encodings ``--encoding`` is documented with (any Python codec name works)
ENCODINGS = ("utf-8", "latin-1", "cp1252", "utf-16")
_UTF8_BOM = codecs.BOM_UTF8

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ParquetRows:
    """Rows ``first`` to ``stop - 1`` (0-based) of a Parquet file, for DuckDB to read itself.

    DuckDB reads Parquet in parallel and keeps its dictionary-encoded strings as they are,
    at about half the CPU of decoding with pyarrow and handing the Arrow batch over; it
    skips the row groups outside the range (a filter on its ``file_row_number``).
    """

    path: Path
    first: int
    stop: int

    @property
    def num_rows(self) -> int:
        return self.stop - self.first


#: what a reader yields: an Arrow batch with ``__row``, or a range of Parquet rows
Batch = pa.RecordBatch | ParquetRows


def guess_format(path: Path) -> str:
    name = path.name.lower().removesuffix(".gz")
    for ext, fmt in ((".csv", "csv"), (".tsv", "csv"), (".txt", "csv"), (".jsonl", "jsonl"),
                     (".ndjson", "jsonl"), (".json", "jsonl"), (".parquet", "parquet"), (".pq", "parquet"),
                     (".xes", "xes")):
        if name.endswith(ext):
            return fmt
    raise ImportError_(f"{path}: cannot tell the format from the extension; pass --as {'|'.join(FORMATS)}")


class _CountingReader(io.RawIOBase):
    """A file wrapper that reports how many bytes of the underlying file were read."""

    def __init__(self, raw, on_progress: Progress | None):
        self.raw = raw
        self.on_progress = on_progress

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        n = len(data)
        b[:n] = data
        if self.on_progress and n:
            self.on_progress(n)
        return n


def _open(path: Path, on_progress: Progress | None):
    """Open a (possibly gzipped) file; progress counts compressed bytes."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller's reader
    counted = io.BufferedReader(_CountingReader(raw, on_progress), buffer_size=1 << 20)
    magic = counted.peek(2)[:2]
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=counted)
    return counted


class _Recoder(io.RawIOBase):
    """UTF-8 bytes out of a file in another encoding, optionally with whitespace runs made one tab.

    pyarrow reads UTF-8 only; recoding as the file streams keeps memory flat. With
    ``whitespace``, each line's fields (split on runs of blanks, leading ones dropped) are
    joined by a tab, so that a whitespace-aligned file reads as a tab-separated one.
    """

    def __init__(self, raw, encoding: str, whitespace: bool):
        self.raw = raw
        self.decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        self.whitespace = whitespace
        self.pending = ""  #: the unfinished last line (whitespace mode)
        self.out = b""
        self.eof = False

    def readable(self) -> bool:
        return True

    def _convert(self, text: str, final: bool) -> bytes:
        if not self.whitespace:
            return text.encode("utf-8")
        text = self.pending + text
        lines = text.split("\n")
        self.pending = "" if final else lines.pop()
        return "".join("\t".join(line.split()) + "\n" for line in lines if line.strip()).encode("utf-8")

    def readinto(self, b) -> int:
        while not self.out and not self.eof:
            chunk = self.raw.read(1 << 20)
            self.eof = not chunk
            self.out = self._convert(self.decoder.decode(chunk, final=self.eof), self.eof)
        n = min(len(b), len(self.out))
        b[:n] = self.out[:n]
        self.out = self.out[n:]
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


def _open_text(path: Path, on_progress: Progress | None, encoding: str = "utf-8", whitespace: bool = False):
    """The file as a UTF-8 byte stream without byte-order mark (recoded when needed)."""
    f = _open(path, on_progress)
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8") and not whitespace:
        if f.peek(3)[:3] == _UTF8_BOM:
            f.read(3)
        return f
    return io.BufferedReader(_Recoder(f, "utf-8-sig" if encoding.lower() in ("utf-8", "utf8") else encoding,
                                      whitespace), buffer_size=1 << 20)


def check_encoding(encoding: str) -> None:
    """Refuse an encoding Python does not know, naming the usual ones."""
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ImportError_(f"--encoding {encoding!r}: unknown encoding; use e.g. {', '.join(ENCODINGS)}") from None


def _text_lines(raw, encoding: str) -> Iterator[str]:
    """The lines of a byte stream as text; a line that does not decode raises ``UnicodeDecodeError``.

    ASCII-compatible encodings are decoded line by line, so the failing line is known;
    UTF-16 lines are not byte lines, so it is decoded as one stream.
    """
    if encoding.lower().replace("_", "-").startswith("utf-16"):
        yield from io.TextIOWrapper(raw, encoding=encoding, newline="")
        return
    codec = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    for number, line in enumerate(raw, start=1):
        yield line.decode(codec if number == 1 else encoding)


def _locate_csv_problem(path: Path, delimiter: str, width: int, header: bool, encoding: str,
                        whitespace: bool) -> str:
    """Where a CSV file first goes wrong, as "line N ...", read again line by line.

    Called only once pyarrow has refused the file (its messages say neither the line nor,
    for bad bytes, the encoding), so the common path pays nothing for it.
    """
    raw = _open(path, None)
    number = 0
    try:
        for number, line in enumerate(_text_lines(raw, encoding), start=1):
            if (number == 1 and header) or not line.strip():
                continue
            fields = line.split() if whitespace else next(csv.reader([line.rstrip("\r\n")], delimiter=delimiter))
            if len(fields) != width:
                return f"line {number} has {len(fields)} fields, not {width}: {line.strip()[:80]!r}"
    except UnicodeDecodeError:
        others = ", ".join(e for e in ENCODINGS if e != encoding)
        return f"line {number + 1} is not valid {encoding} text; pass --encoding with the file's encoding (e.g. {others})"
    finally:
        raw.close()
    return f"the parser refused it after line {number}"


def _with_rows(batch: pa.RecordBatch, first_row: int) -> pa.RecordBatch:
    rows = pa.array(range(first_row, first_row + batch.num_rows), pa.int64())
    return pa.RecordBatch.from_arrays([*batch.columns, rows], names=[*batch.schema.names, "__row"])


def read_csv(
    path: Path,
    delimiter: str = ",",
    header: bool = True,
    columns: list[str] | None = None,
    on_progress: Progress | None = None,
    encoding: str = "utf-8",
) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    """CSV with every column read as text: the mapping decides what the text means.

    A UTF-8 byte-order mark is dropped; another ``encoding`` is recoded to UTF-8 as the
    file streams; ``delimiter="whitespace"`` splits fields on runs of blanks. A parse
    error names the line where the file first goes wrong.
    """
    if not header and not columns:
        raise ImportError_(f"{path}: --no-header needs --columns a,b,c to name the columns")
    check_encoding(encoding)
    whitespace = delimiter == WHITESPACE
    if whitespace:
        delimiter = "\t"
    elif len(delimiter) != 1:
        raise ImportError_(f"--delimiter {delimiter!r}: must be a single character or 'whitespace'")
    f = _open_text(path, on_progress, encoding, whitespace)
    if header:
        try:
            first = f.peek(1 << 16).split(b"\n", 1)[0].decode("utf-8").strip("\r")
        except UnicodeDecodeError:
            raise ImportError_(f"{path}: line 1 is not valid {encoding} text; pass --encoding with the file's "
                               f"encoding (e.g. {', '.join(e for e in ENCODINGS if e != encoding)})") from None
        if not first.strip():
            raise ImportError_(f"{path}: the file is empty (no header line)")
        names = next(iter(csv.reader([first], delimiter=delimiter)))
    else:
        names = list(columns or [])
    if len(set(names)) != len(names):
        raise ImportError_(f"{path}: duplicate column names in the header: {names}")
    try:
        reader = pacsv.open_csv(
            f,
            read_options=pacsv.ReadOptions(
                column_names=None if header else names, block_size=CSV_BLOCK_BYTES, use_threads=True
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as e:
        f.close()
        where = _locate_csv_problem(path, delimiter, len(names), header, encoding, whitespace)
        raise ImportError_(f"{path}: not a readable CSV file: {where} ({' '.join(str(e).split())[:120]})") from None

    def batches() -> Iterator[pa.RecordBatch]:
        row = 1
        try:
            for batch in reader:
                yield _with_rows(batch, row)
                row += batch.num_rows
        except (pa.ArrowInvalid, UnicodeDecodeError) as e:
            where = _locate_csv_problem(path, delimiter, len(names), header, encoding, whitespace)
            raise ImportError_(f"{path}: CSV error: {where} ({' '.join(str(e).split())[:120]})") from None
        finally:
            f.close()

    return names, batches()


def _json_value(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def read_jsonl(path: Path, on_progress: Progress | None = None) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    """JSON Lines: one object per line. Nested values are kept as JSON text.

    A line that is not a JSON object becomes a row with only ``__invalid`` set, so that
    it is quarantined with its line number instead of stopping the import.
    """
    f = _open(path, on_progress)
    head = f.peek(1 << 16)
    if not head.strip():
        f.close()
        raise ImportError_(f"{path}: the file is empty")
    keys: dict[str, None] = {}
    sample = [ln for ln in head.split(b"\n")[:-1] if ln.strip()][:1000]
    for line in sample:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            keys.update(dict.fromkeys(obj))
    if not keys and sample:
        f.close()
        raise ImportError_(f"{path}: not JSON Lines (no line in the first 64 KiB is a JSON object)")

    def batches() -> Iterator[pa.RecordBatch]:
        cols: dict[str, list] = {k: [] for k in keys}
        invalid: list[str | None] = []
        raw: list[str] = []
        rows: list[int] = []
        n = 0

        def flush() -> pa.RecordBatch:
            arrays = {k: pa.array(v, pa.string()) for k, v in cols.items()}
            arrays["__invalid"] = pa.array(invalid, pa.string())
            arrays["__raw"] = pa.array(raw, pa.string())
            arrays["__row"] = pa.array(rows, pa.int64())
            return pa.RecordBatch.from_pydict(arrays)

        try:
            for lineno, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                text = line.decode("utf-8", "replace").rstrip("\r\n")
                try:
                    obj = json.loads(text)
                    problem = None if isinstance(obj, dict) else "line is not a JSON object"
                except ValueError as e:
                    obj, problem = {}, f"malformed JSON: {e}"
                if problem:
                    obj = {}
                for k in obj:
                    if k not in cols:
                        cols[k] = [None] * n
                for k, values in cols.items():
                    values.append(_json_value(obj.get(k)))
                invalid.append(problem)
                raw.append(text)
                rows.append(lineno)
                n += 1
                if n >= 100_000:
                    yield flush()
                    for values in cols.values():
                        values.clear()
                    invalid.clear()
                    raw.clear()
                    rows.clear()
                    n = 0
            if n:
                yield flush()
        finally:
            f.close()

    return list(keys), batches()


def _row_group_ranges(pf: pq.ParquetFile) -> Iterator[tuple[int, int]]:
    """Ranges of whole row groups of at most ``BATCH_ROWS`` rows (or one larger row group)."""
    first = stop = 0
    for i in range(pf.metadata.num_row_groups):
        rows = pf.metadata.row_group(i).num_rows
        if stop > first and stop + rows - first > BATCH_ROWS:
            yield first, stop
            first = stop
        stop += rows
    if stop > first:
        yield first, stop


def read_parquet(path: Path, on_progress: Progress | None = None) -> tuple[list[str], Iterator[Batch]]:
    """Ranges of rows for DuckDB to read (``ParquetRows``), else pyarrow's batches.

    pyarrow reads the files DuckDB's range reading does not suit: a column already named
    ``file_row_number``, or row groups over ``4 * BATCH_ROWS`` rows, too large for one batch
    (pyarrow slices inside a row group). pyarrow writes row groups of up to 1Mi rows.
    """
    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise ImportError_(f"{path}: not a readable Parquet file: {e}") from None
    names = pf.schema_arrow.names
    size = path.stat().st_size
    total = max(pf.metadata.num_rows, 1)
    largest = max((pf.metadata.row_group(i).num_rows for i in range(pf.metadata.num_row_groups)), default=0)
    by_duckdb = "file_row_number" not in names and largest <= 4 * BATCH_ROWS

    def progress(rows: int) -> None:
        if on_progress:
            on_progress(int(size * rows / total))

    def ranges() -> Iterator[Batch]:
        for first, stop in _row_group_ranges(pf):
            yield ParquetRows(path, first, stop)
            progress(stop - first)

    def batches() -> Iterator[Batch]:
        row = 1
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            yield _with_rows(batch, row)
            row += batch.num_rows
            progress(batch.num_rows)

    return names, ranges() if by_duckdb else batches()


def check_file(path: Path) -> None:
    """Refuse a path that is not a readable, non-empty file, saying which."""
    if not path.exists():
        raise ImportError_(f"{path}: no such file")
    if not path.is_file():
        raise ImportError_(f"{path}: not a file")
    if path.stat().st_size == 0:
        raise ImportError_(f"{path}: the file is empty")
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as e:
        raise ImportError_(f"{path}: cannot read the file: {e.strerror}") from None


def read_file(
    path: Path,
    fmt: str,
    delimiter: str = ",",
    header: bool = True,
    columns: list[str] | None = None,
    on_progress: Progress | None = None,
    encoding: str = "utf-8",
) -> tuple[list[str], Iterator[Batch]]:
    """Columns and batches of any supported file (``delimiter`` and ``encoding``: CSV only)."""
    check_file(path)
    if fmt == "csv":
        return read_csv(path, delimiter, header, columns, on_progress, encoding)
    if fmt == "jsonl":
        return read_jsonl(path, on_progress)
    if fmt == "parquet":
        return read_parquet(path, on_progress)
    if fmt == "xes":
        from parcours.ingest.xes import read_xes

        return read_xes(path, _open(path, on_progress))
    raise ImportError_(f"{path}: unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
