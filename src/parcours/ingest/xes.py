"""XES (IEEE 1849) event logs, the process-mining standard, streamed through a SAX-style parser target.

Each event becomes one row: its own attributes by key (``concept:name``,
``time:timestamp``, ``lifecycle:transition``, ...) plus its trace's attributes
prefixed with ``case:`` (so the case id is ``case:concept:name``), as pm4py names them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError, XMLParser

import pyarrow as pa

from parcours.errors import ImportError_

_ATTRS = {"string", "date", "int", "float", "boolean", "id"}
BATCH_EVENTS = 100_000


class _Collector:
    """SAX-style target: rows straight from start tags, without building an element tree.

    Only attributes that are direct children of an ``event`` (or of a ``trace``) count;
    nested attribute values and ``global`` defaults are left out, as pm4py does.
    """

    def __init__(self) -> None:
        self.depth = 0
        self.trace_depth = -1
        self.event_depth = -1
        self.trace_attrs: dict[str, str] = {}
        self.row: dict[str, str] | None = None
        self.rows: list[dict[str, str]] = []

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.depth += 1
        local = tag[tag.rfind("}") + 1:]
        if local == "event":
            self.event_depth = self.depth
            self.row = dict(self.trace_attrs)
        elif local == "trace":
            self.trace_depth = self.depth
            self.trace_attrs = {}
        elif local in _ATTRS and "key" in attrib:
            if self.row is not None and self.depth == self.event_depth + 1:
                self.row[attrib["key"]] = attrib.get("value")
            elif self.row is None and self.depth == self.trace_depth + 1:
                self.trace_attrs["case:" + attrib["key"]] = attrib.get("value")

    def end(self, tag: str) -> None:
        if self.depth == self.event_depth and self.row is not None:
            self.rows.append(self.row)
            self.row = None
            self.event_depth = -1
        elif self.depth == self.trace_depth:
            self.trace_depth = -1
            self.trace_attrs = {}
        self.depth -= 1

    def data(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _events(f, path: Path) -> Iterator[dict[str, str]]:
    target = _Collector()
    parser = XMLParser(target=target)
    try:
        while chunk := f.read(1 << 20):
            parser.feed(chunk)
            yield from target.rows
            target.rows.clear()
        parser.close()
        yield from target.rows
    except ParseError as e:
        raise ImportError_(f"{path}: not a valid XES (XML) file: {e}") from None


def read_xes(path: Path, f) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    events = _events(f, path)
    head = list(itertools.islice(events, 1000))
    if not head:
        f.close()
        raise ImportError_(f"{path}: the XES log holds no events")
    names = list(dict.fromkeys(k for row in head for k in row))

    def batches() -> Iterator[pa.RecordBatch]:
        row_no = 1
        try:
            for chunk in _chunks(itertools.chain(head, events)):
                keys = list(dict.fromkeys(k for r in chunk for k in r))
                data = {k: pa.array([r.get(k) for r in chunk], pa.string()) for k in keys}
                data["__row"] = pa.array(range(row_no, row_no + len(chunk)), pa.int64())
                row_no += len(chunk)
                yield pa.RecordBatch.from_pydict(data)
        finally:
            f.close()

    return names, batches()


def _chunks(rows: Iterator[dict]) -> Iterator[list[dict]]:
    while chunk := list(itertools.islice(rows, BATCH_EVENTS)):
        yield chunk
