"""Conversion paths: the one input every attribution model reads.

A ``PathTable`` is an aggregated table of journeys, as ChannelAttribution takes them: each row
is an ordered path of channels with how many journeys along it converted, their total value,
and how many did not convert ("nulls"). It comes either from a CSV file an analyst brings
(``read_paths``) or from the store's stitched journeys (``conversion_paths``, built in SQL).

The paths are held in CSR form (``offsets`` into one flat array of channel ids) so that the
models are vectorised numpy over a million rows instead of Python loops over strings.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from parcours.analytics.filters import events
from parcours.durations import parse_duration
from parcours.errors import ParcoursError
from parcours.matcher import EventMatcher
from parcours.query import column, ident, sql
from parcours.query.filter import Filter
from parcours.query.journey import event_order
from parcours.query.match import field, matcher

#: Column names of a path file (ChannelAttribution's example data uses the same).
PATH_COLUMN = "path"
CONVERSIONS_COLUMN = "total_conversions"
VALUE_COLUMN = "total_conversion_value"
NULL_COLUMN = "total_null"

#: Names the Markov graph uses for its own states; a channel may not take them.
RESERVED = ("(start)", "(conversion)", "(null)")

#: Separators people use in path strings; used to say which one a file seems to use.
COMMON_SEPARATORS = (">", "|", ",", "/", ";", "->", "=>", "\t")

#: What the store-built paths join channels with: a control character no name contains.
STORE_SEP = "\x1f"

#: The path of a conversion with no touch in its lookback window (a direct conversion).
NO_TOUCH = "(none)"

LEVELS = {"channel": "channel", "campaign": "utm_campaign", "touchpoint": "touchpoint"}


@dataclass(frozen=True)
class PathTable:
    """Aggregated conversion paths.

    ``channels[touches[offsets[i]:offsets[i + 1]]]`` is the path of row ``i``, in order;
    ``conversions``, ``value`` and ``nulls`` are that row's journeys that converted, their total
    conversion value, and the journeys that did not convert.

    Paths built from the store with a time half-life also carry, per touch, the time-decay
    credit of that position summed over the row's journeys (``decay_conversions``,
    ``decay_value``; see ``conversion_paths``): the journeys of one row share a path but not
    the times of their touches, so the decay is weighed per journey before they are added up.
    ``origin`` and ``first_line`` say where the rows came from, for error messages
    (``first_line`` is ``None`` where rows are not lines of a file).
    """

    channels: list[str]
    offsets: np.ndarray
    touches: np.ndarray
    conversions: np.ndarray
    value: np.ndarray
    nulls: np.ndarray
    origin: str = "paths"
    first_line: int | None = 2
    decay_conversions: np.ndarray | None = None
    decay_value: np.ndarray | None = None
    half_life: timedelta | None = None

    @property
    def n_paths(self) -> int:
        return len(self.conversions)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def path_index(self) -> np.ndarray:
        """For every touch, the row it belongs to."""
        return np.repeat(np.arange(self.n_paths), self.lengths)

    def paths(self, sep: str = " > ") -> list[str]:
        """The path strings (for display and tests; the models never need them)."""
        names = np.asarray(self.channels, dtype=object)
        return [sep.join(names[self.touches[a:b]]) for a, b in zip(self.offsets[:-1], self.offsets[1:], strict=True)]

    def where(self, row: int) -> str:
        """Where row ``row`` came from, for an error message: a file line, or the path itself."""
        if self.first_line is not None:
            return f"{self.origin} line {self.first_line + int(row)}"
        return f"{self.origin}, path {self.paths()[int(row)]!r}"

    def to_frame(self, sep: str = " > ") -> pd.DataFrame:
        return pd.DataFrame({
            PATH_COLUMN: self.paths(sep), CONVERSIONS_COLUMN: self.conversions,
            VALUE_COLUMN: self.value, NULL_COLUMN: self.nulls,
        })

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        sep: str = ">",
        *,
        path: str = PATH_COLUMN,
        conversions: str = CONVERSIONS_COLUMN,
        value: str | None = VALUE_COLUMN,
        nulls: str | None = NULL_COLUMN,
        origin: str = "paths",
        first_line: int | None = 2,
        strip: bool = True,
    ) -> PathTable:
        """Validate an aggregated path table and encode it.

        ``value`` and ``nulls`` columns may be absent (then zero); ``path`` and ``conversions``
        must be there. Errors name ``origin`` and the line (``first_line`` is the line of the
        first data row: 2 for a file with a header; ``None`` names the path instead). Whitespace around channel names is
        stripped when ``strip`` (``a > b`` and ``a>b`` are the same path).
        """
        if not sep:
            raise ParcoursError(f"{origin}: the path separator is empty")
        missing = [c for c in (path, conversions) if c not in df.columns]
        if missing:
            raise ParcoursError(
                f"{origin}: missing column(s) {', '.join(missing)} (found: {', '.join(map(str, df.columns)) or 'none'})"
            )
        if df.empty:
            raise ParcoursError(f"{origin}: no paths (the table has no rows)")

        def where(i: int) -> str:
            if first_line is None:  # rows that are no file's lines: name the path itself
                return f"{origin}, path {str(df[path].iloc[int(i)]).replace(sep, ' > ')!r}"
            return f"{origin} line {first_line + int(i)}"

        counts = {}
        for label, col in ((conversions, conversions), (value, value), (nulls, nulls)):
            if col is None or col not in df.columns:
                counts[label] = np.zeros(len(df))
                continue
            numbers = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(numbers)
            if bad.any():
                i = int(np.argmax(bad))
                raise ParcoursError(f"{where(i)}: {col} is {df[col].iloc[i]!r}, not a number")
            if (numbers < 0).any():
                i = int(np.argmax(numbers < 0))
                raise ParcoursError(f"{where(i)}: negative {col} ({numbers[i]:g})")
            counts[label] = numbers

        texts = df[path]
        if texts.isna().any():
            i = int(np.argmax(texts.isna().to_numpy()))
            raise ParcoursError(f"{where(i)}: empty path")
        try:
            arr = pa.array(texts, type=pa.large_string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers as channel names
            arr = pa.array(texts.astype(str), type=pa.large_string())
        if strip:
            arr = pc.utf8_trim_whitespace(arr)
        empty = pc.equal(pc.utf8_length(arr), 0).to_numpy(zero_copy_only=False)
        if empty.any():
            i = int(np.argmax(empty))
            raise ParcoursError(f"{where(i)}: empty path")
        _check_separator(arr, sep, where)
        parts = pc.split_pattern(arr, sep)
        flat = parts.flatten()
        if strip:
            flat = pc.utf8_trim_whitespace(flat)
        offsets = parts.offsets.to_numpy().astype(np.int64)
        blank = pc.equal(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
        if blank.any():
            i = int(np.searchsorted(offsets, int(np.argmax(blank)), side="right") - 1)
            raise ParcoursError(f"{where(i)}: empty channel name in path {texts.iloc[i]!r} (separator {sep!r})")
        encoded = pc.dictionary_encode(flat).combine_chunks() if isinstance(flat, pa.ChunkedArray) else pc.dictionary_encode(flat)
        channels = encoded.dictionary.to_pylist()
        for name in RESERVED:
            if name in channels:
                j = channels.index(name)
                hit = int(np.argmax(encoded.indices.to_numpy(zero_copy_only=False) == j))
                i = int(np.searchsorted(offsets, hit, side="right") - 1)
                raise ParcoursError(f"{where(i)}: channel name {name!r} is reserved for the Markov graph")
        return cls(
            channels=channels,
            offsets=offsets,
            touches=encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32),
            conversions=counts[conversions],
            value=counts[value] if value else np.zeros(len(df)),
            nulls=counts[nulls] if nulls else np.zeros(len(df)),
            origin=origin,
            first_line=first_line,
        )


def check_channels(table: PathTable, known: Iterable[str]) -> PathTable:
    """``table`` itself when every channel in it is one of ``known``; else an error naming the
    first row with an unknown channel, the channel, and the known ones.

    The path ``(none)`` of a conversion with no touch (store paths) is always allowed.
    """
    allowed = {str(k).strip() for k in known} - {""}
    if not allowed:
        raise ParcoursError("the list of known channels is empty")
    allowed.add(NO_TOUCH)
    unknown_ids = [i for i, c in enumerate(table.channels) if c not in allowed]
    if not unknown_ids:
        return table
    hit = int(np.argmax(np.isin(table.touches, unknown_ids)))
    row = int(np.searchsorted(table.offsets, hit, side="right") - 1)
    shown = ", ".join(sorted(allowed - {NO_TOUCH}))
    raise ParcoursError(
        f"{table.where(row)}: unknown channel {table.channels[table.touches[hit]]!r}"
        f"{'' if table.first_line is None else f' in path {table.paths()[row]!r}'} (known: {shown})"
    )


def _check_separator(arr: pa.Array, sep: str, where) -> None:
    """A separator that occurs in no path while another common one does is a mistake, not data."""
    has_sep = pc.match_substring(arr, sep).to_numpy(zero_copy_only=False)
    if has_sep.any():
        return
    for other in COMMON_SEPARATORS:
        if other == sep or sep in other:
            continue
        hits = pc.match_substring(arr, other).to_numpy(zero_copy_only=False)
        if hits.any():
            i = int(np.argmax(hits))
            raise ParcoursError(
                f"{where(i)}: path {arr[i].as_py()!r} has no {sep!r} separator but contains {other!r}; "
                f"no path uses {sep!r} (pass `sep` {other!r} if that is the separator)"
            )


def _sniff_delimiter(head: str, origin: str) -> str:
    first = head.splitlines()[0] if head else ""
    if not first.strip():
        raise ParcoursError(f"{origin}: empty file (expected a header line with {PATH_COLUMN}, {CONVERSIONS_COLUMN}, ...)")
    try:
        return csv.Sniffer().sniff(first, delimiters=";,\t|").delimiter
    except csv.Error:
        return ","


def read_paths(file: str | Path, sep: str = ">", delimiter: str | None = None) -> PathTable:
    """Read an aggregated path file (CSV with ``path``, ``total_conversions``,
    ``total_conversion_value``, ``total_null``), as ChannelAttribution's example ``Data.csv``.

    The field delimiter (``,`` ``;`` tab or ``|``) is detected from the header unless given.
    """
    origin = str(file)
    try:
        with open(file, encoding="utf-8") as f:
            head = f.read(64_000)
    except FileNotFoundError:
        raise ParcoursError(f"{origin}: path file not found") from None
    except UnicodeDecodeError as e:
        raise ParcoursError(f"{origin}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    delimiter = delimiter or _sniff_delimiter(head, origin)
    try:
        df = pd.read_csv(file, sep=delimiter, dtype=str, keep_default_na=False, na_values=[""], engine="c")
    except (pd.errors.ParserError, ValueError) as e:
        raise ParcoursError(f"{origin}: cannot read as CSV with delimiter {delimiter!r}: {e}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if PATH_COLUMN not in df.columns and len(df.columns) == 1:
        raise ParcoursError(
            f"{origin}: found one column {df.columns[0]!r}; the field delimiter is not {delimiter!r} "
            f"(pass `delimiter`)"
        )
    return PathTable.from_frame(df, sep, origin=origin)


#: the steps every store path table is built by, as (CTE name, template) in order
_STEPS = (
    ("j", """
        SELECT customer_id, {order}, {item} AS item, coalesce({conv}, FALSE) AS is_conv, {value} AS value
        FROM {events}"""),
    ("touch_rows", """
        SELECT *, coalesce(sum(CASE WHEN is_conv THEN 1 ELSE 0 END) OVER (
                      PARTITION BY customer_id ORDER BY timestamp, is_conv, arrival_seq, message_id
                      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS segment
        FROM j WHERE is_conv OR item IS NOT NULL"""),
    ("ends", """
        SELECT customer_id, segment, max(CASE WHEN is_conv THEN 1 ELSE 0 END) AS converted,
               coalesce(max(CASE WHEN is_conv THEN timestamp END), max(timestamp)) AS end_ts,
               sum(CASE WHEN is_conv THEN value ELSE 0 END) AS value
        FROM touch_rows GROUP BY customer_id, segment"""),
    ("journey_touches", """
        SELECT e.customer_id, e.segment, e.converted, e.value, r.item, {touch_order}
        FROM ends e LEFT JOIN touch_rows r
          ON r.customer_id = e.customer_id AND r.segment = e.segment AND NOT r.is_conv
             AND r.timestamp >= e.end_ts - INTERVAL {seconds} SECOND"""),
    ("journeys", """
        SELECT customer_id, segment, converted, value, string_agg(item, {sep} ORDER BY {order}) AS path
        FROM journey_touches GROUP BY customer_id, segment, converted, value"""),
)
#: with a half-life: the time-decay weight of each touch and its share of the journey's credit.
#: weight 2^(-age / half-life), age = time before the journey's end; taken relative to the
#: journey's youngest touch (same ratios once normalised) so old touches cannot underflow to 0/0
_DECAY_STEPS = (
    ("weighted", """
        SELECT customer_id, segment,
               row_number() OVER (PARTITION BY customer_id, segment ORDER BY {order}) AS position,
               power(2.0, (epoch(timestamp) - max(epoch(timestamp)) OVER (PARTITION BY customer_id, segment))
                          / {half_life}) AS w
        FROM journey_touches"""),
    ("shares", """
        SELECT customer_id, segment, position,
               coalesce(w / sum(w) OVER (PARTITION BY customer_id, segment), 1.0) AS share
        FROM weighted"""),
)
_PATHS = """
    SELECT coalesce(path, {none}) AS path, sum(converted) AS {conversions},
           sum(value) AS {value}, sum(1 - converted) AS {nulls}
    FROM journeys GROUP BY 1 ORDER BY 1"""
_DECAY_PATHS = """
    SELECT coalesce(k.path, {none}) AS path, s.position,
           sum(k.converted) AS {conversions}, sum(k.value) AS {value},
           sum(1 - k.converted) AS {nulls},
           sum(s.share * k.converted) AS decay_conversions, sum(s.share * k.value) AS decay_value
    FROM shares s JOIN journeys k ON k.customer_id = s.customer_id AND k.segment = s.segment
    GROUP BY 1, 2 ORDER BY 1, 2"""


def conversion_paths_query(
    store,
    level: str = "channel",
    conversion: str | dict | EventMatcher | None = None,
    lookback: str | timedelta = "30d",
    filter: Filter | None = None,
    touches: str | dict | EventMatcher | None = None,
    half_life: str | float | timedelta | None = None,
) -> exp.Select:
    """The query behind ``conversion_paths`` (a tree, transpilable to Spark SQL).

    Without ``half_life``: one row per path (``path``, ``total_conversions``,
    ``total_conversion_value``, ``total_null``). With it: one row per path and ``position``
    (1-based) of a touch in it, with the same counts on every position and the time-decay
    credit of that position summed over the path's journeys (``decay_conversions``,
    ``decay_value``).
    """
    if level not in LEVELS:
        raise ParcoursError(f"level {level!r}: use one of {', '.join(LEVELS)}")
    config = store.config
    spec = conversion if conversion is not None else config.purchase_event
    conv = matcher(spec)
    seconds = parse_duration(lookback, "`lookback`").total_seconds()
    item = column(LEVELS[level])
    if touches is not None:
        item = sql("CASE WHEN {touch} THEN {item} END", touch=matcher(touches), item=item)
    if isinstance(spec, str) and spec.startswith("stage:"):
        # reaching a stage: only the customer's first event in it converts
        conv = sql("{conv} AND row_number() OVER (PARTITION BY customer_id, ({conv}) ORDER BY {order}) = 1",
                   conv=conv, order=event_order())
    bindings = {
        "j": {"order": event_order(), "item": item, "conv": conv, "events": events(store, filter),
              "value": sql("coalesce(TRY_CAST({value} AS DOUBLE), 0)", value=field("props." + config.value_property))},
        "journey_touches": {"touch_order": event_order("r"), "seconds": int(seconds)},
        "journeys": {"sep": STORE_SEP, "order": event_order()},
        "weighted": {"order": event_order()},
    }
    columns = {"none": NO_TOUCH, "conversions": ident(CONVERSIONS_COLUMN), "value": ident(VALUE_COLUMN),
               "nulls": ident(NULL_COLUMN)}
    if half_life is None:
        steps, query = _STEPS, sql(_PATHS, **columns)
    else:
        bindings["weighted"]["half_life"] = parse_duration(half_life, "`half_life`").total_seconds()
        steps, query = _STEPS + _DECAY_STEPS, sql(_DECAY_PATHS, **columns)
    for name, template in steps:
        query = query.with_(name, as_=sql(template, **bindings.get(name, {})), copy=False)
    return query


def conversion_paths(
    store,
    level: str = "channel",
    conversion: str | dict | EventMatcher | None = None,
    lookback: str | timedelta = "30d",
    *,
    filter: Filter | None = None,
    touches: str | dict | EventMatcher | None = None,
    half_life: str | float | timedelta | None = None,
) -> PathTable:
    """The store's conversion paths, built in SQL over the stitched journey.

    - ``level``: ``channel``, ``campaign`` (``utm_campaign``) or ``touchpoint``: what a path is made of.
    - ``conversion``: a matcher (event name, ``"touchpoint:NAME"``, ``"stage:NAME"`` or a dict);
      default the journey's purchase event. For ``stage:NAME`` only the first event in the stage
      converts (reaching the stage); otherwise every matching event is a conversion.
    - ``lookback``: a touch counts towards a conversion when it is at most this long before it.
    - ``touches``: a matcher for the events that count as touches (e.g. ``"stage:awareness"`` for
      marketing contacts only); default every event with a value at ``level``.
    - ``half_life``: a duration (``7d``, ``12h``; a bare number is seconds). When given, each touch
      of a converting journey gets the time-decay weight ``2^(-age / half_life)``, ``age`` being
      the time from the touch to the conversion, normalised over the journey's touches; the
      table carries these credits (``decay_conversions``, ``decay_value``) for ``time_decay``.

    A conversion's path is the customer's touches since their previous conversion, within the
    lookback; its value is the event's ``value_property`` (0 where absent). The touches after a
    customer's last conversion (within the lookback before their last touch) are one
    non-converting journey. Touches at the same instant as a conversion count before it. A
    conversion with no touch in its window is kept, on the one-channel path ``(none)``.
    """
    spec = conversion if conversion is not None else store.config.purchase_event
    query = conversion_paths_query(store, level, conversion, lookback, filter, touches, half_life)
    df = store.engine.df(query)
    if df.empty:
        raise ParcoursError(
            f"no {level} touches found before any conversion or drop-out in the store "
            f"(level {level!r}, conversion {spec!r}, lookback {lookback})"
        )
    if half_life is None:
        return PathTable.from_frame(df, STORE_SEP, origin="store paths", first_line=None, strip=False)
    # one row per (path, position): the paths are the position-1 rows, and the rows in
    # (path, position) order are the table's touches in CSR order
    df = df.sort_values(["path", "position"], kind="stable", ignore_index=True)
    table = PathTable.from_frame(df[df["position"] == 1].reset_index(drop=True), STORE_SEP,
                                 origin="store paths", first_line=None, strip=False)
    return replace(
        table,
        decay_conversions=df["decay_conversions"].to_numpy(dtype=float),
        decay_value=df["decay_value"].to_numpy(dtype=float),
        half_life=parse_duration(half_life, "`half_life`"),
    )


def read_path_text(text: str, sep: str = ">", origin: str = "paths") -> PathTable:
    """A path table from CSV text (tests, notebooks)."""
    delimiter = _sniff_delimiter(text, origin)
    df = pd.read_csv(io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, na_values=[""])
    df.columns = [str(c).strip() for c in df.columns]
    return PathTable.from_frame(df, sep, origin=origin)
